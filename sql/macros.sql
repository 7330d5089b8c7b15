-- Shared SQL functions of tankerwatch's models. Loaded on every warehouse connection.

-- The domain constants (sql/parameters.yml), one argument-less macro each. Macros rather
-- than a params CTE: a filter on a cross-joined params column over every AIS position
-- plans as a nested-loop join, and its misjudged size made DuckDB build its hash table
-- from all the positions instead of the gaps (1.6 s against 0.7 s at 10M positions);
-- a macro is a constant the planner sees.
-- BEGIN domain parameters (generated from sql/parameters.yml: python -m tankerwatch.parameters)
-- a gap over this between a vessel's consecutive sightings at one port ends the call (DOMAIN §3 Port call).
create or replace macro port_call_max_gap() as interval 5 days;
-- an AIS draught report is in force at a sighting for at most this long after it (DOMAIN §3 Laden state).
create or replace macro draught_max_age() as interval 24 hours;
-- a draught at or above this share of the registry's summer draught is laden (DOMAIN §3 Laden state).
create or replace macro laden_draught_ratio() as 0.8;
-- a draught at or below this share of the registry's summer draught is empty (DOMAIN §3 Laden state).
create or replace macro empty_draught_ratio() as 0.6;
-- an imagery sighting logged partial is laden at or above this load fraction, else empty (DOMAIN §3 Laden state).
create or replace macro partial_laden_fraction() as 0.5;
-- side of the grid cells a sighting's candidate ports are looked up by (no rule of its own; it only has to be fine enough that no cell lies near more than two ports) (DOMAIN §3 Ports).
create or replace macro port_cell_deg() as 0.05;
-- two vessels' sightings at sea this close or closer can be a ship-to-ship encounter (DOMAIN §3 Load event, voyage (ship-to-ship transfers)).
create or replace macro encounter_max_distance_km() as 1.0;
-- two vessels' sightings at sea match within this time of each other (DOMAIN §3 Load event, voyage (ship-to-ship transfers)).
create or replace macro encounter_max_time_gap() as interval 6 hours;
-- a pair's matches form one encounter while each starts within this of the encounter's latest sighting so far (DOMAIN §3 Load event, voyage (ship-to-ship transfers)).
create or replace macro encounter_cluster_gap() as interval 12 hours;
-- side of the grid cells encounter candidates are paired in; must be at least encounter_max_distance_km / 10 (DOMAIN §3 Load event, voyage (ship-to-ship transfers)).
create or replace macro encounter_grid_deg() as 0.1;
-- encounters compare a vessel's first AIS fix at sea in each slot of this length, not every fix (DOMAIN §3 Load event, voyage (ship-to-ship transfers)).
create or replace macro encounter_ais_slot() as interval 30 minutes;
-- a transfer reads each side's state from sightings at most this long before its start and after its end (DOMAIN §3 Laden state (ship-to-ship transfers)).
create or replace macro sts_state_window() as interval 3 days;
-- a silence longer than this between a vessel's consecutive AIS positions is a gap (DOMAIN §3 Track integrity (AIS dark periods)).
create or replace macro ais_dark_min_gap() as interval 12 hours;
-- a gap counts as dark near the DPRK when its last or first position lies this close to a DPRK port (DOMAIN §3 Track integrity (AIS dark periods)).
create or replace macro dark_port_max_distance_km() as 100.0;
-- END domain parameters

-- Exactly `digits` ASCII digits. Cheaper than a regular expression, and it runs on every
-- AIS message.
create or replace macro is_digits(text, digits) as length(text) = digits and ltrim(text, '0123456789') = '';

-- DOMAIN identity rule: a ship IMO number is 7 digits whose last digit is
-- (7*d1 + 6*d2 + 5*d3 + 4*d4 + 3*d5 + 2*d6) mod 10. Company IMO numbers fail it.
create or replace macro is_valid_ship_imo(imo) as coalesce(
    is_digits(imo, 7)
    and (
        7 * try_cast(substr(imo, 1, 1) as integer)
        + 6 * try_cast(substr(imo, 2, 1) as integer)
        + 5 * try_cast(substr(imo, 3, 1) as integer)
        + 4 * try_cast(substr(imo, 4, 1) as integer)
        + 3 * try_cast(substr(imo, 5, 1) as integer)
        + 2 * try_cast(substr(imo, 6, 1) as integer)
    ) % 10 = try_cast(substr(imo, 7, 1) as integer),
    false
);

-- An IMO number as people write it ('IMO 8604917', ' 8604917 ') reduced to its digits.
create or replace macro clean_imo(imo) as
    nullif(regexp_replace(upper(trim(imo)), '^IMO[\s:]*', ''), '');

-- DOMAIN identity rule: names match after normalising case, spaces and hyphens
-- (and any other punctuation): 'Chon Ma-San' and 'CHON MA SAN' share the key CHONMASAN.
create or replace macro vessel_name_key(name) as
    nullif(regexp_replace(upper(strip_accents(coalesce(name, ''))), '[^A-Z0-9]', '', 'g'), '');

-- A name as a space-delimited token string, to find it as a whole phrase inside free text.
create or replace macro name_tokens(text) as
    ' ' || trim(regexp_replace(upper(strip_accents(coalesce(text, ''))), '[^A-Z0-9]+', ' ', 'g')) || ' ';

-- Great-circle distance in kilometres.
create or replace macro haversine_km(lat1, lon1, lat2, lon2) as
    2 * 6371.0088 * asin(sqrt(
        pow(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * pow(sin(radians(lon2 - lon1) / 2), 2)
    ));

-- A UTC time written with a strftime format, whatever the session's time zone. Formatting
-- a plain timestamp costs a third of formatting a timestamptz, which matters for the ids
-- of millions of AIS positions.
create or replace macro utc_strftime(utc_time, format) as strftime(make_timestamp(epoch_us(utc_time)), format);

-- A time's whole seconds since 1970: the second an AIS sighting id names.
create or replace macro utc_second(utc_time) as epoch_us(utc_time) // 1000000;

-- An AIS position's sighting id: its feed, MMSI and second, '<source_name>:<mmsi>@<time>'.
-- One id names one position: a further position in the same second is a reject.
create or replace macro ais_sighting_id(source_name, mmsi, observed_at) as
    source_name || ':' || mmsi || '@' || utc_strftime(observed_at, '%Y-%m-%dT%H:%M:%SZ');

-- Orders a vessel's sightings at the same time: a hash of what names the sighting (for an
-- AIS position its feed, MMSI and second; else its sighting id). Arbitrary but fixed, and
-- a number, so sorting tens of millions of positions compares no strings; the further
-- positions of one AIS id share it, so they sort together (then by position).
create or replace macro sighting_tiebreak(evidence_kind, source_name, mmsi, observed_at, sighting_id) as
    case
        when evidence_kind = 'ais' then hash(source_name, mmsi, utc_second(observed_at))
        else hash(sighting_id)
    end;

-- A table's rows, counted and hashed ('<rows>:<hash>', order-free): what a build read from
-- it, for the fingerprints that decide whether an incremental build or a gate window must
-- start again.
create or replace macro table_fingerprint(table_name) as (
    select count(*) || ':' || coalesce(bit_xor(hash(to_json(t))), 0) from query_table(table_name) as t
);

-- The first time recorded for a snapshot whose messages all lack a receiver time: later
-- than any window, so the snapshot still counts as loaded (its rows come by snapshot id)
-- without moving the window back.
create or replace macro undated_snapshot_at() as '9999-12-31 00:00:00+00'::timestamptz;

-- A trimmed cell, null when empty.
create or replace macro clean_text(value) as nullif(trim(value), '');

-- DOMAIN plausible values (§3), the one place their rule and wording live: every staging
-- model rejects a record whose value fails one of these, with the reason the *_problem
-- macro gives (null when the value is plausible or absent; whether a value may be absent
-- is each model's own rule).
--
-- The time of the run that builds the models: the `run_at` variable when the run sets one
-- (`set variable run_at = ?`, a bound value; tests pin it), else the start of the model's
-- build transaction. A time more than a day after it is rejected as of that run: the
-- reject stays while its snapshot's rows do (incremental models recompute only the
-- snapshots loaded or removed since), and a full rebuild after that day judges it again.
create or replace macro run_at() as
    coalesce(try_cast(getvariable('run_at') as timestamptz), get_current_timestamp());

-- Nothing tankerwatch reads (AIS, imagery, registries, sanctions lists) is dated earlier:
-- such a time is a default or a broken clock (an NMEA tag block of c:0 is 1970).
create or replace macro earliest_plausible_time() as '1990-01-01 00:00:00+00'::timestamptz;

-- A time (or date) from 1990-01-01 up to a day after the run; null for a null time.
create or replace macro is_plausible_time(t) as
    t >= earliest_plausible_time() and t <= run_at() + interval 1 day;

create or replace macro plausible_time_problem(t, label) as
    case
        when t < earliest_plausible_time() then label || ' ' || t::varchar || ' is before 1990-01-01'
        when t > run_at() + interval 1 day then label || ' ' || t::varchar || ' is more than a day after the run'
    end;

-- The UTC offset a time is written with ('…+09:00', '…-0530', '…+09'), in minutes; null
-- for 'Z' or none. DuckDB itself accepts '+99:00' and '+05:99'.
create or replace macro utc_offset_minutes(time_text) as
    case
        when regexp_matches(time_text, '[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]*)?)?\s*[+-][0-9]{2}(:?[0-9]{2})?$') then
            (case when regexp_extract(time_text, '([+-])[0-9]{2}(:?[0-9]{2})?$', 1) = '-' then -1 else 1 end)
            * (
                60 * try_cast(regexp_extract(time_text, '[+-]([0-9]{2})(:?([0-9]{2}))?$', 1) as integer)
                + coalesce(try_cast(nullif(regexp_extract(time_text, '[+-]([0-9]{2})(:?([0-9]{2}))?$', 3), '') as integer), 0)
            )
    end;

create or replace macro utc_offset_problem(time_text, label) as
    case
        when abs(utc_offset_minutes(time_text)) > 14 * 60
            or try_cast(nullif(regexp_extract(time_text, '[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]*)?)?\s*[+-][0-9]{2}:?([0-9]{2})$', 3), '') as integer) > 59
            then label || ' has a UTC offset outside -14:00..+14:00: ' || time_text
    end;

-- A latitude and longitude: finite, within ±90 and ±180.
create or replace macro is_plausible_coordinate(latitude, longitude) as
    isfinite(latitude) and isfinite(longitude) and latitude between -90 and 90 and longitude between -180 and 180;

create or replace macro coordinate_problem(latitude, longitude, label) as
    case
        when not is_plausible_coordinate(latitude, longitude) then
            label || ' is not a finite coordinate within ±90/±180 (lat ' || coalesce(latitude::varchar, 'null')
                || ', lon ' || coalesce(longitude::varchar, 'null') || ')'
    end;

-- An MMSI: exactly 9 digits.
create or replace macro mmsi_problem(mmsi) as
    case when mmsi is not null and not is_digits(mmsi, 9) then 'MMSI is not 9 digits: ' || mmsi end;

-- A tonnage, capacity, length or draught: finite and above zero. `value_text` is the value
-- as written (null when not given, which is no problem); `value` its number (null when it
-- is not one).
create or replace macro positive_quantity_problem(value_text, value, label) as
    case
        when value_text is not null and (value is null or not isfinite(value) or value <= 0)
            then label || ' is not a finite positive number: ' || value_text
    end;

-- A share of a whole (a load fraction): finite, 0..1.
create or replace macro fraction_problem(value_text, value, label) as
    case
        when value_text is not null and (value is null or not isfinite(value) or value not between 0 and 1)
            then label || ' is not a number in 0..1: ' || value_text
    end;

-- A speed or course as a feed writes it: finite and not negative (a feed's own
-- not-available values, 102.3 knots and 360°, are nulled by its model).
create or replace macro non_negative_problem(value_text, value, label) as
    case
        when value_text is not null and (value is null or not isfinite(value) or value < 0)
            then label || ' is not a finite number of at least 0: ' || value_text
    end;

-- Why an AIS message cannot be used at all (no receiver time, no valid MMSI, an implausible
-- receiver time); null when it can.
create or replace macro ais_message_reject_reason(received_at, mmsi) as
    case
        when received_at is null then 'AIS message has no receiver timestamp (no c: tag block)'
        when mmsi is null or mmsi_problem(mmsi) is not null or mmsi = '000000000'
            then 'AIS message has no valid MMSI: ' || coalesce(mmsi, '(none)')
        else plausible_time_problem(received_at, 'AIS receiver time')
    end;

-- DOMAIN laden-state rule, in one place for every model that gives a sighting a state.
-- Imagery: laden and empty as logged; partial is laden when its load fraction is at least
-- partial_laden_fraction(), else empty; unknown carries no state. An AIS position or GFW
-- port-visit end: its draught in force (int_draught_intervals) as a share of the registry's
-- summer draught, laden from laden_draught_ratio(), empty up to empty_draught_ratio(), no
-- state in between or without a draught.
create or replace macro sighting_state(evidence_kind, laden_state, load_fraction, draught_ratio) as
    case
        when evidence_kind = 'imagery' then
            case laden_state
                when 'laden' then 'laden'
                when 'empty' then 'empty'
                when 'partial' then case when load_fraction >= partial_laden_fraction() then 'laden' else 'empty' end
            end
        when draught_ratio >= laden_draught_ratio() then 'laden'
        when draught_ratio <= empty_draught_ratio() then 'empty'
    end;

-- True for a sighting int_vessel_encounters compares: at sea (no port), and imagery, or an
-- AIS position that is its vessel's first in its encounter_ais_slot() (its AIS position
-- before, previous_ais_at, lies in an earlier slot, or there is none). int_sightings
-- stores these and the row after each.
create or replace macro is_encounter_sighting(evidence_kind, port_id, previous_ais_at, observed_at) as
    port_id is null and (
        evidence_kind = 'imagery'
        or (
            evidence_kind = 'ais' and (
                previous_ais_at is null
                or floor(epoch(previous_ais_at) / epoch(encounter_ais_slot()))
                    < floor(epoch(observed_at) / epoch(encounter_ais_slot()))
            )
        )
    );

-- A nightly build of int_sightings (sql/incremental/int_sightings.sql) can resume a vessel
-- from a stored row that is the first row of its second and is stored for a reason its
-- resume context decides again (the times, port and state before it: int_sightings'
-- `stored`), not for what the context does not carry (the row before is a reject, has
-- no state, or is compared for encounters): the new build then stores it again.
create or replace macro is_sighting_resume_point(
    evidence_kind, observed_at, previous_at, starts_call, state, previous_state, port_id, previous_ais_at
) as
    (previous_at is null or previous_at < observed_at) and (
        evidence_kind <> 'ais'
        or starts_call
        or (state is not null and previous_state is distinct from state)
        or is_encounter_sighting(evidence_kind, port_id, previous_ais_at, observed_at)
        or previous_ais_at < observed_at - ais_dark_min_gap()
    );

-- ...and the resume point lies at or before this, read from the vessel's last stored row
-- before the window: that row, the last state-carrying sighting and the last AIS position
-- at or before it (those two lie after it only when they are later still).
create or replace macro sighting_resume_by(evidence_kind, observed_at, state, previous_state_at, previous_ais_at) as
    least(
        observed_at,
        case when state is not null then observed_at else previous_state_at end,
        case when evidence_kind = 'ais' then observed_at else previous_ais_at end
    );

-- The distinct elements of a list in the order they first appear, nulls dropped
-- (list_distinct does not keep order, and evidence lists read best in order). The linter
-- cannot parse DuckDB's `lambda` syntax and lints nothing after it: hence its noqa, and its place last.
create or replace macro list_distinct_in_order(items) as
    list_filter(items, lambda item, position: item is not null and list_position(items, item) = position);  -- noqa: PRS

#!/usr/bin/env python3
"""Generate the demo bundle: the calibration of the 2024 case, handed to scenarios.case.

    python demo/generate.py [--seed 2024] [--out demo]

The bundle is calibrated to the public facts of the 2024 case (DOMAIN.md §1):
DPRK tankers arrive empty at Vostochny and leave about 90% full; 43 voyages with
load departures from 2024-03-07 to 2024-11-05; more than a dozen tankers; over
1,000,000 bbl in all, so the 500,000 bbl UN cap is breached mid-year.

What is real and what is invented: the tanker names, IMO numbers, owners, flags
and the few particulars cited in TANKERS below come from
shared/reference/dprk_tankers.csv; everything else (the sightings, the AIS
traffic, MMSIs, call signs, most particulars) is synthetic. ESTIMATES.md (written
by this script) says which particular is which, per ship.

scenarios.case plans the voyages and writes the registry and sighting logs; the
truth (truth/voyages.csv, truth/summary.json) is what scenarios.reference, the
one answer engine, reads from those files. Same seed, same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from scenarios.case import Calibration, Tanker, generate
from scenarios.reference import CARGO_SHARE_OF_DWT

HERE = Path(__file__).resolve().parent
SEED = 2024

KP = "KP"
DPRK = "Democratic People's Republic of Korea"
SRC_OFAC_UN = "dprk_tankers.csv: OFAC-SDN-20240503; UN-CONS-20260227"
EST_DWT = ("estimate: no source in dprk_tankers.csv gives a DWT; chosen in the 1,500-6,000 t range of "
           "the DPRK product-tanker fleet (Seatrade 2024: 1,000-9,000 DWT, mostly small) and "
           "calibrated so the 43 demo voyages total about 1.07 million bbl")


def _m3_from_dwt(dwt: int) -> int:
    # cargo m3 = DWT x 0.95 cargo share / 0.845 t/m3 (diesel density), rounded to 10 m3
    return int(round(dwt * CARGO_SHARE_OF_DWT / 0.845 / 10.0)) * 10


M3_NOTE = "estimate: DWT x 0.95 / 0.845 t/m3 (diesel), rounded to 10 m3"

# The 15 DPRK-flagged tankers of dprk_tankers.csv that have an IMO, in that file's order.
TANKERS: list[Tanker] = [
    Tanker("YU JONG 2", 8604917, DPRK, "tanker (motor tanker)", "KOREA YUJONG SHIPPING CO LTD", 1700, 1,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",),
           "estimate: the UN reports one lift of 1,168 kl of fuel oil (dprk_tankers.csv notes), about "
           "1,100 t; 1,700 t DWT is a small hull that carries that with room to spare",
           cargo_m3=_m3_from_dwt(1700), cargo_note=M3_NOTE),
    Tanker("PAEK MA", 9066978, KP, "tanker", "PAEKMA SHIPPING CO", 3900, 3,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("NAM SAN 8", 8122347, DPRK, "tanker", "HAPJANGGANG SHIPPING CORP", 4700, 3,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT,
           cargo_m3=_m3_from_dwt(4700), cargo_note=M3_NOTE),
    Tanker("CHON MA SAN", 8660313, KP, "tanker", "KOREA ACHIM SHIPPING CO", 5400, 4,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN}); reported at Vostochny 2024 "
            "(seatrade-2024-11-22)",), EST_DWT,
           mmsi=445900011, call_sign="HMZA"),
    Tanker("AN SAN 1", 7303803, DPRK, "tanker", "KOREA ANSAN SHIPPING COMPANY", 4100, 4,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN}); reported at Vostochny 2024 and AIS "
            "seen 2025 (seatrade-2024-11-22; vesseltracker-2025)",), EST_DWT,
           mmsi=445900012, call_sign="HMZB", ais=True),
    Tanker("SAM JONG 1", 8405311, KP, "tanker", "KOREA SAMJONG SHIPPING CO", 3000, 2,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("SAM JONG 2", 7408873, DPRK, "tanker", "KOREA SAMJONG SHIPPING CO", 3500, 3,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("SAM MA 2", 8106496, KP, "tanker", "KOREA SAMMA SHPG CO", 1750, 3,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",
            "gross_tonnage: 962, build_year: 1981 (dprk_tankers.csv: longdowneic-2017)"),
           "estimate: about 1.8 x its real gross tonnage (962), consistent with the UN's "
           "'almost 1,600 metric tons of fuel oil in one transaction' (dprk_tankers.csv notes)",
           gross_tonnage=962, build_year=1981, mmsi=445900013, call_sign="HMZC"),
    Tanker("YU SON", 8691702, KP, "oil products tanker", "MYOHYANG SHIPPING CO", 4800, 4,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN}); reported at Vostochny 2024 "
            "(seatrade-2024-11-22)",), EST_DWT,
           mmsi=445900014, call_sign="HMZD", ais=True),
    Tanker("JI SONG 6", 8898740, DPRK, "tanker", "PHYONGCHON SHIPPING & MARINE", 3300, 2,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("CHON MYONG 1", 8712362, KP, "tanker", "CHONMYONG SHIPPING CO", 4400, 3,
           (f"name, imo, flag, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("YU PHYONG 5", 8605026, DPRK, "tanker", "KOREA MYONGDOK SHIPPING CO", 2200, 2,
           (f"name, imo, flag, owner ({SRC_OFAC_UN})",),
           "estimate: above the 1,721 t of fuel oil the UN says it took in one STS transfer "
           "(dprk_tankers.csv notes)"),
    Tanker("KUM UN SAN 3", 8705539, KP, "tanker", "DAWN MARINE MANAGEMENT CO LTD", 2070, 2,
           ("name, imo, flag, vessel_type, owner (dprk_tankers.csv: OFAC-SDN-20240503)",
            "dwt: 2070 (dprk_tankers.csv; row sources safetyatsea-2018, nknews-2018-10)"),
           "real (dprk_tankers.csv)"),
    Tanker("RYE SONG GANG 1", 7389704, DPRK, "product tanker", "KOREA KUMBYOL TRADING COMPANY", 3003, 3,
           ("name, imo, flag, vessel_type, owner (dprk_tankers.csv: OFAC-SDN-20240503)",
            "dwt: 3003, build_year: 1974 (dprk_tankers.csv; row sources shndlaw-china-mfa-2018, "
            "seatrade-2024-11-22)"),
           "real (dprk_tankers.csv)", build_year=1974, mmsi=445900015, call_sign="HMZE"),
    Tanker("SIN PHYONG 9", 8916293, KP, "oil tanker", "OCEAN BUNKERING JV CO", 5900, 4,
           ("name SIN PHYONG 9 and former name SAEBYOL (dprk_tankers.csv: vesseltracker-2025; "
            "ihs-2021-courageous)",
            "imo, flag, owner (dprk_tankers.csv: OFAC-SDN-20240503, where the same IMO is listed as "
            "CHONG RIM 2; deliberately not a former name here, so the pipeline must join on IMO)",
            "reported at Vostochny 2024, AIS seen 2025 (vesseltracker-2025)"),
           EST_DWT, cargo_m3=_m3_from_dwt(5900), cargo_note=M3_NOTE,
           former_names="SAEBYOL", mmsi=445900016, call_sign="HMZF", ais=True),
]

CALIBRATION = Calibration(
    tankers=tuple(TANKERS),
    voyages=43,
    # the case's first and last reported load departures, and who makes them
    first_departure=date(2024, 3, 7),
    last_departure=date(2024, 11, 5),
    first_tanker="CHON MA SAN",
    last_tanker="YU SON",
    total_range_bbl=(1_000_000, 1_150_000),
    min_tankers=13,
    # at Vostochny per press reports, no IMO in any source
    unresolvable_name="KUM JIN GANG 3",
    unresolvable_spellings=("KUM JIN GANG 3", "Kum Jin Gang 3", "KUM JIN GANG-3"),
    unresolvable_first_day=date(2024, 6, 11),
    registry_updated_from=date(2024, 11, 25),
)


def estimates_md() -> str:
    lines = [
        "# Demo registry: real values and estimates",
        "",
        "Written by `demo/generate.py`; do not edit by hand. `tankers.csv` holds the 15 DPRK-flagged",
        "tankers of `shared/reference/dprk_tankers.csv` that have an IMO number. For each ship: which",
        "fields are real (with the source named in dprk_tankers.csv) and which are estimates.",
        "",
        "Common to all ships:",
        "",
        "- `summer_draught_m`: estimate, 4.5 m + 2.0 m x (DWT - 1,500) / 4,500, clamped to 4.5-6.5 m "
        "(typical of small product tankers; no source gives these ships' draughts).",
        "- `mmsi`, `call_sign`: synthetic (DPRK MID 445, numbers 4459000NN; DPRK call-sign prefix HM), "
        "given to the three AIS transmitters of the demo (AN SAN 1, YU SON, SIN PHYONG 9) and a few others.",
        "- `updated_at`: synthetic.",
        "- `cargo_capacity_m3`: empty unless stated, so the volume falls back to DWT x 0.95 x 7.46.",
        "- `owner`: the OFAC SDN entry's 'Linked To' company (for PAEK MA the first of the two).",
        "",
    ]
    for tk in TANKERS:
        lines += [f"## {tk.name} (IMO {tk.imo})", ""]
        lines += [f"- real: {r}" for r in tk.real]
        lines.append(f"- dwt {tk.dwt}: {tk.dwt_note}")
        if tk.cargo_m3:
            lines.append(f"- cargo_capacity_m3 {tk.cargo_m3}: {tk.cargo_note}")
        lines.append(f"- summer_draught_m {tk.summer_draught:.1f}: estimate from DWT")
        if tk.vessel_type == "tanker" and "vessel_type" not in tk.real[0]:
            lines.append("- vessel_type 'tanker': estimate (dprk_tankers.csv: type not stated; the UN reports "
                         "it moving fuel)")
        if tk.mmsi:
            lines.append(f"- mmsi {tk.mmsi}, call_sign {tk.call_sign}: synthetic"
                         + ("; transmits AIS in the demo" if tk.ais else ""))
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=HERE, help="bundle directory (default: demo/)")
    args = ap.parse_args(argv)
    summary = generate(CALIBRATION, args.seed, args.out)
    (args.out / "registry" / "ESTIMATES.md").write_bytes(estimates_md().encode("utf-8"))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Day partitions of the sighting and AIS assets: which days a run loads.

A partition is one UTC day, and the newest partition is the last complete day: the UI's "latest" partition,
the CLI's default and the nightly schedule's day are the same day, the one that just ended. A backfill of a
range loads its days in one run (each day's window deleted and inserted again), then the models rebuild once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg

# tankerwatch watches from the start of 2024, the year the Vostochny loadings were found; earlier days can be
# added by moving this date back (existing partitions keep their keys).
FIRST_DAY = "2024-01-01"

# end_offset=0: a day becomes a partition once it has ended (UTC), when a feed has finished writing its file.
# Today is not a partition: a run of a day still being written would publish it half-loaded.
DAILY_PARTITIONS = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC", fmt="%Y-%m-%d", end_offset=0)


def days_between(first: str, last: str) -> list[str]:
    """Every day from ``first`` to ``last``, both included, as YYYY-MM-DD."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    if end < start:
        raise ValueError(f"the range {first}..{last} ends before it starts")
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def partition_days(context: dg.AssetExecutionContext) -> list[str]:
    """The days of the run's partition or partition range."""
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure(
            "the daily sighting and AIS assets load day partitions, and this run names none: launch it for a "
            "day or a range (UI: pick the partition; GraphQL/API: tag dagster/partition=YYYY-MM-DD; CLI: "
            "tankerwatch run --days)"
        )
    key_range = context.partition_key_range
    return days_between(key_range.start, key_range.end)


def last_complete_day(now: datetime) -> str:
    """The UTC day before ``now``: the newest day whose files a feed has finished writing."""
    return (now.astimezone(UTC).date() - timedelta(days=1)).isoformat()

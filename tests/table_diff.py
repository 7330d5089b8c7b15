"""Comparing two warehouse tables row for row."""

from __future__ import annotations

from tankerwatch.warehouse import fetch_all


def row_differences(con, left: str, right: str) -> tuple[int, int]:
    """How many rows only `left` has and how many only `right` has, duplicates counted (`except all`)."""
    [(only_left,)] = fetch_all(con, f"select count(*) from (select * from {left} except all select * from {right})")
    [(only_right,)] = fetch_all(con, f"select count(*) from (select * from {right} except all select * from {left})")
    return only_left, only_right

"""Fault injection for tankerwatch's fault tests and `make soak`: named points at which a run kills itself.

Set ``TANKERWATCH_FAULT`` to ``<point>`` or ``<point>:<n>`` and the process sends itself SIGKILL the
n-th time (default: the first) it reaches that point, exactly as if the machine had lost power or
the OOM killer had struck there: no ``finally`` block, no cleanup, no flush. Unset (the normal case),
``fault_point`` is one dictionary lookup.

Points:

* ``landing``: a fetched body is half written to its temporary landing file.
* ``model``: a SQL model's table is replaced inside its open transaction, not yet committed.
* ``publish.write``: every parquet file of a new version is in its hidden temporary folder, not yet renamed.
* ``publish.switch``: the new ``current`` link exists under a temporary name, not yet renamed over ``current``.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

FAULT_ENV = "TANKERWATCH_FAULT"
POINTS = ("landing", "model", "publish.write", "publish.switch")

_reached: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Kill this process here when ``$TANKERWATCH_FAULT`` names this point (and this is its n-th visit)."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= (int(nth) if nth.isdigit() else 1):
        os.kill(os.getpid(), signal.SIGKILL)

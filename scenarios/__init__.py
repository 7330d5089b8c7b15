"""Synthetic tankerwatch scenarios with ground truth: noisy real-format inputs and the answer key."""

from __future__ import annotations

import importlib

# Resolved on first use, so that `python -m scenarios.generator` does not import the
# module twice (once through this package, once as __main__).
_EXPORTS = {
    "NoiseConfig": "scenarios.generator",
    "Truth": "scenarios.generator",
    "TruthVoyage": "scenarios.generator",
    "generate": "scenarios.generator",
    "generate_fleet_registry": "scenarios.positions",
    "generate_positions": "scenarios.positions",
    "generate_static": "scenarios.positions",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'scenarios' has no attribute {name!r}")

"""The domain constants of sql/parameters.yml, for Python and (as generated macros) for SQL.

SQL models read a constant as a macro of its name (`port_call_max_gap()`), defined in the
generated block of sql/macros.sql, which every warehouse connection loads. Python reads the same
file here. `python -m tankerwatch.parameters` rewrites the generated block; a test fails when it
is stale.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

import yaml

from tankerwatch.settings import SQL_DIR

PARAMETERS_FILE = SQL_DIR / "parameters.yml"
MACROS_FILE = SQL_DIR / "macros.sql"
INTERVAL_UNITS = ("days", "hours", "minutes")
BEGIN_MARKER = "-- BEGIN domain parameters (generated from sql/parameters.yml: python -m tankerwatch.parameters)"
END_MARKER = "-- END domain parameters"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ENTRY_KEYS = {"value", "unit", "meaning", "rule"}


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    unit: str
    meaning: str
    rule: str

    @property
    def is_interval(self) -> bool:
        return self.unit in INTERVAL_UNITS

    @property
    def python_value(self) -> float | timedelta:
        """An interval as a timedelta, anything else as its number."""
        return timedelta(**{self.unit: self.value}) if self.is_interval else self.value

    @property
    def sql_literal(self) -> str:
        # Written as the file writes it: 0.8 stays a DECIMAL literal, as the models always compared it.
        if self.is_interval:
            return f"interval {_number_text(self.value)} {self.unit}"
        return _number_text(self.value)


def _number_text(value: float) -> str:
    return str(int(value)) if isinstance(value, int) else repr(float(value))


@cache
def load(path: Path = PARAMETERS_FILE) -> dict[str, Parameter]:
    """Every parameter of the file, checked: a name fit for a macro, a finite number, a unit, a meaning and a rule."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: expected a mapping of parameter names to entries")
    parameters = {}
    for name, entry in entries.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{path}: parameter name {name!r} is not a lower-case identifier")
        if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
            raise ValueError(f"{path}: parameter {name} must have exactly {sorted(_ENTRY_KEYS)}")
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{path}: parameter {name} has no finite number as its value: {value!r}")
        if entry["unit"] in INTERVAL_UNITS and not isinstance(value, int):
            raise ValueError(f"{path}: parameter {name} is an interval of whole {entry['unit']}: {value!r}")
        parameters[name] = Parameter(name, value, str(entry["unit"]), str(entry["meaning"]), str(entry["rule"]))
    return parameters


def value(name: str) -> float | timedelta:
    """One parameter's value: a timedelta for an interval, else its number."""
    return load()[name].python_value


def seconds(name: str) -> float:
    """An interval parameter in seconds."""
    parameter = load()[name]
    if not parameter.is_interval:
        raise ValueError(f"parameter {name} is not an interval (its unit is {parameter.unit})")
    return parameter.python_value.total_seconds()


def macro_block(parameters: dict[str, Parameter] | None = None) -> str:
    """The generated block of sql/macros.sql: one argument-less macro per parameter."""
    parameters = parameters if parameters is not None else load()
    lines = [BEGIN_MARKER]
    for parameter in parameters.values():
        lines.append(f"-- {parameter.meaning} ({parameter.rule}).")
        lines.append(f"create or replace macro {parameter.name}() as {parameter.sql_literal};")
    lines.append(END_MARKER)
    return "\n".join(lines) + "\n"


def macros_with_parameters(macros_text: str, parameters: dict[str, Parameter] | None = None) -> str:
    """The macros file with its generated block replaced (appended when it has none)."""
    block = macro_block(parameters)
    start, end = macros_text.find(BEGIN_MARKER), macros_text.find(END_MARKER)
    if start < 0 or end < 0:
        return macros_text.rstrip("\n") + "\n\n" + block
    return macros_text[:start] + block + macros_text[end + len(END_MARKER):].removeprefix("\n")


def write_macros(path: Path = MACROS_FILE) -> bool:
    """Rewrite the generated block; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    new = macros_with_parameters(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    print(f"{MACROS_FILE}: {'rewritten' if write_macros() else 'up to date'}")

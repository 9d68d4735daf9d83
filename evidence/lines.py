"""Production lines: the DoD's own minimum sustaining, 1-8-5 and maximum rates and lead times, per line.

``default_data/production_lines.csv`` is written by ``scripts/build_lines.py`` from the P-21 exhibits of the
President's Budgets FY2013-2017, following the reviewed choices in ``production_line_sources.csv`` (which
budget year and cost element, and whether the figures as given are per month or per year). Rates are units
a year; lead times are months (administrative after 1 October, then production, for a reorder). Systems
name their line in the catalogue (:mod:`evidence.systems`).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

import pandas as pd

from totaldemand.errors import UserError

COLUMNS = (
    "line",
    "name",
    "service",
    "line_item_number",
    "line_item_title",
    "budget_year",
    "manufacturer",
    "min_sustaining_rate",
    "rate_1_8_5",
    "max_rate",
    "scale",
    "admin_lead_months",
    "production_lead_months",
    "dod_quantity",
    "review",
)


class LinesError(UserError):
    """A production-line table that cannot be used; the message names the row, field and reason."""


def default_lines_path() -> Path:
    return Path(str(files("evidence") / "default_data" / "production_lines.csv"))


def load_lines(path: Path | str | None = None) -> pd.DataFrame:
    """The production lines, indexed by line id; the shipped table by default (read once)."""
    return _default_lines().copy() if path is None else _read(Path(path))


@cache
def _default_lines() -> pd.DataFrame:
    return _read(default_lines_path())


def _read(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype={"line_item_number": str})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise LinesError(f"{path}: missing columns {', '.join(missing)}")
    if table["line"].duplicated().any():
        raise LinesError(
            f"{path}: line {table.loc[table['line'].duplicated(), 'line'].iloc[0]!r} given twice"
        )
    for i, row in table.iterrows():
        where = f"{path} row {int(i) + 2} ({row['line']})"
        rates = [row[c] for c in ("min_sustaining_rate", "rate_1_8_5", "max_rate")]
        if any(pd.isna(r) or r < 0 for r in rates):
            raise LinesError(f"{where}: rates must be numbers >= 0, not {rates}")
        if not rates[0] <= rates[2]:
            raise LinesError(f"{where}: min_sustaining_rate {rates[0]} above max_rate {rates[2]}")
        for c in ("admin_lead_months", "production_lead_months"):
            if pd.notna(row[c]) and not 0 <= row[c] <= 120:
                raise LinesError(f"{where}, {c} {row[c]}: a lead time is 0 to 120 months")
    return table.set_index("line")

"""Readiness reports: what a partner says (or an attaché reports) about a fleet, as evidence rows.

A report CSV has one row per partner × family (or system) × date with ``fleet_size`` and optionally
``mission_capable_rate`` (a share, 0-1, or a percentage, 1-100) and ``average_age`` (years). A
``system`` (a designation such as ``F-16C``) is mapped to its family through the designation
gazetteer when no ``family`` is given. Every row is validated before any is returned; the result is
evidence rows of kinds ``reported_fleet_units``, ``reported_mission_capable_rate`` and
``reported_fleet_mean_age``, which the panel prefers over the SIPRI fleet proxy for that partner ×
family from the report's date on (:func:`bayes.panel._readiness`). Without reports the proxy stays.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from pathlib import Path

import pandas as pd

from evidence.loaders import LoadError, Problem
from evidence.records import (
    MAX_FLEET_AGE,
    REPORTED_FLEET_MEAN_AGE,
    REPORTED_FLEET_UNITS,
    REPORTED_MISSION_CAPABLE,
)

REQUIRED = ("partner", "date", "fleet_size")
OPTIONAL = ("family", "system", "mission_capable_rate", "average_age", "source")
MAX_AGE = MAX_FLEET_AGE  # a larger value is a unit or typing error


def _number(value: str) -> float | None:
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def read_readiness_reports(
    path: Path,
    partners: Collection[str],
    families: Collection[str],
    system_family: Callable[[str], str | None] | None = None,
) -> pd.DataFrame:
    """Evidence rows from a readiness report CSV, or :class:`LoadError` naming every bad cell."""
    name = str(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LoadError([Problem(name, None, None, None, f"cannot read CSV: {exc}")]) from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if "family" not in frame.columns and "system" not in frame.columns:
        missing.append("family or system")
    if missing:
        raise LoadError([Problem(name, None, c, None, "required column missing") for c in missing])
    problems: list[Problem] = []
    rows: list[dict[str, object]] = []
    known_partners, known_families = set(partners), set(families)
    for i, record in enumerate(frame.to_dict("records")):
        line = i + 2  # header is line 1
        bad = len(problems)

        def problem(column: str, value: object, reason: str, line: int = line) -> None:
            problems.append(Problem(name, line, column, value, reason))

        partner = record["partner"].strip()
        if partner not in known_partners:
            problem("partner", partner, "unknown partner id")
        family = record.get("family", "").strip()
        system = record.get("system", "").strip()
        if not family and system:
            family = (system_family(system) if system_family else None) or ""
            if not family:
                problem("system", system, "no family known for this system; give a family")
        elif family not in known_families:
            problem("family", family, "unknown family id")
        date = pd.to_datetime(record["date"].strip(), errors="coerce", format="ISO8601")
        if pd.isna(date):
            problem("date", record["date"], "not a date (YYYY-MM-DD)")
        size = _number(record["fleet_size"])
        if size is None or size < 0 or size != int(size):
            problem("fleet_size", record["fleet_size"], "must be a whole number >= 0")
        rate = _number(record.get("mission_capable_rate", "")) if record.get("mission_capable_rate") else None
        if record.get("mission_capable_rate") and (rate is None or not 0 <= rate <= 100):
            problem(
                "mission_capable_rate", record["mission_capable_rate"], "must be a share 0-1 or percent 0-100"
            )
        elif rate is not None and rate > 1:
            rate /= 100.0
        age = _number(record.get("average_age", "")) if record.get("average_age") else None
        if record.get("average_age") and (age is None or not 0 <= age <= MAX_AGE):
            problem("average_age", record["average_age"], f"must be years between 0 and {MAX_AGE:g}")
        if len(problems) > bad:
            continue
        source = record.get("source", "").strip() or f"readiness report {Path(path).name}:{line}"
        day = date.date()
        for kind, value in (
            (REPORTED_FLEET_UNITS, size),
            (REPORTED_MISSION_CAPABLE, rate),
            (REPORTED_FLEET_MEAN_AGE, age),
        ):
            if value is not None:
                rows.append(
                    {
                        "partner": partner,
                        "family": family,
                        "date": day,
                        "kind": kind,
                        "value": value,
                        "source": source,
                    }
                )
    if problems:
        raise LoadError(problems)
    return pd.DataFrame(rows, columns=["partner", "family", "date", "kind", "value", "source"])

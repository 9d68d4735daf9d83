"""Read record tables from CSV, Parquet or JSON, validating every row before anything is returned.

A table either loads whole or raises :class:`LoadError` listing each bad cell by file, row,
column, value and reason; nothing half-loaded ever reaches the caller.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from evidence.records import (
    DOMESTIC_PLANS,
    EVIDENCE,
    FAMILIES,
    LINE_CAPACITIES,
    LORS,
    NLP_MENTION,
    PARTNERS,
    Column,
    LORStatus,
    Table,
)

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".parquet", ".json", ".jsonl")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
_MAX_REPORTED = 20


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    row: int | None  # 1-based data row (CSV: line number in the file); None for file-level problems
    column: str | None
    value: object
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        value = "" if self.value is None else f": value {self.value!r}"
        return f"{where}{value}: {self.reason}"


class LoadError(ValueError):
    """Raised when input fails validation; carries every problem found (up to a cap)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:_MAX_REPORTED])
        more = f"\n  ... and {len(problems) - _MAX_REPORTED} more" if len(problems) > _MAX_REPORTED else ""
        super().__init__(f"{len(problems)} problem(s) in input:\n  {shown}{more}")


def first_row_number(path: Path) -> int:
    """The number errors give the first data row of a table file: line 2 of a CSV (after its header),
    record 1 of the other formats."""
    return 2 if path.suffix.lower() == ".csv" else 1


def _read_raw(path: Path) -> tuple[pd.DataFrame, int]:
    """Read a file into an all-string frame; return it and the offset from index to reported row."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            return frame, first_row_number(path)
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
            return frame, first_row_number(path)
        if suffix in (".json", ".jsonl"):
            text = path.read_text(encoding="utf-8")
            if suffix == ".jsonl":
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                payload = json.loads(text)
                rows = payload.get("rows") if isinstance(payload, dict) else payload
                if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                    raise LoadError(
                        [
                            Problem(
                                str(path), None, None, None, "expected a list of objects or {'rows': [...]}"
                            )
                        ]
                    )
            return pd.DataFrame.from_records(rows), first_row_number(path)
    except LoadError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, pd.errors.ParserError, ValueError, OSError) as exc:
        raise LoadError([Problem(str(path), None, None, None, f"cannot be read: {exc}")]) from exc
    raise LoadError(
        [Problem(str(path), None, None, None, f"unsupported file type {suffix!r}; use {SUFFIXES}")]
    )


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _parse_column(raw: pd.Series, col: Column) -> tuple[pd.Series, np.ndarray, str]:
    """Parse one column; return parsed values, a mask of invalid cells and the reason for them."""
    blank = raw.map(_is_blank).to_numpy(dtype=bool)
    text = raw.map(lambda v: "" if _is_blank(v) else str(v).strip())
    if col.kind in ("str", "list"):
        parsed = (
            text
            if col.kind == "str"
            else text.map(lambda s: tuple(x.strip() for x in s.split(";") if x.strip()))
        )
        return parsed, np.zeros(len(raw), dtype=bool), ""
    if col.kind in ("int", "float"):
        numbers = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = (~blank) & (numbers.isna().to_numpy() | ~np.isfinite(numbers.fillna(0).to_numpy(dtype=float)))
        if col.kind == "int":
            whole = numbers.fillna(0) % 1 == 0
            bad |= (~blank) & ~whole.to_numpy()
            return (
                numbers.astype("Int64", errors="ignore") if not bad.any() else numbers,
                bad,
                "not an integer",
            )
        return numbers.astype(float), bad, "not a finite number"
    if col.kind == "bool":
        lowered = text.str.lower()
        bad = ~lowered.isin(_TRUE | _FALSE).to_numpy()
        return lowered.isin(_TRUE), bad, "not a boolean (true/false/1/0/yes/no)"
    if col.kind == "date":
        dates = pd.to_datetime(text.where(~blank), format="ISO8601", errors="coerce")
        bad = (~blank) & dates.isna().to_numpy()
        return dates.dt.date, bad, "not an ISO date (YYYY-MM-DD)"
    if col.kind == "status":
        allowed = {s.value for s in LORStatus}
        lowered = text.str.lower()
        bad = (~blank) & ~lowered.isin(allowed).to_numpy()
        return lowered, bad, f"not one of {sorted(allowed)}"
    raise AssertionError(f"unknown column kind {col.kind}")


# Row-level rules beyond types: (table, column) -> (predicate on parsed values that marks bad rows, reason).
_NON_NEGATIVE = {
    ("lors", "quantity"),
    ("lors", "estimated_value_usd"),
    ("domestic_plans", "quantity"),
    ("line_capacities", "min_sustaining_rate"),
    ("line_capacities", "max_rate"),
}


def validate_frame(frame: pd.DataFrame, table: Table, source: str, row_offset: int = 1) -> pd.DataFrame:
    """Validate and type a raw frame against ``table``; raise :class:`LoadError` listing every problem."""
    problems: list[Problem] = []
    missing = [c.name for c in table.columns if c.required and c.name not in frame.columns]
    if missing:
        raise LoadError(
            [
                Problem(source, None, m, None, f"required column missing (have {list(frame.columns)})")
                for m in missing
            ]
        )
    unknown = [c for c in frame.columns if c not in {col.name for col in table.columns}]
    if unknown:
        log.info("%s: ignoring unknown columns %s", source, unknown)
    out: dict[str, pd.Series] = {}
    for col in table.columns:
        raw = frame[col.name] if col.name in frame.columns else pd.Series([None] * len(frame), dtype=object)
        raw = raw.reset_index(drop=True)
        parsed, bad, reason = _parse_column(raw, col)
        blank = raw.map(_is_blank).to_numpy(dtype=bool)
        if col.required and col.kind != "bool":
            for i in np.flatnonzero(blank):
                problems.append(
                    Problem(source, int(i) + row_offset, col.name, raw.iloc[i], "required value is empty")
                )
        for i in np.flatnonzero(bad):
            problems.append(Problem(source, int(i) + row_offset, col.name, raw.iloc[i], reason))
        if (table.name, col.name) in _NON_NEGATIVE and not bad.any():
            negative = (pd.to_numeric(parsed, errors="coerce").fillna(0) < 0).to_numpy()
            for i in np.flatnonzero(negative):
                problems.append(
                    Problem(source, int(i) + row_offset, col.name, raw.iloc[i], "must not be negative")
                )
        out[col.name] = parsed
    typed = pd.DataFrame(out)
    if table is LINE_CAPACITIES and not problems:
        for i in np.flatnonzero((typed["min_sustaining_rate"] > typed["max_rate"]).to_numpy()):
            problems.append(
                Problem(
                    source,
                    int(i) + row_offset,
                    "max_rate",
                    frame["max_rate"].iloc[i],
                    "max_rate is below min_sustaining_rate",
                )
            )
    if table is EVIDENCE and not problems:
        # A mention count below zero has no meaning; the model reads log(1 + mentions).
        negative = (typed["kind"] == NLP_MENTION) & (typed["value"] < 0)
        for i in np.flatnonzero(negative.to_numpy()):
            problems.append(
                Problem(
                    source,
                    int(i) + row_offset,
                    "value",
                    frame["value"].iloc[i],
                    "an NLP mention count must not be negative",
                )
            )
    if table.key and not problems:
        dup = typed.duplicated(list(table.key), keep="first").to_numpy()
        for i in np.flatnonzero(dup):
            key = ", ".join(f"{k}={typed[k].iloc[i]!r}" for k in table.key)
            problems.append(Problem(source, int(i) + row_offset, table.key[0], key, "duplicate key"))
    if problems:
        raise LoadError(problems)
    return typed


def load_table(path: Path | str, table: Table) -> pd.DataFrame:
    """Load one table file (CSV, Parquet, JSON or JSON lines) and validate it."""
    path = Path(path)
    if not path.is_file():
        raise LoadError([Problem(str(path), None, None, None, "file not found")])
    frame, offset = _read_raw(path)
    return validate_frame(frame, table, str(path), offset)


def find_table_file(directory: Path, table: Table) -> Path | None:
    matches = [directory / f"{table.name}{s}" for s in SUFFIXES if (directory / f"{table.name}{s}").is_file()]
    if len(matches) > 1:
        raise LoadError(
            [
                Problem(
                    str(directory),
                    None,
                    None,
                    [m.name for m in matches],
                    f"more than one file for table '{table.name}'",
                )
            ]
        )
    return matches[0] if matches else None


@dataclass(frozen=True)
class Dataset:
    """Every table of one world (real or simulated), validated and cross-checked."""

    partners: pd.DataFrame
    families: pd.DataFrame
    lors: pd.DataFrame
    evidence: pd.DataFrame
    domestic_plans: pd.DataFrame
    line_capacities: pd.DataFrame
    source: str

    def restrict_to(self, as_of_year: int) -> Dataset:
        """What was known at the end of ``as_of_year``: LORs received and evidence dated up to then."""
        lors = self.lors[pd.to_datetime(self.lors["received"]).dt.year <= as_of_year]
        evidence = self.evidence[pd.to_datetime(self.evidence["date"]).dt.year <= as_of_year]
        return Dataset(
            self.partners,
            self.families,
            lors.reset_index(drop=True),
            evidence.reset_index(drop=True),
            self.domestic_plans,
            self.line_capacities,
            f"{self.source} as of {as_of_year}",
        )


def check_references(
    name: str,
    frame: pd.DataFrame,
    column: str,
    known: Iterable[str],
    kind: str,
    source: str,
    allow_blank: bool = False,
    file: str | None = None,
    first_row: int = 1,
) -> list[Problem]:
    """Rows of ``frame`` whose ``column`` is not among ``known``, as problems in ``file`` (default
    ``source/name``) numbered from ``first_row``."""
    known = set(known)
    values = frame[column]
    bad = ~values.isin(known)
    if allow_blank:
        bad &= values != ""
    return [
        Problem(file or f"{source}/{name}", int(i) + first_row, column, values.iloc[i], f"unknown {kind} id")
        for i in np.flatnonzero(bad.to_numpy())
    ]


def load_dataset(directory: Path | str) -> Dataset:
    """Load a dataset directory: partners and families are required, the other tables optional."""
    directory = Path(directory)
    if not directory.is_dir():
        raise LoadError([Problem(str(directory), None, None, None, "dataset directory not found")])
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for table in (PARTNERS, FAMILIES, LORS, EVIDENCE, DOMESTIC_PLANS, LINE_CAPACITIES):
        path = find_table_file(directory, table)
        if path is None:
            if table in (PARTNERS, FAMILIES):
                problems.append(
                    Problem(
                        str(directory),
                        None,
                        None,
                        None,
                        f"missing table '{table.name}' (one of {[table.name + s for s in SUFFIXES]})",
                    )
                )
            frames[table.name] = validate_frame(
                pd.DataFrame(columns=[c.name for c in table.columns]), table, ""
            )
            continue
        try:
            frames[table.name] = load_table(path, table)
        except LoadError as exc:
            problems.extend(exc.problems)
    if problems:
        raise LoadError(problems)
    partners, families = frames["partners"]["id"], frames["families"]["id"]
    src = str(directory)
    problems += check_references("lors", frames["lors"], "partner", partners, "partner", src)
    problems += check_references("lors", frames["lors"], "family", families, "family", src)
    problems += check_references("evidence", frames["evidence"], "partner", partners, "partner", src)
    problems += check_references("evidence", frames["evidence"], "family", families, "family", src, True)
    problems += check_references(
        "domestic_plans", frames["domestic_plans"], "family", families, "family", src
    )
    problems += check_references(
        "line_capacities", frames["line_capacities"], "family", families, "family", src
    )
    if problems:
        raise LoadError(problems)
    log.info(
        "loaded %s: %d partners, %d families, %d LORs, %d evidence rows",
        directory,
        len(partners),
        len(families),
        len(frames["lors"]),
        len(frames["evidence"]),
    )
    return Dataset(source=src, **frames)


def default_dataset_path() -> Path:
    """The embedded default: U.S.-supplied SIPRI orders as realised LORs (see its SOURCE.md)."""
    return Path(str(files("evidence") / "default_data" / "sipri_us"))

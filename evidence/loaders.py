"""Read record tables from CSV, Parquet or JSON, validating every row before anything is returned.

A table either loads whole or raises :class:`LoadError` listing each bad cell by file, row,
column, value and reason; nothing half-loaded ever reaches the caller.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from evidence import strict_json
from evidence.records import (
    DOMESTIC_PLANS,
    EARLIEST_DATE,
    EVIDENCE,
    EVIDENCE_BOUNDS,
    FAMILIES,
    LATEST_DATE,
    LINE_CAPACITIES,
    LORS,
    PARTNERS,
    SUPPLIER_ORDERS,
    Column,
    LORChannel,
    LORStatus,
    Table,
    number_text,
)
from totaldemand.errors import UserError

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".parquet", ".json", ".jsonl")
# Besides its ``evidence`` table, a dataset directory may hold evidence in parts named
# ``evidence-<name>.<suffix>``: derived tables rebuilt on their own (the shipped ``evidence-milex.csv`` and
# ``evidence-sam.csv``), so a rebuild of one source never rewrites another's rows.
EVIDENCE_PART_PREFIX = "evidence-"
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


class LoadError(UserError):
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


def read_csv_text(text: str, source: str) -> pd.DataFrame:
    """A CSV text (header first) as an all-string frame. Python's reader, not pandas': pandas drops a NUL
    byte and what follows it in a field without a word, so a value would be stored other than sent."""
    rows = [r for r in csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")) if r]
    if not rows:
        raise LoadError([Problem(source, None, None, None, "no header and no rows")])
    header = [h.strip() for h in rows[0]]
    ragged = [
        Problem(source, i + 2, None, len(r), f"has {len(r)} fields; the header has {len(header)}")
        for i, r in enumerate(rows[1:])
        if len(r) != len(header)
    ]
    if ragged:
        raise LoadError(ragged)
    return pd.DataFrame(rows[1:], columns=header, dtype=object)


def json_rows(payload: object, source: str) -> list[dict]:
    """The rows of a JSON table: a list of objects, or ``{"rows": [...]}``."""
    rows = payload.get("rows") if isinstance(payload, dict) else payload
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise LoadError([Problem(source, None, None, None, 'expected a list of objects or {"rows": [...]}')])
    return rows


def _read_raw(path: Path) -> tuple[pd.DataFrame, int]:
    """Read a file into an all-string frame; return it and the offset from index to reported row."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            text = strict_json.decode_utf8(path.read_bytes())
            return read_csv_text(text, str(path)), first_row_number(path)
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
            return frame, first_row_number(path)
        if suffix in (".json", ".jsonl"):
            text = strict_json.decode_utf8(path.read_bytes())
            if suffix == ".jsonl":
                rows = [strict_json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                rows = json_rows(strict_json.loads(text), str(path))
            return pd.DataFrame.from_records(rows), first_row_number(path)
    except LoadError:
        raise
    except (strict_json.JSONError, csv.Error, ValueError, OSError) as exc:
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


# Control characters (C0, DEL, C1) in a record field: a NUL or an escape sequence is never a value, and
# would be stored as one.
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"

Checks = list[tuple[np.ndarray, str]]  # (mask of bad cells, reason) pairs for one column


def _calendar_date(text: str) -> bool:
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def _parse_column(raw: pd.Series, col: Column) -> tuple[pd.Series, Checks]:
    """Parse one column; return the parsed values and which cells are invalid, with why."""
    blank = raw.map(_is_blank).to_numpy(dtype=bool)
    text = raw.map(lambda v: "" if _is_blank(v) else str(v).strip())
    if col.kind in ("str", "list"):
        checks: Checks = [(text.str.contains(_CONTROL, regex=True).to_numpy(), "holds a control character")]
        if col.max_length is not None:
            checks.append(
                ((text.str.len() > col.max_length).to_numpy(), f"longer than {col.max_length:,} characters")
            )
        parsed = (
            text
            if col.kind == "str"
            else text.map(lambda s: tuple(x.strip() for x in s.split(";") if x.strip()))
        )
        return parsed, checks
    if col.kind in ("int", "float"):
        # as floats first: a huge integer (2**63, 10**30) is then a number out of bounds, not an overflow
        numbers = pd.to_numeric(text.where(~blank), errors="coerce").astype(float)
        values = numbers.to_numpy()
        not_number = (~blank) & ~np.isfinite(values)
        checks = [(not_number, "not a finite number" if col.kind == "float" else "not an integer")]
        finite = np.where(np.isfinite(values), values, 0.0)
        if col.kind == "int":
            checks.append(((~blank) & (finite % 1 != 0), "not an integer"))
        if col.minimum is not None and col.maximum is not None:
            number = ~blank & ~not_number
            below, above = number & (finite < col.minimum), number & (finite > col.maximum)
            checks.append((below, "must not be negative" if col.minimum == 0 else f"must be {col.bounds}"))
            checks.append((above, f"must be {col.bounds}"))
        if col.kind == "int" and not any(mask.any() for mask, _ in checks):
            return numbers.astype("Int64"), checks  # safe: every value is whole and within bounds
        return numbers, checks
    if col.kind == "bool":
        lowered = text.str.lower()
        bad = ~lowered.isin(_TRUE | _FALSE).to_numpy()
        return lowered.isin(_TRUE), [(bad, "not a boolean (true/false/1/0/yes/no)")]
    if col.kind == "date":
        dates = pd.to_datetime(text.where(~blank), format="ISO8601", errors="coerce")
        bad = (~blank) & dates.isna().to_numpy()
        window = dates.between(EARLIEST_DATE.isoformat(), LATEST_DATE.isoformat()).to_numpy()
        outside = (~blank) & ~bad & ~window
        for i in np.flatnonzero(bad):  # a real date beyond what pandas holds (9999-01-01) is out of bounds
            if _calendar_date(text.iloc[i]):
                bad[i], outside[i] = False, True
        return dates.dt.date, [
            (bad, "not an ISO date (YYYY-MM-DD)"),
            (outside, f"must be {col.bounds}"),
        ]
    if col.kind in ("status", "channel"):
        allowed = {s.value for s in (LORStatus if col.kind == "status" else LORChannel)}
        lowered = text.str.lower()
        bad = (~blank) & ~lowered.isin(allowed).to_numpy()
        return lowered, [(bad, f"not one of {sorted(allowed)}")]
    raise AssertionError(f"unknown column kind {col.kind}")


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
        parsed, checks = _parse_column(raw, col)
        blank = raw.map(_is_blank).to_numpy(dtype=bool)
        if col.required and col.kind != "bool":
            for i in np.flatnonzero(blank):
                problems.append(
                    Problem(source, int(i) + row_offset, col.name, raw.iloc[i], "required value is empty")
                )
        flagged = np.zeros(len(raw), dtype=bool)
        for mask, reason in checks:
            for i in np.flatnonzero(mask & ~flagged):  # one problem a cell: the first reason found
                problems.append(Problem(source, int(i) + row_offset, col.name, raw.iloc[i], reason))
            flagged |= mask
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
    if table is SUPPLIER_ORDERS and not problems:
        # a supplier is no reference to a stored row, so only its spelling keeps "France" from being a
        # second supplier beside "france"
        for i in np.flatnonzero(~typed["supplier"].str.fullmatch(r"[a-z0-9_]+").to_numpy(dtype=bool)):
            problems.append(
                Problem(
                    source,
                    int(i) + row_offset,
                    "supplier",
                    frame["supplier"].iloc[i],
                    "not an id in the partners' scheme (lowercase letters, digits and _, e.g. 'france')",
                )
            )
    if table is EVIDENCE and not problems:
        for kind, (low, high) in EVIDENCE_BOUNDS.items():
            outside = (typed["kind"] == kind) & ~typed["value"].between(low, high)
            for i in np.flatnonzero(outside.to_numpy()):
                problems.append(
                    Problem(
                        source,
                        int(i) + row_offset,
                        "value",
                        frame["value"].iloc[i],
                        f"a {kind} value must be between {number_text(low)} and {number_text(high)}",
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


def evidence_part_files(directory: Path) -> list[Path]:
    """The evidence parts of a dataset directory (``evidence-<name>.<suffix>``), in name order."""
    return sorted(
        p
        for p in Path(directory).iterdir()
        if p.is_file() and p.name.startswith(EVIDENCE_PART_PREFIX) and p.suffix.lower() in SUFFIXES
    )


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
    # every supplier's orders (sources.suppliers); empty where the dataset has none
    supplier_orders: pd.DataFrame = field(default_factory=lambda: empty_table(SUPPLIER_ORDERS))

    def restrict_to(self, as_of_year: int) -> Dataset:
        """What was known at the end of ``as_of_year``: LORs received, evidence dated and orders from
        every supplier placed up to then."""
        lors = self.lors[pd.to_datetime(self.lors["received"]).dt.year <= as_of_year]
        evidence = self.evidence[pd.to_datetime(self.evidence["date"]).dt.year <= as_of_year]
        orders = self.supplier_orders[self.supplier_orders["year"] <= as_of_year]
        return Dataset(
            self.partners,
            self.families,
            lors.reset_index(drop=True),
            evidence.reset_index(drop=True),
            self.domestic_plans,
            self.line_capacities,
            f"{self.source} as of {as_of_year}",
            orders.reset_index(drop=True),
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


def empty_table(table: Table) -> pd.DataFrame:
    """A table with no rows, its columns typed as loading would type them."""
    return validate_frame(pd.DataFrame(columns=[c.name for c in table.columns]), table, "")


def load_dataset(directory: Path | str) -> Dataset:
    """Load a dataset directory: partners and families are required, the other tables optional.

    The evidence is the ``evidence`` table followed by each evidence part (``evidence-<name>.<suffix>``,
    in name order), every part validated and reference-checked like the table itself."""
    directory = Path(directory)
    if not directory.is_dir():
        raise LoadError([Problem(str(directory), None, None, None, "dataset directory not found")])
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for table in (PARTNERS, FAMILIES, LORS, EVIDENCE, DOMESTIC_PLANS, LINE_CAPACITIES, SUPPLIER_ORDERS):
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
            frames[table.name] = empty_table(table)
            continue
        try:
            frames[table.name] = load_table(path, table)
        except LoadError as exc:
            problems.extend(exc.problems)
    parts: dict[Path, pd.DataFrame] = {}
    for path in evidence_part_files(directory):
        try:
            parts[path] = load_table(path, EVIDENCE)
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
    for path, part in parts.items():
        first = first_row_number(path)
        problems += check_references(
            "evidence", part, "partner", partners, "partner", src, file=str(path), first_row=first
        )
        problems += check_references(
            "evidence", part, "family", families, "family", src, True, str(path), first
        )
    if parts:
        # concat warns on (and mistypes) empty frames: join only those with rows
        pieces = [f for f in (frames["evidence"], *parts.values()) if len(f)]
        if pieces:
            frames["evidence"] = pd.concat(pieces, ignore_index=True)
    problems += check_references(
        "domestic_plans", frames["domestic_plans"], "family", families, "family", src
    )
    problems += check_references(
        "line_capacities", frames["line_capacities"], "family", families, "family", src
    )
    orders = frames["supplier_orders"]
    problems += check_references("supplier_orders", orders, "partner", partners, "partner", src)
    problems += check_references("supplier_orders", orders, "family", families, "family", src)
    if problems:
        raise LoadError(problems)
    log.info(
        "loaded %s: %d partners, %d families, %d LORs, %d evidence rows (%d from %d parts)",
        directory,
        len(partners),
        len(families),
        len(frames["lors"]),
        len(frames["evidence"]),
        sum(map(len, parts.values())),
        len(parts),
    )
    return Dataset(source=src, **frames)


def every_supplier(dataset: Dataset) -> Dataset:
    """``dataset`` with its requests replaced by every supplier's orders, one executed row per order, so
    that the demand model fitted to it forecasts a partner's whole demand (the U.S. share model then
    splits it). A cell's units are spread over its orders, whole units, the remainder to the first ones;
    a cell without units gives orders without a quantity."""
    table = dataset.supplier_orders
    if table.empty:
        raise UserError(f"{dataset.source}: the dataset has no supplier_orders table")
    n = table["orders"].to_numpy(dtype=int)
    rows = table.loc[table.index.repeat(n)].reset_index(drop=True)
    k = rows.groupby(["partner", "family", "year", "supplier"], sort=False).cumcount().to_numpy()
    orders = rows["orders"].to_numpy(dtype=int)
    units = rows["units"].astype("Float64")
    quantity = (units // orders + (k < units % orders)).astype("Int64")
    lors = pd.DataFrame(
        {
            "id": [
                f"{p}|{f}|{y}|{s}|{i}"
                for p, f, y, s, i in zip(
                    rows["partner"], rows["family"], rows["year"], rows["supplier"], k, strict=True
                )
            ],
            "partner": rows["partner"],
            "family": rows["family"],
            "received": [f"{y:04d}-07-01" for y in rows["year"]],
            "status": LORStatus.EXECUTED.value,
            "quantity": quantity,
            "designation": "",
            "estimated_value_usd": np.nan,
            "source": rows["source"] + "; supplier " + rows["supplier"],
            "year_uncertain": False,
            "quantity_uncertain": False,
        }
    )
    # checked and typed as a loaded lors table is (the checker reads a blank as None)
    lors = validate_frame(lors.astype({"quantity": "object"}).where(lors.notna(), None), LORS, dataset.source)
    return Dataset(
        dataset.partners,
        dataset.families,
        lors,
        dataset.evidence,
        dataset.domestic_plans,
        dataset.line_capacities,
        f"{dataset.source} (every supplier)",
        dataset.supplier_orders,
    )


def default_dataset_path() -> Path:
    """The embedded default: U.S.-supplied SIPRI orders as realised LORs (see its SOURCE.md)."""
    return Path(str(files("evidence") / "default_data" / "sipri_us"))

"""Records in the database: seeding from a dataset, validated all-or-nothing ingests, and export of a
dataset snapshot that a fit reads (database → dataset directory → panel)."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select, tuple_, update

from evidence import strict_json
from evidence.loaders import LoadError, Problem, json_rows, load_dataset, read_csv_text, validate_frame
from evidence.records import DOMESTIC_PLANS, EVIDENCE, LORS, SUPPLIER_ORDERS, TABLES, LORStatus, Table
from evidence.writers import atomic_write_text, write_table
from service import audit, scope
from service import tables as s
from service.auth import Caller
from service.db import now

log = logging.getLogger(__name__)

# What an upload may hold: the endpoint's name → the dataset table layout it is validated against.
INGESTS = {"lors": LORS, "evidence": EVIDENCE, "plans": DOMESTIC_PLANS, "supplier-orders": SUPPLIER_ORDERS}
# Uploads that replace stored rows with the same key (a revised plan, a revised count of orders).
_REPLACES = {
    "plans": (s.domestic_plans, ("family", "fiscal_year")),
    "supplier-orders": (s.supplier_orders, ("partner", "family", "year", "supplier")),
}
_INSERT_CHUNK = 5_000


@dataclass(frozen=True)
class Stored:
    batch: int
    kind: str
    rows: int
    replaced: int = 0  # plans, supplier orders: rows with the same key that the upload superseded


def parse_upload(
    body: bytes, content_type: str, source: str, max_rows: int, table: Table
) -> tuple[pd.DataFrame, int]:
    """The rows of a JSON (list of objects, or ``{"rows": [...]}``) or CSV body, as a raw frame, and
    the offset from frame index to the row number reported in errors (CSV: the line in the file).

    JSON is read strictly (:mod:`evidence.strict_json`), and each cell must have its column's JSON type:
    a number for a number, ``true``/``false`` for a flag, a string for text and dates, or ``null``.
    A CSV cell is text by nature, so there the column's parser alone decides."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        try:
            frame = read_csv_text(strict_json.decode_utf8(body), source)
        except strict_json.JSONError as exc:
            raise LoadError([Problem(source, None, None, None, f"CSV {exc.reason}")]) from None
        except csv.Error as exc:
            raise LoadError([Problem(source, None, None, None, f"not readable as CSV: {exc}")]) from None
        offset = 2
    elif kind in ("application/json", ""):
        try:
            payload = strict_json.loads(body)
        except strict_json.JSONError as exc:
            raise LoadError([Problem(source, None, exc.field, None, exc.reason)]) from None
        rows = json_rows(payload, source)
        _check_size(len(rows), max_rows, source)
        if problems := _json_type_problems(rows, table, source):
            raise LoadError(problems)
        frame, offset = pd.DataFrame.from_records(rows), 1
    else:
        reason = "unsupported content type; use application/json or text/csv"
        raise LoadError([Problem(source, None, None, content_type, reason)])
    _check_size(len(frame), max_rows, source)
    return frame, offset


def _check_size(rows: int, max_rows: int, source: str) -> None:
    if not rows:
        raise LoadError([Problem(source, None, None, None, "no rows")])
    if rows > max_rows:
        raise LoadError([Problem(source, None, None, rows, f"more than {max_rows} rows in one upload")])


# The JSON types a cell of each column kind may have (None: JSON null, a missing value).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "list": (str, list),
    "int": (int, float),
    "float": (int, float),
    "bool": (bool,),
    "date": (str,),
    "status": (str,),
    "channel": (str,),
}
_JSON_NAMES = {str: "string", bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}


def _json_type_problems(rows: list[dict[str, Any]], table: Table, source: str) -> list[Problem]:
    problems = []
    for column in table.columns:
        allowed = _JSON_TYPES[column.kind]
        expected = " or ".join(dict.fromkeys(_JSON_NAMES[t] for t in allowed))
        for i, row in enumerate(rows):
            value = row.get(column.name)
            if value is None:
                continue
            # bool is an int in Python, but true is not a number in JSON
            wrong = not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
            if column.kind == "list" and isinstance(value, list):
                wrong = not all(isinstance(v, str) for v in value)
            if wrong:
                got = _JSON_NAMES.get(type(value), type(value).__name__)
                reason = f"a JSON {expected} is expected, not a {got}"
                problems.append(Problem(source, i + 1, column.name, _shown(value), reason))
    return sorted(problems, key=lambda p: p.row or 0)


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Typed rows as plain Python values, missing values as None (what the DB-API expects)."""
    out = []
    for row in frame.to_dict("records"):
        clean = {}
        for key, value in row.items():
            if value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
                value = None
            elif isinstance(value, tuple):
                value = ";".join(value)
            elif isinstance(value, np.generic):
                value = value.item()
            clean[key] = value
        out.append(clean)
    return out


def _insert(conn: Connection, table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _INSERT_CHUNK):
        conn.execute(insert(table), rows[start : start + _INSERT_CHUNK])


def _new_batch(conn: Connection, kind: str, rows: int, key_id: str | None, source: str) -> int:
    result = conn.execute(
        insert(s.batches).values(kind=kind, rows=rows, key_id=key_id, created_at=now(), source=source)
    )
    return int(result.inserted_primary_key[0])


def is_seeded(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(s.partners)).scalar())


def seed(engine: Engine, dataset: Path) -> bool:
    """Fill an empty database from a dataset directory, in one transaction; False if already seeded."""
    if is_seeded(engine):
        return False
    data = load_dataset(dataset)
    with engine.begin() as conn:
        batched = ("lors", "evidence", "domestic_plans", "supplier_orders")
        total = sum(len(getattr(data, name)) for name in batched)
        batch = _new_batch(conn, "seed", total, None, str(dataset))
        for name in ("partners", "families", "line_capacities"):
            rows = _records(getattr(data, name))
            for i, row in enumerate(rows):
                row["seq"] = i
            _insert(conn, s.RECORD_TABLES[name], rows)
        for name in batched:
            rows = _records(getattr(data, name))
            for row in rows:
                row["batch"] = batch
            _insert(conn, s.RECORD_TABLES[name], rows)
    log.info(
        "seeded the database from %s (%d partners, %d LORs)", dataset, len(data.partners), len(data.lors)
    )
    return True


def _known(conn: Connection, table) -> set[str]:
    return set(conn.execute(select(table.c.id)).scalars())


def _reference_problems(
    frame: pd.DataFrame,
    column: str,
    known: set[str],
    kind: str,
    source: str,
    offset: int,
    allow_blank: bool = False,
) -> list[Problem]:
    values = frame[column].astype(str)
    bad = ~values.isin(known)
    if allow_blank:
        bad &= values != ""
    return [
        Problem(source, int(i) + offset, column, values.iloc[i], f"unknown {kind} id")
        for i in np.flatnonzero(bad.to_numpy())
    ]


def ingest(
    engine: Engine,
    kind: str,
    raw: pd.DataFrame,
    source: str,
    key_id: str | None,
    offset: int = 1,
    writer: Caller | None = None,
) -> Stored:
    """Validate every row of an upload and store all of them in one transaction, or none; rows
    beyond ``writer``'s partner scope are refused before anything else is checked.

    LOR ids must be new; a domestic plan for a family and fiscal year already stored replaces it
    (plans are revised each budget cycle; the batch records which upload did it), and so does a count
    of orders for a partner, family, year and supplier (SIPRI revises its register between releases)."""
    with engine.begin() as conn:
        stored = _ingest_in(conn, kind, raw, source, key_id, offset, writer)
    log.info(
        "stored %d %s rows (batch %d, %d replaced) from %s",
        stored.rows,
        kind,
        stored.batch,
        stored.replaced,
        source,
    )
    return stored


def ingest_together(
    engine: Engine,
    parts: list[tuple[str, pd.DataFrame]],
    source: str,
    key_id: str | None,
    writer: Caller | None = None,
    mentions: pd.DataFrame | None = None,
) -> list[Stored]:
    """Several uploads (e.g. the LORs and signals extracted from one set of texts) in one
    transaction: all of them are stored, or none. ``mentions`` (nlp.text_records: what the texts
    said and where) join the first stored part's batch in the same transaction."""
    with engine.begin() as conn:
        stored = [_ingest_in(conn, kind, raw, source, key_id, 1, writer) for kind, raw in parts if len(raw)]
        if mentions is not None and len(mentions) and stored:
            dated = mentions.assign(date=pd.to_datetime(mentions["date"], errors="coerce").dt.date)
            dated = dated[dated["date"].notna()]  # an undated text has no place in time to cite
            rows = dated.astype(object).where(dated.notna(), None).to_dict("records")
            conn.execute(insert(s.text_mentions), [{**r, "batch": stored[0].batch} for r in rows])
    for part in stored:
        log.info("stored %d %s rows (batch %d) from %s", part.rows, part.kind, part.batch, source)
    return stored


def has_partner(table: Table) -> bool:
    return any(c.name == "partner" for c in table.columns)


def _ingest_in(
    conn: Connection,
    kind: str,
    raw: pd.DataFrame,
    source: str,
    key_id: str | None,
    offset: int = 1,
    writer: Caller | None = None,
) -> Stored:
    """One upload's rows validated and stored on ``conn``; ``writer`` (None: a trusted caller such as
    the command line) may write only rows of its partners (:func:`service.scope.check_rows`)."""
    table = INGESTS[kind]
    # unknown ids are reported with the type errors, so one round trip shows every problem
    problems = []
    # only the id columns are checked here: no need to stringify the whole upload
    text = pd.DataFrame(
        {
            c: raw[c].map(lambda v: "" if v is None else str(v).strip())
            for c in ("partner", "family")
            if c in raw
        }
    )
    if writer is not None:  # before any check that could tell a scoped key which partners exist
        ids = text["partner"][text["partner"] != ""] if "partner" in text else []
        scope.check_rows(writer, table.name, ids if has_partner(table) else None)
    if "partner" in text:
        known = _known(conn, s.partners)
        problems += _reference_problems(text, "partner", known, "partner", source, offset)
    if "family" in text:
        known = _known(conn, s.families)
        blank_ok = kind == "evidence"
        problems += _reference_problems(text, "family", known, "family", source, offset, blank_ok)
    try:
        typed = validate_frame(raw, table, source, offset)
    except LoadError as exc:
        every = exc.problems + problems
        raise LoadError(sorted(every, key=lambda p: (p.row or 0, p.column or ""))) from None
    if kind == "lors":
        ids = typed["id"].tolist()
        stored = set()
        for start in range(0, len(ids), _INSERT_CHUNK):
            chunk = ids[start : start + _INSERT_CHUNK]
            stored |= set(conn.execute(select(s.lors.c.id).where(s.lors.c.id.in_(chunk))).scalars())
        problems += [
            Problem(source, i + offset, "id", lor_id, "an LOR with this id is already stored")
            for i, lor_id in enumerate(ids)
            if lor_id in stored
        ]
    if problems:
        raise LoadError(problems)
    batch = _new_batch(conn, kind, len(typed), key_id, source)
    rows = _records(typed)
    for row in rows:
        row["batch"] = batch
    replaced = 0
    if kind in _REPLACES:
        stored_table, columns = _REPLACES[kind]
        keys = list(zip(*(typed[c].tolist() for c in columns), strict=True))
        for start in range(0, len(keys), _INSERT_CHUNK):
            chunk = keys[start : start + _INSERT_CHUNK]
            result = conn.execute(
                delete(stored_table).where(tuple_(*(stored_table.c[c] for c in columns)).in_(chunk))
            )
            replaced += int(result.rowcount or 0)
    _insert(conn, s.RECORD_TABLES[table.name], rows)
    audit.record(conn, key_id, f"ingest.{kind}", source, batch=batch, rows=len(rows), replaced=replaced)
    return Stored(batch, kind, len(rows), replaced)


def read_table(conn: Connection, name: str) -> pd.DataFrame:
    """One record table in dataset layout and insertion order."""
    table = s.RECORD_TABLES[name]
    columns = [c.name for c in TABLES[name].columns]
    rows = conn.execute(select(*[table.c[c] for c in columns]).order_by(table.c.seq)).all()
    return pd.DataFrame.from_records(rows, columns=columns)


def book_version(engine: Engine) -> int:
    """Changes whenever a write lands (each is a batch): the served book is re-read when it does."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(s.batches.c.id))).scalar() or 0)


def read_mentions(engine: Engine, partners: list[str], families: list[str], limit: int = 200) -> pd.DataFrame:
    """The newest text mentions of these partners and families (most recent first)."""
    t = s.text_mentions
    query = (
        select(t)
        .where(t.c.partner.in_(partners), t.c.family.in_(families))
        .order_by(t.c.date.desc(), t.c.seq.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in t.columns])


def read_lors_of(engine: Engine, partners: list[str], family: str) -> pd.DataFrame:
    """The stored requests of these partners for one family (an answer's basis: not the whole table)."""
    t = s.lors
    query = select(t).where(t.c.partner.in_(partners), t.c.family == family)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in t.columns])


def read_lors(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return read_table(conn, "lors")


def set_lor_status(
    engine: Engine, lor_id: str, status: str, source: str, key_id: str | None, writer: Caller | None = None
) -> Stored:
    """Move one stored request to ``firm``, ``pending`` or ``withdrawn`` (a withdrawn one leaves the
    book), in one transaction with its batch and audit record. Raises KeyError for an unknown id."""
    if status not in (LORStatus.FIRM.value, LORStatus.PENDING.value, LORStatus.WITHDRAWN.value):
        raise LoadError([Problem(1, "status", status, "must be firm, pending or withdrawn")])
    lors = s.RECORD_TABLES["lors"]
    with engine.begin() as conn:
        row = conn.execute(select(lors.c.partner, lors.c.status).where(lors.c.id == lor_id)).first()
        if row is None:
            raise KeyError(lor_id)
        if writer is not None:
            scope.check_rows(writer, "lors", [str(row.partner)])
        if row.status == LORStatus.EXECUTED.value:
            raise LoadError(
                [Problem(1, "status", status, f"{lor_id} is executed (history), not on the book")]
            )
        conn.execute(update(lors).where(lors.c.id == lor_id).values(status=status))
        batch = _new_batch(conn, "lor_status", 1, key_id, source)
        audit.record(conn, key_id, "lor.status", lor_id, batch=batch, before=row.status, after=status)
    log.info("request %s: %s -> %s (batch %d) by %s", lor_id, row.status, status, batch, source)
    return Stored(batch, "lors", 1, 0)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)
            for name, table in s.RECORD_TABLES.items()
        }


def export(engine: Engine, datasets_dir: Path) -> Path:
    """Write the stored records as a dataset directory named by its content hash (reused when it
    exists), read in one transaction so a snapshot never mixes two ingests."""
    with engine.connect() as conn, conn.begin():
        frames = {name: read_table(conn, name) for name in s.RECORD_TABLES}
    h = hashlib.sha256()
    for name, frame in frames.items():
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    out = datasets_dir / h.hexdigest()[:16]
    if (out / "COMPLETE").is_file():
        return out
    for name, frame in frames.items():
        write_table(frame, out / (f"{name}.parquet" if name == "evidence" else f"{name}.csv"))
    atomic_write_text(out / "COMPLETE", "".join(f"{n} {len(f)}\n" for n, f in frames.items()))
    return out

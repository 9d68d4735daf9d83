"""Read SIPRI trade-register exports; build a totaldemand dataset (partners, families, LORs, evidence).

`read_register` accepts SIPRI's own CSV export (latin-1, a preamble of notes before the header, three
blank-named ``?`` flag columns) as well as converted copies (UTF-8, no preamble, flag columns named e.g.
``Year of order uncertain (?)``). Columns are found by name, the flag columns by position (the column
right after ``Year of order``, ``Number ordered`` and ``Number delivered``), so both layouts give the same
frame.

`build_dataset` turns the orders of one supplier (default: the United States) into LOR rows and derives
the fleet readiness proxy (:mod:`evidence.readiness`) from deliveries by all suppliers. Run as a script::

    python -m sources.sipri --register PATH --out DIR [--supplier "United States"]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from evidence import gazetteer, readiness, taxonomy
from evidence.records import EVIDENCE, FAMILIES, LORS, PARTNERS, LORStatus, Partner
from evidence.writers import atomic_write, atomic_write_text, write_table
from totaldemand.errors import UserError

log = logging.getLogger(__name__)


class SipriFormatError(UserError):
    """A file is not a SIPRI trade-register export (no header line, or required columns missing)."""


# Normalised column → SIPRI header. Required ones must be present; optional ones become blank when absent.
REQUIRED_COLUMNS: dict[str, str] = {
    "recipient": "Recipient",
    "supplier": "Supplier",
    "order_year": "Year of order",
    "number_ordered": "Number ordered",
    "designation": "Weapon designation",
    "description": "Weapon description",
    "number_delivered": "Number delivered",
    "delivery_years": "Year(s) of delivery",
}
OPTIONAL_COLUMNS: dict[str, str] = {
    "status": "status",
    "comments": "Comments",
    "tiv_unit": "SIPRI TIV per unit",
    "tiv_order": "SIPRI TIV for total order",
    "tiv_delivered": "SIPRI TIV of delivered weapons",
}
# Flag column → the column it follows in SIPRI's layout.
FLAG_COLUMNS: dict[str, str] = {
    "order_year_uncertain": "order_year",
    "number_ordered_uncertain": "number_ordered",
    "number_delivered_uncertain": "number_delivered",
}
REGISTER_COLUMNS: tuple[str, ...] = (
    "recipient",
    "supplier",
    "order_year",
    "order_year_uncertain",
    "number_ordered",
    "number_ordered_uncertain",
    "designation",
    "description",
    "number_delivered",
    "number_delivered_uncertain",
    "delivery_years",
    "status",
    "comments",
    "tiv_unit",
    "tiv_order",
    "tiv_delivered",
)

# SIPRI's preamble is a dozen lines; scanning further only guards against odd exports with longer notes.
_HEADER_SCAN_LINES = 200
_GENERATED = re.compile(r"^\s*Data generated:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_GENERATED_FORMATS = (
    "%d %b %Y %I:%M:%S %p",
    "%d %B %Y %I:%M:%S %p",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y",
    "%d %B %Y",
)


def _key(header: str) -> str:
    return " ".join(header.split()).lower()


def _decode(raw: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM) when the bytes are valid UTF-8, else latin-1 (SIPRI's own exports)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.debug("%s is not UTF-8; reading as latin-1", path)
        return raw.decode("latin-1")


def _find_header(text: str, path: Path) -> tuple[int, list[str]]:
    """Character offset and cells of the header line: the first line naming both Recipient and Supplier."""
    offset = 0
    for i, line in enumerate(text.splitlines(keepends=True)):
        if i >= _HEADER_SCAN_LINES:
            break
        cells = next(csv.reader([line]), [])
        keys = {_key(c) for c in cells}
        if "recipient" in keys and "supplier" in keys:
            return offset, cells
        offset += len(line)
    wanted = ", ".join(REQUIRED_COLUMNS.values())
    raise SipriFormatError(
        f"{path}: no SIPRI header line (with columns {wanted}) in the first "
        f"{_HEADER_SCAN_LINES} lines; missing columns: Recipient, Supplier"
    )


def _parse_generated(preamble: str, path: Path) -> date | None:
    match = _GENERATED.search(preamble)
    if match is None:
        return None
    stamp = match.group(1)
    for fmt in _GENERATED_FORMATS:
        try:
            return datetime.strptime(stamp, fmt).date()
        except ValueError:
            continue
    log.warning("%s: could not parse 'Data generated: %s'", path, stamp)
    return None


def _int_or_na(cell: str) -> int | None:
    text = cell.strip().replace(",", "")
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        return None


def _float_or_nan(cell: str) -> float:
    text = cell.strip().replace(",", "")
    try:
        return float(text) if text else float("nan")
    except ValueError:
        return float("nan")


def read_register(path: Path) -> pd.DataFrame:
    """Read any SIPRI trade-register export into the normalised `REGISTER_COLUMNS` frame.

    Rows with a blank Recipient (junk rows in some exports) or an unreadable order year are dropped and
    logged. ``df.attrs`` holds ``generated`` (the export's "Data generated" date, or None), ``source_file``,
    ``rows_read`` and ``rows_dropped``.
    """
    path = Path(path)
    text = _decode(path.read_bytes(), path)
    offset, header = _find_header(text, path)
    positions = {_key(h): i for i, h in reversed(list(enumerate(header)))}

    columns: dict[str, int] = {}
    missing = []
    for name, sipri in REQUIRED_COLUMNS.items():
        if _key(sipri) in positions:
            columns[name] = positions[_key(sipri)]
        else:
            missing.append(sipri)
    if missing:
        raise SipriFormatError(f"{path}: missing required SIPRI column(s): {', '.join(missing)}")
    for name, sipri in OPTIONAL_COLUMNS.items():
        if _key(sipri) in positions:
            columns[name] = positions[_key(sipri)]

    # A flag column is the one right after its data column, blank-named in SIPRI's export and named
    # "... uncertain (?)" in converted copies; any other named column there means the export has no flags.
    known = {_key(h) for h in (*REQUIRED_COLUMNS.values(), *OPTIONAL_COLUMNS.values())}
    for flag, data_column in FLAG_COLUMNS.items():
        position = columns[data_column] + 1
        if position < len(header) and _key(header[position]) not in known:
            columns[flag] = position
        else:
            log.warning(
                "%s: no '?' flag column after %r; flags read as False", path, REQUIRED_COLUMNS[data_column]
            )

    records = list(csv.reader(io.StringIO(text[offset:])))[1:]
    width = len(header)
    rows_read = 0
    kept: list[list[str]] = []
    dropped_blank = dropped_year = 0
    for record in records:
        if not any(cell.strip() for cell in record):
            continue
        rows_read += 1
        record = record + [""] * (width - len(record))
        if not record[columns["recipient"]].strip():
            dropped_blank += 1
            continue
        if _int_or_na(record[columns["order_year"]]) is None:
            dropped_year += 1
            continue
        kept.append(record)

    def cells(name: str) -> list[str]:
        position = columns.get(name)
        return [r[position] if position is not None else "" for r in kept]

    df = pd.DataFrame(
        {
            "recipient": [c.strip() for c in cells("recipient")],
            "supplier": [c.strip() for c in cells("supplier")],
            "order_year": pd.array([_int_or_na(c) for c in cells("order_year")], dtype="int64"),
            "order_year_uncertain": [c.strip() == "?" for c in cells("order_year_uncertain")],
            "number_ordered": pd.array([_int_or_na(c) for c in cells("number_ordered")], dtype="Int64"),
            "number_ordered_uncertain": [c.strip() == "?" for c in cells("number_ordered_uncertain")],
            "designation": [c.strip() for c in cells("designation")],
            "description": [c.strip() for c in cells("description")],
            "number_delivered": pd.array([_int_or_na(c) for c in cells("number_delivered")], dtype="Int64"),
            "number_delivered_uncertain": [c.strip() == "?" for c in cells("number_delivered_uncertain")],
            "delivery_years": [[int(y) for y in re.findall(r"\d{4}", c)] for c in cells("delivery_years")],
            "status": [c.strip() for c in cells("status")],
            "comments": [c.strip() for c in cells("comments")],
            "tiv_unit": [_float_or_nan(c) for c in cells("tiv_unit")],
            "tiv_order": [_float_or_nan(c) for c in cells("tiv_order")],
            "tiv_delivered": [_float_or_nan(c) for c in cells("tiv_delivered")],
        },
        columns=list(REGISTER_COLUMNS),
    )
    for flag in FLAG_COLUMNS:
        df[flag] = df[flag].astype(bool)
    df.attrs["generated"] = _parse_generated(text[:offset], path)
    df.attrs["source_file"] = path.name
    df.attrs["rows_read"] = rows_read
    df.attrs["rows_dropped"] = dropped_blank + dropped_year
    log.info(
        "%s: %d rows read, %d kept, %d dropped (%d blank recipient, %d unreadable order year); generated %s",
        path.name,
        rows_read,
        len(df),
        dropped_blank + dropped_year,
        dropped_blank,
        dropped_year,
        df.attrs["generated"] or "unknown",
    )
    return df


# "$427 m deal", "$1.2 b", "$40-49 m", "$5m", "(USD208 m)", "Deal worth $1.47 b", and plain dollars before
# "deal" or "(": "$373510 deal", "$18;000 deal" (SIPRI's export turns thousands commas into semicolons).
_USD = re.compile(
    r"(?:\$|\bUS\$|\bUSD)\s?(\d{1,3}(?:[,;]\d{3})+(?!\d)|\d+(?:\.\d+)?)"
    r"(?:\s*(?:-|–|to)\s*\$?(\d+(?:\.\d+)?))?"
    r"\s*(?:(m|b|bn|million|billion)\b|(?=deal\b|\())",
    re.IGNORECASE,
)
_SCALE = {"m": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_OFFSET_CONTEXT = re.compile(r"offsets?\b[^;()]*$", re.IGNORECASE)
# Whole-deal cancellation as SIPRI words it ("deal cancelled 2022 and all returned to producer"); partial
# cuts ("3 more cancelled", "rest cancelled", "order for 2 more cancelled") name something else before
# the verb.
_DEAL_CANCELLED = re.compile(r"\b(?:deal|order|contract|agreement)\s+(?:was\s+)?cancell?ed\b", re.IGNORECASE)


def parse_value_usd(comment: str) -> float | None:
    """The first US-dollar amount stated in a SIPRI comment, in dollars; ranges give their midpoint.

    Amounts inside an offsets clause ("offsets $845 m") are not deal values and are skipped. The value is the
    deal SIPRI states; for "Part of $X deal" rows it covers the whole package, so summing over rows
    double-counts.
    """
    for match in _USD.finditer(comment or ""):
        if _OFFSET_CONTEXT.search(comment[: match.start()]):
            continue
        low = float(re.sub(r"[,;]", "", match.group(1)))
        high = float(match.group(2)) if match.group(2) else low
        scale = _SCALE[match.group(3).lower()] if match.group(3) else 1.0
        return (low + high) / 2 * scale
    return None


def lor_status(comment: str, number_delivered: int | None) -> LORStatus:
    """``withdrawn`` when SIPRI says the deal itself was cancelled and nothing (kept) was delivered.

    SIPRI's register keeps cancelled deals only when something was delivered, and its "cancel" comments are
    mostly partial cuts ("6 more ordered but cancelled"), already netted out of Number ordered. A
    deal-level cancellation counts as withdrawn when no units were delivered, or when the comment says the
    delivered units were returned (Norway's NH-90: "deal cancelled 2022 and all returned to producer").
    """
    for clause in (comment or "").split(";"):
        if _DEAL_CANCELLED.search(clause) and (not number_delivered or "return" in clause.lower()):
            return LORStatus.WITHDRAWN
    return LORStatus.EXECUTED


def lor_ids(keys: Iterable[str]) -> list[str]:
    """``sipri-`` + 12 hex of sha1(key); repeated keys get ``-2``, ``-3``… in order of appearance."""
    seen: dict[str, int] = {}
    ids = []
    for key in keys:
        base = "sipri-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


def _lor_key(
    recipient: str, order_year: int, designation: str, number_ordered: object, description: str
) -> str:
    quantity = "" if pd.isna(number_ordered) else str(int(number_ordered))
    return "|".join((recipient, str(order_year), designation, quantity, description))


@dataclass(frozen=True)
class BuildSummary:
    register: str
    register_sha256: str
    generated: str | None
    supplier: str
    rows_read: int
    rows_dropped: int
    rows_kept: int
    orders_kept: int
    withdrawn: int
    orders_with_quantity: int
    orders_with_value: int
    partners: int
    families: int
    families_used: int
    first_order_year: int
    last_order_year: int
    years: int
    evidence_first_year: int
    evidence_rows: int
    evidence_bytes: int
    undated_delivery_rows: int
    unknown_recipients: list[str] = field(default_factory=list)
    unmapped_descriptions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def write_evidence(evidence: pd.DataFrame, path: Path) -> None:
    def dictionary(values: pd.Series) -> pa.Array:
        return pa.array(values.astype(str).tolist(), type=pa.string()).dictionary_encode()

    table = pa.table(
        {
            "partner": dictionary(evidence["partner"]),
            "family": dictionary(evidence["family"]),
            "date": pa.array(evidence["date"].tolist(), type=pa.date32()),
            "kind": dictionary(evidence["kind"]),
            "value": pa.array(evidence["value"].to_numpy(dtype="float64"), type=pa.float64()),
            "source": dictionary(evidence["source"]),
        }
    )
    atomic_write(path, lambda fh: pq.write_table(table, fh, compression="zstd", compression_level=9))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


EVIDENCE_FIRST_YEAR = 1980  # fleets are counted from deliveries since this year


def build_dataset(register: Path, out: Path, supplier: str = "United States") -> BuildSummary:
    """Write partners.csv, families.csv, lors.csv, evidence.parquet and SOURCE.md into ``out``."""
    register, out = Path(register), Path(out)
    reg = read_register(register)
    generated: date | None = reg.attrs["generated"]
    source = (
        f"SIPRI trade register (generated {generated.isoformat()})"
        if generated
        else (f"SIPRI trade register ({register.name})")
    )

    orders = reg[reg["supplier"].str.casefold() == supplier.casefold()]
    if orders.empty:
        raise SipriFormatError(f"{register}: no orders from supplier {supplier!r}")
    last_year = int(reg["order_year"].max())

    # Partners: every recipient of at least one order from the supplier.
    recipients = sorted(orders["recipient"].unique())
    partner_by_name = {name: gazetteer.partner_for(name) for name in recipients}
    unknown = sorted(name for name in recipients if not gazetteer.is_known(name))
    partners = _partner_table(partner_by_name.values())
    families = _family_table()

    descriptions = sorted(reg["description"].unique())
    family_of = {d: taxonomy.family_for(d) for d in descriptions}
    explicit = taxonomy.description_families()
    unmapped = [d for d in descriptions if taxonomy.normalise_description(d) not in explicit]
    lors = _lor_table(orders, partner_by_name, family_of, source)
    evidence = _fleet_evidence(reg, set(partners["id"]), family_of, last_year, source)

    out.mkdir(parents=True, exist_ok=True)
    write_table(partners[[c.name for c in PARTNERS.columns]], out / "partners.csv")
    write_table(families[[c.name for c in FAMILIES.columns]], out / "families.csv")
    # no channel column: SIPRI does not say whether an order came through FMS or DCS
    write_table(lors[[c.name for c in LORS.columns if c.name != "channel"]], out / "lors.csv")
    write_evidence(evidence[[c.name for c in EVIDENCE.columns]], out / "evidence.parquet")

    summary = BuildSummary(
        register=register.name,
        register_sha256=_sha256(register),
        generated=generated.isoformat() if generated else None,
        supplier=supplier,
        rows_read=int(reg.attrs["rows_read"]),
        rows_dropped=int(reg.attrs["rows_dropped"]),
        rows_kept=len(reg),
        orders_kept=len(lors),
        withdrawn=int((lors["status"] == str(LORStatus.WITHDRAWN)).sum()),
        orders_with_quantity=int(lors["quantity"].notna().sum()),
        orders_with_value=int(lors["estimated_value_usd"].notna().sum()),
        partners=len(partners),
        families=len(families),
        families_used=int(lors["family"].nunique()),
        first_order_year=int(orders["order_year"].min()),
        last_order_year=int(orders["order_year"].max()),
        years=int(orders["order_year"].nunique()),
        evidence_first_year=EVIDENCE_FIRST_YEAR,
        evidence_rows=len(evidence),
        evidence_bytes=(out / "evidence.parquet").stat().st_size,
        undated_delivery_rows=int(evidence.attrs.get("undated_rows", 0)),
        unknown_recipients=unknown,
        unmapped_descriptions=unmapped,
    )
    atomic_write_text(out / "SOURCE.md", _source_md(summary))
    if unmapped:
        log.warning(
            "%d weapon descriptions not in the explicit family table (mapped by rules): %s",
            len(unmapped),
            "; ".join(unmapped),
        )
    log.info(
        "built %s: %d %s orders, %d partners, %d evidence rows (%d bytes)",
        out,
        summary.orders_kept,
        supplier,
        summary.partners,
        summary.evidence_rows,
        summary.evidence_bytes,
    )
    return summary


def _partner_table(partners: Iterable[Partner]) -> pd.DataFrame:
    """One row per partner id (several SIPRI spellings may name one partner), sorted by id."""
    rows = sorted({p.id: p for p in partners}.values(), key=lambda p: p.id)
    return pd.DataFrame(
        {
            "id": [p.id for p in rows],
            "name": [p.name for p in rows],
            "region": [p.region for p in rows],
            "iso3": [p.iso3 or "" for p in rows],
            "alliances": [";".join(p.alliances) for p in rows],
            "is_state": [p.is_state for p in rows],
        }
    )


def _family_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f.id for f in taxonomy.FAMILIES],
            "name": [f.name for f in taxonomy.FAMILIES],
            "category": [f.category for f in taxonomy.FAMILIES],
        }
    )


def _lor_table(
    orders: pd.DataFrame, partner_by_name: dict, family_of: dict[str, str], source: str
) -> pd.DataFrame:
    """The supplier's orders as LOR rows, each with a stable id from what identifies the order."""
    keys = [
        _lor_key(r, y, d, n, w)
        for r, y, d, n, w in zip(
            orders["recipient"],
            orders["order_year"],
            orders["designation"],
            orders["number_ordered"],
            orders["description"],
            strict=True,
        )
    ]
    lors = pd.DataFrame(
        {
            "id": lor_ids(keys),
            "partner": [partner_by_name[r].id for r in orders["recipient"]],
            "family": orders["description"].map(family_of).to_numpy(),
            "received": [f"{y:04d}-07-01" for y in orders["order_year"]],
            "status": [
                str(lor_status(c, None if pd.isna(n) else int(n)))
                for c, n in zip(orders["comments"], orders["number_delivered"], strict=True)
            ],
            "quantity": orders["number_ordered"].to_numpy(),
            "designation": orders["designation"].to_numpy(),
            "estimated_value_usd": [parse_value_usd(c) for c in orders["comments"]],
            "source": source,
            "year_uncertain": orders["order_year_uncertain"].to_numpy(),
            "quantity_uncertain": orders["number_ordered_uncertain"].to_numpy(),
        }
    )
    lors["quantity"] = lors["quantity"].astype("Int64")
    lors["estimated_value_usd"] = lors["estimated_value_usd"].astype("float64")
    return lors


def _fleet_evidence(
    reg: pd.DataFrame, partner_ids: set[str], family_of: dict[str, str], last_year: int, source: str
) -> pd.DataFrame:
    """Readiness evidence for the same partners, counting deliveries from every supplier; every SIPRI
    spelling that maps to a partner id counts (a file may carry two spellings of one recipient)."""
    all_names = reg["recipient"].unique()
    partner_of = {n: p.id for n in all_names if (p := gazetteer.partner_for(n)).id in partner_ids}
    return readiness.fleet_evidence(
        reg,
        partner_of,
        family_of.__getitem__,
        partners=partner_ids,
        first_year=EVIDENCE_FIRST_YEAR,
        last_year=last_year,
        source=f"{source}; fleet = cumulative deliveries from all suppliers",
    )


def _source_md(s: BuildSummary) -> str:
    generated = s.generated or "unknown (no 'Data generated' line in the file)"
    counts = "\n".join(
        f"| {k} | {v if not isinstance(v, list) else (', '.join(v) or '—')} |" for k, v in s.as_dict().items()
    )
    return f"""# SIPRI-derived totaldemand dataset ({s.supplier} as supplier)

Source: SIPRI Arms Transfers Database (c) SIPRI. <https://www.sipri.org/databases/armstransfers>
Method and conventions: <https://www.sipri.org/databases/armstransfers/sources-and-methods>

- Register file: `{s.register}`
- sha256: `{s.register_sha256}`
- SIPRI "Data generated": {generated}
- Built by `sources.sipri.build_dataset` (see `scripts/build_default_data.sh`).

## What was derived
- `partners.csv` — every recipient with at least one order from {s.supplier} (all order years), via
  `evidence/default_data/gazetteer.csv` (ids, ISO3, pooling region, present-day alliance memberships).
- `families.csv` — the full system-family taxonomy (`evidence/taxonomy.py`), including unused families.
- `lors.csv` — one row per {s.supplier} order in the register. `received` = 1 July of the order year;
  `status` = `executed`, or `withdrawn` where the comments say the deal itself was cancelled and nothing kept
  was delivered; `quantity` = Number ordered (blank where SIPRI has none); `estimated_value_usd` = first
  US-dollar amount in the comments (ranges → midpoint; "part of $X deal" values cover a whole package);
  the `?` flags become `year_uncertain` / `quantity_uncertain`. Ids: `sipri-` + 12 hex of
  sha1(recipient|order year|designation|number ordered|description), `-2`, `-3` for exact repeats in file
  order.
- `evidence.parquet` — readiness proxy, one row per partner × family × year
  ({s.evidence_first_year}–{s.last_order_year}) where the fleet is non-empty: `readiness_fleet_units` = units
  delivered by ANY supplier in the family, cumulated through that year; `readiness_fleet_mean_age` =
  unit-weighted mean of (year − delivery year). Dated 31 Dec. Number delivered is spread over the listed
  delivery years in whole units (largest remainder, remainder to the latest years, so no unit is counted
  earlier than an even split would). No attrition.

## Caveats
- SIPRI revises history between exports (designations, descriptions, deal splits); ids are stable for one
  file only.
- The bundled register copies are cut at order/delivery year 2021, but `Number delivered` still includes
  later deliveries whose years were removed: {s.undated_delivery_rows} rows with deliveries but no year are
  skipped, and rows whose listed years end at the cut year over-state the fleet in the last pre-cut years.
- Supplier = {s.supplier} is broader than FMS LORs (DCS, aid, excess defence articles, licensed production).

## Build summary
| count | value |
|---|---|
{counts}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build a totaldemand dataset from a SIPRI trade register.")
    parser.add_argument("--register", type=Path, required=True, help="SIPRI trade-register CSV export")
    parser.add_argument("--out", type=Path, required=True, help="output directory (created)")
    parser.add_argument("--supplier", default="United States", help="supplier whose orders become LORs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    summary = build_dataset(args.register, args.out, supplier=args.supplier)
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""U.S. arms-sales channels per partner and year, from Security Assistance Monitor, as yearly evidence.

`read_sam` reads ``../shared/data/raw/sam_us_arms_sales_1996_2020/us_arms_sales_by_country_year.csv``
(SAM's Arms Sales database, accessed 4 Dec 2020; one row per SAM record). `sam_figures` turns it into one
figure per country × U.S. fiscal year × measure, in current US$ million:

- ``us_fms_agreements_usd_m``: Foreign Military Sales agreements (the ``authorizations`` of FMS rows;
  DSCA Historical Facts books);
- ``us_dcs_authorizations_usd_m``: Direct Commercial Sales licences authorized (``authorizations`` of DCS
  rows; State Department Section 655 reports). DCS *services* and FMS *construction* are left out: they
  are not hardware demand;
- ``us_fms_notifications_usd_m``: FMS 36(b) Congressional notifications (DSCA Major Arms Sales);
- ``us_dcs_notifications_usd_m``: DCS 36(c) notifications (2015-2019 only; shipped, not read by the panel).

Zero versus missing, as the SOURCE.md rules:

- ``authorizations`` is never blank, and 0 is either a reported zero or "not covered". A 0 in a
  program × field × year cell of the *whole file* that has no non-zero value is missing (no row), e.g.
  every FMS agreement of 2017 and later; in a covered cell it is a real zero (a row with 0).
- ``notifications`` blank means not reported: missing. A 0 counts as zero by the same cell rule.
- A country-year with no record is missing (nothing reported, or outside coverage: 1996-1999 cover Latin
  America and the Caribbean only).
- FMS notifications of 2013 and 2014 are withheld in this copy (blank): missing.

Repeated (country, year, program) records (159 keys in the file): exact repeats of the same values are one
record cited twice and count once; otherwise each field sums its *distinct* values, which sums the
authorization/delivery and notification/delivery splits of 2017 and keeps Timor-Leste DCS 2008's repeated
authorization once (its two deliveries differ). French Guiana DCS 2003's two authorizations are summed
(the SOURCE.md cannot say which is right; French Guiana is no SIPRI recipient anyway).

Names: SAM uses ISO-style names (``Iran, Islamic Republic of``); `SAM_ALIASES` maps those that are SIPRI
recipients, and the aggregates ``Global``, ``Europe Regional`` and ``International Organizations`` are
excluded. Territories and micro-states that never received a SIPRI-listed weapon stay unmatched (logged).
``Serbia and Montenegro`` and ``Serbia`` share the gazetteer's id and are summed in the year they overlap.

Timing: SAM's years are U.S. fiscal years (October to September) and the reports behind them appear months
later; a figure is dated 31 Dec of its fiscal year, the rule for every yearly figure here, which is close to
but a little earlier than when the reports were public.

Run as a script (``scripts/build_default_data.sh`` does)::

    python -m sources.sam --sam PATH --dataset DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from evidence.records import (
    US_DCS_AUTHORIZATIONS_USD_M,
    US_DCS_NOTIFICATIONS_USD_M,
    US_FMS_AGREEMENTS_USD_M,
    US_FMS_NOTIFICATIONS_USD_M,
)
from sources.country_years import (
    NameMatch,
    PartSummary,
    evidence_rows,
    match_names,
    summary_table,
    write_part,
    write_source_section,
)
from totaldemand.errors import UserError

log = logging.getLogger(__name__)

SOURCE = "SAM arms sales 2020-12"  # Security Assistance Monitor, Arms Sales database, accessed 4 Dec 2020
PART = "sam"  # → evidence-sam.csv
MODULE = "sources.sam"
DEFAULT_RAW = Path("../shared/data/raw/sam_us_arms_sales_1996_2020/us_arms_sales_by_country_year.csv")

FMS = "Foreign Military Sales"
DCS = "Direct Commercial Sales"
VALUE_FIELDS = ("authorizations_usd", "deliveries_usd", "notifications_usd")
# (program, field) → evidence kind
MEASURES: dict[tuple[str, str], str] = {
    (FMS, "authorizations_usd"): US_FMS_AGREEMENTS_USD_M,
    (DCS, "authorizations_usd"): US_DCS_AUTHORIZATIONS_USD_M,
    (FMS, "notifications_usd"): US_FMS_NOTIFICATIONS_USD_M,
    (DCS, "notifications_usd"): US_DCS_NOTIFICATIONS_USD_M,
}
# SAM `country` → SIPRI recipient name; None: not a country (amounts not attributed to one).
SAM_ALIASES: dict[str, str | None] = {
    "Congo, the Democratic Republic of the": "DR Congo",
    "Iran, Islamic Republic of": "Iran",
    "Lao People's Democratic Republic": "Laos",
    "Moldova, Republic of": "Moldova",
    "North Macedonia, Republic of": "North Macedonia",
    "Palestinian Territory, Occupied": "Palestine",
    "Syrian Arab Republic": "Syria",
    "Tanzania, United Republic of": "Tanzania",
    "North Atlantic Treaty Organization": "NATO**",
    "United Nations": "United Nations**",
    "Global": None,
    "Europe Regional": None,
    "International Organizations": None,
}
REQUIRED = ("country", "year", "program", *VALUE_FIELDS)


class SamFormatError(UserError):
    """The file is not the SAM table this adapter reads (columns missing, a value not a number)."""


def read_sam(path: Path) -> pd.DataFrame:
    """The records with ``country`` (stripped), ``year`` (int), ``program`` ('' where empty) and the three
    value fields in US$ as floats (NaN: blank, which only ``notifications_usd`` may be)."""
    path = Path(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise SamFormatError(f"{path}: missing column(s) {missing} (have {list(raw.columns)})")
    out = pd.DataFrame(
        {"country": raw["country"].str.strip(), "program": raw["program"].str.strip()}  # SAM pads 7 names
    )
    for column in ("year", *VALUE_FIELDS):
        text = raw[column].str.strip()
        value = pd.to_numeric(text.where(text != ""), errors="coerce")
        blank_ok = column == "notifications_usd"
        bad = ((text != "") & value.isna()) | ((text == "") & (not blank_ok)) | (value < 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise SamFormatError(f"{path}, row {row + 2}, column {column!r}: {text.iloc[row]!r}")
        out[column] = value.astype(float)
    out["year"] = out["year"].astype(int)
    return out


def covered_cells(records: pd.DataFrame) -> set[tuple[str, str, int]]:
    """(program, field, year) cells with at least one non-zero value in the file: there a 0 is a zero."""
    cells: set[tuple[str, str, int]] = set()
    for field in VALUE_FIELDS:
        nonzero = records[records[field].fillna(0) != 0]
        cells |= {(p, field, int(y)) for p, y in zip(nonzero["program"], nonzero["year"], strict=True)}
    return cells


def _distinct_sum(values: pd.Series) -> float:
    present = values.dropna()
    return float(present.unique().sum()) if len(present) else float("nan")


def sam_figures(records: pd.DataFrame) -> pd.DataFrame:
    """One figure per country × year × measure (``country, year, kind, value`` in US$), missing cells left
    out, with the SOURCE.md's zero-versus-missing and repeated-record rules applied."""
    covered = covered_cells(records)
    used = records[records["program"].isin({program for program, _ in MEASURES})]
    # an exact repeat is one record cited in two report editions
    used = used.drop_duplicates(["country", "year", "program", *VALUE_FIELDS])
    repeated = used.duplicated(["country", "year", "program"], keep=False)
    if repeated.any():
        log.info(
            "sam: %d repeated country × year × program keys in FMS/DCS; each field sums its distinct values",
            int(used.loc[repeated, ["country", "year", "program"]].drop_duplicates().shape[0]),
        )
    per_key = used.groupby(["country", "year", "program"], sort=True)[list(VALUE_FIELDS)].agg(_distinct_sum)
    per_key = per_key.reset_index()
    frames = []
    for (program, field), kind in MEASURES.items():
        rows = per_key[(per_key["program"] == program) & per_key[field].notna()]
        in_cell = [(program, field, int(y)) in covered for y in rows["year"]]
        rows = rows[in_cell]  # a 0 where the cell has no non-zero value anywhere: not covered, missing
        frames.append(
            pd.DataFrame(
                {"country": rows["country"], "year": rows["year"], "kind": kind, "value": rows[field]}
            )
        )
    return pd.concat(frames, ignore_index=True)


def sam_evidence(records: pd.DataFrame, source: str = SOURCE) -> tuple[pd.DataFrame, NameMatch]:
    """Evidence rows in US$ million per partner × year × measure (names that share an id are summed)."""
    figures = sam_figures(records)
    match = match_names(records["country"], SAM_ALIASES, "sam")
    figures = figures[figures["country"].isin(match.ids)]
    figures = figures.assign(partner=figures["country"].map(match.ids))
    merged = figures.duplicated(["partner", "year", "kind"], keep=False)
    if merged.any():
        log.info(
            "sam: figures of %s share partner ids; summed where their years overlap",
            ", ".join(sorted(set(figures.loc[merged, "country"]))),
        )
    summed = figures.groupby(["partner", "year", "kind"], as_index=False)["value"].sum()
    return evidence_rows(summed.assign(value=summed["value"] / 1e6), source), match


def build(sam: Path, dataset: Path) -> PartSummary:
    """Write ``dataset/evidence-sam.csv`` from the SAM table and this step's SOURCE.md section."""
    sam, dataset = Path(sam), Path(dataset)
    rows, match = sam_evidence(read_sam(sam))
    summary = write_part(rows, dataset, PART, match)
    digest = hashlib.sha256(sam.read_bytes()).hexdigest()
    write_source_section(dataset / "SOURCE.md", MODULE, _section(summary, sam.name, digest))
    return summary


def _section(s: PartSummary, file: str, digest: str) -> str:
    return f"""## U.S. arms-sales channels: `{s.path}` (`sources.sam`)

Source: Security Assistance Monitor (Center for International Policy), Arms Sales database, accessed
4 Dec 2020, compiled from the U.S. government reports each record cites. File `{file}`, sha256 `{digest}`.

- Current US$ million per partner × U.S. fiscal year, dated 31 Dec of the fiscal year, family blank:
  `us_fms_agreements_usd_m` (FMS agreements), `us_dcs_authorizations_usd_m` (DCS licences authorized),
  `us_fms_notifications_usd_m` (FMS 36(b) notifications), `us_dcs_notifications_usd_m` (DCS 36(c)).
- Zero vs missing: a 0 counts as zero only in a program × field × year cell with a non-zero value somewhere
  in the file (so every FMS agreement from 2017 on is missing); blank notifications (incl. the withheld
  FMS notifications of 2013-2014) and country-years without a record are missing: no row.
- Repeated records: exact repeats once; otherwise each field sums its distinct values.
- Aggregates (Global, Europe Regional, International Organizations) are excluded; territories that are
  no SIPRI recipient stay unmatched; countries that are not partners of this dataset are left out.

{summary_table(s)}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build evidence-sam.csv from SAM's U.S. arms-sales totals.")
    parser.add_argument("--sam", type=Path, default=DEFAULT_RAW, help="us_arms_sales_by_country_year.csv")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset directory to write into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    summary = build(args.sam, args.dataset)
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

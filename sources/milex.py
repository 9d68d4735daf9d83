"""Partners' military expenditure from the SIPRI Military Expenditure Database, as yearly evidence.

`read_milex` reads the long country × year table of ``../shared/data/raw/sipri_milex_1949_2021`` (April 2025
release, cut at 2021; see that folder's SOURCE.md). `milex_evidence` turns it into partner-level evidence
rows, one per partner × year × measure, dated 31 Dec of the year:

- ``milex_constant_2023_usd_m``: military expenditure, US$ million at constant 2023 prices and exchange rates;
- ``milex_share_gdp_pct``: military expenditure as a share of GDP, in percent (3.4 means 3.4 %).

Quirks carried over from the source (its SOURCE.md):

- An empty cell means "not a positive number in the workbook" (SIPRI's ``...`` not available and ``xxx``
  did not exist alike, and a true zero, which the extractor also blanked). Empty cells give no row, so the
  figure is missing, never zero. The file holds no zeros.
- Names: 16 SIPRI milex names differ from the trade register's recipients; `MILEX_ALIASES` maps them
  (the table in the SOURCE.md). ``European Union`` has no figures and no partner counterpart.
- Predecessor and successor states are separate series and separate partners (``USSR``/``Russia``,
  ``Czechoslovakia``/``Czechia``, ``German Democratic Republic``/``Germany``, ``Yemen, North``/``Yemen``).

**Vintage caveat (cannot be fixed here).** Every figure comes from the April 2025 release: SIPRI revises
whole series in each release and re-prices them to a new base year, so the figure for, say, 2005 is the
2025 view of 2005, not what was published in 2006. Dating it 31 Dec 2005 stops later *years* from leaking
into an as-of panel, not later *revisions*; a backtest on these figures is slightly optimistic.

Run as a script (``scripts/build_default_data.sh`` does)::

    python -m sources.milex --milex PATH --dataset DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from evidence.records import MILEX_CONSTANT_USD_M, MILEX_SHARE_GDP_PCT
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

SOURCE = "SIPRI milex 2025"  # the evidence rows' source: SIPRI Military Expenditure Database, April 2025
PART = "milex"  # → evidence-milex.csv
MODULE = "sources.milex"  # marks this module's section of the dataset's SOURCE.md
DEFAULT_RAW = Path("../shared/data/raw/sipri_milex_1949_2021/sipri_milex_1949_2021.csv")

# milex `country` → trade-register `Recipient` (the SOURCE.md's table); None: no partner counterpart.
# Some also match through the gazetteer's folding (Türkiye, Timor Leste); listing all 16 keeps the table
# the SOURCE.md's.
MILEX_ALIASES: dict[str, str | None] = {
    "Bosnia and Herzegovina": "Bosnia-Herzegovina",
    "Cape Verde": "Cabo Verde",
    "Congo, DR": "DR Congo",
    "Congo, Republic": "Congo",
    "Eswatini": "eSwatini",
    "European Union": None,
    "Gambia, The": "Gambia",
    "German Democratic Republic": "East Germany (GDR)",
    "Korea, North": "North Korea",
    "Korea, South": "South Korea",
    "Kyrgyz Republic": "Kyrgyzstan",
    "Timor Leste": "Timor-Leste",
    "Türkiye": "Turkiye",
    "United States of America": "United States",
    "USSR": "Soviet Union",
    "Yemen, North": "North Yemen",
}
# source column → evidence kind
MEASURES: dict[str, str] = {
    "constant_2023_usd_m": MILEX_CONSTANT_USD_M,
    "share_of_gdp_pct": MILEX_SHARE_GDP_PCT,
}
REQUIRED = ("country", "year", *MEASURES)


class MilexFormatError(UserError):
    """The file is not the milex table this adapter reads (columns missing, a value not a number)."""


def read_milex(path: Path) -> pd.DataFrame:
    """The table with ``country`` (stripped), ``year`` (int) and the measures as floats (NaN: empty)."""
    path = Path(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise MilexFormatError(f"{path}: missing column(s) {missing} (have {list(raw.columns)})")
    out = pd.DataFrame({"country": raw["country"].str.strip()})
    year = pd.to_numeric(raw["year"], errors="coerce")
    bad = year.isna() | (year % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise MilexFormatError(f"{path}, row {row + 2}: year {raw['year'].iloc[row]!r} is not a year")
    out["year"] = year.astype(int)
    for column in MEASURES:
        text = raw[column].str.strip()
        value = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = (text != "") & value.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise MilexFormatError(
                f"{path}, row {row + 2}, column {column!r}: {text.iloc[row]!r} is not a number"
            )
        out[column] = value.astype(float)
    if out.duplicated(["country", "year"]).any():
        raise MilexFormatError(f"{path}: repeated country × year rows")
    return out


def milex_evidence(table: pd.DataFrame, source: str = SOURCE) -> tuple[pd.DataFrame, NameMatch]:
    """Evidence rows (one per non-empty cell) for every country that maps to a partner id."""
    match = match_names(table["country"], MILEX_ALIASES, "milex")
    mapped = table[table["country"].isin(match.ids)]
    mapped = mapped.assign(partner=mapped["country"].map(match.ids))
    # Each partner is one SIPRI series; two names on one id would mix series, so refuse rather than pick.
    clash = mapped.duplicated(["partner", "year"], keep=False)
    if clash.any():
        names = sorted(set(mapped.loc[clash, "country"]))
        raise ValueError(f"milex: names {names} map to one partner id with overlapping years")
    long = mapped.melt(id_vars=["partner", "year"], value_vars=list(MEASURES), var_name="column")
    long = long[long["value"].notna()]  # empty = missing: no row (the file has no zeros to keep)
    long = long.assign(kind=long["column"].map(MEASURES))
    return evidence_rows(long, source), match


def build(milex: Path, dataset: Path) -> PartSummary:
    """Write ``dataset/evidence-milex.csv`` from the milex table and this step's SOURCE.md section."""
    milex, dataset = Path(milex), Path(dataset)
    rows, match = milex_evidence(read_milex(milex))
    summary = write_part(rows, dataset, PART, match)
    digest = hashlib.sha256(milex.read_bytes()).hexdigest()
    write_source_section(dataset / "SOURCE.md", MODULE, _section(summary, milex.name, digest))
    return summary


def _section(s: PartSummary, file: str, digest: str) -> str:
    return f"""## Military expenditure: `{s.path}` (`sources.milex`)

Source: SIPRI Military Expenditure Database, Stockholm International Peace Research Institute, April 2025
release (inferred from its sheets; the copy stops at 2021). File `{file}`, sha256 `{digest}`.

- One evidence row per partner × year × measure with a figure, family blank, dated 31 Dec of the year:
  `milex_constant_2023_usd_m` (US$ million, constant 2023 prices) and `milex_share_gdp_pct` (% of GDP).
- Empty cells (SIPRI's `...` and `xxx`, and any true zero, which the extraction blanked) give no row:
  missing, never zero. Names mapped through the SOURCE.md's table (`sources.milex.MILEX_ALIASES`) and
  the gazetteer; countries that are not partners of this dataset are left out.
- Vintage: every figure is the 2025 release's (SIPRI revises whole series each release), so dating by
  year keeps later years out of an as-of panel, not later revisions.

{summary_table(s)}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build evidence-milex.csv from SIPRI military expenditure.")
    parser.add_argument("--milex", type=Path, default=DEFAULT_RAW, help="sipri_milex_1949_2021.csv")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset directory to write into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    summary = build(args.milex, args.dataset)
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

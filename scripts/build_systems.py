"""Apply the system catalogue to the SIPRI register and the DSCA labels, for review.

Writes ``evidence/default_data/system_aliases.csv``: every weapon designation of U.S.-supplied SIPRI orders
(with its family) and every item designation of the hand-labelled DSCA notifications 2008-2012, the
system the catalogue maps it to (blank: none), and how many rows carry it (all years, and since 2000).
It also prints the catalogue's coverage of U.S. orders since 2000 by count, the largest unmapped
designations (what to add next) and any system that matches nothing (a stale alias).

The catalogue itself (``evidence/default_data/systems.csv``) is written by hand. This script proposes
nothing; it shows what the aliases catch, so that a reviewer sees every designation each system takes.

Usage (from the repository root, next to ``../shared``)::

    python scripts/build_systems.py [--register PATH] [--dsca-labels PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from evidence import taxonomy  # noqa: E402
from evidence.systems import default_aliases_path, load_catalogue  # noqa: E402
from evidence.writers import write_table  # noqa: E402
from sources import sipri  # noqa: E402

RAW = REPO.parent / "shared/data/raw"
DEFAULT_REGISTER = RAW / "sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv"
DEFAULT_DSCA = RAW / "dsca_major_arms_sales_2008_2012/labels_2008_2012.csv"
SINCE = 2000


def sipri_rows(register: Path, catalogue) -> pd.DataFrame:
    frame = sipri.read_register(register)
    frame = frame[frame["supplier"] == "United States"].copy()
    frame["family"] = [taxonomy.family_for(d) for d in frame["description"]]
    frame["recent"] = frame["order_year"] >= SINCE
    table = (
        frame.groupby(["designation", "family"])
        .agg(rows=("recent", "size"), rows_since_2000=("recent", "sum"))
        .reset_index()
    )
    table["system"] = catalogue.assign(table["designation"], table["family"])
    table.insert(0, "source", "sipri")
    return table


def dsca_rows(labels: Path, catalogue) -> pd.DataFrame:
    items = [
        item["designation"]
        for cell in pd.read_csv(labels, dtype=str)["items"].fillna("[]")
        for item in json.loads(cell)
    ]
    table = pd.Series(items, dtype=str).value_counts().rename_axis("designation").reset_index(name="rows")
    table["rows_since_2000"] = table["rows"]  # the labelled notifications are from 2008-2012
    table["family"] = ""  # DSCA lists carry a SIPRI category, not a family: matched across families
    table["system"] = [catalogue.system_for(d) for d in table["designation"]]
    table.insert(0, "source", "dsca")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--register", type=Path, default=DEFAULT_REGISTER)
    parser.add_argument("--dsca-labels", type=Path, default=DEFAULT_DSCA)
    parser.add_argument("--out", type=Path, default=default_aliases_path())
    args = parser.parse_args(argv)
    for path in (args.register, args.dsca_labels):
        if not path.is_file():
            print(f"error: {path}: no such file (this script reads ../shared/data/raw)", file=sys.stderr)
            return 2

    catalogue = load_catalogue()
    sipri_table, dsca_table = sipri_rows(args.register, catalogue), dsca_rows(args.dsca_labels, catalogue)
    table = pd.concat([sipri_table, dsca_table], ignore_index=True)
    table = table.sort_values(["source", "system", "rows_since_2000", "designation"], ascending=[1, 1, 0, 1])
    columns = ["source", "designation", "family", "system", "rows", "rows_since_2000"]
    write_table(table[columns].fillna({"system": ""}), args.out)

    recent = sipri_table[sipri_table["rows_since_2000"] > 0]
    mapped = recent.loc[recent["system"].notna(), "rows_since_2000"].sum()
    total = recent["rows_since_2000"].sum()
    print(f"{len(catalogue.systems)} systems; wrote {len(table)} designations to {args.out}")
    print(
        f"SIPRI U.S. orders since {SINCE}: {mapped} of {total} rows mapped to a system ({mapped / total:.1%})"
    )
    dsca_mapped = dsca_table.loc[dsca_table["system"].notna(), "rows"].sum()
    print(f"DSCA labelled items 2008-2012: {dsca_mapped} of {dsca_table['rows'].sum()} mapped")
    unmapped = recent[recent["system"].isna()].nlargest(25, "rows_since_2000")
    print("largest unmapped since 2000:")
    for row in unmapped.itertuples():
        print(f"  {row.rows_since_2000:>4}  {row.designation} ({row.family})")
    used = set(table["system"].dropna())
    stale = [s.id for s in catalogue.systems if s.id not in used]
    if stale:
        print(f"systems that match no designation: {', '.join(stale)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

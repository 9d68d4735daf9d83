"""Production lines from the DoD's P-21 exhibits: the reviewed choices in, the rates per year out.

``evidence/default_data/production_line_sources.csv`` (by hand) names, for each production line that a
system of the catalogue (``systems.csv``) is built on, the budget line item, the President's Budget year
whose figures are used, which cost element is the end item (a regular expression), and the scale that
makes the figures as given a rate per year (1, or 12 where they are per month), with the reason. The P-21
``rate_unit`` flag cannot decide that: it is one flag for a whole line item, missing before PB2015 and
sometimes wrong (``../shared/data/raw/dod_p21_production_rates_pb2013_2017/SOURCE.md``). Each reason
compares the figures across budget years or with the other service's line.

This script reads those rows from the P-21 data and writes ``evidence/default_data/production_lines.csv``:
the minimum sustaining, 1-8-5 and maximum rates per year, and the reorder lead times in months
(administrative after 1 October, and production; 0 in the source means not given, and then the initial
order's is used). It stops if a source row finds no rates, or the rates are not ordered. For review, it
also prints the DoD's own quantity in that budget's request year beside the maximum: a quantity above the
maximum points at a wrong scale.

Usage (from the repository root, next to ``../shared``)::

    python scripts/build_lines.py [--rates PATH] [--line-items PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from evidence.writers import write_table  # noqa: E402

RAW = REPO.parent / "shared/data/raw"
DEFAULT_RATES = RAW / "dod_p21_production_rates_pb2013_2017/production_rates.csv"
DEFAULT_LINE_ITEMS = (
    RAW / "dod_procurement_lineitems_pb2013_2017/dod_procurement_lineitems_resource_summary_pb2013_2017.csv"
)
DATA = REPO / "evidence/default_data"
RATES = ("min_sustaining_rate", "rate_1_8_5", "max_rate")


def _lead(row: pd.Series, kind: str) -> float | None:
    """A reorder lead time in months, or the initial order's where the reorder's is not given (0)."""
    for order in ("reorder", "initial"):
        value = row[f"{order}_{kind}"]
        if pd.notna(value) and value > 0:
            return float(value)
    return None


def build(sources: pd.DataFrame, rates: pd.DataFrame, quantities: pd.Series) -> pd.DataFrame:
    rows = []
    for src in sources.itertuples():
        found = rates[
            (rates["service"] == src.service)
            & (rates["line_item_number"].astype(str) == str(src.line_item_number))
            & (rates["budget_year"] == src.budget_year)
            & (rates["budget_cycle"] == "PB")
            & rates["cost_element"].str.contains(src.cost_element, case=False, regex=True)
            & (rates["min_sustaining_rate"] > 0)
            & (rates["max_rate"] > 0)
        ]
        if found.empty:
            raise SystemExit(
                f"{src.line}: no rates for {src.service} {src.line_item_number} PB{src.budget_year}"
            )
        row = found.iloc[0]
        values = [float(row[r]) * src.scale for r in RATES]
        if not values[0] <= values[1] <= values[2] and not (values[1] == 0 and values[0] <= values[2]):
            raise SystemExit(f"{src.line}: rates {values} are not ordered min <= 1-8-5 <= max")
        quantity = quantities.get(row["record_id"])
        rows.append(
            {
                "line": src.line,
                "name": src.name,
                "service": src.service,
                "line_item_number": str(src.line_item_number),
                "line_item_title": row["line_item_title"],
                "budget_year": int(src.budget_year),
                "manufacturer": row["manufacturer"],
                "min_sustaining_rate": values[0],
                "rate_1_8_5": values[1],
                "max_rate": values[2],
                "scale": int(src.scale),
                "admin_lead_months": _lead(row, "admin_lead_time_after_oct1_months"),
                "production_lead_months": _lead(row, "production_lead_time_months"),
                "dod_quantity": float(quantity) if quantity is not None and pd.notna(quantity) else None,
                "review": src.review,
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", type=Path, default=DEFAULT_RATES)
    parser.add_argument("--line-items", type=Path, default=DEFAULT_LINE_ITEMS)
    parser.add_argument("--out", type=Path, default=DATA / "production_lines.csv")
    args = parser.parse_args(argv)
    for path in (args.rates, args.line_items):
        if not path.is_file():
            print(f"error: {path}: no such file (this script reads ../shared/data/raw)", file=sys.stderr)
            return 2
    sources = pd.read_csv(DATA / "production_line_sources.csv", dtype={"line_item_number": str})
    rates = pd.read_csv(args.rates, dtype={"line_item_number": str}, low_memory=False)
    items = pd.read_csv(args.line_items, dtype=str, usecols=["id", "Quantity__BudgetYearOne"])
    quantities = pd.to_numeric(items.set_index("id")["Quantity__BudgetYearOne"], errors="coerce")
    lines = build(sources, rates, quantities)
    write_table(lines, args.out)
    print(f"wrote {len(lines)} production lines to {args.out}")
    for r in lines.itertuples():
        flag = (
            "  <- DoD quantity above the maximum: check the scale"
            if (r.dod_quantity or 0) > r.max_rate
            else ""
        )
        print(
            f"  {r.line:<17} PB{r.budget_year} x{r.scale:<2} {r.min_sustaining_rate:>7.0f} "
            f"{r.rate_1_8_5:>7.0f} {r.max_rate:>7.0f} a year; "
            f"lead {r.admin_lead_months} + {r.production_lead_months} months; "
            f"DoD quantity {r.dod_quantity}{flag}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

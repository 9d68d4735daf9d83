"""Order-to-delivery lags of U.S. orders, per family and named system, from the SIPRI register.

Writes ``evidence/default_data/delivery_lags.csv`` (key, kind, lag_years, share, deals): for each family and
each named system with enough deals, the share of ordered units delivered 0, 1, ..., 8+ years after the
order year. A deal's units are spread evenly over its listed delivery years (SIPRI gives the years, not
the units per year). Only new weapons ordered 1990-2015 count: orders after 2015 could not yet show
lags of six years or more in this copy (deliveries end in 2021), which would bias the lags short.

Usage (from the repository root, next to ``../shared``)::

    python scripts/build_delivery_lags.py [--register PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evidence import taxonomy  # noqa: E402
from evidence.lags import MAX_LAG, default_lags_path  # noqa: E402
from evidence.systems import load_catalogue  # noqa: E402
from evidence.writers import write_table  # noqa: E402
from sources import sipri  # noqa: E402

RAW = REPO.parent / "shared/data/raw"
DEFAULT_REGISTER = RAW / "sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv"
FIRST, LAST = 1990, 2015
MIN_DEALS = 10  # a system with fewer delivered deals takes its family's lags


def lags(register: Path) -> pd.DataFrame:
    frame = sipri.read_register(register)
    frame = frame[(frame["supplier"] == "United States") & frame["order_year"].between(FIRST, LAST)]
    frame = frame[frame["status"].astype(str).str.startswith("New")].copy()
    frame = frame[frame["delivery_years"].map(len) > 0]
    frame["family"] = [taxonomy.family_for(d) for d in frame["description"]]
    frame["system"] = load_catalogue().assign(frame["designation"], frame["family"])
    mass: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(MAX_LAG + 1))
    deals: dict[tuple[str, str], int] = defaultdict(int)
    for row in frame.itertuples(index=False):
        years = np.asarray(row.delivery_years, dtype=int) - int(row.order_year)
        weights = np.bincount(np.clip(years, 0, MAX_LAG), minlength=MAX_LAG + 1) / len(years)
        keys = [("family", str(row.family))]
        if isinstance(row.system, str):
            keys.append(("system", row.system))
        for key in keys:
            mass[key] += weights
            deals[key] += 1
    rows = []
    for (kind, key), m in sorted(mass.items()):
        if kind == "system" and deals[(kind, key)] < MIN_DEALS:
            continue
        share = m / m.sum()
        for lag, s in enumerate(share):
            rows.append(
                {
                    "kind": kind,
                    "key": key,
                    "lag_years": lag,
                    "share": round(float(s), 4),
                    "deals": deals[(kind, key)],
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--register", type=Path, default=DEFAULT_REGISTER)
    parser.add_argument("--out", type=Path, default=default_lags_path())
    args = parser.parse_args()
    table = lags(args.register)
    write_table(table, args.out)
    kinds = table.drop_duplicates(["kind", "key"])["kind"].value_counts().to_dict()
    print(f"wrote {args.out}: {kinds}")


if __name__ == "__main__":
    main()

"""Rebuild ``evidence/default_data/dsca_notifications.csv`` from the DSCA major-arms-sale releases.

Every release of 2008-2012 is extracted (:mod:`nlp.extraction`) and becomes one ``nlp_mention``
evidence row per notification × family (:func:`nlp.signals.notification_evidence`: value 1, dated on
the release, the release pk as provenance). Rows for a partner or family the embedded dataset does not
model are left out and counted. ``totaldemand data add-evidence --evidence <this file> --out DIR`` adds
them to a dataset; the text-evidence ablation in docs/backtests.md runs on that.

Usage (from the repository root, next to ``../shared``)::

    python scripts/build_dsca_evidence.py [--texts PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evidence.loaders import default_dataset_path, load_dataset  # noqa: E402
from evidence.writers import write_table  # noqa: E402
from nlp.extraction import extract_all, read_texts  # noqa: E402
from nlp.signals import notification_evidence  # noqa: E402

TEXTS = REPO.parent / "shared/data/raw/dsca_major_arms_sales_2008_2012/dsca_major_arms_sales_2008_2012.csv"
OUT = REPO / "evidence/default_data/dsca_notifications.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=Path, default=TEXTS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    dataset = load_dataset(default_dataset_path())
    rows = notification_evidence(extract_all(read_texts(args.texts)), source="dsca")
    inside = rows["partner"].isin(dataset.partners["id"]) & rows["family"].isin(dataset.families["id"])
    rows = rows[inside].sort_values(["date", "partner", "family", "source"], kind="stable")
    write_table(rows, args.out)
    print(f"{len(rows)} rows written to {args.out} ({int((~inside).sum())} outside the dataset left out)")


if __name__ == "__main__":
    main()

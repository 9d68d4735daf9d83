"""Rebuild ``evidence/default_data/designations.csv`` from the SIPRI trade register.

The table maps designation codes (``ah64d``, stem ``ah64``) and designation names (``black hawk``) of
US-supplied SIPRI orders placed since 1970 to SIPRI's weapon description and, through
:mod:`evidence.taxonomy`, to an armament category and system family. Each key takes the majority category
of the register rows it occurs in; keys whose rows split between categories (majority share below
``nlp.designations.MIN_SHARE``) are dropped as ambiguous. Ship-class names that are not
paired with a code anywhere (``Perry``, ``Knox``, ``Hamilton``) are dropped too: they are surnames and
place names far more often than they are ships, and DSCA writes ship classes with the word "Class".

Usage (from the repository root, next to ``../shared``)::

    python scripts/build_designations.py [--register PATH] [--out PATH] [--since 1970]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from evidence import taxonomy  # noqa: E402
from evidence.writers import write_table  # noqa: E402
from nlp.designations import DESIGNATIONS_CSV, MIN_SHARE, find_codes, name_phrases  # noqa: E402
from sources import sipri  # noqa: E402

DEFAULT_REGISTER = (
    REPO.parent
    / "shared/data/raw/sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv"
)


def build(register: Path, since: int = 1970, supplier: str = "United States") -> pd.DataFrame:
    frame = sipri.read_register(register)
    frame = frame[(frame["supplier"] == supplier) & (frame["order_year"] >= since)]
    # key → category → [rows, Counter of (family, description), Counter of designations]
    votes: dict[tuple[str, str], dict[str, list]] = defaultdict(dict)
    coded_names: set[str] = set()

    def vote(kind: str, key: str, category: str, family: str, description: str, designation: str) -> None:
        slot = votes[(kind, key)].setdefault(category, [0, Counter(), Counter()])
        slot[0] += 1
        slot[1][(family, description)] += 1
        slot[2][designation] += 1

    for designation, description in zip(frame["designation"], frame["description"], strict=True):
        family = taxonomy.family_for(description)
        category = taxonomy.FAMILY_BY_ID[family].category
        codes = find_codes(designation)
        for code in codes:
            vote("code", code.full, category, family, description, designation)
            vote("stem", code.stem, category, family, description, designation)
        names = name_phrases(designation)
        for name in names:
            vote("name", name, category, family, description, designation)
            if codes:
                coded_names.add(name)

    rows = []
    for (kind, key), by_category in votes.items():
        total = sum(slot[0] for slot in by_category.values())
        category, (count, families, designations) = max(by_category.items(), key=lambda kv: kv[1][0])
        share = count / total
        if share < MIN_SHARE:
            continue
        if kind == "name" and category == "Ships" and key not in coded_names:
            continue
        (family, description), _ = families.most_common(1)[0]
        rows.append(
            {
                "key": key,
                "kind": kind,
                "category": category,
                "family": family,
                "description": description,
                "designation": designations.most_common(1)[0][0],
                "rows": total,
                "share": round(share, 3),
            }
        )
    return pd.DataFrame(rows).sort_values(["kind", "key"]).reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--register", type=Path, default=DEFAULT_REGISTER)
    parser.add_argument("--out", type=Path, default=DESIGNATIONS_CSV)
    parser.add_argument("--since", type=int, default=1970, help="first order year used (default 1970)")
    args = parser.parse_args(argv)
    if not args.register.is_file():
        print(f"register not found: {args.register}", file=sys.stderr)
        return 1
    table = build(args.register, since=args.since)
    write_table(table, args.out)
    print(f"{args.out}: {len(table)} keys ({table['kind'].value_counts().to_dict()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

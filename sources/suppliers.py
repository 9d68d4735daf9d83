"""Orders from every supplier: each partner × family × year's orders in SIPRI's register, by supplier.

The U.S.-only panel cannot tell a partner that turned to another supplier from a partner whose demand
fell. This table keeps every supplier's orders for the dataset's partners, so a model can read a
partner's whole demand and the U.S. share of it.

`supplier_orders` aggregates the register (every supplier, as `sources.sipri.read_register` reads it)
to one row per partner × family × order year × supplier:

- ``orders``: register rows (deals), the unit the U.S. LOR stand-in counts too, so the U.S. rows here
  equal the orders of ``lors.csv`` built from the same register, cell by cell;
- ``units``: the units ordered, blank where any row of the cell has no number.

Recipients map to partners through the gazetteer (two spellings of one recipient are one partner), and
only the dataset's partners are kept: the U.S. build lists every recipient that ever ordered from the
U.S., including organisations (NATO, the African Union, the United Nations). Suppliers get ids in the
same scheme (``france``, ``korea_south``); SIPRI's ``unknown supplier(s)`` becomes ``unknown_suppliers``.
Descriptions map to families as in the U.S. build (`evidence.taxonomy`).

Run as a script (``scripts/build_default_data.sh`` does)::

    python -m sources.suppliers --register PATH --dataset DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from evidence import gazetteer, taxonomy
from evidence.loaders import load_table
from evidence.records import PARTNERS, SUPPLIER_ORDERS
from evidence.writers import write_table
from sources.country_years import write_source_section
from sources.sipri import read_register

log = logging.getLogger(__name__)

MODULE = "sources.suppliers"
FILE = "supplier_orders.csv"
DEFAULT_RAW = Path(
    "../shared/data/raw/sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv"
)


def supplier_id(name: str) -> str:
    """A supplier's id in the partners' scheme: the gazetteer's id where it knows the name."""
    return gazetteer.partner_for(name).id if gazetteer.is_known(name) else gazetteer.derive_id(name)


def supplier_orders(register: pd.DataFrame, partners: set[str], source: str) -> pd.DataFrame:
    """One row per partner × family × order year × supplier (SUPPLIER_ORDERS layout), for ``partners``."""
    names = register["recipient"].unique()
    partner_of = {n: p.id for n in names if (p := gazetteer.partner_for(n)).id in partners}
    kept = register[register["recipient"].isin(partner_of.keys())]
    family_of = {d: taxonomy.family_for(d) for d in kept["description"].unique()}
    suppliers = {n: supplier_id(n) for n in kept["supplier"].unique()}
    rows = pd.DataFrame(
        {
            "partner": kept["recipient"].map(partner_of),
            "family": kept["description"].map(family_of),
            "year": kept["order_year"].astype(int),
            "supplier": kept["supplier"].map(suppliers),
            "units": kept["number_ordered"].astype("Int64"),
        }
    )
    grouped = rows.groupby(["partner", "family", "year", "supplier"], sort=True)["units"]
    out = pd.DataFrame(
        {
            "orders": grouped.size(),
            # min_count: a cell whose every number is known sums them; one unknown leaves it blank
            "units": grouped.sum(min_count=1).where(grouped.count() == grouped.size()),
        }
    ).reset_index()
    out["units"] = out["units"].astype("Int64")
    out["source"] = source
    return out[[c.name for c in SUPPLIER_ORDERS.columns]]


@dataclass(frozen=True)
class SuppliersSummary:
    path: str
    register: str
    register_sha256: str
    rows: int
    partners: int
    suppliers: int
    first_year: int
    last_year: int
    orders: int
    us_orders: int
    top_suppliers: dict[str, int]  # orders since 1990, the ten largest

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def build(register: Path, dataset: Path) -> SuppliersSummary:
    """Write ``dataset/supplier_orders.csv`` for the dataset's partners and this step's SOURCE.md section."""
    register, dataset = Path(register), Path(dataset)
    reg = read_register(register)
    generated = reg.attrs["generated"]
    # short: it repeats on every row, and SOURCE.md names the file and its digest
    source = f"SIPRI {generated.isoformat()}" if generated else f"SIPRI {register.name}"
    partners = set(load_table(dataset / "partners.csv", PARTNERS)["id"])
    table = supplier_orders(reg, partners, source)
    write_table(table, dataset / FILE)
    recent = table[table["year"] >= 1990].groupby("supplier")["orders"].sum().nlargest(10)
    summary = SuppliersSummary(
        path=FILE,
        register=register.name,
        register_sha256=hashlib.sha256(register.read_bytes()).hexdigest(),
        rows=len(table),
        partners=int(table["partner"].nunique()),
        suppliers=int(table["supplier"].nunique()),
        first_year=int(table["year"].min()),
        last_year=int(table["year"].max()),
        orders=int(table["orders"].sum()),
        us_orders=int(table.loc[table["supplier"] == "united_states", "orders"].sum()),
        top_suppliers={str(k): int(v) for k, v in recent.items()},
    )
    write_source_section(dataset / "SOURCE.md", MODULE, _section(summary))
    log.info(
        "wrote %s: %d rows, %d orders from %d suppliers to %d partners",
        dataset / FILE,
        summary.rows,
        summary.orders,
        summary.suppliers,
        summary.partners,
    )
    return summary


def _section(s: SuppliersSummary) -> str:
    top = ", ".join(f"{k} {v}" for k, v in s.top_suppliers.items())
    return f"""## Orders from every supplier: `{s.path}` (`sources.suppliers`)

Source: SIPRI Arms Transfers Database (c) SIPRI, register file `{s.register}`, sha256 `{s.register_sha256}`.

- One row per partner × family × order year × supplier: `orders` (register rows, as `lors.csv` counts
  U.S. orders) and `units` (blank where any row has no number). The U.S. rows equal `lors.csv` cell by cell.
- Only this dataset's partners; recipients and suppliers get ids through the gazetteer.
- {s.rows} rows, {s.orders} orders ({s.us_orders} from the United States) to {s.partners} partners from
  {s.suppliers} suppliers, order years {s.first_year}-{s.last_year}.
- Orders since 1990 by supplier, the ten largest: {top}.
- SIPRI's caveats apply: revisions between exports, one row per deal hiding multi-lot programmes, aid and
  second-hand transfers counted as orders.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build supplier_orders.csv: SIPRI's orders, every supplier.")
    parser.add_argument("--register", type=Path, default=DEFAULT_RAW, help="SIPRI trade register export")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset directory to write into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(json.dumps(build(args.register, args.dataset).as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Orders from every supplier (sources.suppliers): the table, its agreement with the U.S. build, loading."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from bayes.fitting import fitting_panel
from bayes.panel import build_panel
from evidence.loaders import LoadError, every_supplier, load_dataset
from sources import suppliers
from sources.sipri import build_dataset
from tests.sources.test_sipri import DEFAULT_DATASET, ORIGINAL_2026
from totaldemand.errors import UserError


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sipri_all")
    build_dataset(ORIGINAL_2026, out)
    suppliers.build(ORIGINAL_2026, out)
    return out


def _us_cells_from_lors(lors: pd.DataFrame) -> pd.Series:
    years = pd.to_datetime(lors["received"]).dt.year.astype(int).rename("year")
    return lors.groupby([lors["partner"], lors["family"], years]).size().sort_index()


def _us_cells(table: pd.DataFrame) -> pd.Series:
    us = table[table["supplier"] == "united_states"].astype({"year": int})
    return us.set_index(["partner", "family", "year"])["orders"].sort_index()


def test_a_partner_s_orders_from_each_supplier(built: Path) -> None:
    # Norway's transport helicopters in the fixture: 12 Bell-412 from the U.S. (1986), 2 Sea King from
    # the U.K. (1993), 8 NH-90 TTH from Italy (2001)
    table = load_dataset(built).supplier_orders
    norway = table[(table["partner"] == "norway") & (table["family"] == "transport_helicopter")]
    got = {(int(r.year), r.supplier): (int(r.orders), int(r.units)) for r in norway.itertuples()}
    expected = {(1986, "united_states"): (1, 12), (1993, "united_kingdom"): (1, 2), (2001, "italy"): (1, 8)}
    assert got == expected


def test_units_are_blank_where_a_number_is_unknown(built: Path) -> None:
    table = load_dataset(built).supplier_orders
    cell = table[(table["partner"] == "norway") & (table["family"] == "sam") & (table["year"] == 2018)]
    assert len(cell) == 1 and pd.isna(cell["units"].iloc[0])


def test_us_rows_equal_the_lors_of_the_same_register(built: Path) -> None:
    data = load_dataset(built)
    pd.testing.assert_series_equal(
        _us_cells(data.supplier_orders), _us_cells_from_lors(data.lors), check_names=False, check_dtype=False
    )
    assert set(data.supplier_orders["supplier"]) > {"united_states"}


def test_restricting_to_an_origin_drops_later_orders(built: Path) -> None:
    data = load_dataset(built)
    assert data.supplier_orders["year"].max() > 2010
    known = data.restrict_to(2010).supplier_orders
    assert len(known) and known["year"].max() <= 2010
    assert len(known) == int((data.supplier_orders["year"] <= 2010).sum())


def test_an_unknown_partner_is_refused_naming_the_row(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(built, copy)
    table = pd.read_csv(copy / "supplier_orders.csv", dtype=str, keep_default_na=False)
    table.loc[2, "partner"] = "atlantis"
    table.to_csv(copy / "supplier_orders.csv", index=False)
    with pytest.raises(LoadError) as info:
        load_dataset(copy)
    problem = info.value.problems[0]
    assert (problem.row, problem.column, problem.value) == (3, "partner", "atlantis")
    assert "supplier_orders" in problem.file


def test_a_dataset_without_the_table_loads_with_it_empty(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(built, copy)
    (copy / "supplier_orders.csv").unlink()
    data = load_dataset(copy)
    assert data.supplier_orders.empty and list(data.supplier_orders.columns)[:4] == [
        "partner",
        "family",
        "year",
        "supplier",
    ]


def test_the_embedded_dataset_ships_every_supplier_and_agrees_with_its_lors() -> None:
    data = load_dataset(DEFAULT_DATASET)
    pd.testing.assert_series_equal(
        _us_cells(data.supplier_orders), _us_cells_from_lors(data.lors), check_names=False, check_dtype=False
    )
    top = data.supplier_orders.groupby("supplier")["orders"].sum()
    assert {"russia", "france", "germany", "china"} <= set(top.nlargest(8).index)


def test_every_supplier_gives_one_executed_request_per_order(built: Path) -> None:
    data = load_dataset(built)
    whole = every_supplier(data)
    assert len(whole.lors) == int(data.supplier_orders["orders"].sum())
    assert set(whole.lors["status"]) == {"executed"} and whole.lors["id"].is_unique
    panel = build_panel(whole, first_year=1990)
    orders = data.supplier_orders
    window = orders[orders["year"].between(1990, int(panel.attrs["last_year"]))]
    window = window[window["partner"].isin(panel["partner"].values)]
    assert int(panel["lor_count"].sum()) == int(window["orders"].sum())
    # every supplier's deals outnumber the U.S. ones the U.S. panel counts
    assert int(panel["lor_count"].sum()) > int(build_panel(data, first_year=1990)["lor_count"].sum())
    # what a fit with model_config["demand_basis"] = "every_supplier" is fitted to: that panel, naming
    # the dataset itself, whose plans, lines and requests its answers then read
    fitted = fitting_panel(data, 1990, "every_supplier")
    assert int(fitted["lor_count"].sum()) == int(panel["lor_count"].sum())
    assert fitted.attrs["source"] == data.source
    with pytest.raises(UserError, match="demand_basis"):
        fitting_panel(data, 1990, "everyone")


def test_a_cell_s_units_are_spread_over_its_orders() -> None:
    from evidence.loaders import empty_table
    from evidence.records import SUPPLIER_ORDERS

    table = pd.DataFrame(
        {
            "partner": ["chad", "chad"],
            "family": ["apc", "apc"],
            "year": [2001, 2002],
            "supplier": ["france", "china"],
            "orders": [3, 2],
            "units": pd.array([7, None], dtype="Int64"),
            "source": ["t", "t"],
        }
    )
    base = load_dataset(DEFAULT_DATASET)
    data = replace(base, supplier_orders=pd.concat([empty_table(SUPPLIER_ORDERS), table], ignore_index=True))
    lors = every_supplier(data).lors
    assert lors["quantity"].iloc[:3].tolist() == [3, 2, 2]
    assert lors["quantity"].iloc[3:].isna().all() and len(lors) == 5

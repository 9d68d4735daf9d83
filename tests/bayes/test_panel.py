from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bayes.panel import build_panel, describe
from evidence.loaders import load_dataset


def test_panel_counts_realised_lors_only(sim_world: Path) -> None:
    ds = load_dataset(sim_world)
    panel = build_panel(ds, first_year=2000)
    realised = ds.lors[ds.lors["status"].isin(["executed", "firm"])]
    assert int(panel["lor_count"].sum()) == len(realised)
    row = realised.iloc[0]
    year = pd.Timestamp(row["received"]).year
    same = realised[
        (realised["partner"] == row["partner"])
        & (realised["family"] == row["family"])
        & (pd.to_datetime(realised["received"]).dt.year == year)
    ]
    assert int(panel["lor_count"].sel(partner=row["partner"], family=row["family"], year=year)) == len(same)
    assert int(panel["units"].sum()) == int(realised["quantity"].sum())
    assert describe(panel)["zero_share"] > 0.5


def test_hash_changes_with_data(sim_world: Path) -> None:
    ds = load_dataset(sim_world)
    a = build_panel(ds, first_year=2000)
    b = build_panel(ds.restrict_to(2018), first_year=2000)
    assert a.attrs["data_hash"] == build_panel(ds, first_year=2000).attrs["data_hash"]
    assert a.attrs["data_hash"] != b.attrs["data_hash"]
    assert int(b["year"].max()) == 2018


def test_empty_window_is_an_error(sim_world: Path) -> None:
    with pytest.raises(ValueError, match="no realised LORs"):
        build_panel(load_dataset(sim_world), first_year=1950, last_year=1960)

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes.panel import build_panel, describe
from evidence.loaders import load_dataset


def test_panel_counts_realised_lors_only(sim_world: Path) -> None:
    ds = load_dataset(sim_world)
    panel = build_panel(ds, first_year=2000)
    # the history ends with the last executed order; firm and pending requests after it are the open book
    assert panel.attrs["last_year"] == 2019
    year_of = pd.to_datetime(ds.lors["received"]).dt.year
    realised = ds.lors[ds.lors["status"].isin(["executed", "firm"]) & (year_of <= 2019)]
    later = ds.lors[(year_of > 2019) & ds.lors["status"].isin(["firm", "pending"])]
    assert panel.sizes["open_lor"] == len(later) > 0
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


def test_panel_carries_the_evidence_as_of_each_year(sim_world: Path) -> None:
    ds = load_dataset(sim_world)
    panel = build_panel(ds, first_year=2000)
    ev = ds.evidence
    row = ev[(ev["kind"] == "readiness_fleet_units")].iloc[0]
    year = pd.Timestamp(row["date"]).year
    if year + 1 <= 2019:  # a fleet reported at the end of year t is what year t + 1 starts with
        value = panel["fleet_units"].sel(partner=row["partner"], family=row["family"], year=year + 1)
        assert float(value) == row["value"]
    assert np.isnan(panel["fleet_mean_age"].values[panel["fleet_units"].values == 0]).all()
    covered = panel["nlp_covered"].values
    assert covered[:3].sum() == 0 and covered[3:].all()  # the simulated corpus starts in 2003
    assert int(panel["nlp_signal"].sum()) == int((ev["kind"] == "nlp_mention").sum())
    assert panel.sizes["lor"] == int(panel["lor_count"].sum())
    assert list(panel["alliance"].values) == ["MNNA", "NATO"]

"""The system-share model: parameter recovery on simulated shares, its data, its split of forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes.system_shares import (
    OTHER,
    SharePrior,
    SharesError,
    SystemShareModel,
    SystemShares,
    simulate_shares,
    system_panel,
)
from evidence.systems import parse_catalogue

QUICK = {"draws": 500, "tune": 400, "chains": 4, "random_seed": 3}
SYSTEMS = {"fam_a": ["a1", "a2", "a3"], "fam_b": ["b1"]}
REGIONS = ["north", "south", "east"]
YEARS = np.arange(2000, 2020)


@pytest.fixture(scope="module")
def recovered() -> tuple[xr.DataTree, dict, xr.Dataset]:
    panel, truth = simulate_shares(SYSTEMS, REGIONS, YEARS, requests_per_cell=12, seed=7)
    tree = SystemShareModel(sampler_config=QUICK).fit(panel, progressbar=False)
    return tree, truth, panel


def _true_shares(truth: dict, family_slice: slice, region: int, year: int) -> np.ndarray:
    x = (year - YEARS.mean()) / 10
    sl = family_slice
    logits = np.r_[0.0, truth["alpha"][sl] + truth["trend"][sl] * x + truth["region"][region, sl]]
    p = np.exp(logits - logits.max())
    return p / p.sum()


def test_the_share_model_recovers_known_shares_and_trends(recovered) -> None:
    tree, truth, _ = recovered
    assert tree.attrs["status"] == "ok", tree.attrs["diagnostics"]
    shares = SystemShares(tree, take=400)
    for year in (2001, 2019):
        for ri, region in enumerate(REGIONS):
            p = shares.probabilities("fam_a", np.array([region]), np.array([year]))[:, 0, 0]
            true = _true_shares(truth, slice(0, 3), ri, year)
            lo, hi = np.quantile(p, [0.01, 0.99], axis=0)
            assert np.all((true >= lo - 0.02) & (true <= hi + 0.02)), (year, region, true, lo, hi)
    # The trend's sign is recovered where the truth is clear of zero.
    post = tree["posterior"].to_dataset()
    trend = (post["trend_sigma"] * post["trend_raw"]).values.reshape(-1, 4)
    clear = np.abs(truth["trend"]) > 0.5
    assert np.all(np.sign(trend.mean(axis=0))[clear] == np.sign(truth["trend"])[clear])


def test_shares_sum_to_one_and_an_unseen_region_takes_the_family_split(recovered) -> None:
    tree, _, _ = recovered
    shares = SystemShares(tree, take=100)
    p = shares.probabilities("fam_a", np.array(["north", "nowhere"]), np.array([2020, 2024]))
    assert p.shape == (100, 2, 2, 4)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert shares.systems("fam_a") == [OTHER, "a1", "a2", "a3"]
    unknown = shares.probabilities("unknown_family", np.array(["north"]), np.array([2020]))
    assert unknown.shape == (100, 1, 1, 1)
    assert shares.system_family == {"a1": "fam_a", "a2": "fam_a", "a3": "fam_a", "b1": "fam_b"}


def test_a_system_without_history_has_the_stated_prior_share() -> None:
    panel, _ = simulate_shares({"fam": ["old", "new"]}, ["r"], YEARS, requests_per_cell=10, seed=1)
    panel["count"][:, :, :, 2] = 0  # "new": never requested
    tree = SystemShareModel(sampler_config=QUICK).fit(panel, progressbar=False)
    shares = SystemShares(tree, take=200)
    assert shares.basis("fam")["new"].startswith("prior")
    assert shares.basis("fam")["old"] == "history"
    alpha_new = tree["posterior"]["alpha"].sel(named_system="new").values
    # Unseen, it stays near the prior's centre against the remainder (the data only push it down).
    assert alpha_new.mean() < SharePrior().mean + 0.5


def test_system_panel_counts_requests_per_system_with_the_remainder_in_slot_0() -> None:
    catalogue = parse_catalogue(
        "system,name,family,line,aliases,note\n"
        "himars,HIMARS,rocket_artillery,himars,himars|m142,\n"
        "mlrs,M270,rocket_artillery,,m270|mlrs,\n"
    )
    lors = pd.DataFrame(
        {
            "partner": ["p1", "p1", "p2", "p2", "ghost"],
            "family": ["rocket_artillery"] * 5,
            "received": ["2010-01-01", "2010-05-01", "2011-01-01", "2030-01-01", "2010-01-01"],
            "status": ["executed", "executed", "firm", "executed", "executed"],
            "designation": ["M142 HIMARS", "M270 MLRS", "Unknown rocket", "HIMARS", "HIMARS"],
        }
    )
    partners = pd.DataFrame({"id": ["p1", "p2"], "region": ["Europe", "Asia"]})
    panel = system_panel(lors, partners, catalogue, first_year=2010, last_year=2012)
    assert panel["system"].sel(family="rocket_artillery").values.tolist() == [OTHER, "himars", "mlrs"]
    c = panel["count"].sel(family="rocket_artillery")
    assert int(c.sel(region="Europe", year=2010).sum()) == 2
    assert c.sel(region="Europe", year=2010).values.tolist() == [0, 1, 1]
    assert c.sel(region="Asia", year=2011).values.tolist() == [1, 0, 0]  # unmapped: the remainder
    assert int(c.sum()) == 3  # 2030 is outside the years and "ghost" is no known partner


@pytest.mark.parametrize(
    ("config", "field"),
    [({"prior_share": 1.0}, "prior_share"), ({"alpha_sd": 0}, "alpha_sd"), ({"region_sd": -1}, "region_sd")],
)
def test_invalid_share_configs_name_the_field(config: dict, field: str) -> None:
    with pytest.raises(SharesError, match=field):
        SystemShareModel(config)


def test_a_panel_with_no_requests_is_refused() -> None:
    panel, _ = simulate_shares({"fam": ["x"]}, ["r"], YEARS, requests_per_cell=1, seed=1)
    panel["count"][:] = 0
    with pytest.raises(SharesError, match="no requests"):
        SystemShareModel().build_model(panel)

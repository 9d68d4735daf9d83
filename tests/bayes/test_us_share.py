"""The U.S. share model: its panel from every supplier's orders, the history terms, recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes.model import DemandModel
from bayes.us_share import (
    ShareError,
    USShareModel,
    share_panel,
    simulate_share_panel,
    us_demand,
    with_supplier_history,
)

PARTNERS = pd.DataFrame(
    {
        "id": ["norway", "chad", "nato"],
        "region": ["Europe", "Sub-Saharan Africa", "Europe"],
        "is_state": [True, True, False],
    }
)


def _orders(rows: list[tuple[str, str, int, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["partner", "family", "year", "supplier", "orders"])


def test_a_cell_s_history_counts_the_years_before_it_only() -> None:
    # Norway's transport helicopters: the U.S. in 1986, the U.K. in 1993, Italy (two deals) in 2001
    orders = _orders(
        [
            ("norway", "helo", 1986, "united_states", 1),
            ("norway", "helo", 1993, "united_kingdom", 1),
            ("norway", "helo", 2001, "italy", 2),
            ("norway", "helo", 2001, "united_states", 1),
            ("chad", "apc", 1995, "france", 1),
            ("nato", "awacs", 1995, "united_states", 1),
        ]
    )
    panel = share_panel(orders, PARTNERS, 1990, 2003, memory=5)
    assert list(panel["partner"].values) == ["chad", "norway"]  # organisations are not states
    cell = panel.sel(partner="norway", family="helo")
    assert cell["all_count"].sel(year=2001) == 3 and cell["us_count"].sel(year=2001) == 1
    us_history = dict(zip(cell["year"].values, cell["us_history"].values, strict=True))
    other_history = dict(zip(cell["year"].values, cell["other_history"].values, strict=True))
    # 1986 is in the five years before 1990 and 1991, not before 1992
    assert us_history[1990] == us_history[1991] == pytest.approx(np.log(2)) and us_history[1992] == 0
    assert other_history[1993] == 0 and other_history[1994] == pytest.approx(np.log(2))
    assert other_history[1998] == pytest.approx(np.log(2)) and other_history[1999] == 0
    assert other_history[2002] == pytest.approx(np.log(3)) and us_history[2002] == pytest.approx(np.log(2))
    assert str(panel["partner_region"].sel(partner="chad").values) == "Sub-Saharan Africa"


def test_supplier_history_counts_each_supplier_in_the_panel_s_years_only() -> None:
    orders = _orders(
        [
            ("norway", "helo", 1986, "united_kingdom", 4),  # before the panel: history terms only
            ("norway", "helo", 1993, "united_kingdom", 1),
            ("norway", "helo", 2001, "italy", 2),
            ("norway", "helo", 2002, "italy", 1),
            ("norway", "helo", 2001, "united_states", 1),
            ("chad", "apc", 1995, "france", 1),
        ]
    )
    panel = with_supplier_history(share_panel(orders, PARTNERS, 1990, 2003), orders)
    helo = panel.sel(partner="norway", family="helo")
    counts = dict(zip(panel["supplier"].values, helo["supplier_orders"].values.tolist(), strict=True))
    latest = dict(zip(panel["supplier"].values, helo["last_order"].values.tolist(), strict=True))
    assert counts == {"france": 0, "italy": 3, "united_kingdom": 1, "united_states": 1}
    assert latest == {"france": 0, "italy": 2002, "united_kingdom": 1993, "united_states": 2001}
    # every supplier's orders in the panel's years add up to the panel's own count
    assert int(panel["supplier_orders"].sum()) == int(panel["all_count"].sum())


def test_history_matches_a_brute_force_window() -> None:
    panel, _ = simulate_share_panel(6, 3, np.arange(2000, 2015), seed=3)
    memory = panel.attrs["memory"]
    us = panel["us_count"].values
    for t in range(memory, us.shape[2]):
        np.testing.assert_allclose(
            panel["us_history"].values[:, :, t], np.log1p(us[:, :, t - memory : t].sum(axis=2))
        )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"memory": 0}, r"model_config\['memory'\]: 0"),
        ({"memory": 2.5}, r"model_config\['memory'\]"),
        ({"slope_sd": -1.0}, r"model_config\['slope_sd'\]: -1.0 is not a positive number"),
        ({"effect_sd": "wide"}, r"model_config\['effect_sd'\]"),
    ],
)
def test_invalid_settings_are_refused_naming_the_key(config: dict, message: str) -> None:
    with pytest.raises(ShareError, match=message):
        USShareModel(config)


def test_a_panel_without_orders_is_refused() -> None:
    with pytest.raises(ShareError, match="no orders between 2010 and 2012"):
        share_panel(_orders([("chad", "apc", 1995, "france", 1)]), PARTNERS, 2010, 2012)


@pytest.mark.slow
def test_the_share_model_is_recovered_from_a_world_drawn_from_it() -> None:
    """Parameter recovery: the gates pass, every scalar's truth lies inside its 98% interval, and the
    partner effects track the true ones; forecasts are probabilities that carry the trend on."""
    panel, truth = simulate_share_panel(40, 10, np.arange(1995, 2020), seed=7)
    model = USShareModel(sampler_config={"draws": 1000, "tune": 1000, "random_seed": 2})
    model.fit(panel, progressbar=False)
    assert model.status == "ok", model.diagnostics.failures
    fx = model.effects()
    # family and region effects and each region's shocks sum to zero in the model: the intercept takes
    # the drawn ones' means
    drawn_means = truth["region"].mean() + truth["family"].mean() + truth["shock"].mean()
    truth = truth | {"intercept": truth["intercept"] + drawn_means}
    for name in ("intercept", "incumbency", "competition", "sigma_partner", "trend_mean", "sigma_shock"):
        lo, hi = np.quantile(fx[name], [0.01, 0.99])
        assert lo < truth[name] < hi, (name, truth[name], lo, hi)
    assert np.corrcoef(fx["partner"].mean(axis=0), truth["partner"])[0, 1] > 0.7
    p = model.probabilities(panel, np.arange(2020, 2023))
    assert p.shape == (4000, 40, 10, 3) and ((p > 0) & (p < 1)).all()


def _drawn_model(panel, draws: int = 400) -> USShareModel:
    """A share model whose posterior is ``draws`` random draws of every variable (no fit): enough to
    read probabilities from, which depend only on the draws and the panel."""
    rng = np.random.default_rng(11)
    shapes = {
        "region_raw": (8,),
        "partner_raw": (panel.sizes["partner"],),
        "family_raw": (panel.sizes["family"],),
        "trend_raw": (8,),
        "shock_raw": (8, panel.sizes["year"]),
    }
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw", *(f"{name}_{i}" for i in range(len(shape)))),
                rng.normal(size=(1, draws, *shape)),
            )
            for name, shape in {n: shapes.get(n, ()) for n in USShareModel.names}.items()
        }
    )
    for name in ("sigma_region", "sigma_partner", "sigma_family", "sigma_trend", "sigma_shock"):
        posterior[name] = np.abs(posterior[name])
    model = USShareModel()
    model.idata = xr.DataTree.from_dict({"posterior": posterior})
    model.idata.attrs["centre_year"] = float(panel["year"].values.mean())
    return model


def test_a_forecast_year_draws_its_region_shocks_the_same_whatever_is_asked_with_it() -> None:
    panel, _ = simulate_share_panel(16, 3, np.arange(2000, 2015), seed=3)
    model = _drawn_model(panel)
    alone = model.probabilities(panel, np.array([2020]), seed=7)[..., 0]
    together = model.probabilities(panel, np.array([2014, 2018, 2020]), seed=7)
    np.testing.assert_array_equal(alone, together[..., 2])
    assert not np.allclose(together[..., 1], together[..., 2])  # each year its own shocks
    assert not np.allclose(alone, model.probabilities(panel, np.array([2020]), seed=8)[..., 0])
    # a fitted year reads its fitted shocks, whatever the seed
    np.testing.assert_array_equal(
        together[..., 0], model.probabilities(panel, np.array([2014]), seed=9)[..., 0]
    )
    # partners of one region share a year's shock: between two seeds, every cell of the region moves
    # by the same amount on the logit scale (its partners' and families' other terms cancel)
    other = model.probabilities(panel, np.array([2020]), seed=8)[..., 0]
    moved = np.log(alone / (1 - alone)) - np.log(other / (1 - other))  # (draws, P, F)
    same = panel["partner_region"].values == panel["partner_region"].values[0]
    assert same.sum() == 2
    np.testing.assert_allclose(
        moved[:, same], np.broadcast_to(moved[:, :1, :1], moved[:, same].shape), atol=1e-8
    )
    assert np.abs(moved[:, ~same] - moved[:, :1, :1]).max() > 0.1


def test_us_demand_thins_each_draw_of_the_whole() -> None:
    rng = np.random.default_rng(0)
    total = rng.poisson(3.0, (4000, 2, 3))
    p_us = np.array([0.1, 0.6])[None, :, None]
    us = us_demand(total, p_us, np.random.default_rng(1))
    assert (us <= total).all() and (us >= 0).all()
    np.testing.assert_allclose(us.mean(axis=(0, 2)), 3.0 * np.array([0.1, 0.6]), rtol=0.06)
    with pytest.raises(ShareError, match="whole numbers"):
        us_demand(np.array([1.5]), 0.5, rng)


def _with_basis(model: DemandModel, basis: str) -> DemandModel:
    """The stored fit read as one of ``basis`` (the draws are the same; what they are taken for is not)."""
    out = DemandModel({**model.model_config, "demand_basis": basis}, model.sampler_config)
    out.idata = model.idata
    return out


def test_a_model_of_every_supplier_s_orders_is_thinned_to_us_demand_draw_by_draw(systems_path: Path) -> None:
    """The serving option of the decomposition: the same draws read as every supplier's orders give U.S.
    demand as Binomial(whole, P(U.S.)), never above the whole, about P(U.S.) of it, units alongside."""
    from bayes.forecast import Forecaster, ForecastError
    from bayes.us_share import GROUP

    stored = DemandModel.load(systems_path)
    whole = Forecaster(_with_basis(stored, "us"), max_draws=400, max_horizon=3, seed=4)
    us = Forecaster(_with_basis(stored, "every_supplier"), max_draws=400, max_horizon=3, seed=4)
    # without a book, whose firm requests would set each cell's floor after the split
    no_book = pd.DataFrame(columns=["id", "partner", "family", "received", "status", "quantity"])
    for f in (whole, us):
        f.set_book(no_book, "no book")
    assert (us.cube <= whole.cube).all() and (us.units <= whole.units).all()
    assert us.cube.sum() < whole.cube.sum()
    p_us = np.moveaxis(us.us_shares.probabilities(us.years), 0, -1)  # (P, F, Y, S)
    expected = (whole.cube * p_us).sum()
    assert abs(us.cube.sum() - expected) < 4 * np.sqrt(expected) + 1  # Binomial thinning, in sum
    assert ((us.cube == 0) | (us.units > 0)).all()  # every U.S. order keeps units

    lacking = _with_basis(stored, "every_supplier")
    lacking.idata = stored.idata.copy()
    del lacking.idata[GROUP]
    with pytest.raises(ForecastError, match=r"U\.S\. share model"):
        Forecaster(lacking, max_draws=50, max_horizon=2)

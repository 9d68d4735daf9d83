"""The U.S. share model: its panel from every supplier's orders, the history terms, recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
    # family and region effects sum to zero in the model: the intercept takes the drawn ones' means
    truth = truth | {"intercept": truth["intercept"] + truth["region"].mean() + truth["family"].mean()}
    for name in ("intercept", "incumbency", "competition", "sigma_partner", "trend_mean"):
        lo, hi = np.quantile(fx[name], [0.01, 0.99])
        assert lo < truth[name] < hi, (name, truth[name], lo, hi)
    assert np.corrcoef(fx["partner"].mean(axis=0), truth["partner"])[0, 1] > 0.7
    p = model.probabilities(panel, np.arange(2020, 2023))
    assert p.shape == (4000, 40, 10, 3) and ((p > 0) & (p < 1)).all()


def test_us_demand_thins_each_draw_of_the_whole() -> None:
    rng = np.random.default_rng(0)
    total = rng.poisson(3.0, (4000, 2, 3))
    p_us = np.array([0.1, 0.6])[None, :, None]
    us = us_demand(total, p_us, np.random.default_rng(1))
    assert (us <= total).all() and (us >= 0).all()
    np.testing.assert_allclose(us.mean(axis=(0, 2)), 3.0 * np.array([0.1, 0.6]), rtol=0.06)
    with pytest.raises(ShareError, match="whole numbers"):
        us_demand(np.array([1.5]), 0.5, rng)

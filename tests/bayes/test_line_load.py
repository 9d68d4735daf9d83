"""Line loads: requests placed in production years by delivery lags, the domestic quantity carried, risk."""

from __future__ import annotations

import numpy as np
import pytest

from bayes.forecast import LINE_SOURCES, Forecaster, ForecastError
from bayes.line_load import carried_plan, place
from evidence.lags import MAX_LAG, lag_shares


def test_place_spreads_each_order_by_its_lags() -> None:
    lags = np.array([0.0, 0.5, 0.5])
    units = np.array([[10.0, 20.0], [4.0, 4.0]])  # two orders, two draws
    out = place(units, np.array([2020, 2021]), lags, np.arange(2020, 2024))
    np.testing.assert_allclose(out, [[0, 0], [5, 10], [7, 12], [2, 2]])


def test_a_carried_quantity_is_the_budget_in_its_year_and_mean_one_after() -> None:
    rng = np.random.default_rng(0)
    out = carried_plan(100.0, 2017, np.array([2017, 2022, 2026]), 0.3, rng, 20_000)
    np.testing.assert_allclose(out[0], 100.0)
    assert out[1].mean() == pytest.approx(100, rel=0.03) and out[2].std() > out[1].std() > 0


def test_shipped_lags_sum_to_one_and_fall_back_to_the_family() -> None:
    share, basis = lag_shares("patriot_pac3", "sam")
    assert share.shape == (MAX_LAG + 1,) and share.sum() == pytest.approx(1) and "system" in basis
    share, basis = lag_shares("no_such_system", "sam")
    assert "family" in basis
    share, basis = lag_shares("x", "no_such_family")
    assert share[0] == 1 and "assumption" in basis


def test_line_risk_adds_its_sources_draw_by_draw(line_forecaster: Forecaster) -> None:
    f = line_forecaster
    ds = f.line_risk("patriot_mse", levels=[0.8])
    assert ds.attrs["systems"] == ["sys_a"] and ds.attrs["min_sustaining_rate"] == 72.0
    total_expected = sum(ds[f"{k}_expected"] for k in LINE_SOURCES)
    np.testing.assert_allclose(ds["mean"].values, total_expected.values, rtol=1e-9)
    lags, _ = lag_shares("sys_a", "f00")
    years = ds["year"].values
    backlog = 40 * lags[years - (years[0] - 1)]
    np.testing.assert_allclose(ds["backlog_expected"].values, backlog)  # p02's sys_b is on no line
    np.testing.assert_allclose(ds["firm_expected"].values, 30 * lags[years - years[0]])
    assert 0 < ds["pending_expected"].values.sum() < 1000 * lags[: len(years)].sum()
    assert "FY2017" in ds.attrs["domestic_basis"] and "P-21" in ds.attrs["capacity_basis"]
    assert ((ds["p_below_min"] >= 0) & (ds["p_below_min"] <= 1)).all()


def test_line_risk_for_a_subset_sees_only_that_subset(line_forecaster: Forecaster) -> None:
    f = line_forecaster
    other = f.line_risk("patriot_mse", partners=["p03"])
    assert other.attrs["partners"] == ["p03"]
    assert float(other["backlog_expected"].sum()) == 0 and float(other["firm_expected"].sum()) == 0


def test_an_unknown_line_is_refused_by_name(line_forecaster: Forecaster) -> None:
    with pytest.raises(ForecastError, match="unknown production line 'nope'"):
        line_forecaster.line_risk("nope")

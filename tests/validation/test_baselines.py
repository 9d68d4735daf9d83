"""Baselines recover what they assume from data generated that way, and have the shape the scorer takes."""

from __future__ import annotations

import numpy as np
import pytest

from validation.baselines import (
    BASELINES,
    PanelBaseline,
    as_panel,
    climatology,
    fully_pooled,
    naive_last_value,
)


@pytest.fixture(scope="module")
def history() -> np.ndarray:
    rng = np.random.default_rng(3)
    rates = rng.gamma(1.5, 1.0, size=(40, 6))
    dispersion = 2.0
    p = dispersion / (dispersion + rates[..., None])
    return rng.negative_binomial(dispersion, np.broadcast_to(p, (40, 6, 200)))


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_draws_have_the_forecast_shape(history: np.ndarray, name: str) -> None:
    baseline = BASELINES[name]
    # the global GBM learns from every (cell, year) row: 30 years show the shape as well as 200, faster
    data = as_panel(history[..., -30:]) if isinstance(baseline, PanelBaseline) else history
    draws = baseline(data, 3, 500, np.random.default_rng(0))
    assert draws.shape == (40, 6, 3, 500) and draws.min() >= 0
    assert np.issubdtype(draws.dtype, np.integer)


def test_climatology_recovers_cell_rates_and_dispersion(history: np.ndarray) -> None:
    draws = climatology(history, 1, 4000, np.random.default_rng(1))
    np.testing.assert_allclose(draws.mean(axis=(-1, -2)), history.mean(axis=-1), rtol=0.1, atol=0.05)
    means = draws.mean(axis=(-1, -2))
    implied = (means**2).sum() / (draws.var(axis=(-1, -2)) - means).sum()
    assert 1.6 < implied < 2.5  # the simulated dispersion is 2


def test_naive_repeats_the_last_year_and_pooled_ignores_the_cell(history: np.ndarray) -> None:
    naive = naive_last_value(history, 2, 3000, np.random.default_rng(2))
    np.testing.assert_allclose(naive.mean(axis=-1)[..., 0], history[..., -1], atol=0.25)
    pooled = fully_pooled(history, 1, 3000, np.random.default_rng(2)).mean(axis=(-1, -2))
    assert np.ptp(pooled) < 0.3 and pooled.mean() == pytest.approx(history.mean(), rel=0.05)


def test_the_unpooled_glm_recovers_each_series_trend() -> None:
    from validation.baselines import unpooled_glm

    rng = np.random.default_rng(4)
    years = np.arange(30)
    slopes = rng.normal(0, 0.05, size=(20, 3))
    rates = 3.0 * np.exp(slopes[..., None] * (years - 14.5))
    history = rng.poisson(rates)
    draws = unpooled_glm(history, 2, 4000, np.random.default_rng(5))
    expected = 3.0 * np.exp(slopes[..., None] * (np.array([30, 31]) - 14.5))
    ratio = draws.mean(axis=-1) / expected
    assert np.median(np.abs(np.log(ratio))) < 0.2
    assert unpooled_glm(np.zeros((2, 2, 10), dtype=int), 1, 10, rng).max() == 0  # no LORs: none forecast


@pytest.mark.parametrize("method", ["croston", "tsb", "adida"])
def test_intermittent_methods_track_a_sparse_rate(method: str) -> None:
    """Croston, TSB and ADIDA on series with LORs in about one year in four: the forecast rate is near
    the true one, cells without any LOR forecast none, and the NB spread is not Poisson-thin."""
    rng = np.random.default_rng(6)
    rate = rng.uniform(0.2, 0.6, size=(30, 4))
    history = rng.poisson(np.broadcast_to(rate[..., None], (30, 4, 40)))
    history[0, 0] = 0
    draws = BASELINES[method](history, 2, 3000, np.random.default_rng(7))
    assert draws.shape == (30, 4, 2, 3000) and draws[0, 0].max() == 0
    means = draws.mean(axis=(-1, -2))
    assert np.median(np.abs(means - rate)[1:]) < 0.15
    assert (draws.var(axis=-1) >= 0.8 * draws.mean(axis=-1)).mean() > 0.9

"""The baselines a forecaster in this field would pick: a global LightGBM over every series, and AutoETS /
AutoARIMA on family totals split to partners. They learn what they should from data made that way, give
the same draws for the same seed, keep to the origin, and the best baseline is read off level by level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from evidence.loaders import load_dataset
from validation.backtest import best_baseline_table, best_baselines, check_no_lookahead, contender_for
from validation.baselines import BASELINES, as_panel, climatology
from validation.gbm import global_gbm
from validation.top_down import disaggregate, family_moments, family_total, nb_moment_draws, share_weights

NEW = ("lightgbm", "autoets", "autoarima")


def _run(name: str, history: np.ndarray, horizon: int, samples: int, seed: int) -> np.ndarray:
    data = as_panel(history) if name == "lightgbm" else history
    return BASELINES[name](data, horizon, samples, np.random.default_rng(seed))


@pytest.fixture(scope="module")
def sparse_history() -> np.ndarray:
    rng = np.random.default_rng(21)
    rates = rng.gamma(0.5, 0.6, size=(25, 4))
    history = rng.poisson(np.broadcast_to(rates[..., None], (25, 4, 20)))
    history[:, 3] = 0  # a family nobody has asked for
    return history


@pytest.mark.parametrize("name", NEW)
def test_draws_are_reproducible_non_negative_counts(sparse_history: np.ndarray, name: str) -> None:
    draws = _run(name, sparse_history, 3, 300, seed=4)
    assert draws.shape == (25, 4, 3, 300)
    assert np.issubdtype(draws.dtype, np.integer) and draws.min() >= 0
    np.testing.assert_array_equal(draws, _run(name, sparse_history, 3, 300, seed=4))
    assert not np.array_equal(draws, _run(name, sparse_history, 3, 300, seed=5))
    if name != "lightgbm":  # top-down: a family without any LOR forecasts none
        assert draws[:, 3].max() == 0


def _markov_history(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """Cells that ask again after a year with an LOR (rate 2) and rarely otherwise (rate 0.1)."""
    history = np.zeros(shape, dtype=np.int64)
    history[..., 0] = rng.poisson(0.5, shape[:2])
    for t in range(1, shape[-1]):
        history[..., t] = rng.poisson(np.where(history[..., t - 1] > 0, 2.0, 0.1))
    return history


def test_the_gbm_learns_a_lag_that_climatology_cannot_see() -> None:
    rng = np.random.default_rng(8)
    history = _markov_history(rng, (60, 5, 30))
    active = history[..., -1] > 0
    # E[y(T+1)] and E[y(T+2)] given the last year, from the chain's transition probabilities
    p_on, p_off = 1 - np.exp(-2.0), 1 - np.exp(-0.1)
    truth = np.stack(
        [
            np.where(active, 2.0, 0.1),
            np.where(active, p_on * 2 + (1 - p_on) * 0.1, p_off * 2 + (1 - p_off) * 0.1),
        ],
        axis=-1,
    )
    gbm = global_gbm(as_panel(history), 2, 2000, np.random.default_rng(9)).mean(axis=-1)
    clim = climatology(history, 2, 2000, np.random.default_rng(9)).mean(axis=-1)
    for step in range(2):
        gbm_error = np.mean((gbm[..., step] - truth[..., step]) ** 2)
        clim_error = np.mean((clim[..., step] - truth[..., step]) ** 2)
        assert gbm_error < 0.25 * clim_error, (step, gbm_error, clim_error)


def test_the_gbm_reads_the_fleet_known_at_the_end_of_each_year() -> None:
    """Requests follow last year-end's fleet age, redrawn every year: only a model that sees the age as
    known when its forecast is made (not a year early or late) can tell the cells apart."""
    rng = np.random.default_rng(10)
    shape = (60, 5, 25)
    age = rng.uniform(0, 50, size=shape)  # fleet mean age at the end of each year
    history = np.zeros(shape, dtype=np.int64)
    history[..., 0] = rng.poisson(0.05, shape[:2])
    history[..., 1:] = rng.poisson(0.05 + 1.5 * (age[..., :-1] > 25))
    panel = as_panel(history)
    dims = ("partner", "family", "year")
    before = np.concatenate([np.full((*shape[:2], 1), np.nan), age[..., :-1]], axis=-1)
    panel = panel.assign(
        fleet_units=(dims, np.full(shape, 10.0)),
        fleet_mean_age=(dims, before),  # the panel's convention: as of the end of the year before
        fleet_units_latest=(("partner", "family"), np.full(shape[:2], 10.0)),
        fleet_mean_age_latest=(("partner", "family"), age[..., -1]),
    )
    truth = 0.05 + 1.5 * (age[..., -1] > 25)
    gbm = global_gbm(panel, 1, 2000, np.random.default_rng(11))[..., 0, :].mean(axis=-1)
    clim = history.mean(axis=-1)
    assert np.mean((gbm - truth) ** 2) < 0.25 * np.mean((clim - truth) ** 2)


@pytest.mark.parametrize("method", ["autoets", "autoarima"])
def test_family_models_forecast_a_steady_family_near_its_level(method: str) -> None:
    rng = np.random.default_rng(12)
    totals = 20 + rng.integers(-2, 3, size=30)  # a level of 20 a year, give or take two
    history = np.zeros((8, 2, 30), dtype=np.int64)
    for t, n in enumerate(totals):
        history[:, 0, t] = rng.multinomial(n, np.full(8, 1 / 8))
    draws = family_total(method, history, 3, 4000, np.random.default_rng(13))
    family = draws.sum(axis=0)[0]  # (horizon, samples)
    assert np.all(np.abs(family.mean(axis=-1) - 20.0) < 1.5), family.mean(axis=-1)
    assert np.all(family.var(axis=-1) >= 0.9 * family.mean(axis=-1))  # never thinner than Poisson
    assert draws[:, 1].max() == 0  # the family without LORs


def test_the_split_conserves_every_family_draw_and_follows_recent_shares() -> None:
    rng = np.random.default_rng(14)
    history = np.zeros((5, 2, 20), dtype=np.int64)
    history[0, 0, -10:] = 9  # partner 0 has made 90% of family 0's requests in the last decade
    history[1, 0, -10:] = 1
    history[2, 0, :5] = 3  # partner 2 bought it long ago
    history[3, 1, :] = 2  # partner 3 buys only family 1
    # composed: the family draws are the first thing drawn, so the same seed gives them back
    draws = family_total("autoets", history, 2, 3000, np.random.default_rng(15))
    means, sds = family_moments("autoets", history.sum(axis=0), 2)
    family = nb_moment_draws(means, sds, 3000, np.random.default_rng(15))
    np.testing.assert_array_equal(draws.sum(axis=0), family)

    family_draws = rng.poisson(5.0, size=(2, 3, 2000))
    split = disaggregate(family_draws, share_weights(history), rng)
    np.testing.assert_array_equal(split.sum(axis=0), family_draws)
    share = split[:, 0].sum(axis=(1, 2)) / family_draws[0].sum()
    assert 0.82 < share[0] < 0.95 and share[1] < 0.2
    assert 0 < share[2] < 0.05 and share[4] < 0.01  # long ago: a little; never: next to nothing


@pytest.fixture(scope="module")
def dataset(sim_world: Path):
    return load_dataset(sim_world)


# autoarima reads the same family totals through the same code as autoets (only the model differs):
# checking it too would add six seconds and no coverage
@pytest.mark.parametrize("name", ["lightgbm", "autoets"])
def test_the_new_baselines_use_only_the_past(dataset, name: str) -> None:
    pred = check_no_lookahead(contender_for(name, 2000), dataset, 2014, 2, name, samples=100)
    assert pred.draws.shape == (len(pred.partners), len(pred.families), 2, 100)
    np.testing.assert_array_equal(pred.years, [2015, 2016])


def _row(model: str, metric: str, value: float, level: str = "cell", origin: object = "all") -> dict:
    return {"model": model, "level": level, "origin": origin, "metric": metric, "value": value}


def test_the_best_baseline_and_skill_against_it_are_read_off_per_level() -> None:
    result = {
        "rows": [
            _row("climatology", "crps", 0.30),
            _row("tsb", "crps", 0.25),
            _row("ours", "crps", 0.20),
            _row("ours-without-nlp", "crps", 0.30),
            _row("climatology", "brier", 0.10),
            _row("tsb", "brier", 0.12),
            _row("ours", "brier", 0.11),
            _row("ours-without-nlp", "brier", 0.10),
            _row("climatology", "crps", 2.0, level="family_year"),
            _row("autoets", "crps", 1.5, level="family_year"),
            _row("ours", "crps", 1.2, level="family_year"),
            _row("ours-without-nlp", "crps", 1.5, level="family_year"),
            _row("tsb", "coverage_80", 0.8),  # coverage has no best: not read off
            _row("tsb", "crps", 0.01, origin=2015),  # one origin's score: not the pooled one
        ]
    }
    records = {(r["level"], r["metric"], r["model"]): r for r in best_baselines(result)}
    assert set(records) == {
        (level, metric, model)
        for level, metric in (("cell", "crps"), ("cell", "brier"), ("family_year", "crps"))
        for model in ("ours", "ours-without-nlp")
    }
    cell = records["cell", "crps", "ours"]
    assert (cell["best_baseline"], cell["best_baseline_value"]) == ("tsb", 0.25)
    assert cell["skill"] == pytest.approx(0.2)
    assert records["cell", "brier", "ours"]["best_baseline"] == "climatology"
    assert records["cell", "brier", "ours"]["skill"] == pytest.approx(-0.1)
    assert records["family_year", "crps", "ours"]["best_baseline"] == "autoets"
    assert records["family_year", "crps", "ours-without-nlp"]["skill"] == pytest.approx(0.0)

    table = best_baseline_table(result)
    assert table.loc[("family_year", "crps"), "best_baseline"] == "autoets"
    assert table.loc[("family_year", "crps"), "skill ours"] == pytest.approx(0.2)
    assert table.loc[("cell", "brier"), "ours-without-nlp"] == pytest.approx(0.10)
    assert best_baseline_table(result, origin="2015").loc[("cell", "crps"), "best_baseline"] == "tsb"

    baselines_only = {"rows": [r for r in result["rows"] if not r["model"].startswith("ours")]}
    only = best_baselines(baselines_only)
    assert len(only) == 3 and all(r["model"] is None and r["skill"] is None for r in only)
    assert list(best_baseline_table(baselines_only).columns) == ["best_baseline", "best_baseline_value"]


def test_a_bare_history_is_a_panel_of_one_region() -> None:
    panel = as_panel(np.ones((3, 2, 5), dtype=np.int64), first_year=2000)
    assert isinstance(panel, xr.Dataset) and set(panel["partner_region"].values) == {""}
    assert int(panel["year"][-1]) == 2004

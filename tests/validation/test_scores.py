"""Scores on forecasts whose right answers are known: a calibrated forecast scores better than a
biased one, coverage and PIT come out nominal for a calibrated one, and values agree with
closed forms where scoringrules has them."""

from __future__ import annotations

import numpy as np
import pytest
import scoringrules as sr
from scipy import stats

from validation.scores import COVERAGE_LEVELS, METRICS, score, skill


@pytest.fixture(scope="module")
def world() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    means = rng.gamma(2.0, 1.0, size=4000)
    observed = rng.poisson(means)
    calibrated = rng.poisson(means[:, None], size=(4000, 2000))
    biased = rng.poisson(3 * means[:, None] + 1, size=(4000, 2000))
    return observed, calibrated, biased


def test_a_calibrated_forecast_beats_a_biased_one_on_every_score(world) -> None:
    observed, calibrated, biased = world
    good, bad = score(observed, calibrated).means(), score(observed, biased).means()
    for metric in ("crps", "log_score", "wis", "brier"):
        assert good[metric] < bad[metric], metric
    assert set(good) == set(METRICS)
    assert skill(good["crps"], bad["crps"]) > 0.2


def test_coverage_and_randomized_pit_are_nominal_when_calibrated(world) -> None:
    observed, calibrated, _ = world
    s, b = score(observed, calibrated), score(observed, world[2])
    for level in COVERAGE_LEVELS:
        # intervals of small counts include their ends: coverage is at least nominal, often above
        assert s.covered[level].mean() >= level - 0.02, level
        assert b.covered[level].mean() < s.covered[level].mean() - 0.1, level
    assert stats.kstest(s.pit, "uniform").pvalue > 0.001  # p-values over seeds checked: uniform
    assert stats.kstest(score(*world[::2]).pit, "uniform").pvalue < 1e-6  # biased: far from uniform


def test_crps_of_draws_approaches_the_closed_form_poisson_crps() -> None:
    rng = np.random.default_rng(2)
    observed = np.array([0, 1, 3, 7])
    draws = rng.poisson(2.5, size=(4, 40_000))
    exact = sr.crps_poisson(observed, 2.5)
    np.testing.assert_allclose(score(observed, draws).crps, exact, rtol=0.02, atol=0.005)


def test_log_score_is_minus_log_of_the_predicted_probability() -> None:
    draws = np.array([[0, 0, 1, 2], [5, 5, 5, 5]])
    s = score(np.array([1, 4]), draws)
    assert s.log_score[0] == pytest.approx(-np.log(0.25))
    assert s.log_score[1] == pytest.approx(-np.log(0.5 / 4))  # never drawn: floored, finite


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="targets, samples"):
        score(np.zeros(3), np.zeros((2, 10)))


def test_one_sort_gives_what_unsorted_scoring_gives(world) -> None:
    observed, calibrated, _ = world
    draws = calibrated[:500, ::-1]  # reversed: any order in, the same scores out
    s = score(observed[:500], draws, quantiles=(0.1, 0.975))
    np.testing.assert_allclose(s.crps, sr.crps_ensemble(observed[:500], draws.astype(float)), rtol=1e-12)
    for q in (0.1, 0.975):
        np.testing.assert_array_equal(s.quantiles[q], np.quantile(draws, q, axis=-1, method="inverted_cdf"))
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=-1, method="inverted_cdf")
    np.testing.assert_array_equal(s.covered[0.9], (observed[:500] >= lo) & (observed[:500] <= hi))


def test_a_calibrated_count_forecast_covers_what_its_own_intervals_promise(world) -> None:
    """Counts' intervals include their ends, so a calibrated forecast covers more than nominal --
    and as much as its own predictive mass inside the interval."""
    observed, calibrated, biased = world
    good, bad = score(observed, calibrated), score(observed, biased)
    for level in COVERAGE_LEVELS:
        promised = good.own_coverage[level].mean()
        assert promised > level + 0.01, level
        assert abs(good.covered[level].mean() - promised) < 0.02, level
        assert bad.covered[level].mean() < bad.own_coverage[level].mean() - 0.1, level


def test_own_coverage_is_the_same_for_counts_and_for_floats(world) -> None:
    """Integer draws take a one-searchsorted path, float draws a comparison: the same numbers."""
    observed, calibrated, _ = world
    ints, floats = (
        score(observed[:300], calibrated[:300]),
        score(observed[:300], calibrated[:300].astype(float)),
    )
    for level in COVERAGE_LEVELS:
        np.testing.assert_array_equal(ints.own_coverage[level], floats.own_coverage[level])

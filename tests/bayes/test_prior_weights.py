"""Reweighting posterior draws to other priors: checked on a conjugate model with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from bayes.prior_weights import reweighting
from priors.priorset import parse_priors


def _priors(**entries: dict) -> object:
    return parse_priors({"version": "t", **{k: {**v, "rationale": "test"} for k, v in entries.items()}})


def _posterior(prior_mu: float, prior_sd: float, y: np.ndarray, n: int, rng) -> np.ndarray:
    """Exact draws of theta | y for y_i ~ Normal(theta, 1) and theta ~ Normal(prior_mu, prior_sd)."""
    precision = 1 / prior_sd**2 + len(y)
    mean = (prior_mu / prior_sd**2 + y.sum()) / precision
    return rng.normal(mean, 1 / np.sqrt(precision), n)


def test_reweighted_draws_match_the_posterior_under_the_other_priors() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(0.8, 1.0, 20)
    fitted_under = _priors(theta={"dist": "Normal", "mu": 0.0, "sigma": 1.0})
    wanted = _priors(theta={"dist": "Normal", "mu": 1.5, "sigma": 0.5})
    draws = _posterior(0.0, 1.0, y, 8000, rng)
    rw = reweighting({"theta": draws}, fitted_under, wanted)
    assert rw.usable and rw.changed == ("theta",) and rw.khat < 0.7
    truth = _posterior(1.5, 0.5, y, 200_000, rng)
    assert rw.weights @ draws == pytest.approx(truth.mean(), abs=0.01)
    assert rw.weights.sum() == pytest.approx(1.0)


def test_weights_are_refused_when_they_cannot_be_trusted_or_are_not_needed() -> None:
    rng = np.random.default_rng(1)
    draws = {"theta": rng.normal(0.0, 0.1, 2000)}
    base = _priors(theta={"dist": "Normal", "mu": 0.0, "sigma": 1.0})
    assert not reweighting(draws, base, base).usable
    far = reweighting(draws, base, _priors(theta={"dist": "Normal", "mu": 5.0, "sigma": 0.05}))
    assert not far.usable and "k-hat" in far.reason and far.khat > 0.7
    other = _priors(
        theta={"dist": "Normal", "mu": 0.0, "sigma": 1.0}, tau={"dist": "HalfNormal", "sigma": 1.0}
    )
    unmapped = reweighting(draws, base, other)
    assert not unmapped.usable and "tau" in unmapped.reason


def test_a_question_with_equal_weights_is_the_plain_answer(line_forecaster) -> None:
    f = line_forecaster
    plain = f.question("f00", 1, 12, partners=["p01", "p02"], levels=(0.8,))
    n = f.cube.shape[-1]  # the forecaster's draws
    equal = np.full(n, 1 / n)
    weighted = f.question("f00", 1, 12, partners=["p01", "p02"], levels=(0.8,), weights=equal)
    assert weighted["probability"] == pytest.approx(plain["probability"])
    assert weighted["expected_units"] == pytest.approx(plain["expected_units"])
    assert weighted["intervals"] == plain["intervals"] and weighted["median_units"] == plain["median_units"]

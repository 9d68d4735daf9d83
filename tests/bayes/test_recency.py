"""The recency term: a cell's own decayed history on its rate, in the graph, in numpy, drawn year by year."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytensor
import pytest

from bayes.forecast import Forecaster
from bayes.model import DemandModel, default_model_config
from bayes.simulate import WorldSpec
from bayes.terms.recency import Recency, history, lag_weights
from tests.bayes.conftest import recovered

RECENCY = {"recency": "own"}


def test_history_is_the_decayed_sum_of_earlier_years() -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.7, (3, 2, 9))
    decay = np.array([0.3, 0.8])
    got = history(counts, decay)
    for k, d in enumerate(decay):
        for t in range(counts.shape[-1]):
            past = sum(d ** (t - 1 - s) * counts[..., s] for s in range(t))
            np.testing.assert_allclose(got[k, ..., t], np.log1p(past))
    # the graph's weights are the numpy ones
    import pytensor.tensor as pt

    with pytensor.config.change_flags(floatX="float64"):
        graph = lag_weights(pt.as_tensor(0.8), 9).eval()
    np.testing.assert_allclose(graph, lag_weights(np.array(0.8), 9), rtol=1e-6)


def test_forecast_years_feed_their_own_draws_forward() -> None:
    """Drawn year by year: a positive slope raises the years after a large one (follow-on), a negative
    one lowers them (saturation), and a zero slope is the plain NB."""
    s, p, f, h = 4000, 1, 1, 3
    log_mu = np.full((s, p, f, h), np.log(0.5))
    start = {"recency_state": np.zeros((s, p, f)), "recency_centre": np.zeros((s, p, f))}
    phi = np.full((s, 1, 1, 1), 5.0)

    def draws(slope: float) -> np.ndarray:
        params = {"recency_slope": np.full((s, f), slope), "recency_decay": np.full(s, 0.5)}
        return Recency.draw_sequential(np.random.default_rng(2), log_mu, params, start, phi)

    flat, follow, saturate = draws(0.0), draws(0.8), draws(-0.8)
    assert abs(flat.mean() - 0.5) < 0.03
    np.testing.assert_array_equal(flat[..., 0], follow[..., 0])  # the first year has no forecast history
    busy = follow[..., 0] > 0
    assert follow[..., 1][busy].mean() > 0.5 * 1.3 > follow[..., 1][~busy].mean()
    busy = saturate[..., 0] > 0
    assert saturate[..., 1][busy].mean() < 0.45


def test_an_old_file_without_recency_priors_still_loads() -> None:
    """Recency's priors are required only where the settings can turn it on (a file fitted before the
    term existed carries none)."""
    stored = json.loads(json.dumps(default_model_config()))
    priors = {k: v for k, v in stored["priors"].items() if "recency" not in k}
    model = DemandModel({**stored, "priors": priors})
    assert "recency_decay" not in model.priors.priors
    with pytest.raises(ValueError, match="recency_decay"):
        DemandModel({**stored, "priors": priors, **RECENCY})


@pytest.mark.slow
def test_recency_is_recovered_from_a_world_that_has_it(tmp_path: Path) -> None:
    """Parameter recovery: a world whose families follow on their own recent orders, fitted with the
    term on; the decay and the mean slope are recovered and the forecast draws year by year. (With the
    history centred within each cell, the chains split: R-hat 1.53 for the mean slope.)"""
    spec = WorldSpec(recency_mean=0.5, sigma_recency=0.15, recency_decay=0.5)
    model, truth = recovered(tmp_path, spec, RECENCY, {"recency_decay": 0.5}, seed=3)
    post = model.draws
    lo, hi = np.quantile(post.recency_mean, [0.01, 0.99])
    assert lo < truth["realised"]["recency_mean"] < hi, (truth["realised"]["recency_mean"], lo, hi)
    slopes = post.recency_slope.mean(axis=0)
    true = np.array(list(truth["recency_slope"].values()))
    assert np.corrcoef(slopes, true)[0, 1] > 0 or np.allclose(true, true.mean(), atol=0.2)
    fc = Forecaster(model, max_draws=200, max_horizon=3, seed=1, allow_failed=True)
    assert {"recency_state", "recency_centre"} <= set(fc._inputs)
    assert fc.cube.shape[-1] == 200 and fc.cube.sum() > 0

"""Notices: text mentions as requests on the book, becoming orders with a learned probability and delay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytensor
import pytest
import xarray as xr

from bayes import terms
from bayes.config import ModelConfig
from bayes.forecast import Forecaster
from bayes.model import DemandModel, default_model_config
from bayes.panel import build_panel
from bayes.simulate import WorldSpec
from bayes.terms.notices import Notices, delay_weights
from evidence.loaders import load_dataset
from tests.bayes.conftest import random_levels, recovered

REQUESTS = {"text_evidence": "requests"}


def test_delay_weights_sum_to_one_and_fall_with_a_short_delay() -> None:
    import pytensor.tensor as pt

    for delay in (0.1, 0.5, 0.9):
        w = np.array(delay_weights(np.array(delay), 4))
        assert np.isclose(w.sum(), 1.0) and np.all(np.diff(w) < 0)
        with pytensor.config.change_flags(floatX="float64"):
            graph = [float(x.eval()) for x in delay_weights(pt.as_tensor(np.float64(delay)), 4)]
        np.testing.assert_allclose(graph, w, rtol=1e-12)


def test_requests_add_orders_on_top_of_the_rate_not_to_its_log() -> None:
    rng = np.random.default_rng(0)
    s, p, f, t = 3, 4, 2, 6
    base = random_levels(rng, s, p, f)
    inputs: dict = {}
    lags = rng.poisson(0.3, (4, p, f, t)).astype(float)
    params = {**base, "notice_conversion": np.array([0.0, 0.2, 0.5]), "notice_delay": np.full(s, 0.5)}
    plain = terms.log_rate(base, inputs)
    with_requests = terms.log_rate(params, {**inputs, "notice_lags": lags})
    w = np.array(delay_weights(params["notice_delay"], 4))  # (lag, draw)
    added = params["notice_conversion"][:, None, None, None] * np.einsum("ls,lpft->spft", w, lags)
    np.testing.assert_allclose(np.exp(with_requests), np.exp(plain) + added, rtol=1e-12)
    np.testing.assert_allclose(with_requests[0], np.broadcast_to(plain[0], (p, f, t)))  # nothing added
    # without any request in any lag the rate is the plain one, whatever the conversion
    quiet = terms.log_rate(params, {**inputs, "notice_lags": np.zeros_like(lags)})
    np.testing.assert_allclose(quiet, np.broadcast_to(plain, quiet.shape))


def _constant_data(signal: np.ndarray, covered: np.ndarray, years: np.ndarray) -> xr.Dataset:
    return xr.Dataset(
        {
            "nlp_signal_recent": (("partner", "family", "recent_year"), signal),
            "nlp_covered_recent": ("recent_year", covered),
        },
        coords={"recent_year": years},
    )


def test_forecast_years_convert_only_the_requests_noticed_by_the_origin() -> None:
    years = np.arange(2009, 2013)  # the last four fitted years, origin 2012
    signal = np.zeros((1, 1, 4))
    signal[0, 0, :] = [1.0, 2.0, 3.0, 4.0]
    covered = np.array([0, 1, 1, 1])  # 2009's mentions were never read: not on the book
    config = ModelConfig.from_mapping({**default_model_config(), **REQUESTS}, terms.SWITCHABLE)
    ctx = terms.FutureContext(
        params={},
        horizon=3,
        years=np.arange(2013, 2016),
        reference_year=2012,
        centre_year=2000.0,
        constant_data=_constant_data(signal, covered, years),
        scales={},
        config=config,
        present={"notices": True},
        trend_damping=0.0,
    )
    x = Notices().future_inputs(ctx, np.random.default_rng(0))["notice_lags"][:, 0, 0, :]  # (lag, year)
    # 2013: lag 1 reads 2012 (4), lag 2 2011 (3), lag 3 2010 (2); lag 0 is 2013 itself, not noticed yet
    np.testing.assert_array_equal(x[:, 0], [0.0, 4.0, 3.0, 2.0])
    np.testing.assert_array_equal(x[:, 1], [0.0, 0.0, 4.0, 3.0])
    np.testing.assert_array_equal(x[:, 2], [0.0, 0.0, 0.0, 4.0])  # 2015, lag 3: 2012


def test_the_lagged_signal_and_the_requests_are_one_or_the_other(sim_world: Path) -> None:
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    for config, on, off in (({}, "nlp", "notices"), (REQUESTS, "notices", "nlp")):
        model = DemandModel(config)
        model.build_model(panel)
        present = terms.presence(model.design, model.config)
        assert present[on] and not present[off]
    # the ablation switch turns the requests off too
    model = DemandModel({**REQUESTS, "components": {"nlp": False}})
    model.build_model(panel)
    assert not terms.presence(model.design, model.config)["notices"]


@pytest.mark.slow
def test_notices_are_recovered_from_a_world_whose_mentions_are_requests(tmp_path: Path) -> None:
    """Parameter recovery: a world where each mention becomes an order with probability 0.3 after a
    geometric delay (0.4), and the lagged signal is nil; fitted with the requests, both are recovered
    and the forecast adds the requests on the book."""
    spec = WorldSpec(notice_conversion=0.3, notice_delay=0.4, nlp_lag=(0.0, 0.0, 0.0, 0.0))
    model, _ = recovered(tmp_path, spec, REQUESTS, {"notice_conversion": 0.3, "notice_delay": 0.4}, seed=2)
    fc = Forecaster(model, max_draws=200, max_horizon=3, seed=1)
    assert fc._inputs["notice_lags"].any()

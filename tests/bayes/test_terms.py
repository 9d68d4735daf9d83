"""Every term's rate is written once: the graph the sampler sees, the gathered cells and every numpy
reader (posterior predictive, log-likelihood, forecasts' fitted years) agree at the same point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytensor
import pytest
import xarray as xr

from bayes import terms
from bayes.design import build_design, partner_future, partner_standardised
from bayes.model import DemandModel, PosteriorDraws
from bayes.observation import nb_logpmf
from bayes.panel import build_panel
from evidence.loaders import load_dataset

# the optional terms, each on, and the parts they make present (the default model's own agreement is
# tested in test_model.py)
CONFIGS = [
    {"recency": "own"},
    {"budgets": "on", "channels": "on"},
    {"waves": "on"},
    {"text_evidence": "requests"},
]
# Each configuration compiles its model's graph (about 10 s): the fast tier checks one, the integration
# tier the others.
TIERED_CONFIGS = [
    pytest.param(c, marks=() if i == 0 else pytest.mark.integration, id="+".join(c))
    for i, c in enumerate(CONFIGS)
]
PARTS = {
    "recency": ["recency"],
    "budgets": ["budgets", "channels"],
    "waves": ["waves"],
    "text_evidence": ["notices"],
}


def _with_partner_figures(panel: xr.Dataset, seed: int = 0) -> xr.Dataset:
    """A simulated panel given budget and channel figures, a fifth of them unknown."""
    rng = np.random.default_rng(seed)
    n_p, n_t = panel.sizes["partner"], panel.sizes["year"]
    out = panel.copy()
    for name, dim, k in (("partner_budget", "budget_measure", 3), ("partner_channel", "channel_measure", 3)):
        values = rng.normal(0.0, 1.0, (k, n_p, n_t + 1)) + rng.normal(0.0, 2.0, (k, n_p, 1))
        values[rng.random(values.shape) < 0.2] = np.nan
        out[name] = ((dim, "partner", "year"), values[..., :-1])
        out[f"{name}_latest"] = ((dim, "partner"), values[..., -1])
    return out


@pytest.fixture(scope="module")
def panel(sim_world: Path) -> xr.Dataset:
    return _with_partner_figures(build_panel(load_dataset(sim_world), first_year=2000))


@pytest.mark.parametrize("config", TIERED_CONFIGS)
def test_the_fitted_rate_in_numpy_is_the_graph_s(panel: xr.Dataset, config: dict) -> None:
    model = DemandModel({**config, "likelihood": "reference"})
    built = model.build_model(panel)
    present = terms.presence(model.design, model.config)
    assert all(present[k] for k in PARTS[next(iter(config))])
    rng = np.random.default_rng(3)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in built.initial_point().items()}
    kw = {"inputs": built.value_vars, "on_unused_input": "ignore"}
    # the point's own values (the RVs themselves would compile to fresh draws)
    outs = built.unobserved_value_vars
    with pytensor.config.change_flags(floatX="float64"):
        at_point = dict(zip([o.name for o in outs], built.compile_fn(outs, **kw)(point), strict=True))
        counts_logp = float(built.compile_fn(built.logp(vars=[built["lor_count"]], sum=True), **kw)(point))
    names = model.stored_names(model.design)
    draws = PosteriorDraws({n: np.asarray(at_point[n], dtype=float)[None] for n in names})
    mu = np.exp(draws.log_rate(model.design))[0]
    brute = nb_logpmf(model.design.counts.astype(float), mu, draws.dispersion[0]).sum()
    assert np.isclose(counts_logp, brute, rtol=1e-10), (counts_logp, brute)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "+".join(c))
@pytest.mark.integration  # compiles two full likelihoods per configuration
def test_sparse_likelihood_equals_the_reference(panel: xr.Dataset, config: dict) -> None:
    """The dense cube and the gathered non-zero cells place every addend alike."""
    sparse = DemandModel({**config, "likelihood": "sparse"}).build_model(panel)
    reference = DemandModel({**config, "likelihood": "reference"}).build_model(panel)
    rng = np.random.default_rng(4)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in reference.initial_point().items()}
    with pytensor.config.change_flags(floatX="float32"):
        a = sparse.compile_logp()({k: np.asarray(v, dtype="float32") for k, v in point.items()})
    b = reference.compile_logp()(point)
    assert np.isclose(float(a), float(b), rtol=1e-4), (a, b)


def test_partner_figures_are_taken_within_each_partner_unknown_as_its_mean(panel: xr.Dataset) -> None:
    raw = panel["partner_budget"].transpose("budget_measure", "partner", "year").values
    x, mean, scales = partner_standardised(raw)
    known = np.isfinite(raw)
    assert (x[~known] == 0).all()
    np.testing.assert_allclose(np.where(known, x, 0.0).sum(axis=-1), 0.0, atol=1e-9)  # within partners
    z = np.stack([scales[m].apply(raw[m]) for m in range(len(raw))])
    np.testing.assert_allclose(x[known], (z - mean[..., None])[known])
    # forecasts hold the last known figure, standardised alike; unknown is the partner's mean (0)
    latest = panel["partner_budget_latest"].transpose("budget_measure", "partner").values
    future = partner_future(latest, [[s.mean, s.sd] for s in scales], mean, 3)
    seen = np.isfinite(latest)
    assert future.shape == (*latest.shape, 3) and (future[..., 0] == future[..., 2]).all()
    assert (future[..., 0][~seen] == 0).all()
    expected = np.stack([scales[m].apply(latest[m]) for m in range(len(latest))]) - mean
    np.testing.assert_allclose(future[..., 0][seen], expected[seen])


def test_a_world_without_partner_figures_has_no_such_terms(sim_world: Path) -> None:
    plain = build_panel(load_dataset(sim_world), first_year=2000)
    design = build_design(plain)
    model = DemandModel({"budgets": "on", "channels": "on"})
    present = terms.presence(design, model.config)
    assert not present["budgets"] and not present["channels"]
    assert "budget_slope" not in model.stored_names(design)

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytensor
import pytest
import xarray as xr

from bayes.forecast import Forecaster, ForecastError
from bayes.model import STORED_DRAWS, DemandModel, analysis_path, thinned_chains
from bayes.panel import build_panel
from evidence.loaders import load_dataset


def test_posterior_files_open_as_is_in_xarray_and_arviz(fitted_path: Path) -> None:
    """The model file (what answers read) and the analysis file (every draw, for analysts) both open in
    ArviZ as they are."""
    import arviz as az

    tree = xr.open_datatree(fitted_path, engine="h5netcdf")
    groups = {g.lstrip("/") for g in tree.groups}
    assert {"posterior", "sample_stats", "observed_data", "constant_data", "sampler_state"} <= groups
    assert not {"prior", "log_likelihood", "posterior_predictive"} & groups
    assert tree["posterior"]["partner_effect"].dims == ("chain", "draw", "partner")
    assert tree["posterior"].sizes["chain"] == 4 and tree["posterior"].sizes["draw"] == STORED_DRAWS // 4
    attrs = tree.attrs
    for key in (
        "data_hash",
        "priors_hash",
        "priors_version",
        "code_version",
        "model_config",
        "sampler_config",
        "diagnostics",
        "status",
    ):
        assert attrs[key] not in ("", None), key
    assert json.loads(attrs["sampler_config"])["chains"] == 4
    summary = az.summary(tree, var_names=["intercept", "sigma_partner", "dispersion"])
    assert len(summary) == 3 and summary["r_hat"].notna().all()  # the chains kept apart

    whole = xr.open_datatree(analysis_path(fitted_path), engine="h5netcdf")
    groups = {g.lstrip("/") for g in whole.groups}
    assert {"posterior", "prior", "sample_stats", "log_likelihood", "posterior_predictive"} <= groups
    assert whole["posterior"].sizes["draw"] == json.loads(attrs["sampler_config"])["draws"]
    assert whole.attrs["fitted_at"] == attrs["fitted_at"]
    loo = az.loo(whole)
    assert np.isfinite(loo.elpd)
    import matplotlib

    matplotlib.use("Agg")
    assert az.plot_forest(whole, var_names=["family_effect"]) is not None


def test_the_model_file_s_draws_are_every_chain_s_evenly_spaced(fitted_path: Path) -> None:
    whole = xr.open_datatree(analysis_path(fitted_path), engine="h5netcdf")["posterior"].to_dataset()
    kept = xr.open_datatree(fitted_path, engine="h5netcdf")["posterior"].to_dataset()
    np.testing.assert_array_equal(
        kept["intercept"].values, thinned_chains(whole, STORED_DRAWS)["intercept"].values
    )
    loaded = DemandModel.load(fitted_path)  # with the analysis groups, thinned alike
    assert loaded.idata["log_likelihood"].sizes["draw"] == kept.sizes["draw"]
    assert "prior" in loaded.idata.children


def test_a_lean_save_keeps_the_analysis_file_and_another_fit_s_removes_it(
    fitted_path: Path, tmp_path: Path
) -> None:
    import shutil

    path = tmp_path / "m.nc"
    shutil.copy(fitted_path, path)
    shutil.copy(analysis_path(fitted_path), analysis_path(path))
    lean = DemandModel.load(path, analysis_groups=False)
    lean.save(path)  # e.g. a side model refitted into the file
    assert analysis_path(path).is_file()
    lean.idata.attrs["fitted_at"] = "another fit"
    lean.save(path)
    assert not analysis_path(path).exists()  # never an analysis file of another fit beside the model


def test_attrs_record_the_data_and_priors_that_made_the_fit(fitted, sim_world: Path) -> None:
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    assert fitted.idata.attrs["data_hash"] == panel.attrs["data_hash"]
    assert fitted.idata.attrs["priors_hash"] == fitted.priors.hash
    assert fitted.reference_year == 2019


def test_save_load_gives_identical_forecasts(fitted, tmp_path: Path) -> None:
    again = DemandModel.load(fitted.save(tmp_path / "copy.nc"))
    a = Forecaster(fitted, seed=3).forecast(horizon=4)
    b = Forecaster(again, seed=3).forecast(horizon=4)
    np.testing.assert_array_equal(a.draws.values, b.draws.values)
    xr.testing.assert_identical(a.cells, b.cells)
    assert again.model_config == fitted.model_config and again.sampler_config == fitted.sampler_config


def test_a_server_s_load_reads_the_forecaster_s_draws_alone_and_answers_the_same(fitted_path: Path) -> None:
    full = DemandModel.load(fitted_path)
    served = DemandModel.load(fitted_path, analysis_groups=False, max_draws=300)
    assert served.idata["posterior"].sizes["chain"] == 1 and served.idata["posterior"].sizes["draw"] == 300
    assert not {"prior", "log_likelihood", "posterior_predictive"} & set(served.idata.children)
    assert served.status == full.status and served.diagnostics == full.diagnostics  # every draw's verdict
    a = Forecaster(full, max_draws=300, seed=3).forecast(horizon=3)
    b = Forecaster(served, max_draws=300, seed=3).forecast(horizon=3)
    np.testing.assert_array_equal(a.draws.values, b.draws.values)
    xr.testing.assert_identical(a.cells, b.cells)


def test_a_stored_file_is_deflated_and_opens_as_is(fitted, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "deflated.nc")
    import h5py

    with h5py.File(path, "r") as f:
        assert f["posterior/intercept"].compression == "gzip"
        assert f["posterior/intercept"].shuffle
    np.testing.assert_array_equal(
        xr.open_datatree(path, engine="h5netcdf")["posterior"]["intercept"].values,
        fitted.idata["posterior"]["intercept"].values,
    )


def test_a_model_that_failed_its_gates_is_refused(fitted, tmp_path: Path) -> None:
    failed = DemandModel.load(fitted.save(tmp_path / "failed.nc"))
    diag = json.loads(failed.idata.attrs["diagnostics"])
    diag["failures"] = ["R-hat 1.2 > 1.01 (intercept)"]
    failed.idata.attrs.update({"status": "failed", "diagnostics": json.dumps(diag)})
    assert not failed.diagnostics.passed
    with pytest.raises(ForecastError, match="failed its gates"):
        Forecaster(failed)


@pytest.mark.integration  # a full fit
def test_gates_fail_on_a_fit_that_did_not_converge(sim_world: Path) -> None:
    """Far too few draws: the gates must say so, and the status must be 'failed'. Without the
    analysis groups (a backtest's fit) the posterior, gates and forecasts are the same."""
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    config = {"draws": 30, "tune": 30, "chains": 2, "ppc_draws": 10}
    model = DemandModel(sampler_config=config)
    model.fit(panel, progressbar=False)
    assert model.status == "failed"
    assert any("ESS" in f for f in model.diagnostics.failures)

    lean = DemandModel(sampler_config=config)
    lean.fit(panel, progressbar=False, analysis_groups=False)
    assert {"prior", "log_likelihood", "posterior_predictive"} <= set(model.idata.children)
    assert not {"prior", "log_likelihood", "posterior_predictive"} & set(lean.idata.children)
    xr.testing.assert_identical(lean.idata["posterior"].to_dataset(), model.idata["posterior"].to_dataset())
    assert lean.diagnostics == model.diagnostics
    forecast = {
        name: Forecaster(m, max_draws=40, seed=1, allow_failed=True).forecast(2).cells["mean"].values
        for name, m in (("full", model), ("lean", lean))
    }
    np.testing.assert_array_equal(forecast["full"], forecast["lean"])


@pytest.mark.integration  # compiles two full likelihoods
def test_sparse_likelihood_equals_the_reference_negative_binomial(sim_world: Path) -> None:
    """Our cheap likelihood must be the same density as pm.NegativeBinomial, up to float32 rounding."""
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    sparse = DemandModel({"likelihood": "sparse"}).build_model(panel)
    reference = DemandModel({"likelihood": "reference"}).build_model(panel)
    rng = np.random.default_rng(4)
    point = reference.initial_point()
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in point.items()}
    with pytensor.config.change_flags(floatX="float32"):
        a = sparse.compile_logp()({k: np.asarray(v, dtype="float32") for k, v in point.items()})
    b = reference.compile_logp()(point)
    assert np.isclose(float(a), float(b), rtol=1e-4), (a, b)


def test_partner_year_log_likelihood_equals_brute_force(fitted, sim_world: Path) -> None:
    from bayes.design import build_design
    from bayes.model import PosteriorDraws
    from bayes.observation import nb_logpmf

    panel = build_panel(load_dataset(sim_world), first_year=2000)
    design = build_design(panel)
    posterior = fitted.idata["posterior"].to_dataset().isel(chain=[0], draw=slice(0, 3))
    draws = PosteriorDraws.from_posterior(posterior)
    fast = DemandModel._log_likelihood(draws, panel, design, 1, 3)["lor_count"].values[0]
    mu = np.exp(draws.log_rate(design))
    y = panel["lor_count"].values[None]
    nb = nb_logpmf(y, mu, draws.dispersion[:, None, None, None])
    # computed and stored in float32, as the sampler ran
    np.testing.assert_allclose(fast, nb.sum(axis=2), rtol=2e-5)

    posterior["zero_inflation"] = (("chain", "draw"), np.full((1, 3), 0.3))
    zi = PosteriorDraws.from_posterior(posterior)
    fast = DemandModel._log_likelihood(zi, panel, design, 1, 3)["lor_count"].values[0]
    nb0 = nb_logpmf(np.zeros_like(y), mu, draws.dispersion[:, None, None, None])
    brute = np.where(y > 0, np.log(0.7) + nb, np.log(0.3 + 0.7 * np.exp(nb0))).sum(axis=2)
    np.testing.assert_allclose(fast, brute, rtol=2e-5)

    # a term whose input carries an index (waves: each partner's region) is gathered, not cast
    calm = posterior.drop_vars(["zero_inflation", "wave"], errors="ignore")
    mu_calm = np.exp(PosteriorDraws.from_posterior(calm).log_rate(design))
    shape = (1, 3, len(design.regions), *y.shape[2:])
    wave = np.random.default_rng(2).normal(0.0, 0.5, shape)
    waved = PosteriorDraws.from_posterior(
        calm.assign(wave=(("chain", "draw", "region", "family", "year"), wave))
    )
    fast = DemandModel._log_likelihood(waved, panel, design, 1, 3)["lor_count"].values[0]
    mu_wave = mu_calm * np.exp(wave[0][:, design.region_index])
    nb = nb_logpmf(y, mu_wave, draws.dispersion[:, None, None, None])
    np.testing.assert_allclose(fast, nb.sum(axis=2), rtol=2e-5)


def test_sparse_zero_inflated_likelihood_equals_brute_force() -> None:
    import pytensor.tensor as pt

    from bayes.observation import nb_logpmf, sparse_loglik

    rng = np.random.default_rng(3)
    log_mu = rng.normal(-4.0, 2.0, (6, 5, 8))
    counts = rng.poisson(np.exp(log_mu) * 20).astype(float)
    nz = np.nonzero(counts)
    phi, pi = 2.5, 0.2
    value = sparse_loglik(
        counts,
        pt.as_tensor_variable(log_mu.astype("float32")),
        pt.as_tensor_variable(log_mu[nz].astype("float32")),
        pt.as_tensor_variable(np.float32(phi)),
        pt.as_tensor_variable(np.float32(pi)),
    ).eval()
    mu = np.exp(log_mu)
    nb0 = nb_logpmf(np.zeros_like(counts), mu, phi)
    brute = np.where(
        counts > 0, np.log1p(-pi) + nb_logpmf(counts, mu, phi), np.log(pi + (1 - pi) * np.exp(nb0))
    )
    assert np.isclose(float(value), brute.sum(), rtol=1e-5), (value, brute.sum())


@pytest.mark.integration  # full fits
def test_warm_start_refit_starts_where_the_stored_fit_ended(fitted, sim_world: Path) -> None:
    state = fitted.sampler_state
    assert state is not None and state.position.shape == state.inverse_mass.shape
    assert state.position.shape[0] == 4 and (state.step_size > 0).all()
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    refit = DemandModel(
        fitted.model_config, {"draws": 200, "warm_tune": 100, "ppc_draws": 20, "random_seed": 9}
    )
    refit.fit(panel, progressbar=False, warm_start=state)
    assert refit.idata.attrs["warm_start"] == 1
    assert refit.idata["sample_stats"].attrs["tuning_steps"] == 100
    stats = refit.idata["sample_stats"]
    # the stored step size and mass matrix fit this posterior: no divergences, short trajectories
    assert int(stats["diverging"].sum()) == 0
    cold_steps = float(fitted.idata["sample_stats"]["n_steps"].mean())
    assert float(stats["n_steps"].mean()) < 1.5 * cold_steps
    a = refit.idata["posterior"]["intercept"].values.ravel()
    b = fitted.idata["posterior"]["intercept"].values.ravel()
    assert abs(a.mean() - b.mean()) < 3 * b.std()


def test_zero_inflated_likelihood_equals_brute_force() -> None:
    import pytensor.tensor as pt

    from bayes.observation import nb_logpmf, sparse_loglik

    rng = np.random.default_rng(2)
    counts = rng.negative_binomial(2, 0.7, size=(5, 4, 6)) * (rng.random((5, 4, 6)) < 0.5)
    log_mu = rng.normal(-0.5, 0.8, counts.shape)
    phi, pi = 2.5, 0.3
    nz = np.nonzero(counts)
    with pytensor.config.change_flags(floatX="float64"):
        ours = sparse_loglik(
            counts, pt.as_tensor(log_mu), pt.as_tensor(log_mu[nz]), pt.as_tensor(phi), pt.as_tensor(pi)
        ).eval()
    nb = nb_logpmf(counts.astype(float), np.exp(log_mu), phi)
    brute = np.where(counts == 0, np.logaddexp(np.log(pi), np.log1p(-pi) + nb), np.log1p(-pi) + nb).sum()
    assert np.isclose(float(ours), brute, rtol=1e-5), (ours, brute)


@pytest.mark.slow
def test_chains_give_the_same_draws_however_many_run_at_once(sim_world: Path) -> None:
    """Rounds of fewer parallel chains (to save memory) change nothing but the wall time."""
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    config = {"draws": 30, "tune": 30, "chains": 4, "random_seed": 4}
    _, together, _, _ = DemandModel(sampler_config=config).sample(panel, progressbar=False)
    _, rounds, _, state = DemandModel(sampler_config={**config, "parallel_chains": 2}).sample(
        panel, progressbar=False
    )
    np.testing.assert_array_equal(together["intercept"].values, rounds["intercept"].values)
    np.testing.assert_array_equal(together["partner_effect"].values, rounds["partner_effect"].values)
    assert state.position.shape[0] == 4


def test_a_stored_sampler_state_maps_onto_a_grown_model() -> None:
    from bayes._nuts import SamplerState

    old = SamplerState(
        (("a", ()), ("innovation", (2, 3))),
        np.array([0.1, 0.2]),
        np.array([[1.0, 2, 3, 4, 5, 6, 7], [1.0, 2, 3, 4, 5, 6, 7]]),
        np.array([[9.0, 1, 2, 3, 4, 5, 6], [9.0, 1, 2, 3, 4, 5, 6]]),
    )
    mass, position = old.aligned((("innovation", (2, 4)), ("a", ()), ("new", (2,))))
    # innovation grew by a year: the old 2 x 3 block keeps its values, the new column starts at 0
    np.testing.assert_array_equal(position[0, :8].reshape(2, 4), [[1, 2, 3, 0], [4, 5, 6, 0]])
    assert position[0, 8] == 9.0 and (position[0, 9:] == 0).all()
    np.testing.assert_array_equal(mass[0, :8].reshape(2, 4)[:, :3], [[2, 3, 4], [5, 6, 7]])
    assert mass[0, 3] == np.median(old.inverse_mass[0]) and mass[0, 8] == 1.0


@pytest.mark.parametrize(
    ("family_path", "trend", "dynamic"),
    [("ar1", False, True), ("trend", True, False), ("trend_ar1", True, True)],
)
def test_family_path_picks_the_trend_and_the_family_ar1(
    sim_world: Path, family_path: str, trend: bool, dynamic: bool
) -> None:
    """ "ar1": departures from the family's level, no trend; "trend_ar1": departures from its trend
    (orthogonal to it, so the two never trade off); "trend": the trend alone."""
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    model = DemandModel({"family_path": family_path}).build_model(panel)
    free = {v.name for v in model.free_RVs}
    assert ("sigma_trend" in free) == trend and ("family_trend" in free) == trend
    assert ("family_dynamic_innovation" in free) == dynamic and ("rho_family_dynamic" in free) == dynamic
    if not dynamic:
        return
    import pymc as pm

    with pytensor.config.change_flags(floatX="float32"):  # as the model was built
        path = pm.draw(model["family_dynamic"], random_seed=3)  # a path from the prior
    assert path.std() > 0.01
    np.testing.assert_allclose(path.mean(axis=1), 0.0, atol=1e-5)
    decade = model["decade"].get_value()
    assert (np.abs(path @ (decade - decade.mean())) < 1e-4).all() == trend


def test_an_unknown_family_path_is_refused() -> None:
    with pytest.raises(ValueError, match="family_path"):
        DemandModel({"family_path": "spline"})


@pytest.mark.slow
def test_a_near_miss_of_the_gates_continues_the_same_chains(sim_world: Path) -> None:
    """Chains that mixed almost well enough are continued from where they ended, their first draws
    kept as they were; a fit far from the gates is not (more of the same would not reach them)."""
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    sampler = {"draws": 100, "tune": 200, "chains": 2, "random_seed": 8, "extend_rounds": 0}
    first = DemandModel(sampler_config=sampler)
    first.fit(panel, progressbar=False, analysis_groups=False)
    ess = first.diagnostics.ess_bulk_min
    # only the bulk ESS short, by a third: the other gates are set out of the way
    near = {
        "ess_bulk_min": 1.5 * ess,
        "ess_tail_min": 1.0,
        "r_hat_max": 2.0,
        "divergences_max": 1e9,
        "bfmi_min": 0.0,
    }
    model = DemandModel({"gates": near}, {**sampler, "extend_rounds": 1})
    model.fit(panel, progressbar=False, analysis_groups=False)
    assert model.idata.attrs["extended_rounds"] == 1
    posterior = model.idata["posterior"]
    assert posterior.sizes["draw"] == 200
    np.testing.assert_array_equal(
        posterior["intercept"].values[:, :100], first.idata["posterior"]["intercept"].values
    )
    far = DemandModel({"gates": {**near, "ess_bulk_min": 10 * ess}}, {**sampler, "extend_rounds": 1})
    far.fit(panel, progressbar=False, analysis_groups=False)
    assert far.idata.attrs["extended_rounds"] == 0 and far.idata["posterior"].sizes["draw"] == 100

"""The hierarchical negative-binomial model of yearly LOR counts per partner × family.

    log mu[p, f, t] = levels + trend + partner dynamics + family paths + readiness + text signals
    lor_count[p, f, t] ~ NegativeBinomial(mu, dispersion)

Each term lives in its own module under :mod:`bayes.terms` (its priors, switch, part of the graph and
of every numpy evaluation); the observation model is :mod:`bayes.observation`; the settings are one
checked :class:`bayes.config.ModelConfig`. Alongside, in the same graph: log-normal units per LOR by
family and partner, and the share of requests that convert (learned from withdrawn requests).

The model is defined once in PyMC and sampled with NumPyro's NUTS through JAX. A fitted model is a
NetCDF file (an ArviZ DataTree) carrying its configs, data hash, prior hash, code version and
diagnostics as attributes; :meth:`DemandModel.load` restores it exactly.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import gammaln

from bayes import terms
from bayes._nuts import SamplerState, run_nuts
from bayes.config import CHOICES as CHOICES  # re-exported: backtest and CLI read the choices here
from bayes.config import ModelConfig
from bayes.config import invalid_choices as invalid_choices
from bayes.design import Design, build_design
from bayes.diagnostics import DEFAULT_GATES, Diagnostics, diagnose
from bayes.diagnostics import from_dict as diagnostics_from_dict
from bayes.observation import draw_counts, sparse_loglik
from bayes.terms import SWITCHABLE as SWITCHABLE
from priors import PriorSet, load_priors, parse_priors
from totaldemand.errors import UserError

log = logging.getLogger(__name__)

MODEL_NAME = "nb_hierarchical"
MODEL_VERSION = "3"  # 3: NLP covariate is log(1 + mentions), centred, unscaled
DIMS = ("partner", "family", "year")


def code_version() -> str:
    try:
        return version("totaldemand")
    except PackageNotFoundError:
        return "unknown"


def default_sampler_config() -> dict[str, Any]:
    return {
        # Measured on the real panel: with warm-up trees capped (below), 400 tuning steps adapt as
        # well as 600 and 1000 (same step size and tree depth, bulk ESS 947 vs 867). At a target
        # acceptance of 0.9 the step size (0.08) left every draw a depth-6 tree (63 steps); at 0.8
        # it is 0.11 and every tree has depth 5 (31 steps), half the gradients per draw for ~0.6 of
        # the ESS per draw (rho_dynamic: 589 from 4 x 1600 draws vs 728 from 4 x 1200), 0
        # divergences. 1600 draws keep the largest of ten thousand R-hats clear of the 1.01 gate
        # (1.0081; 1200 left it at 1.0124); the fit takes 173 s instead of 223 s.
        "draws": 1600,
        "tune": 400,
        "chains": 4,
        "target_accept": 0.8,
        # Trees are capped at depth 6 during warm-up only: with the initial unit mass matrix the
        # first 100 warm-up steps built ~400-leapfrog trees, half of all warm-up gradients on the
        # real panel; capped, warm-up costs half as much and ends at the same step size and depth.
        "max_tree_depth_warmup": 6,
        "random_seed": 20261124,
        "nuts_sampler": "numpyro",
        "chain_method": "parallel",
        # None: every chain at once; 2 on a 2-core machine trades 25% more time for a quarter of
        # the memory (bayes._nuts.parallel_width)
        "parallel_chains": None,
        "ppc_draws": 500,
        "warm_tune": 200,
        # A fit whose chains have not mixed enough (R-hat or ESS short of the gates, no divergences)
        # is continued from where its chains ended, this many rounds at most, each as long as the
        # first: two of nine backtest fits missed a gate by a hair (R-hat 1.011, tail ESS 257), which
        # more draws of the same chains settle. Divergences are not fixed by more draws and stop it.
        "extend_rounds": 2,
    }


def default_model_config(priors: PriorSet | None = None) -> dict[str, Any]:
    priors = priors or load_priors()
    return {
        "priors": priors.as_dict(),
        "gates": dict(DEFAULT_GATES),
        "likelihood": "sparse",
        # Forecasts hold each family's trend at its last fitted level (bayes.forecast.damped_decades).
        # Chosen by backtest on the real panel, origins 2013 and 2016, horizon 3: family-year CRPS
        # 1.145 / 1.520 with linear trends (damping 1), 1.109 / 1.433 at 0.8, 1.094 / 1.363 at 0.5,
        # 1.074 / 1.306 at 0; cell CRPS likewise best at 0.
        "trend_damping": 0.0,
        # Future partner shocks are mean one on the rate scale (bayes.forecast.Forecaster._roll_dynamic).
        "dynamic_shocks": "mean_one",
        # Fleets in forecast years age a year a year ("held": they keep the last fitted year's age,
        # as if orders already placed renewed them). Measured on the real panel, horizon 3, family-year
        # CRPS ageing / held: origin 2012 1.154 / 1.178, 2016 1.152 / 1.115, 2018 1.336 / 1.287.
        # Holding lowers every forecast, which helps where U.S. orders fell and hurts where they rose:
        # a level shift, not a better model, so the default stays.
        "future_fleet_age": "ageing",
        # How a family's rate moves over the years: "trend", a log-linear trend; "ar1", a stationary
        # AR(1) about its level; "trend_ar1", an AR(1) about that trend. Backtest of the real panel,
        # origins 2010-2018, horizon 3, trend / ar1: family-year CRPS 1.164 / 1.170, 80% coverage
        # 0.866 / 0.908, 9-origin wall time 29 / 41 min. ar1 sees the turn after 2015 (origins
        # 2016-2018: 1.07-1.18 vs 1.15-1.39) and misses the rise before it, so neither is better.
        "family_path": "trend",
        # A self-exciting term on each partner x family's own decayed history (bayes.terms.recency):
        # "off" or "own". Off until the backtest shows it helps.
        "recency": "off",
        # Partners' military budgets (SIPRI) and last year's U.S. sales by channel (SAM) on their rates
        # (bayes.terms.budgets, bayes.terms.channels): "off" or "on". Off until the backtest shows they help.
        "budgets": "off",
        "channels": "off",
        # Region x family AR(1) paths, so a surge in one country moves its neighbours' rates
        # (bayes.terms.waves): "off" or "on". Backtest of the real panel, origins 2010-2018, horizon 3,
        # on / off: family-year CRPS 1.140 / 1.162, yearly totals 10.45 / 11.17, pf-horizon Brier
        # 0.0490 / 0.0492; worse at 2012-2014 (+2% to +4%), better from 2015 (-4% to -8%).
        "waves": "on",
        # Text mentions (DSCA notifications) as a distributed-lag covariate on the log rate ("lagged",
        # bayes.terms.text_signals), or as requests on the book that become orders with a learned
        # probability and delay ("requests", bayes.terms.notices).
        "text_evidence": "lagged",
        # What the demand model is fitted to: "us", U.S. orders (LORs); "every_supplier", each partner's
        # orders from every supplier, whose forecasts are thinned to U.S. demand by the U.S. share model
        # draw by draw (bayes.forecast.Forecaster). Backtest of the real panel, horizon 3, six origins
        # 2010-2018: family-year CRPS 1.106 / 1.136, yearly totals 11.03 / 10.07 (+9.6%), better from
        # 2016 and worse before (docs/suppliers.md), so U.S. orders stay the default.
        "demand_basis": "us",
    }


def sample_prior(model, draws: int, seed: int, names: list[str]) -> xr.DataTree:  # model: pm.Model
    """Draw the parameters and effects from the prior (inside the model's floatX context)."""
    import pymc as pm

    with model, warnings.catch_warnings():
        # Only parameters are drawn here, so the likelihood Potential has nothing to bias;
        # replicated counts are drawn from these parameters by our own NB sampler.
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        # Python-mode graph: these are a few hundred scalar and vector draws, and compiling them
        # with the default (Numba) backend took 7-12 s of a real-panel fit; this takes 1 s.
        return pm.sample_prior_predictive(
            draws=draws, var_names=names, random_seed=seed, compile_kwargs={"mode": "FAST_COMPILE"}
        )


def _as_stored(ds: xr.Dataset) -> xr.Dataset:
    """Sampling ran in float32; storing float64 would double the file for no information."""
    return ds.astype({v: np.float32 for v, da in ds.data_vars.items() if da.dtype.kind == "f"})


def _appended(first: xr.Dataset, more: xr.Dataset) -> xr.Dataset:
    """Draws of the same chains, ``more`` after ``first``, numbered on."""
    more = more.assign_coords(draw=more["draw"].values + first.sizes["draw"])
    out = xr.concat([first, more], dim="draw", data_vars="all", coords="minimal", compat="override")
    out.attrs = dict(first.attrs)
    if "sampling_time" in first.attrs:
        out.attrs["sampling_time"] = first.attrs["sampling_time"] + more.attrs.get("sampling_time", 0.0)
    return out


# What a fit stores for analysts only: forecasts and answers read none of these groups.
ANALYSIS_GROUPS = ("prior", "log_likelihood", "posterior_predictive")
# Posterior draws the model file keeps, evenly spaced within each chain: every answer reads at most
# these (the server's forecaster reads 1,000). Every draw, with the analysis groups, goes to the
# analysis file beside it (:func:`analysis_path`), which ArviZ opens as a whole posterior of its own.
STORED_DRAWS = 1000
ANALYSIS_SUFFIX = ".analysis.nc"


def analysis_path(path: Path | str) -> Path:
    """The analysis file of the model file ``path``: ``<stem>.analysis.nc`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}{ANALYSIS_SUFFIX}")


def thinned_chains(ds: xr.Dataset, max_draws: int) -> xr.Dataset:
    """At most ``max_draws`` draws in all, evenly spaced within each chain: the chains stay apart, so
    R-hat and ESS still read off the thinned draws."""
    chains, draws = ds.sizes["chain"], ds.sizes["draw"]
    per_chain = max(1, max_draws // chains)
    if per_chain >= draws:
        return ds
    keep = np.linspace(0, draws - 1, per_chain).round().astype(int)
    return ds.isel(draw=keep).assign_coords(draw=np.arange(per_chain))


def _model_file_tree(tree: xr.DataTree) -> xr.DataTree:
    """What the model file holds: every group but the analysis groups, each group's draws thinned to
    :data:`STORED_DRAWS` (the side models' too) and stored as float32 (the sampler statistics as they
    are)."""
    out = tree.drop_nodes([g for g in ANALYSIS_GROUPS if g in tree.children])
    # what marks a tree read back from a model file (a copy: the fitted tree's own attrs stay as they are)
    out.attrs = {**tree.attrs, "stored_draws": STORED_DRAWS}
    for node in list(out.subtree):
        ds = node.to_dataset(inherit=False)
        if {"chain", "draw"} <= set(ds.dims):
            thinned = thinned_chains(ds, STORED_DRAWS)
            if node.name != "sample_stats":
                # float32 like the demand posterior: the side models sample in float64, which would
                # double their share of the file for digits no answer reads
                thinned = _as_stored(thinned)
            out[node.path] = xr.DataTree(thinned, children=dict(node.children))
    return out


def _analysis_tree(tree: xr.DataTree) -> xr.DataTree:
    """What the analysis file holds: the demand model's every draw and every group ArviZ reads
    (not the side models', which the model file keeps whole)."""
    groups = ("posterior", "sample_stats", *ANALYSIS_GROUPS, "observed_data", "constant_data")
    out = xr.DataTree.from_dict({g: tree[g].to_dataset() for g in groups if g in tree.children})
    out.attrs = {k: v for k, v in tree.attrs.items() if k != "stored_draws"}
    return out


def _write_atomically(tree: xr.DataTree, path: Path) -> None:
    """Temp file in the same folder, fsync, rename: a reader sees the old file or the new one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        tree.to_netcdf(tmp, engine="h5netcdf", encoding=compressed(tree))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; posterior files are meant to be read by others
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ModelFileError(UserError):
    """A file that is not one of our posterior files; the message names the file and the reason."""


def open_posterior(
    path: Path | str, load: bool = False, leave_out: Sequence[str] = (), max_draws: int | None = None
) -> xr.DataTree:
    """A posterior file as ArviZ opens it: lazily (the draws stay on disk until read; close it when
    done), or read whole with ``load``, less the groups ``leave_out`` and, with ``max_draws``, with
    only that many of the posterior's draws read (:func:`thinned_posterior`). Raises
    :class:`ModelFileError` for a missing file, one that is not NetCDF, or a NetCDF file that is not
    one of ours."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such posterior file")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf")
    except Exception as exc:  # h5py and h5netcdf raise OSError, ValueError or KeyError as they see fit
        raise ModelFileError(f"{path}: not a NetCDF posterior file ({type(exc).__name__}: {exc})") from None
    name = tree.attrs.get("totaldemand_model")
    if name != MODEL_NAME:
        tree.close()
        raise ModelFileError(f"{path}: not a {MODEL_NAME} posterior file (totaldemand_model={name!r})")
    if load:
        try:
            with tree:
                kept = tree.drop_nodes([g for g in leave_out if g in tree.children])
                if max_draws is not None and "posterior" in kept.children:
                    kept["posterior"] = xr.DataTree(
                        thinned_posterior(kept["posterior"].to_dataset(), max_draws)
                    )
                tree = kept.load()
        except Exception as exc:  # a truncated or damaged file fails only when its arrays are read
            raise ModelFileError(f"{path}: its draws cannot be read ({type(exc).__name__}: {exc})") from None
    return tree


def _fitted_at(path: Path) -> str | None:
    """When the fit in a posterior file was made: what pairs a model file with its analysis file."""
    try:
        with open_posterior(path) as tree:
            return tree.attrs.get("fitted_at")
    except ModelFileError:
        return None


def thinned_posterior(posterior: xr.Dataset, max_draws: int) -> xr.Dataset:
    """``max_draws`` of the posterior's draws, evenly spaced over the draws flattened chain after chain
    (those a :class:`bayes.forecast.Forecaster` of ``max_draws`` picks), as one chain in that order.
    Each chain's draws are picked before they are read, so a lazily opened file reads only these."""
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    if max_draws >= chains * draws:
        return posterior
    take = np.linspace(0, chains * draws - 1, max_draws).astype(int)
    parts = [posterior.isel(chain=c, draw=take[take // draws == c] % draws) for c in range(chains)]
    out = xr.concat(parts, dim="draw", data_vars="all", coords="minimal", compat="override")
    out = out.drop_vars([v for v in ("chain", "draw") if v in out.coords])
    return out.assign_coords(draw=np.arange(len(take))).expand_dims(chain=[0]).transpose("chain", "draw", ...)


def compressed(tree: xr.DataTree, level: int = 4) -> dict[str, dict[str, dict[str, Any]]]:
    """NetCDF encodings that deflate every numeric array of every group (byte-shuffled first, which
    is what lets float draws shrink at all); every NetCDF reader, ArviZ's included, inflates them."""
    return {
        node.path: {
            str(name): {"zlib": True, "complevel": level, "shuffle": True}
            for name, da in node.dataset.data_vars.items()
            if da.dtype.kind in "biuf" and da.ndim > 0
        }
        for node in tree.subtree
        if node.has_data
    }


class PosteriorDraws:
    """Draws flattened over (chain, draw) into one leading ``sample`` axis, as float64 numpy arrays.

    Attribute access reads a variable (``draws.intercept``); :meth:`params` gives the mapping
    :func:`bayes.terms.log_rate` takes.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = dict(arrays)

    @classmethod
    def from_posterior(cls, posterior: xr.Dataset, take: np.ndarray | None = None) -> PosteriorDraws:
        """The draws of ``posterior``; with ``take``, only those positions on the flattened sample axis,
        picked before the conversion to float64 (a forecaster keeps 1,000 of a fit's 6,400)."""
        arrays = {}
        for name, da in posterior.data_vars.items():
            dims = [d for d in da.dims if d not in ("chain", "draw")]
            flat = da.stack(sample=("chain", "draw")).transpose("sample", *dims)
            values = (flat if take is None else flat.isel(sample=take)).values
            arrays[str(name)] = np.ascontiguousarray(values, dtype=np.float64)
        return cls(arrays)

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    def has(self, name: str) -> bool:
        return name in self.arrays

    @property
    def n(self) -> int:
        return self.arrays["intercept"].shape[0]

    def params(self, sl: Any = slice(None)) -> dict[str, np.ndarray]:
        return {k: v[sl] for k, v in self.arrays.items()}

    def log_rate(self, design: Design, sl: Any = slice(None)) -> np.ndarray:
        """log mu over (sample, partner, family, year) on the fitted years."""
        p = self.params(sl)
        return terms.log_rate(p, terms.fitted_inputs(p, design))


class DemandModel:
    """Hierarchical NB model with explicit ``model_config`` / ``sampler_config`` (PyMC-Marketing style)."""

    def __init__(
        self,
        model_config: Mapping[str, Any] | None = None,
        sampler_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.model_config = {**default_model_config(), **dict(model_config or {})}
        self.sampler_config = {**default_sampler_config(), **dict(sampler_config or {})}
        self.config = ModelConfig.from_mapping(self.model_config, SWITCHABLE)
        self.priors: PriorSet = parse_priors(self.model_config["priors"], "model_config['priors']")
        self.priors.require(terms.required_priors(self.config))
        self.idata: xr.DataTree | None = None
        self._draws: PosteriorDraws | None = None

    @property
    def float_x(self) -> str:
        return self.config.float_x

    @property
    def zero_inflated(self) -> bool:
        """NB with structural zeros (``model_config['zero_inflation']``); kept only if LOO prefers it."""
        return self.config.zero_inflation

    # -- building -------------------------------------------------------------------------------
    def build_model(self, panel: xr.Dataset):  # -> pm.Model
        """The PyMC model: counts, units per LOR and the pending-LOR conversion, in one graph.

        Each term (:mod:`bayes.terms`) adds its random variables, parameters and inputs; their
        addends make log mu, and the counts are NB about it (:mod:`bayes.observation`).

        ``model_config['likelihood']`` picks how the NB likelihood is written: ``sparse`` (default)
        -- zero cells cost one softplus each, only non-zero cells pay for log-gamma terms, float32;
        ``reference`` -- ``pm.NegativeBinomial`` observed on a long vector of every cell with effects
        gathered by index, float64: the textbook way, kept as the benchmark's baseline and as the
        check that ``sparse`` is the same density.
        """
        import pymc as pm
        import pytensor
        import pytensor.tensor as pt

        fx = self.float_x
        d = build_design(panel)
        self.design = d
        present = terms.presence(d, self.config)
        coords = {
            **{dim: panel[dim].values for dim in DIMS},
            "alliance": d.alliances,
            "lag": np.arange(d.nlp_lags.shape[0]),
            "lor_obs": np.arange(len(d.log_units)),
        }
        with pytensor.config.change_flags(floatX=fx), pm.Model(coords=coords) as model:
            ctx = terms.BuildContext(d, self.priors, self.config, fx, present)
            terms.build(ctx)
            inv_sqrt_phi = self.priors["inv_sqrt_dispersion"].create()
            phi = pm.Deterministic("dispersion", 1.0 / pt.square(inv_sqrt_phi))
            if self.config.likelihood == "reference":
                # The straightforward way: one long vector of cells, effects gathered by index.
                idx = tuple(i.ravel() for i in np.indices(d.counts.shape))
                model.add_coord("cell", np.arange(d.counts.size))
                pm.NegativeBinomial(
                    "lor_count",
                    mu=pt.exp(terms.log_rate(ctx.params, ctx.inputs, terms.Cells(idx, fx))),
                    alpha=phi,
                    observed=d.counts.ravel(),
                    dims="cell",
                )
            else:
                # Dense broadcasting over the whole cube (XLA fuses it into one elementwise pass), and
                # the non-zero cells gathered apart, so their gradient never touches the cube.
                log_mu = terms.log_rate(ctx.params, ctx.inputs, terms.Dense(cast=fx))
                log_mu_nz = terms.log_rate(ctx.params, ctx.inputs, terms.Cells(np.nonzero(d.counts), fx))
                pi = self.priors["zero_inflation"].create() if self.zero_inflated else None
                pm.Potential("lor_count_loglik", sparse_loglik(d.counts, log_mu, log_mu_nz, phi, pi))
        return model

    # -- fitting --------------------------------------------------------------------------------
    def stored_names(self, design: Design) -> list[str]:
        return terms.stored_names(terms.presence(design, self.config), self.zero_inflated)

    def gated_names(self, design: Design) -> list[str]:
        """What the gates judge: every stored quantity but constants."""
        return terms.gated_names(terms.presence(design, self.config), self.zero_inflated)

    def sample(
        self, panel: xr.Dataset, progressbar: bool = True, warm_start: SamplerState | None = None
    ) -> tuple[Any, xr.Dataset, xr.Dataset, SamplerState]:
        """Build the model on ``panel`` and run NUTS: (pm.Model, posterior, sample_stats, final state).

        Only the sampling; :meth:`fit` adds the other groups and the gates. ``warm_start`` (a stored
        fit's :attr:`sampler_state`) starts the chains where that fit ended, with its step size and
        mass matrix, and tunes for ``warm_tune`` steps only.
        """
        import pytensor

        cfg = self.sampler_config
        model = self.build_model(panel)
        design = self.design
        tune = int(cfg["warm_tune"] if warm_start is not None else cfg["tune"])
        log.info(
            "fitting %s on %s cells, %d chains x %d draws (tune %d%s); components %s",
            MODEL_NAME,
            design.counts.size,
            cfg["chains"],
            cfg["draws"],
            tune,
            ", warm start" if warm_start is not None else "",
            terms.presence(design, self.config),
        )
        with pytensor.config.change_flags(floatX=self.float_x), model, warnings.catch_warnings():
            # JAX runs in 32-bit here (the model is float32); PyMC's post-processing asks for 64-bit
            # copies of draws and stats, which JAX truncates with a warning that says nothing useful.
            warnings.filterwarnings("ignore", "Explicitly requested dtype", UserWarning)
            posterior, stats, state = run_nuts(
                model,
                self.stored_names(design),
                draws=int(cfg["draws"]),
                tune=tune,
                chains=int(cfg["chains"]),
                target_accept=float(cfg["target_accept"]),
                seed=int(cfg["random_seed"]),
                chain_method=cfg["chain_method"],
                progressbar=progressbar,
                warm=warm_start,
                parallel_chains=cfg.get("parallel_chains"),
                max_tree_depth_warmup=cfg.get("max_tree_depth_warmup"),
                max_tree_depth=int(cfg.get("max_tree_depth", 10)),
            )
        return model, posterior, stats, state

    def fit(
        self,
        panel: xr.Dataset,
        progressbar: bool = True,
        warm_start: SamplerState | None = None,
        analysis_groups: bool = True,
    ) -> xr.DataTree:
        """Sample the posterior (:meth:`sample`), add prior/predictive/log-likelihood groups, and
        check the gates.

        ``analysis_groups=False`` leaves out the prior, posterior predictive and pointwise
        log-likelihood, which analysts use (LOO, predictive checks) but forecasts and gates do not:
        a backtest's fits skip them (on the real panel the log-likelihood alone is 3 GB)."""
        import pytensor

        started = time.perf_counter()
        model, posterior, stats, state = self.sample(panel, progressbar, warm_start)
        design = self.design
        posterior, stats, state, extended, diag = self._extend_until_mixed(
            model, design, posterior, stats, state
        )
        sampled = time.perf_counter() - started
        prior = None
        if analysis_groups:
            with pytensor.config.change_flags(floatX=self.float_x):
                prior = sample_prior(
                    model, 500, int(self.sampler_config["random_seed"]) + 1, self.stored_names(design)
                )
        idata = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
        idata = self._assemble(idata, prior, panel, design, time.perf_counter() - started, diag)
        idata["sampler_state"] = xr.DataTree(state.to_dataset())
        idata.attrs["sampling_seconds"] = round(sampled, 2)
        idata.attrs["warm_start"] = int(warm_start is not None)
        idata.attrs["extended_rounds"] = extended
        self.idata = idata
        self._draws = None
        diag = self.diagnostics
        log.info("fit done in %.1fs; %s", idata.attrs["fit_seconds"], "; ".join(diag.lines()))
        if diag.tree_depth_hits:
            log.warning(
                "%d draws hit NUTS's tree-depth cap (%d): the sampler ran out of trajectory, which costs "
                "efficiency, not validity; a reparametrisation or more tuning may help",
                diag.tree_depth_hits,
                diag.max_tree_depth,
            )
        return idata

    def _extend_until_mixed(
        self, model: Any, design: Design, posterior: xr.Dataset, stats: xr.Dataset, state: SamplerState
    ) -> tuple[xr.Dataset, xr.Dataset, SamplerState, int, Diagnostics]:
        """Continue the chains from where they ended while only mixing gates fail (R-hat, ESS), at most
        ``extend_rounds`` times, each round as many draws as the first; the draws are appended.

        A continuation keeps the chains' last positions and runs without warm-up at the chains'
        median step size and mass matrix: every kernel leaves the posterior invariant, so the
        appended draws are draws of the same chains. Returns the draws, the chains' final state, the
        rounds run and the diagnostics of the draws returned (the gates' verdict)."""
        import pytensor

        cfg = self.sampler_config
        names, gated = self.stored_names(design), self.gated_names(design)
        rounds = int(cfg.get("extend_rounds", 0))
        for round_ in range(rounds + 1):
            tree = xr.DataTree.from_dict({"posterior": _as_stored(posterior), "sample_stats": stats})
            diag = diagnose(tree, gated, self.model_config.get("gates"))
            if round_ == rounds:
                break
            mixing = [f for f in diag.failures if f.startswith(("R-hat", "bulk ESS", "tail ESS"))]
            if not mixing or len(mixing) < len(diag.failures):
                return posterior, stats, state, round_, diag
            # only a near miss: ESS grows about in proportion to the draws, so a fit far short of the
            # gates (a quick test fit) would not reach them in the rounds left and is not continued
            gates = {**DEFAULT_GATES, **(self.model_config.get("gates") or {})}
            reach = 1.0 + (rounds - round_) * int(cfg["draws"]) / posterior.sizes["draw"]
            if min(
                diag.ess_bulk_min / gates["ess_bulk_min"], diag.ess_tail_min / gates["ess_tail_min"]
            ) * reach < 1.0 or diag.r_hat_max > max(1.05, gates["r_hat_max"]):
                return posterior, stats, state, round_, diag
            log.info("gates missed (%s): continuing the chains, round %d", "; ".join(mixing), round_ + 1)
            with pytensor.config.change_flags(floatX=self.float_x), model, warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Explicitly requested dtype", UserWarning)
                more, more_stats, state = run_nuts(
                    model,
                    names,
                    draws=int(cfg["draws"]),
                    tune=0,
                    chains=int(cfg["chains"]),
                    target_accept=float(cfg["target_accept"]),
                    seed=int(cfg["random_seed"]) + 1000 * (round_ + 1),
                    chain_method=cfg["chain_method"],
                    progressbar=False,
                    warm=state,
                    parallel_chains=cfg.get("parallel_chains"),
                    max_tree_depth=int(cfg.get("max_tree_depth", 10)),
                )
            posterior, stats = _appended(posterior, more), _appended(stats, more_stats)
        return posterior, stats, state, rounds, diag

    @property
    def sampler_state(self) -> SamplerState | None:
        """Where this fit's chains ended (step size, mass matrix, positions), for warm starts."""
        tree = self._require_fit()
        if "sampler_state" not in tree.children:
            return None
        return SamplerState.from_dataset(tree["sampler_state"].to_dataset())

    def _assemble(
        self,
        idata: xr.DataTree,
        prior: xr.DataTree | None,
        panel: xr.Dataset,
        design: Design,
        elapsed: float,
        diag: Diagnostics,
    ) -> xr.DataTree:
        """The stored groups and attributes, with the gates' verdict ``diag`` on the posterior; with
        ``prior`` None, no analysis groups."""
        started = time.perf_counter()
        reference_year = int(panel["year"].values.max())
        children = {name: idata[name].to_dataset() for name in ("posterior", "sample_stats")}
        if prior is not None:
            children["prior"] = prior["prior"].to_dataset()
        children["observed_data"] = xr.Dataset(
            {
                "lor_count": panel["lor_count"].reset_coords(drop=True),
                "log_units": ("lor_obs", design.log_units),
            }
        )
        children["constant_data"] = self._constant_data(panel, design)
        if prior is not None:
            draws = PosteriorDraws.from_posterior(children["posterior"])
            chains, n_draws = children["posterior"].sizes["chain"], children["posterior"].sizes["draw"]
            children["log_likelihood"] = self._log_likelihood(draws, panel, design, chains, n_draws)
            children["posterior_predictive"] = self._posterior_predictive(
                draws, panel, design, chains, n_draws
            )
        for name in ("posterior", "prior", "log_likelihood", "posterior_predictive"):
            if name in children:
                children[name] = _as_stored(children[name])
        tree = xr.DataTree.from_dict(children)
        self.idata = tree
        tree.attrs.update(
            {
                "totaldemand_model": MODEL_NAME,
                "model_version": MODEL_VERSION,
                "code_version": code_version(),
                "model_config": json.dumps(self.model_config),
                "sampler_config": json.dumps(self.sampler_config),
                "components": json.dumps(terms.presence(design, self.config)),
                "design_scales": json.dumps(design.scales()),
                "data_hash": str(panel.attrs.get("data_hash", "")),
                "data_source": str(panel.attrs.get("source", "")),
                "priors_version": self.priors.version,
                "priors_hash": self.priors.hash,
                "reference_year": reference_year,
                "centre_year": design.centre_year,
                "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "fit_seconds": round(elapsed + time.perf_counter() - started, 2),
                "diagnostics": json.dumps(diag.as_dict()),
                "status": "ok" if diag.passed else "failed",
                "approximate": 0,
            }
        )
        return tree

    @staticmethod
    def _constant_data(panel: xr.Dataset, design: Design) -> xr.Dataset:
        """What forecasts need besides the draws: labels, hierarchy, the latest fleet, the NLP signal
        of the last years and the open book of firm and pending requests."""
        lags = design.nlp_lags.shape[0]
        data = {
            "decade": ("year", design.decade),
            "partner_region": ("partner", panel["partner_region"].values.astype(str)),
            "partner_name": ("partner", panel["partner_name"].values.astype(str)),
            "family_category": ("family", panel["family_category"].values.astype(str)),
            "family_name": ("family", panel["family_name"].values.astype(str)),
            "partner_alliance": (("partner", "alliance"), panel["partner_alliance"].values.astype(np.int8)),
            "fleet_units_latest": (("partner", "family"), panel["fleet_units_latest"].values),
            "fleet_mean_age_latest": (("partner", "family"), panel["fleet_mean_age_latest"].values),
            "fleet_size_cell_mean": (("partner", "family"), design.fleet_size_cell_mean),
            "fleet_age_cell_mean": (("partner", "family"), design.fleet_age_cell_mean),
            **DemandModel._partner_level(panel, design),
            "nlp_signal_recent": (
                ("partner", "family", "recent_year"),
                panel["nlp_signal"].values[:, :, -lags:],
            ),
            "nlp_covered_recent": ("recent_year", panel["nlp_covered"].values[-lags:]),
            **{
                name: (
                    "open_lor",
                    panel[name].values if panel[name].dtype.kind != "O" else panel[name].values.astype(str),
                )
                for name in ("open_partner", "open_family", "open_year", "open_status", "open_quantity")
            },
        }
        return xr.Dataset(
            data,
            coords={
                **{dim: panel[dim].values for dim in DIMS},
                "alliance": panel["alliance"].values.astype(str),
                "recent_year": panel["year"].values[-lags:],
                "open_lor": panel["open_lor"].values.astype(str),
            },
        )

    @staticmethod
    def _partner_level(panel: xr.Dataset, design: Design) -> dict[str, Any]:
        """The partner-level covariates' last known figures and the partners' means, for forecasts."""
        out: dict[str, Any] = {}
        for variable in ("budget", "channel"):
            latest = f"partner_{variable}_latest"
            if latest in panel:
                dim = panel[latest].dims[0]
                out[latest] = ((dim, "partner"), panel[latest].transpose(dim, "partner").values)
                out[f"{variable}_partner_mean"] = (
                    (dim, "partner"),
                    getattr(design, f"{variable}_partner_mean"),
                )
        return out

    @staticmethod
    def _log_likelihood(
        draws: PosteriorDraws, panel: xr.Dataset, design: Design, chains: int, n_draws: int
    ) -> xr.Dataset:
        """Pointwise log-likelihood per partner-year (summed over families), computed with JAX.

        A per-cell array would be chains x draws x cells (gigabytes on the real panel); partner-years
        keep LOO meaningful for forecasting (leave out what one partner asked for in one year).
        Dense over the cube, in float32 as the sampler ran and as the group is stored, with
        t = log(1 + mu / phi): log NB(y) = -phi t + y (log mu - log phi - t) + sum_{k<y} log(phi + k)
        - lgamma(y + 1). The sum of logs (lgamma(y + phi) - lgamma(phi), which float32 would cancel)
        is, per partner-year, a small matrix of cell counts with y > k times log(phi + k).
        """
        import jax
        import jax.numpy as jnp

        y = design.counts
        n_p, _, n_t = y.shape
        ks = np.arange(int(y.max()))
        above = (y[..., None] > ks).sum(axis=1).reshape(n_p * n_t, -1).astype(np.float32)  # (pt, k)
        log_factorial = gammaln(y + 1.0).sum(axis=1).astype(np.float32)  # (p, t)
        y32 = y.astype(np.float32)
        names = list(draws.arrays)  # the rate's parameters among them; the rest are small
        step = max(1, min(draws.n, 8_000_000 // y.size))
        out = np.empty((draws.n, n_p, n_t), dtype=np.float32)

        @jax.jit
        def chunk(params: dict, inputs: dict) -> jax.Array:
            log_mu = terms.log_rate(params, inputs)
            phi = params["dispersion"]
            log_phi = jnp.log(phi)[:, None, None, None]
            t = jnp.log1p(jnp.exp(log_mu) / phi[:, None, None, None])
            zero = -phi[:, None, None, None] * t
            cell = zero + y32 * (log_mu - log_phi - t)
            if "zero_inflation" in params:
                pi = params["zero_inflation"][:, None, None, None]
                # log(pi + (1 - pi) e^zero), written so float32 keeps the small values of rare cells
                cell = jnp.where(y32 > 0, jnp.log1p(-pi) + cell, jnp.log1p((1.0 - pi) * jnp.expm1(zero)))
            rising = (jnp.log(phi[:, None] + ks.astype(np.float32)) @ above.T).reshape(-1, n_p, n_t)
            return cell.sum(axis=2) + rising - log_factorial

        with jax.enable_x64(False):
            for start in range(0, draws.n, step):
                idx = np.minimum(np.arange(start, start + step), draws.n - 1)  # one compiled shape
                params = {n: np.asarray(getattr(draws, n)[idx], dtype=np.float32) for n in names}
                # the terms' inputs (covariates, paths) in float32 as the sampler ran; indices
                # (a partner's region) stay integers, which JAX requires of an indexer
                fitted = terms.fitted_inputs(params, design)
                arrays = {k: np.asarray(v) for k, v in fitted.items() if v is not None}
                inputs = {
                    k: v.astype(np.float32) if np.issubdtype(v.dtype, np.floating) else v
                    for k, v in arrays.items()
                }
                keep = min(step, draws.n - start)
                out[start : start + keep] = np.asarray(chunk(params, inputs))[:keep]
        data = out.reshape(chains, n_draws, n_p, n_t)
        return xr.Dataset(
            {"lor_count": (("chain", "draw", "partner", "year"), data)},
            coords={
                "chain": np.arange(chains),
                "draw": np.arange(n_draws),
                "partner": panel["partner"].values,
                "year": panel["year"].values,
            },
        )

    def _posterior_predictive(
        self, draws: PosteriorDraws, panel: xr.Dataset, design: Design, chains: int, n_draws: int
    ) -> xr.Dataset:
        """Replicated counts summed to family-year and partner-year totals, on a thinned set of draws.

        One random stream per chain, spawned from the seed, and a thread per core: NumPy's
        samplers release the GIL, so chains replicate in parallel and the result does not depend
        on how many threads ran."""
        seed = np.random.SeedSequence(int(self.sampler_config["random_seed"]) + 2)
        streams = [np.random.default_rng(s) for s in seed.spawn(chains)]
        per_chain = max(1, min(n_draws, int(self.sampler_config["ppc_draws"]) // chains))
        picks = np.linspace(0, n_draws - 1, per_chain).astype(int)
        fam = np.empty((chains, per_chain, panel.sizes["family"], panel.sizes["year"]))
        par = np.empty((chains, per_chain, panel.sizes["partner"], panel.sizes["year"]))

        def replicate(c: int) -> None:
            rng = streams[c]
            for j, dr in enumerate(picks):
                s = c * n_draws + dr
                pi = draws.zero_inflation[s] if draws.has("zero_inflation") else None
                counts = draw_counts(rng, draws.log_rate(design, slice(s, s + 1))[0], draws.dispersion[s], pi)
                fam[c, j] = counts.sum(axis=0)
                par[c, j] = counts.sum(axis=1)

        with ThreadPoolExecutor(max_workers=min(chains, os.cpu_count() or 1)) as pool:
            list(pool.map(replicate, range(chains)))
        return xr.Dataset(
            {
                "family_total": (("chain", "draw", "family", "year"), fam),
                "partner_total": (("chain", "draw", "partner", "year"), par),
            },
            coords={
                "chain": np.arange(chains),
                "draw": picks,
                "family": panel["family"].values,
                "partner": panel["partner"].values,
                "year": panel["year"].values,
            },
        )

    # -- results --------------------------------------------------------------------------------
    def _require_fit(self) -> xr.DataTree:
        if self.idata is None:
            raise RuntimeError("the model has not been fitted or loaded")
        return self.idata

    @property
    def diagnostics(self) -> Diagnostics:
        return diagnostics_from_dict(json.loads(self._require_fit().attrs["diagnostics"]))

    @property
    def status(self) -> str:
        return str(self._require_fit().attrs["status"])

    @property
    def draws(self) -> PosteriorDraws:
        if self._draws is None:
            self._draws = PosteriorDraws.from_posterior(self._require_fit()["posterior"].to_dataset())
        return self._draws

    @property
    def reference_year(self) -> int:
        """The last observed year; forecasts start the year after."""
        return int(self._require_fit().attrs["reference_year"])

    @property
    def centre_year(self) -> float:
        return float(self._require_fit().attrs["centre_year"])

    @property
    def coords(self) -> xr.Dataset:
        """Labels and hierarchy of the fitted panel: partner, family, year and their metadata."""
        return self._require_fit()["constant_data"].to_dataset()

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: Path | str) -> Path:
        """Write the model file at ``path`` and, for a fit with its analysis groups, the analysis file
        beside it (:func:`analysis_path`), each atomically. The model file keeps :data:`STORED_DRAWS`
        draws; the analysis file every draw, the prior, the pointwise log-likelihood and the posterior
        predictive. An analysis file of an earlier fit is removed, so the two never disagree."""
        tree = self._require_fit()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        analysis = analysis_path(path)
        # a tree read back from a model file holds its thinned draws: the analysis file stays as it is
        if set(ANALYSIS_GROUPS) & set(tree.children) and "stored_draws" not in tree.attrs:
            _write_atomically(_analysis_tree(tree), analysis)
            log.info("saved %s (%.1f MB)", analysis, analysis.stat().st_size / 1e6)
        elif analysis.is_file() and _fitted_at(analysis) != tree.attrs.get("fitted_at"):
            analysis.unlink()
        _write_atomically(_model_file_tree(tree), path)
        log.info("saved %s (%.1f MB)", path, path.stat().st_size / 1e6)
        return path

    @classmethod
    def load(
        cls, path: Path | str, analysis_groups: bool = True, max_draws: int | None = None
    ) -> DemandModel:
        """The model stored at ``path``: the model file's draws (those every answer reads), with the
        analysis groups of its analysis file, thinned alike, where there is one (``analysis_groups=False``
        reads the model file alone: forecasts read nothing more), and
        ``max_draws`` reads only the posterior draws a forecaster of that many draws uses, as one chain
        (the gates' verdict, in the file's attributes, is that of every draw)."""
        path = Path(path)
        analysis = analysis_path(path)
        # a file from before the analysis file existed holds its analysis groups itself
        leave_out = ANALYSIS_GROUPS if not analysis_groups or analysis.is_file() else ()
        tree = open_posterior(path, load=True, leave_out=leave_out, max_draws=max_draws)
        if analysis_groups and analysis.is_file() and _fitted_at(analysis) == tree.attrs.get("fitted_at"):
            # thinned as the model file's draws were, so they stay draw for draw with the posterior
            with open_posterior(analysis) as whole:
                for group in ANALYSIS_GROUPS:
                    if group not in whole.children:
                        continue
                    ds = whole[group].to_dataset()
                    if group != "prior":
                        ds = thinned_chains(ds, STORED_DRAWS)
                        if max_draws is not None:
                            ds = thinned_posterior(ds, max_draws)
                    tree[group] = xr.DataTree(ds.load())
        try:
            # Files from before family_path existed were all fitted with the linear trend.
            config = {"family_path": "trend", **json.loads(tree.attrs["model_config"])}
            model = cls(config, json.loads(tree.attrs["sampler_config"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: its model or sampler settings cannot be read ({exc})") from None
        model.idata = tree
        return model

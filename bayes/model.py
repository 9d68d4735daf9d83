"""The hierarchical negative-binomial model of yearly LOR counts per partner × family.

    log mu[p, f, t] = intercept + partner[p] + family[f] + partner_family[p, f] + family_path[f, t]
                      + dynamic[p, t] + readiness slopes[f] . fleet[p, f, t]
                      + sum_l nlp_lag[l] * signal[p, f, t - l]
    lor_count[p, f, t] ~ NegativeBinomial(mu, dispersion)

Partners are nested in regions (their mean shifted by alliance memberships) and families in
categories, the group effects integrated out (:func:`grouped_normal`); both sum to zero, so the
intercept alone carries the overall level. The partner × family interaction -- thousands of
sparsely observed cells -- is non-centred (``sigma * z``); ``dynamic`` is a stationary AR(1) per
partner, non-centred. ``family_path`` (``model_config['family_path']``) is, by default, a log-linear
trend ``trend[f] * decade[t]`` ("trend"), ``decade[t]`` being years from the middle of the observed
window over ten; or a stationary AR(1) per family about its level ("ar1"); or an AR(1) about the
trend ("trend_ar1").
Alongside, in the same graph: log-normal units per LOR by family and partner, and the share of
requests that convert (hierarchical Beta over families, learned from withdrawn requests).

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
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import gammaln

from bayes._nuts import SamplerState, run_nuts
from bayes.design import RATE_PARAMETERS, Design, build_design, log_rate
from bayes.diagnostics import DEFAULT_GATES, Diagnostics, diagnose
from bayes.diagnostics import from_dict as diagnostics_from_dict
from priors import PriorSet, load_priors, parse_priors

log = logging.getLogger(__name__)

MODEL_NAME = "nb_hierarchical"
MODEL_VERSION = "3"  # 3: NLP covariate is log(1 + mentions), centred, unscaled
PRIOR_NAMES = (
    "intercept",
    "sigma_partner",
    "sigma_region",
    "sigma_family",
    "sigma_category",
    "sigma_partner_family",
    "trend_mean",
    "sigma_trend",
    "inv_sqrt_dispersion",
    "alliance_effect",
    "sigma_dynamic",
    "rho_dynamic",
    "sigma_family_dynamic",
    "rho_family_dynamic",
    "fleet_size_mean",
    "sigma_fleet_size",
    "fleet_age_mean",
    "sigma_fleet_age",
    "nlp_lag",
    "units_intercept",
    "sigma_units_family",
    "sigma_units_partner",
    "units_sigma",
    "conversion_mean",
    "conversion_concentration",
)
# Parameters that exist only when the panel has the evidence they describe.
OPTIONAL = {
    "alliance": ("alliance_effect",),
    "readiness": (
        "fleet_size_mean",
        "sigma_fleet_size",
        "fleet_age_mean",
        "sigma_fleet_age",
        "fleet_size_slope",
        "fleet_age_slope",
    ),
    "nlp": ("nlp_lag",),
    # Without a single withdrawn request the data say nothing about conversion (every rate fits);
    # forecasts then draw conversion from its prior.
    "conversion": ("conversion_mean", "conversion_concentration", "conversion"),
    "dynamics": ("sigma_dynamic", "rho_dynamic", "partner_dynamic"),
    "trend": ("trend_mean", "sigma_trend"),
    "family_dynamics": ("sigma_family_dynamic", "rho_family_dynamic", "family_dynamic"),
}
# Derived quantities forecasts read, besides the parameters above.
EFFECTS = (
    "partner_effect",
    "family_effect",
    "partner_family_effect",
    "family_trend",
    "partner_dynamic",
    "family_dynamic",
    "fleet_size_slope",
    "fleet_age_slope",
    "dispersion",
    "units_family",
    "units_partner",
    "conversion",
)
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
    }


SWITCHABLE = ("alliance", "readiness", "nlp", "dynamics", "family_dynamics")
# The values of model_config's choice options: how forecasts draw future partner shocks and carry
# fleet ages forward (read by bayes.forecast), and how a family's rate moves over the years.
CHOICES = {
    "dynamic_shocks": ("mean_one", "log_normal"),
    "future_fleet_age": ("ageing", "held"),
    "family_path": ("ar1", "trend", "trend_ar1"),
}


def invalid_choices(model_config: Mapping[str, Any]) -> list[str]:
    """Why each option of :data:`CHOICES` in ``model_config`` is not one of its values (empty if all are)."""
    return [
        f"model_config[{key!r}]: {model_config.get(key)!r} is not one of {allowed}"
        for key, allowed in CHOICES.items()
        if model_config.get(key) not in allowed
    ]


# Parametrisation per block, measured: on the real panel centred partner and family levels took half
# the leapfrog steps of non-centred ones (60 vs 125 per draw); family slopes on within-cell readiness
# are weakly identified, and centred they funnel (161 divergences on the simulated world).
DEFAULT_CENTRED = {"partner": True, "family": True, "slopes": False}


def components(design: Design, model_config: Mapping[str, Any]) -> dict[str, bool]:
    """Which optional parts the model has: those the data can inform, ``model_config['family_path']``
    asks for and ``model_config['components']`` (switches, for ablations) leave on. ``model_config``
    is complete (as :class:`DemandModel` holds it, defaults filled in)."""
    switches = {k: bool(v) for k, v in (model_config.get("components") or {}).items()}
    path = model_config["family_path"]
    unknown = sorted(set(switches) - set(SWITCHABLE))
    if unknown:
        raise ValueError(
            f"model_config['components']: unknown component(s) {unknown}; known: {list(SWITCHABLE)}"
        )
    return {
        "alliance": bool(design.alliances) and switches.get("alliance", True),
        "readiness": design.readiness and switches.get("readiness", True),
        "nlp": design.nlp and switches.get("nlp", True),
        "dynamics": switches.get("dynamics", True),
        "family_dynamics": path in ("ar1", "trend_ar1") and switches.get("family_dynamics", True),
        "trend": path in ("trend", "trend_ar1"),
        "conversion": bool(design.withdrawn.sum() > 0),
    }


def variables(present: Mapping[str, bool], names: tuple[str, ...]) -> list[str]:
    """``names`` without the parameters of components the model does not have."""
    absent = {v for comp, on in present.items() if not on for v in OPTIONAL[comp]}
    return [n for n in names if n not in absent]


def nb_logpmf(y: np.ndarray, mu: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Negative-binomial log pmf, mean ``mu`` and dispersion ``phi`` (variance mu + mu^2/phi)."""
    log_p = np.log(phi) - np.logaddexp(np.log(phi), np.log(mu))
    log_q = np.log(mu) - np.logaddexp(np.log(phi), np.log(mu))
    return gammaln(y + phi) - gammaln(phi) - gammaln(y + 1.0) + phi * log_p + y * log_q


def ar1_matrix(rho, n: int):
    """L with x = L @ e a stationary AR(1) path (unit innovations) for e ~ N(0, I): row t holds
    rho^(t-s) for s <= t, the first column scaled by 1/sqrt(1 - rho^2) for the stationary start."""
    import pytensor.tensor as pt

    t = np.arange(n)
    lag = (t[:, None] - t[None, :]).astype("float32")
    lower = lag >= 0
    powers = pt.where(lower, pt.power(rho, np.where(lower, lag, 0.0).astype("float32")), 0.0)
    first = np.zeros((n, n), dtype="float32")
    first[:, 0] = 1.0
    scale = 1.0 + first * (1.0 / pt.sqrt(1.0 - pt.square(rho)) - 1.0)
    return powers * scale


def _ar1_paths(innovation: str, sigma, rho, dims: tuple[str, str], n_t: int):
    """Stationary AR(1) paths, one per row of ``dims``, from unit innovations (non-centred)."""
    import pymc as pm
    import pytensor.tensor as pt

    z = pm.Normal(innovation, 0.0, 1.0, dims=dims)
    return sigma * pt.dot(z, ar1_matrix(rho, n_t).T)


def detrender(decade: np.ndarray, trend: bool = True) -> np.ndarray:
    """(T, T) symmetric projection that takes a path's mean (and, with ``trend``, its linear trend
    in ``decade``) out."""
    x = np.ones((len(decade), 1))
    if trend:
        x = np.column_stack([x, np.asarray(decade, dtype=float)])
    return np.eye(len(decade)) - x @ np.linalg.pinv(x)


def grouped_normal(
    name: str,
    mean,
    sigma_within,
    sigma_group,
    group: np.ndarray,
    dim: str,
    float_x: str,
    centred: bool,
):
    """Members of groups (partners in regions), summing to zero: x ~ N(mean, S) conditioned on
    sum(x) = 0, with S = sigma_within^2 I + sigma_group^2 Z Z' and Z the membership matrix -- the
    group effects integrated out in closed form. ``mean`` must itself sum to zero.

    Marginalising keeps groups of one member (North America, single-family categories) from forming
    a ridge between a group effect and its only member's deviation, which is what made an explicit
    nesting fail its gates on the real panel. Conditioning on the sum, rather than centring free
    levels afterwards, leaves the sampler no direction the likelihood cannot see: free levels' common
    shift is informed by the prior alone, and across 131 partners it is a direction far longer than
    any other, which the diagonal mass matrix cannot rescale (it kept every draw at tree depth 6).

    ``centred`` writes the density directly on the zero-sum subspace (PyMC's zero-sum transform;
    the Gaussian density there is the full one divided by the density of sum(x) at 0). Otherwise
    x = mean + K M z with z ~ N(0, I): M = sigma_within (I - P) + sqrt(sigma_within^2 + n_g
    sigma_group^2) P, P averaging within each group, is a square root of S, and K = I - w 1'/(1'w),
    w = S 1, conditions on the sum (Kriging), best where many members have little data.
    """
    import pymc as pm
    import pytensor.tensor as pt
    from pymc.distributions.transforms import ZeroSumTransform

    n_groups = int(group.max()) + 1
    onehot = np.zeros((len(group), n_groups), dtype=float_x)
    onehot[np.arange(len(group)), group] = 1.0
    members = onehot.sum(axis=0)  # per group
    n = float(len(group))

    def weights(a, b):
        """w = S 1 per member, and 1'w = var(sum(x)), for a = sigma_within^2, b = sigma_group^2."""
        w = a + b * members[group]
        return w, n * a + b * float(np.sum(members**2))

    if not centred:
        z = pm.Normal(f"z_{name}", 0.0, 1.0, dims=dim)
        z_bar = (pt.dot(z, onehot) / members)[group]
        scale = pt.sqrt(pt.square(sigma_within) + members * pt.square(sigma_group))[group]
        x = sigma_within * (z - z_bar) + scale * z_bar
        w, v = weights(pt.square(sigma_within), pt.square(sigma_group))
        return pm.Deterministic(name, mean + x - w * pt.sum(x) / v, dims=dim)

    def logp(value, mu, sw, sg):
        d = value - mu
        s1 = pt.dot(d, onehot)
        s2 = pt.dot(pt.square(d), onehot)
        a, b = pt.square(sw), pt.square(sg)
        quad = (s2 - b / (a + members * b) * pt.square(s1)) / a
        full = -0.5 * pt.sum(
            members * np.log(2 * np.pi) + (members - 1) * pt.log(a) + pt.log(a + members * b) + quad
        )
        _, v = weights(a, b)
        # density on the subspace: divide by that of sum(x) ~ N(0, v) at 0 (and by sqrt(n), the
        # length of the normal that the zero-sum coordinates leave out)
        return full + 0.5 * pt.log(2 * np.pi * v) - 0.5 * np.log(n)

    def random(mu, sw, sg, rng=None, size=None):
        sw, sg = np.asarray(sw), np.asarray(sg)
        batch = np.broadcast_shapes(sw.shape, sg.shape)
        g = rng.normal(0.0, 1.0, (*batch, n_groups)) * sg[..., None]
        x = g[..., group] + rng.normal(0.0, 1.0, (*batch, len(group))) * sw[..., None]
        w, v = weights(sw[..., None] ** 2, sg[..., None] ** 2)
        return mu + x - w * x.sum(axis=-1, keepdims=True) / v

    return pm.CustomDist(
        name,
        mean,
        sigma_within,
        sigma_group,
        logp=logp,
        random=random,
        signature="(n),(),()->(n)",
        dims=dim,
        transform=ZeroSumTransform([-1]),
    )


def _log_rate_at(params: Mapping[str, Any], dynamic, design: Design, idx: tuple[np.ndarray, ...], float_x):
    """log mu at the cells ``idx`` only, gathering small vectors (so gradients never touch the cube)."""
    import pytensor.tensor as pt

    pi, fi, ti = (pt.as_tensor_variable(i.astype("int32")) for i in idx)
    out = (
        params["intercept"]
        + params["partner_effect"][pi]
        + params["family_effect"][fi]
        + params["partner_family_effect"][pi, fi]
        + params["family_trend"][fi] * params["decade"][ti]
    )
    if dynamic is not None:
        out = out + dynamic[pi, ti]
    if "family_dynamic" in params:
        out = out + params["family_dynamic"][fi, ti]
    if "fleet_size_slope" in params:
        out = out + params["fleet_size_slope"][fi] * design.fleet_size[idx].astype(float_x)
        out = out + params["fleet_age_slope"][fi] * design.fleet_age[idx].astype(float_x)
    if "nlp_lag" in params:
        out = out + pt.dot(params["nlp_lag"], design.nlp_lags[:, idx[0], idx[1], idx[2]].astype(float_x))
    return out


def _sparse_nb_loglik(counts: np.ndarray, log_mu, log_mu_nz, phi, zero_inflation=None):
    """Sum of NB log-pmfs over the cube, split into a cheap dense part and a sparse part.

    log NB(y | mu, phi) = phi * log(phi / (phi + mu))                       (every cell)
                        + sum_{k<y} log(phi + k) - lgamma(y + 1)
                        + y * (log mu - log(phi + mu))                       (only y > 0)
    The first line is -phi * log1p(mu / phi); the cheaper-looking log(phi + mu) - log(phi) loses
    the small terms to float32 cancellation over the cube (tried: NUTS on the real panel ran ten
    times slower per iteration). PyTensor's softplus(log mu - log phi) is exact too, but its JAX
    form nests three selects, and differentiated that doubled the gradient (1.2 vs 0.63 ms). The
    log-gamma ratio is written as a sum of logs because lgamma(y + phi) - lgamma(phi) cancels
    catastrophically in float32 once phi is large; summed over cells it is sum_k n_k log(phi + k),
    with n_k the number of cells with y > k.

    With ``zero_inflation`` pi (a structural zero with probability pi): zero cells have
    log(pi + (1 - pi) NB(0)), non-zero cells log(1 - pi) + log NB(y); the dense sum runs the zero
    form over every cell and the non-zero cells swap theirs for the right one.
    """
    import pytensor.tensor as pt

    def log1p_mu_over_phi(log_mu_):
        return pt.log1p(pt.exp(log_mu_) / phi)

    y_nz = counts[np.nonzero(counts)]
    ks = np.arange(int(y_nz.max()))
    n_above = (y_nz[:, None] > ks[None, :]).sum(axis=0).astype("float32")
    y = pt.as_tensor_variable(y_nz.astype("float32"))
    log_phi = pt.log(phi)
    rising = pt.sum(n_above * pt.log(phi + ks.astype("float32")))
    sparse = (
        rising - float(gammaln(y_nz + 1.0).sum()) + pt.sum(y * (log_mu_nz - pt.logaddexp(log_phi, log_mu_nz)))
    )
    if zero_inflation is None:
        return -phi * pt.sum(log1p_mu_over_phi(log_mu)) + sparse
    log_keep = pt.log1p(-zero_inflation)
    # log(pi + (1 - pi) NB(0)) as log1p((1 - pi) expm1(log NB(0))): a log-sum-exp of two O(1)
    # terms would cancel to float32 noise for the tiny rates of most cells
    zero_all = pt.log1p((1.0 - zero_inflation) * pt.expm1(-phi * log1p_mu_over_phi(log_mu)))
    nb0_nz = -phi * log1p_mu_over_phi(log_mu_nz)
    zero_nz = pt.log1p((1.0 - zero_inflation) * pt.expm1(nb0_nz))
    return pt.sum(zero_all) - pt.sum(zero_nz) + len(y_nz) * log_keep + pt.sum(nb0_nz) + sparse


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


class ModelFileError(ValueError):
    """A file that is not one of our posterior files; the message names the file and the reason."""


def open_posterior(path: Path | str, load: bool = False) -> xr.DataTree:
    """A posterior file as ArviZ opens it: lazily (the draws stay on disk until read; close it when
    done), or read whole with ``load``. Raises :class:`ModelFileError` for a missing file, one that is
    not NetCDF, or a NetCDF file that is not one of ours."""
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
                tree = tree.load()
        except Exception as exc:  # a truncated or damaged file fails only when its arrays are read
            raise ModelFileError(f"{path}: its draws cannot be read ({type(exc).__name__}: {exc})") from None
    return tree


class PosteriorDraws:
    """Draws flattened over (chain, draw) into one leading ``sample`` axis, as float64 numpy arrays.

    Attribute access reads a variable (``draws.intercept``); :meth:`params` gives the mapping
    :func:`bayes.design.log_rate` takes.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = dict(arrays)

    @classmethod
    def from_posterior(cls, posterior: xr.Dataset) -> PosteriorDraws:
        arrays = {}
        for name, da in posterior.data_vars.items():
            dims = [d for d in da.dims if d not in ("chain", "draw")]
            flat = da.stack(sample=("chain", "draw")).transpose("sample", *dims)
            arrays[str(name)] = np.ascontiguousarray(flat.values, dtype=np.float64)
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
        return log_rate(
            p,
            design.decade,
            p.get("partner_dynamic"),
            design.fleet_size if "fleet_size_slope" in p else None,
            design.fleet_age if "fleet_size_slope" in p else None,
            design.nlp_lags if "nlp_lag" in p else None,
        )


class DemandModel:
    """Hierarchical NB model with explicit ``model_config`` / ``sampler_config`` (PyMC-Marketing style)."""

    def __init__(
        self,
        model_config: Mapping[str, Any] | None = None,
        sampler_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.model_config = {**default_model_config(), **dict(model_config or {})}
        self.sampler_config = {**default_sampler_config(), **dict(sampler_config or {})}
        if problems := invalid_choices(self.model_config):
            raise ValueError("; ".join(problems))
        self.priors: PriorSet = parse_priors(self.model_config["priors"], "model_config['priors']")
        self.priors.require(PRIOR_NAMES)
        self.idata: xr.DataTree | None = None
        self._draws: PosteriorDraws | None = None

    @property
    def float_x(self) -> str:
        return "float32" if self.model_config.get("likelihood", "sparse") == "sparse" else "float64"

    @property
    def zero_inflated(self) -> bool:
        """NB with structural zeros (``model_config['zero_inflation']``); kept only if LOO prefers it."""
        return bool(self.model_config.get("zero_inflation", False))

    def _centred(self, block: str) -> bool:
        return bool({**DEFAULT_CENTRED, **self.model_config.get("centred", {})}[block])

    # -- building -------------------------------------------------------------------------------
    def build_model(self, panel: xr.Dataset):  # -> pm.Model
        """The PyMC model: counts, units per LOR and the pending-LOR conversion, in one graph.

        Counts: log mu[p, f, t] = intercept + partner[p] + family[f] + partner_family[p, f]
        + family_path[f, t] + dynamic[p, t] + readiness slopes[f] . fleet[p, f, t] (within-cell)
        + sum_l nlp_lag[l] * signal[p, f, t - l], and counts ~ NB(mu, dispersion). Partners are
        nested in regions (with alliance memberships shifting their mean) and families in
        categories, both through :func:`grouped_normal`; the likelihood sees them centred, so the
        intercept alone carries the overall level. ``dynamic`` is a stationary AR(1) per partner,
        non-centred, taken as departures from its mean over the fitted years. ``family_path`` is
        ``trend[f] * decade[t]`` where ``model_config['family_path']`` has a trend, plus, where it
        has an AR(1), ``family_dynamic[f, t]``: a stationary AR(1) per family, non-centred, taken as
        departures from the family's mean (and trend) over the fitted years.

        Units: log(units of a request) ~ Normal(units_intercept + units_family[f] + units_partner[p],
        units_sigma), over requests whose quantity is known.

        Conversion: realised requests of family f out of realised + withdrawn ~ Binomial(conversion[f]),
        conversion[f] ~ Beta with mean ``conversion_mean`` and concentration ``conversion_concentration``.

        ``model_config['likelihood']`` picks how the NB likelihood is written: ``sparse`` (default)
        -- zero cells cost one softplus each, only non-zero cells pay for log-gamma terms, float32;
        ``reference`` -- ``pm.NegativeBinomial`` observed on a long vector of every cell with effects
        gathered by index, float64: the textbook way, kept as the benchmark's baseline and as the
        check that ``sparse`` is the same density.
        """
        import pymc as pm
        import pytensor
        import pytensor.tensor as pt

        likelihood = self.model_config.get("likelihood", "sparse")
        if likelihood not in ("sparse", "reference"):
            raise ValueError(f"model_config['likelihood']: {likelihood!r} is not 'sparse' or 'reference'")
        fx = self.float_x
        d = build_design(panel)
        self.design = d
        present = components(d, self.model_config)
        n_p, n_f, n_t = d.counts.shape
        coords = {
            **{dim: panel[dim].values for dim in DIMS},
            "alliance": d.alliances,
            "lag": np.arange(d.nlp_lags.shape[0]),
            "lor_obs": np.arange(len(d.log_units)),
        }
        p = self.priors
        with pytensor.config.change_flags(floatX=fx), pm.Model(coords=coords) as model:
            decade = pm.Data("decade", d.decade.astype(fx), dims="year")
            intercept = p["intercept"].create()
            sigma_partner = p["sigma_partner"].create()
            sigma_region = p["sigma_region"].create()
            sigma_family = p["sigma_family"].create()
            sigma_category = p["sigma_category"].create()
            sigma_pf = p["sigma_partner_family"].create()
            if present["trend"]:
                trend_mean = p["trend_mean"].create()
                sigma_trend = p["sigma_trend"].create()
            inv_sqrt_phi = p["inv_sqrt_dispersion"].create()
            partner_mean = pt.zeros(n_p, dtype=fx)
            if present["alliance"]:
                alliance_effect = p["alliance_effect"].create(dims="alliance")
                partner_mean = pt.dot(d.alliance.astype(fx), alliance_effect)
            partner = grouped_normal(
                "partner_effect",
                partner_mean,
                sigma_partner,
                sigma_region,
                d.region_index,
                "partner",
                fx,
                centred=self._centred("partner"),
            )
            family = grouped_normal(
                "family_effect",
                pt.zeros(n_f, dtype=fx),
                sigma_family,
                sigma_category,
                d.category_index,
                "family",
                fx,
                centred=self._centred("family"),
            )
            z_pf = pm.ZeroSumNormal(
                "z_partner_family", sigma=1.0, dims=("partner", "family"), n_zerosum_axes=2
            )
            pf = pm.Deterministic("partner_family_effect", sigma_pf * z_pf, dims=("partner", "family"))
            if present["trend"]:
                trend = pm.Normal("family_trend", trend_mean, sigma_trend, dims="family")
            else:
                # Kept as zeros so every reader of a log rate finds the same parameters.
                trend = pm.Deterministic("family_trend", pt.zeros(n_f, dtype=fx), dims="family")
            dynamic = None
            if present["dynamics"]:
                sigma_dynamic = p["sigma_dynamic"].create()
                rho = p["rho_dynamic"].create()
                path = _ar1_paths("dynamic_innovation", sigma_dynamic, rho, ("partner", "year"), n_t)
                # Departures from the partner's level: a path's mean over the years would trade off
                # with the partner effect (a ridge that cost ~1,800 divergences on the real panel).
                dynamic = pm.Deterministic(
                    "partner_dynamic", path - path.mean(axis=1, keepdims=True), dims=("partner", "year")
                )
            phi = pm.Deterministic("dispersion", 1.0 / pt.square(inv_sqrt_phi))
            params = {
                "intercept": intercept,
                "partner_effect": partner,
                "family_effect": family,
                "partner_family_effect": pf,
                "family_trend": trend,
                "decade": decade,
            }
            if present["family_dynamics"]:
                sigma_fd = p["sigma_family_dynamic"].create()
                rho_fd = p["rho_family_dynamic"].create()
                path_fd = _ar1_paths("family_dynamic_innovation", sigma_fd, rho_fd, ("family", "year"), n_t)
                # Departures from the family's level and its linear trend, which would otherwise
                # trade off with the path's mean and slope.
                params["family_dynamic"] = pm.Deterministic(
                    "family_dynamic",
                    pt.dot(path_fd, detrender(d.decade, present["trend"]).astype(fx)),
                    dims=("family", "year"),
                )
            covariates: dict[str, Any] = {}
            if present["readiness"]:
                for name in ("fleet_size", "fleet_age"):
                    # Non-centred: with few families the slopes' spread is weakly identified, and
                    # the centred form funnels as it shrinks.
                    mean = p[f"{name}_mean"].create()
                    sd = p[f"sigma_{name}"].create()
                    if self._centred("slopes"):
                        params[f"{name}_slope"] = pm.Normal(f"{name}_slope", mean, sd, dims="family")
                    else:
                        z = pm.Normal(f"z_{name}_slope", 0.0, 1.0, dims="family")
                        params[f"{name}_slope"] = pm.Deterministic(
                            f"{name}_slope", mean + sd * z, dims="family"
                        )
                covariates["fleet_size"] = d.fleet_size.astype(fx)
                covariates["fleet_age"] = d.fleet_age.astype(fx)
            if present["nlp"]:
                params["nlp_lag"] = p["nlp_lag"].create(dims="lag")
                covariates["nlp_lags"] = d.nlp_lags.astype(fx)

            if likelihood == "reference" and self.zero_inflated:
                raise ValueError("model_config: the reference likelihood has no zero-inflated form")
            if likelihood == "reference":
                # The straightforward way: one long vector of cells, effects gathered by index.
                idx = tuple(i.ravel() for i in np.indices(d.counts.shape))
                model.add_coord("cell", np.arange(d.counts.size))
                pm.NegativeBinomial(
                    "lor_count",
                    mu=pt.exp(_log_rate_at(params, dynamic, d, idx, fx)),
                    alpha=phi,
                    observed=d.counts.ravel(),
                    dims="cell",
                )
            else:
                # Dense broadcasting over the whole cube: XLA fuses it into one elementwise pass.
                log_mu = log_rate(params, decade, dynamic, **covariates)
                log_mu_nz = _log_rate_at(params, dynamic, d, np.nonzero(d.counts), fx)
                pi = p["zero_inflation"].create() if self.zero_inflated else None
                pm.Potential("lor_count_loglik", _sparse_nb_loglik(d.counts, log_mu, log_mu_nz, phi, pi))

            self._units_block(d, fx)
            if present["conversion"]:
                self._conversion_block(d)
        return model

    def _units_block(self, d: Design, fx: str) -> None:
        import pymc as pm

        p = self.priors
        units_intercept = p["units_intercept"].create()
        sigma_uf = p["sigma_units_family"].create()
        sigma_up = p["sigma_units_partner"].create()
        units_sigma = p["units_sigma"].create()
        units_family = pm.ZeroSumNormal("units_family", sigma=sigma_uf, dims="family")
        # Most partners have few requests with quantities: non-centred, or sigma_up funnels.
        z_up = pm.ZeroSumNormal("z_units_partner", sigma=1.0, dims="partner")
        units_partner = pm.Deterministic("units_partner", sigma_up * z_up, dims="partner")
        pm.Normal(
            "log_units",
            units_intercept + units_family[d.lor_family] + units_partner[d.lor_partner],
            units_sigma,
            observed=d.log_units.astype(fx),
            dims="lor_obs",
        )

    def _conversion_block(self, d: Design) -> None:
        import pymc as pm

        p = self.priors
        mean = p["conversion_mean"].create()
        kappa = p["conversion_concentration"].create()
        conversion = pm.Beta("conversion", alpha=mean * kappa, beta=(1.0 - mean) * kappa, dims="family")
        pm.Binomial(
            "requests_realised", n=d.realised + d.withdrawn, p=conversion, observed=d.realised, dims="family"
        )

    # -- fitting --------------------------------------------------------------------------------
    def stored_names(self, design: Design) -> list[str]:
        names = variables(components(design, self.model_config), (*PRIOR_NAMES, *EFFECTS))
        return [*names, "zero_inflation"] if self.zero_inflated else names

    def gated_names(self, design: Design) -> list[str]:
        """What the gates judge: every stored quantity but the dispersion, a function of
        inv_sqrt_dispersion."""
        constant = {"dispersion"}
        if not components(design, self.model_config)["trend"]:
            constant.add("family_trend")  # zeros without the trend
        return [n for n in self.stored_names(design) if n not in constant]

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
            components(design, self.model_config),
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
        sampled = time.perf_counter() - started
        design = self.design
        prior = None
        if analysis_groups:
            with pytensor.config.change_flags(floatX=self.float_x):
                prior = sample_prior(
                    model, 500, int(self.sampler_config["random_seed"]) + 1, self.stored_names(design)
                )
        idata = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
        idata = self._assemble(idata, prior, panel, design, time.perf_counter() - started)
        idata["sampler_state"] = xr.DataTree(state.to_dataset())
        idata.attrs["sampling_seconds"] = round(sampled, 2)
        idata.attrs["warm_start"] = int(warm_start is not None)
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
    ) -> xr.DataTree:
        """The stored groups, attributes and gates; with ``prior`` None, no analysis groups."""
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
            if name not in children:
                continue
            # Sampling ran in float32; storing float64 would double the file for no information.
            children[name] = children[name].astype(
                {v: np.float32 for v, da in children[name].data_vars.items() if da.dtype.kind == "f"}
            )
        tree = xr.DataTree.from_dict(children)
        self.idata = tree
        diag = diagnose(tree, self.gated_names(design), self.model_config.get("gates"))
        tree.attrs.update(
            {
                "totaldemand_model": MODEL_NAME,
                "model_version": MODEL_VERSION,
                "code_version": code_version(),
                "model_config": json.dumps(self.model_config),
                "sampler_config": json.dumps(self.sampler_config),
                "components": json.dumps(components(design, self.model_config)),
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
        names = [n for n in (*RATE_PARAMETERS, "dispersion", "zero_inflation") if draws.has(n)]
        step = max(1, min(draws.n, 8_000_000 // y.size))
        out = np.empty((draws.n, n_p, n_t), dtype=np.float32)
        covariates = {
            "fleet_size": design.fleet_size if draws.has("fleet_size_slope") else None,
            "fleet_age": design.fleet_age if draws.has("fleet_size_slope") else None,
            "nlp_lags": design.nlp_lags if draws.has("nlp_lag") else None,
        }
        covariates = {k: None if v is None else v.astype(np.float32) for k, v in covariates.items()}
        decade = design.decade.astype(np.float32)

        @jax.jit
        def chunk(params: dict) -> jax.Array:
            log_mu = log_rate(params, decade, params.get("partner_dynamic"), **covariates)
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
                keep = min(step, draws.n - start)
                out[start : start + keep] = np.asarray(chunk(params))[:keep]
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
                mu = np.exp(draws.log_rate(design, slice(s, s + 1)))[0]
                phi = draws.dispersion[s]
                counts = rng.poisson(rng.gamma(phi, mu / phi))
                if draws.has("zero_inflation"):
                    counts = counts * (rng.random(counts.shape) >= draws.zero_inflation[s])
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
        """Write the DataTree as NetCDF atomically: temp file in the same folder, fsync, rename."""
        tree = self._require_fit()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            tree.to_netcdf(tmp, engine="h5netcdf")
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.info("saved %s (%.1f MB)", path, path.stat().st_size / 1e6)
        return path

    @classmethod
    def load(cls, path: Path | str) -> DemandModel:
        path = Path(path)
        tree = open_posterior(path, load=True)
        try:
            # Files from before family_path existed were all fitted with the linear trend.
            config = {"family_path": "trend", **json.loads(tree.attrs["model_config"])}
            model = cls(config, json.loads(tree.attrs["sampler_config"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: its model or sampler settings cannot be read ({exc})") from None
        model.idata = tree
        return model

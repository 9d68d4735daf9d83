"""The hierarchical negative-binomial model of yearly LOR counts per partner × family.

    log mu[p, f, t] = intercept + partner[p] + family[f] + partner_family[p, f] + trend[f] * decade[t]
    lor_count[p, f, t] ~ NegativeBinomial(mu, dispersion)

Partner and family effects are zero-sum, so the intercept alone carries the overall level. The
partner × family interaction -- thousands of sparsely observed cells -- is non-centred
(``sigma * z``); partner and family effects and family trends are centred, because each is
informed by hundreds of cells and the centred form mixes better there (measured on the real
panel: see the closing note of the foundation issue). ``decade[t]`` is years from the middle of the
observed window over ten.

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
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import gammaln

from bayes.diagnostics import DEFAULT_GATES, Diagnostics, diagnose
from bayes.diagnostics import from_dict as diagnostics_from_dict
from priors import PriorSet, load_priors, parse_priors

log = logging.getLogger(__name__)

MODEL_NAME = "nb_hierarchical"
MODEL_VERSION = "1"
PRIOR_NAMES = (
    "intercept",
    "sigma_partner",
    "sigma_family",
    "sigma_partner_family",
    "trend_mean",
    "sigma_trend",
    "inv_sqrt_dispersion",
)
# What forecasts read; the gates are checked over these and the hyper-parameters.
EFFECTS = ("partner_effect", "family_effect", "partner_family_effect", "family_trend", "dispersion")
GATED = (*PRIOR_NAMES, "partner_effect", "family_effect", "partner_family_effect", "family_trend")
DIMS = ("partner", "family", "year")


def code_version() -> str:
    try:
        return version("totaldemand")
    except PackageNotFoundError:
        return "unknown"


def default_sampler_config() -> dict[str, Any]:
    return {
        "draws": 1000,
        "tune": 1000,
        "chains": 4,
        "target_accept": 0.9,
        "random_seed": 20261124,
        "nuts_sampler": "numpyro",
        "chain_method": "parallel",
        "ppc_draws": 500,
    }


def default_model_config(priors: PriorSet | None = None) -> dict[str, Any]:
    priors = priors or load_priors()
    return {"priors": priors.as_dict(), "gates": dict(DEFAULT_GATES), "likelihood": "sparse"}


def decades(years: np.ndarray, centre_year: float) -> np.ndarray:
    return (np.asarray(years, dtype=float) - centre_year) / 10.0


def centre_of(years: np.ndarray) -> float:
    """Time origin of the trends: the middle of the observed years, which decorrelates each
    family's level from its trend (an origin at the last year couples them and slows NUTS)."""
    return float(np.mean(years))


def nb_logpmf(y: np.ndarray, mu: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Negative-binomial log pmf, mean ``mu`` and dispersion ``phi`` (variance mu + mu^2/phi)."""
    log_p = np.log(phi) - np.logaddexp(np.log(phi), np.log(mu))
    log_q = np.log(mu) - np.logaddexp(np.log(phi), np.log(mu))
    return gammaln(y + phi) - gammaln(phi) - gammaln(y + 1.0) + phi * log_p + y * log_q


def _sparse_nb_loglik(counts, log_mu, partner, family, pf, trend, intercept, decade, phi):
    """Sum of NB log-pmfs over the cube, split into a cheap dense part and a sparse part.

    log NB(y | mu, phi) = phi * log(phi / (phi + mu))                       (every cell)
                        + sum_{k<y} log(phi + k) - lgamma(y + 1)
                        + y * (log mu - log(phi + mu))                       (only y > 0)
    The first line is -phi * softplus(log mu - log phi). The log-gamma ratio is written as a sum
    of logs because lgamma(y + phi) - lgamma(phi) cancels catastrophically in float32 once phi is
    large; summed over cells it is sum_k n_k log(phi + k), with n_k the number of cells with y > k.
    Non-zero cells rebuild log mu from the effects by gathering small vectors, so the gradient
    never scatters into the dense cube.
    """
    import pytensor.tensor as pt

    nonzero = np.nonzero(counts)
    y_nz = counts[nonzero]
    ks = np.arange(int(y_nz.max()))
    n_above = (y_nz[:, None] > ks[None, :]).sum(axis=0).astype("float32")
    p_i, f_i, t_i = (pt.as_tensor_variable(i.astype("int32")) for i in nonzero)
    y = pt.as_tensor_variable(y_nz.astype("float32"))
    log_phi = pt.log(phi)
    dense = -phi * pt.sum(pt.softplus(log_mu - log_phi))
    log_mu_nz = intercept + partner[p_i] + family[f_i] + pf[p_i, f_i] + trend[f_i] * decade[t_i]
    rising = pt.sum(n_above * pt.log(phi + ks.astype("float32")))
    sparse = (
        rising - float(gammaln(y_nz + 1.0).sum()) + pt.sum(y * (log_mu_nz - pt.logaddexp(log_phi, log_mu_nz)))
    )
    return dense + sparse


def sample_prior(model, draws: int, seed: int) -> xr.DataTree:  # model: pm.Model
    """Draw the parameters and effects from the prior (inside the model's floatX context)."""
    import pymc as pm

    with model, warnings.catch_warnings():
        # Only parameters are drawn here, so the likelihood Potential has nothing to bias;
        # replicated counts are drawn from these parameters by our own NB sampler.
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        return pm.sample_prior_predictive(draws=draws, var_names=[*PRIOR_NAMES, *EFFECTS], random_seed=seed)


@dataclass(frozen=True)
class PosteriorDraws:
    """Posterior draws flattened over (chain, draw) into one ``sample`` axis, as numpy arrays."""

    intercept: np.ndarray  # (S,)
    partner_effect: np.ndarray  # (S, P)
    family_effect: np.ndarray  # (S, F)
    partner_family_effect: np.ndarray  # (S, P, F)
    family_trend: np.ndarray  # (S, F)
    dispersion: np.ndarray  # (S,)
    sigma_partner: np.ndarray  # (S,)
    sigma_family: np.ndarray  # (S,)
    sigma_partner_family: np.ndarray  # (S,)
    trend_mean: np.ndarray  # (S,)
    sigma_trend: np.ndarray  # (S,)

    @classmethod
    def from_posterior(cls, posterior: xr.Dataset) -> PosteriorDraws:
        def flat(name: str, dims: tuple[str, ...]) -> np.ndarray:
            da = posterior[name].stack(sample=("chain", "draw")).transpose("sample", *dims)
            return np.ascontiguousarray(da.values, dtype=np.float64)

        return cls(
            intercept=flat("intercept", ()),
            partner_effect=flat("partner_effect", ("partner",)),
            family_effect=flat("family_effect", ("family",)),
            partner_family_effect=flat("partner_family_effect", ("partner", "family")),
            family_trend=flat("family_trend", ("family",)),
            dispersion=flat("dispersion", ()),
            sigma_partner=flat("sigma_partner", ()),
            sigma_family=flat("sigma_family", ()),
            sigma_partner_family=flat("sigma_partner_family", ()),
            trend_mean=flat("trend_mean", ()),
            sigma_trend=flat("sigma_trend", ()),
        )

    @property
    def n(self) -> int:
        return self.intercept.shape[0]

    def log_rate(self, decade: np.ndarray, sl: slice = slice(None)) -> np.ndarray:
        """log mu for samples ``sl`` over (sample, partner, family, year)."""
        return (
            self.intercept[sl, None, None, None]
            + self.partner_effect[sl, :, None, None]
            + self.family_effect[sl, None, :, None]
            + self.partner_family_effect[sl, :, :, None]
            + self.family_trend[sl, None, :, None] * decade[None, None, None, :]
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
        self.priors: PriorSet = parse_priors(self.model_config["priors"], "model_config['priors']")
        self.priors.require(PRIOR_NAMES)
        self.idata: xr.DataTree | None = None
        self._draws: PosteriorDraws | None = None

    @property
    def float_x(self) -> str:
        return "float32" if self.model_config.get("likelihood", "sparse") == "sparse" else "float64"

    # -- building -------------------------------------------------------------------------------
    def build_model(self, panel: xr.Dataset):  # -> pm.Model
        """The PyMC model. ``model_config['likelihood']`` picks how the NB likelihood is written:

        ``sparse`` (default): zero cells cost one softplus each and only non-zero cells pay for
        log-gamma terms, evaluated in float32 -- the same density as ``reference``, ~25x cheaper per
        gradient on the real panel; ``reference``: ``pm.NegativeBinomial`` observed on a long vector
        of every cell with effects gathered by index, in float64 -- the textbook way, kept as the
        benchmark's baseline and as the check that ``sparse`` is the same density.
        """
        import pymc as pm
        import pytensor
        import pytensor.tensor as pt

        likelihood = self.model_config.get("likelihood", "sparse")
        if likelihood not in ("sparse", "reference"):
            raise ValueError(f"model_config['likelihood']: {likelihood!r} is not 'sparse' or 'reference'")
        float_x = self.float_x
        coords = {d: panel[d].values for d in DIMS}
        counts = panel["lor_count"].values
        p = self.priors
        with pytensor.config.change_flags(floatX=float_x), pm.Model(coords=coords) as model:
            decade = pm.Data(
                "decade",
                decades(panel["year"].values, centre_of(panel["year"].values)).astype(float_x),
                dims="year",
            )
            intercept = p["intercept"].create()
            sigma_partner = p["sigma_partner"].create()
            sigma_family = p["sigma_family"].create()
            sigma_pf = p["sigma_partner_family"].create()
            trend_mean = p["trend_mean"].create()
            sigma_trend = p["sigma_trend"].create()
            inv_sqrt_phi = p["inv_sqrt_dispersion"].create()

            # Zero-sum effects: the intercept alone carries the overall level, which removes the
            # ridge between it and the means of the effects that slows NUTS on the real panel.
            z_pf = pm.ZeroSumNormal(
                "z_partner_family", sigma=1.0, dims=("partner", "family"), n_zerosum_axes=2
            )

            partner = pm.ZeroSumNormal("partner_effect", sigma=sigma_partner, dims="partner")
            family = pm.ZeroSumNormal("family_effect", sigma=sigma_family, dims="family")
            pf = pm.Deterministic("partner_family_effect", sigma_pf * z_pf, dims=("partner", "family"))
            trend = pm.Normal("family_trend", trend_mean, sigma_trend, dims="family")
            phi = pm.Deterministic("dispersion", 1.0 / pt.square(inv_sqrt_phi))

            if likelihood == "reference":
                # The straightforward way: one long vector of cells, effects gathered by index.
                p_i, f_i, t_i = (i.ravel() for i in np.indices(counts.shape))
                model.add_coord("cell", np.arange(counts.size))
                long_log_mu = intercept + partner[p_i] + family[f_i] + pf[p_i, f_i] + trend[f_i] * decade[t_i]
                pm.NegativeBinomial(
                    "lor_count", mu=pt.exp(long_log_mu), alpha=phi, observed=counts.ravel(), dims="cell"
                )
            else:
                # Dense broadcasting over the whole cube: XLA fuses it into one elementwise pass.
                log_mu = (
                    intercept
                    + partner[:, None, None]
                    + family[None, :, None]
                    + pf[:, :, None]
                    + trend[None, :, None] * decade[None, None, :]
                )
                pm.Potential(
                    "lor_count_loglik",
                    _sparse_nb_loglik(counts, log_mu, partner, family, pf, trend, intercept, decade, phi),
                )
        return model

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, panel: xr.Dataset, progressbar: bool = True) -> xr.DataTree:
        """Sample the posterior, add prior/predictive/log-likelihood groups, and check the gates."""
        import pymc as pm
        import pytensor

        cfg = self.sampler_config
        model = self.build_model(panel)
        seed = int(cfg["random_seed"])
        keep = [*PRIOR_NAMES, *EFFECTS]
        log.info(
            "fitting %s on %s cells, %d chains x %d draws (tune %d)",
            MODEL_NAME,
            panel["lor_count"].size,
            cfg["chains"],
            cfg["draws"],
            cfg["tune"],
        )
        started = time.perf_counter()
        with pytensor.config.change_flags(floatX=self.float_x), model, warnings.catch_warnings():
            # JAX runs in 32-bit here (the model is float32); PyMC's post-processing asks for 64-bit
            # copies of draws and stats, which JAX truncates with a warning that says nothing useful.
            warnings.filterwarnings("ignore", "Explicitly requested dtype", UserWarning)
            idata = pm.sample(
                draws=int(cfg["draws"]),
                tune=int(cfg["tune"]),
                chains=int(cfg["chains"]),
                target_accept=float(cfg["target_accept"]),
                random_seed=seed,
                nuts_sampler=cfg["nuts_sampler"],
                nuts={"chain_method": cfg["chain_method"]},
                progressbar=progressbar,
                var_names=keep,
                compute_convergence_checks=False,
            )
            prior = sample_prior(model, 500, seed + 1)
        elapsed = time.perf_counter() - started
        idata = self._assemble(idata, prior, panel, elapsed)
        self.idata = idata
        self._draws = None
        diag = self.diagnostics
        log.info("fit done in %.1fs; %s", elapsed, "; ".join(diag.lines()))
        return idata

    def _assemble(
        self, idata: xr.DataTree, prior: xr.DataTree, panel: xr.Dataset, elapsed: float
    ) -> xr.DataTree:
        reference_year = int(panel["year"].values.max())
        children = {name: idata[name].to_dataset() for name in ("posterior", "sample_stats")}
        children["prior"] = prior["prior"].to_dataset()
        children["observed_data"] = xr.Dataset({"lor_count": panel["lor_count"].reset_coords(drop=True)})
        children["constant_data"] = xr.Dataset(
            {
                "decade": ("year", decades(panel["year"].values, centre_of(panel["year"].values))),
                "partner_region": ("partner", panel["partner_region"].values.astype(str)),
                "partner_name": ("partner", panel["partner_name"].values.astype(str)),
                "family_category": ("family", panel["family_category"].values.astype(str)),
                "family_name": ("family", panel["family_name"].values.astype(str)),
            },
            coords={d: panel[d].values for d in DIMS},
        )
        draws = PosteriorDraws.from_posterior(children["posterior"])
        chains, n_draws = children["posterior"].sizes["chain"], children["posterior"].sizes["draw"]
        children["log_likelihood"] = self._log_likelihood(draws, panel, chains, n_draws)
        children["posterior_predictive"] = self._posterior_predictive(draws, panel, chains, n_draws)
        for name in ("posterior", "prior", "log_likelihood", "posterior_predictive"):
            # Sampling ran in float32; storing float64 would double the file for no information.
            children[name] = children[name].astype(
                {v: np.float32 for v, da in children[name].data_vars.items() if da.dtype.kind == "f"}
            )
        tree = xr.DataTree.from_dict(children)
        self.idata = tree
        diag = diagnose(tree, GATED, self.model_config.get("gates"))
        tree.attrs.update(
            {
                "totaldemand_model": MODEL_NAME,
                "model_version": MODEL_VERSION,
                "code_version": code_version(),
                "model_config": json.dumps(self.model_config),
                "sampler_config": json.dumps(self.sampler_config),
                "data_hash": str(panel.attrs.get("data_hash", "")),
                "data_source": str(panel.attrs.get("source", "")),
                "priors_version": self.priors.version,
                "priors_hash": self.priors.hash,
                "reference_year": reference_year,
                "centre_year": centre_of(panel["year"].values),
                "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "fit_seconds": round(elapsed, 2),
                "diagnostics": json.dumps(diag.as_dict()),
                "status": "ok" if diag.passed else "failed",
                "approximate": 0,
            }
        )
        return tree

    @staticmethod
    def _log_likelihood(draws: PosteriorDraws, panel: xr.Dataset, chains: int, n_draws: int) -> xr.Dataset:
        """Pointwise log-likelihood per partner-year (summed over families).

        A per-cell array would be chains x draws x cells (gigabytes on the real panel); partner-years
        keep LOO meaningful for forecasting (leave out what one partner asked for in one year).
        """
        y = panel["lor_count"].values
        decade = decades(panel["year"].values, centre_of(panel["year"].values))
        nz = np.nonzero(y)
        y_nz = y[nz].astype(float)
        pt_index = nz[0] * y.shape[2] + nz[2]  # flat (partner, year) slot of each non-zero cell
        out = np.empty((draws.n, y.shape[0], y.shape[2]))
        step = max(1, 8_000_000 // y.size)
        for start in range(0, draws.n, step):
            sl = slice(start, start + step)
            log_mu = draws.log_rate(decade, sl)
            phi = draws.dispersion[sl, None, None, None]
            # Every cell contributes log NB(0); only non-zero cells need the log-gamma terms.
            chunk = (-phi * np.log1p(np.exp(log_mu) / phi)).sum(axis=2)
            phi_nz = draws.dispersion[sl, None]
            full = nb_logpmf(y_nz[None], np.exp(log_mu[:, nz[0], nz[1], nz[2]]), phi_nz)
            zero = -phi_nz * np.log1p(np.exp(log_mu[:, nz[0], nz[1], nz[2]]) / phi_nz)
            flat = chunk.reshape(chunk.shape[0], -1)
            for i in range(flat.shape[0]):
                flat[i] += np.bincount(pt_index, weights=full[i] - zero[i], minlength=flat.shape[1])
            out[sl] = chunk
        data = out.reshape(chains, n_draws, y.shape[0], y.shape[2])
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
        self, draws: PosteriorDraws, panel: xr.Dataset, chains: int, n_draws: int
    ) -> xr.Dataset:
        """Replicated counts summed to family-year and partner-year totals, on a thinned set of draws."""
        rng = np.random.default_rng(int(self.sampler_config["random_seed"]) + 2)
        per_chain = max(1, min(n_draws, int(self.sampler_config["ppc_draws"]) // chains))
        picks = np.linspace(0, n_draws - 1, per_chain).astype(int)
        decade = decades(panel["year"].values, centre_of(panel["year"].values))
        fam = np.empty((chains, per_chain, panel.sizes["family"], panel.sizes["year"]))
        par = np.empty((chains, per_chain, panel.sizes["partner"], panel.sizes["year"]))
        for c in range(chains):
            for j, d in enumerate(picks):
                s = c * n_draws + d
                mu = np.exp(draws.log_rate(decade, slice(s, s + 1)))[0]
                phi = draws.dispersion[s]
                counts = rng.poisson(rng.gamma(phi, mu / phi))
                fam[c, j] = counts.sum(axis=0)
                par[c, j] = counts.sum(axis=1)
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
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            tree = tree.load()
        if tree.attrs.get("totaldemand_model") != MODEL_NAME:
            raise ValueError(
                f"{path}: not a {MODEL_NAME} posterior file "
                f"(totaldemand_model={tree.attrs.get('totaldemand_model')!r})"
            )
        model = cls(json.loads(tree.attrs["model_config"]), json.loads(tree.attrs["sampler_config"]))
        model.idata = tree
        return model

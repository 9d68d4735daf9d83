"""Simulation-based calibration (Talts et al. 2018) of the demand model and the side models, each on a
small configuration.

Each replicate draws every parameter from the prior, simulates counts, units and withdrawals from
them on a fixed small design (partners, families, years, readiness and text covariates), fits the
model, and records the rank of each true scalar among thinned posterior draws. If the sampler and
the model are right, every parameter's ranks are uniform; a chi-square test per parameter says
how far they are from it, and the histograms show how (a U shape: over-confident, a hump:
under-confident, a slope: biased).

The side models (the U.S. share and the FMS channel, :func:`run_side_sbc`) are regressions on a design
the data fix (orders per cell and their history, the years a partner reports): a replicate keeps a
simulated panel's design and draws the scalars and the likelihood's data from the prior.
"""

from __future__ import annotations

import logging
import multiprocessing
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytensor
import xarray as xr
from scipy import stats

from bayes._small_fit import SmallModel, pick_draws, sample_small
from bayes.design import build_design
from bayes.model import DemandModel, PosteriorDraws, default_model_config, sample_prior
from bayes.observation import draw_counts
from bayes.panel import build_panel, panel_hash
from bayes.simulate import WorldSpec, write_world
from bayes.terms import CHECKED
from evidence.loaders import load_dataset

log = logging.getLogger(__name__)

# Scalars whose ranks are checked: the hyper-parameters each term marks as informed by a small design.
SBC_PARAMS = CHECKED
# A replicate is a small panel written out request by request: prior draws from the tails (rates of
# thousands a cell) would make it millions of rows, so its rates stop at e^8 (~3,000 a cell-year).
SBC_MAX_LOG_RATE = 8.0
# The side models with a calibration of their own (:func:`run_side_sbc`).
SIDE_MODELS = ("us_share", "channel")


@dataclass(frozen=True)
class SBCResult:
    ranks: xr.Dataset  # (replicate,) per parameter, in 0..n_ranks
    n_ranks: int
    p_values: dict[str, float]  # chi-square test of uniform ranks, per parameter
    failed_fits: int

    def uniform(self, alpha: float = 0.01) -> bool:
        """No parameter's ranks reject uniformity at ``alpha`` after a Bonferroni correction."""
        return min(self.p_values.values()) >= alpha / len(self.p_values)


def _template(seed: int) -> xr.Dataset:
    spec = WorldSpec(partners=8, families=4, first_year=2008, last_year=2019, nlp_first_year=2009)
    with tempfile.TemporaryDirectory() as tmp:
        write_world(Path(tmp) / "w", spec, seed)
        return build_panel(load_dataset(Path(tmp) / "w"), first_year=spec.first_year)


def _replicate(panel: xr.Dataset, prior: PosteriorDraws, i: int, rng: np.random.Generator) -> xr.Dataset:
    """The template panel with counts, units and withdrawals drawn from prior draw ``i``."""
    design = build_design(panel)
    log_mu = prior.log_rate(design, slice(i, i + 1))[0]
    counts = draw_counts(rng, log_mu, prior.dispersion[i], max_log_rate=SBC_MAX_LOG_RATE)
    p_idx, f_idx, t_idx = np.nonzero(counts)
    reps = counts[p_idx, f_idx, t_idx]
    lor_p, lor_f, lor_t = (np.repeat(a, reps) for a in (p_idx, f_idx, t_idx))
    log_q = rng.normal(
        prior.units_intercept[i] + prior.units_family[i][lor_f] + prior.units_partner[i][lor_p],
        prior.units_sigma[i],
    )
    out = panel.drop_dims("lor")
    out["lor_count"] = (("partner", "family", "year"), counts)
    partners, families, years = (panel[d].values for d in ("partner", "family", "year"))
    out = out.assign_coords(lor=[f"sbc-{k}" for k in range(len(lor_p))])
    out["lor_partner"] = ("lor", partners[lor_p])
    out["lor_family"] = ("lor", families[lor_f])
    out["lor_year"] = ("lor", years[lor_t])
    out["lor_quantity"] = ("lor", np.exp(log_q))  # the model reads log quantities as continuous
    realised = counts.sum(axis=(0, 2))
    conversion = prior.conversion[i] if prior.has("conversion") else np.ones(len(families))
    withdrawn = rng.negative_binomial(np.maximum(realised, 1), np.clip(conversion, 1e-6, 1.0)) * (
        realised > 0
    )
    out["withdrawn_lors"] = ("family", withdrawn)
    out.attrs["data_hash"] = panel_hash(out)
    return out


def _fit_ranks(
    panel: xr.Dataset, truth: dict[str, float], config: dict, sampler: dict, thin_to: int
) -> dict[str, int]:
    """Fit one replicate and return each parameter's rank of the truth among thinned draws."""
    # Sampling only: ranks need the posterior draws, not the file's other groups.
    _, posterior, _, _ = DemandModel(config, sampler).sample(panel, progressbar=False)
    post = PosteriorDraws.from_posterior(posterior)
    take = np.linspace(0, post.n - 1, thin_to).astype(int)
    return {n: int((getattr(post, n)[take] < value).sum()) for n, value in truth.items()}


def _bins(n_ranks: int, replicates: int) -> int:
    """Histogram bins of equal width over the ranks with at least 4 replicates expected in each
    (the chi-square test's approximation needs it): the largest such divisor of ``n_ranks``."""
    fits = [b for b in range(2, n_ranks + 1) if n_ranks % b == 0 and replicates / b >= 4]
    return max(fits, default=2)


def uniformity_p_value(ranks: np.ndarray, n_ranks: int, bins: int) -> float:
    """Chi-square test that ``ranks`` (in 0..n_ranks-1) are uniform, over ``bins`` equal bins."""
    if not ranks.size:
        return float("nan")
    observed = np.bincount((np.asarray(ranks) * bins) // n_ranks, minlength=bins)
    return float(stats.chisquare(observed).pvalue)


def run_sbc(
    replicates: int = 60,
    draws: int = 200,
    tune: int = 300,
    chains: int = 2,
    thin_to: int = 49,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> SBCResult:
    """Run ``replicates`` prior-draw → simulate → fit rounds; ranks use ``thin_to`` posterior draws.

    ``workers`` > 1 fits replicates in that many processes at once: a small model's fit is mostly
    XLA compilation, which runs on one core, so two workers on two cores nearly halve the time.
    """
    template = _template(seed)
    config = default_model_config()
    probe = DemandModel(config)
    with pytensor.config.change_flags(floatX=probe.float_x):
        built = probe.build_model(template)
        prior_tree = sample_prior(built, replicates, seed + 1, probe.stored_names(probe.design))
    prior = PosteriorDraws.from_posterior(prior_tree["prior"].to_dataset())
    names = [n for n in SBC_PARAMS if prior.has(n)]
    rng = np.random.default_rng(seed + 2)
    jobs = [
        (
            _replicate(template, prior, i, rng),
            {n: float(getattr(prior, n)[i]) for n in names},
            config,
            {"draws": draws, "tune": tune, "chains": chains, "random_seed": seed + 100 + i},
            thin_to,
        )
        for i in range(replicates)
    ]
    attrs = {"draws": draws, "chains": chains, "tune": tune, "seed": seed}
    return _ranked(_fit_ranks, jobs, names, thin_to, workers, progress, attrs)


def _ranked(
    fit: Callable[..., dict[str, int]],
    jobs: list[tuple],
    names: list[str],
    thin_to: int,
    workers: int,
    progress: Callable[[int, int], None] | None,
    attrs: dict[str, int | str],
) -> SBCResult:
    """Fit every replicate (``fit(*job)``: each parameter's rank of the truth), in ``workers``
    processes, and test each parameter's ranks for uniformity."""
    replicates = len(jobs)
    ranks = {n: np.full(replicates, -1, dtype=int) for n in names}
    failed = 0

    def record(i: int, result: dict[str, int] | BaseException) -> None:
        nonlocal failed
        if isinstance(result, BaseException):  # a prior draw the sampler cannot start from
            log.warning("SBC replicate %d failed to fit: %s", i, result)
            failed += 1
        else:
            for n, r in result.items():
                ranks[n][i] = r

    if workers <= 1:
        for i, job in enumerate(jobs):
            try:
                record(i, fit(*job))
            except Exception as exc:
                record(i, exc)
            if progress is not None:
                progress(i + 1, replicates)
    else:
        # spawn, not fork: the parent has JAX's threads running, which a forked child would inherit.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(fit, *job): i for i, job in enumerate(jobs)}
            for done, future in enumerate(as_completed(futures), start=1):
                exc = future.exception()
                record(futures[future], exc if exc is not None else future.result())
                if progress is not None:
                    progress(done, replicates)
    bins = _bins(thin_to + 1, replicates - failed)
    p_values = {n: uniformity_p_value(r[r >= 0], thin_to + 1, bins) for n, r in ranks.items()}
    ds = xr.Dataset(
        {n: ("replicate", r) for n, r in ranks.items()}, coords={"replicate": np.arange(replicates)}
    )
    ds.attrs.update({"n_ranks": thin_to + 1, "bins": bins, **attrs})
    return SBCResult(ds, thin_to + 1, p_values, failed)


def _side_setup(kind: str, seed: int) -> tuple[SmallModel, xr.Dataset]:
    """A side model and the small simulated panel whose design (orders per cell and their history; the
    years each partner reports) every replicate keeps: only the likelihood's data are drawn anew."""
    if kind == "us_share":
        from bayes.us_share import USShareModel, simulate_share_panel

        panel, _ = simulate_share_panel(16, 5, np.arange(2004, 2018), seed)
        return USShareModel(), panel
    if kind == "channel":
        from bayes.channel_share import ChannelModel, simulate_channel_panel

        panel, _ = simulate_channel_panel(24, np.arange(2001, 2017), seed)
        return ChannelModel(), panel
    raise ValueError(f"model: {kind!r} has no simulation-based calibration; known: {', '.join(SIDE_MODELS)}")


def _side_ranks(
    model: SmallModel,
    panel: xr.Dataset,
    observed: np.ndarray,
    truth: dict[str, float],
    sampler: dict,
    thin_to: int,
) -> dict[str, int]:
    """Fit ``model`` to the replicate's data; each scalar's rank of the truth among thinned draws."""
    posterior, _ = sample_small(model.build_model(panel, observed), list(model.names), sampler, False)
    stacked = {n: posterior[n].values.reshape(-1) for n in truth}
    take = pick_draws(len(next(iter(stacked.values()))), thin_to)
    return {n: int((stacked[n][take] < value).sum()) for n, value in truth.items()}


def run_side_sbc(
    kind: str,
    replicates: int = 60,
    draws: int = 200,
    tune: int = 300,
    chains: int = 2,
    thin_to: int = 49,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> SBCResult:
    """SBC of a side model (``us_share`` or ``channel``): its scalars and the likelihood's data are
    drawn from the prior on a fixed simulated design, then fitted with the model's own settings."""
    import pymc as pm

    model, template = _side_setup(kind, seed)
    names = list(model.scalars)
    with pytensor.config.change_flags(floatX="float64"), model.build_model(template):
        prior = pm.sample_prior_predictive(
            draws=replicates, var_names=[*names, model.observed_name], random_seed=seed + 1
        )
    drawn = {n: prior["prior"][n].values.reshape(replicates) for n in names}
    data = prior["prior_predictive"][model.observed_name].values.reshape(replicates, -1)
    if kind == "channel":  # a Beta draw with a tiny alpha or beta rounds to exactly 0 or 1 (no density)
        data = np.clip(data, 1e-9, 1 - 1e-9)
    sampler = model.sampler_config | {"draws": draws, "tune": tune, "chains": chains}
    sampler["chain_method"] = "sequential"  # replicates run in parallel instead
    jobs = [
        (
            model,
            template,
            data[i],
            {n: float(drawn[n][i]) for n in names},
            sampler | {"random_seed": seed + 100 + i},
            thin_to,
        )
        for i in range(replicates)
    ]
    attrs = {"model": kind, "draws": draws, "chains": chains, "tune": tune, "seed": seed}
    return _ranked(_side_ranks, jobs, names, thin_to, workers, progress, attrs)


def plot_ranks(result: SBCResult, path: Path) -> Path:
    """Rank histograms per parameter with the band a uniform histogram stays in 99% of the time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.p_values)
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    bins = int(result.ranks.attrs.get("bins", min(10, result.n_ranks)))
    for ax, name in zip(axes.ravel(), names, strict=False):
        r = result.ranks[name].values
        r = r[r >= 0]
        ax.hist(r, bins=bins, range=(0, result.n_ranks), color="#4a7ab5", edgecolor="white")
        expected = len(r) / bins
        lo, hi = stats.binom.ppf([0.005, 0.995], len(r), 1 / bins)
        ax.axhspan(lo, hi, color="grey", alpha=0.25)
        ax.axhline(expected, color="black", lw=0.8)
        ax.set_title(f"{name}\np={result.p_values[name]:.2f}", fontsize=8)
        ax.set_yticks([])
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

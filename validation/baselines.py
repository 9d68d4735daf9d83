"""Baselines a planner could use instead of the model, as predictive draws in the same shape as ours.

Each takes the yearly LOR counts known at the origin, ``history`` (partner, family, year), and returns
draws (partner, family, horizon, samples) for the years after it, so every contender is scored by the
same code (:mod:`validation.scores`). Dispersion is estimated by moments, pooled where a single series
is too short to say anything. A :class:`PanelBaseline` (the global gradient-boosted model) reads the
whole training panel instead -- regions and readiness proxies as well as the counts -- and returns
draws of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import xarray as xr

Baseline = Callable[[np.ndarray, int, int, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class PanelBaseline:
    """A baseline that needs the training panel (an :func:`bayes.panel.build_panel` dataset as known at
    the origin), not only its counts: ``forecast(panel, horizon, samples, rng)`` -> draws (partner,
    family, horizon, samples) in the panel's partner and family order."""

    forecast: Callable[[xr.Dataset, int, int, np.random.Generator], np.ndarray]

    def __call__(self, panel: xr.Dataset, horizon: int, samples: int, rng: np.random.Generator) -> np.ndarray:
        return self.forecast(panel, horizon, samples, rng)


def as_panel(history: np.ndarray, first_year: int = 1990) -> xr.Dataset:
    """A bare count history as the smallest panel a :class:`PanelBaseline` reads: every partner in one
    region and no readiness proxies, so panel baselines can be run (and tested) on counts alone."""
    partners, families, years = history.shape
    return xr.Dataset(
        {"lor_count": (("partner", "family", "year"), np.asarray(history))},
        coords={
            "partner": [f"p{i}" for i in range(partners)],
            "family": [f"f{j}" for j in range(families)],
            "year": np.arange(first_year, first_year + years),
            "partner_region": ("partner", np.full(partners, "")),
        },
    )


def nb_sample(mean: np.ndarray, dispersion: float, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``samples`` NB(mean, dispersion) draws per mean (variance mean + mean^2 / dispersion) on a new
    last axis; dispersion = inf is Poisson."""
    mean = np.asarray(mean, dtype=float)
    out = np.zeros((*mean.shape, samples), dtype=np.int64)
    # most cells of a sparse panel have a zero rate: draw only the others (a zero mean draws zeros)
    active = mean > 0
    rate = np.repeat(mean[active][:, None], samples, axis=1)
    if not np.isfinite(dispersion):
        out[active] = rng.poisson(rate)
    else:
        out[active] = rng.negative_binomial(dispersion, dispersion / (dispersion + rate))
    return out


def _nb_draws(
    mean: np.ndarray, dispersion: float, horizon: int, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """NB draws around one mean per cell, the same for every year of the horizon."""
    return nb_sample(np.broadcast_to(mean[..., None], (*mean.shape, horizon)), dispersion, samples, rng)


def moment_dispersion(values: np.ndarray, means: np.ndarray) -> float:
    """Method-of-moments NB dispersion from counts and their per-series means; inf if no overdispersion."""
    means = np.broadcast_to(means, values.shape)
    excess = ((values - means) ** 2 - values).sum()
    denominator = (means**2).sum()
    if excess <= 0 or denominator <= 0:
        return float("inf")
    return float(denominator / excess)


def climatology(history: np.ndarray, horizon: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Each cell's historical rate as an NB, with one dispersion for all cells."""
    means = history.mean(axis=-1)
    dispersion = moment_dispersion(history, means[..., None])
    return _nb_draws(means, dispersion, horizon, samples, rng)


def naive_last_value(history: np.ndarray, horizon: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Next years like the last one: Poisson around last year's count per cell."""
    return _nb_draws(history[..., -1].astype(float), float("inf"), horizon, samples, rng)


def fully_pooled(history: np.ndarray, horizon: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """One NB for every cell: the overall rate and dispersion."""
    mean = np.full(history.shape[:-1], history.mean())
    dispersion = moment_dispersion(history, mean[..., None])
    return _nb_draws(mean, dispersion, horizon, samples, rng)


def unpooled_glm(history: np.ndarray, horizon: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """A log-linear trend fitted to each cell alone (NB GLM, one shared dispersion), extrapolated.

    Fitted by Newton's method on the Poisson likelihood, all series at once. A weak ridge (precision
    ``_RIDGE`` on the intercept around the overall log rate and on the slope around zero) keeps series
    with no or one LOR finite; it does not pool in any practical sense.
    """
    years = history.shape[-1]
    t = (np.arange(years) - (years - 1) / 2) / max(years - 1, 1)
    y = history.reshape(-1, years).astype(float)
    centre = np.log(max(y.mean(), 1e-3))
    beta = np.zeros((y.shape[0], 2))
    beta[:, 0] = centre
    design = np.stack([np.ones(years), t], axis=1)  # (T, 2)
    prior = np.array([centre, 0.0])
    for _ in range(50):
        mu = np.exp(np.clip(beta @ design.T, -30, 30))
        grad = (y - mu) @ design - _RIDGE * (beta - prior)
        hess = np.einsum("nt,ti,tj->nij", mu, design, design) + _RIDGE * np.eye(2)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    fitted = np.exp(beta @ design.T).reshape(history.shape)
    dispersion = moment_dispersion(history, fitted)
    future_t = (years - 1 + np.arange(1, horizon + 1) - (years - 1) / 2) / max(years - 1, 1)
    mean = np.exp(np.clip(beta[:, :1] + beta[:, 1:] * future_t, -30, 10)).reshape(
        *history.shape[:-1], horizon
    )
    return nb_sample(mean, dispersion, samples, rng)


_RIDGE = 0.1


def _intermittent_models() -> dict[str, object]:
    from statsforecast.models import ADIDA, TSB, CrostonClassic

    # TSB's smoothing weights: 0.1 for demand size and probability, the usual choice for sparse
    # yearly series (statsforecast has no default for them)
    return {"croston": CrostonClassic(), "tsb": TSB(alpha_d=0.1, alpha_p=0.1), "adida": ADIDA()}


def intermittent(
    method: str, history: np.ndarray, horizon: int, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Croston, TSB or ADIDA from statsforecast per cell, as an NB around its point forecast.

    These methods give a demand rate, not a distribution (statsforecast offers only conformal
    intervals for them, which need several held-out windows per series). The NB's one dispersion is
    estimated by moments from each method's own one-step-ahead in-sample forecasts, so the spread
    reflects how wrong the method was on the history. A series with no LOR yet forecasts zero, as the
    methods themselves do.
    """
    model = _intermittent_models()[method]
    years = history.shape[-1]
    series = history.reshape(-1, years).astype(float)
    means = np.zeros((series.shape[0], horizon))
    fitted = np.zeros_like(series)
    for i in np.flatnonzero(series.any(axis=1)):
        result = model.forecast(y=series[i], h=horizon, fitted=True)  # type: ignore[attr-defined]
        means[i], fitted[i] = result["mean"], result["fitted"]
    known = ~np.isnan(fitted)
    dispersion = moment_dispersion(series[known], fitted[known])
    return nb_sample(means.reshape(*history.shape[:-1], horizon), dispersion, samples, rng)


def global_gbm(panel: xr.Dataset, horizon: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """:func:`validation.gbm.global_gbm`, imported when first used (LightGBM is heavy to load)."""
    from validation.gbm import global_gbm as forecast

    return forecast(panel, horizon, samples, rng)


def family_total(
    method: str, history: np.ndarray, horizon: int, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """:func:`validation.top_down.family_total`: AutoETS or AutoARIMA on family-year totals, split to
    partners top-down."""
    from validation.top_down import family_total as forecast

    return forecast(method, history, horizon, samples, rng)


BASELINES: dict[str, Baseline | PanelBaseline] = {
    "climatology": climatology,
    "naive": naive_last_value,
    "pooled": fully_pooled,
    "unpooled_glm": unpooled_glm,
    "croston": partial(intermittent, "croston"),
    "tsb": partial(intermittent, "tsb"),
    "adida": partial(intermittent, "adida"),
    "lightgbm": PanelBaseline(global_gbm),
    "autoets": partial(family_total, "autoets"),
    "autoarima": partial(family_total, "autoarima"),
}

"""AutoETS and AutoARIMA on family-year totals, split to partners top-down.

A forecaster with a standard time-series toolbox and sparse cells would model what is dense enough to
model -- each family's yearly total -- and split it by who has been buying. Per family, statsforecast's
AutoETS or AutoARIMA (no seasonality: yearly data) is fitted to the family's total LORs a year; its point
forecast and 80% interval per horizon year give a mean and a standard deviation (the interval's width over
2 z_0.9, as the models' intervals are normal). Family totals are drawn from the NB with that mean and
variance (variance at least the mean: a count is never less dispersed than Poisson here), which keeps
draws non-negative integers where a rounded, truncated normal would pile mass on zero. A point forecast at
or below zero forecasts zero, as does a family without any LOR yet.

Each family-year draw is then split among partners by a multinomial whose shares are themselves drawn,
once per sample, from a Dirichlet over partners: the family's LORs of the last :data:`SHARE_YEARS` years
(who buys a family shifts over decades; a decade is recent but not a handful of LORs) plus a prior of
total mass :data:`PRIOR_MASS` spread in proportion to the family's LORs of all years and each partner's
share of every LOR. A partner that bought the family long ago, or that buys much else, keeps a small
share; one that has never asked for anything gets none it has not earned. Drawing the shares per sample
carries their uncertainty (a family with three recent LORs has uncertain shares). The split conserves
every family-year draw exactly, so family-year scores are those of the family model.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

INTERVAL = 80
SHARE_YEARS = 10
PRIOR_MASS = 1.0
# the smallest Dirichlet weight: keeps the gamma draws defined for partners with no weight at all
_TINY = 1e-9


def _model(method: str) -> object:
    from statsforecast.models import AutoARIMA, AutoETS

    return {"autoets": AutoETS(season_length=1), "autoarima": AutoARIMA(season_length=1)}[method]


def family_moments(method: str, totals: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Per family (rows of ``totals``, family × year) and horizon year: the model's mean (clipped at
    zero) and standard deviation implied by its 80% interval. Families without any LOR: zero, zero."""
    means = np.zeros((totals.shape[0], horizon))
    sds = np.zeros_like(means)
    z = norm.ppf(0.5 + INTERVAL / 200)
    for f in np.flatnonzero(totals.any(axis=1)):
        model = _model(method)
        result = model.forecast(y=totals[f].astype(float), h=horizon, level=[INTERVAL])  # type: ignore[attr-defined]
        mean = np.asarray(result["mean"], dtype=float)
        upper, lower = (np.asarray(result[f"{end}-{INTERVAL}"], dtype=float) for end in ("hi", "lo"))
        width = upper - lower
        means[f] = np.clip(np.nan_to_num(mean), 0.0, None)
        sds[f] = np.nan_to_num(width) / (2 * z)
    return means, sds


def nb_moment_draws(mean: np.ndarray, sd: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``samples`` draws per element on a new last axis from the NB with this mean and variance
    max(sd^2, mean) (Poisson where the variance is the mean); zero where the mean is zero."""
    mean = np.asarray(mean, dtype=float)
    out = np.zeros((*mean.shape, samples), dtype=np.int64)
    active = mean > 0
    m = np.repeat(mean[active][:, None], samples, axis=1)
    excess = np.maximum(np.asarray(sd, dtype=float)[active] ** 2 - mean[active], 0.0)
    overdispersed = np.repeat((excess > 1e-9 * mean[active])[:, None], samples, axis=1)
    drawn = rng.poisson(m)  # the Poisson case; replaced below where the variance exceeds the mean
    if overdispersed.any():
        size = np.repeat((mean[active] ** 2 / np.maximum(excess, 1e-300))[:, None], samples, axis=1)
        size, rate = size[overdispersed], m[overdispersed]
        drawn[overdispersed] = rng.negative_binomial(size, size / (size + rate))
    out[active] = drawn
    return out


def share_weights(history: np.ndarray) -> np.ndarray:
    """Dirichlet weights (partner, family) of each family's partner shares: the last
    :data:`SHARE_YEARS` years' LORs plus the prior described in the module docstring."""
    recent = history[..., -SHARE_YEARS:].sum(axis=-1).astype(float)
    ever = history.sum(axis=-1).astype(float)  # (partner, family)
    overall = ever.sum(axis=1, keepdims=True)  # each partner's LORs of every family
    overall = overall / max(overall.sum(), 1.0)
    base = ever + overall  # the family's own long history, and the partner's weight in all of it
    base = base / base.sum(axis=0, keepdims=True)
    return recent + PRIOR_MASS * base + _TINY


def disaggregate(family_draws: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split draws (family, horizon, samples) among partners: (partner, family, horizon, samples), each
    family-year draw split by a multinomial over shares drawn per sample from Dirichlet(``weights``
    (partner, family)). Sums over partners equal ``family_draws`` draw by draw."""
    families, horizon, samples = family_draws.shape
    partners = weights.shape[0]
    out = np.zeros((partners, families, horizon, samples), dtype=np.int64)
    for f in np.flatnonzero(family_draws.reshape(families, -1).any(axis=1)):
        gamma = rng.standard_gamma(np.broadcast_to(weights[:, f], (samples, partners)))
        shares = gamma / gamma.sum(axis=1, keepdims=True)  # one Dirichlet draw per sample
        split = rng.multinomial(family_draws[f], shares[None, :, :])  # (horizon, samples, partner)
        out[:, f] = np.moveaxis(split, -1, 0)
    return out


def family_total(
    method: str, history: np.ndarray, horizon: int, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """``method`` ("autoets" or "autoarima") on each family's yearly total of ``history`` (partner,
    family, year), as draws (partner, family, horizon, samples) split to partners top-down."""
    totals = history.sum(axis=0)
    means, sds = family_moments(method, totals, horizon)
    family_draws = nb_moment_draws(means, sds, samples, rng)
    return disaggregate(family_draws, share_weights(history), rng)

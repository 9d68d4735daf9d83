"""What the model reads from a panel: group indices, standardised covariates and their scales.

The terms (:mod:`bayes.terms`) read these; their log rate serves the PyMC graph and every numpy
consumer alike, so the linear predictor is written exactly once.

Covariates, all known at the start of the year they predict:

- readiness: ``fleet_size`` = log1p(fleet units) and ``fleet_age`` = fleet mean age, standardised
  over cells, then taken *within* each partner × family (minus that cell's mean over its years).
  The level of a partner's demand for a family is the interaction effect's job; the slopes say how
  demand moves as a fleet grows or ages. Without the split the two trade off along a ridge that
  stalled NUTS on the real panel (and a big fleet there mostly records past orders). Age is
  undefined without a fleet, so it is masked to 0 there, not read as "new";
- NLP: ``nlp_lags[l]`` = log(1 + mentions) of year t - l (l = 0..3), centred over covered years
  but not scaled: mentions are sparse, and dividing by their small spread turned a single mention
  into tens of SDs, which a lag coefficient learnt from a few covered years then blew up into
  forecasts in the thousands. Years the text corpus does not cover are masked to 0 (the covered
  average), never read as "no mention".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

NLP_LAGS = 4  # lags 0..3 years


def decades(years: np.ndarray, centre_year: float) -> np.ndarray:
    return (np.asarray(years, dtype=float) - centre_year) / 10.0


def centre_of(years: np.ndarray) -> float:
    """Time origin of the trends: the middle of the observed years, which decorrelates each
    family's level from its trend (an origin at the last year couples them and slows NUTS)."""
    return float(np.mean(years))


def group_index(labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    names = sorted(set(map(str, labels)))
    lookup = {n: i for i, n in enumerate(names)}
    return np.array([lookup[str(v)] for v in labels], dtype=np.int64), names


@dataclass(frozen=True)
class Scale:
    """Centre and spread a covariate was standardised with (stored so forecasts reuse them)."""

    mean: float
    sd: float

    def apply(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.sd


def scale_of(values: np.ndarray) -> Scale:
    values = values[np.isfinite(values)]
    if not values.size:
        return Scale(0.0, 1.0)
    sd = float(values.std())
    return Scale(float(values.mean()), sd if sd > 1e-9 else 1.0)


def fleet_covariates(
    units: np.ndarray, age: np.ndarray, size_scale: Scale, age_scale: Scale
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardised (fleet_size, fleet_age, fleet present); age is 0 where there is no fleet."""
    size = size_scale.apply(np.log1p(np.nan_to_num(units)))
    present = (np.nan_to_num(units) > 0) & np.isfinite(age)
    age_x = np.where(present, age_scale.apply(np.nan_to_num(age)), 0.0)
    return size, age_x, present


def cell_means(size: np.ndarray, age: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each partner × family's mean standardised size (all years) and age (years with a fleet)."""
    counted = present.sum(axis=-1)
    age_mean = np.where(counted > 0, (age * present).sum(axis=-1) / np.maximum(counted, 1), 0.0)
    return size.mean(axis=-1), age_mean


def within(
    size: np.ndarray, age: np.ndarray, present: np.ndarray, size_mean: np.ndarray, age_mean: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Covariates as departures from their cell's means; age stays 0 where there is no fleet."""
    return size - size_mean[..., None], np.where(present, age - age_mean[..., None], 0.0)


def nlp_strength(signal: np.ndarray) -> np.ndarray:
    """log(1 + mentions): a second mention adds less than the first, and counts stay O(1)."""
    return np.log1p(np.maximum(np.asarray(signal, dtype=float), 0.0))


def nlp_scale_of(signal: np.ndarray, covered: np.ndarray) -> Scale:
    """Centre of the NLP covariate over covered years; its unit stays one e-fold of (1 + mentions)."""
    if not (covered > 0).any():
        return Scale(0.0, 1.0)
    return Scale(float(nlp_strength(signal[:, :, covered > 0]).mean()), 1.0)


def nlp_covariate(signal: np.ndarray, scale: Scale) -> np.ndarray:
    return scale.apply(nlp_strength(signal))


def lagged(x: np.ndarray, lags: int = NLP_LAGS) -> np.ndarray:
    """(lag, partner, family, year): ``x`` (partner, family, year) of year t - lag, 0 before the first."""
    out = np.zeros((lags, *x.shape))
    for lag in range(lags):
        out[lag, :, :, lag:] = x[:, :, : x.shape[2] - lag]
    return out


def nlp_lagged(signal: np.ndarray, covered: np.ndarray, scale: Scale, lags: int = NLP_LAGS) -> np.ndarray:
    """(lag, partner, family, year): the covariate of year t - lag, 0 where not covered."""
    return lagged(np.where(covered[None, None, :] > 0, nlp_covariate(signal, scale), 0.0), lags)


def notices_lagged(signal: np.ndarray, covered: np.ndarray, lags: int = NLP_LAGS) -> np.ndarray:
    """(lag, partner, family, year): the mentions (requests noticed) of year t - lag, as counts, 0
    where not covered: a request nobody could have noticed is not on the book."""
    return lagged(np.where(covered[None, None, :] > 0, np.nan_to_num(signal), 0.0), lags)


def partner_standardised(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Scale]]:
    """(measure, partner, year) figures, NaN where unknown, as the model reads them: per measure
    standardised over known partner-years, then taken within each partner (minus its mean over its
    known years), 0 where unknown. A partner's level is its own effect's job (a rich partner does
    not buy more every year); the slopes say how demand moves as its budget or U.S. channel moves.
    Returns (covariate, the partners' means (measure, partner), the scales)."""
    scales = [scale_of(m.ravel()) for m in raw]
    z = np.stack([sc.apply(m) for sc, m in zip(scales, raw, strict=True)]) if len(raw) else raw
    known = np.isfinite(z)
    counted = known.sum(axis=-1)
    mean = np.where(counted > 0, np.nansum(np.where(known, z, 0.0), axis=-1) / np.maximum(counted, 1), 0.0)
    return np.where(known, z - mean[..., None], 0.0), mean, scales


def partner_future(latest: np.ndarray, scales: list, mean: np.ndarray, horizon: int) -> np.ndarray:
    """(measure, partner, horizon): the last known figures (``latest``, raw) standardised as in the fit
    and held over the horizon, 0 (the partner's mean) where unknown: no later figure is known."""
    z = np.stack([Scale(*sc).apply(m) for sc, m in zip(scales, latest, strict=True)]) - mean
    return np.repeat(np.where(np.isfinite(z), z, 0.0)[..., None], horizon, axis=-1)


def _partner_variable(panel: xr.Dataset, name: str, n_p: int, n_t: int) -> np.ndarray:
    """A panel's partner-level yearly variable (measure, partner, year), empty for panels without it."""
    if name not in panel:
        return np.zeros((0, n_p, n_t))
    return panel[name].transpose(..., "partner", "year").values.astype(float)


@dataclass(frozen=True)
class Design:
    counts: np.ndarray  # (P, F, T) realised LORs
    years: np.ndarray
    centre_year: float
    decade: np.ndarray  # (T,)
    regions: list[str]
    region_index: np.ndarray  # (P,)
    categories: list[str]
    category_index: np.ndarray  # (F,)
    alliances: list[str]
    alliance: np.ndarray  # (P, A) membership, centred over partners
    readiness: bool
    size_scale: Scale
    age_scale: Scale
    fleet_size: np.ndarray  # (P, F, T) within-cell
    fleet_age: np.ndarray  # (P, F, T) within-cell
    fleet_size_cell_mean: np.ndarray  # (P, F)
    fleet_age_cell_mean: np.ndarray  # (P, F)
    nlp: bool
    nlp_scale: Scale
    nlp_lags: np.ndarray  # (L, P, F, T)
    notice_lags: np.ndarray  # (L, P, F, T) mentions as counts
    lor_partner: np.ndarray  # (N,) index of each realised LOR with a known quantity
    lor_family: np.ndarray
    log_units: np.ndarray  # (N,)
    realised: np.ndarray  # (F,) realised LORs per family
    withdrawn: np.ndarray  # (F,)
    alliance_mean: np.ndarray  # (A,) membership share, subtracted from ``alliance``
    # partner-level yearly covariates (measure, partner, year), within-partner, 0 where unknown
    budget: np.ndarray
    budget_partner_mean: np.ndarray  # (measure, partner)
    budget_scales: list
    channel: np.ndarray
    channel_partner_mean: np.ndarray
    channel_scales: list

    @property
    def budgets(self) -> bool:
        return bool(self.budget.any())

    @property
    def channels(self) -> bool:
        return bool(self.channel.any())

    def scales(self) -> dict[str, Any]:
        """JSON-ready constants a forecast needs to rebuild covariates for future years."""
        return {
            "size": [self.size_scale.mean, self.size_scale.sd],
            "age": [self.age_scale.mean, self.age_scale.sd],
            "nlp": [self.nlp_scale.mean, self.nlp_scale.sd],
            "alliance_mean": self.alliance_mean.tolist(),
            "budget": [[sc.mean, sc.sd] for sc in self.budget_scales],
            "channel": [[sc.mean, sc.sd] for sc in self.channel_scales],
        }


def build_design(panel: xr.Dataset) -> Design:
    years = panel["year"].values
    centre = centre_of(years)
    region_index, regions = group_index(panel["partner_region"].values)
    category_index, categories = group_index(panel["family_category"].values)
    membership = panel["partner_alliance"].values.astype(float)
    alliance_mean = membership.mean(axis=0) if membership.size else np.zeros(membership.shape[1])
    units, age = panel["fleet_units"].values, panel["fleet_mean_age"].values
    readiness = bool((np.nan_to_num(units) > 0).any())
    size_scale = scale_of(np.log1p(np.nan_to_num(units)).ravel())
    age_scale = scale_of(age[np.nan_to_num(units) > 0].ravel())
    size_x, age_x, present = fleet_covariates(units, age, size_scale, age_scale)
    size_mean, age_mean = cell_means(size_x, age_x, present)
    fleet_size, fleet_age = within(size_x, age_x, present, size_mean, age_mean)
    covered = panel["nlp_covered"].values
    signal = panel["nlp_signal"].values
    nlp = bool(covered.any())
    nlp_scale = nlp_scale_of(signal, covered)
    quantity = panel["lor_quantity"].values.astype(float)
    p_lookup = {p: i for i, p in enumerate(panel["partner"].values.astype(str))}
    f_lookup = {f: i for i, f in enumerate(panel["family"].values.astype(str))}
    # requests with a quantity, of partners and families in the panel (a panel cut to some of
    # them still lists every request)
    known = (
        np.isfinite(quantity)
        & (quantity > 0)
        & np.isin(panel["lor_partner"].values.astype(str), list(p_lookup))
        & np.isin(panel["lor_family"].values.astype(str), list(f_lookup))
    )
    counts = panel["lor_count"].values.astype(np.int64)
    n_p, _, n_t = counts.shape
    budget, budget_mean, budget_scales = partner_standardised(
        _partner_variable(panel, "partner_budget", n_p, n_t)
    )
    channel, channel_mean, channel_scales = partner_standardised(
        _partner_variable(panel, "partner_channel", n_p, n_t)
    )
    return Design(
        counts=counts,
        years=years,
        centre_year=centre,
        decade=decades(years, centre),
        regions=regions,
        region_index=region_index,
        categories=categories,
        category_index=category_index,
        alliances=[str(a) for a in panel["alliance"].values],
        alliance=membership - alliance_mean,
        readiness=readiness,
        size_scale=size_scale,
        age_scale=age_scale,
        fleet_size=fleet_size,
        fleet_age=fleet_age,
        fleet_size_cell_mean=size_mean,
        fleet_age_cell_mean=age_mean,
        nlp=nlp,
        nlp_scale=nlp_scale,
        nlp_lags=nlp_lagged(signal, covered, nlp_scale),
        notice_lags=notices_lagged(signal, covered),
        lor_partner=np.array(
            [p_lookup[p] for p in panel["lor_partner"].values.astype(str)[known]], dtype=int
        ),
        lor_family=np.array([f_lookup[f] for f in panel["lor_family"].values.astype(str)[known]], dtype=int),
        log_units=np.log(quantity[known]),
        realised=counts.sum(axis=(0, 2)),
        withdrawn=panel["withdrawn_lors"].values.astype(np.int64),
        alliance_mean=alliance_mean,
        budget=budget,
        budget_partner_mean=budget_mean,
        budget_scales=budget_scales,
        channel=channel,
        channel_partner_mean=channel_mean,
        channel_scales=channel_scales,
    )

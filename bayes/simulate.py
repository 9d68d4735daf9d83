"""Synthetic worlds with known parameters, written in the same layouts the loaders read.

Every quantity follows the model in :mod:`bayes.model` exactly -- log rates from the terms' own
addends (:func:`bayes.terms.log_rate`), counts from :mod:`bayes.observation` -- counts (regions and
categories, alliances, family trends, partner AR(1) dynamics, readiness slopes, the NLP distributed
lag), units per request and the conversion of requests -- so fitting a simulated world and comparing with
``truth.json`` is a parameter-recovery test. Readiness and the text signal are exogenous here
(drawn first, then driving requests), which is what the model assumes. Around the history the
simulator writes what a live system holds: firm and pending requests of the current year (the
open book), domestic plans and line capacities.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bayes import terms
from bayes.design import (
    Scale,
    cell_means,
    centre_of,
    decades,
    fleet_covariates,
    group_index,
    nlp_lagged,
    nlp_scale_of,
    notices_lagged,
    scale_of,
    within,
)
from bayes.observation import draw_counts
from bayes.terms import ar1
from bayes.terms.family_paths import detrender
from bayes.terms.levels import condition_zero_sum
from evidence.records import NLP_MENTION, READINESS_FLEET_MEAN_AGE, READINESS_FLEET_UNITS
from evidence.writers import atomic_write_text, write_table

REGIONS = ("Europe", "Middle East", "East Asia", "Latin America", "Oceania", "Sub-Saharan Africa")
CATEGORIES = ("Aircraft", "Missiles", "Armoured vehicles", "Ships")
# Scalars the simulator sets, recorded in truth.json.
HYPERPARAMETERS = (
    "intercept",
    "sigma_partner",
    "sigma_region",
    "sigma_family",
    "sigma_category",
    "sigma_partner_family",
    "trend_mean",
    "sigma_trend",
    "dispersion",
    "sigma_dynamic",
    "rho_dynamic",
    "fleet_size_mean",
    "sigma_fleet_size",
    "fleet_age_mean",
    "sigma_fleet_age",
    "units_intercept",
    "sigma_units_family",
    "sigma_units_partner",
    "units_sigma",
    "conversion_mean",
    "conversion_concentration",
    "sigma_wave",
    "rho_wave",
)


@dataclass(frozen=True)
class WorldSpec:
    partners: int = 30
    families: int = 8
    first_year: int = 2000
    last_year: int = 2019
    intercept: float = -1.7
    sigma_partner: float = 0.6
    sigma_region: float = 0.5
    sigma_family: float = 0.5
    sigma_category: float = 0.4
    sigma_partner_family: float = 0.4
    trend_mean: float = 0.2
    sigma_trend: float = 0.25
    dispersion: float = 4.0
    alliance_effect: tuple[tuple[str, float], ...] = (("NATO", 0.5), ("MNNA", -0.4))
    sigma_dynamic: float = 0.35
    rho_dynamic: float = 0.6
    # 0: no family AR(1) (the default model's world); > 0: an AR(1) about each family's trend.
    sigma_family_dynamic: float = 0.0
    rho_family_dynamic: float = 0.6
    fleet_size_mean: float = 0.3
    sigma_fleet_size: float = 0.15
    fleet_age_mean: float = 0.25
    sigma_fleet_age: float = 0.15
    nlp_lag: tuple[float, ...] = (0.2, 1.0, 0.5, 0.0)  # per e-fold of 1 + mentions
    nlp_first_year: int = 2003  # the text corpus starts here; earlier years are not covered
    units_intercept: float = 3.0
    sigma_units_family: float = 1.0
    sigma_units_partner: float = 0.4
    units_sigma: float = 0.6
    conversion_mean: float = 0.85
    conversion_concentration: float = 30.0
    # 0 and 0: no recency (the default model's world); otherwise each family's slope on its cells' own
    # decayed history is drawn N(recency_mean, sigma_recency) and counts are drawn year by year
    recency_mean: float = 0.0
    sigma_recency: float = 0.0
    recency_decay: float = 0.5
    # > 0 (the default model's world): a stationary AR(1) per region x family, taken, as the model reads
    # it, as departures from its mean and trend over the fitted years; 0: no regional waves
    sigma_wave: float = 0.35
    rho_wave: float = 0.6
    # 0: mentions are no requests (the default model's world); > 0: each mention becomes an order with
    # this probability, w_l proportional to notice_delay^l years later (l = 0..3)
    notice_conversion: float = 0.0
    notice_delay: float = 0.4
    current_year_share: float = 0.4  # how much of the current year's demand is already on the book
    pending_share: float = 0.5  # of the current year's requests, the share still pending
    horizon: int = 5
    regions: tuple[str, ...] = field(default=REGIONS)


def _zero_sum(x: np.ndarray) -> np.ndarray:
    return x - x.mean()


def simulate_world(spec: WorldSpec, seed: int) -> tuple[dict[str, pd.DataFrame], dict]:
    """Draw a world; return its tables (by table name) and the truth."""
    rng = np.random.default_rng(seed)
    years = np.arange(spec.first_year, spec.last_year + 1)
    n_p, n_f, n_t = spec.partners, spec.families, len(years)
    partner_ids = [f"p{i:02d}" for i in range(n_p)]
    family_ids = [f"f{i:02d}" for i in range(n_f)]
    regions = [spec.regions[i % len(spec.regions)] for i in range(n_p)]
    categories = [CATEGORIES[i % len(CATEGORIES)] for i in range(n_f)]
    alliance_names = [a for a, _ in spec.alliance_effect]
    # Memberships drawn independently of regions, so alliance effects are identified apart from them.
    member = [str(m) for m in rng.choice(["", *alliance_names], n_p)]
    partners = pd.DataFrame(
        {
            "id": partner_ids,
            "name": [f"Partner {i}" for i in range(n_p)],
            "region": regions,
            "iso3": [f"Q{i:02d}" for i in range(n_p)],
            "alliances": member,
            "is_state": True,
        }
    )
    families = pd.DataFrame(
        {"id": family_ids, "name": [f"Family {i}" for i in range(n_f)], "category": categories}
    )

    # Hierarchy: partners = alliances + region + own deviation; families = category + own.
    region_idx, region_names = group_index(np.array(regions))
    category_idx, category_names = group_index(np.array(categories))
    membership = np.array([[m == a for a in alliance_names] for m in member], dtype=float)
    alliance_x = membership - membership.mean(axis=0)
    beta = np.array([b for _, b in spec.alliance_effect])
    region_effect = rng.normal(0.0, spec.sigma_region, len(region_names))
    category_effect = rng.normal(0.0, spec.sigma_category, len(category_names))
    partner_dev = rng.normal(0.0, spec.sigma_partner, n_p)
    family_dev = rng.normal(0.0, spec.sigma_family, n_f)
    family_level = category_effect[category_idx] + family_dev
    pf = rng.normal(0.0, spec.sigma_partner_family, (n_p, n_f))
    pf_sd = float(pf.std())
    pf -= pf.mean(axis=0, keepdims=True) + pf.mean(axis=1, keepdims=True) - pf.mean()
    trend = rng.normal(spec.trend_mean, spec.sigma_trend, n_f)
    dynamic = ar1.simulate(rng, n_p, n_t + spec.horizon, spec.rho_dynamic, spec.sigma_dynamic)
    # The model reads the dynamics as departures from each partner's level over the fitted years
    # (their mean would otherwise trade off with the partner effect), so the path's mean over those
    # years is part of the partner's level here too.
    path_mean = dynamic[:, :n_t].mean(axis=1)
    dynamic -= path_mean[:, None]
    decade = decades(years, centre_of(years))
    family_path, path_fit = _family_paths(rng, spec, n_f, decade)
    family_level = family_level + path_fit[0]
    trend = trend + path_fit[1]
    partner_level = alliance_x @ beta + region_effect[region_idx] + partner_dev + path_mean
    # The model's levels sum to zero, conditioned so (the intercept carries the overall level).
    partner_effect = condition_zero_sum(partner_level, region_idx, spec.sigma_partner, spec.sigma_region)
    family_effect = condition_zero_sum(family_level, category_idx, spec.sigma_family, spec.sigma_category)

    # Readiness, exogenous: about half the cells hold a fleet that grows and ages slowly.
    span, fleet_units, fleet_age = _fleets(rng, spec, n_p, n_f)
    units_start, age_start = fleet_units[:, :, :-1], fleet_age[:, :, :-1]  # known at the start of year t
    size_scale = scale_of(np.log1p(units_start).ravel())
    age_scale = scale_of(age_start[units_start > 0].ravel())
    size_x, age_x, present = fleet_covariates(units_start, age_start, size_scale, age_scale)
    fleet_size_x, fleet_age_x = within(size_x, age_x, present, *cell_means(size_x, age_x, present))
    size_slope = rng.normal(spec.fleet_size_mean, spec.sigma_fleet_size, n_f)
    age_slope = rng.normal(spec.fleet_age_mean, spec.sigma_fleet_age, n_f)

    mentions, covered = _mentions(rng, spec, years, n_p, n_f)
    nlp_scale = nlp_scale_of(mentions.astype(float), covered)
    nlp_x = nlp_lagged(mentions.astype(float), covered, nlp_scale, len(spec.nlp_lag))
    wave = _waves(spec, seed, len(region_names), n_f, decade)

    truth_params = {
        "intercept": np.asarray(spec.intercept),
        "partner_effect": partner_effect,
        "family_effect": family_effect,
        "partner_family_effect": pf,
        "family_trend": trend,
        "fleet_size_slope": size_slope,
        "fleet_age_slope": age_slope,
        "nlp_lag": np.asarray(spec.nlp_lag, dtype=float),
    }
    if spec.notice_conversion > 0:
        truth_params |= {
            "notice_conversion": np.asarray(spec.notice_conversion),
            "notice_delay": np.asarray(spec.notice_delay),
        }
    inputs = {
        "decade": decade,
        "partner_dynamic": dynamic[:, :n_t],
        "family_dynamic": family_path[:, :n_t],
        "fleet_size": fleet_size_x,
        "fleet_age": fleet_age_x,
        "nlp_lags": nlp_x,
        "notice_lags": notices_lagged(mentions.astype(float), covered, len(spec.nlp_lag)),
        **({"wave": wave, "region_index": region_idx} if spec.sigma_wave > 0 else {}),
    }
    log_mu = terms.log_rate(truth_params, inputs)
    mu = np.exp(log_mu)
    recency_slope = np.zeros(n_f)
    if spec.recency_mean or spec.sigma_recency:  # drawn only then, so the default world is unchanged
        recency_slope = rng.normal(spec.recency_mean, spec.sigma_recency, n_f)
        # The model centres the history on its family's mean over cells and fitted years; that centre
        # is part of the family's level, so the world draws from the raw history.
        truth_params |= {"recency_slope": recency_slope, "recency_decay": np.asarray(spec.recency_decay)}
        start = {"recency_state": np.zeros((n_p, n_f)), "recency_centre": np.zeros((n_p, n_f))}
        counts = terms.draw(rng, log_mu, truth_params, start, spec.dispersion)
    else:
        counts = draw_counts(rng, log_mu, spec.dispersion)

    units_family, units_partner, conversion, lors = _lors(
        rng, spec, seed, counts, years, partner_ids, family_ids, log_mu, trend, dynamic, family_path
    )

    evidence = pd.concat(
        [
            _readiness_rows(fleet_units, fleet_age, span, partner_ids, family_ids),
            _nlp_rows(mentions, years, partner_ids, family_ids),
        ],
        ignore_index=True,
    )

    plans, capacities = _plans(rng, spec, mu, units_family, family_ids)
    tables = {
        "partners": partners,
        "families": families,
        "lors": lors,
        "evidence": evidence,
        "domestic_plans": plans,
        "line_capacities": capacities,
    }

    def by(ids: list[str], values: np.ndarray) -> dict[str, float]:
        return dict(zip(ids, np.round(values, 6).tolist(), strict=True))

    truth = {
        "seed": seed,
        "spec": asdict(spec),
        "reference_year": spec.last_year,
        "centre_year": centre_of(years),
        "params": {name: getattr(spec, name) for name in HYPERPARAMETERS},
        # What this draw of the world actually holds: a hierarchy's hyper-parameters are learned
        # from the effects drawn, so recovery is judged against these as well as the stated ones.
        "realised": {
            "sigma_partner": float((partner_dev + path_mean).std()),
            "sigma_region": float(region_effect.std()),
            "sigma_family": float((family_dev + path_fit[0]).std()),
            "sigma_category": float(category_effect.std()),
            "sigma_partner_family": pf_sd,
            "trend_mean": float(trend.mean()),
            "sigma_trend": float(trend.std()),
            "fleet_size_mean": float(size_slope.mean()),
            "sigma_fleet_size": float(size_slope.std()),
            "fleet_age_mean": float(age_slope.mean()),
            "sigma_fleet_age": float(age_slope.std()),
            "sigma_units_family": float(units_family.std()),
            "sigma_units_partner": float(units_partner.std()),
            "conversion_mean": float(conversion.mean()),
            "recency_mean": float(recency_slope.mean()),
        },
        "partner_effect": by(partner_ids, partner_effect),
        "family_effect": by(family_ids, family_effect),
        "family_trend": by(family_ids, trend),
        "partner_family_effect": {
            f"{partner_ids[p]}|{family_ids[f]}": round(float(pf[p, f]), 6)
            for p in range(n_p)
            for f in range(n_f)
        },
        "alliance_effect": dict(spec.alliance_effect),
        "partner_dynamic": {pid: np.round(dynamic[i, :n_t], 6).tolist() for i, pid in enumerate(partner_ids)},
        "family_dynamic": {f: np.round(family_path[i, :n_t], 6).tolist() for i, f in enumerate(family_ids)},
        "fleet_size_slope": by(family_ids, size_slope),
        "fleet_age_slope": by(family_ids, age_slope),
        "nlp_lag": list(spec.nlp_lag),
        "recency_slope": by(family_ids, recency_slope),
        **(
            {
                "wave": {
                    f"{region}|{family}": np.round(wave[r, f, :], 6).tolist()
                    for r, region in enumerate(region_names)
                    for f, family in enumerate(family_ids)
                }
            }
            if spec.sigma_wave > 0
            else {}
        ),
        "units_family": by(family_ids, units_family),
        "units_partner": by(partner_ids, units_partner),
        "conversion": by(family_ids, conversion),
        "scales": {
            "size": [size_scale.mean, size_scale.sd],
            "age": [age_scale.mean, age_scale.sd],
            "nlp": [nlp_scale.mean, nlp_scale.sd],
        },
    }
    return tables, truth


def _family_paths(
    rng: np.random.Generator, spec: WorldSpec, n_f: int, decade: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each family's AR(1) path about its log-linear trend, over the fitted years and the horizon
    (families, years), and the level and slope it adds over the fitted years (2, families).

    The model (family_path "trend_ar1") reads the path as departures from the family's level and trend,
    so the path's mean and slope over the fitted years belong to those, and are taken out of it."""
    n_t = len(decade)
    family_path = np.zeros((n_f, n_t + spec.horizon))
    if spec.sigma_family_dynamic > 0:  # drawn only then, so the default world's draws are unchanged
        family_path = ar1.simulate(
            rng, n_f, n_t + spec.horizon, spec.rho_family_dynamic, spec.sigma_family_dynamic
        )
    x = np.column_stack([np.ones(n_t), decade])
    path_fit = np.linalg.lstsq(x, family_path[:, :n_t].T, rcond=None)[0]
    future_decade = decade[-1] + np.arange(1, spec.horizon + 1) / 10.0
    family_path -= path_fit.T @ np.vstack([np.ones(n_t + spec.horizon), np.r_[decade, future_decade]])
    return family_path, path_fit


def _mentions(
    rng: np.random.Generator, spec: WorldSpec, years: np.ndarray, n_p: int, n_f: int
) -> tuple[np.ndarray, np.ndarray]:
    """The text signal, exogenous: mentions per partner x family x year with a cell's own propensity,
    counted from ``nlp_first_year`` on, and which years the corpus covers."""
    propensity = rng.beta(0.6, 3.0, (n_p, n_f))
    mentions = rng.poisson(propensity[:, :, None] * np.ones(len(years)))
    covered = (years >= spec.nlp_first_year).astype(np.int8)
    return mentions * covered[None, None, :], covered


def _waves(spec: WorldSpec, seed: int, n_regions: int, n_f: int, decade: np.ndarray) -> np.ndarray:
    """Regional waves (regions, families, years): a stationary AR(1) per region x family, detrended over
    the fitted years as the model reads it; zeros without waves. They are drawn from a stream of their
    own, so that a world with waves differs from one without in its waves (and the counts they move)
    only."""
    n_t = len(decade)
    if spec.sigma_wave <= 0:
        return np.zeros((n_regions, n_f, n_t))
    raw = ar1.simulate(np.random.default_rng([seed, 1]), n_regions * n_f, n_t, spec.rho_wave, spec.sigma_wave)
    return (raw @ detrender(decade)).reshape(n_regions, n_f, n_t)


def _fleets(rng: np.random.Generator, spec: WorldSpec, n_p: int, n_f: int):
    """(years, units, mean age) of each partner x family's fleet as of 31 December of each year from the
    year before the first: about half the cells hold one, which grows and ages slowly."""
    span = np.arange(spec.first_year - 1, spec.last_year + 1)  # as of 31 Dec of each year
    has_fleet = rng.random((n_p, n_f)) < 0.55
    fleet_units = np.exp(
        rng.normal(3.0, 1.0, (n_p, n_f))[:, :, None]
        + np.cumsum(rng.normal(0.0, 0.15, (n_p, n_f, len(span))), axis=2)
    )
    fleet_units = np.where(has_fleet[:, :, None], np.round(fleet_units + 1), 0.0)
    age0 = rng.uniform(2.0, 30.0, (n_p, n_f))
    renew = rng.random((n_p, n_f, len(span))) < 0.08
    fleet_age = np.empty_like(fleet_units)
    for t in range(len(span)):
        prev = age0 if t == 0 else fleet_age[:, :, t - 1] + 1.0
        fleet_age[:, :, t] = np.where(renew[:, :, t], prev * 0.4, prev)
    fleet_age = np.where(has_fleet[:, :, None], fleet_age, np.nan)
    return span, fleet_units, fleet_age


def _lors(
    rng: np.random.Generator,
    spec: WorldSpec,
    seed: int,
    counts: np.ndarray,
    years: np.ndarray,
    partner_ids: list[str],
    family_ids: list[str],
    log_mu: np.ndarray,
    trend: np.ndarray,
    dynamic: np.ndarray,
    family_path: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """(units' family and partner effects, conversion per family, the LOR table): the executed requests
    the counts hold, the withdrawn ones, and the open book of the year after the last."""
    n_p, n_f, n_t = counts.shape
    units_family = _zero_sum(rng.normal(0.0, spec.sigma_units_family, n_f))
    units_partner = _zero_sum(rng.normal(0.0, spec.sigma_units_partner, n_p))
    conversion = rng.beta(
        spec.conversion_mean * spec.conversion_concentration,
        (1 - spec.conversion_mean) * spec.conversion_concentration,
        n_f,
    )

    rows: list[dict] = []

    def add(p: int, f: int, year: int, status: str) -> None:
        day = date(int(year), 1, 1) + timedelta(days=int(rng.integers(0, 365)))
        log_q = rng.normal(spec.units_intercept + units_family[f] + units_partner[p], spec.units_sigma)
        quantity = max(1, round(float(np.exp(log_q))))
        rows.append(
            {
                "id": f"sim-{seed}-{len(rows):06d}",
                "partner": partner_ids[p],
                "family": family_ids[f],
                "received": day.isoformat(),
                "status": status,
                "quantity": quantity,
                "designation": f"{family_ids[f].upper()}-{int(rng.integers(1, 9))}",
                "estimated_value_usd": round(quantity * float(rng.lognormal(15, 0.5)), -3),
                "source": "simulator",
                "year_uncertain": False,
                "quantity_uncertain": bool(rng.random() < 0.1),
            }
        )

    for p, f, t in zip(*np.nonzero(counts), strict=True):
        for _ in range(counts[p, f, t]):
            add(p, f, int(years[t]), "executed")
    # Withdrawn requests: with conversion c, failures before the realised successes are
    # NB(realised, c) -- the same likelihood kernel in c as the model's binomial.
    realised_f = counts.sum(axis=(0, 2))
    withdrawn_f = rng.negative_binomial(np.maximum(realised_f, 1), conversion) * (realised_f > 0)
    for f in range(n_f):
        for _ in range(int(withdrawn_f[f])):
            add(int(rng.integers(n_p)), f, int(rng.choice(years)), "withdrawn")
    # The open book: part of the current year's requests are already in, firm or pending.
    current = spec.last_year + 1
    mu_now = np.exp(
        log_mu[:, :, -1]
        + trend[None, :] * 0.1
        + dynamic[:, n_t : n_t + 1]
        - dynamic[:, n_t - 1 : n_t]
        + family_path[None, :, n_t]
        - family_path[None, :, n_t - 1]
    )
    book = rng.poisson(spec.current_year_share * mu_now)
    for p, f in zip(*np.nonzero(book), strict=True):
        for _ in range(book[p, f]):
            add(p, f, current, "pending" if rng.random() < spec.pending_share else "firm")
    return units_family, units_partner, conversion, pd.DataFrame(rows)


def _plans(
    rng: np.random.Generator, spec: WorldSpec, mu: np.ndarray, units_family: np.ndarray, family_ids: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Domestic plans for the forecast years, about as large as foreign demand, and line capacities."""
    n_f = len(family_ids)
    current = spec.last_year + 1
    future = np.arange(current, current + spec.horizon)
    typical_units = np.exp(spec.units_intercept + units_family + spec.units_sigma**2 / 2)
    foreign = mu[:, :, -1].sum(axis=0) * typical_units
    domestic = np.round(foreign * rng.uniform(0.5, 2.0, n_f))
    plans = pd.DataFrame(
        [
            {
                "family": family_ids[f],
                "fiscal_year": int(y),
                "quantity": float(np.round(domestic[f] * rng.uniform(0.8, 1.2))),
                "source": "simulator",
            }
            for f in range(n_f)
            for y in future
        ]
    )
    capacities = pd.DataFrame(
        {
            "family": family_ids,
            "min_sustaining_rate": np.round(domestic + 0.5 * foreign),
            "max_rate": np.round(2.0 * (domestic + foreign)),
            "source": "simulator",
        }
    )
    return plans, capacities


def _readiness_rows(
    units: np.ndarray, age: np.ndarray, span: np.ndarray, partner_ids: list[str], family_ids: list[str]
) -> pd.DataFrame:
    p, f, t = np.nonzero(units > 0)
    day = np.array([f"{int(y)}-12-31" for y in span])[t]
    common = {
        "partner": np.array(partner_ids)[p],
        "family": np.array(family_ids)[f],
        "date": day,
        "source": "simulator: fleet report",
    }
    return pd.concat(
        [
            pd.DataFrame({**common, "kind": READINESS_FLEET_UNITS, "value": units[p, f, t]}),
            pd.DataFrame({**common, "kind": READINESS_FLEET_MEAN_AGE, "value": np.round(age[p, f, t], 4)}),
        ],
        ignore_index=True,
    )[["partner", "family", "date", "kind", "value", "source"]]


def _nlp_rows(
    mentions: np.ndarray, years: np.ndarray, partner_ids: list[str], family_ids: list[str]
) -> pd.DataFrame:
    """One row per mention; years before the corpus starts have none (and are not covered)."""
    p, f, t = np.nonzero(mentions)
    reps = mentions[p, f, t]
    return pd.DataFrame(
        {
            "partner": np.repeat(np.array(partner_ids)[p], reps),
            "family": np.repeat(np.array(family_ids)[f], reps),
            "date": np.repeat(np.array([f"{int(y)}-06-30" for y in years])[t], reps),
            "kind": NLP_MENTION,
            "value": 1.0,
            "source": "simulator: synthetic notification",
        }
    )


def write_world(out: Path | str, spec: WorldSpec, seed: int) -> dict:
    """Simulate and write a dataset directory plus ``truth.json``; return the truth."""
    out = Path(out)
    tables, truth = simulate_world(spec, seed)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_table(frame, out / f"{name}.csv")
    atomic_write_text(out / "truth.json", json.dumps(truth, indent=2))
    return truth


__all__ = ["HYPERPARAMETERS", "Scale", "WorldSpec", "simulate_world", "write_world"]

"""Synthetic worlds with known parameters, written in the same layouts the loaders read.

The LOR counts follow the model in :mod:`bayes.model` exactly, so fitting a simulated world and
comparing with ``truth.json`` is a parameter-recovery test. Around the counts the simulator adds
what the real world has: request statuses (withdrawn and pending requests on top of realised
ones), units per request, an NLP signal that leads requests by a year, a fleet readiness proxy,
domestic plans and line capacities.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bayes.model import centre_of, decades
from evidence.records import READINESS_FLEET_MEAN_AGE, READINESS_FLEET_UNITS
from evidence.writers import atomic_write_text, write_table

REGIONS = ("Europe", "Middle East", "East Asia", "Latin America", "Oceania", "Sub-Saharan Africa")
CATEGORIES = ("Aircraft", "Missiles", "Armoured vehicles", "Ships")


@dataclass(frozen=True)
class WorldSpec:
    partners: int = 24
    families: int = 8
    first_year: int = 2000
    last_year: int = 2019
    intercept: float = -1.6
    sigma_partner: float = 0.8
    sigma_family: float = 0.6
    sigma_partner_family: float = 0.5
    trend_mean: float = 0.2
    sigma_trend: float = 0.25
    dispersion: float = 4.0
    withdrawn_rate: float = 0.08  # withdrawn requests per realised one
    pending_rate: float = 0.3  # pending requests per realised one, last year only
    nlp_hit_rate: float = 0.6  # P(a mention the year before | an LOR that year)
    nlp_false_rate: float = 0.03  # P(a mention | no LOR the next year)
    horizon: int = 5
    alliances: tuple[str, ...] = field(default=("NATO", "MNNA"))


def simulate_world(spec: WorldSpec, seed: int) -> tuple[dict[str, pd.DataFrame], dict]:
    """Draw a world; return its tables (by table name) and the truth."""
    rng = np.random.default_rng(seed)
    years = np.arange(spec.first_year, spec.last_year + 1)
    n_p, n_f, n_t = spec.partners, spec.families, len(years)

    partner_ids = [f"p{i:02d}" for i in range(n_p)]
    family_ids = [f"f{i:02d}" for i in range(n_f)]
    regions = [REGIONS[i % len(REGIONS)] for i in range(n_p)]
    categories = [CATEGORIES[i % len(CATEGORIES)] for i in range(n_f)]
    partners = pd.DataFrame(
        {
            "id": partner_ids,
            "name": [f"Partner {i}" for i in range(n_p)],
            "region": regions,
            "iso3": [f"Q{i:02d}" for i in range(n_p)],
            "alliances": [spec.alliances[i % len(spec.alliances)] if i % 3 else "" for i in range(n_p)],
            "is_state": True,
        }
    )
    families = pd.DataFrame(
        {"id": family_ids, "name": [f"Family {i}" for i in range(n_f)], "category": categories}
    )

    # Centred draws keep the intercept identified as the rate of an average cell, so recovery
    # compares like with like; the spread of the effects still comes from the stated sigmas.
    partner_effect = _centred(rng.normal(0.0, spec.sigma_partner, n_p))
    family_effect = _centred(rng.normal(0.0, spec.sigma_family, n_f))
    pf_effect = rng.normal(0.0, spec.sigma_partner_family, (n_p, n_f))
    pf_effect -= (
        pf_effect.mean(axis=0, keepdims=True) + pf_effect.mean(axis=1, keepdims=True) - pf_effect.mean()
    )
    family_trend = rng.normal(spec.trend_mean, spec.sigma_trend, n_f)
    decade = decades(years, centre_of(years))
    log_mu = (
        spec.intercept
        + partner_effect[:, None, None]
        + family_effect[None, :, None]
        + pf_effect[:, :, None]
        + family_trend[None, :, None] * decade[None, None, :]
    )
    mu = np.exp(log_mu)
    counts = rng.poisson(rng.gamma(spec.dispersion, mu / spec.dispersion))

    unit_scale = rng.lognormal(1.5, 0.8, n_f)  # typical units per request differ by family
    rows = []

    def add(p: int, f: int, t: int, status: str) -> None:
        day = date(int(years[t]), 1, 1) + timedelta(days=int(rng.integers(0, 365)))
        quantity = 1 + int(rng.poisson(unit_scale[f]))
        rows.append(
            {
                "id": f"sim-{seed}-{len(rows):06d}",
                "partner": partner_ids[p],
                "family": family_ids[f],
                "received": day.isoformat(),
                "status": status,
                "quantity": quantity,
                "designation": f"{family_ids[f].upper()}-{int(rng.integers(1, 9))}",
                "estimated_value_usd": round(quantity * float(rng.lognormal(17, 0.5)), -3),
                "source": "simulator",
                "year_uncertain": False,
                "quantity_uncertain": bool(rng.random() < 0.1),
            }
        )

    last = n_t - 1
    for p, f, t in zip(*np.nonzero(counts), strict=True):
        for _ in range(counts[p, f, t]):
            add(p, f, t, "firm" if t == last else "executed")
    for p, f, t in zip(*np.nonzero(rng.random(counts.shape) < spec.withdrawn_rate * mu), strict=True):
        add(p, f, t, "withdrawn")
    for p, f in zip(*np.nonzero(rng.random((n_p, n_f)) < spec.pending_rate * mu[:, :, last]), strict=True):
        add(p, f, last, "pending")
    lors = pd.DataFrame(rows)

    evidence = _nlp_signal(rng, spec, counts, years, partner_ids, family_ids)
    evidence = pd.concat([evidence, _readiness(lors, years)], ignore_index=True)

    future = np.arange(spec.last_year + 1, spec.last_year + 1 + spec.horizon)
    base = rng.lognormal(3.0, 0.7, n_f)
    plans = pd.DataFrame(
        [
            {
                "family": family_ids[f],
                "fiscal_year": int(y),
                "quantity": float(np.round(base[f] * rng.uniform(0.7, 1.3))),
                "source": "simulator",
            }
            for f in range(n_f)
            for y in future
        ]
    )
    capacities = pd.DataFrame(
        {
            "family": family_ids,
            "min_sustaining_rate": np.round(base * 0.8),
            "max_rate": np.round(base * 3.0),
            "source": "simulator",
        }
    )
    tables = {
        "partners": partners,
        "families": families,
        "lors": lors,
        "evidence": evidence,
        "domestic_plans": plans,
        "line_capacities": capacities,
    }
    truth = {
        "seed": seed,
        "spec": asdict(spec),
        "reference_year": spec.last_year,
        "centre_year": centre_of(years),
        "params": {
            "intercept": spec.intercept,
            "sigma_partner": spec.sigma_partner,
            "sigma_family": spec.sigma_family,
            "sigma_partner_family": spec.sigma_partner_family,
            "trend_mean": spec.trend_mean,
            "sigma_trend": spec.sigma_trend,
            "dispersion": spec.dispersion,
        },
        "partner_effect": dict(zip(partner_ids, partner_effect.round(6).tolist(), strict=True)),
        "family_effect": dict(zip(family_ids, family_effect.round(6).tolist(), strict=True)),
        "family_trend": dict(zip(family_ids, family_trend.round(6).tolist(), strict=True)),
        "partner_family_effect": {
            f"{partner_ids[p]}|{family_ids[f]}": round(float(pf_effect[p, f]), 6)
            for p in range(n_p)
            for f in range(n_f)
        },
        "nlp": {"hit_rate": spec.nlp_hit_rate, "false_rate": spec.nlp_false_rate, "lead_years": 1},
    }
    return tables, truth


def _centred(x: np.ndarray) -> np.ndarray:
    return x - x.mean()


def _nlp_signal(
    rng: np.random.Generator,
    spec: WorldSpec,
    counts: np.ndarray,
    years: np.ndarray,
    partner_ids: list[str],
    family_ids: list[str],
) -> pd.DataFrame:
    """A mention in year t-1 leads a realised LOR in year t (with misses and false alarms)."""
    upcoming = counts[:, :, 1:] > 0
    p_mention = np.where(upcoming, spec.nlp_hit_rate, spec.nlp_false_rate)
    hits = rng.random(upcoming.shape) < p_mention
    return pd.DataFrame(
        [
            {
                "partner": partner_ids[p],
                "family": family_ids[f],
                "date": f"{int(years[t])}-06-30",
                "kind": "nlp_mention",
                "value": 1.0,
                "source": "simulator: synthetic notification",
            }
            for p, f, t in zip(*np.nonzero(hits), strict=True)
        ],
        columns=["partner", "family", "date", "kind", "value", "source"],
    )


def _readiness(lors: pd.DataFrame, years: np.ndarray) -> pd.DataFrame:
    """Fleet units delivered the year after each realised order, cumulated; unit-weighted mean age."""
    realised = lors[lors["status"].isin(["executed", "firm"])].copy()
    realised["delivered"] = pd.to_datetime(realised["received"]).dt.year + 1
    out = []
    for (partner, family), grp in realised.groupby(["partner", "family"]):
        for y in years:
            fleet = grp[grp["delivered"] <= y]
            units = float(fleet["quantity"].sum())
            if units <= 0:
                continue
            age = float(((y - fleet["delivered"]) * fleet["quantity"]).sum() / units)
            day = f"{int(y)}-12-31"
            out.append(
                {
                    "partner": partner,
                    "family": family,
                    "date": day,
                    "kind": READINESS_FLEET_UNITS,
                    "value": units,
                    "source": "simulator: fleet proxy",
                }
            )
            out.append(
                {
                    "partner": partner,
                    "family": family,
                    "date": day,
                    "kind": READINESS_FLEET_MEAN_AGE,
                    "value": round(age, 4),
                    "source": "simulator: fleet proxy",
                }
            )
    return pd.DataFrame(out, columns=["partner", "family", "date", "kind", "value", "source"])


def write_world(out: Path | str, spec: WorldSpec, seed: int) -> dict:
    """Simulate and write a dataset directory plus ``truth.json``; return the truth."""
    out = Path(out)
    tables, truth = simulate_world(spec, seed)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_table(frame, out / f"{name}.csv")
    atomic_write_text(out / "truth.json", json.dumps(truth, indent=2))
    return truth

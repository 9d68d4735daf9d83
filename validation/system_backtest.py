"""Backtest of the split over named systems: the share model against each family's historical shares.

At each origin the share model is fitted on requests through the origin and asked, for the next
``horizon`` years, which system each realised request of a family was for. Conditioning on the realised
family counts isolates the split (the family counts are the demand model's job, scored elsewhere):

- per request, the multi-class Brier score and the log score of the predictive shares (posterior mean);
- per (family, year, system), the CRPS of the system's count: draws of sum over regions of
  Binomial(n[family, region, year], share[draw, region, year, system]) against the realised count.

Baselines split each family by its historical shares through the origin, as a planner would without a
model: all years, or the last ten; each with Dirichlet(counts + 1/2) share draws (Jeffreys), so both
sides carry their uncertainty into the CRPS.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from bayes.system_shares import SystemShareModel, SystemShares, named_systems, system_panel
from evidence.loaders import Dataset
from evidence.systems import Catalogue, load_catalogue
from validation.scores import score, skill

log = logging.getLogger(__name__)

CONTENDERS = ("share_model", "historical_all", "historical_10y")
RECENT_YEARS = 10


def _historical(train: xr.Dataset, family: int, k: int, years: int | None, draws: int, rng) -> np.ndarray:
    """(S, K) Dirichlet(counts + 1/2) share draws from the family's requests through the origin."""
    counts = train["count"].values[family]  # (R, T, K)
    if years is not None:
        counts = counts[:, -years:]
    alpha = counts.sum(axis=(0, 1))[:k] + 0.5
    return rng.dirichlet(alpha, draws)


def _request_scores(p: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    """Summed multi-class Brier and log scores of the requests ``y`` (K,) under shares ``p`` (K,)."""
    n = int(y.sum())
    brier = n * float((p**2).sum()) - 2 * float((y * p).sum()) + n
    log_score = -float((y * np.log(np.maximum(p, 1e-12))).sum())
    return brier, log_score, n


def backtest_origin(
    dataset: Dataset,
    catalogue: Catalogue,
    origin: int,
    horizon: int,
    first_year: int,
    sampler_config: Mapping[str, Any],
    draws: int,
    seed: int,
) -> dict[str, dict[str, float]]:
    """Scores of each contender at one origin (sums and counts, pooled by :func:`system_backtest`)."""
    full = system_panel(dataset.lors, dataset.partners, catalogue, first_year, origin + horizon)
    families = [str(f) for f in full["family"].values]
    train = system_panel(dataset.lors, dataset.partners, catalogue, first_year, origin, families=families)
    tree = SystemShareModel(sampler_config={**sampler_config, "random_seed": seed}).fit(train, False)
    shares = SystemShares(tree, draws)
    test = full["count"].sel(year=slice(origin + 1, origin + horizon)).values  # (F, R, H, K)
    years = np.arange(origin + 1, origin + horizon + 1)
    regions = full["region"].values.astype(str)
    rng = np.random.default_rng(seed)
    sums = {c: {"brier": 0.0, "log_score": 0.0, "requests": 0} for c in CONTENDERS}
    observed, predicted = [], {c: [] for c in CONTENDERS}
    for fi, family in enumerate(families):
        k = len(shares.systems(family))
        n = test[fi, ..., :k].sum(axis=-1)  # (R, H) realised requests of the family
        if k < 2 or not n.any():
            continue  # nothing to split, or nothing to score
        model = shares.probabilities(family, regions, years)  # (S, R, H, K)
        split = {
            "share_model": model,
            "historical_all": _historical(train, fi, k, None, draws, rng)[:, None, None, :],
            "historical_10y": _historical(train, fi, k, RECENT_YEARS, draws, rng)[:, None, None, :],
        }
        for r, h in zip(*np.nonzero(n), strict=True):
            y = test[fi, r, h, :k]
            for c, p in split.items():
                p_mean = p[:, min(r, p.shape[1] - 1), min(h, p.shape[2] - 1)].mean(axis=0)
                b, ls, m = _request_scores(p_mean, y)
                sums[c]["brier"] += b
                sums[c]["log_score"] += ls
                sums[c]["requests"] += m
        for h in range(horizon):
            if not n[:, h].any():
                continue
            for j in range(k):
                observed.append(int(test[fi, :, h, j].sum()))
                for c, p in split.items():
                    probs = np.broadcast_to(p[..., j], (draws, len(regions), horizon))[:, :, h]  # (S, R)
                    predicted[c].append(rng.binomial(n[:, h][None, :], probs).sum(axis=1))
    out: dict[str, dict[str, float]] = {}
    for c in CONTENDERS:
        crps = score(np.array(observed), np.array(predicted[c])).crps if observed else np.array([])
        out[c] = {**sums[c], "crps_sum": float(crps.sum()), "targets": int(crps.size)}
    out["_fit"] = {"status": tree.attrs["status"], "seconds": float(tree.attrs["fit_seconds"])}
    return out


def system_backtest(
    dataset: Dataset,
    origins: Sequence[int],
    horizon: int = 3,
    first_year: int = 1990,
    sampler_config: Mapping[str, Any] | None = None,
    draws: int = 400,
    seed: int = 0,
    catalogue: Catalogue | None = None,
    progressbar: bool = True,
) -> dict:
    """Scores per origin and pooled over origins (per request: Brier, log score; per target: CRPS), and
    the share model's skill against each baseline (1 - model / baseline; positive: the model is better)."""
    catalogue = catalogue or load_catalogue()
    sampler = {"draws": 500, "tune": 400, "chains": 4, **(sampler_config or {})}
    per_origin = {}
    for origin in tqdm(list(origins), desc="system backtest", disable=not progressbar):
        per_origin[origin] = backtest_origin(
            dataset, catalogue, int(origin), horizon, first_year, sampler, draws, seed + int(origin)
        )
        log.info("origin %d: %s", origin, per_origin[origin])
    pooled = {}
    for c in CONTENDERS:
        total = {k: sum(o[c][k] for o in per_origin.values()) for k in per_origin[origins[0]][c]}
        pooled[c] = {
            "brier": total["brier"] / max(total["requests"], 1),
            "log_score": total["log_score"] / max(total["requests"], 1),
            "crps": total["crps_sum"] / max(total["targets"], 1),
            "requests": int(total["requests"]),
            "targets": int(total["targets"]),
        }
    skills = {
        base: {m: skill(pooled["share_model"][m], pooled[base][m]) for m in ("brier", "log_score", "crps")}
        for base in CONTENDERS[1:]
    }
    return {
        "origins": list(map(int, origins)),
        "horizon": horizon,
        "pooled": pooled,
        "skill": skills,
        "per_origin": {str(k): v for k, v in per_origin.items()},
        "named_systems": named_systems(system_panel(dataset.lors, dataset.partners, catalogue, first_year)),
    }


__all__ = ["CONTENDERS", "backtest_origin", "system_backtest"]

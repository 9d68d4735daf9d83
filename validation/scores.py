"""Proper scores for count forecasts given as draws, computed with scoringrules.

Every contender in a backtest hands over predictive draws per target (cell, family-year, ...), and
every one is scored by the same functions: CRPS, log score, weighted interval score, interval
coverage at 50/80/90/95%, the Brier score of P(at least one), and randomized PIT values for counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scoringrules as sr

from bayes.quantiles import sorted_quantiles

COVERAGE_LEVELS = (0.5, 0.8, 0.9, 0.95)
# WIS over the central intervals of these levels plus the median (Bracher et al. 2021's set, in part).
WIS_LEVELS = (0.2, 0.5, 0.8, 0.9, 0.95)
METRICS = ("crps", "log_score", "wis", *(f"coverage_{round(100 * lv)}" for lv in COVERAGE_LEVELS), "brier")
# The predictive probability of an outcome never drawn: a draw count's floor, so one surprise is a large
# but finite log score (it would otherwise be infinite and swamp every mean it enters).
_PMF_FLOOR_DRAWS = 0.5


@dataclass(frozen=True)
class PointScores:
    """Scores per target (one value per observation) and randomized PIT values."""

    crps: np.ndarray
    log_score: np.ndarray
    wis: np.ndarray
    covered: dict[float, np.ndarray]  # level -> 0/1 per target
    brier: np.ndarray
    pit: np.ndarray
    # level -> the forecast's own probability of its interval: what it would cover were it calibrated.
    # Above nominal for counts, whose intervals include their ends (Poisson(2): 0.95 at 80%).
    own_coverage: dict[float, np.ndarray]
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)  # the levels the caller asked for

    def means(self) -> dict[str, float]:
        out = {
            "crps": float(self.crps.mean()),
            "log_score": float(self.log_score.mean()),
            "wis": float(self.wis.mean()),
            "brier": float(self.brier.mean()),
        }
        out |= {f"coverage_{round(100 * lv)}": float(c.mean()) for lv, c in self.covered.items()}
        return out

    def own_coverage_means(self) -> dict[str, float]:
        """Mean coverage a calibrated forecast with these intervals would reach, per level."""
        return {f"coverage_{round(100 * lv)}": float(c.mean()) for lv, c in self.own_coverage.items()}


def _ends(level: float) -> tuple[float, float]:
    """The quantile levels that bound the central ``level`` interval."""
    return (1 - level) / 2, 1 - (1 - level) / 2


def _row_counter(ordered: np.ndarray, integral: bool):
    """``count(values, side)``: per row of ``ordered`` (sorted along its last axis), how many draws
    are below (``"left"``) or at most (``"right"``) that row's value -- a row-wise searchsorted.

    For draws of an ``integral`` dtype (counts), rows are laid end to end as one sorted sequence,
    each shifted past the previous one's range, so a single ``np.searchsorted`` answers every row
    (the shift is exact for integers); other draws are compared element by element."""
    rows, samples = ordered.shape
    low, high = float(ordered[:, 0].min()), float(ordered[:, -1].max())
    if not (integral and (high - low + 1) * rows < 2**52):
        return lambda values, side: (
            (ordered < values[:, None]) if side == "left" else (ordered <= values[:, None])
        ).sum(axis=-1)
    shift = (high - low + 1) * np.arange(rows)
    keys = (ordered - low + shift[:, None]).ravel()
    start = samples * np.arange(rows)

    def count(values: np.ndarray, side: str) -> np.ndarray:
        # values beyond the draws' range would land in a neighbouring row: clip them to its edges
        inside = np.clip(values, low - 0.5, high + 0.5) - low + shift
        return np.searchsorted(keys, inside, side=side) - start

    return count


def score(
    observed: np.ndarray, draws: np.ndarray, seed: int = 0, quantiles: Sequence[float] = ()
) -> PointScores:
    """Score count forecasts. ``observed``: (n,) counts; ``draws``: (n, S) predictive draws.

    ``quantiles``: levels whose predictive quantiles the caller wants as well (``PointScores.quantiles``).
    The draws are sorted once: scoringrules' CRPS takes a sorted ensemble, and every quantile the
    scores need (and the caller's) comes from one pass, not one sort per interval."""
    observed = np.asarray(observed, dtype=float)
    integral = np.issubdtype(np.asarray(draws).dtype, np.integer)
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 2 or draws.shape[0] != observed.shape[0]:
        raise ValueError(
            f"draws must be (targets, samples); got {draws.shape} for {observed.shape[0]} targets"
        )
    n_draws = draws.shape[1]
    levels = sorted({0.5, *quantiles, *(e for lv in (*WIS_LEVELS, *COVERAGE_LEVELS) for e in _ends(lv))})
    # inverted-CDF quantiles (counts: the interval ends are attained values)
    values, ordered = sorted_quantiles(draws, np.array(levels))
    q = dict(zip(levels, values, strict=True))
    crps = np.asarray(sr.crps_ensemble(observed, ordered, m_axis=-1, sorted_ensemble=True))
    count_below = _row_counter(ordered, integral)

    # P(Y < y) and P(Y = y) under the draws, per target
    below = count_below(observed, "left") / n_draws
    equal = count_below(observed, "right") / n_draws - below
    p_observed = np.maximum(equal, _PMF_FLOOR_DRAWS / n_draws)
    # the log score of the event "Y = y", which the forecast gave probability p_observed
    log_score = np.asarray(sr.log_score(np.ones_like(observed), p_observed))

    alphas = np.array([1 - lv for lv in WIS_LEVELS])
    lower = np.stack([q[_ends(lv)[0]] for lv in WIS_LEVELS], axis=-1)
    upper = np.stack([q[_ends(lv)[1]] for lv in WIS_LEVELS], axis=-1)
    wis = np.asarray(sr.weighted_interval_score(observed, q[0.5], lower, upper, alphas))

    covered, own = {}, {}
    for level in COVERAGE_LEVELS:
        lo, hi = (q[e] for e in _ends(level))
        covered[level] = ((observed >= lo) & (observed <= hi)).astype(float)
        own[level] = (count_below(hi, "right") - count_below(lo, "left")) / n_draws

    p_any = 1.0 - count_below(np.zeros_like(observed), "right") / n_draws
    brier = np.asarray(sr.brier_score((observed > 0).astype(float), p_any))

    # randomized PIT for a discrete predictive: uniform between F(y-1) and F(y) (Czado et al. 2009)
    u = np.random.default_rng(seed).uniform(size=observed.shape)
    pit = below + u * equal
    return PointScores(crps, log_score, wis, covered, brier, pit, own, {lv: q[lv] for lv in quantiles})


def skill(score_model: float, score_baseline: float) -> float:
    """1 - S(model) / S(baseline): positive when the model scores better (lower) than the baseline."""
    return float(1.0 - score_model / score_baseline) if score_baseline > 0 else float("nan")

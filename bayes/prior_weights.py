"""Posterior draws reweighted from one set of priors to another, with the same data and model.

A posterior under priors B, p_B(theta | y), becomes one under priors A by importance weights
w(theta) = p_A(theta) / p_B(theta) over the variables whose prior changed (the likelihood cancels).
The weights are Pareto-smoothed (PSIS, arviz-stats) and their k-hat says whether to trust them: above
0.7 the two posteriors are too far apart for the draws of one to stand for the other, and an answer
must say so instead of reporting the reweighted figure. What "why did this move" uses to separate the
priors' part of a change from the data's without refitting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priors.priorset import PriorSet

KHAT_MAX = 0.7


@dataclass(frozen=True)
class Reweighting:
    weights: np.ndarray | None  # (S,) summing to 1; None: not possible (see ``reason``)
    khat: float | None
    changed: tuple[str, ...]  # priors that differ
    reason: str = ""  # why there are no weights, or "" when there are

    @property
    def usable(self) -> bool:
        return self.weights is not None


def reweighting(params: dict[str, np.ndarray], draws_under: PriorSet, wanted: PriorSet) -> Reweighting:
    """Weights that turn ``params`` (posterior draws, sample axis first, fitted under ``draws_under``)
    into draws of the posterior under ``wanted`` priors."""
    from arviz_stats.base import array_stats

    names = sorted(set(draws_under.as_dict()) | set(wanted.as_dict()))
    changed = tuple(n for n in names if draws_under.as_dict().get(n) != wanted.as_dict().get(n))
    if not changed:
        return Reweighting(None, None, changed, "no prior differs")
    missing = [
        n for n in changed if n not in params or n not in draws_under.as_dict() or n not in wanted.as_dict()
    ]
    if missing:
        return Reweighting(
            None, None, changed, f"priors of {missing} name no posterior variable of both fits"
        )
    s = next(iter(params.values())).shape[0]
    log_ratio = np.zeros(s)
    for name in changed:
        x = params[name].reshape(s, -1)
        log_ratio += (wanted[name].logpdf(x) - draws_under[name].logpdf(x)).sum(axis=1)
    if not np.isfinite(log_ratio).all():
        return Reweighting(None, None, changed, "draws outside the other priors' support")
    try:  # arviz-stats takes log-likelihood-like input (weights exp(-x)), as for PSIS-LOO
        smoothed, khat = array_stats.psislw(-log_ratio)
        khat = float(khat)
    except ValueError:  # a tail of equal ratios: nothing to smooth, the raw weights are bounded
        smoothed, khat = log_ratio, None
    if khat is not None and khat > KHAT_MAX:
        return Reweighting(
            None, khat, changed, f"importance weights unreliable (Pareto k-hat {khat:.2f} > {KHAT_MAX})"
        )
    weights = np.exp(smoothed - smoothed.max())
    return Reweighting(weights / weights.sum(), khat, changed)


__all__ = ["KHAT_MAX", "Reweighting", "reweighting"]

"""Recency: a partner that ordered a family recently may follow on, or may be saturated.

    recency[p, f, t] = log(1 + sum_{s < t} decay^(t-1-s) lor_count[p, f, s])        (own history)
    log mu += recency_slope[f] * (recency[p, f, t] - its mean over the family's cells and fitted years)

A self-exciting term on each partner × family's own decayed history, with one decay and a slope per
family, partially pooled (non-centred) about a common mean that may be positive (follow-on orders) or
negative (a partner that just bought is served for a while).

The history is centred on its family's mean, not within each cell. Centred within the cell (as
readiness is), the term read only each cell's rise after its first order, which a decay near one turns
into a step that the cell's level and the trend also explain. On a simulated world with a known slope
the chains then split between that mode and a short memory, and even the short-memory mode read the
slope at under half its truth: the within-cell mean of a lagged count carries the cell's later orders
(the dynamic-panel bias). Centred on the family, a cell with a long record is compared with cells
without one as well as with its own earlier years, and the slope and decay are recovered
(``tests/bayes/test_recency.py``); the cell's random level, shrunk towards its family, keeps a busy
cell's level from being read as follow-on.

It is off unless ``model_config['recency']`` is "own". Because the term reads the counts themselves,
forecasts draw year by year (:meth:`Recency.draw_sequential`): each forecast year's draws enter the
next year's history, so the follow-on (or saturation) of a forecast order is in the later years'
draws. A request posted to the book conditions its own cell-year only; the later years of that cell
do not see it (the book's conditioning is per cell-year).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.observation import draw_counts
from bayes.terms._term import BuildContext, FutureContext, Inputs, Place, Term


def lag_weights(decay: Any, n_t: int) -> Any:
    """(..., T, T) W with W[t, s] = decay^(t-1-s) for s < t, 0 otherwise: history = counts @ W.T.
    numpy for arrays of draws, pytensor for the graph's scalar."""
    t = np.arange(n_t)
    lag = t[:, None] - 1 - t[None, :]
    past = lag >= 0
    exponent = np.where(past, lag, 0).astype("float32")
    if isinstance(decay, np.ndarray | float | int):
        d = np.asarray(decay, dtype=float)[..., None, None]
        return np.where(past, d**exponent, 0.0)
    import pytensor.tensor as pt

    return pt.where(past, pt.power(decay, exponent), 0.0)


def history(counts: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """(S, P, F, T) log(1 + decayed history before each year), per draw of ``decay`` (S,)."""
    w = lag_weights(np.atleast_1d(decay), counts.shape[-1])  # (S, T, T)
    return np.log1p(np.einsum("pfs,kts->kpft", counts.astype(float), w))


def family_centre(x: Any) -> Any:
    """Each family's mean of the history ``x`` (..., P, F, T) over its partners and years, kept as
    (..., 1, F, 1): the term's centre in the graph (pytensor) and in numpy alike."""
    return x.mean(axis=(-3, -1), keepdims=True)


class Recency(Term):
    name = "recency"
    switch = "recency"
    priors = ("recency_decay", "recency_mean", "sigma_recency")
    stored = (*priors, "recency_slope")
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"recency": stored}
    per_draw_inputs = ("recency_state", "recency_centre")

    def wanted(self, config) -> bool:
        return config.recency != "off"

    def presence(self, design, config) -> dict[str, bool]:
        return {"recency": config.recency == "own" and config.switched_on("recency")}

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        if not ctx.present["recency"]:
            return
        p, d, fx = ctx.priors, ctx.design, ctx.float_x
        decay = p["recency_decay"].create()
        mean = p["recency_mean"].create()
        sd = p["sigma_recency"].create()
        z = pm.Normal("z_recency_slope", 0.0, 1.0, dims="family")
        ctx.params["recency_slope"] = pm.Deterministic("recency_slope", mean + sd * z, dims="family")
        n_p, n_f, n_t = d.counts.shape
        flat = d.counts.reshape(n_p * n_f, n_t).astype(fx)
        x = pt.log1p(pt.dot(flat, lag_weights(decay, n_t).T)).reshape((n_p, n_f, n_t))
        ctx.inputs["recency"] = x - family_centre(x)

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return "recency_slope" in params and inputs.get("recency") is not None

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        yield at.family(params["recency_slope"]) * at.cell(inputs["recency"])

    def fitted_inputs(self, params: Mapping[str, Any], design) -> dict[str, Any]:
        if "recency_slope" not in params:
            return {}
        decay = np.asarray(params["recency_decay"], dtype=float)
        x = history(design.counts, decay)
        x = x - family_centre(x)
        return {"recency": x if decay.ndim else x[0]}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        p = ctx.params
        if "recency_slope" not in p or ctx.history is None:
            return {}
        counts = ctx.history.astype(float)
        n_t = counts.shape[-1]
        decay = p["recency_decay"]
        # the decayed sum through the last fitted year, and each family's mean covariate over its cells
        # and the fitted years (its centre in the fit), per draw; in chunks, as the full (S, P, F, T) is
        # gigabytes
        state = np.einsum("pft,kt->kpf", counts, decay[:, None] ** (n_t - 1 - np.arange(n_t)))
        centre = np.empty((len(decay), 1, counts.shape[1]))
        for start in range(0, len(decay), 50):
            centre[start : start + 50] = family_centre(history(counts, decay[start : start + 50]))[..., 0]
        return {"recency_state": state, "recency_centre": centre}

    def feeds_back(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return "recency_slope" in params and inputs.get("recency_state") is not None

    @staticmethod
    def draw_sequential(
        rng: np.random.Generator,
        log_mu: np.ndarray,
        params: Mapping[str, Any],
        inputs: Inputs,
        dispersion: Any,
        zero_inflation: Any = None,
    ) -> np.ndarray:
        """Counts (..., P, F, H) year by year: ``log_mu`` holds every other term; each year adds the
        recency addend of the history so far, the drawn year included. ``dispersion`` and
        ``zero_inflation`` broadcast against ``log_mu``, as for :func:`bayes.observation.draw_counts`."""

        def per_year(value: Any) -> Any:
            return value[..., 0] if np.ndim(value) == log_mu.ndim else value

        dispersion, zero_inflation = per_year(dispersion), per_year(zero_inflation)
        slope = np.asarray(params["recency_slope"])[..., None, :]
        decay = np.asarray(params["recency_decay"])[..., None, None]
        state = np.asarray(inputs["recency_state"], dtype=float)
        centre = np.asarray(inputs["recency_centre"], dtype=float)
        counts = np.empty(log_mu.shape, dtype=np.int64)
        for h in range(log_mu.shape[-1]):
            x = np.log1p(state) - centre
            counts[..., h] = draw_counts(rng, log_mu[..., h] + slope * x, dispersion, zero_inflation)
            state = decay * state + counts[..., h]
        return counts

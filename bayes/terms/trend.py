"""Trend: each family's log-linear trend in ``decade`` (years from the middle of the fitted window over
ten), partially pooled about a common mean. On unless ``model_config['family_path']`` is "ar1".

Forecast years are placed by :func:`damped_decades` (``model_config['trend_damping']``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.design import decades
from bayes.terms._term import BuildContext, FutureContext, Inputs, Place, Term


def damped_decades(last_year: int, years: np.ndarray, centre_year: float, damping: float) -> np.ndarray:
    """The trends' time covariate for forecast years, damped after the last fitted year.

    Year ``last + h`` is placed at ``last + damping + damping^2 + ... + damping^h`` (Gardner and
    McKenzie's damped trend): 1 extrapolates the fitted log-linear trends as they are, 0 holds every
    cell at its last fitted level, values between let the trend fade. Linear extrapolation of
    family trends compounds: the backtest showed it overshooting the next years' totals.
    """
    h = np.asarray(years, dtype=int) - int(last_year)
    steps = h.astype(float) if damping == 1.0 else damping * (1.0 - damping**h) / (1.0 - damping)
    return decades(last_year + steps, centre_year)


class Trend(Term):
    name = "trend"
    priors = ("trend_mean", "sigma_trend")
    # family_trend is stored without the trend too (zeros), so every reader finds it
    stored = (*priors, "family_trend")
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"trend": priors}
    constant_without = ("family_trend",)
    checked = ("trend_mean",)

    def presence(self, design, config) -> dict[str, bool]:
        return {"trend": config.family_path in ("trend", "trend_ar1")}

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        n_f = ctx.design.counts.shape[1]
        ctx.inputs["decade"] = pm.Data("decade", ctx.design.decade.astype(ctx.float_x), dims="year")
        if ctx.present["trend"]:
            trend_mean = ctx.priors["trend_mean"].create()
            sigma_trend = ctx.priors["sigma_trend"].create()
            trend = pm.Normal("family_trend", trend_mean, sigma_trend, dims="family")
        else:
            trend = pm.Deterministic("family_trend", pt.zeros(n_f, dtype=ctx.float_x), dims="family")
        ctx.params["family_trend"] = trend

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return "family_trend" in params and inputs.get("decade") is not None

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        yield at.family(params["family_trend"]) * at.year(inputs["decade"])

    def fitted_inputs(self, params: Mapping[str, Any], design) -> dict[str, Any]:
        return {"decade": design.decade}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        return {"decade": damped_decades(ctx.reference_year, ctx.years, ctx.centre_year, ctx.trend_damping)}

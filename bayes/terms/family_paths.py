"""Family paths: with ``model_config['family_path']`` "ar1" or "trend_ar1", a stationary AR(1) per
family about its level (and trend), so a family that boomed reverts instead of carrying a long trend.

Non-centred, and taken as departures from the family's mean (and linear trend) over the fitted years,
which would otherwise trade off with the path's mean and slope. Forecasts roll each family's state on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.terms import ar1
from bayes.terms._term import BuildContext, FutureContext, Inputs, Place, Term


def detrender(decade: np.ndarray, trend: bool = True) -> np.ndarray:
    """(T, T) symmetric projection that takes a path's mean (and, with ``trend``, its linear trend
    in ``decade``) out."""
    x = np.ones((len(decade), 1))
    if trend:
        x = np.column_stack([x, np.asarray(decade, dtype=float)])
    return np.eye(len(decade)) - x @ np.linalg.pinv(x)


class FamilyPaths(Term):
    name = "family_paths"
    switch = "family_dynamics"
    priors = ("sigma_family_dynamic", "rho_family_dynamic")
    stored = (*priors, "family_dynamic")
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"family_dynamics": stored}
    per_draw_inputs = ("family_dynamic",)

    def presence(self, design, config) -> dict[str, bool]:
        on = config.family_path in ("ar1", "trend_ar1") and config.switched_on("family_dynamics")
        return {"family_dynamics": on}

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        if not ctx.present["family_dynamics"]:
            return
        sigma = ctx.priors["sigma_family_dynamic"].create()
        rho = ctx.priors["rho_family_dynamic"].create()
        d = ctx.design
        path = ar1.graph_paths("family_dynamic_innovation", sigma, rho, ("family", "year"), d.counts.shape[2])
        ctx.inputs["family_dynamic"] = pm.Deterministic(
            "family_dynamic",
            pt.dot(path, detrender(d.decade, ctx.present["trend"]).astype(ctx.float_x)),
            dims=("family", "year"),
        )

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return inputs.get("family_dynamic") is not None

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        yield at.family_year(inputs["family_dynamic"])

    def fitted_inputs(self, params: Mapping[str, Any], design) -> dict[str, Any]:
        return {"family_dynamic": params.get("family_dynamic")}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        p = ctx.params
        if "rho_family_dynamic" not in p:
            return {}
        mean_one = ctx.config.dynamic_shocks == "mean_one"
        return {
            "family_dynamic": ar1.roll_on(
                p, "family_dynamic", rng, p["family_dynamic"][:, :, -1], ctx.horizon, mean_one
            )
        }

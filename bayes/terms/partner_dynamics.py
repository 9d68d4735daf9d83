"""Partner dynamics: a stationary AR(1) per partner on the log rate, shared by its families.

Non-centred, and taken as departures from the partner's mean over the fitted years: the path's mean
would trade off with the partner's level (a ridge that cost ~1,800 divergences on the real panel).
Forecasts roll each partner's state on from its last fitted year (:func:`bayes.terms.ar1.roll`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.terms import ar1
from bayes.terms._term import BuildContext, FutureContext, Inputs, Place, Term


class PartnerDynamics(Term):
    name = "partner_dynamics"
    switch = "dynamics"
    priors = ("sigma_dynamic", "rho_dynamic")
    stored = (*priors, "partner_dynamic")
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"dynamics": stored}
    checked = priors
    per_draw_inputs = ("partner_dynamic",)

    def presence(self, design, config) -> dict[str, bool]:
        return {"dynamics": config.switched_on("dynamics")}

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm

        if not ctx.present["dynamics"]:
            return
        sigma = ctx.priors["sigma_dynamic"].create()
        rho = ctx.priors["rho_dynamic"].create()
        n_t = ctx.design.counts.shape[2]
        path = ar1.graph_paths("dynamic_innovation", sigma, rho, ("partner", "year"), n_t)
        ctx.inputs["partner_dynamic"] = pm.Deterministic(
            "partner_dynamic", path - path.mean(axis=1, keepdims=True), dims=("partner", "year")
        )

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return inputs.get("partner_dynamic") is not None

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        yield at.partner_year(inputs["partner_dynamic"])

    def fitted_inputs(self, params: Mapping[str, Any], design) -> dict[str, Any]:
        return {"partner_dynamic": params.get("partner_dynamic")}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        p = ctx.params
        if "rho_dynamic" not in p:
            return {}
        mean_one = ctx.config.dynamic_shocks == "mean_one"
        return {
            "partner_dynamic": ar1.roll_on(
                p, "dynamic", rng, p["partner_dynamic"][:, :, -1], ctx.horizon, mean_one
            )
        }

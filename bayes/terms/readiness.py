"""Readiness: per-family slopes on the partner's fleet for the family -- its size (log1p units) and
mean age -- taken within each partner × family (departures from that cell's own mean).

The level of a partner's demand for a family is the interaction's job; the slopes say how demand
moves as a fleet grows or ages (see :mod:`bayes.design`). The slopes are partially pooled over
families and non-centred: with few families their spread is weakly identified, and the centred form
funnels as it shrinks. Forecast years hold each fleet's size and, by default, age it a year a year
(``model_config['future_fleet_age']``): no deliveries are known after the fit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.design import Scale, fleet_covariates, within
from bayes.terms._term import BuildContext, FutureContext, Inputs, Place, Term

COVARIATES = ("fleet_size", "fleet_age")


class Readiness(Term):
    name = "readiness"
    switch = "readiness"
    priors = ("fleet_size_mean", "sigma_fleet_size", "fleet_age_mean", "sigma_fleet_age")
    stored = (*priors, "fleet_size_slope", "fleet_age_slope")
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"readiness": stored}
    checked = ("fleet_size_mean", "fleet_age_mean")

    def presence(self, design, config) -> dict[str, bool]:
        return {"readiness": design.readiness and config.switched_on("readiness")}

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm

        if not ctx.present["readiness"]:
            return
        for name in COVARIATES:
            mean = ctx.priors[f"{name}_mean"].create()
            sd = ctx.priors[f"sigma_{name}"].create()
            if ctx.config.centred["slopes"]:
                slope = pm.Normal(f"{name}_slope", mean, sd, dims="family")
            else:
                z = pm.Normal(f"z_{name}_slope", 0.0, 1.0, dims="family")
                slope = pm.Deterministic(f"{name}_slope", mean + sd * z, dims="family")
            ctx.params[f"{name}_slope"] = slope
            ctx.inputs[name] = getattr(ctx.design, name)

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return "fleet_size_slope" in params and inputs.get("fleet_size") is not None

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        for name in COVARIATES:
            yield at.family(params[f"{name}_slope"]) * at.cell(inputs[name])

    def fitted_inputs(self, params: Mapping[str, Any], design) -> dict[str, Any]:
        if "fleet_size_slope" not in params:
            return {}
        return {"fleet_size": design.fleet_size, "fleet_age": design.fleet_age}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        if not ctx.present.get("readiness"):
            return {}
        cd, h = ctx.constant_data, ctx.horizon
        size_scale, age_scale = Scale(*ctx.scales["size"]), Scale(*ctx.scales["age"])
        units = np.repeat(cd["fleet_units_latest"].values[..., None], h, axis=-1)
        ageing = np.arange(h) if ctx.config.future_fleet_age == "ageing" else np.zeros(h)
        age = cd["fleet_mean_age_latest"].values[..., None] + ageing
        size, age, present = fleet_covariates(units, age, size_scale, age_scale)
        fleet_size, fleet_age = within(
            size, age, present, cd["fleet_size_cell_mean"].values, cd["fleet_age_cell_mean"].values
        )
        return {"fleet_size": fleet_size, "fleet_age": fleet_age}

"""Waves: with ``model_config['waves']`` "on", a stationary AR(1) per region x family on the log rate,
so that a surge of orders in one country of a region moves its neighbours' rates in that family (a
threat seen alike, a system the region's air forces adopt in turn).

Non-centred, pooled through one innovation scale and one persistence, and taken as departures from each
path's mean (and linear trend, where the family has one) over the fitted years: those belong to the
partner and family levels and the trend. Forecasts roll each region x family state on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.design import group_index
from bayes.terms import ar1
from bayes.terms._term import BuildContext, FutureContext, Inputs, Place, Term
from bayes.terms.family_paths import detrender


class Waves(Term):
    name = "waves"
    switch = "waves"
    priors = ("sigma_wave", "rho_wave")
    stored = (*priors, "wave")
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"waves": stored}
    per_draw_inputs = ("wave",)

    def wanted(self, config) -> bool:
        return config.waves != "off"

    def presence(self, design, config) -> dict[str, bool]:
        return {"waves": config.waves == "on" and config.switched_on("waves")}

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        if not ctx.present["waves"]:
            return
        d = ctx.design
        model = pm.modelcontext(None)
        if "region" not in model.coords:
            model.add_coord("region", d.regions)
        sigma = ctx.priors["sigma_wave"].create()
        rho = ctx.priors["rho_wave"].create()
        dims = ("region", "family", "year")
        # one path per region x family (pt.dot contracts the year axis of the 3-D innovations)
        path = ar1.graph_paths("wave_innovation", sigma, rho, dims, d.counts.shape[2])
        detrended = pt.dot(path, detrender(d.decade, ctx.present["trend"]).astype(ctx.float_x))
        ctx.inputs["wave"] = pm.Deterministic("wave", detrended, dims=dims)
        ctx.inputs["region_index"] = d.region_index

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return inputs.get("wave") is not None

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        yield at.group_family_year(inputs["wave"], inputs["region_index"])

    def fitted_inputs(self, params: Mapping[str, Any], design) -> dict[str, Any]:
        if params.get("wave") is None:
            return {}
        return {"wave": params["wave"], "region_index": design.region_index}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        p = ctx.params
        if "rho_wave" not in p:
            return {}
        last = p["wave"][..., -1]  # (S, region, family)
        mean_one = ctx.config.dynamic_shocks == "mean_one"
        rolled = ar1.roll_on(p, "wave", rng, last.reshape(last.shape[0], -1), ctx.horizon, mean_one)
        region_index, _ = group_index(ctx.constant_data["partner_region"].values)
        return {"wave": rolled.reshape(*last.shape, ctx.horizon), "region_index": region_index}

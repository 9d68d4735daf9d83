"""Partner-level yearly covariates on every family's rate, as known at the start of the year: one slope
per measure, shared by the partner's families. Budgets and U.S. channels are two instances."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.design import partner_future
from bayes.terms._term import BuildContext, FutureContext, Inputs, Place, Term


class PartnerCovariates(Term):
    """Subclasses set ``variable`` (the design's and the inputs' name), ``measure_dim`` (the panel's
    measure dimension), ``measures`` (its coords), the slope's name and the setting that turns it on."""

    variable: ClassVar[str]
    measure_dim: ClassVar[str]
    slope: ClassVar[str]
    setting: ClassVar[str]

    def wanted(self, config) -> bool:
        return getattr(config, self.setting) != "off"

    def presence(self, design, config) -> dict[str, bool]:
        has_data = bool(getattr(design, self.variable).any())
        on = getattr(config, self.setting) == "on" and config.switched_on(self.switch or self.name)
        return {self.name: has_data and on}

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        if not ctx.present[self.name]:
            return
        x = getattr(ctx.design, self.variable)
        pm.modelcontext(None).add_coord(self.measure_dim, np.arange(x.shape[0]))
        ctx.params[self.slope] = ctx.priors[self.slope].create(dims=self.measure_dim)
        # a tensor, so both the dense cube and the gathered cells can index it
        ctx.inputs[self.variable] = pt.as_tensor_variable(x.astype(ctx.float_x))

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return self.slope in params and inputs.get(self.variable) is not None

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        x = inputs[self.variable]
        measures = x.type.shape[0] if hasattr(x, "type") else x.shape[0]  # a graph constant's is static
        for m in range(measures):
            yield at.scalar(params[self.slope][..., m]) * at.partner_year(x[m])

    def fitted_inputs(self, params: Mapping[str, Any], design) -> dict[str, Any]:
        return {self.variable: getattr(design, self.variable)} if self.slope in params else {}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        if not ctx.present.get(self.name):
            return {}
        cd = ctx.constant_data
        latest = cd[f"partner_{self.variable}_latest"].values
        mean = cd[f"{self.variable}_partner_mean"].values
        return {self.variable: partner_future(latest, ctx.scales[self.variable], mean, ctx.horizon)}

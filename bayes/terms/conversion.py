"""Conversion: the share of requests that become orders, per family: realised out of realised +
withdrawn ~ Binomial(conversion[f]), conversion[f] ~ Beta with mean ``conversion_mean`` and
concentration ``conversion_concentration``. Without a single withdrawn request the data say nothing
about it (every rate fits), and forecasts draw conversion from its prior instead."""

from __future__ import annotations

from typing import ClassVar

from bayes.terms._term import BuildContext, Term


class Conversion(Term):
    name = "conversion"
    priors = ("conversion_mean", "conversion_concentration")
    stored = (*priors, "conversion")
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"conversion": stored}

    def presence(self, design, config) -> dict[str, bool]:
        return {"conversion": bool(design.withdrawn.sum() > 0)}

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm

        if not ctx.present["conversion"]:
            return
        p, d = ctx.priors, ctx.design
        mean = p["conversion_mean"].create()
        kappa = p["conversion_concentration"].create()
        conversion = pm.Beta("conversion", alpha=mean * kappa, beta=(1.0 - mean) * kappa, dims="family")
        pm.Binomial(
            "requests_realised", n=d.realised + d.withdrawn, p=conversion, observed=d.realised, dims="family"
        )

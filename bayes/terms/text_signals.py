"""Text signals: a distributed lag on the NLP covariate (log(1 + mentions) of year t - l, l = 0..3,
centred over covered years, unscaled; see :mod:`bayes.design`). Years the corpus does not cover are
masked to 0, never read as "no mention"; forecast years read the last fitted years' signal at their
lags, and a year not yet observed is masked likewise. With ``model_config['text_evidence']``
"requests" the mentions are requests on the book instead (:mod:`bayes.terms.notices`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.design import Scale, nlp_covariate
from bayes.terms._term import BuildContext, FutureContext, Inputs, Place, Term


class TextSignals(Term):
    name = "text_signals"
    switch = "nlp"
    priors = ("nlp_lag",)
    stored = priors
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"nlp": priors}

    def presence(self, design, config) -> dict[str, bool]:
        lagged = config.text_evidence == "lagged"  # "requests": bayes.terms.notices reads them instead
        return {"nlp": design.nlp and lagged and config.switched_on("nlp")}

    def build(self, ctx: BuildContext) -> None:
        if not ctx.present["nlp"]:
            return
        ctx.params["nlp_lag"] = ctx.priors["nlp_lag"].create(dims="lag")
        ctx.inputs["nlp_lags"] = ctx.design.nlp_lags

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return "nlp_lag" in params and inputs.get("nlp_lags") is not None

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        lags = inputs["nlp_lags"]
        for lag in range(lags.shape[0]):
            yield at.scalar(params["nlp_lag"][..., lag]) * at.cell(lags[lag])

    def fitted_inputs(self, params: Mapping[str, Any], design) -> dict[str, Any]:
        return {"nlp_lags": design.nlp_lags} if "nlp_lag" in params else {}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        if not ctx.present.get("nlp"):
            return {}
        scale = Scale(*ctx.scales["nlp"])
        lags = ctx.params["nlp_lag"].shape[1]
        return {"nlp_lags": mentions_at_lags(ctx, lags, lambda m: nlp_covariate(m, scale))}


def mentions_at_lags(
    ctx: FutureContext, lags: int, transform: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """(lag, partner, family, forecast year): ``transform`` of the mentions of year t - lag, from the
    last fitted years; 0 where that year is a forecast year (not read yet) or the corpus did not cover it."""
    cd = ctx.constant_data
    recent = cd["nlp_signal_recent"].values
    covered = cd["nlp_covered_recent"].values
    recent_years = cd["recent_year"].values
    x = np.zeros((lags, *recent.shape[:2], ctx.horizon))
    for lag in range(lags):
        for k, year in enumerate(ctx.years):
            source = np.flatnonzero(recent_years == year - lag)
            if source.size and covered[source[0]]:
                x[lag, :, :, k] = transform(recent[:, :, source[0]])
    return x

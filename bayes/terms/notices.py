"""Notices: text mentions (the DSCA notifications) as requests on the book. With
``model_config['text_evidence']`` "requests", each mention of a partner x family in year s is a request
that becomes an order with probability ``notice_conversion``, in year s + l with probability w_l:

    mu[p, f, t] += notice_conversion * sum_l w_l * mentions[p, f, t - l],   l = 0..3,
    w_l proportional to notice_delay^l (a geometric delay, truncated at three years)

The orders come on top of the rate rather than multiplying it: a notification can add a fifth of an
order to a cell whose rate is a fiftieth, which a slope on the log rate cannot do without raising
every cell of the partner. Years the corpus does not cover hold no requests. Forecast years convert
the requests noticed up to the origin; requests not yet noticed are the rate's job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.terms._term import BuildContext, FutureContext, Inputs, Place, Term
from bayes.terms.text_signals import mentions_at_lags


def delay_weights(delay: Any, lags: int) -> list[Any]:
    """w_0..w_{lags-1}, proportional to delay^l and summing to one, for a tensor or an array of draws."""
    powers = [delay**lag for lag in range(lags)]
    total = sum(powers)
    return [p / total for p in powers]


class Notices(Term):
    name = "notices"
    priors = ("notice_conversion", "notice_delay")
    stored = priors
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"notices": priors}
    checked = priors

    def wanted(self, config) -> bool:
        return config.text_evidence == "requests"

    def presence(self, design, config) -> dict[str, bool]:
        # a mention counts only in a covered year, so any request on the book means the corpus is there
        on = config.text_evidence == "requests" and config.switched_on("nlp")
        return {"notices": bool(on and design.notice_lags.any())}

    def build(self, ctx: BuildContext) -> None:
        if not ctx.present["notices"]:
            return
        ctx.params["notice_conversion"] = ctx.priors["notice_conversion"].create()
        ctx.params["notice_delay"] = ctx.priors["notice_delay"].create()
        ctx.inputs["notice_lags"] = ctx.design.notice_lags

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return "notice_conversion" in params and inputs.get("notice_lags") is not None

    def added_rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Any | None:
        lags = inputs["notice_lags"]
        weights = delay_weights(params["notice_delay"], lags.shape[0])
        out = None
        for lag, w in enumerate(weights):
            if lags[lag].any():
                term = at.scalar(w) * at.cell(lags[lag])
                out = term if out is None else out + term
        return None if out is None else at.scalar(params["notice_conversion"]) * out

    def fitted_inputs(self, params: Mapping[str, Any], design) -> dict[str, Any]:
        return {"notice_lags": design.notice_lags} if "notice_conversion" in params else {}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        if not ctx.present.get("notices"):
            return {}
        lags = ctx.constant_data.sizes["recent_year"]
        return {"notice_lags": mentions_at_lags(ctx, lags, np.nan_to_num)}

"""Units per request: log(units) ~ Normal(units_intercept + units_family[f] + units_partner[p],
units_sigma), over realised requests whose quantity is known. Forecasts give every forecast request
its own log-normal size (:func:`draw_units`)."""

from __future__ import annotations

import numpy as np

from bayes.terms._term import BuildContext, Term


def draw_units(
    rng: np.random.Generator, counts: np.ndarray, log_mean: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """Units summed over each cell's requests: every request draws its own log-normal size (at least 1).

    ``counts`` (S, P, F, H); ``log_mean`` (S, P, F) and ``sigma`` (S,) of the units model."""
    out = np.zeros(counts.shape, dtype=np.uint32)
    idx = np.nonzero(counts)
    if not idx[0].size:
        return out
    reps = counts[idx].astype(np.int64)
    mean = np.repeat(log_mean[idx[0], idx[1], idx[2]], reps)
    sd = np.repeat(sigma[idx[0]], reps)
    sizes = np.maximum(1.0, np.round(np.exp(np.minimum(mean + sd * rng.standard_normal(mean.size), 20.0))))
    cell = np.repeat(np.arange(reps.size), reps)
    totals = np.bincount(cell, weights=sizes, minlength=reps.size)
    out[idx] = np.minimum(totals, np.iinfo(np.uint32).max).astype(np.uint32)
    return out


class Units(Term):
    name = "units"
    priors = ("units_intercept", "sigma_units_family", "sigma_units_partner", "units_sigma")
    stored = (*priors, "units_family", "units_partner")
    checked = ("units_intercept", "units_sigma")

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm

        p, d = ctx.priors, ctx.design
        units_intercept = p["units_intercept"].create()
        sigma_uf = p["sigma_units_family"].create()
        sigma_up = p["sigma_units_partner"].create()
        units_sigma = p["units_sigma"].create()
        units_family = pm.ZeroSumNormal("units_family", sigma=sigma_uf, dims="family")
        # Most partners have few requests with quantities: non-centred, or sigma_up funnels.
        z_up = pm.ZeroSumNormal("z_units_partner", sigma=1.0, dims="partner")
        units_partner = pm.Deterministic("units_partner", sigma_up * z_up, dims="partner")
        pm.Normal(
            "log_units",
            units_intercept + units_family[d.lor_family] + units_partner[d.lor_partner],
            units_sigma,
            observed=d.log_units.astype(ctx.float_x),
            dims="lor_obs",
        )

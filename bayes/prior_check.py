"""Prior predictive check: what yearly LOR counts do the priors imply, next to what was observed?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayes.model import DemandModel, PosteriorDraws, centre_of, decades, default_model_config, sample_prior
from priors import PriorSet


def prior_predictive_check(
    panel: xr.Dataset, priors: PriorSet, draws: int = 500, seed: int = 0
) -> pd.DataFrame:
    """Per family: observed yearly LOR totals (over partners) against the prior predictive's.

    Columns: family, category, observed min/median/max of yearly totals, prior predictive 5%, 50%
    and 95% quantiles of yearly totals, and the share of prior predictive years inside the observed
    range. A prior that puts little mass near the observed range is too narrow or misplaced; one
    whose 95% quantile is orders of magnitude above it is too vague to regularise.
    """
    import pytensor

    model = DemandModel(default_model_config(priors))
    with pytensor.config.change_flags(floatX=model.float_x):
        prior = sample_prior(model.build_model(panel), draws, seed)
    sample = PosteriorDraws.from_posterior(prior["prior"].to_dataset())
    decade = decades(panel["year"].values, centre_of(panel["year"].values))
    rng = np.random.default_rng(seed + 1)
    totals = np.empty((sample.n, panel.sizes["family"], panel.sizes["year"]))
    for s in range(sample.n):
        # Prior tails reach absurd rates; clip the log rate so a draw stays a (huge) number, not inf.
        mu = np.exp(np.minimum(sample.log_rate(decade, slice(s, s + 1))[0], 20.0))
        phi = sample.dispersion[s]
        totals[s] = rng.poisson(rng.gamma(phi, mu / phi)).sum(axis=0)
    observed = panel["lor_count"].sum("partner").values  # (family, year)
    rows = []
    for f, family in enumerate(panel["family"].values):
        obs = observed[f]
        pp = totals[:, f, :].ravel()
        inside = np.mean((pp >= obs.min()) & (pp <= obs.max()))
        q5, q50, q95 = np.quantile(pp, [0.05, 0.5, 0.95])
        rows.append(
            {
                "family": str(family),
                "category": str(panel["family_category"].values[f]),
                "observed_min": int(obs.min()),
                "observed_median": float(np.median(obs)),
                "observed_max": int(obs.max()),
                "prior_q05": float(q5),
                "prior_q50": float(q50),
                "prior_q95": float(q95),
                "prior_share_in_observed_range": float(inside),
            }
        )
    return pd.DataFrame(rows)

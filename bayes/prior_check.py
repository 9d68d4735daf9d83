"""Prior predictive check: what yearly LOR counts and units do the priors imply, next to what was observed?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayes.design import build_design
from bayes.model import DemandModel, PosteriorDraws, default_model_config, sample_prior
from bayes.observation import draw_counts
from priors import PriorSet

PRIOR_CHECK_MAX_LOG_RATE = 12.0


def prior_predictive_check(
    panel: xr.Dataset, priors: PriorSet, draws: int = 500, seed: int = 0
) -> pd.DataFrame:
    """Per family: observed yearly totals (over partners) of LORs and of units, against the prior
    predictive's.

    Columns per measure (``lors_`` and ``units_``): observed min/median/max of yearly totals, prior
    predictive 5%, 50% and 95% quantiles of yearly totals, and the share of prior predictive years
    inside the observed range. A prior that puts little mass near the observed range is too narrow
    or misplaced; one whose 95% quantile is orders of magnitude above it is too vague to regularise.
    """
    import pytensor

    model = DemandModel(default_model_config(priors))
    with pytensor.config.change_flags(floatX=model.float_x):
        built = model.build_model(panel)
        prior = sample_prior(built, draws, seed, model.stored_names(model.design))
    sample = PosteriorDraws.from_posterior(prior["prior"].to_dataset())
    design = build_design(panel)
    rng = np.random.default_rng(seed + 1)
    n_f, n_t = panel.sizes["family"], panel.sizes["year"]
    counts_pp = np.empty((sample.n, n_f, n_t))
    units_pp = np.empty((sample.n, n_f, n_t))
    for s in range(sample.n):
        # Prior tails reach absurd rates; the check is about orders of magnitude, so rates stop at
        # e^12 (~160,000 a cell-year), far above anything observed, rather than overflowing.
        log_mu = sample.log_rate(design, slice(s, s + 1))[0]
        counts = draw_counts(rng, log_mu, sample.dispersion[s], max_log_rate=PRIOR_CHECK_MAX_LOG_RATE)
        log_size = (
            sample.units_intercept[s] + sample.units_partner[s][:, None] + sample.units_family[s][None, :]
        )
        # Sum of n log-normal sizes per cell, approximated by n times a draw of the mean size: the
        # check is about orders of magnitude, which this keeps.
        size = np.exp(np.minimum(log_size + sample.units_sigma[s] ** 2 / 2, 20.0))
        counts_pp[s] = counts.sum(axis=0)
        units_pp[s] = (counts * size[:, :, None]).sum(axis=0)
    observed_counts = panel["lor_count"].sum("partner").values  # (family, year)
    observed_units = panel["units"].sum("partner").values
    rows = []
    for f, family in enumerate(panel["family"].values):
        row: dict = {"family": str(family), "category": str(panel["family_category"].values[f])}
        for prefix, obs, pp in (
            ("lors", observed_counts[f], counts_pp[:, f, :].ravel()),
            ("units", observed_units[f], units_pp[:, f, :].ravel()),
        ):
            q5, q50, q95 = np.quantile(pp, [0.05, 0.5, 0.95])
            row |= {
                f"{prefix}_observed_min": float(obs.min()),
                f"{prefix}_observed_median": float(np.median(obs)),
                f"{prefix}_observed_max": float(obs.max()),
                f"{prefix}_prior_q05": float(q5),
                f"{prefix}_prior_q50": float(q50),
                f"{prefix}_prior_q95": float(q95),
                f"{prefix}_prior_share_in_observed_range": float(
                    np.mean((pp >= obs.min()) & (pp <= obs.max()))
                ),
            }
        rows.append(row)
    return pd.DataFrame(rows)

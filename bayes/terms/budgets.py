"""Budgets: a partner's military expenditure (SIPRI, as known at the start of the year: log level,
growth, share of GDP, each within the partner) on all its families' rates, one slope per measure.

Off unless ``model_config['budgets']`` is "on". Forecast years hold the last known figures: a later
year's budget is not known at the origin."""

from __future__ import annotations

from bayes.terms._partner_covariates import PartnerCovariates


class Budgets(PartnerCovariates):
    name = "budgets"
    switch = "budgets"
    setting = "budgets"
    variable = "budget"
    measure_dim = "budget_measure"
    slope = "budget_slope"
    priors = ("budget_slope",)
    stored = priors
    optional = {"budgets": priors}  # noqa: RUF012 -- a class constant, never mutated

"""U.S. channels: what a partner bought from the U.S. the year before, by channel (Security
Assistance Monitor: FMS agreements, DCS authorizations, FMS notifications, log1p US$ m, within the
partner), on all its families' rates, one slope per measure.

Off unless ``model_config['channels']`` is "on". Forecast years hold the last known figures; on the
default data SAM stops at fiscal 2020, so a model fitted through 2021 forecasts with the partner's
mean (unknown is never read as zero)."""

from __future__ import annotations

from bayes.terms._partner_covariates import PartnerCovariates


class Channels(PartnerCovariates):
    name = "channels"
    switch = "channels"
    setting = "channels"
    variable = "channel"
    measure_dim = "channel_measure"
    slope = "channel_slope"
    priors = ("channel_slope",)
    stored = priors
    optional = {"channels": priors}  # noqa: RUF012 -- a class constant, never mutated

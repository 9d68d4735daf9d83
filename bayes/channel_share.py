"""Which channel a partner's U.S. purchases use: a hierarchical model of the FMS share of its dollars.

A partner buys U.S. systems government-to-government through Foreign Military Sales (FMS: an LOR, a
DSCA case) or commercially, under a State Department licence (Direct Commercial Sales, DCS). SIPRI's
register, our stand-in for requests, does not say which, so the demand model forecasts both together;
this model says how they split. From Security Assistance Monitor's yearly figures (the dataset's
evidence kinds ``us_fms_agreements_usd_m`` and ``us_dcs_authorizations_usd_m``, see
:mod:`sources.sam`), the FMS fraction of partner p's dollars in year t is

    y[p, t] = FMS agreements / (FMS agreements + DCS authorizations)
    y ~ Beta(mu * phi, (1 - mu) * phi)
    logit mu[p, t] = level[p] + trend[r] * (t - centre) / 10,   level[p] ~ Normal(intercept, sigma_partner)

with partner levels pooled toward a common one (centred, since SAM reports most partners for many
years) and the regions' trends pooled, as in the U.S. share model. Unlike
that model it has no region level: SAM reports nearly every partner, so partners carry their own level,
and a region scale under partner effects as large mixed badly (R-hat 1.03 on a simulated world).
A year is used only where both figures are reported (a missing row is not a zero, see sources.sam) and
the two add up to at least ``min_total_usd_m``; fractions of exactly 0 or 1 are squeezed into (0, 1)
(Smithson & Verkuilen 2006), since a Beta has no mass there.

P(FMS) for a partner and year is ``mu``: the expected FMS share of its dollars, read as the chance that
a forecast order uses FMS (an LOR) rather than DCS. A year after the last one with data takes that
year's share: a trend fitted to 2001-2016 (the years SAM reports both channels) is not carried six or
more years past its data (carried to 2022 it put Sub-Saharan Africa's FMS share at 0.15 against the
0.30 observed). Dollars weigh large cases more than counts would;
that is the figure SAM has. Partners with no reported year take the common share and their region's
trend, with the partners' spread as their uncertainty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes._small_fit import SmallModel, centre_year, pick_draws, regions_of, small_sampler
from bayes.diagnostics import DEFAULT_GATES
from evidence.records import US_DCS_AUTHORIZATIONS_USD_M, US_FMS_AGREEMENTS_USD_M
from totaldemand.errors import UserError

GROUP = "channel_share"
_SCALARS = ("intercept", "sigma_partner", "trend_mean", "sigma_trend", "phi")
_EFFECTS = ("partner_level", "trend_raw")
_NAMES = (*_SCALARS, *_EFFECTS)


def default_channel_config() -> dict[str, Any]:
    return {
        "min_total_usd_m": 1.0,  # a partner-year with less than $1M in all is one small case: noise
        "intercept_sd": 1.5,
        "effect_sd": 1.0,
        "trend_sd": 0.5,  # logit per decade
        "gates": dict(DEFAULT_GATES),
    }


def default_channel_sampler() -> dict[str, Any]:
    return small_sampler(20261207, target_accept=0.9)


class ChannelError(UserError):
    """A channel panel or model that cannot be built, fitted or read; the message names the field."""


def channel_panel(
    evidence: pd.DataFrame,
    partners: pd.DataFrame,
    partner_ids: Sequence[str],
    min_total_usd_m: float = 1.0,
) -> xr.Dataset:
    """FMS agreements and DCS authorizations per partner × year (US$ million) for ``partner_ids``, over
    the years either is reported, with ``observed`` where both are and they reach ``min_total_usd_m``."""
    kinds = {US_FMS_AGREEMENTS_USD_M: "fms_usd_m", US_DCS_AUTHORIZATIONS_USD_M: "dcs_usd_m"}
    rows = evidence[evidence["kind"].isin(kinds) & evidence["partner"].isin(partner_ids)]
    if rows.empty:
        raise ChannelError(
            f"evidence: no {US_FMS_AGREEMENTS_USD_M} or {US_DCS_AUTHORIZATIONS_USD_M} rows for these partners"
        )
    years = pd.to_datetime(rows["date"]).dt.year
    table = (
        rows.assign(year=years, measure=rows["kind"].map(kinds))
        .groupby(["partner", "year", "measure"])["value"]
        .sum()
        .unstack("measure")
    )
    span = np.arange(int(years.min()), int(years.max()) + 1)
    index = pd.MultiIndex.from_product([list(partner_ids), span], names=["partner", "year"])
    table = table.reindex(index)
    shape = (len(partner_ids), len(span))
    fms = table["fms_usd_m"].to_numpy(dtype=float).reshape(shape)
    dcs = table["dcs_usd_m"].to_numpy(dtype=float).reshape(shape)
    total = np.nan_to_num(fms) + np.nan_to_num(dcs)
    observed = np.isfinite(fms) & np.isfinite(dcs) & (total >= min_total_usd_m) & (total > 0)
    region = partners.set_index("id")["region"].reindex(list(partner_ids)).fillna("unknown").astype(str)
    dims = ("partner", "year")
    panel = xr.Dataset(
        {"fms_usd_m": (dims, fms), "dcs_usd_m": (dims, dcs), "observed": (dims, observed)},
        coords={"partner": list(partner_ids), "year": span, "partner_region": ("partner", region.to_numpy())},
        attrs={"first_year": int(span[0]), "last_year": int(span[-1])},
    )
    panel["fms_usd_m"].attrs["description"] = "FMS agreements, current US$ million (NaN: not reported)"
    panel["dcs_usd_m"].attrs["description"] = "DCS licences, current US$ million (NaN: not reported)"
    panel["observed"].attrs["description"] = f"both reported, together at least US${min_total_usd_m:g}M"
    return panel


def _squeezed(fraction: np.ndarray) -> np.ndarray:
    n = fraction.size
    return (fraction * (n - 1) + 0.5) / n


def simulate_channel_panel(
    n_partners: int, years: np.ndarray, seed: int
) -> tuple[xr.Dataset, dict[str, Any]]:
    """A panel drawn from the model with known parameters (for parameter recovery); a quarter of the
    partner-years are not reported."""
    rng = np.random.default_rng(seed)
    n_regions = 8
    region_index = np.arange(n_partners) % n_regions
    truth: dict[str, Any] = {
        "intercept": 0.8,
        "sigma_partner": 1.2,
        "trend_mean": 0.3,
        "sigma_trend": 0.3,
        "phi": 6.0,
    }
    partner = rng.normal(0, truth["sigma_partner"], n_partners)
    trend = rng.normal(truth["trend_mean"], truth["sigma_trend"], n_regions)
    truth |= {"partner": partner, "trend": trend}
    x = (np.asarray(years, dtype=float) - float(np.mean(years))) / 10.0
    logit = truth["intercept"] + partner[:, None] + trend[region_index][:, None] * x
    mu = 1 / (1 + np.exp(-logit))
    fraction = rng.beta(mu * truth["phi"], (1 - mu) * truth["phi"])
    total = rng.lognormal(4.0, 1.5, mu.shape)
    fms, dcs = fraction * total, (1 - fraction) * total
    missing = rng.random(mu.shape) < 0.25
    fms[missing] = dcs[missing] = np.nan
    dims = ("partner", "year")
    panel = xr.Dataset(
        {"fms_usd_m": (dims, fms), "dcs_usd_m": (dims, dcs), "observed": (dims, ~missing & (total >= 1.0))},
        coords={
            "partner": [f"p{i:02d}" for i in range(n_partners)],
            "year": np.asarray(years),
            "partner_region": ("partner", [f"r{i}" for i in region_index]),
        },
        attrs={"first_year": int(years[0]), "last_year": int(years[-1])},
    )
    return panel, truth


class ChannelModel(SmallModel):
    """Build, fit and read the FMS share model (configs explicit, as the other side models)."""

    label = "channel (FMS share)"
    names = _NAMES
    scalars = _SCALARS
    observed_name = "fms_fraction"
    error = ChannelError

    def __init__(
        self, model_config: Mapping[str, Any] | None = None, sampler_config: Mapping[str, Any] | None = None
    ) -> None:
        positive = ("intercept_sd", "effect_sd", "trend_sd")
        defaults = default_channel_config(), default_channel_sampler()
        self._configure(*defaults, model_config, sampler_config, positive)
        value = self.model_config["min_total_usd_m"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ChannelError(f"model_config['min_total_usd_m']: {value!r} is not a number >= 0")

    def build_model(self, panel: xr.Dataset, observed: np.ndarray | None = None):  # -> pm.Model
        import pymc as pm

        cfg = self.model_config
        rows = np.argwhere(panel["observed"].values)
        if not len(rows):
            raise ChannelError("observed: no partner-year reports both FMS and DCS figures")
        p, t = rows.T
        fms, dcs = panel["fms_usd_m"].values[p, t], panel["dcs_usd_m"].values[p, t]
        y = _squeezed(fms / (fms + dcs)) if observed is None else observed
        region_index, regions = regions_of(panel)
        x = (panel["year"].values[t] - centre_year(panel)) / 10.0
        coords = {"region": regions, "partner": panel["partner"].values}
        with pm.Model(coords=coords) as model:
            intercept = pm.Normal("intercept", 0.0, float(cfg["intercept_sd"]))
            sigma_partner = pm.HalfNormal("sigma_partner", float(cfg["effect_sd"]))
            # centred: sixteen years of a partner's fractions pin its level, and the non-centred form
            # tied the intercept to every partner (R-hat 1.02 on a simulated world of 30 partners)
            level = pm.Normal("partner_level", intercept, sigma_partner, dims="partner")
            trend_mean = pm.Normal("trend_mean", 0.0, float(cfg["trend_sd"]))
            sigma_trend = pm.HalfNormal("sigma_trend", float(cfg["trend_sd"]))
            trend_raw = pm.Normal("trend_raw", 0.0, 1.0, dims="region")
            phi = pm.Gamma("phi", alpha=2.0, beta=0.2)  # mean 10: a fraction's spread about its mean
            trend = trend_mean + sigma_trend * trend_raw
            logit = level[p] + trend[region_index[p]] * x
            mu = pm.math.invlogit(logit)
            pm.Beta(self.observed_name, alpha=mu * phi, beta=(1 - mu) * phi, observed=y)
        return model


class ChannelShares:
    """A fitted channel model as a demand model's file holds it (group ``channel_share``), read for
    answers: P(FMS) per draw for the fitted partners in any year."""

    def __init__(self, tree: xr.DataTree, take: int = 1000) -> None:
        self.panel = tree["constant_data"].to_dataset()
        self.status = str(tree.attrs["status"])
        self.diagnostics = json.loads(tree.attrs["diagnostics"])
        self.centre_year = float(tree.attrs["centre_year"])
        post = tree["posterior"].to_dataset()
        stacked = {k: post[k].values.reshape(-1, *post[k].shape[2:]) for k in _NAMES}
        n = stacked["intercept"].shape[0]
        pick = pick_draws(n, take)
        region_index, _ = regions_of(self.panel)
        s = {k: v[pick] for k, v in stacked.items()}
        self._base = s["partner_level"]
        self._trend = (s["trend_mean"][:, None] + s["sigma_trend"][:, None] * s["trend_raw"])[:, region_index]
        self.partners = [str(p) for p in self.panel["partner"].values]
        self.reported_years = self.panel["observed"].values.sum(axis=1)
        self.first_year, self.last_year = int(tree.attrs["first_year"]), int(tree.attrs["last_year"])
        reported = self.panel["year"].values[self.panel["observed"].values.any(axis=0)]
        self.first_reported = int(reported.min()) if len(reported) else self.first_year
        self.last_reported = int(reported.max()) if len(reported) else self.last_year

    def probabilities(self, years: np.ndarray, pi: np.ndarray | None = None) -> np.ndarray:
        """(draws, P, Y) P(FMS) for the partners ``pi`` (positions; default: all) in ``years``; a year
        after the last with data takes that year's share (module docstring)."""
        pi = np.arange(len(self.partners)) if pi is None else np.asarray(pi)
        x = (np.minimum(np.asarray(years, dtype=float), self.last_reported) - self.centre_year) / 10.0
        logit = self._base[:, pi, None] + self._trend[:, pi, None] * x[None, None, :]
        return 1.0 / (1.0 + np.exp(-logit))


__all__ = [
    "GROUP",
    "ChannelError",
    "ChannelModel",
    "ChannelShares",
    "channel_panel",
    "default_channel_config",
    "default_channel_sampler",
    "simulate_channel_panel",
]

"""Which supplier a partner's order goes to: a hierarchical binomial-logit model of the U.S. share.

Partners weigh U.S. systems against others, so a partner's U.S. orders are its orders from every
supplier thinned by the chance that each comes to the U.S. For partner p in region r, family f and year
t, an order (from any supplier) is a U.S. order with probability

    logit P(U.S.) = intercept + region[r] + partner[p] + family[f] + trend[r] * (t - centre) / 10
                    + shock[r, t]
                    + incumbency * log(1 + U.S. orders of p in f in the previous ``memory`` years)
                    + competition * log(1 + other suppliers' orders of p in f in those years)

Partner, family and region effects have scales of their own (a partner with few orders borrows its
region's share); family and region effects each sum to zero, so the intercept is the share of an
average family in an average region (free to shift against them, it mixed badly: R-hat 1.016 on the
real panel); each region's trend is pooled toward a common one (sovereignty policies
move a region's buyers together); ``shock`` is a region's year off its trend (a war, an election, a
rival's export drive), independent across years, with a scale of its own: without it, the shares of
held-out years were too sure of themselves (the observed U.S. orders of 3 in 11 regions fell outside
their 90% intervals at both calibration origins, docs/suppliers.md). Forecast years draw fresh shocks.
The two history terms are the competitor events: a partner that
bought a family from France last year has a French fleet to support and is less likely to turn to the
U.S. for the next one (``competition`` < 0), and a U.S. incumbent the other way. Orders come from SIPRI's
register with every supplier (:mod:`sources.suppliers`); in each cell with orders,

    U.S. orders ~ Binomial(orders from every supplier, P(U.S.)).

Cells without orders say nothing about the share. The model only splits: U.S. demand is a partner's
demand from every supplier times P(U.S.), draw by draw.
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
from totaldemand.errors import UserError

US = "united_states"
GROUP = "us_share"
_SCALARS = (
    "intercept",
    "sigma_region",
    "sigma_partner",
    "sigma_family",
    "trend_mean",
    "sigma_trend",
    "sigma_shock",
)
_SLOPES = ("incumbency", "competition")
_EFFECTS = ("region_raw", "partner_raw", "family_raw", "trend_raw", "shock_raw")
_NAMES = (*_SCALARS, *_SLOPES, *_EFFECTS)


def default_share_config() -> dict[str, Any]:
    return {
        "memory": 5,  # years of a partner's own orders in a family that the history terms read
        "intercept_sd": 1.5,  # logit scale: a share anywhere from 5% to 95% before data
        "effect_sd": 1.0,  # half-normal scale of the region, partner and family scales
        "trend_sd": 0.5,  # of the common trend and of the regions' spread about it, logit per decade
        "shock_sd": 0.5,  # half-normal scale of a region's year off its trend, logit
        "slope_sd": 1.0,  # of the incumbency and competition slopes, logit per log order
        "gates": dict(DEFAULT_GATES),
    }


def default_share_sampler() -> dict[str, Any]:
    # 0.9: the region scales rest on a dozen regions, a mild funnel (a simulated world of four regions
    # still gave 6 divergences at 0.9, one of eight none); 2,000 draws: with 1,000 the family scale's
    # R-hat sat at the gate (1.0100 at the 2015 origin) though its bulk ESS was 522
    return small_sampler(20261206, target_accept=0.9) | {"draws": 2000}


class ShareError(UserError):
    """A share panel or model that cannot be built, fitted or read; the message names the field."""


def _history(counts: np.ndarray, before: np.ndarray, memory: int) -> np.ndarray:
    """log(1 + orders in the ``memory`` years before each year): ``counts`` (P, F, T) on the panel's
    years, ``before`` (P, F, memory) the years just before the first, oldest first."""
    padded = np.concatenate([before, counts], axis=2).astype(float)
    cumulative = np.concatenate([np.zeros((*padded.shape[:2], 1)), np.cumsum(padded, axis=2)], axis=2)
    n_t = counts.shape[2]
    # orders in [t - memory, t - 1] = cumulative[t + memory] - cumulative[t] on the padded axis
    window = cumulative[:, :, memory : memory + n_t] - cumulative[:, :, :n_t]
    return np.log1p(window)


def share_panel(
    supplier_orders: pd.DataFrame,
    partners: pd.DataFrame,
    first_year: int,
    last_year: int,
    partner_ids: Sequence[str] | None = None,
    family_ids: Sequence[str] | None = None,
    memory: int = 5,
) -> xr.Dataset:
    """Orders from every supplier and from the U.S. per partner × family × year, with each cell's
    history: log(1 + U.S. and other suppliers' orders in the ``memory`` years before).

    ``partner_ids`` and ``family_ids`` fix the axes (the demand panel's); by default the state partners
    and the families with orders in the window. Orders before ``first_year`` count as history only.
    """
    if last_year < first_year:
        raise ShareError(f"last_year {last_year} is before first_year {first_year}")
    if memory < 1:
        raise ShareError(f"memory: {memory!r} must be at least one year")
    orders = supplier_orders[supplier_orders["year"].between(first_year - memory, last_year)]
    if partner_ids is None:
        states = set(partners.loc[partners["is_state"].astype(bool), "id"])
        in_window = orders[orders["year"] >= first_year]
        partner_ids = sorted(set(in_window["partner"]) & states)
    if family_ids is None:
        family_ids = sorted(set(orders.loc[orders["year"] >= first_year, "family"]))
    if not len(partner_ids) or not len(family_ids):
        raise ShareError(f"supplier_orders: no orders between {first_year} and {last_year}")
    p_index, f_index = pd.Index(partner_ids), pd.Index(family_ids)
    orders = orders[orders["partner"].isin(p_index) & orders["family"].isin(f_index)]
    start = first_year - memory
    span = last_year - start + 1
    every = np.zeros((len(p_index), len(f_index), span), dtype=np.int64)
    us = np.zeros_like(every)
    at = (
        p_index.get_indexer(orders["partner"]),
        f_index.get_indexer(orders["family"]),
        orders["year"] - start,
    )
    np.add.at(every, at, orders["orders"].to_numpy(dtype=np.int64))
    is_us = (orders["supplier"] == US).to_numpy()
    np.add.at(us, tuple(a[is_us] for a in at), orders["orders"].to_numpy(dtype=np.int64)[is_us])
    region = partners.set_index("id")["region"].reindex(p_index).fillna("unknown").astype(str)
    return _panel(
        every, us, memory, list(p_index), list(f_index), np.arange(first_year, last_year + 1), region
    )


def _panel(
    every: np.ndarray,
    us: np.ndarray,
    memory: int,
    partners: list[str],
    families: list[str],
    years: np.ndarray,
    regions: Sequence[str],
) -> xr.Dataset:
    """The share panel from counts (P, F, memory + T) whose first ``memory`` years are history only."""
    other = every - us
    dims = ("partner", "family", "year")
    panel = xr.Dataset(
        {
            "all_count": (dims, every[:, :, memory:]),
            "us_count": (dims, us[:, :, memory:]),
            "us_history": (dims, _history(us[:, :, memory:], us[:, :, :memory], memory)),
            "other_history": (dims, _history(other[:, :, memory:], other[:, :, :memory], memory)),
        },
        coords={
            "partner": partners,
            "family": families,
            "year": years,
            "partner_region": ("partner", np.asarray(regions, dtype=str)),
        },
        attrs={"first_year": int(years[0]), "last_year": int(years[-1]), "memory": memory},
    )
    panel["all_count"].attrs["description"] = "orders from every supplier (SIPRI register rows)"
    panel["us_count"].attrs["description"] = "of those, orders from the United States"
    panel["us_history"].attrs["description"] = f"log(1 + U.S. orders in the {memory} years before)"
    panel["other_history"].attrs["description"] = (
        f"log(1 + other suppliers' orders in the {memory} years before)"
    )
    return panel


def simulate_share_panel(
    n_partners: int, n_families: int, years: np.ndarray, seed: int, orders_rate: float = 0.6
) -> tuple[xr.Dataset, dict[str, Any]]:
    """A panel drawn from the model with known parameters (for parameter recovery): Poisson orders
    from every supplier per cell, split year by year, so each year's history is what earlier years drew."""
    rng = np.random.default_rng(seed)
    n_regions = 8
    region_index = np.arange(n_partners) % n_regions
    truth: dict[str, Any] = {
        "intercept": -0.6,
        "sigma_region": 0.6,
        "sigma_partner": 0.8,
        "sigma_family": 0.5,
        "trend_mean": -0.2,
        "sigma_trend": 0.3,
        "sigma_shock": 0.3,
        "incumbency": 0.5,
        "competition": -0.6,
    }
    region = rng.normal(0.0, truth["sigma_region"], n_regions)
    partner = rng.normal(0.0, truth["sigma_partner"], n_partners)
    family = rng.normal(0.0, truth["sigma_family"], n_families)
    trend = rng.normal(truth["trend_mean"], truth["sigma_trend"], n_regions)
    memory = 5
    n_t = len(years)
    shock = rng.normal(0.0, truth["sigma_shock"], (n_regions, n_t))
    truth |= {"region": region, "partner": partner, "family": family, "trend": trend, "shock": shock}
    size = rng.gamma(2.0, 0.5, (n_partners, n_families))  # some cells order often, most rarely
    every = rng.poisson(orders_rate * size[:, :, None], (n_partners, n_families, n_t + memory))
    us = np.zeros_like(every)
    us[:, :, :memory] = rng.binomial(every[:, :, :memory], 0.35)
    centre = float(np.mean(years))
    base = truth["intercept"] + region[region_index][:, None] + partner[:, None] + family[None, :]
    for t in range(n_t):
        k = t + memory
        us_h = np.log1p(us[:, :, k - memory : k].sum(axis=2))
        other_h = np.log1p((every - us)[:, :, k - memory : k].sum(axis=2))
        x = (years[t] - centre) / 10.0
        logit = (
            base
            + trend[region_index][:, None] * x
            + shock[region_index, t][:, None]
            + truth["incumbency"] * us_h
            + truth["competition"] * other_h
        )
        us[:, :, k] = rng.binomial(every[:, :, k], 1.0 / (1.0 + np.exp(-logit)))
    partners = [f"p{i:02d}" for i in range(n_partners)]
    families = [f"f{i}" for i in range(n_families)]
    panel = _panel(every, us, memory, partners, families, np.asarray(years), [f"r{i}" for i in region_index])
    return panel, truth


class USShareModel(SmallModel):
    """Build, fit and read the U.S. share model (configs explicit, as :class:`bayes.model.DemandModel`)."""

    label = "U.S. share"
    names = _NAMES
    scalars = (*_SCALARS, *_SLOPES)
    observed_name = "us_orders"
    error = ShareError

    def __init__(
        self, model_config: Mapping[str, Any] | None = None, sampler_config: Mapping[str, Any] | None = None
    ) -> None:
        positive = ("intercept_sd", "effect_sd", "trend_sd", "shock_sd", "slope_sd")
        defaults = default_share_config(), default_share_sampler()
        self._configure(*defaults, model_config, sampler_config, positive)
        memory = self.model_config["memory"]
        if isinstance(memory, bool) or not isinstance(memory, int) or memory < 1:
            raise ShareError(f"model_config['memory']: {memory!r} is not a whole number of years >= 1")

    def build_model(self, panel: xr.Dataset, observed: np.ndarray | None = None):  # -> pm.Model
        import pymc as pm

        cfg = self.model_config
        every = panel["all_count"].values
        rows = np.argwhere(every > 0)  # the cells with orders: the only ones that speak of the share
        if not len(rows):
            raise ShareError("all_count: no orders in the panel, so there is nothing to learn a share from")
        p, f, t = rows.T
        region_index, regions = regions_of(panel)
        x = (panel["year"].values[t] - centre_year(panel)) / 10.0
        us_h = panel["us_history"].values[p, f, t]
        other_h = panel["other_history"].values[p, f, t]
        coords = {
            "region": regions,
            "partner": panel["partner"].values,
            "family": panel["family"].values,
            "year": panel["year"].values,
        }
        with pm.Model(coords=coords) as model:
            intercept = pm.Normal("intercept", 0.0, float(cfg["intercept_sd"]))
            scales = {
                name: pm.HalfNormal(f"sigma_{name}", float(cfg["effect_sd"]))
                for name in ("region", "partner", "family")
            }
            # non-centred, regions and families each summing to zero: a shift of every region or family
            # against the intercept leaves the likelihood as it is, and their scales alone could not hold
            # it (R-hat 1.016 on the real panel); centred, the simulated world's eight regions diverged
            region = scales["region"] * pm.ZeroSumNormal("region_raw", sigma=1.0, dims="region")
            partner_raw = pm.Normal("partner_raw", 0.0, 1.0, dims="partner")
            family = scales["family"] * pm.ZeroSumNormal("family_raw", sigma=1.0, dims="family")
            trend_mean = pm.Normal("trend_mean", 0.0, float(cfg["trend_sd"]))
            sigma_trend = pm.HalfNormal("sigma_trend", float(cfg["trend_sd"]))
            trend_raw = pm.Normal("trend_raw", 0.0, 1.0, dims="region")
            sigma_shock = pm.HalfNormal("sigma_shock", float(cfg["shock_sd"]))
            # summing to zero over years, so that a region's level stays in its region effect
            shock_raw = pm.ZeroSumNormal("shock_raw", sigma=1.0, dims=("region", "year"))
            incumbency = pm.Normal("incumbency", 0.0, float(cfg["slope_sd"]))
            competition = pm.Normal("competition", 0.0, float(cfg["slope_sd"]))
            trend = trend_mean + sigma_trend * trend_raw
            logit = (
                intercept
                + family[f]
                + region[region_index[p]]
                + (scales["partner"] * partner_raw)[p]
                + trend[region_index[p]] * x
                + (sigma_shock * shock_raw)[region_index[p], t]
                + incumbency * us_h
                + competition * other_h
            )
            us = panel["us_count"].values[p, f, t] if observed is None else observed
            pm.Binomial(self.observed_name, n=every[p, f, t], logit_p=logit, observed=us)
        return model

    def effects(self) -> dict[str, np.ndarray]:
        """Per-draw region, partner and family effects, region trends and region-year shocks (draws
        first), on the logit scale."""
        if self.idata is None:
            raise ShareError("the share model is not fitted")
        post = self.idata["posterior"].to_dataset().stack(sample=("chain", "draw"))

        def values(name: str) -> np.ndarray:
            return np.moveaxis(post[name].values, -1, 0)

        out = {name: values(name) for name in (*_SCALARS, *_SLOPES)}
        for name in ("region", "partner", "family"):  # non-centred; regions and families sum to zero
            out[name] = values(f"sigma_{name}")[:, None] * values(f"{name}_raw")
        out["trend"] = out["trend_mean"][:, None] + out["sigma_trend"][:, None] * values("trend_raw")
        out["shock"] = out["sigma_shock"][:, None, None] * values("shock_raw")  # (draws, region, year)
        return out

    def probabilities(self, panel: xr.Dataset, years: np.ndarray, seed: int = 0) -> np.ndarray:
        """P(U.S.) per draw for each partner × family of the fitted panel in ``years`` (draws, P, F, Y).

        Every forecast year reads the history as of the first one (the panel's last ``memory`` years):
        orders not yet placed are not history, and drawing them here would need the partner's demand.
        A year after the panel's draws its region shocks with a generator seeded by ``seed``."""
        if self.idata is None:
            raise ShareError("the share model is not fitted")
        centre = float(self.idata.attrs["centre_year"])
        return _probabilities(self.effects(), centre, panel, years, shock_seed=seed)


def _probabilities(
    fx: Mapping[str, np.ndarray],
    centre: float,
    panel: xr.Dataset,
    years: np.ndarray,
    pi: np.ndarray | None = None,
    fi: np.ndarray | None = None,
    shock_seed: int | None = None,
) -> np.ndarray:
    """(draws, P, F, Y) P(U.S.); ``pi`` and ``fi`` pick partners and families (default: all). A year in
    the panel takes its fitted region shocks; a later one draws them, seeded by ``shock_seed`` and the
    year (so a year's shocks are the same whichever years are asked with it), or, where that is None,
    has none (the share on its region's trend)."""
    region_index, _ = regions_of(panel)
    pi = np.arange(panel.sizes["partner"]) if pi is None else np.asarray(pi)
    fi = np.arange(panel.sizes["family"]) if fi is None else np.asarray(fi)
    region_index = region_index[pi]
    years = np.asarray(years)
    x = (years.astype(float) - centre) / 10.0
    recent = panel.isel(year=slice(-int(panel.attrs["memory"]), None), partner=pi, family=fi).sum("year")
    us_h = np.log1p(recent["us_count"].values)
    other_h = np.log1p(recent["all_count"].values - recent["us_count"].values)
    shock = _region_year_shocks(fx, panel["year"].values, years, shock_seed)[:, region_index]  # (S, P, Y)
    logit = (
        fx["intercept"][:, None, None, None]
        + fx["region"][:, region_index, None, None]
        + fx["partner"][:, pi, None, None]
        + fx["family"][:, None, fi, None]
        + fx["trend"][:, region_index, None, None] * x[None, None, None, :]
        + shock[:, :, None, :]
        + fx["incumbency"][:, None, None, None] * us_h[None, :, :, None]
        + fx["competition"][:, None, None, None] * other_h[None, :, :, None]
    )
    return 1.0 / (1.0 + np.exp(-logit))


def _region_year_shocks(
    fx: Mapping[str, np.ndarray], fitted: np.ndarray, years: np.ndarray, seed: int | None
) -> np.ndarray:
    """(draws, regions, years) shocks: fitted for the panel's years (``fitted``), drawn for others
    (zero where ``seed`` is None)."""
    n, n_regions = fx["region"].shape
    out = np.zeros((n, n_regions, len(years)))
    at = {int(y): k for k, y in enumerate(fitted)}
    for k, y in enumerate(int(y) for y in years):
        if y in at:
            out[:, :, k] = fx["shock"][:, :, at[y]]
        elif seed is not None:
            z = np.random.default_rng([seed, y]).standard_normal((n, n_regions))
            out[:, :, k] = fx["sigma_shock"][:, None] * z
    return out


def with_supplier_history(panel: xr.Dataset, supplier_orders: pd.DataFrame) -> xr.Dataset:
    """``panel`` with each partner × family's orders per supplier over the panel's years
    (``supplier_orders``) and the year of the latest (``last_order``, 0 where none): what the answers
    about competing suppliers read, stored with the fit so the file answers on its own."""
    first, last = int(panel.attrs["first_year"]), int(panel.attrs["last_year"])
    rows = supplier_orders[
        supplier_orders["year"].between(first, last)
        & supplier_orders["partner"].isin(panel["partner"].values)
        & supplier_orders["family"].isin(panel["family"].values)
    ]
    suppliers = sorted(set(rows["supplier"]) | {US})
    p_index, f_index = pd.Index(panel["partner"].values), pd.Index(panel["family"].values)
    s_index = pd.Index(suppliers)
    shape = (len(p_index), len(f_index), len(s_index))
    counts = np.zeros(shape, dtype=np.int32)
    latest = np.zeros(shape, dtype=np.int32)
    at = (
        p_index.get_indexer(rows["partner"]),
        f_index.get_indexer(rows["family"]),
        s_index.get_indexer(rows["supplier"]),
    )
    np.add.at(counts, at, rows["orders"].to_numpy(dtype=np.int32))
    np.maximum.at(latest, at, rows["year"].to_numpy(dtype=np.int32))
    dims = ("partner", "family", "supplier")
    out = panel.assign(supplier_orders=(dims, counts), last_order=(dims, latest))
    out = out.assign_coords(supplier=suppliers)
    out["supplier_orders"].attrs["description"] = f"orders per supplier, {first}-{last}"
    out["last_order"].attrs["description"] = "year of the latest order from the supplier (0: none)"
    return out


class USShares:
    """A fitted U.S. share model as a demand model's file holds it (group ``us_share``), read for answers:
    P(U.S.) per draw for the fitted partners and families, and their history with every supplier."""

    def __init__(self, tree: xr.DataTree, take: int = 1000, seed: int = 0) -> None:
        self.seed = seed  # of the forecast years' region shocks: the same question gets the same answer
        self.panel = tree["constant_data"].to_dataset()
        self.status = str(tree.attrs["status"])
        self.diagnostics = json.loads(tree.attrs["diagnostics"])
        self.centre_year = float(tree.attrs["centre_year"])
        self.last_year = int(tree.attrs["last_year"])
        self.memory = int(
            json.loads(tree.attrs["model_config"])["memory"]
        )  # the panel's attrs are not stored
        self.panel.attrs.update(
            first_year=int(tree.attrs["first_year"]), last_year=self.last_year, memory=self.memory
        )
        reader = USShareModel()
        reader.idata = tree
        fx = reader.effects()
        n = fx["intercept"].shape[0]
        pick = pick_draws(n, take)
        self._fx = {k: v[pick] for k, v in fx.items()}
        self.partners = [str(p) for p in self.panel["partner"].values]
        self.families = [str(f) for f in self.panel["family"].values]

    def probabilities(
        self,
        years: np.ndarray,
        pi: np.ndarray | None = None,
        fi: np.ndarray | None = None,
        shocks: bool = True,
    ) -> np.ndarray:
        """(draws, P, F, Y) P(U.S.) with the history as of the last fitted year, for the partners ``pi``
        and families ``fi`` (positions; default: all); with ``shocks``, a forecast year draws its region's
        shock, otherwise the share sits on the region's trend."""
        seed = self.seed if shocks else None
        return _probabilities(self._fx, self.centre_year, self.panel, years, pi, fi, seed)


def us_demand(total: np.ndarray, p_us: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """U.S. orders from draws of a partner's orders from every supplier: each order comes to the U.S.
    with that draw's P(U.S.), so U.S. demand is Binomial(total, P(U.S.)) draw by draw and never exceeds
    the whole."""
    total = np.asarray(total)
    if (total < 0).any() or not np.all(np.mod(total, 1) == 0):
        raise ShareError("total: orders must be whole numbers >= 0")
    return rng.binomial(total.astype(np.int64), np.broadcast_to(p_us, total.shape))


__all__ = [
    "GROUP",
    "US",
    "ShareError",
    "USShareModel",
    "USShares",
    "default_share_config",
    "default_share_sampler",
    "share_panel",
    "simulate_share_panel",
    "us_demand",
    "with_supplier_history",
]

"""Forecasts from stored posterior draws: no PyMC at serving time.

A :class:`Forecaster` draws, once per model, future LOR counts and units for every partner × family
× future year: effects and evidence slopes from the posterior, each partner's AR(1) state rolled
forward from its last fitted year, fleets carried forward (ageing a year per year by default), the NLP signal
of the last fitted years at its lags. It then answers requests by slicing: per-cell quantiles come
from cubes sorted once at start-up, so a request costs gathers, not sorts.

Totals are sums of the same draws, so every total is coherent with its parts draw by draw:

    total demand[f, y] = domestic plan[f, y] + firm LOR units + converted pending LOR units
                         + units of forecast new LORs            (per posterior draw)

Demand counts in the year a request is received (as domestic plans count in their fiscal year).
Firm and pending requests are those after the fitted history (and older ones still pending); a
pending request converts with its family's posterior conversion probability, draw by draw. Forecast
new LORs are requests not yet received: each cell's are conditioned on the requests its book already
holds (N - m given N >= m, draw by draw), so a request on the book is never counted twice. ``set_book``
swaps in the book as stored now, without a refit (the service does on every posted request).

Domestic plans are DoD budget quantities for the years a budget covers. Rows whose ``source`` says
``assumption`` (the default data's plans held flat past FY2021) are not budgets and are set aside; past a
family's last budgeted year the forecaster carries its plan forward itself, with uncertainty (PLAN_RULE),
and every total-demand row says which basis its domestic part has.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import numpy as np
import pandas as pd
import xarray as xr

from bayes import terms
from bayes.channel_share import GROUP as CHANNEL_GROUP
from bayes.channel_share import ChannelShares
from bayes.line_load import SOURCES as LINE_SOURCES
from bayes.line_load import book_by_system, carried_plan, place
from bayes.model import DemandModel, PosteriorDraws
from bayes.prior_weights import Reweighting, reweighting
from bayes.quantiles import positions
from bayes.scenario import Scenario, condition_cell
from bayes.system_shares import GROUP as SHARES_GROUP
from bayes.system_shares import SystemShares
from bayes.system_split import FamilySplit, split_family
from bayes.terms import ar1
from bayes.terms.units import draw_units
from bayes.timing import ArrivalProfile, add_months
from bayes.us_share import GROUP as US_SHARE_GROUP
from bayes.us_share import ShareError, USShares, us_demand
from evidence.lags import lag_shares
from evidence.lines import load_lines
from evidence.systems import Catalogue, load_catalogue
from priors.priorset import PriorSet
from totaldemand.errors import UserError

MAX_HORIZON = 10
NEW = "(new: drawn from the population)"
DEFAULT_LEVELS = (0.5, 0.8, 0.95)
_CHUNK = 100  # posterior draws per vectorised step while building the cubes

PLAN_BASES = ("none", "budget", "carried")
PLAN_CARRY_YEARS = 3
PLAN_RULE_LINE = (
    "carried: the DoD quantity of the FY{year} P-21 ({quantity:g}) counted in its fiscal year and carried "
    "past it as a mean-one log random walk with yearly s.d. {sigma:.2f}"
)
DEFAULT_PLAN_SIGMA = 0.45  # the default data's own figure (plan_sigma); used where too few pairs
PLAN_RULE = (
    "basis of the domestic part: 'budget' = a DoD budget quantity; 'carried' = past the family's last "
    "budgeted year, the mean of its last 3 budgeted years carried forward as a mean-one log random walk "
    "with s.d. {sigma:.2f} a year (the s.d. of the budgets' own year-on-year log changes); 'none' = no "
    "plan for the family, counted as 0"
)


def budgeted_plans(plans: pd.DataFrame | None) -> pd.Series:
    """Quantity per (family, fiscal_year) of the plans that are budgets, not assumptions."""
    if plans is None or not len(plans):
        return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=["family", "fiscal_year"]))
    rows = plans
    if "source" in plans.columns:
        assumed = plans["source"].fillna("").astype(str).str.strip().str.lower().str.startswith("assumption")
        rows = plans[~assumed]
    rows = rows.assign(family=rows["family"].astype(str), fiscal_year=rows["fiscal_year"].astype(int))
    return rows.groupby(["family", "fiscal_year"])["quantity"].sum().astype(float)


def plan_sigma(budgeted: pd.Series, minimum_pairs: int = 10) -> float:
    """The s.d. of year-on-year log changes of the budgeted quantities (consecutive years, both > 0),
    over every family: how far one year's plan moves from the last. The default data give 0.45."""
    changes = []
    for _, series in budgeted.groupby(level="family"):
        series = series.droplevel("family").sort_index()
        years, values = series.index.to_numpy(), series.to_numpy()
        ok = (np.diff(years) == 1) & (values[:-1] > 0) & (values[1:] > 0)
        changes.extend(np.log(values[1:][ok] / values[:-1][ok]))
    if len(changes) < minimum_pairs:
        return DEFAULT_PLAN_SIGMA
    return float(np.clip(np.std(changes), 0.05, 1.5))


class ForecastError(UserError):
    """A request the forecaster cannot answer; the message names the field and the reason."""


@dataclass(frozen=True)
class NewPartner:
    """A partner never seen: optionally its region and alliance memberships (else drawn as unknown)."""

    id: str
    region: str | None = None
    alliances: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewFamily:
    id: str
    category: str | None = None


Variable = tuple[tuple[str, ...], np.ndarray]  # (dims, values), as xarray takes them


class Summary:
    """Summary variables over named dimensions, held as plain arrays: what an xarray Dataset holds,
    without building one. Building a Dataset (its coordinates and indexes) costs more than the rest of
    an API answer, which only reads the arrays; ``dataset`` builds it once for whoever wants it."""

    def __init__(
        self,
        data: dict[str, Variable],
        coords: dict[str, np.ndarray | Variable | list],
        descriptions: dict[str, str] | None = None,
    ) -> None:
        self.data = data
        self.coords = coords
        self.descriptions = descriptions or {}

    @classmethod
    def of(cls, ds: xr.Dataset) -> Summary:
        variables = {name: (tuple(map(str, v.dims)), v.values) for name, v in ds.variables.items()}
        return cls(
            {k: variables[k] for k in map(str, ds.data_vars)}, {k: variables[k] for k in map(str, ds.coords)}
        )

    def variable(self, name: str) -> Variable:
        if name in self.data:
            return self.data[name]
        value = self.coords[name]
        return value if isinstance(value, tuple) else ((name,), np.asarray(value))

    def size(self, dim: str) -> int:
        return len(self.variable(dim)[1])

    @cached_property
    def dataset(self) -> xr.Dataset:
        ds = xr.Dataset(self.data, coords=self.coords)
        for name, text in self.descriptions.items():
            ds[name].attrs["description"] = text
        return ds


@dataclass(frozen=True)
class Forecast:
    """Summaries of one request, and the draws they were computed from. Both are plain arrays, turned
    into labelled xarray objects when first read: an API answer reads the arrays alone, and labelling
    cost as much as everything else in it."""

    summaries: dict[str, Summary] = dataclasses.field(repr=False)  # cells, family_totals, ...
    levels: tuple[float, ...]
    counts: np.ndarray = dataclasses.field(repr=False)  # (partner, family, year, sample)
    units: np.ndarray = dataclasses.field(repr=False)  # (partner, family, year, sample)
    totals: np.ndarray = dataclasses.field(repr=False)  # (family, year, sample)

    @cached_property
    def cells(self) -> xr.Dataset:
        """(partner, family, year[, level]): LOR counts and units."""
        return self.summaries["cells"].dataset

    @cached_property
    def family_totals(self) -> xr.Dataset:
        """(family, year[, level]): new LORs of the selected partners."""
        return self.summaries["family_totals"].dataset

    @cached_property
    def year_totals(self) -> xr.Dataset:
        """(year[, level])."""
        return self.summaries["year_totals"].dataset

    @cached_property
    def total_demand(self) -> xr.Dataset:
        """(family, year[, level]): units, domestic + book + new, and line risk."""
        return self.summaries["total_demand"].dataset

    def _labelled(self, values: np.ndarray, name: str) -> xr.DataArray:
        dims = ("partner", "family", "year", "sample")[-values.ndim :]
        cells = self.summaries["cells"]
        coords = {d: cells.variable(d)[1] for d in dims if d != "sample"}
        return xr.DataArray(values, dims=dims, coords=coords, name=name).transpose("sample", ...)

    @cached_property
    def draws(self) -> xr.DataArray:
        """(sample, partner, family, year): LOR counts."""
        return self._labelled(self.counts, "lor_count")

    @cached_property
    def unit_draws(self) -> xr.DataArray:
        """(sample, partner, family, year): units in those LORs."""
        return self._labelled(self.units, "units")

    @cached_property
    def total_draws(self) -> xr.DataArray:
        """(sample, family, year): total demand in units."""
        return self._labelled(self.totals, "total_demand")

    def to_dict(self) -> dict:
        """JSON-ready records: one per cell, per family-year total, per year total, per total-demand row."""
        s = self.summaries
        return {
            "cells": records(
                s["cells"], ("partner", "family", "year"), self.levels, ("p_any_within_horizon",), units=True
            ),
            "family_totals": records(s["family_totals"], ("family", "year"), self.levels, units=True),
            "year_totals": records(s["year_totals"], ("year",), self.levels, units=True),
            "total_demand": _total_records(s["total_demand"], self.levels),
        }


def _array(s: Summary, name: str, dims: tuple[str, ...]) -> np.ndarray:
    """A variable's values with its axes in the order ``dims``."""
    var_dims, values = s.variable(name)
    return np.transpose(values, [var_dims.index(d) for d in dims])


def _intervals(s: Summary, prefix: str, dims: tuple[str, ...], levels: tuple[float, ...]) -> list:
    """Per element (in C order over ``dims``): its intervals, one dict per credible level."""
    lower = _array(s, f"{prefix}lower", (*dims, "level")).astype(float).reshape(-1, len(levels))
    upper = _array(s, f"{prefix}upper", (*dims, "level")).astype(float).reshape(-1, len(levels))
    return [
        [{"level": lv, "lower": a, "upper": b} for lv, a, b in zip(levels, lo, hi, strict=True)]
        for lo, hi in zip(lower.tolist(), upper.tolist(), strict=True)
    ]


def _column(s: Summary, name: str, dims: tuple[str, ...]) -> list:
    """One variable flattened in C order over ``dims``, as Python floats (``tolist`` converts in C,
    many times faster than a float() per element: a region's forecast has thousands of cells)."""
    return _array(s, name, dims).astype(float).ravel().tolist()


def _labels(s: Summary, dims: tuple[str, ...]) -> list[list]:
    """The coordinate labels of every element, one list per dim, in C order over ``dims``."""
    shape = tuple(s.size(d) for d in dims)
    out = []
    for axis, d in enumerate(dims):
        values = np.asarray(s.variable(d)[1])
        index = np.indices(shape)[axis].ravel()
        out.append(values[index].astype(int).tolist() if d == "year" else values[index].astype(str).tolist())
    return out


def records(
    ds: xr.Dataset | Summary,
    dims: tuple[str, ...],
    levels: tuple[float, ...],
    extra: tuple[str, ...] = (),
    units: bool = False,
) -> list[dict]:
    """Flatten a summary (a Dataset, or its arrays) to one dict per element, intervals nested per level."""
    ds = ds if isinstance(ds, Summary) else Summary.of(ds)
    shape = tuple(ds.size(d) for d in dims)
    levels = tuple(float(lv) for lv in levels)
    columns = dict(zip(dims, _labels(ds, dims), strict=True))
    columns |= {k: _column(ds, k, dims) for k in ("mean", "median", "p_any")}
    for k in extra:  # variables over a prefix of dims (e.g. partner, family) are repeated over the rest
        v = ds.variable(k)[1]
        columns[k] = np.broadcast_to(v.reshape(v.shape + (1,) * (len(dims) - v.ndim)), shape).ravel().tolist()
    columns["intervals"] = _intervals(ds, "", dims, levels)
    names = list(columns)
    out = [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    if units:
        unit_rows = zip(
            _column(ds, "units_mean", dims),
            _column(ds, "units_median", dims),
            _intervals(ds, "units_", dims, levels),
            strict=True,
        )
        for rec, (mean, median, intervals) in zip(out, unit_rows, strict=True):
            rec["units"] = {"mean": mean, "median": median, "intervals": intervals}
    return out


COMBINED_SOURCES = ("domestic", "firm", "pending", "new_lors")


def combined_records(ds: xr.Dataset, levels: tuple[float, ...]) -> list[dict]:
    """Per family row of a block buy: its combined units (Forecaster.block_buy) as JSON-ready dicts."""
    s = Summary.of(ds)
    dims = ("family",)
    levels = tuple(float(lv) for lv in levels)
    intervals = _intervals(s, "combined_", dims, levels)
    mean, median = _column(s, "combined_mean", dims), _column(s, "combined_median", dims)
    sources = {k: _column(s, f"combined_{k}", dims) for k in COMBINED_SOURCES}
    p_at_least = _column(s, "p_at_least", dims) if "p_at_least" in ds else [None] * len(mean)
    out = []
    for i, total in enumerate(mean):
        parts = {k: v[i] for k, v in sources.items()}
        out.append(
            {
                "mean": total,
                "median": median[i],
                "intervals": intervals[i],
                "sources": parts,
                "shares": {k: v / total if total > 0 else 0.0 for k, v in parts.items()},
                "p_at_least": p_at_least[i],
            }
        )
    return out


def _total_records(ds: Summary, levels: tuple[float, ...]) -> list[dict]:
    dims = ("family", "year")
    levels = tuple(float(lv) for lv in levels)
    cols = (
        "domestic",
        "firm",
        "pending_expected",
        "new_lors_expected",
        "mean",
        "median",
        "min_sustaining_rate",
        "max_rate",
        "p_below_min",
        "p_above_max",
    )
    columns = dict(zip(dims, _labels(ds, dims), strict=True))
    for c in cols:
        columns[c] = [None if v != v else v for v in _column(ds, c, dims)]  # NaN (no plan, no line) → null
    columns["domestic_basis"] = _array(ds, "domestic_basis", dims).astype(str).ravel().tolist()
    columns["intervals"] = _intervals(ds, "", dims, levels)
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _quantile_pairs(levels: Sequence[float]) -> np.ndarray:
    levels = np.asarray(levels, dtype=float)
    return np.stack([(1 - levels) / 2, 1 - (1 - levels) / 2], axis=1)


def _quantile_positions(levels: Sequence[float], n: int) -> np.ndarray:
    """Where the median and each level's interval bounds sit among ``n`` sorted draws."""
    return positions(np.concatenate([[0.5], _quantile_pairs(levels).ravel()]), n)


def _summary_vars(
    ordered: np.ndarray, mean: np.ndarray, levels: Sequence[float], dims: tuple[str, ...], prefix: str = ""
) -> dict:
    """Median and equal-tailed intervals read off draws already sorted along the last axis."""
    picked = ordered[..., _quantile_positions(levels, ordered.shape[-1])]
    return _summary_at(picked, mean, dims, prefix)


def _summary_at(picked: np.ndarray, mean: np.ndarray, dims: tuple[str, ...], prefix: str = "") -> dict:
    """Median and intervals from the sorted draws at ``_quantile_positions`` (that axis last)."""
    quant = np.moveaxis(picked, -1, 0)
    return {
        f"{prefix}mean": (dims, mean),
        f"{prefix}median": (dims, quant[0]),
        f"{prefix}lower": (("level", *dims), quant[1::2]),
        f"{prefix}upper": (("level", *dims), quant[2::2]),
    }


P_ANY = "probability of at least one LOR"
P_ANY_WITHIN = "probability of at least one LOR within the horizon"


def _summarise_totals(
    counts: np.ndarray,
    units: np.ndarray,
    levels: Sequence[float],
    dims: tuple[str, ...],
    coords: dict,
    ordered: tuple[np.ndarray, np.ndarray] | None = None,
) -> Summary:
    """Counts and units of aligned draws (sample axis last), sorted here unless ``ordered`` holds
    them sorted already."""
    sorted_counts, sorted_units = ordered or (np.sort(counts, axis=-1), np.sort(units, axis=-1))
    return Summary(
        {
            **_summary_vars(sorted_counts, counts.mean(axis=-1), levels, dims),
            **_summary_vars(sorted_units, units.mean(axis=-1), levels, dims, "units_"),
            "p_any": (dims, (counts > 0).mean(axis=-1)),
        },
        {**coords, "level": list(levels)},
        {"p_any": P_ANY},
    )


def _fitted_counts(model: DemandModel) -> np.ndarray | None:
    """The fitted panel's counts (partner, family, year), for terms that read the history."""
    if model.idata is None or "observed_data" not in model.idata.children:
        return None
    observed = model.idata["observed_data"].to_dataset()
    if "lor_count" not in observed:
        return None
    return observed["lor_count"].transpose("partner", "family", "year").values


def _locked(method):
    """Run under the forecaster's lock: :meth:`Forecaster.set_book` swaps the book and the cells
    conditioned on it while answers may be reading them."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Forecaster:
    """Compiled forecasts over a fitted model's draws (thinned to ``max_draws``).

    ``plans`` and ``capacities`` are the dataset's domestic plans and line capacities (tables in
    the layouts of :mod:`evidence.records`); without them total demand has no domestic part and
    line risk is not defined.
    """

    def __init__(
        self,
        model: DemandModel,
        max_draws: int = 1000,
        max_horizon: int = 5,
        seed: int = 0,
        plans: pd.DataFrame | None = None,
        capacities: pd.DataFrame | None = None,
        allow_failed: bool = False,
        trend_damping: float | None = None,
        arrival: ArrivalProfile | None = None,
        lors: pd.DataFrame | None = None,
        lines: pd.DataFrame | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        # arrival: when in a year requests arrive (bayes.timing), for questions over windows in months
        # lors: the dataset's requests with designations, which line loads place by named system
        # lines: production lines (evidence.lines; default: the shipped P-21 table)
        # catalogue: the named systems and their lines (evidence.systems; default: the shipped one)
        # allow_failed: backtests score every fit, labelled with its gates; serving never sets it
        # trend_damping: None takes the model's (model_config["trend_damping"]; DemandModel fills in
        # the defaults, also for files stored before an option existed)
        if model.status != "ok" and not allow_failed:
            raise ForecastError(
                f"model status is {model.status!r}: a model that failed its gates is not served"
            )
        if not 1 <= max_horizon <= MAX_HORIZON:
            raise ForecastError(f"max_horizon must be between 1 and {MAX_HORIZON}")
        self.model = model
        self.max_horizon = max_horizon
        self._seed = seed
        self.arrival = arrival or ArrivalProfile.uniform()
        attrs = model.idata.attrs
        self.components = json.loads(attrs.get("components", "{}"))
        self.scales = json.loads(attrs.get("design_scales", "{}"))
        cd = model.coords
        self._cd = cd
        self.partners = np.asarray(cd["partner"].values).astype(str)
        self.families = np.asarray(cd["family"].values).astype(str)
        self.partner_region = np.asarray(cd["partner_region"].values).astype(str)
        self.family_category = np.asarray(cd["family_category"].values).astype(str)
        self.alliances = np.asarray(cd["alliance"].values).astype(str)
        self.years = np.arange(model.reference_year + 1, model.reference_year + 1 + max_horizon)
        # each partner's and family's position on the cubes' first two axes
        self.partner_index = {p: i for i, p in enumerate(self.partners)}
        self.family_index = {f: i for i, f in enumerate(self.families)}

        posterior = model.idata["posterior"].to_dataset()
        n = posterior.sizes["chain"] * posterior.sizes["draw"]
        self._take = np.linspace(0, n - 1, min(max_draws, n)).astype(int)
        # only the draws kept, in float64: all of them would be 2 GB on the real panel, held for nothing
        self._params = PosteriorDraws.from_posterior(posterior, self._take).params()
        damping = trend_damping if trend_damping is not None else model.config.trend_damping
        if not 0.0 <= float(damping) <= 1.0:
            raise ForecastError(f"trend_damping must be between 0 and 1, got {damping!r}")
        self.trend_damping = float(damping)
        self.dynamic_shocks = model.config.dynamic_shocks
        self.future_fleet_age = model.config.future_fleet_age
        rng = np.random.default_rng(seed)
        self._inputs = self._future_inputs(rng)
        # The AR(1) paths' fitted years were read for their last states, which the forecast years roll
        # on from; only those stay (on the default model the regional waves alone were 110 MB of draws).
        for name in ("wave", "partner_dynamic", "family_dynamic"):
            if name in self._params:
                self._params[name] = np.ascontiguousarray(self._params[name][..., -1:])
        self._decade = self._inputs["decade"]
        if "partner_dynamic" not in self._inputs:
            self._inputs["partner_dynamic"] = np.zeros((len(self._take), len(self.partners), max_horizon))
        self._dynamic = self._inputs["partner_dynamic"]

        s = len(self._take)
        tree = model.idata
        self.us_shares = USShares(tree[US_SHARE_GROUP], s, seed) if US_SHARE_GROUP in tree.children else None
        self._draw_cubes(rng)
        if model.config.demand_basis == "every_supplier":
            self._thin_to_us(rng, allow_failed)
        self._lock = threading.RLock()  # set_book changes the cubes while answers may read them
        self._prior_conversions: np.ndarray | None = None
        self._original: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._book = self._fitted_book = self._open_book()
        self.book_as_of = self.fitted_at = str(model.idata.attrs.get("fitted_at", ""))
        self._condition_on_book()
        self._domestic, self._plan_basis, self.plan_sigma = self._plans(plans, rng, len(self._take))
        self._capacity = self._capacities(capacities)
        self._summarise_cells()
        self.shares = SystemShares(tree[SHARES_GROUP], s) if SHARES_GROUP in tree.children else None
        self.channels = ChannelShares(tree[CHANNEL_GROUP], s) if CHANNEL_GROUP in tree.children else None
        self._allow_failed = allow_failed
        self.lines = lines if lines is not None else load_lines()
        self.catalogue = catalogue or load_catalogue()
        self._lors = _with_systems(lors, self.catalogue)
        self._lors_by_system = _by_system(self._lors)

    # -- building ---------------------------------------------------------------------------------
    def _future_inputs(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """What every term reads on the forecast years: damped decades, AR(1) states rolled on from
        the last fitted year, fleets carried forward, the text signal at its lags."""
        model = self.model
        self._future_context = terms.FutureContext(
            params=self._params,
            horizon=self.max_horizon,
            years=self.years,
            reference_year=model.reference_year,
            centre_year=model.centre_year,
            constant_data=self._cd,
            scales=self.scales,
            config=model.config,
            present=self.components,
            trend_damping=self.trend_damping,
            history=_fitted_counts(model),
        )
        return terms.future_inputs(self._future_context, rng)

    def _draw_cubes(self, rng: np.random.Generator) -> None:
        """Every cell's requests and units per forecast year and draw, in blocks of draws.

        (partner, family, year, sample): the sample axis last and contiguous, since every summary
        reduces over it; uint16 holds any plausible yearly count, uint32 any yearly unit total."""
        shape = (len(self.partners), len(self.families), self.max_horizon, len(self._take))
        self.cube = np.empty(shape, dtype=np.uint16)
        self.units = np.empty(shape, dtype=np.uint32)
        for start in range(0, shape[-1], _CHUNK):
            sl = slice(start, start + _CHUNK)
            counts, units = self._draw_block(rng, self._slice(sl), self._inputs_at(sl))
            self.cube[..., sl] = np.moveaxis(counts, 0, -1)
            self.units[..., sl] = np.moveaxis(units, 0, -1)

    def _thin_to_us(self, rng: np.random.Generator, allow_failed: bool) -> None:
        """A model fitted to every supplier's orders forecasts a partner's whole demand: each of its
        orders comes to the U.S. with that draw's P(U.S.) (bayes.us_share), so U.S. demand is
        Binomial(whole, P(U.S.)) draw by draw; a cell's units go with its orders, in proportion."""
        shares = self.us_shares
        if shares is None:
            raise ForecastError(
                "a model fitted to every supplier's orders needs its U.S. share model (group us_share)"
            )
        if shares.status != "ok" and not allow_failed:
            raise ForecastError("the U.S. share model failed its gates: U.S. demand cannot be split off")
        position = {p: i for i, p in enumerate(shares.partners)}
        family = {f: i for i, f in enumerate(shares.families)}
        pi = np.array([position[p] for p in self.partners])
        fi = np.array([family[f] for f in self.families])
        p_us = np.moveaxis(shares.probabilities(self.years, pi, fi), 0, -1)  # (P, F, Y, S)
        whole = self.cube
        us = us_demand(whole, p_us, rng)
        kept = np.divide(us, whole, out=np.zeros(us.shape), where=whole > 0)
        self.units = np.round(self.units * kept).astype(self.units.dtype)
        self.cube = us.astype(whole.dtype)

    def _summarise_cells(self) -> None:
        """What answers read off the cells, sorted and summed once here and per family again when its
        cells change (_refresh_family). The usual request covers every partner: its family totals and
        total demand are read off the "_all" draws; a subset of partners sums and sorts its own."""
        n_p, n_f, s = len(self.partners), len(self.families), len(self._take)
        cells, families = (n_p, n_f, self.max_horizon), (n_f, self.max_horizon, s)
        self._sorted, self._units_sorted = np.empty_like(self.cube), np.empty_like(self.units)
        self._mean, self._units_mean = np.empty(cells), np.empty(cells)
        self._p_any, self._p_any_within = np.empty(cells), np.empty(cells)  # within: by each year
        self._all_family, self._all_family_sorted = (
            np.empty(families, np.uint32),
            np.empty(families, np.uint32),
        )
        self._all_family_units = np.empty(families, np.uint64)
        self._all_family_units_sorted = np.empty(families, np.uint64)
        self._all_total, self._all_total_sorted = np.empty(families), np.empty(families)
        self._splits: dict[str, FamilySplit] = {}
        for f in range(n_f):
            self._refresh_family(f)

    def _slice(self, sl: slice | np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[sl] for k, v in self._params.items()}

    def _inputs_at(self, sl: slice) -> dict[str, np.ndarray]:
        """The forecast years' inputs for the draws ``sl``: per-draw ones sliced, shared ones as they are."""
        return {k: v[sl] if k in terms.PER_DRAW_INPUTS else v for k, v in self._inputs.items()}

    def _roll_dynamic(
        self, rng: np.random.Generator, last: np.ndarray, start_var: float = 0.0, kind: str = "dynamic"
    ) -> np.ndarray:
        """(S, P, H): each partner's AR(1) state carried forward from ``last`` (or, with ``start_var``,
        from a start drawn with that variance in units of the stationary one); with
        ``kind="family_dynamic"``, (S, F, H) for the families' states. See :func:`bayes.terms.ar1.roll`."""
        mean_one = self.dynamic_shocks == "mean_one"
        return ar1.roll_on(self._params, kind, rng, last, self.max_horizon, mean_one, start_var)

    def _stationary_start(self, rng: np.random.Generator, kind: str, shape: tuple[int, int]) -> np.ndarray:
        """AR(1) states (S, n) drawn from the stationary law of ``rho_<kind>``, ``sigma_<kind>``."""
        if f"rho_{kind}" not in self._params:
            return np.zeros(shape)
        return ar1.stationary_start(rng, self._params[f"rho_{kind}"], self._params[f"sigma_{kind}"], shape)

    def _draw_block(
        self,
        rng: np.random.Generator,
        params: dict[str, np.ndarray],
        inputs: dict[str, np.ndarray],
        units_partner: np.ndarray | None = None,
        units_family: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Counts and units (S, P, F, H) for the effects in ``params`` (sample axis first)."""
        log_mu = terms.log_rate(params, inputs)
        pi = params["zero_inflation"][:, None, None, None] if "zero_inflation" in params else None
        counts = terms.draw(rng, log_mu, params, inputs, params["dispersion"][:, None, None, None], pi)
        counts = np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16)
        up = params["units_partner"] if units_partner is None else units_partner
        uf = params["units_family"] if units_family is None else units_family
        log_units = params["units_intercept"][:, None, None] + up[:, :, None] + uf[:, None, :]
        return counts, draw_units(rng, counts, log_units, params["units_sigma"])

    def _open_book(self) -> dict[str, np.ndarray]:
        """Firm and pending requests of the fitted panel: per request, its units and whether it
        converts, per draw."""
        cd = self._cd
        return self._book_of(
            cd["open_lor"].values.astype(str),
            cd["open_partner"].values.astype(str),
            cd["open_family"].values.astype(str),
            cd["open_year"].values.astype(int),
            cd["open_status"].values.astype(str),
            cd["open_quantity"].values.astype(float),
        )

    def _book_of(
        self,
        ids: np.ndarray,
        partners: np.ndarray,
        families: np.ndarray,
        years: np.ndarray,
        statuses: np.ndarray,
        quantities: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """The book's requests in the forecast years, each with its units and whether it converts, per
        draw: firm ones always, pending ones with their family's conversion probability. Each request's
        draws are seeded by its id, so a request keeps them whatever else joins or leaves the book."""
        s = len(self._take)
        partner = np.array([self.partner_index.get(p, -1) for p in partners], dtype=int)
        family = np.array([self.family_index.get(f, -1) for f in families], dtype=int)
        year = np.asarray(years, dtype=int) - self.years[0]
        keep = (partner >= 0) & (family >= 0) & (year >= 0) & (year < self.max_horizon)
        ids, partner, family, year = np.asarray(ids)[keep], partner[keep], family[keep], year[keep]
        pending = np.asarray(statuses)[keep] == "pending"
        quantity = np.asarray(quantities, dtype=float)[keep]
        p = self._params
        conversion = self._conversion() if pending.any() else None
        units = np.empty((len(ids), s))
        converts = np.ones((len(ids), s), dtype=bool)
        for i, lor in enumerate(ids):
            rng = np.random.default_rng([self._seed, zlib.crc32(str(lor).encode())])
            if np.isfinite(quantity[i]):
                units[i] = quantity[i]
            else:  # no stated quantity: one from the units model, draw by draw
                log_mean = (
                    p["units_intercept"] + p["units_partner"][:, partner[i]] + p["units_family"][:, family[i]]
                )
                units[i] = np.maximum(
                    1.0, np.round(np.exp(log_mean + p["units_sigma"] * rng.standard_normal(s)))
                )
            if pending[i]:
                converts[i] = rng.random(s) < conversion[:, family[i]]
        return {
            "partner": partner,
            "family": family,
            "year": year,
            "pending": pending,
            "units": units,
            "converts": converts,
        }

    @staticmethod
    def _known(book: dict[str, np.ndarray]) -> dict[tuple[int, int, int], np.ndarray]:
        """Per (partner, family, year) cell, the book's requests in it per draw (firm ones, and pending
        ones that convert in that draw)."""
        known: dict[tuple[int, int, int], np.ndarray] = {}
        for i in range(len(book["partner"])):
            cell = (int(book["partner"][i]), int(book["family"][i]), int(book["year"][i]))
            known[cell] = known.get(cell, 0) + book["converts"][i].astype(np.int64)
        return known

    def _conditioned(
        self, cell: tuple[int, int, int], m: np.ndarray, n: np.ndarray, u: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One cell's new-LOR counts and units given ``m`` known requests (bayes.scenario.condition_cell),
        from its unconditioned draws ``n`` and ``u``. Seeded by the cell, so a cell conditioned on the
        same book gives the same draws whatever else is on the book (what "why did this move" relies on)."""
        rng = np.random.default_rng([self._seed, zlib.crc32("book|{}|{}|{}".format(*cell).encode())])
        source, extra, share = condition_cell(n.astype(np.int64), m, rng)
        units = np.round(np.where(source >= 0, u.astype(float)[np.maximum(source, 0)], 0.0) * share)
        return extra, units

    def _condition_on_book(self) -> set[int]:
        """Forecast new LORs of each cell given the requests already on its book, so none is counted
        twice: in a draw where the book holds m requests of a cell (firm ones, and pending ones that
        convert in that draw), the cell's new LORs are the draws of N given N >= m, less m. A draw with
        N < m takes the count and units of a draw with N >= m, chosen at random (each such draw equally
        likely: the conditional distribution); the remaining requests keep their share of its units.
        Cells conditioned before are restored first. Returns the families whose cells changed."""
        touched = {f for _, f, _ in self._original}
        for (p, f, k), (counts, units) in self._original.items():
            self.cube[p, f, k], self.units[p, f, k] = counts, units
        self._original = {}
        for (p, f, k), m in self._known(self._book).items():
            self._original[(p, f, k)] = (self.cube[p, f, k].copy(), self.units[p, f, k].copy())
            self.cube[p, f, k], self.units[p, f, k] = self._conditioned(
                (p, f, k), m, *self._original[(p, f, k)]
            )
            touched.add(f)
        return touched

    def _family_under(self, fi: int, book: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(P, H, S) copies of family ``fi``'s new-LOR counts and units as they would be served with
        ``book`` instead of the current one: unconditioned, then conditioned on that book's cells."""
        counts, units = self.cube[:, fi].copy(), self.units[:, fi].copy()
        for (p, f, k), (c, u) in self._original.items():
            if f == fi:
                counts[p, k], units[p, k] = c, u
        for (p, f, k), m in self._known(book).items():
            if f == fi:
                counts[p, k], units[p, k] = self._conditioned((p, f, k), m, counts[p, k], units[p, k])
        return counts, units

    def _refresh_family(self, f: int) -> None:
        """The summaries read off family ``f``'s cells, recomputed after its cells changed."""
        cube, units = self.cube[:, f], self.units[:, f]
        self._sorted[:, f] = np.sort(cube, axis=-1, kind="stable")
        self._units_sorted[:, f] = np.sort(units, axis=-1, kind="stable")
        self._mean[:, f] = cube.mean(axis=-1)
        self._units_mean[:, f] = units.mean(axis=-1)
        self._p_any[:, f] = (cube > 0).mean(axis=-1)
        self._p_any_within[:, f] = (np.maximum.accumulate(cube, axis=1) > 0).mean(axis=-1)
        self._all_family[f] = cube.sum(axis=0, dtype=np.uint32)
        self._all_family_units[f] = units.sum(axis=0, dtype=np.uint64)
        self._all_family_sorted[f] = np.sort(self._all_family[f], axis=-1)
        self._all_family_units_sorted[f] = np.sort(self._all_family_units[f], axis=-1)
        every = np.arange(len(self.partners))
        parts = self._total_parts(every, np.array([f]), 0, self.max_horizon)
        self._all_total[f] = self._total(parts, self._all_family_units[[f]])[0]
        self._all_total_sorted[f] = np.sort(self._all_total[f], axis=-1)
        self._splits.pop(str(self.families[f]), None)

    def set_book(self, lors: pd.DataFrame, as_of: str) -> int:
        """Serve answers with this book of requests (the LOR table as stored now) instead of the one the
        model was fitted with, without a refit: firm requests in the forecast years count as known
        demand, pending ones with their conversion probability, withdrawn ones not at all, and the
        forecast of new LORs of each cell is conditioned on them (:meth:`_condition_on_book`). Line
        loads read the same table. Returns the number of requests now on the book."""
        frame = lors[lors["status"].astype(str).isin(["firm", "pending"])]
        year = pd.to_datetime(frame["received"]).dt.year.to_numpy(dtype=int)
        first = int(self.years[0])
        pending = frame["status"].astype(str).to_numpy() == "pending"
        # Demand counts in the year a request is received; older pending ones count in the first year.
        year = np.where(pending & (year < first), first, year)
        quantity = pd.to_numeric(frame["quantity"], errors="coerce").to_numpy(dtype=float)
        quantity[quantity <= 0] = np.nan
        book = self._book_of(
            frame["id"].astype(str).to_numpy(),
            frame["partner"].astype(str).to_numpy(),
            frame["family"].astype(str).to_numpy(),
            year,
            frame["status"].astype(str).to_numpy(),
            quantity,
        )
        with self._lock:
            self._book = book
            self._lors = _with_systems(lors, self.catalogue)
            self._lors_by_system = _by_system(self._lors)
            for f in self._condition_on_book():
                self._refresh_family(f)
            self.book_as_of = as_of
        return len(book["partner"])

    def _prior_conversion(self, rng: np.random.Generator, s: int) -> np.ndarray:
        """(S, F) conversion probabilities from the priors, for a fit with no withdrawn requests."""
        priors = self.model.priors
        mean = priors["conversion_mean"].draw(rng, s)
        kappa = priors["conversion_concentration"].draw(rng, s)
        return rng.beta((mean * kappa)[:, None], ((1 - mean) * kappa)[:, None], (s, len(self.families)))

    def _plans(
        self, plans: pd.DataFrame | None, rng: np.random.Generator, s: int
    ) -> tuple[np.ndarray, np.ndarray, float | None]:
        """(F, H, S) domestic quantities per draw, (F, H) their basis (an index into PLAN_BASES), and
        the yearly s.d. of the carried plans (None: no plans).

        A year with a budgeted plan takes it. After a family's last budgeted year, its plan is carried
        forward (module docstring: PLAN_RULE), so a year past the budget window is never silently 0. A
        family with no budgeted plan at all has none (counted as 0, and marked so)."""
        domestic = np.zeros((len(self.families), self.max_horizon, s))
        basis = np.zeros((len(self.families), self.max_horizon), dtype=np.int8)
        budgeted = budgeted_plans(plans)
        if budgeted.empty:
            return domestic, basis, None
        sigma = plan_sigma(budgeted)
        first = int(self.years[0])
        for family, series in budgeted.groupby(level="family"):
            fi = self.family_index.get(str(family))
            if fi is None:
                continue
            series = series.droplevel("family").sort_index()
            last = int(series.index.max())
            level = float(series.tail(PLAN_CARRY_YEARS).mean())
            walk, steps = np.zeros(s), 0
            for k in range(self.max_horizon):
                year = first + k
                if year in series.index:
                    domestic[fi, k] = float(series[year])
                    basis[fi, k] = PLAN_BASES.index("budget")
                elif year > last:
                    new = year - last - steps  # a mean-one log random walk from the last budgeted year
                    walk += sigma * np.sqrt(new) * rng.standard_normal(s) - sigma**2 * new / 2
                    steps += new
                    domestic[fi, k] = level * np.exp(walk)
                    basis[fi, k] = PLAN_BASES.index("carried")
        return domestic, basis, sigma

    def _capacities(self, capacities: pd.DataFrame | None) -> np.ndarray:
        out = np.full((len(self.families), 2), np.nan)
        if capacities is not None and len(capacities):
            for row in capacities.itertuples(index=False):
                fi = self.family_index.get(str(row.family))
                if fi is not None:
                    out[fi] = (float(row.min_sustaining_rate), float(row.max_rate))
        return out

    # -- new partners and families -----------------------------------------------------------------
    def _group_draw(
        self,
        rng: np.random.Generator,
        level: np.ndarray,
        mean: np.ndarray,
        group: np.ndarray,
        target: str | None,
        sigma_within: np.ndarray,
        sigma_group: np.ndarray,
        known_groups: np.ndarray,
    ) -> np.ndarray:
        """A new member's level per draw: its group's effect from that effect's conditional given the
        members' levels (or a new group's, from the population), plus its own deviation. The
        zero-sum constraint on the members couples groups a little; with several groups that
        coupling is negligible and left out."""
        s = level.shape[0]
        members = group == target if target is not None else np.zeros(len(group), dtype=bool)
        if target is not None and target in known_groups and members.any():
            n = members.sum()
            resid = (level - mean)[:, members].sum(axis=1)
            precision = 1.0 / sigma_group**2 + n / sigma_within**2
            u = rng.normal((resid / sigma_within**2) / precision, 1.0 / np.sqrt(precision))
        else:
            u = rng.normal(0.0, sigma_group, s)
        return u + rng.normal(0.0, sigma_within, s)

    def _new_partner_levels(self, rng: np.random.Generator, new: list[NewPartner]) -> np.ndarray:
        p = self._params
        level = p["partner_effect"]
        beta = p.get("alliance_effect")
        alliance_mean = np.asarray(self.scales.get("alliance_mean", []), dtype=float)
        membership = self._cd["partner_alliance"].values.astype(float)
        mean = ((membership - alliance_mean) @ beta.T).T if beta is not None else np.zeros_like(level)
        out = np.empty((level.shape[0], len(new)))
        for j, partner in enumerate(new):
            own = np.array([a in partner.alliances for a in self.alliances], dtype=float)
            shift = (own - alliance_mean) @ beta.T if beta is not None else 0.0
            out[:, j] = shift + self._group_draw(
                rng,
                level,
                mean,
                self.partner_region,
                partner.region,
                p["sigma_partner"],
                p["sigma_region"],
                self.partner_region,
            )
        return out

    def _new_family_levels(self, rng: np.random.Generator, new: list[NewFamily]) -> np.ndarray:
        p = self._params
        level = p["family_effect"]
        out = np.empty((level.shape[0], len(new)))
        for j, family in enumerate(new):
            out[:, j] = self._group_draw(
                rng,
                level,
                np.zeros_like(level),
                self.family_category,
                family.category,
                p["sigma_family"],
                p["sigma_category"],
                self.family_category,
            )
        return out

    def _with_new(
        self,
        counts: np.ndarray,
        units: np.ndarray,
        pi: np.ndarray,
        fi: np.ndarray,
        new_partners: list[NewPartner],
        new_families: list[NewFamily],
        horizon: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Append partners and families never seen, drawn from the hierarchy per posterior draw.

        A new partner's level comes from its region's effect (conditional on that region's
        partners) or a new region's, shifted by its alliances, plus its own deviation; a new family's
        from its category likewise, with a trend N(trend_mean, sigma_trend); every cell they touch
        gets an interaction N(0, sigma_pf); a new partner's AR(1) state starts from the stationary
        distribution; unknown fleets and text signals are masked (the average), as in the fit.
        Draws are seeded by the labels, so the same request gives the same answer.
        """
        p = self._params
        s = len(self._take)
        rng = np.random.default_rng(
            [
                self._seed,
                zlib.crc32(repr(new_partners).encode()),
                zlib.crc32(repr(new_families).encode()),
            ]
        )
        nf, np_ = len(new_families), len(new_partners)
        fam_effect = np.concatenate(
            [p["family_effect"][:, fi], self._new_family_levels(rng, new_families)], axis=1
        )
        trend = np.concatenate(
            [
                p["family_trend"][:, fi],
                rng.normal(p["trend_mean"][:, None], p["sigma_trend"][:, None], (s, nf))
                if "trend_mean" in p
                else np.zeros((s, nf)),
            ],
            axis=1,
        )
        units_family = np.concatenate(
            [p["units_family"][:, fi], rng.normal(0.0, p["sigma_units_family"][:, None], (s, nf))], axis=1
        )
        future_paths = self._inputs.get("family_dynamic")
        if future_paths is not None:
            # A new family's state, like a new partner's, starts from the stationary law.
            start = self._stationary_start(rng, "family_dynamic", (s, nf))
            family_dynamic = np.concatenate(
                [future_paths[:, fi], self._roll_dynamic(rng, start, 1.0, "family_dynamic")], axis=1
            )
        sd_pf = p["sigma_partner_family"][:, None, None]

        def block(partner_effect, family_effect, pf, fam_trend, dynamic, up, uf):
            params = {
                **p,
                "partner_effect": partner_effect,
                "family_effect": family_effect,
                "partner_family_effect": pf,
                "family_trend": fam_trend,
            }
            # unknown fleets and text signals are left out: masked, the average, as in the fit
            inputs = {"decade": self._decade, "partner_dynamic": dynamic}
            if future_paths is not None:
                inputs["family_dynamic"] = family_dynamic[:, -family_effect.shape[1] :]
            c, u = self._draw_block(rng, params, inputs, up, uf)
            return np.moveaxis(c[..., :horizon], 0, -1), np.moveaxis(u[..., :horizon], 0, -1)

        if nf:
            c, u = block(
                p["partner_effect"][:, pi],
                fam_effect[:, len(fi) :],
                rng.normal(0.0, sd_pf, (s, len(pi), nf)),
                trend[:, len(fi) :],
                self._dynamic[:, pi],
                p["units_partner"][:, pi],
                units_family[:, len(fi) :],
            )
            counts = np.concatenate([counts, c], axis=1)
            units = np.concatenate([units, u], axis=1)
        if np_:
            start = self._stationary_start(rng, "dynamic", (s, np_))
            c, u = block(
                self._new_partner_levels(rng, new_partners),
                fam_effect,
                rng.normal(0.0, sd_pf, (s, np_, fam_effect.shape[1])),
                trend,
                self._roll_dynamic(rng, start, start_var=1.0),  # a start from the stationary law
                rng.normal(0.0, p["sigma_units_partner"][:, None], (s, np_)),
                units_family,
            )
            counts = np.concatenate([counts, c], axis=0)
            units = np.concatenate([units, u], axis=0)
        return counts, units

    # -- requests ----------------------------------------------------------------------------------
    def _select(self, values: Sequence[str] | None, index: dict[str, int], field: str) -> np.ndarray:
        if values is None:
            return np.arange(len(index))
        if not len(values):  # never "no filter": an empty selection once showed a scoped key everything
            raise ForecastError(f"{field}: an empty list selects nothing; leave it out to mean all")
        unknown = [v for v in values if v not in index]
        if unknown:
            raise ForecastError(f"{field}: unknown id(s) {unknown[:10]}; see the known values")
        return np.array([index[v] for v in dict.fromkeys(values)])

    def _check(self, horizon: int, levels: Sequence[float]) -> tuple[float, ...]:
        if not 1 <= horizon <= self.max_horizon:
            raise ForecastError(f"horizon: {horizon} is outside 1..{self.max_horizon}")
        levels = tuple(float(lv) for lv in levels)
        if not levels or any(not 0 < lv < 1 for lv in levels):
            raise ForecastError(
                f"levels: each credible level must be strictly between 0 and 1, got {list(levels)}"
            )
        return levels

    def partner_alliances(self) -> list[tuple[str, ...]]:
        """Each fitted partner's alliance memberships, in partner order: the alliances the model reads
        (those with enough members to be a predictor; NATO and the EU on the real panel)."""
        membership = np.asarray(self._cd["partner_alliance"].values, dtype=bool)
        return [tuple(self.alliances[row]) for row in membership]

    def select_partners(
        self, partners: Sequence[str] | None, regions: Sequence[str] | None = None
    ) -> np.ndarray:
        pi = self._select(partners, self.partner_index, "partners")
        if regions is not None:
            known = set(self.partner_region)
            unknown = [r for r in regions if r not in known]
            if unknown:
                raise ForecastError(f"regions: unknown region(s) {unknown}; known: {sorted(known)}")
            pi = pi[np.isin(self.partner_region[pi], list(regions))]
            if not pi.size:
                raise ForecastError("regions: no selected partner is in the requested regions")
        return pi

    def _new_entities(
        self, new_partners: Sequence[str | NewPartner], new_families: Sequence[str | NewFamily]
    ) -> tuple[list[NewPartner], list[NewFamily]]:
        partners = [x if isinstance(x, NewPartner) else NewPartner(str(x)) for x in new_partners]
        families = [x if isinstance(x, NewFamily) else NewFamily(str(x)) for x in new_families]
        partners = list({x.id: x for x in partners}.values())
        families = list({x.id: x for x in families}.values())
        for field, items, known in (
            ("new_partners", partners, self.partner_index),
            ("new_families", families, self.family_index),
        ):
            clash = [x.id for x in items if x.id in known]
            if clash:
                raise ForecastError(f"{field}: {clash} are known ids; a new one needs a label of its own")
        unknown_alliances = sorted({a for x in partners for a in x.alliances} - set(self.alliances))
        if unknown_alliances:
            raise ForecastError(
                f"new_partners: unknown alliance(s) {unknown_alliances}; known: {list(self.alliances)}"
            )
        return partners, families

    @_locked
    def forecast(
        self,
        horizon: int = 3,
        levels: Sequence[float] = DEFAULT_LEVELS,
        partners: Sequence[str] | None = None,
        families: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        new_partners: Sequence[str | NewPartner] = (),
        new_families: Sequence[str | NewFamily] = (),
    ) -> Forecast:
        """Summaries for the selected cells, their totals and total demand with line risk."""
        levels = self._check(horizon, levels)
        pi = self.select_partners(partners, regions)
        fi = self._select(families, self.family_index, "families")
        new_p, new_f = self._new_entities(new_partners, new_families)
        everyone = len(pi) == len(self.partners) and len(fi) == len(self.families)
        whole = (pi, fi) if not everyone else (slice(None), slice(None))
        ix = np.ix_(pi, fi) if not everyone else whole

        def cut(cube: np.ndarray) -> np.ndarray:  # the years asked for, sliced first: only they are copied
            return cube[:, :, :horizon][ix]

        counts, units = cut(self.cube), cut(self.units)
        years = self.years[:horizon]
        p_ids = np.array([*self.partners[pi], *(x.id for x in new_p)], dtype=str)
        f_ids = np.array([*self.families[fi], *(x.id for x in new_f)], dtype=str)
        cell_dims = ("partner", "family", "year")
        cell_coords = {
            "partner": p_ids,
            "family": f_ids,
            "year": years,
            "partner_region": ("partner", [*self.partner_region[pi], *(x.region or NEW for x in new_p)]),
            "family_category": ("family", [*self.family_category[fi], *(x.category or NEW for x in new_f)]),
        }
        cached = None  # family totals' draws already sorted, when every partner is selected
        if new_p or new_f:
            counts, units = self._with_new(counts, units, pi, fi, new_p, new_f, horizon)
            cells = _summarise_totals(counts, units, levels, cell_dims, cell_coords)
            within = (counts.max(axis=2) > 0).mean(axis=-1)
            cells.data["p_any_within_horizon"] = (("partner", "family"), within)
            family_counts = counts.sum(axis=0, dtype=np.uint32)
            family_units = units.sum(axis=0, dtype=np.uint64)
        else:
            # Known cells: read off the cubes sorted at start-up, taking just the quantiles' positions
            # before anything is copied (a region's draws would be tens of megabytes).
            at = _quantile_positions(levels, self.cube.shape[-1])

            def picked(ordered: np.ndarray) -> np.ndarray:
                if everyone:
                    return ordered[:, :, :horizon, at]
                return ordered[np.ix_(pi, fi, np.arange(horizon), at)]

            cells = Summary(
                {
                    **_summary_at(picked(self._sorted), cut(self._mean), cell_dims),
                    **_summary_at(picked(self._units_sorted), cut(self._units_mean), cell_dims, "units_"),
                    "p_any": (cell_dims, cut(self._p_any)),
                    "p_any_within_horizon": (
                        ("partner", "family"),
                        self._p_any_within[:, :, horizon - 1][ix],
                    ),
                },
                {**cell_coords, "level": list(levels)},
                {"p_any": P_ANY},
            )
            if len(pi) == len(self.partners):
                family_counts = self._all_family[fi][:, :horizon]
                family_units = self._all_family_units[fi][:, :horizon]
                cached = (
                    self._all_family_sorted[fi][:, :horizon],
                    self._all_family_units_sorted[fi][:, :horizon],
                )
            else:
                family_counts = counts.sum(axis=0, dtype=np.uint32)
                family_units = units.sum(axis=0, dtype=np.uint64)
        cells.descriptions["p_any_within_horizon"] = P_ANY_WITHIN
        family_coords = {"family": f_ids, "year": years, "family_category": cell_coords["family_category"]}
        family_totals = _summarise_totals(
            family_counts, family_units, levels, ("family", "year"), family_coords, cached
        )
        year_totals = _summarise_totals(
            family_counts.sum(axis=0), family_units.sum(axis=0), levels, ("year",), {"year": years}
        )
        totals, total_demand = self._total_demand(
            pi, fi, len(new_f), family_units, levels, years, family_coords, cached is not None
        )
        summaries = {
            "cells": cells,
            "family_totals": family_totals,
            "year_totals": year_totals,
            "total_demand": total_demand,
        }
        return Forecast(summaries, levels, counts, units, totals)

    def _book_units(self, pi: np.ndarray, fi: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Units of firm requests and of converted pending ones, per draw (F', H, S), for the selected
        partners; a request without a stated quantity has one drawn from the units model."""
        b = self._book
        f_pos = {int(f): k for k, f in enumerate(fi)}
        firm = np.zeros((len(fi), horizon, len(self._take)))
        pending = np.zeros_like(firm)
        chosen = np.isin(b["partner"], pi) & np.isin(b["family"], fi) & (b["year"] < horizon)
        for i in np.flatnonzero(chosen):
            k, y = f_pos[int(b["family"][i])], int(b["year"][i])
            if b["pending"][i]:
                pending[k, y] += b["units"][i] * b["converts"][i]
            else:
                firm[k, y] += b["units"][i]
        return firm, pending

    def _total_parts(
        self, pi: np.ndarray, fi: np.ndarray, n_new_families: int, horizon: int
    ) -> dict[str, np.ndarray]:
        """Domestic plan, firm and converted pending units per draw (F', H, S), for the selected
        partners and families (new families last)."""
        firm, pending = self._book_units(pi, fi, horizon)
        pad = ((0, n_new_families), (0, 0))
        domestic = np.pad(self._domestic[fi, :horizon], (*pad, (0, 0)))
        firm = np.pad(firm, (*pad, (0, 0)))
        pending = np.pad(pending, (*pad, (0, 0)))
        return {
            "domestic": domestic,
            "plan_basis": np.pad(self._plan_basis[fi, :horizon], pad),
            "firm": firm,
            "pending": pending,
        }

    @staticmethod
    def _total(parts: dict[str, np.ndarray], family_units: np.ndarray) -> np.ndarray:
        """Total demand in units per draw: domestic + firm + converted pending + new LORs."""
        return parts["domestic"] + parts["firm"] + parts["pending"] + family_units.astype(float)

    def _total_demand(
        self,
        pi: np.ndarray,
        fi: np.ndarray,
        n_new_families: int,
        family_units: np.ndarray,
        levels: tuple[float, ...],
        years: np.ndarray,
        coords: dict,
        every_partner: bool = False,
    ) -> tuple[np.ndarray, Summary]:
        horizon = len(years)
        parts = self._total_parts(pi, fi, n_new_families, horizon)
        if every_partner and not n_new_families:
            total = self._all_total[fi][:, :horizon]
            ordered = self._all_total_sorted[fi][:, :horizon]
        else:
            total = self._total(parts, family_units)
            ordered = np.sort(total, axis=-1)
        capacity = np.pad(self._capacity[fi], ((0, n_new_families), (0, 0)), constant_values=np.nan)
        low = capacity[:, 0][:, None, None]
        high = capacity[:, 1][:, None, None]
        defined = np.isfinite(capacity[:, :1])
        planned = parts["plan_basis"] > 0
        dims = ("family", "year")
        summary = Summary(
            {
                "domestic": (dims, np.where(planned, parts["domestic"].mean(axis=-1), np.nan)),
                "domestic_basis": (dims, np.asarray(PLAN_BASES)[parts["plan_basis"]]),
                "firm": (dims, parts["firm"].mean(axis=-1)),
                "pending_expected": (dims, parts["pending"].mean(axis=-1)),
                "new_lors_expected": (dims, family_units.mean(axis=-1)),
                **_summary_vars(ordered, total.mean(axis=-1), levels, dims),
                "min_sustaining_rate": (dims, np.repeat(capacity[:, :1], horizon, axis=1)),
                "max_rate": (dims, np.repeat(capacity[:, 1:], horizon, axis=1)),
                "p_below_min": (dims, np.where(defined, (total < low).mean(axis=-1), np.nan)),
                "p_above_max": (dims, np.where(defined, (total > high).mean(axis=-1), np.nan)),
            },
            {**coords, "level": list(levels)},
            {
                "domestic": "expected domestic plan quantity (NaN: no plan known; counted as 0)",
                "domestic_basis": PLAN_RULE.format(sigma=self.plan_sigma or 0.0),
                "p_below_min": "P(total demand < the line's minimum sustaining rate)",
                "p_above_max": "P(total demand > the line's maximum rate)",
            },
        )
        return total, summary

    def reweighted_to(self, priors: PriorSet) -> Reweighting:
        """Weights on this forecaster's draws for the posterior under ``priors`` instead of the model's
        own, same data (bayes.prior_weights); pass them to :meth:`question` as ``weights``."""
        return reweighting(self._params, self.model.priors, priors)

    def signal_effect(self, partners: Sequence[str], family: str) -> np.ndarray | None:
        """(P', H) the factor the text signal puts on each partner's expected requests of ``family`` per
        forecast year (the posterior mean of exp(its term on the log rate), relative to an average
        covered cell); None for a model without the text-signal term."""
        lags = self._inputs.get("nlp_lags")
        if "nlp_lag" not in self._params or lags is None:
            return None
        pi, fi = self.select_partners(partners), self.family_index[family]
        term = np.einsum("sl,lph->sph", self._params["nlp_lag"], lags[:, pi, fi, :])
        return np.exp(term).mean(axis=0)

    # -- suppliers ------------------------------------------------------------------------------------
    def supplier_outlook(
        self,
        partners: Sequence[str],
        families: Sequence[str],
        horizon: int,
        levels: Sequence[float] = (0.8,),
        top: int = 3,
    ) -> list[dict]:
        """Per partner × family: P(the next order goes to the U.S.), the expected U.S. share per year and
        its trend, and the competing suppliers from history (:mod:`bayes.supplier_outlook`)."""
        from bayes.supplier_outlook import supplier_outlook

        shares = self._served_side(self.us_shares, "U.S. share", "orders from other suppliers")
        levels = self._check(horizon, levels)
        try:
            return supplier_outlook(shares, partners, families, horizon, levels, top)
        except ShareError as exc:
            raise ForecastError(str(exc)) from None

    def channel_outlook(
        self, partners: Sequence[str], horizon: int, levels: Sequence[float] = (0.8,)
    ) -> list[dict]:
        """Per partner: P(its U.S. orders use FMS rather than DCS) in each forecast year
        (:func:`bayes.supplier_outlook.channel_outlook`)."""
        from bayes.supplier_outlook import channel_outlook

        channels = self._served_side(self.channels, "channel", "FMS and DCS figures")
        levels = self._check(horizon, levels)
        try:
            return channel_outlook(channels, partners, self.years[:horizon], levels)
        except ShareError as exc:
            raise ForecastError(str(exc)) from None

    def _served_side(self, side, label: str, missing: str):
        """A side model the file holds and whose gates passed, or a ForecastError saying why not."""
        if side is None:
            raise ForecastError(
                f"suppliers: this model file has no {label} model (its dataset had no {missing}); "
                "refit it on a dataset with them to answer this"
            )
        if side.status != "ok" and not self._allow_failed:
            failures = "; ".join(side.diagnostics.get("failures", []))
            raise ForecastError(
                f"suppliers: the {label} model failed its gates ({failures}), so it is not served"
            )
        return side

    # -- named systems ------------------------------------------------------------------------------
    def _require_shares(self) -> SystemShares:
        if self.shares is None:
            raise ForecastError(
                "system: this model file has no system-share model (fitted before systems existed); "
                "refit it to answer per system"
            )
        if self.shares.status != "ok" and not self._allow_failed:
            failures = "; ".join(self.shares.diagnostics.get("failures", []))
            raise ForecastError(
                f"system: the system-share model failed its gates ({failures}), so it is not served"
            )
        return self.shares

    def family_of_system(self, system: str) -> str:
        shares = self._require_shares()
        family = shares.system_family.get(system)
        if family is None or family not in self.family_index:
            raise ForecastError(f"system: unknown system {system!r}; GET /v1/systems lists them")
        return family

    @_locked
    def split(self, family: str) -> FamilySplit:
        """The family's draws split over its systems (cached: a split costs ~10-100 ms, once)."""
        shares = self._require_shares()
        fi = self.family_index[family]
        if family not in self._splits:
            cube, units = self.cube[:, fi], self.units[:, fi]
            self._splits[family] = split_family(
                shares, family, cube, units, self.partner_region, self.years, self._seed
            )
        return self._splits[family]

    def _request_draws(self, family: str, system: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(P, H, S) request counts and units: the family's, or one of its systems'."""
        if system is None:
            fi = self.family_index[family]
            return self.cube[:, fi], self.units[:, fi]
        return self.split(family).dense(system)

    @_locked
    def system_forecast(
        self,
        family: str,
        horizon: int = 3,
        levels: Sequence[float] = DEFAULT_LEVELS,
        partners: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
    ) -> xr.Dataset:
        """Per system of ``family`` and year: requests and units of the selected partners, summed draw
        by draw (so the systems add up to the family in every draw), P(at least one request), and each
        system's basis (history, or the stated prior share of a system with no requests yet)."""
        levels = self._check(horizon, levels)
        self._select([family], self.family_index, "family")
        pi = self.select_partners(partners, regions)
        split = self.split(family)
        chosen = np.isin(split.partner, pi) & (split.year < horizon)
        s = self.cube.shape[-1]
        flat = split.year[chosen] * s + split.draw[chosen]
        k = len(split.systems)
        counts = np.stack(
            [np.bincount(flat, split.counts[chosen, j], minlength=horizon * s) for j in range(k)]
        ).reshape(k, horizon, s)
        units = np.stack(
            [np.bincount(flat, split.units[chosen, j], minlength=horizon * s) for j in range(k)]
        ).reshape(k, horizon, s)
        coords = {"system": list(split.systems), "year": self.years[:horizon]}
        ds = _summarise_totals(counts, units, levels, ("system", "year"), coords).dataset
        basis = self._require_shares().basis(family)
        ds["basis"] = ("system", [basis[x] for x in split.systems])
        ds.attrs.update(
            {
                "family": family,
                "partners": list(map(str, self.partners[pi])),
                "units_split": "a cell's units split in proportion to its requests per system",
            }
        )
        return ds

    def line_systems(self, line: str) -> list[tuple[str, str]]:
        """(system, family) of the named systems the line builds, in the model's families."""
        if line not in self.lines.index:
            raise ForecastError(f"line: unknown production line {line!r}; GET /v1/lines lists them")
        built = self.catalogue.systems
        return [(x.id, x.family) for x in built if x.line == line and x.family in self.family_index]

    def _conversion(self) -> np.ndarray:
        """(S, F) each family's probability that a pending request converts, per draw: the posterior's,
        or the priors' for a fit with no withdrawn requests (seeded, so every answer reads the same)."""
        if "conversion" in self._params:
            return self._params["conversion"]
        if self._prior_conversions is None:  # drawn once: every answer reads the same draws
            rng = np.random.default_rng([self._seed, zlib.crc32(b"conversion")])
            self._prior_conversions = self._prior_conversion(rng, len(self._take))
        return self._prior_conversions

    def _staying(self, pi: np.ndarray, scenario: Scenario) -> np.ndarray:
        return pi[~np.isin(self.partners[pi], list(scenario.leaving))] if scenario.leaving else pi

    def _line_plan(self, line: str | None, scenario: Scenario) -> tuple[np.ndarray, str]:
        """(Y, S) the line's DoD quantity per forecast year (carried past its budget year; scaled by the
        scenario's plan cut) and its basis."""
        years, s = self.years, len(self._take)
        row = self.lines.loc[line] if line is not None and line in self.lines.index else None
        if row is None:
            return np.zeros(
                (len(years), s)
            ), "none: no production line on record for the system (counted as 0)"
        quantity, budget_year = row["dod_quantity"], int(row["budget_year"])
        if pd.isna(quantity):
            return np.zeros((len(years), s)), "none: no DoD quantity for the line in its P-21 (counted as 0)"
        sigma = self.plan_sigma or DEFAULT_PLAN_SIGMA
        rng = np.random.default_rng([self._seed, zlib.crc32(f"line|{line}".encode())])
        plan = carried_plan(float(quantity), budget_year, years, sigma, rng, s)
        basis = PLAN_RULE_LINE.format(year=budget_year, quantity=float(quantity), sigma=sigma)
        if scenario.plan_scale != 1.0:
            plan = plan * scenario.plan_factor(years)[:, None]
        return plan, basis

    def _system_parts(
        self, system: str, family: str, pi: np.ndarray, scenario: Scenario, placed: bool
    ) -> tuple[dict[str, np.ndarray], str]:
        """(Y, S) units per foreign source (backlog, firm, pending, forecast) of one named system's demand
        by the partners ``pi``, and the timing basis. ``placed=False`` counts each request in the year it
        is received (a buy's view; older pending ones in the first year); ``placed=True`` spreads it over
        the production years by the order-to-delivery lags (a line's view), which adds the backlog of
        orders through the data's last year. Every draw here is seeded by what it is about (a request's
        id, a hypothetical's contents), so a scenario changes only what it names."""
        years, s = self.years, len(self._take)
        first = int(years[0])
        fi = self.family_index[family]
        lags, lag_basis = lag_shares(system, family)

        def put(draws: np.ndarray, order_years: np.ndarray) -> np.ndarray:  # (N, S), (N,) -> (Y, S)
            if placed:
                return place(draws, order_years, lags, years)
            out = np.zeros((len(years), s))
            k = np.maximum(order_years - first, 0)
            inside = k < len(years)
            np.add.at(out, k[inside], draws[inside])
            return out

        parts = {k: np.zeros((len(years), s)) for k in LINE_SOURCES if k != "domestic"}
        conversion = self._conversion()[:, fi]
        _, units = self.split(family).dense(system)
        units = units[pi]
        local = {int(p): i for i, p in enumerate(pi)}
        for lor in scenario.lors:  # each joins the book and conditions its cell's forecast, in turn
            if lor.system != system:
                continue
            p, k = self.partner_index[lor.partner], lor.year - first
            rng = np.random.default_rng([self._seed, lor.seed()])
            converts = np.ones(s, dtype=bool) if lor.status == "firm" else rng.random(s) < conversion
            n = self.cube[p, fi, k].astype(np.int64)
            source, _, share = condition_cell(n, converts.astype(np.int64), rng)
            cell = units[local[p], k]
            units[local[p], k] = np.where(source >= 0, cell[np.maximum(source, 0)], 0.0) * share
            parts[lor.status] += put((lor.quantity * converts)[None, :], np.array([lor.year]))
        parts["forecast"] = put(units.sum(axis=0), years)
        last = first - 1
        for r in book_by_system(self._lors_by_system.get(system), [system], self.partners[pi]).itertuples(
            index=False
        ):
            quantity = float(r.quantity) if pd.notna(r.quantity) else np.nan
            if not np.isfinite(quantity) or r.status == "withdrawn":
                continue
            if r.year <= last and r.status in ("executed", "firm"):
                if not placed:  # ordered before the window: a buy's view does not count it
                    continue
                source = "backlog"
            elif r.status in ("firm", "pending"):
                source = str(r.status)
            else:
                continue
            draws = np.full((1, s), quantity)
            if source == "pending":  # the same conversion draws as the family's book (Forecaster._book_of)
                rng = np.random.default_rng([self._seed, zlib.crc32(str(r.id).encode())])
                draws = draws * (rng.random(s) < conversion)
            parts[source] += put(draws, np.array([int(r.year)]))
        return parts, lag_basis

    @_locked
    def line_risk(
        self,
        line: str,
        partners: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        levels: Sequence[float] = DEFAULT_LEVELS,
        scenario: Scenario | None = None,
    ) -> xr.Dataset:
        """The line's load per production year, by source, with P(load < minimum sustaining rate) and
        P(load > maximum rate), for the selected partners' foreign demand (bayes.line_load); under a
        what-if ``scenario`` (bayes.scenario) when one is given."""
        scenario = scenario or Scenario()
        levels = self._check(1, levels)
        systems = self.line_systems(line)
        pi = self.select_partners(partners, regions)
        scenario.check(self.partners[pi], [x for x, _ in systems], list(map(int, self.years)))
        pi = self._staying(pi, scenario)
        row = self.lines.loc[line]
        years = self.years
        domestic, domestic_basis = self._line_plan(line, scenario)
        parts = {"domestic": domestic}
        timing = {}
        for system, family in systems:
            system_parts, timing[system] = self._system_parts(system, family, pi, scenario, placed=True)
            for k, v in system_parts.items():
                parts[k] = parts.get(k, 0.0) + v
        parts = {k: parts.get(k, np.zeros_like(domestic)) for k in LINE_SOURCES}
        total = sum(parts.values())
        low = float(row["min_sustaining_rate"] if scenario.min_rate is None else scenario.min_rate)
        high = float(row["max_rate"] if scenario.max_rate is None else scenario.max_rate)
        ordered = np.sort(total, axis=-1)
        dims = ("year",)
        ds = Summary(
            {
                **{f"{k}_expected": (dims, v.mean(axis=-1)) for k, v in parts.items()},
                **_summary_vars(ordered, total.mean(axis=-1), levels, dims),
                "p_below_min": (dims, (total < low).mean(axis=-1)),
                "p_above_max": (dims, (total > high).mean(axis=-1)),
            },
            {"year": years, "level": list(levels)},
            {
                "p_below_min": "P(load < the line's minimum sustaining rate)",
                "p_above_max": "P(load > the line's maximum rate)",
            },
        ).dataset
        budget_year = int(row["budget_year"])
        capacity = f"DoD P-21, PB{budget_year} ({row['line_item_number']}): {row['review']}"
        if scenario.min_rate is not None or scenario.max_rate is not None:
            capacity = f"what-if: rates set by the scenario (otherwise {capacity})"
        ds.attrs.update(
            {
                "line": line,
                "name": str(row["name"]),
                "min_sustaining_rate": low,
                "rate_1_8_5": float(row["rate_1_8_5"]),
                "max_rate": high,
                "capacity_basis": capacity,
                "lead_months": float(np.nansum([row["admin_lead_months"], row["production_lead_months"]])),
                "systems": [x for x, _ in systems],
                "timing_basis": timing,
                "domestic_basis": domestic_basis,
                "partners": list(map(str, self.partners[pi])),
                "data_through": int(years[0]) - 1,
                "what_if": scenario.describe(),
            }
        )
        return ds

    def _window(self, first_year: int | None, last_year: int | None) -> tuple[int, int, slice]:
        first = int(self.years[0] if first_year is None else first_year)
        last = int(self.years[-1] if last_year is None else last_year)
        if not (self.years[0] <= first <= last <= self.years[-1]):
            raise ForecastError(
                f"years: the window {first}..{last} must lie within {self.years[0]}..{self.years[-1]}"
            )
        return first, last, slice(first - int(self.years[0]), last - int(self.years[0]) + 1)

    @_locked
    def system_block_buy(
        self,
        systems: Sequence[str],
        partners: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        first_year: int | None = None,
        last_year: int | None = None,
        levels: Sequence[float] = DEFAULT_LEVELS,
        at_least: float | None = None,
        scenario: Scenario | None = None,
    ) -> xr.Dataset:
        """A block buy of named systems as the mission describes it: per system, the units of the
        domestic plan (its line's DoD quantity), the selected buyers' firm and pending requests and
        their forecast new requests, received in the window, summed draw by draw. Quantiles of the
        combined quantity, P(combined >= ``at_least``), and each source's expected units and share of
        the expected total. Units of different systems are not added up: one row per system."""
        scenario = scenario or Scenario()
        levels = self._check(1, levels)
        first, last, window = self._window(first_year, last_year)
        if not systems:
            raise ForecastError("systems: name at least one system; GET /v1/systems lists them")
        ids = list(dict.fromkeys(str(x).strip().lower() for x in systems))
        families = [self.family_of_system(x) for x in ids]
        pi = self.select_partners(partners, regions)
        scenario.check(self.partners[pi], ids, list(range(first, last + 1)))
        pi = self._staying(pi, scenario)
        sources: dict[str, list[np.ndarray]] = {k: [] for k in LINE_SOURCES if k != "backlog"}
        new_requests, domestic_basis, timing = [], {}, {}
        for system, family in zip(ids, families, strict=True):
            entry = self.catalogue.get(system)
            plan, domestic_basis[system] = self._line_plan(entry.line if entry else None, scenario)
            parts, timing[system] = self._system_parts(system, family, pi, scenario, placed=False)
            parts["domestic"] = plan
            for k in sources:
                sources[k].append(parts[k][window].sum(axis=0))
            split = self.split(family)  # the requests read off its non-empty cells: no dense copy
            inside = np.isin(split.partner, pi) & (split.year >= window.start) & (split.year < window.stop)
            new_requests.append(split.counts[inside, split.system_index[system]].sum() / len(self._take))
        by_source = {k: np.stack(v) for k, v in sources.items()}  # (K, S)
        combined = sum(by_source.values())
        ordered = np.sort(combined, axis=-1)
        picked = ordered[..., _quantile_positions(levels, ordered.shape[-1])]
        mean = combined.mean(axis=-1)
        dims = ("system",)
        data = _summary_at(picked, mean, dims) | {
            "family": (dims, families),
            "new_requests_expected": (dims, np.asarray(new_requests)),
        }
        for k, v in by_source.items():
            expected = v.mean(axis=-1)
            data[f"{k}_expected"] = (dims, expected)
            data[f"{k}_share"] = (dims, np.divide(expected, mean, out=np.zeros_like(mean), where=mean > 0))
        if at_least is not None:
            data["p_at_least"] = (dims, (combined >= at_least).mean(axis=-1))
        ds = xr.Dataset(data, coords={"system": ids, "level": list(levels)})
        ds.attrs.update(
            {
                "partners": list(map(str, self.partners[pi])),
                "first_year": first,
                "last_year": last,
                "at_least": at_least if at_least is not None else "",
                "domestic_basis": domestic_basis,
                "timing_basis": "requests count in the year they are received",
                "data_through": int(self.years[0]) - 1,
                "book_as_of": self.book_as_of,
                "what_if": scenario.describe(),
            }
        )
        return ds

    @_locked
    def question(
        self,
        family: str | None,
        at_least: float,
        within_months: int,
        start: date | None = None,
        partners: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        levels: Sequence[float] = (0.8,),
        system: str | None = None,
        book: str = "live",
        weights: np.ndarray | None = None,
    ) -> dict:
        """P(the partners request at least ``at_least`` units of ``family``, or of one ``system``,
        within ``within_months`` of ``start``), from the yearly draws and the arrival profile
        (bayes.timing): each year's new LORs fall in the window independently with the profile's mass
        of the days it covers, and their units in proportion. A system's requests are its share of
        the family's, split draw by draw (:meth:`split`). Counts forecast new requests (not the open
        book). Reproducible: the thinning is seeded by the forecaster's seed and the question.

        Returns the probability, P(at least one request), expected units and requests, the units'
        credible intervals, and what the answer rests on. ``book="fitted"`` answers as the model was
        served when fitted, with the book it was fitted with (what "why did this move" compares).
        ``weights`` (one per draw, summing to 1) answer for a reweighted posterior (bayes.prior_weights)."""
        levels = self._check(1, levels)
        if book not in ("live", "fitted"):
            raise ForecastError(f"book: {book!r} is neither 'live' nor 'fitted'")
        if system is not None:
            in_family = self.family_of_system(system)
            if family is not None and family != in_family:
                raise ForecastError(f"system: {system!r} is in family {in_family!r}, not {family!r}")
            family = in_family
        if family is None:
            raise ForecastError("family or system: name one")
        self._select([family], self.family_index, "family")
        pi = self.select_partners(partners, regions)
        first_year, last_year = int(self.years[0]), int(self.years[-1])
        start = start or date(first_year, 1, 1)
        if not 1 <= within_months <= 12 * self.max_horizon:
            raise ForecastError(f"within_months: {within_months} is outside 1..{12 * self.max_horizon}")
        end = add_months(start, within_months)
        if start < date(first_year, 1, 1) or end > date(last_year + 1, 1, 1):
            raise ForecastError(
                f"from: the window {start}..{end} must lie within the forecast years "
                f"{first_year}-01-01..{last_year + 1}-01-01 (data through {first_year - 1})"
            )
        if not at_least > 0:
            raise ForecastError(f"at_least: {at_least} must be a positive number of units")
        key = f"{family}|{system or ''}|{at_least}|{within_months}|{start}|{','.join(self.partners[pi])}"
        rng = np.random.default_rng([self._seed, zlib.crc32(key.encode())])
        if book == "live":
            cube, unit_cube = self._request_draws(family, system)
        else:
            cube, unit_cube = self._family_under(self.family_index[family], self._fitted_book)
            if system is not None:
                split = split_family(
                    self._require_shares(),
                    family,
                    cube,
                    unit_cube,
                    self.partner_region,
                    self.years,
                    self._seed,
                )
                cube, unit_cube = split.dense(system)
        count = np.zeros(self.cube.shape[-1])
        units = np.zeros(self.cube.shape[-1])
        shares = {}
        for year in range(start.year, (end - timedelta(days=1)).year + 1):
            share = float(self.arrival.share(year, start, end))
            shares[year] = share
            k = year - first_year
            n = cube[pi, k].astype(np.int64)  # (partners, draws)
            u = unit_cube[pi, k].astype(float)
            inside = rng.binomial(n, share)
            count += inside.sum(axis=0)
            units += np.divide(u * inside, n, out=np.zeros_like(u), where=n > 0).sum(axis=0)
        w = np.full(units.size, 1.0 / units.size) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != units.shape:
            raise ForecastError(f"weights: {w.shape[0]} weights for {units.size} draws")
        order = np.argsort(units, kind="stable")
        if weights is None:
            picked = units[order][_quantile_positions(levels, units.size)]
        else:  # weighted quantiles: the first draw whose cumulative weight reaches each probability
            at = np.concatenate([[0.5], _quantile_pairs(levels).ravel()])
            cumulative = np.cumsum(w[order])
            # (less a hair, as bayes.quantiles.positions: equal weights give the unweighted quantiles)
            picked = units[order][np.minimum(np.searchsorted(cumulative, at - 1e-9), units.size - 1)]
        return {
            "probability": float(w @ (units >= at_least)),
            "p_any_request": float(w @ (count >= 1)),
            "expected_units": float(w @ units),
            "expected_requests": float(w @ count),
            "median_units": float(picked[0]),
            "intervals": [
                {"level": lv, "lower": float(lo), "upper": float(hi)}
                for lv, lo, hi in zip(levels, picked[1::2], picked[2::2], strict=True)
            ],
            "family": family,
            "system": system,
            "partners": list(map(str, self.partners[pi])),
            "window": {"from": start.isoformat(), "to": end.isoformat(), "share_of_each_year": shares},
            "rests_on": {
                "data_through": first_year - 1,
                "book_as_of": self.book_as_of if book == "live" else self.fitted_at,
                "timing": self.arrival.basis,
                "counts": "new requests forecast from the posterior draws; the open book is not counted",
                "system_share": (
                    None
                    if system is None
                    else f"{self._require_shares().basis(family)[system]}: the system's share of "
                    f"{family} requests per region and year, from the system-share model"
                ),
                "draws": int(units.size),
            },
        }

    @_locked
    def block_buy(
        self,
        partners: Sequence[str] | None = None,
        families: Sequence[str] | None = None,
        first_year: int | None = None,
        last_year: int | None = None,
        levels: Sequence[float] = DEFAULT_LEVELS,
        regions: Sequence[str] | None = None,
        at_least: float | None = None,
    ) -> xr.Dataset:
        """Cumulative demand of a set of partners over a window of years (multinational pooling).

        Per family and for all selected families together ("all"): quantiles of the new-LOR count and
        of their units summed over partners and years, draw by draw, and P(at least one LOR in the
        window). And the block buy as a line sees it, ``combined_*``: units of the domestic plan, the
        partners' firm and converted pending LORs and their forecast new LORs, summed draw by draw over
        the window, with each source's expected units and, with ``at_least``, P(combined >= at_least).
        """
        first, last, window = self._window(first_year, last_year)
        levels = self._check(1, levels)
        pi = self.select_partners(partners, regions)
        fi = self._select(families, self.family_index, "families")
        if len(pi) == len(self.partners):  # every partner: their sums were taken at start-up
            counts = self._all_family[fi][:, window].sum(axis=1, dtype=np.uint32)
            units = self._all_family_units[fi][:, window].sum(axis=1, dtype=np.uint64)
        else:
            counts = self.cube[np.ix_(pi, fi)][:, :, window].sum(axis=(0, 2), dtype=np.uint32)
            units = self.units[np.ix_(pi, fi)][:, :, window].sum(axis=(0, 2), dtype=np.uint64)
        counts, units = _with_all(counts), _with_all(units)
        ds = _summarise_totals(
            counts, units, levels, ("family",), {"family": [*self.families[fi], "all"]}
        ).dataset
        sources = {  # (F + 1, S) units per source over the window, "all" last
            k: _with_all(v[:, window].sum(axis=1))
            for k, v in self._total_parts(pi, fi, 0, window.stop).items()
            if k != "plan_basis"
        } | {"new_lors": units.astype(float)}
        combined = sum(sources.values())
        ordered = np.sort(combined, axis=-1)
        picked = ordered[..., _quantile_positions(levels, ordered.shape[-1])]
        for name, (dims, values) in _summary_at(picked, combined.mean(axis=-1), ("family",)).items():
            ds[f"combined_{name}"] = (dims, values)
        for k, v in sources.items():
            ds[f"combined_{k}"] = ("family", v.mean(axis=-1))
            ds[f"combined_{k}"].attrs["description"] = f"expected units from {k.replace('_', ' ')}"
        if at_least is not None:
            ds["p_at_least"] = ("family", (combined >= at_least).mean(axis=-1))
        ds.attrs.update(
            {
                "partners": list(map(str, self.partners[pi])),
                "first_year": first,
                "last_year": last,
                "at_least": at_least if at_least is not None else "",
            }
        )
        return ds


def _with_systems(lors: pd.DataFrame | None, catalogue: Catalogue) -> pd.DataFrame | None:
    """The requests with their year and named system (None where the catalogue names none)."""
    if lors is None or lors.empty:
        return None
    out = lors[["partner", "family", "received", "status", "quantity", "designation"]].copy()
    out["id"] = lors["id"].astype(str) if "id" in lors else lors.index.astype(str)  # seeds its conversion
    out["year"] = pd.to_datetime(out["received"]).dt.year
    out["status"] = out["status"].astype(str)
    out["system"] = catalogue.assign(out["designation"].fillna(""), out["family"])
    return out[out["system"].notna()]


def _by_system(lors: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """The requests of each named system (a line or a buy reads one system's, many times a second)."""
    return {} if lors is None else {str(k): v for k, v in lors.groupby("system", sort=False)}


def _with_all(per_family: np.ndarray) -> np.ndarray:
    """(F, S) with the sum over families appended as the last row (the "all" row)."""
    return np.concatenate([per_family, per_family.sum(axis=0, keepdims=True)])


__all__ = [
    "DEFAULT_LEVELS",
    "LINE_SOURCES",
    "MAX_HORIZON",
    "Forecast",
    "ForecastError",
    "Forecaster",
    "NewFamily",
    "NewPartner",
    "PosteriorDraws",
]

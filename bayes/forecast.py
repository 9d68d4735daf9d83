"""Forecasts from stored posterior draws: no PyMC at serving time.

A :class:`Forecaster` draws, once, future LOR counts for every partner × family × future year
(a fixed seed, so every answer from one model is reproducible) and then answers requests by
slicing that cube. Totals are sums of the same draws, so every total is coherent with its
cells draw by draw.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from bayes.model import DemandModel, decades

MAX_HORIZON = 10
NEW = "(new: drawn from the population)"
DEFAULT_LEVELS = (0.5, 0.8, 0.95)


class ForecastError(ValueError):
    """A request the forecaster cannot answer; the message names the field and the reason."""


@dataclass(frozen=True)
class Forecast:
    """Summaries of one request; ``draws`` keeps the sampled counts they were computed from."""

    cells: xr.Dataset  # dims (partner, family, year[, level])
    family_totals: xr.Dataset  # dims (family, year[, level])
    year_totals: xr.Dataset  # dims (year[, level])
    draws: xr.DataArray  # (sample, partner, family, year) sampled LOR counts
    levels: tuple[float, ...]

    def to_dict(self) -> dict:
        """JSON-ready records: one per cell, per family-year total and per year total."""
        return {
            "cells": _records(
                self.cells, ("partner", "family", "year"), self.levels, ("p_any_within_horizon",)
            ),
            "family_totals": _records(self.family_totals, ("family", "year"), self.levels),
            "year_totals": _records(self.year_totals, ("year",), self.levels),
        }


def _records(
    ds: xr.Dataset, dims: tuple[str, ...], levels: tuple[float, ...], extra: tuple[str, ...] = ()
) -> list[dict]:
    """Flatten a summary Dataset to one dict per element, intervals nested per level."""
    shape = tuple(ds.sizes[d] for d in dims)
    labels = [ds[d].values for d in dims]
    stats = {k: ds[k].transpose(*dims).values.ravel() for k in ("mean", "median", "p_any")}
    for k in extra:  # variables over a prefix of dims (e.g. partner, family) are repeated over the rest
        v = ds[k].values
        stats[k] = np.broadcast_to(v.reshape(v.shape + (1,) * (len(dims) - v.ndim)), shape).ravel()
    lower = ds["lower"].transpose("level", *dims).values.reshape(len(levels), -1)
    upper = ds["upper"].transpose("level", *dims).values.reshape(len(levels), -1)
    out = []
    for flat, idx in enumerate(np.ndindex(*shape)):
        rec: dict = {
            d: (int(lab[i]) if d == "year" else str(lab[i]))
            for d, lab, i in zip(dims, labels, idx, strict=True)
        }
        for k, v in stats.items():
            rec[k] = float(v[flat])
        rec["intervals"] = [
            {"level": lv, "lower": float(lower[n, flat]), "upper": float(upper[n, flat])}
            for n, lv in enumerate(levels)
        ]
        out.append(rec)
    return out


def _quantile_pairs(levels: Sequence[float]) -> np.ndarray:
    levels = np.asarray(levels, dtype=float)
    return np.stack([(1 - levels) / 2, 1 - (1 - levels) / 2], axis=1)


def _sorted_quantiles(draws: np.ndarray, qs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverted-CDF quantiles over the last axis, and the sorted draws they came from.

    Counts are small unsigned integers, for which numpy's stable sort is a radix sort: one linear
    pass gives every quantile at once. Equals ``np.quantile(..., method="inverted_cdf")``.
    """
    ordered = np.sort(draws, axis=-1, kind="stable")
    n = ordered.shape[-1]
    positions = np.clip(np.ceil(np.asarray(qs) * n - 1e-9).astype(int) - 1, 0, n - 1)
    return np.moveaxis(ordered[..., positions], -1, 0), ordered


def _summarise(draws: np.ndarray, levels: Sequence[float], dims: tuple[str, ...], coords: dict) -> xr.Dataset:
    """Mean, median, P(>= 1) and equal-tailed intervals of integer draws (sample axis last)."""
    pairs = _quantile_pairs(levels)
    quant, _ = _sorted_quantiles(draws, np.concatenate([[0.5], pairs.ravel()]))
    ds = xr.Dataset(
        {
            "mean": (dims, draws.mean(axis=-1)),
            "median": (dims, quant[0]),
            "p_any": (dims, (draws > 0).mean(axis=-1)),
            "lower": (("level", *dims), quant[1::2]),
            "upper": (("level", *dims), quant[2::2]),
        },
        coords={**coords, "level": list(levels)},
    )
    ds["p_any"].attrs["description"] = "probability of at least one LOR"
    return ds


class Forecaster:
    """Compiled forecasts over a fitted model's draws (thinned to ``max_draws``)."""

    def __init__(
        self, model: DemandModel, max_draws: int = 1000, max_horizon: int = 5, seed: int = 0
    ) -> None:
        if model.status != "ok":
            raise ForecastError(
                f"model status is {model.status!r}: a model that failed its gates is not served"
            )
        if not 1 <= max_horizon <= MAX_HORIZON:
            raise ForecastError(f"max_horizon must be between 1 and {MAX_HORIZON}")
        self.model = model
        self.max_horizon = max_horizon
        coords = model.coords
        self.partners = np.asarray(coords["partner"].values).astype(str)
        self.families = np.asarray(coords["family"].values).astype(str)
        self.partner_region = np.asarray(coords["partner_region"].values).astype(str)
        self.family_category = np.asarray(coords["family_category"].values).astype(str)
        self.years = np.arange(model.reference_year + 1, model.reference_year + 1 + max_horizon)
        draws = model.draws
        take = np.linspace(0, draws.n - 1, min(max_draws, draws.n)).astype(int)
        rng = np.random.default_rng(seed)
        decade = decades(self.years, model.centre_year)
        # (partner, family, year, sample): the sample axis last and contiguous, since every summary
        # reduces over it; uint16 holds any plausible yearly count at a quarter of int64's memory,
        # and chunking over samples bounds the temporaries.
        self.cube = np.empty(
            (len(self.partners), len(self.families), max_horizon, len(take)), dtype=np.uint16
        )
        for start in range(0, len(take), 100):
            idx = take[start : start + 100]
            phi = draws.dispersion[idx, None, None, None]
            rate = rng.gamma(phi, np.exp(draws.log_rate(decade, idx)) / phi)
            counts = np.minimum(rng.poisson(rate), np.iinfo(np.uint16).max)
            self.cube[..., start : start + len(idx)] = np.moveaxis(counts, 0, -1)
        self._p_index = {p: i for i, p in enumerate(self.partners)}
        self._f_index = {f: i for i, f in enumerate(self.families)}
        self._draws, self._take, self._decade, self._seed = draws, take, decade, seed

    def _block(
        self,
        horizon: int,
        rng: np.random.Generator,
        partner: np.ndarray,
        family: np.ndarray,
        pf: np.ndarray,
        trend: np.ndarray,
    ) -> np.ndarray:
        """Counts (partner, family, year, sample) for given effects: (S, P), (S, F), (S, P, F), (S, F)."""
        d, t = self._draws, self._take
        log_mu = (
            d.intercept[t, None, None, None]
            + partner[:, :, None, None]
            + family[:, None, :, None]
            + pf[:, :, :, None]
            + trend[:, None, :, None] * self._decade[None, None, None, :horizon]
        )
        phi = d.dispersion[t, None, None, None]
        counts = rng.poisson(rng.gamma(phi, np.exp(log_mu) / phi))
        return np.moveaxis(np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16), 0, -1)

    def _with_new(
        self,
        sub: np.ndarray,
        pi: np.ndarray,
        fi: np.ndarray,
        new_partners: list[str],
        new_families: list[str],
        horizon: int,
    ) -> np.ndarray:
        """Append partners and families never seen, each drawn from the population per posterior draw.

        A new partner's effect is N(0, sigma_partner), a new family's N(0, sigma_family) with a trend
        N(trend_mean, sigma_trend), and every cell they touch gets an interaction N(0, sigma_pf): the
        hierarchy's answer for "someone like the others, about whom we know nothing yet". Draws are
        seeded by the labels, so the same request gives the same answer.
        """
        d, t = self._draws, self._take
        s = len(t)
        rng = np.random.default_rng(
            [
                self._seed,
                zlib.crc32("|".join(new_partners).encode()),
                zlib.crc32("|".join(new_families).encode()),
            ]
        )
        sd_pf = d.sigma_partner_family[t, None, None]
        fe = np.concatenate(
            [d.family_effect[t][:, fi], rng.normal(0.0, d.sigma_family[t, None], (s, len(new_families)))],
            axis=1,
        )
        trend = np.concatenate(
            [
                d.family_trend[t][:, fi],
                rng.normal(d.trend_mean[t, None], d.sigma_trend[t, None], (s, len(new_families))),
            ],
            axis=1,
        )
        if new_families:
            known_pf = rng.normal(0.0, sd_pf, (s, len(pi), len(new_families)))
            extra = self._block(
                horizon, rng, d.partner_effect[t][:, pi], fe[:, len(fi) :], known_pf, trend[:, len(fi) :]
            )
            sub = np.concatenate([sub, extra], axis=1)
        if new_partners:
            pe = rng.normal(0.0, d.sigma_partner[t, None], (s, len(new_partners)))
            pf = rng.normal(0.0, sd_pf, (s, len(new_partners), fe.shape[1]))
            sub = np.concatenate([sub, self._block(horizon, rng, pe, fe, pf, trend)], axis=0)
        return sub

    def _select(self, values: Sequence[str] | None, index: dict[str, int], field: str) -> np.ndarray:
        if not values:
            return np.arange(len(index))
        unknown = [v for v in values if v not in index]
        if unknown:
            raise ForecastError(f"{field}: unknown id(s) {unknown[:10]}; see the known values")
        return np.array([index[v] for v in dict.fromkeys(values)])

    def forecast(
        self,
        horizon: int = 3,
        levels: Sequence[float] = DEFAULT_LEVELS,
        partners: Sequence[str] | None = None,
        families: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        new_partners: Sequence[str] = (),
        new_families: Sequence[str] = (),
    ) -> Forecast:
        """Summaries for the selected cells; ``new_partners``/``new_families`` are labels for ones never
        seen, forecast from the population (see :meth:`_with_new`)."""
        if not 1 <= horizon <= self.max_horizon:
            raise ForecastError(f"horizon: {horizon} is outside 1..{self.max_horizon}")
        levels = tuple(float(lv) for lv in levels)
        if not levels or any(not 0 < lv < 1 for lv in levels):
            raise ForecastError(
                f"levels: each credible level must be strictly between 0 and 1, got {list(levels)}"
            )
        pi = self._select(partners, self._p_index, "partners")
        if regions:
            known = set(self.partner_region)
            unknown = [r for r in regions if r not in known]
            if unknown:
                raise ForecastError(f"regions: unknown region(s) {unknown}; known: {sorted(known)}")
            pi = pi[np.isin(self.partner_region[pi], list(regions))]
            if not pi.size:
                raise ForecastError("regions: no selected partner is in the requested regions")
        fi = self._select(families, self._f_index, "families")
        sub = self.cube[:, :, :horizon]
        if len(pi) < len(self.partners) or len(fi) < len(self.families):
            sub = sub[np.ix_(pi, fi)]
        new_p, new_f = list(dict.fromkeys(new_partners)), list(dict.fromkeys(new_families))
        for field, labels, known in (
            ("new_partners", new_p, self._p_index),
            ("new_families", new_f, self._f_index),
        ):
            clash = [x for x in labels if x in known]
            if clash:
                raise ForecastError(f"{field}: {clash} are known ids; a new one needs a label of its own")
        if new_p or new_f:
            sub = self._with_new(sub, pi, fi, new_p, new_f, horizon)
        years = self.years[:horizon]
        p_ids = np.concatenate([self.partners[pi], new_p]).astype(str)
        f_ids = np.concatenate([self.families[fi], new_f]).astype(str)
        cell_coords = {
            "partner": p_ids,
            "family": f_ids,
            "year": years,
            "partner_region": ("partner", np.concatenate([self.partner_region[pi], [NEW] * len(new_p)])),
            "family_category": ("family", np.concatenate([self.family_category[fi], [NEW] * len(new_f)])),
        }
        cells = _summarise(sub, levels, ("partner", "family", "year"), cell_coords)
        cells["p_any_within_horizon"] = (("partner", "family"), (sub.max(axis=2) > 0).mean(axis=-1))
        fam = sub.sum(axis=0, dtype=np.uint32)
        family_totals = _summarise(
            fam,
            levels,
            ("family", "year"),
            {"family": f_ids, "year": years, "family_category": cell_coords["family_category"]},
        )
        year_totals = _summarise(fam.sum(axis=0), levels, ("year",), {"year": years})
        draws = xr.DataArray(
            sub,
            dims=("partner", "family", "year", "sample"),
            coords={"partner": p_ids, "family": f_ids, "year": years},
            name="lor_count",
        ).transpose("sample", "partner", "family", "year")
        return Forecast(cells, family_totals, year_totals, draws, levels)

"""Which named system a family's request is for: a hierarchical multinomial-logit share model.

A family's requests split over its catalogued systems (:mod:`evidence.systems`) and an unnamed
remainder, ``other``. For family f, region r and year t a request is for system k with probability

    softmax_k( alpha[f, k] + trend[f, k] * (t - centre) / 10 + region[r, f, k] )

with the remainder's logit pinned at 0 (it identifies the rest). ``trend`` lets systems rise and fade
(F-16 to F-35), shrunk toward 0 by a shared scale; ``region`` is a partial-pooled region effect, so a
region with few requests borrows the family-wide split. A system with no requests in the data has only
the prior: ``alpha ~ Normal(prior_mean, alpha_sd)`` against the remainder, about ``prior_share`` of a
family where the remainder is its only other member (``SharePrior``), and forecasts say so.

The model only splits: forecasts split each draw of a family's yearly requests over systems with that
draw's shares (:meth:`SystemShares.probabilities`), so a family is the sum of its systems draw by draw.
It is fitted next to the demand model and stored as the ``system_shares`` group of the same file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes._small_fit import SmallModel, centre_year, pick_draws, small_sampler
from bayes.diagnostics import DEFAULT_GATES
from evidence.systems import Catalogue
from totaldemand.errors import UserError

OTHER = "other"
GROUP = "system_shares"
_PAD = -1.0e4  # logit of a padding slot: exp() is 0 and 0 * _PAD is 0, so no NaN reaches the gradient
_NAMES = ("alpha", "trend_sigma", "trend_raw", "region_sigma", "region_raw")


@dataclass(frozen=True)
class SharePrior:
    """The stated prior share of a system with no history: its logit against the remainder."""

    prior_share: float = 0.05

    @property
    def mean(self) -> float:
        return math.log(self.prior_share / (1 - self.prior_share))


def default_share_config() -> dict[str, Any]:
    return {
        "prior_share": SharePrior().prior_share,  # of a system with no history, against the remainder
        "alpha_sd": 2.0,  # logit scale: a system's share relative to the remainder, before data
        "trend_sd": 1.0,  # half-normal scale of the change in logit per decade
        "region_sd": 1.0,  # half-normal scale of the region effects
        "gates": dict(DEFAULT_GATES),
    }


def default_share_sampler() -> dict[str, Any]:
    return small_sampler(20261205)


class SharesError(UserError):
    """A share model that cannot be built, fitted or read; the message names the field and reason."""


def system_panel(
    lors: pd.DataFrame,
    partners: pd.DataFrame,
    catalogue: Catalogue,
    first_year: int,
    last_year: int | None = None,
    families: list[str] | None = None,
) -> xr.Dataset:
    """Realised requests per (family, region, year, slot): slot 0 is the family's remainder, slots
    1..K its catalogued systems in file order (``system`` labels them; "" pads a shorter family).

    ``families`` fixes the family axis (the demand model's); by default every family with requests
    or catalogued systems. Requests outside [first_year, last_year] or of unknown partners are left out.
    """
    from evidence.records import LORStatus

    realised = lors[lors["status"].astype(str).isin([LORStatus.EXECUTED.value, LORStatus.FIRM.value])]
    year = pd.to_datetime(realised["received"]).dt.year
    last = int(year.max()) if last_year is None else int(last_year)
    realised = realised[(year >= first_year) & (year <= last)]
    year = year[realised.index]
    region_of = partners.set_index("id")["region"].astype(str)
    known = realised["partner"].isin(region_of.index)
    realised, year = realised[known], year[known]
    fams = families if families is not None else sorted(set(realised["family"]) | catalogue.families())
    systems = {f: [OTHER, *(s.id for s in catalogue.of_family(f))] for f in fams}
    width = max(len(v) for v in systems.values())
    labels = np.array([v + [""] * (width - len(v)) for v in systems.values()], dtype=object)
    regions = sorted(set(region_of.values))
    years = np.arange(first_year, last + 1)
    counts = np.zeros((len(fams), len(regions), len(years), width), dtype=np.int32)
    assigned = catalogue.assign(realised["designation"].fillna(""), realised["family"])
    f_index = {f: i for i, f in enumerate(fams)}
    r_index = {r: i for i, r in enumerate(regions)}
    for fam, partner, yr, system in zip(realised["family"], realised["partner"], year, assigned, strict=True):
        fi = f_index.get(fam)
        if fi is None:
            continue
        slot = systems[fam].index(system) if isinstance(system, str) else 0
        counts[fi, r_index[region_of[partner]], yr - first_year, slot] += 1
    return xr.Dataset(
        {
            "count": (("family", "region", "year", "slot"), counts),
            "system": (("family", "slot"), labels.astype(str)),
        },
        coords={"family": fams, "region": regions, "year": years, "slot": np.arange(width)},
        attrs={"first_year": first_year, "last_year": last},
    )


def simulate_shares(
    systems: Mapping[str, list[str]],
    regions: list[str],
    years: np.ndarray,
    requests_per_cell: float,
    seed: int,
    trend_sigma: float = 1.0,
    region_sigma: float = 0.7,
) -> tuple[xr.Dataset, dict[str, np.ndarray]]:
    """A panel drawn from the model with known parameters (for parameter recovery): per family its
    named systems, Poisson(requests_per_cell) requests per (region, year) split by the true shares.
    Returns the panel and the truth (flat alpha, trend, region as the model orders them)."""
    rng = np.random.default_rng(seed)
    fams = list(systems)
    width = 1 + max(len(v) for v in systems.values())
    labels = np.array([[OTHER, *v] + [""] * (width - 1 - len(v)) for v in systems.values()])
    n_named = sum(len(v) for v in systems.values())
    truth = {
        "alpha": rng.normal(0.5, 1.0, n_named),
        "trend": rng.normal(0.0, trend_sigma, n_named),
        "region": rng.normal(0.0, region_sigma, (len(regions), n_named)),
    }
    centre = float(np.mean(years))
    counts = np.zeros((len(fams), len(regions), len(years), width), dtype=np.int32)
    lo = 0
    for fi, fam in enumerate(fams):
        k = len(systems[fam])
        sl = slice(lo, lo + k)
        for ri in range(len(regions)):
            for ti, year in enumerate(years):
                x = (year - centre) / 10
                logits = np.r_[0.0, truth["alpha"][sl] + truth["trend"][sl] * x + truth["region"][ri, sl]]
                p = np.exp(logits - logits.max())
                counts[fi, ri, ti, : k + 1] = rng.multinomial(rng.poisson(requests_per_cell), p / p.sum())
        lo += k
    panel = xr.Dataset(
        {
            "count": (("family", "region", "year", "slot"), counts),
            "system": (("family", "slot"), labels),
        },
        coords={"family": fams, "region": regions, "year": np.asarray(years), "slot": np.arange(width)},
        attrs={"first_year": int(years[0]), "last_year": int(years[-1])},
    )
    return panel, truth


def named_systems(panel: xr.Dataset) -> int:
    """How many named systems (slots other than the remainder and padding) the panel has."""
    labels = panel["system"].values.astype(str)
    return int(((labels != "") & (np.arange(labels.shape[1])[None, :] > 0)).sum())


class SystemShareModel(SmallModel):
    """Build, fit, store and read the share model (configs explicit, as :class:`bayes.model.DemandModel`)."""

    label = "system share"
    names = _NAMES
    error = SharesError

    def __init__(
        self, model_config: Mapping[str, Any] | None = None, sampler_config: Mapping[str, Any] | None = None
    ) -> None:
        self.model_config = {**default_share_config(), **(model_config or {})}
        self.sampler_config = {**default_share_sampler(), **(sampler_config or {})}
        share = float(self.model_config["prior_share"])
        if not 0.0 < share < 1.0:
            raise SharesError(f"prior_share: {share!r} must lie strictly between 0 and 1")
        for name in ("alpha_sd", "trend_sd", "region_sd"):
            if not float(self.model_config[name]) > 0:
                raise SharesError(f"{name}: {self.model_config[name]!r} must be positive")
        self.idata: xr.DataTree | None = None

    @staticmethod
    def _layout(panel: xr.Dataset) -> np.ndarray:
        """(F, K) index of each slot's parameter in the flat vectors: 0 for the pinned remainder and
        for padding, named systems from 1 (a family's systems are a contiguous run)."""
        labels = panel["system"].values.astype(str)
        named = (labels != "") & (np.arange(labels.shape[1])[None, :] > 0)
        index = np.zeros(labels.shape, dtype=np.int64)
        index[named] = np.arange(1, int(named.sum()) + 1)
        return index

    def build_model(self, panel: xr.Dataset, observed: np.ndarray | None = None):  # -> pm.Model
        import pymc as pm
        import pytensor.tensor as pt

        cfg = self.model_config
        index = self._layout(panel)
        n_named = int(index.max())
        if n_named == 0:
            raise SharesError("catalogue: no family has a named system, so there is nothing to split")
        counts = panel["count"].values  # (F, R, T, K)
        rows = np.argwhere(counts.sum(axis=-1) > 0)  # the (family, region, year) cells with requests
        if not len(rows):
            raise SharesError("count: no requests in the panel, so there is nothing to learn shares from")
        y = counts[rows[:, 0], rows[:, 1], rows[:, 2]] if observed is None else np.asarray(observed)
        y = y.astype("float64")
        x = (panel["year"].values[rows[:, 2]] - centre_year(panel)) / 10.0
        pad = panel["system"].values.astype(str) == ""
        seen = np.zeros(n_named + 1, dtype=bool)
        np.logical_or.at(seen, index.ravel(), counts.sum(axis=(1, 2)).ravel() > 0)
        prior_mean = np.where(seen[1:], 0.0, SharePrior(float(cfg["prior_share"])).mean)
        n_regions = panel.sizes["region"]
        named = panel["system"].values.astype(str)[index > 0]  # flat order: index 1, 2, ...
        coords = {"named_system": named[np.argsort(index[index > 0])], "region": panel["region"].values}
        with pm.Model(coords=coords) as model:
            alpha = pm.Normal("alpha", prior_mean, float(cfg["alpha_sd"]), dims="named_system")
            trend_sigma = pm.HalfNormal("trend_sigma", float(cfg["trend_sd"]))
            trend_raw = pm.Normal("trend_raw", 0.0, 1.0, dims="named_system")
            region_sigma = pm.HalfNormal("region_sigma", float(cfg["region_sd"]))
            region_raw = pm.Normal("region_raw", 0.0, 1.0, dims=("region", "named_system"))
            # One row per (family, region, year) cell with requests, K slots wide (padding gets a
            # logit of _PAD). Measured on the default data (4 x 1500 steps, 2 cores): 204 s, against
            # 606 s for a dense (F, R, T, K) form; a family-by-family loop was slower still.
            zero = pt.zeros(1)
            cell_slots = index[rows[:, 0]]  # (rows, K)
            a = pt.concatenate([zero, alpha])[cell_slots]
            b = pt.concatenate([zero, trend_sigma * trend_raw])[cell_slots]
            region = pt.concatenate([pt.zeros((n_regions, 1)), region_sigma * region_raw], axis=1)
            g = region[rows[:, 1][:, None], cell_slots]
            logits = a + b * x[:, None] + g + _PAD * pad[rows[:, 0]]
            log_p = logits - pt.logsumexp(logits, axis=1, keepdims=True)
            pm.Potential("requests", (y * log_p).sum())
        return model

    @classmethod
    def from_tree(cls, tree: xr.DataTree) -> SystemShareModel:
        try:
            model = cls(json.loads(tree.attrs["model_config"]), json.loads(tree.attrs["sampler_config"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SharesError(f"the {GROUP} group's settings cannot be read ({exc})") from None
        model.idata = tree
        return model


class SystemShares:
    """Share draws of a fitted share model, for forecasts: P(system | family, region, year) per draw."""

    def __init__(self, tree: xr.DataTree, take: int) -> None:
        panel = tree["constant_data"].to_dataset()
        post = tree["posterior"].to_dataset()
        stacked = {k: post[k].values.reshape(-1, *post[k].shape[2:]) for k in _NAMES}
        n = stacked["alpha"].shape[0]
        pick = pick_draws(n, take)
        self.status = str(tree.attrs["status"])
        self.diagnostics = json.loads(tree.attrs["diagnostics"])
        self.centre_year = float(tree.attrs["centre_year"])
        self.last_year = int(tree.attrs["last_year"])
        self.prior_share = float(json.loads(tree.attrs["model_config"])["prior_share"])
        self.families = [str(f) for f in panel["family"].values]
        self.regions = [str(r) for r in panel["region"].values]
        self.labels = panel["system"].values.astype(str)
        self.history = panel["count"].values.sum(axis=(1, 2))  # (F, K) requests per slot, all years
        self.index = SystemShareModel._layout(panel)
        zero = np.zeros((take, 1))
        self._alpha = np.concatenate([zero, stacked["alpha"][pick]], axis=1)
        trend = stacked["trend_sigma"][pick, None] * stacked["trend_raw"][pick]
        self._trend = np.concatenate([zero, trend], axis=1)
        region = stacked["region_sigma"][pick, None, None] * stacked["region_raw"][pick]
        self._region = np.concatenate([np.zeros((take, len(self.regions), 1)), region], axis=2)
        self._f_index = {f: i for i, f in enumerate(self.families)}
        self._r_index = {r: i for i, r in enumerate(self.regions)}
        self.system_family = {
            str(s): f for f, row in zip(self.families, self.labels, strict=True) for s in row[1:] if s
        }

    def systems(self, family: str) -> list[str]:
        """The family's slots: ``other`` first, then its named systems (just ``other`` if unknown)."""
        fi = self._f_index.get(family)
        return [OTHER] if fi is None else [s for s in self.labels[fi] if s]

    def basis(self, family: str) -> dict[str, str]:
        """Per slot: "history" (requests in the data) or "prior" (none: the stated prior share)."""
        fi = self._f_index.get(family)
        if fi is None:
            return {OTHER: "no named systems: the whole family"}
        return {
            str(s): "history" if self.history[fi, k] > 0 else f"prior (share {self.prior_share:g})"
            for k, s in enumerate(self.labels[fi])
            if s
        }

    def probabilities(self, family: str, regions: np.ndarray, years: np.ndarray) -> np.ndarray:
        """(S, len(regions), len(years), K_f) shares per draw; a region the model has not seen takes
        the family-wide split (region effect 0) and a family without named systems is all ``other``."""
        fi = self._f_index.get(family)
        s = self._alpha.shape[0]
        if fi is None:
            return np.ones((s, len(regions), len(years), 1))
        k = len(self.systems(family))
        idx = self.index[fi, :k]
        x = (np.asarray(years, dtype=float) - self.centre_year) / 10.0
        ri = np.array([self._r_index.get(str(r), -1) for r in regions])
        region = np.where((ri >= 0)[None, :, None], self._region[:, np.maximum(ri, 0)][:, :, idx], 0.0)
        logits = (
            self._alpha[:, None, None, idx]
            + self._trend[:, None, None, idx] * x[None, None, :, None]
            + region[:, :, None, :]
        )
        logits -= logits.max(axis=-1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=-1, keepdims=True)


__all__ = [
    "GROUP",
    "OTHER",
    "SharePrior",
    "SharesError",
    "SystemShareModel",
    "SystemShares",
    "default_share_config",
    "default_share_sampler",
    "named_systems",
    "simulate_shares",
    "system_panel",
]

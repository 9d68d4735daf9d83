"""Turn a dataset of records into the partner × family × year panel the models fit.

The panel is an :class:`xarray.Dataset` with dims ``(partner, family, year)``. Besides the yearly LOR
counts it carries everything the model reads, so the model never re-reads records:

- the hierarchy (partner region and alliance memberships, family category) as coords;
- the readiness proxy as known at the start of each year (fleet as of the end of the year before);
- the NLP signal (mentions per partner × family × year) and the years the text corpus covers;
- each partner's military budget and U.S. channel volumes (FMS, DCS, notifications) as known at the start
  of each year, i.e. the figures of the year before (``partner_budget``, ``partner_channel``), and the
  last year's figures (``*_latest``), which forecasts start from; NaN where unknown;
- one row per realised LOR (dim ``lor``) with its quantity, for the units-per-LOR model;
- withdrawn requests per family, for the pending-LOR conversion model;
- the open book (dim ``open_lor``): firm and pending requests after the history, plus requests still
  pending, which forecasts add to total demand.

The history ends at ``last_year``: by default the last year with an ``executed`` order, so that firm
and pending requests received since then are the open book rather than an incomplete year of history.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import xarray as xr

from evidence.loaders import Dataset
from evidence.records import (
    MILEX_CONSTANT_USD_M,
    MILEX_SHARE_GDP_PCT,
    NLP_MENTION,
    READINESS_FLEET_MEAN_AGE,
    READINESS_FLEET_UNITS,
    REPORTED_FLEET_MEAN_AGE,
    REPORTED_FLEET_UNITS,
    REPORTED_MISSION_CAPABLE,
    US_DCS_AUTHORIZATIONS_USD_M,
    US_FMS_AGREEMENTS_USD_M,
    US_FMS_NOTIFICATIONS_USD_M,
    LORStatus,
)

# Statuses that mean "this partner asked for this family that year": historical orders and firm
# requests. Pending requests are evidence of future demand, not yet realised; withdrawn ones drop out.
REALISED = (LORStatus.EXECUTED.value, LORStatus.FIRM.value)
OPEN = (LORStatus.FIRM.value, LORStatus.PENDING.value)
# An alliance becomes a partner-level predictor when it has at least this many member partners.
MIN_ALLIANCE_MEMBERS = 3
# The measures of the partner-level yearly figures (coords of the budget_measure / channel_measure dims).
BUDGET_MEASURES = ("milex_log", "milex_growth", "milex_share_gdp")
CHANNEL_MEASURES = ("fms_log", "dcs_log", "notified_log")
# channel measure → the evidence kind it reads (sources.sam)
CHANNEL_KINDS = {
    "fms_log": US_FMS_AGREEMENTS_USD_M,
    "dcs_log": US_DCS_AUTHORIZATIONS_USD_M,
    "notified_log": US_FMS_NOTIFICATIONS_USD_M,
}
PARTNER_YEAR_KINDS = (MILEX_CONSTANT_USD_M, MILEX_SHARE_GDP_PCT, *CHANNEL_KINDS.values())


def _default_last_year(lors: pd.DataFrame, year: pd.Series, source: str) -> int:
    executed = year[lors["status"] == LORStatus.EXECUTED.value]
    if len(executed):
        return int(executed.max())
    realised = year[lors["status"].isin(REALISED)]
    if not len(realised):
        raise ValueError(f"{source}: no realised LORs to build a panel from")
    return int(realised.max())


def build_panel(
    dataset: Dataset,
    first_year: int = 1990,
    last_year: int | None = None,
    include_non_state: bool = False,
    min_partner_lors: int = 1,
) -> xr.Dataset:
    """Count realised LORs and units per partner × family × year, and attach the model's evidence.

    Partners enter when they have at least ``min_partner_lors`` realised LORs in the window;
    families enter when any partner has one (an unseen family is forecast from the population).
    """
    lors = dataset.lors
    year = pd.to_datetime(lors["received"]).dt.year
    if last_year is None:
        if not len(lors):
            raise ValueError(f"{dataset.source}: no LORs to build a panel from")
        last_year = _default_last_year(lors, year, dataset.source)
    if last_year < first_year:
        raise ValueError(f"last_year {last_year} is before first_year {first_year}")
    in_window = year.between(first_year, last_year)
    keep = in_window & lors["status"].isin(REALISED)
    partners = dataset.partners
    state = pd.Series(True, index=lors.index)
    if not include_non_state:
        state_ids = set(partners.loc[partners["is_state"].astype(bool), "id"])
        state = lors["partner"].isin(state_ids)
        keep &= state
    realised = lors[keep].assign(year=year[keep])
    if realised.empty:
        raise ValueError(f"{dataset.source}: no realised LORs between {first_year} and {last_year}")

    per_partner = realised.groupby("partner").size()
    partner_ids = sorted(per_partner[per_partner >= min_partner_lors].index)
    family_ids = sorted(set(realised["family"]))
    realised = realised[realised["partner"].isin(partner_ids)]
    years = np.arange(first_year, last_year + 1)
    p_index, f_index = pd.Index(partner_ids), pd.Index(family_ids)

    shape = (len(partner_ids), len(family_ids), len(years))
    pi = p_index.get_indexer(realised["partner"])
    fi = f_index.get_indexer(realised["family"])
    ti = realised["year"].to_numpy() - first_year
    counts = np.zeros(shape, dtype=np.int64)
    units = np.zeros(shape, dtype=np.int64)
    uncertain = np.zeros(shape, dtype=np.int64)
    np.add.at(counts, (pi, fi, ti), 1)
    np.add.at(units, (pi, fi, ti), realised["quantity"].fillna(0).to_numpy(dtype=np.int64))
    flagged = (
        realised["year_uncertain"].astype(bool) | realised["quantity_uncertain"].astype(bool)
    ).to_numpy()
    np.add.at(uncertain, (pi[flagged], fi[flagged], ti[flagged]), 1)

    pmeta = partners.set_index("id").loc[partner_ids]
    fmeta = dataset.families.set_index("id").loc[family_ids]
    alliance_ids, membership = _alliances(pmeta)
    panel = xr.Dataset(
        {
            "lor_count": (("partner", "family", "year"), counts),
            "units": (("partner", "family", "year"), units),
            "uncertain_count": (("partner", "family", "year"), uncertain),
            "partner_alliance": (("partner", "alliance"), membership),
        },
        coords={
            "partner": partner_ids,
            "family": family_ids,
            "year": years,
            "alliance": alliance_ids,
            "partner_name": ("partner", pmeta["name"].astype(str).to_numpy()),
            "partner_region": ("partner", pmeta["region"].astype(str).to_numpy()),
            "family_name": ("family", fmeta["name"].astype(str).to_numpy()),
            "family_category": ("family", fmeta["category"].astype(str).to_numpy()),
        },
        attrs={"source": dataset.source, "first_year": first_year, "last_year": last_year},
    )
    panel["lor_count"].attrs["description"] = "realised LORs (executed or firm) received that year"
    panel["units"].attrs["description"] = "units requested in those LORs (blank quantities count 0)"
    panel["uncertain_count"].attrs["description"] = "LORs whose year or quantity SIPRI flags as uncertain"
    panel["partner_alliance"].attrs["description"] = (
        f"1 where the partner is a member (alliances with >= {MIN_ALLIANCE_MEMBERS} panel members)"
    )
    panel = panel.merge(_lor_table(realised, first_year))
    panel = panel.merge(_readiness(dataset.evidence, p_index, f_index, years))
    panel = panel.merge(_nlp(dataset.evidence, p_index, f_index, years))
    # one pass over the (large) evidence table for the few partner-level yearly rows both read
    ev = dataset.evidence
    yearly = ev[ev["kind"].isin(PARTNER_YEAR_KINDS) & ev["partner"].isin(p_index)]
    panel = panel.merge(_budgets(yearly, p_index, years))
    panel = panel.merge(_channels(yearly, p_index, years))
    withdrawn = lors[in_window & state & (lors["status"] == LORStatus.WITHDRAWN.value)]
    withdrawn = withdrawn[withdrawn["partner"].isin(partner_ids) & withdrawn["family"].isin(family_ids)]
    panel["withdrawn_lors"] = ("family", withdrawn.groupby("family").size().reindex(family_ids, fill_value=0))
    panel["withdrawn_lors"].attrs["description"] = "withdrawn requests in the window, per family"
    open_book = lors[
        state
        & lors["partner"].isin(partner_ids)
        & lors["family"].isin(family_ids)
        & (
            ((year > last_year) & lors["status"].isin(OPEN))
            | ((year <= last_year) & (lors["status"] == LORStatus.PENDING.value))
        )
    ]
    panel = panel.merge(_open_book(open_book, year, last_year))
    panel.attrs["has_readiness"] = int(bool((panel["fleet_units"].values > 0).any()))
    panel.attrs["data_hash"] = panel_hash(panel)
    return panel


def _alliances(pmeta: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    lists = [
        [a for a in str(v).split(";") if a] if isinstance(v, str) else list(v or ())
        for v in pmeta["alliances"].tolist()
    ]
    names = sorted({a for members in lists for a in members})
    membership = np.array([[a in members for a in names] for members in lists], dtype=np.int8)
    membership = membership.reshape(len(lists), len(names))
    sizes = membership.sum(axis=0)
    usable = (sizes >= MIN_ALLIANCE_MEMBERS) & (sizes < len(lists))
    return [n for n, u in zip(names, usable, strict=True) if u], membership[:, usable]


def _lor_table(realised: pd.DataFrame, first_year: int) -> xr.Dataset:
    quantity = pd.to_numeric(realised["quantity"], errors="coerce").to_numpy(dtype=float)
    quantity[quantity <= 0] = np.nan
    ds = xr.Dataset(
        {
            "lor_partner": ("lor", realised["partner"].astype(str).to_numpy()),
            "lor_family": ("lor", realised["family"].astype(str).to_numpy()),
            "lor_year": ("lor", realised["year"].to_numpy(dtype=np.int64)),
            "lor_quantity": ("lor", quantity),
        },
        coords={"lor": realised["id"].astype(str).to_numpy()},
    )
    ds["lor_quantity"].attrs["description"] = "units requested; NaN where unknown (masked in the units model)"
    return ds


def _as_of_cube(
    evidence: pd.DataFrame,
    kind: str,
    p_index: pd.Index,
    f_index: pd.Index,
    years: np.ndarray,
    ageing: bool = False,
) -> np.ndarray:
    """Latest value of ``kind`` dated up to the end of each year, per partner × family (NaN if none).

    ``ageing``: the value is an age, so a report carried forward grows by one a year."""
    rows = evidence[(evidence["kind"] == kind) & evidence["family"].isin(f_index)]
    rows = rows[rows["partner"].isin(p_index)]
    out = np.full((len(p_index), len(f_index), len(years)), np.nan)
    if rows.empty:
        return out
    rows = rows.assign(year=pd.to_datetime(rows["date"]).dt.year).sort_values("date")
    latest = rows.groupby(["partner", "family", "year"], observed=True)["value"].last().reset_index()
    latest = latest[latest["year"] <= years[-1]]
    latest["year"] = latest["year"].clip(lower=years[0])
    latest = latest.groupby(["partner", "family", "year"], observed=True)["value"].last().reset_index()
    pi = p_index.get_indexer(latest["partner"])
    fi = f_index.get_indexer(latest["family"])
    ti = latest["year"].to_numpy() - years[0]
    out[pi, fi, ti] = latest["value"].to_numpy(dtype=float)
    # Carry each report forward until the next one: "as of" reads the latest known value.
    frame = out.reshape(-1, len(years))
    idx = np.where(np.isnan(frame), 0, np.arange(len(years))[None, :])
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = frame[np.arange(frame.shape[0])[:, None], idx]
    if ageing:
        filled = filled + (np.arange(len(years))[None, :] - idx)
    return filled.reshape(out.shape)


def _readiness(evidence: pd.DataFrame, p_index: pd.Index, f_index: pd.Index, years: np.ndarray) -> xr.Dataset:
    """Fleet size and mean age known at the start of each year (as of 31 Dec of the year before),
    and as of the end of the last year (what forecasts start from)."""
    span = np.arange(years[0] - 1, years[-1] + 1)
    fleet = _as_of_cube(evidence, READINESS_FLEET_UNITS, p_index, f_index, span)
    age = _as_of_cube(evidence, READINESS_FLEET_MEAN_AGE, p_index, f_index, span)
    # Readiness reports override the proxy for their partner × family from their date on; a
    # reported mission-capable rate turns the fleet into the units available.
    reported = _as_of_cube(evidence, REPORTED_FLEET_UNITS, p_index, f_index, span)
    if not np.isnan(reported).all():
        capable = _as_of_cube(evidence, REPORTED_MISSION_CAPABLE, p_index, f_index, span)
        reported_age = _as_of_cube(evidence, REPORTED_FLEET_MEAN_AGE, p_index, f_index, span, ageing=True)
        has = ~np.isnan(reported)
        fleet = np.where(has, reported * np.where(np.isnan(capable), 1.0, capable), fleet)
        age = np.where(has & ~np.isnan(reported_age), reported_age, age)
    present = np.nan_to_num(fleet) > 0
    fleet = np.where(present, fleet, 0.0)
    age = np.where(present, age, np.nan)
    dims = ("partner", "family", "year")
    ds = xr.Dataset(
        {
            "fleet_units": (dims, fleet[:, :, :-1]),
            "fleet_mean_age": (dims, age[:, :, :-1]),
            "fleet_units_latest": (("partner", "family"), fleet[:, :, -1]),
            "fleet_mean_age_latest": (("partner", "family"), age[:, :, -1]),
        }
    )
    ds["fleet_units"].attrs["description"] = "readiness proxy: fleet units as of the end of the year before"
    ds["fleet_mean_age"].attrs["description"] = (
        "fleet mean age (years) as of the end of the year before; NaN: no fleet"
    )
    return ds


def _nlp(evidence: pd.DataFrame, p_index: pd.Index, f_index: pd.Index, years: np.ndarray) -> xr.Dataset:
    """Mentions per partner × family × year and the years the text corpus covers (1) or not (0)."""
    rows = evidence[(evidence["kind"] == NLP_MENTION) & evidence["family"].isin(f_index)]
    rows = rows.assign(year=pd.to_datetime(rows["date"]).dt.year)
    covered = np.zeros(len(years), dtype=np.int8)
    signal = np.zeros((len(p_index), len(f_index), len(years)))
    if len(rows):
        covered[(years >= rows["year"].min()) & (years <= rows["year"].max())] = 1
        rows = rows[rows["partner"].isin(p_index) & rows["year"].between(years[0], years[-1])]
        np.add.at(
            signal,
            (
                p_index.get_indexer(rows["partner"]),
                f_index.get_indexer(rows["family"]),
                rows["year"].to_numpy() - years[0],
            ),
            rows["value"].to_numpy(dtype=float),
        )
    ds = xr.Dataset(
        {
            "nlp_signal": (("partner", "family", "year"), signal),
            "nlp_covered": ("year", covered),
        }
    )
    ds["nlp_signal"].attrs["description"] = "NLP mentions (summed values) dated that year"
    ds["nlp_covered"].attrs["description"] = (
        "1 where the text corpus covers the year; else the signal is masked"
    )
    return ds


def _partner_years(evidence: pd.DataFrame, kind: str, p_index: pd.Index, years: np.ndarray) -> np.ndarray:
    """Each partner's ``kind`` figure for each of ``years`` (partner × year; NaN where none).

    A partner-level figure describes the year of its date (sources date it 31 Dec of that year); of two
    rows for one partner and year, the later-dated wins (a revision), then the later row. Nothing is
    carried forward: a year without a figure is unknown, not last year's figure."""
    out = np.full((len(p_index), len(years)), np.nan)
    rows = evidence[(evidence["kind"] == kind) & evidence["partner"].isin(p_index)]
    if rows.empty:
        return out
    date = pd.to_datetime(rows["date"])
    rows = rows.assign(_date=date, _year=date.dt.year).sort_values("_date", kind="stable")
    rows = rows[rows["_year"].between(years[0], years[-1])]
    latest = rows.groupby(["partner", "_year"], sort=False)["value"].last().reset_index()
    pi, ti = p_index.get_indexer(latest["partner"]), latest["_year"].to_numpy() - years[0]
    out[pi, ti] = latest["value"].to_numpy(dtype=float)
    return out


def _as_known_at_start(
    figures: np.ndarray, dim: str, measures: tuple[str, ...], description: str
) -> xr.Dataset:
    """Split (measure, partner, first_year - 1 .. last_year) figures into the panel variable, whose year t
    holds the figure of t - 1 (what was known when year t began), and its ``_latest`` (the last year's)."""
    name = f"partner_{dim.removesuffix('_measure')}"
    ds = xr.Dataset(
        {
            name: ((dim, "partner", "year"), figures[:, :, :-1]),
            f"{name}_latest": ((dim, "partner"), figures[:, :, -1]),
        },
        coords={dim: list(measures)},
    )
    ds[name].attrs["description"] = description
    ds[f"{name}_latest"].attrs["description"] = (
        f"as {name}, from the figures of the panel's last year (what forecasts of the next year know)"
    )
    return ds


def _budgets(evidence: pd.DataFrame, p_index: pd.Index, years: np.ndarray) -> xr.Dataset:
    """Military expenditure known at the start of each year (sources.milex): log of constant-2023 US$
    million, its log change over the year before, and the share of GDP (%).

    Figures are SIPRI's April 2025 release: dated by year, so a panel as of an origin sees no later
    year, but the figures carry SIPRI's later revisions of earlier years (the vintage caveat)."""
    # t - 2 .. last_year: the growth of year t needs the figures of t - 1 and t - 2
    span = np.arange(years[0] - 2, years[-1] + 1)
    usd = _partner_years(evidence, MILEX_CONSTANT_USD_M, p_index, span)
    log_usd = np.log(np.where(usd > 0, usd, np.nan))  # a zero or negative budget has no log: unknown
    share = _partner_years(evidence, MILEX_SHARE_GDP_PCT, p_index, span)
    figures = np.stack([log_usd[:, 1:], np.diff(log_usd, axis=1), share[:, 1:]])
    return _as_known_at_start(
        figures,
        "budget_measure",
        BUDGET_MEASURES,
        "partner's military expenditure as of the start of the year (the year before's figure; NaN: "
        "unknown): milex_log = log(constant-2023 US$ m), milex_growth = its log change from two years "
        "before to the year before, milex_share_gdp = % of GDP",
    )


def _channels(evidence: pd.DataFrame, p_index: pd.Index, years: np.ndarray) -> xr.Dataset:
    """U.S. sales channels known at the start of each year (sources.sam), as log1p(current US$ m)."""
    span = np.arange(years[0] - 1, years[-1] + 1)
    figures = np.stack([_partner_years(evidence, CHANNEL_KINDS[m], p_index, span) for m in CHANNEL_MEASURES])
    # bounds keep sources non-negative; log1p keeps a real zero at 0 and a missing figure NaN
    figures = np.log1p(np.where(figures >= 0, figures, np.nan))
    return _as_known_at_start(
        figures,
        "channel_measure",
        CHANNEL_MEASURES,
        "partner's U.S. arms-sales channels in the (fiscal) year before, log1p(current US$ m): fms_log = "
        "FMS agreements, dcs_log = DCS licences authorized, notified_log = FMS 36(b) notifications; 0: "
        "the source reports zero, NaN: missing or outside its coverage",
    )


def _open_book(open_book: pd.DataFrame, year: pd.Series, last_year: int) -> xr.Dataset:
    quantity = pd.to_numeric(open_book["quantity"], errors="coerce").to_numpy(dtype=float)
    quantity[quantity <= 0] = np.nan
    ds = xr.Dataset(
        {
            "open_partner": ("open_lor", open_book["partner"].astype(str).to_numpy()),
            "open_family": ("open_lor", open_book["family"].astype(str).to_numpy()),
            # Demand counts in the year a request is received; older pending ones count next year.
            "open_year": (
                "open_lor",
                np.maximum(year[open_book.index].to_numpy(dtype=np.int64), last_year + 1),
            ),
            "open_status": ("open_lor", open_book["status"].astype(str).to_numpy()),
            "open_quantity": ("open_lor", quantity),
        },
        coords={"open_lor": open_book["id"].astype(str).to_numpy()},
    )
    ds["open_status"].attrs["description"] = "firm (known demand) or pending (converts with P(conversion))"
    return ds


def panel_hash(panel: xr.Dataset) -> str:
    """A content hash of what a model sees: every variable and the labels of every axis."""
    h = hashlib.sha256()
    for name in sorted(panel.coords):
        h.update(name.encode())
        h.update("\x1f".join(map(str, np.asarray(panel[name].values).ravel())).encode())
    for name in sorted(panel.data_vars):
        values = np.asarray(panel[name].values)
        h.update(name.encode())
        if values.dtype.kind in "OUS":
            h.update("\x1f".join(map(str, values.ravel())).encode())
        else:
            h.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def describe(panel: xr.Dataset) -> dict[str, float | int]:
    counts = panel["lor_count"].values
    return {
        "partners": panel.sizes["partner"],
        "families": panel.sizes["family"],
        "years": panel.sizes["year"],
        "cells": int(counts.size),
        "lors": int(counts.sum()),
        "zero_share": float((counts == 0).mean()),
        "lors_with_quantity": int(np.isfinite(panel["lor_quantity"].values).sum()),
        "alliances": panel.sizes["alliance"],
        "readiness": bool(panel.attrs.get("has_readiness", 0)),
        "nlp_years_covered": int(panel["nlp_covered"].values.sum()),
        "open_lors": panel.sizes["open_lor"],
    }

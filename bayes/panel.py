"""Turn a dataset of LOR records into the partner × family × year panel the models fit.

The panel is an :class:`xarray.Dataset` with dims ``(partner, family, year)``; its coords carry the
hierarchy (partner region, family category) so models and forecasts never re-read the records.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import xarray as xr

from evidence.loaders import Dataset
from evidence.records import LORStatus

# Statuses that mean "this partner asked for this family that year": historical orders and firm
# requests. Pending requests are evidence of future demand, not yet realised; withdrawn ones drop out.
REALISED = (LORStatus.EXECUTED.value, LORStatus.FIRM.value)


def build_panel(
    dataset: Dataset,
    first_year: int = 1990,
    last_year: int | None = None,
    include_non_state: bool = False,
    min_partner_lors: int = 1,
) -> xr.Dataset:
    """Count realised LORs and units per partner × family × year.

    Partners enter when they have at least ``min_partner_lors`` realised LORs in the window;
    families enter when any partner has one (an unseen family is forecast from the population).
    """
    lors = dataset.lors
    year = pd.to_datetime(lors["received"]).dt.year
    if last_year is None:
        if not len(lors):
            raise ValueError(f"{dataset.source}: no LORs to build a panel from")
        last_year = int(year.max())
    if last_year < first_year:
        raise ValueError(f"last_year {last_year} is before first_year {first_year}")
    keep = year.between(first_year, last_year) & lors["status"].isin(REALISED)
    partners = dataset.partners
    if not include_non_state:
        state_ids = set(partners.loc[partners["is_state"].astype(bool), "id"])
        keep &= lors["partner"].isin(state_ids)
    realised = lors[keep].assign(year=year[keep])
    if realised.empty:
        raise ValueError(f"{dataset.source}: no realised LORs between {first_year} and {last_year}")

    per_partner = realised.groupby("partner").size()
    partner_ids = sorted(per_partner[per_partner >= min_partner_lors].index)
    family_ids = sorted(set(realised["family"]))
    realised = realised[realised["partner"].isin(partner_ids)]
    years = np.arange(first_year, last_year + 1)

    shape = (len(partner_ids), len(family_ids), len(years))
    pi = pd.Index(partner_ids).get_indexer(realised["partner"])
    fi = pd.Index(family_ids).get_indexer(realised["family"])
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
    panel = xr.Dataset(
        {
            "lor_count": (("partner", "family", "year"), counts),
            "units": (("partner", "family", "year"), units),
            "uncertain_count": (("partner", "family", "year"), uncertain),
        },
        coords={
            "partner": partner_ids,
            "family": family_ids,
            "year": years,
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
    panel.attrs["data_hash"] = panel_hash(panel)
    return panel


def panel_hash(panel: xr.Dataset) -> str:
    """A content hash of what a model sees: the counts and the labels of every axis."""
    h = hashlib.sha256()
    for name in ("partner", "family", "year", "partner_region", "family_category"):
        h.update("\x1f".join(map(str, panel[name].values)).encode())
    h.update(np.ascontiguousarray(panel["lor_count"].values, dtype=np.int64).tobytes())
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
    }

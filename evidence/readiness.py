"""Fleet readiness proxy: what each partner already operates in each family, as of each year.

From a normalised register (see :func:`sources.sipri.read_register`) this derives, per partner × family ×
year,

* ``readiness_fleet_units``: units delivered to the partner by ANY supplier in the family, cumulated
  through that year, and
* ``readiness_fleet_mean_age``: the unit-weighted mean age (year − delivery year) of those units.

No look-ahead: a unit delivered in year d counts from year d on, never before. A row's ``Number
delivered`` is spread over its listed delivery years in whole units (largest remainder: each year gets
⌊n/k⌋ and the last n mod k years one more). Giving the remainder to the LATEST years keeps the cumulative
count at or below the even fractional split in every year, so the rounding never counts a unit earlier
than the data allow.

Known limits: the proxy never retires units (no attrition, losses, resales); rows with deliveries but no
listed delivery year cannot be dated and are skipped (counted in the result's ``attrs``). In the bundled
copies cut to order/delivery years ≤ 2021, ``Number delivered`` still includes deliveries after the cut
while their years were removed, so the latest pre-cut years are over-counted for rows whose listed years
end at the cut (see the dataset's SOURCE.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import date

import numpy as np
import pandas as pd

from evidence.records import EVIDENCE, READINESS_FLEET_MEAN_AGE, READINESS_FLEET_UNITS

log = logging.getLogger(__name__)

EVIDENCE_COLUMNS: tuple[str, ...] = tuple(c.name for c in EVIDENCE.columns)


def delivery_units(register: pd.DataFrame) -> pd.DataFrame:
    """One row per (register row, delivery year) with whole ``units`` (largest-remainder split).

    Returns columns ``row`` (the register's index label), ``recipient``, ``description``, ``year``, ``units``;
    ``attrs["undated_rows"]`` / ``attrs["undated_units"]`` count deliveries that have no year.
    """
    delivered = register["number_delivered"].fillna(0).astype("int64")
    n_years = register["delivery_years"].map(len)
    undated = (delivered > 0) & (n_years == 0)
    dated = register.loc[(delivered > 0) & (n_years > 0), ["recipient", "description", "delivery_years"]]
    out = dated.rename(columns={"delivery_years": "year"}).explode("year")
    out["row"] = out.index
    out["year"] = out["year"].astype("int64")
    n = delivered.loc[out.index].to_numpy()
    k = n_years.loc[out.index].to_numpy()
    position = out.groupby(level=0).cumcount().to_numpy()
    base, remainder = np.divmod(n, k)
    out["units"] = base + (position >= k - remainder).astype("int64")
    out = out.reset_index(drop=True)[["row", "recipient", "description", "year", "units"]]
    out = out[out["units"] > 0].reset_index(drop=True)
    out.attrs["undated_rows"] = int(undated.sum())
    out.attrs["undated_units"] = int(delivered[undated].sum())
    return out


def fleet_evidence(
    register: pd.DataFrame,
    partner_of: Mapping[str, str],
    family_of: Callable[[str], str],
    *,
    partners: Collection[str] | None = None,
    first_year: int = 1980,
    last_year: int | None = None,
    source: str = "",
) -> pd.DataFrame:
    """The readiness evidence rows (EVIDENCE layout), only where the fleet is non-empty.

    ``partner_of`` maps SIPRI recipient names to partner ids (recipients it lacks are ignored); ``partners``
    restricts the output to those ids; ``family_of`` maps a weapon description to a family id. Years run from
    ``first_year`` to ``last_year`` (default: the register's last order year); deliveries before
    ``first_year`` are part of the fleet, deliveries after ``last_year`` are ignored.
    """
    if last_year is None:
        last_year = int(register["order_year"].max())
    units = delivery_units(register)
    undated_rows, undated_units = units.attrs["undated_rows"], units.attrs["undated_units"]
    if undated_rows:
        log.info(
            "readiness: %d register rows (%d units) have deliveries but no delivery year; not dated, skipped",
            undated_rows,
            undated_units,
        )
    units["partner"] = units["recipient"].map(partner_of)
    if partners is not None:
        units = units[units["partner"].isin(set(partners))]
    units = units[units["partner"].notna() & (units["year"] <= last_year)]
    families = {d: family_of(d) for d in units["description"].unique()}
    units["family"] = units["description"].map(families)

    per_year = units.groupby(["partner", "family", "year"], sort=True)["units"].sum()
    if per_year.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in EVIDENCE_COLUMNS})
        empty["value"] = empty["value"].astype("float64")
        empty.attrs.update(undated_rows=undated_rows, undated_units=undated_units)
        return empty

    start = min(int(per_year.index.get_level_values("year").min()), first_year)
    years = np.arange(start, last_year + 1)
    grid = per_year.unstack("year", fill_value=0).reindex(columns=years, fill_value=0)
    u = grid.to_numpy(dtype="float64")
    fleet = np.cumsum(u, axis=1)
    # Age sum at t is Σ u_d (t − d) = t·U(t) − Σ u_d·d, so one more cumulative sum gives every year's
    # mean age.
    year_weighted = np.cumsum(u * years, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_age = (years * fleet - year_weighted) / fleet

    keep = years >= first_year
    years, fleet, mean_age = years[keep], fleet[:, keep], mean_age[:, keep]
    pair_index = grid.index
    rows, cols = np.nonzero(fleet > 0)
    partner_ids = pair_index.get_level_values("partner").to_numpy()[rows]
    family_ids = pair_index.get_level_values("family").to_numpy()[rows]
    dates = np.array([date(int(y), 12, 31) for y in years], dtype=object)[cols]
    n = len(rows)
    out = pd.DataFrame(
        {
            "partner": np.concatenate([partner_ids, partner_ids]),
            "family": np.concatenate([family_ids, family_ids]),
            "date": np.concatenate([dates, dates]),
            "kind": [READINESS_FLEET_UNITS] * n + [READINESS_FLEET_MEAN_AGE] * n,
            "value": np.concatenate([fleet[rows, cols], np.round(mean_age[rows, cols], 4)]),
            "source": source,
        },
        columns=list(EVIDENCE_COLUMNS),
    )
    out = out.sort_values(["partner", "family", "kind", "date"], kind="stable").reset_index(drop=True)
    out.attrs.update(undated_rows=undated_rows, undated_units=undated_units)
    log.info(
        "readiness: %d partner×family pairs, %d evidence rows for %d–%d",
        len(pair_index),
        len(out),
        first_year,
        last_year,
    )
    return out

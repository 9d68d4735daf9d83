"""When in a year requests arrive: the timing model that turns yearly draws into windows in months.

The model forecasts LORs per calendar year. A planner asks about a window in months ("within 18 months
of 1 March 2022"), so each year's LORs are spread over its months by an arrival profile: uniform, or
learned from dated records where a dataset has enough of them. SIPRI orders carry a year only (the
default data date each one 1 July), so they teach nothing about months and the default is uniform.

A window [start, end) takes from each year the profile's mass of the days it covers; a forecast's LORs of
that year fall in the window independently with that probability (binomial thinning, draw by draw), and
their units in proportion.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

MIN_DATED = 24  # dated records needed to learn a profile; fewer leave it uniform
YEAR_ONLY_SOURCES = ("sipri",)  # sources that date a request by its year alone


def add_months(start: date, months: int) -> date:
    """``start`` moved ``months`` calendar months on (the day clipped to the month's length)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ArrivalProfile:
    """Share of a year's requests arriving in each month (12 values summing to 1), and what it rests on."""

    monthly: tuple[float, ...]
    basis: str

    @classmethod
    def uniform(cls, why: str = "no dated records") -> ArrivalProfile:
        return cls(tuple([1 / 12] * 12), f"uniform within the year ({why})")

    @classmethod
    def from_lors(cls, lors: pd.DataFrame | None) -> ArrivalProfile:
        """Learned from the requests whose date is a real date: not those of year-only sources (SIPRI),
        with each month's count smoothed by one (a uniform prior worth 12 records)."""
        if lors is None or not len(lors):
            return cls.uniform("no requests")
        source = (
            lors["source"].fillna("").astype(str).str.lower()
            if "source" in lors
            else pd.Series("", lors.index)
        )
        year_only = source.str.contains("|".join(YEAR_ONLY_SOURCES))
        dated = pd.to_datetime(lors.loc[~year_only, "received"], errors="coerce").dropna()
        if len(dated) < MIN_DATED:
            return cls.uniform(
                f"{len(dated)} dated requests, fewer than {MIN_DATED}; SIPRI orders carry a year only"
            )
        counts = np.bincount(dated.dt.month.to_numpy() - 1, minlength=12) + 1.0
        return cls(
            tuple(map(float, counts / counts.sum())), f"learned from {len(dated)} dated requests (+1 a month)"
        )

    def share(self, year: int, start: date, end: date) -> float:
        """The profile's mass of ``year`` that falls in [start, end): each month's share spread evenly
        over its days."""
        lo, hi = max(start, date(year, 1, 1)), min(end, date(year + 1, 1, 1))
        if lo >= hi:
            return 0.0
        total = 0.0
        for month in range(1, 13):
            first = date(year, month, 1)
            days = calendar.monthrange(year, month)[1]
            after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            covered = (min(hi, after) - max(lo, first)).days
            if covered > 0:
                total += self.monthly[month - 1] * covered / days
        return total

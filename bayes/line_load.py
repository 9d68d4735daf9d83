"""A production line's load per production year, by source, and the risk it falls outside its rates.

A line (:mod:`evidence.lines`: the DoD's P-21 minimum sustaining and maximum rates) builds the named
systems whose catalogue row names it. Its load in production year Y, per posterior draw:

    load[Y] = domestic[Y] + backlog[Y] + firm[Y] + pending[Y] + forecast[Y]

- domestic: the line's P-21 budget quantity, counted in its fiscal year and carried past the budget
  year as a mean-one log random walk with the plans' yearly s.d. (as :mod:`bayes.forecast` carries
  family plans); the basis says so;
- backlog: realised requests through the data's last year, not yet built: each order's units placed in
  the years after it by the order-to-delivery lags (:mod:`evidence.lags`), the part falling in Y;
- firm / pending: requests on the book after the data's last year, placed the same way (pending ones
  count with their family's conversion probability, draw by draw);
- forecast: the systems' share of the family's forecast new requests (:mod:`bayes.system_split`),
  placed the same way.

Requests are placed by expectation over the lags (each draw's units spread by the lag shares), so the
spread of the load comes from the demand draws, not from the timing. The selected partners' demand only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SOURCES = ("domestic", "backlog", "firm", "pending", "forecast")


def place(
    units_by_year: np.ndarray, order_years: np.ndarray, lags: np.ndarray, years: np.ndarray
) -> np.ndarray:
    """Units ordered in ``order_years`` (N,) with draws (N, S), spread over production ``years`` (Y,)
    by ``lags`` (L,) (share delivered 0..L-1 years after the order): (Y, S)."""
    gap = years[:, None] - order_years[None, :]  # (Y, N)
    inside = (gap >= 0) & (gap < len(lags))
    weight = np.where(inside, lags[np.clip(gap, 0, len(lags) - 1)], 0.0)
    return weight @ units_by_year


def carried_plan(
    quantity: float, budget_year: int, years: np.ndarray, sigma: float, rng: np.random.Generator, draws: int
) -> np.ndarray:
    """(Y, S) a budget quantity carried forward as a mean-one log random walk from its budget year."""
    steps = np.maximum(years - budget_year, 0)
    walk = np.zeros(draws)
    out = np.empty((len(years), draws))
    done = 0
    for i, k in enumerate(steps):
        new = int(k) - done
        if new > 0:
            walk = walk + sigma * np.sqrt(new) * rng.standard_normal(draws) - sigma**2 * new / 2
            done = int(k)
        out[i] = quantity * np.exp(walk)
    return out


def book_by_system(book: pd.DataFrame, systems: Sequence[str], partners: Sequence[str]) -> pd.DataFrame:
    """The book rows (LOR table with a ``system`` column) of these systems and partners."""
    if book is None or book.empty:
        return pd.DataFrame(columns=["id", "partner", "family", "system", "year", "status", "quantity"])
    rows = book[book["system"].isin(list(systems)) & book["partner"].isin(list(partners))]
    return rows


__all__ = ["SOURCES", "book_by_system", "carried_plan", "place"]

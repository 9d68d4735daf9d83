"""What-ifs answered from the served draws: a hypothetical request, a cut in the domestic plan, a change
in a line's rates, partners leaving a buy.

A scenario never refits and never draws anew for what it leaves alone: the forecaster answers the
baseline and the scenario from the same posterior draws and the same seeded randomness, so the
difference between the two is the scenario's effect and nothing else (no Monte Carlo noise between
them). Each what-if acts on the sources of a named system's demand (bayes.forecast:
``Forecaster.line_risk`` and ``Forecaster.system_block_buy``):

- a hypothetical request joins the book as a firm one (counted in full) or a pending one (counted
  when it converts, draw by draw, with its family's conversion probability), and the forecast of new
  requests of its partner, family and year is conditioned on it exactly as a posted request
  conditions it (:func:`condition_cell`), so it is not counted twice;
- a plan cut scales the domestic plan from a year on (``plan_scale`` 0.7 is a 30% cut);
- a capacity change replaces the line's minimum sustaining and/or maximum rate;
- a partner leaving drops that partner's demand (book and forecast) from the answer.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from totaldemand.errors import UserError

STATUSES = ("firm", "pending")
MAX_HYPOTHETICAL = 20


class ScenarioError(UserError):
    """A what-if that cannot be applied; the message names the field and the reason."""


@dataclass(frozen=True)
class HypotheticalLor:
    partner: str
    system: str
    year: int
    quantity: float
    status: str = "firm"

    def seed(self) -> int:
        """A request's own randomness (conversion draws), fixed by what it is."""
        return zlib.crc32(f"what-if|{self.partner}|{self.system}|{self.year}|{self.quantity:g}".encode())


@dataclass(frozen=True)
class Scenario:
    lors: tuple[HypotheticalLor, ...] = ()
    plan_scale: float = 1.0
    plan_from: int | None = None  # None: every year of the answer
    min_rate: float | None = None
    max_rate: float | None = None
    leaving: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Scenario()

    def check(
        self,
        partners: Sequence[str],
        systems: Sequence[str],
        years: Sequence[int],
    ) -> None:
        """Raise ScenarioError naming the field when a what-if does not fit the question it is put to:
        ``partners`` are the question's partners, ``systems`` its systems, ``years`` its years."""
        chosen, named = set(partners), set(systems)
        if len(self.lors) > MAX_HYPOTHETICAL:
            raise ScenarioError(f"what_if.lors: at most {MAX_HYPOTHETICAL} hypothetical requests")
        for i, lor in enumerate(self.lors):
            where = f"what_if.lors[{i}]"
            if lor.partner not in chosen:
                raise ScenarioError(f"{where}.partner: {lor.partner!r} is not among this question's partners")
            if lor.system not in named:
                raise ScenarioError(f"{where}.system: {lor.system!r} is not among this question's systems")
            if lor.year not in years:
                raise ScenarioError(
                    f"{where}.year: {lor.year} is outside the years {min(years)}..{max(years)}"
                )
            if not (np.isfinite(lor.quantity) and lor.quantity > 0):
                raise ScenarioError(f"{where}.quantity: {lor.quantity!r} must be a positive number of units")
            if lor.status not in STATUSES:
                raise ScenarioError(f"{where}.status: {lor.status!r} is not one of {list(STATUSES)}")
            if lor.partner in self.leaving:
                raise ScenarioError(f"{where}.partner: {lor.partner!r} also leaves the buy in this scenario")
        if not (np.isfinite(self.plan_scale) and 0 <= self.plan_scale <= 10):
            raise ScenarioError(f"what_if.plan_scale: {self.plan_scale!r} must lie in 0..10 (1: the plan)")
        for name in ("min_rate", "max_rate"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v >= 0):
                raise ScenarioError(f"what_if.{name}: {v!r} must be a non-negative rate (units a year)")
        if self.min_rate is not None and self.max_rate is not None and self.min_rate > self.max_rate:
            raise ScenarioError(f"what_if.min_rate: {self.min_rate:g} is above max_rate ({self.max_rate:g})")
        for i, p in enumerate(self.leaving):
            if p not in chosen:
                raise ScenarioError(f"what_if.leaving[{i}]: {p!r} is not among this question's partners")
        if set(self.leaving) >= chosen and chosen:
            raise ScenarioError("what_if.leaving: every partner of the question leaves; keep one")

    def plan_factor(self, years: np.ndarray) -> np.ndarray:
        """(Y,) the factor on the domestic plan in each year."""
        start = years[0] if self.plan_from is None else self.plan_from
        return np.where(years >= start, self.plan_scale, 1.0)

    def describe(self) -> list[str]:
        """Each what-if in words, for the answer."""
        out = [
            f"{lor.status} request from {lor.partner}: {lor.quantity:g} {lor.system} in {lor.year}"
            for lor in self.lors
        ]
        if self.plan_scale != 1.0:
            since = "" if self.plan_from is None else f" from {self.plan_from}"
            out.append(f"domestic plan x{self.plan_scale:g}{since}")
        if self.min_rate is not None:
            out.append(f"minimum sustaining rate {self.min_rate:g}")
        if self.max_rate is not None:
            out.append(f"maximum rate {self.max_rate:g}")
        out += [f"{p} leaves the buy" for p in self.leaving]
        return out


def condition_cell(
    n: np.ndarray, m: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cell's new-request draws ``n`` (S,) given ``m`` (S,) requests already known in it: N - m given
    N >= m, draw by draw. A draw with N < m takes a draw with N >= m, chosen at random (so each such draw
    is equally likely: the conditional distribution). Returns, per draw, the draw it reads (``-1`` where
    no draw has enough requests: the known ones are all there is), the new requests left (N - m) and
    their share of that draw's requests ((N - m) / N), by which its units are scaled."""
    s = n.size
    source = np.arange(s)
    for need in np.unique(m):
        short = np.flatnonzero((m == need) & (n < need))
        if short.size:
            enough = np.flatnonzero(n >= need)
            source[short] = rng.choice(enough, short.size) if enough.size else -1
    found = source >= 0
    total = np.where(found, n[np.maximum(source, 0)], m)
    extra = np.maximum(total - m, 0)
    share = np.divide(extra, total, out=np.zeros(s), where=total > 0)
    return source, extra, share


__all__ = ["MAX_HYPOTHETICAL", "STATUSES", "HypotheticalLor", "Scenario", "ScenarioError", "condition_cell"]

"""A family's forecast draws split over its named systems, draw by draw.

Each draw's requests in a (partner, family, year) cell are split over the family's systems by a
multinomial with that draw's shares for the partner's region and year (:mod:`bayes.system_shares`).
Units split with the requests: a system gets the cell's units in proportion to its requests, so the
systems of a family add up to the family exactly, in requests and in units, in every draw.

Only the cells with requests are split (most cells of a draw have none), once per family and cached;
the split is seeded by the forecaster's seed and the family, so answers are reproducible.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from bayes.system_shares import SystemShares


@dataclass(frozen=True)
class FamilySplit:
    """The requests and units of one family's non-empty cells, per system (the family's slots)."""

    systems: tuple[str, ...]
    partner: np.ndarray  # (N,) partner index of each non-empty cell
    year: np.ndarray  # (N,) forecast-year index
    draw: np.ndarray  # (N,) draw index
    counts: np.ndarray  # (N, K) requests per system
    units: np.ndarray  # (N, K) units per system
    shape: tuple[int, int, int]  # the family's (partners, years, draws)

    def dense(self, system: str) -> tuple[np.ndarray, np.ndarray]:
        """(P, H, S) requests and units of one system, zeros where the family had none."""
        k = self.systems.index(system)
        counts = np.zeros(self.shape, dtype=np.uint16)
        units = np.zeros(self.shape, dtype=np.float64)
        counts[self.partner, self.year, self.draw] = self.counts[:, k]
        units[self.partner, self.year, self.draw] = self.units[:, k]
        return counts, units

    @cached_property
    def system_index(self) -> dict[str, int]:
        return {s: k for k, s in enumerate(self.systems)}


def split_family(
    shares: SystemShares,
    family: str,
    counts: np.ndarray,
    units: np.ndarray,
    partner_region: np.ndarray,
    years: np.ndarray,
    seed: int,
) -> FamilySplit:
    """Split a family's (P, H, S) request and unit draws over its systems."""
    partner, year, draw = np.nonzero(counts)
    n = counts[partner, year, draw].astype(np.int64)
    regions, region_of = np.unique(partner_region, return_inverse=True)
    probs = shares.probabilities(family, regions, years)  # (S, R, H, K)
    pvals = probs[draw, region_of[partner], year]
    rng = np.random.default_rng([seed, zlib.crc32(f"systems|{family}".encode())])
    # The last share is 1 - the rest, so rounding never lets the others sum above 1.
    pvals[:, -1] = np.clip(1.0 - pvals[:, :-1].sum(axis=1), 0.0, None)
    split = rng.multinomial(n, pvals) if len(n) else np.zeros((0, pvals.shape[-1]), dtype=np.int64)
    per_request = units[partner, year, draw].astype(np.float64) / np.maximum(n, 1)
    return FamilySplit(
        systems=tuple(shares.systems(family)),
        partner=partner,
        year=year,
        draw=draw,
        counts=split.astype(np.uint16),
        units=split * per_request[:, None],
        shape=counts.shape,
    )


__all__ = ["FamilySplit", "split_family"]

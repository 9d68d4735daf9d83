"""Answers about suppliers for partner × family cells, read off a fitted U.S. share model, and about the
channel (FMS or DCS) each partner's U.S. purchases use, read off the channel model.

For each cell: P(its next order goes to the U.S.) in the first forecast year, the expected U.S. share in
each forecast year, how the share moves (the region's trend), and the suppliers the partner has bought
that family from. Probabilities are summarised over the share model's draws; the history is counts of
SIPRI register rows (orders), as the model reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bayes.channel_share import ChannelShares
from bayes.us_share import US, ShareError, USShares

DECADE = 10


def _summaries(draws: np.ndarray, levels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Means (...) and equal-tailed interval bounds (levels, 2, ...) over the first axis."""
    qs = np.array([[(1 - lv) / 2, (1 + lv) / 2] for lv in levels])
    return draws.mean(axis=0), np.quantile(draws, qs, axis=0)


def _summary(mean: np.ndarray, bounds: np.ndarray, levels: Sequence[float], *at: int) -> dict:
    return {
        "mean": float(mean[at]),
        "intervals": [
            {"level": float(lv), "lower": float(bounds[(k, 0, *at)]), "upper": float(bounds[(k, 1, *at)])}
            for k, lv in enumerate(levels)
        ],
    }


def supplier_outlook(
    shares: USShares,
    partners: Sequence[str],
    families: Sequence[str],
    horizon: int,
    levels: Sequence[float] = (0.8,),
    top: int = 3,
) -> list[dict]:
    """One answer per partner × family (partners outer), over the ``horizon`` years after the fit's last.

    - ``p_next_us``: P(the next order goes to the U.S.) in the first forecast year, history as of the fit;
    - ``shares``: the expected U.S. share of the cell's orders per forecast year;
    - ``change_per_decade``: the share ten years on minus the share next year, history held fixed and
      without the years' region shocks (the region's trend at this cell's share), in probability points;
    - ``history``: orders from every supplier and from the U.S. over the fit's years and its last
      ``memory`` years (the window the incumbency and competition terms read);
    - ``competitors``: the ``top`` other suppliers by orders over the fit's years, with their share of the
      cell's orders and the year of their latest;
    - ``basis``: "history" where the cell has orders in the fit's years; otherwise the share rests on the
      partner's, its region's and the family's effects alone.
    """
    p_index = {p: i for i, p in enumerate(shares.partners)}
    f_index = {f: i for i, f in enumerate(shares.families)}
    for field, asked, known in (("partners", partners, p_index), ("families", families, f_index)):
        unknown = [x for x in asked if x not in known]
        if unknown:
            raise ShareError(f"{field}: {unknown[:5]} not in the U.S. share model's panel")
    pi = np.array([p_index[p] for p in partners], dtype=int)
    fi = np.array([f_index[f] for f in families], dtype=int)
    first = shares.last_year + 1
    years = np.arange(first, first + horizon)
    p = shares.probabilities(years, pi, fi)  # (S, P, F, Y)
    share_mean, share_bounds = _summaries(p, levels)
    # the trend's change, without the years' region shocks: two years' shocks would bury it in noise
    on_trend = shares.probabilities(np.array([first, first + DECADE]), pi, fi, shocks=False)
    change_mean, change_bounds = _summaries(on_trend[..., 1] - on_trend[..., 0], levels)
    panel = shares.panel.isel(partner=pi, family=fi)
    counts, us = panel["all_count"].values, panel["us_count"].values
    total, us_total = counts.sum(axis=2), us.sum(axis=2)
    recent, us_recent = counts[..., -shares.memory :].sum(axis=2), us[..., -shares.memory :].sum(axis=2)
    regions = panel["partner_region"].values.astype(str)
    first_year, last_year = int(panel["year"].values[0]), int(panel["year"].values[-1])
    without = f"no orders {first_year}-{last_year}: the partner's, region's and family's share"
    out = []
    for a, partner in enumerate(partners):
        for b, family in enumerate(families):
            out.append(
                {
                    "partner": partner,
                    "family": family,
                    "region": str(regions[a]),
                    "basis": "history" if total[a, b] else without,
                    "p_next_us": _summary(share_mean, share_bounds, levels, a, b, 0),
                    "shares": [
                        {"year": int(y), **_summary(share_mean, share_bounds, levels, a, b, k)}
                        for k, y in enumerate(years)
                    ],
                    "change_per_decade": _summary(change_mean, change_bounds, levels, a, b),
                    "history": {
                        "first_year": first_year,
                        "last_year": last_year,
                        "orders": int(total[a, b]),
                        "us_orders": int(us_total[a, b]),
                        "recent_years": shares.memory,
                        "recent_orders": int(recent[a, b]),
                        "recent_us_orders": int(us_recent[a, b]),
                    },
                    "competitors": _competitors(panel, a, b, int(total[a, b]), top),
                }
            )
    return out


def _competitors(panel, a: int, b: int, total: int, top: int) -> list[dict]:
    """The ``top`` suppliers other than the U.S. by orders (ties: the more recent first, then by name);
    none where the fit kept no orders per supplier."""
    if "supplier_orders" not in panel:
        return []
    counts = panel["supplier_orders"].values[a, b]
    latest = panel["last_order"].values[a, b]
    suppliers = panel["supplier"].values.astype(str)
    rows = [
        (int(n), int(y), str(s))
        for n, y, s in zip(counts, latest, suppliers, strict=True)
        if n > 0 and s != US
    ]
    rows.sort(key=lambda r: (-r[0], -r[1], r[2]))
    return [
        {"supplier": s, "orders": n, "share": n / total if total else 0.0, "last_year": y}
        for n, y, s in rows[:top]
    ]


CHANNEL_NOTE = (
    "Forecast demand counts U.S. orders whatever their channel (SIPRI does not tell FMS from DCS). p_fms is "
    "the expected FMS share of the partner's U.S. purchases by value (Security Assistance Monitor): the "
    "chance a forecast order arrives as an LOR (an FMS case, hybrid cases included); the rest is DCS "
    "demand, which reaches industry as commercial contracts under export licences, with no LOR."
)


def channel_outlook(
    channels: ChannelShares, partners: Sequence[str], years: np.ndarray, levels: Sequence[float] = (0.8,)
) -> list[dict]:
    """One answer per partner: P(FMS) per year in ``years``, with what it rests on (the years SAM
    reports both channels for the partner, or none: the common share and its region's trend)."""
    index = {p: i for i, p in enumerate(channels.partners)}
    unknown = [p for p in partners if p not in index]
    if unknown:
        raise ShareError(f"partners: {unknown[:5]} not in the channel model's panel")
    pi = np.array([index[p] for p in partners], dtype=int)
    mean, bounds = _summaries(channels.probabilities(years, pi), levels)  # (P, Y)
    panel = channels.panel
    out = []
    for a, partner in enumerate(partners):
        n = int(channels.reported_years[pi[a]])
        seen = np.flatnonzero(panel["observed"].values[pi[a]])
        last = None
        if len(seen):
            t = seen[-1]
            last = {
                "year": int(panel["year"].values[t]),
                "fms_usd_m": float(panel["fms_usd_m"].values[pi[a], t]),
                "dcs_usd_m": float(panel["dcs_usd_m"].values[pi[a], t]),
            }
        out.append(
            {
                "partner": partner,
                "basis": f"history: {n} years with both channels reported, {channels.first_reported}-"
                f"{channels.last_reported}; later years take {channels.last_reported}'s share"
                if n
                else "no year with both channels reported: the common share and the region's trend",
                "p_fms": [
                    {"year": int(y), **_summary(mean, bounds, levels, a, k)} for k, y in enumerate(years)
                ],
                "last_reported": last,
            }
        )
    return out


__all__ = ["CHANNEL_NOTE", "channel_outlook", "supplier_outlook"]

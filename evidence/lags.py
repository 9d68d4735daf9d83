"""Order-to-delivery lags: in which years after an order its units are delivered (built).

``default_data/delivery_lags.csv`` is written by ``scripts/build_delivery_lags.py`` from the SIPRI register's
U.S. orders 1990-2015 (new weapons, delivered): per family, and per named system with at least ten such
deals, the share of ordered units delivered 0..8+ years after the order year. Line loads place requests
in production years with these shares (:mod:`bayes.lines`).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from totaldemand.errors import UserError

MAX_LAG = 8  # years; longer lags are lumped here
COLUMNS = ("kind", "key", "lag_years", "share", "deals")


class LagsError(UserError):
    """A lag table that cannot be used; the message names the row, field and reason."""


def default_lags_path() -> Path:
    return Path(str(files("evidence") / "default_data" / "delivery_lags.csv"))


@cache
def _default() -> dict[tuple[str, str], tuple[np.ndarray, int]]:
    return read_lags(default_lags_path())


def read_lags(path: Path | str) -> dict[tuple[str, str], tuple[np.ndarray, int]]:
    """{(kind, key): (shares over lags 0..MAX_LAG, deals)}; each row checked, shares summing to one."""
    table = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise LagsError(f"{path}: missing columns {', '.join(missing)}")
    out: dict[tuple[str, str], tuple[np.ndarray, int]] = {}
    for (kind, key), rows in table.groupby(["kind", "key"], sort=False):
        if kind not in ("family", "system"):
            raise LagsError(f"{path}: kind {kind!r} of {key!r} must be family or system")
        lags = rows["lag_years"].to_numpy()
        if not np.array_equal(np.sort(lags), np.arange(MAX_LAG + 1)):
            raise LagsError(f"{path}: {kind} {key!r} needs one row per lag 0..{MAX_LAG}")
        share = rows.set_index("lag_years")["share"].sort_index().to_numpy(dtype=float)
        if (share < 0).any() or not np.isclose(share.sum(), 1.0, atol=1e-3):
            raise LagsError(f"{path}: {kind} {key!r} shares must be >= 0 and sum to 1, not {share.sum():.4f}")
        out[(str(kind), str(key))] = (share / share.sum(), int(rows["deals"].iloc[0]))
    return out


def lag_shares(system: str, family: str) -> tuple[np.ndarray, str]:
    """The system's lag shares, else its family's, else all in the order year; and which was used."""
    table = _default()
    for kind, key in (("system", system), ("family", family)):
        if (kind, key) in table:
            share, deals = table[(kind, key)]
            basis = f"SIPRI order-to-delivery lags of {deals} U.S. {kind} deals ({key}), orders 1990-2015"
            return share, basis
    assumed = "no delivered deals to learn from: delivered in the order year (assumption)"
    return np.eye(MAX_LAG + 1)[0], assumed

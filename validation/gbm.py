"""A global gradient-boosted model over every partner × family series: the M5 winners' kind of forecaster.

One LightGBM model learns from all cells at once (the sparse series share what they say about lags, the
partner's and the family's activity, the region and the fleets), with a Tweedie objective, as the M5
leaders used for intermittent counts. It is direct multi-horizon: one model per step h = 1..H, trained on
rows (cell, year t) built from what was known at the end of year t, with target the count of year t + h,
so no draw is ever fed back as a feature.

Its predictive distribution is an NB around the model's mean. The dispersion (one per horizon step) is
estimated by moments from the model's own out-of-sample errors: a first fit sees only targets up to
origin - H and predicts the last H years it did not see (that fit also picks the number of boosting
rounds, by early stopping); the model is then refitted on every year with that many rounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from validation.baselines import moment_dispersion, nb_sample

if TYPE_CHECKING:
    from lightgbm import Booster

LAGS = (1, 2, 3)
WINDOWS = (3, 5, 10)
# rows start when lags 1-3 all exist; earlier years have too little past to describe a series
FIRST_ROW = max(LAGS) - 1
# Chosen before looking at the backtest, from the M5 practice for sparse counts: a Tweedie power near
# Poisson (most rows are zeros), small trees with many rows per leaf (four in five thousand cells carry
# any signal), a slow learning rate and early stopping on the held-out years instead of a tuned count.
PARAMS: dict[str, object] = {
    "objective": "tweedie",
    "tweedie_variance_power": 1.2,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 63,
    # one thread: on the two shared cores the backtest runs on, LightGBM's OpenMP threads spin-wait on
    # each other whenever another process holds a core -- measured 160 s per origin with two threads
    # against 20 s with one; more speed comes from --workers, one fit per process
    "num_threads": 1,
    "deterministic": True,
    "force_col_wise": True,
    "verbosity": -1,
}
MAX_ROUNDS = 300
EARLY_STOPPING = 30
MIN_ROUNDS = 10
# rounds when the history is too short to hold out H years (only tiny panels: nothing to stop early on)
FALLBACK_ROUNDS = 100
CATEGORICAL = ("family_id", "region_id", "category_id")


def _lagged(x: np.ndarray, k: int) -> np.ndarray:
    """The value ``k`` years before each year along the last axis (k = 0: the year itself); NaN before
    the first year (LightGBM treats NaN as missing, not as zero)."""
    out = np.full(x.shape, np.nan)
    out[..., k:] = x[..., : x.shape[-1] - k]
    return out


def _trailing_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over the ``window`` years up to and including each year (fewer at the start)."""
    cumulative = np.concatenate([np.zeros((*x.shape[:-1], 1)), np.cumsum(x, axis=-1)], axis=-1)
    t = np.arange(x.shape[-1])
    return cumulative[..., t + 1] - cumulative[..., np.maximum(t + 1 - window, 0)]


def _years_since(x: np.ndarray) -> np.ndarray:
    """Years since the last year with an LOR, up to each year (0: this year); NaN if none yet."""
    t = np.arange(x.shape[-1])
    last = np.maximum.accumulate(np.where(x > 0, t, -1), axis=-1)
    return np.where(last >= 0, t - last, np.nan)


def _codes(values: np.ndarray) -> np.ndarray:
    return np.unique(values.astype(str), return_inverse=True)[1].astype(float)


def _as_of_year_end(panel: xr.Dataset, name: str, shape: tuple[int, int, int]) -> np.ndarray:
    """A readiness proxy as known at the end of each year. The panel holds it as of the end of the
    year before (``name``) plus the latest value (``name_latest``, end of the origin year): shifted by
    one, so a row of year t sees the fleet known when its forecast would be made. NaN without one."""
    if name not in panel or f"{name}_latest" not in panel:
        return np.full(shape, np.nan)
    before = panel[name].transpose("partner", "family", "year").values.astype(float)
    latest = panel[f"{name}_latest"].transpose("partner", "family").values.astype(float)
    return np.concatenate([before[..., 1:], latest[..., None]], axis=-1)


def features(panel: xr.Dataset) -> tuple[np.ndarray, list[str]]:
    """Features (partner, family, year, feature) of each cell at the end of each year, from the panel
    as known then: lags and trailing sums of the cell, its partner's and family's totals and its
    region's totals (all families and this family), years since each last had an LOR, the cell's share
    of its family and of its partner, the fleet, and family, region and category ids."""
    y = panel["lor_count"].transpose("partner", "family", "year").values.astype(float)
    partners, families, years = y.shape
    shape = (partners, families, years)
    region_codes = _codes(panel["partner_region"].values).astype(int)
    regions = region_codes.max() + 1 if partners else 0
    region_family = np.zeros((regions, families, years))
    np.add.at(region_family, region_codes, y)
    series = {
        "cell": y,
        "partner": y.sum(axis=1, keepdims=True),
        "family": y.sum(axis=0, keepdims=True),
        "region_family": region_family[region_codes],
        "region": region_family.sum(axis=1)[region_codes][:, None, :],
    }
    columns: dict[str, np.ndarray] = {}
    for name, x in series.items():
        for lag in LAGS:
            columns[f"{name}_lag{lag}"] = _lagged(x, lag - 1)
        for window in WINDOWS:
            columns[f"{name}_sum{window}"] = _trailing_sum(x, window)
        columns[f"{name}_since"] = _years_since(x)
    t = np.arange(years)
    columns["cell_mean"] = np.cumsum(y, axis=-1) / (t + 1)
    columns["cell_active_years"] = np.cumsum(y > 0, axis=-1).astype(float)
    decade = max(WINDOWS)
    with np.errstate(invalid="ignore", divide="ignore"):
        # the cell's share of what its family and its partner did over the last decade: which partners
        # a family's requests come from, and which families a partner's
        columns["share_of_family"] = columns[f"cell_sum{decade}"] / columns[f"family_sum{decade}"]
        columns["share_of_partner"] = columns[f"cell_sum{decade}"] / columns[f"partner_sum{decade}"]
    columns["fleet_units_log"] = np.log1p(_as_of_year_end(panel, "fleet_units", shape))
    columns["fleet_mean_age"] = _as_of_year_end(panel, "fleet_mean_age", shape)
    columns["family_id"] = np.arange(families, dtype=float)[None, :, None]
    columns["region_id"] = region_codes.astype(float)[:, None, None]
    category = panel["family_category"].values if "family_category" in panel.coords else np.zeros(families)
    columns["category_id"] = _codes(np.asarray(category))[None, :, None]
    stacked = np.stack([np.broadcast_to(v, shape) for v in columns.values()], axis=-1)
    return stacked.astype(np.float32), list(columns)


def _rows(x: np.ndarray, y: np.ndarray, step: int, last_target: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (cell, year t) with target y[t + step], for targets up to index ``last_target``."""
    t = np.arange(FIRST_ROW, last_target - step + 1)
    return x[:, :, t].reshape(-1, x.shape[-1]), y[:, :, t + step].reshape(-1)


def _booster(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    seed: int,
    rounds: int,
    valid: tuple[np.ndarray, np.ndarray] | None = None,
) -> Booster:
    import lightgbm as lgb

    params = {**PARAMS, "seed": seed}
    train = lgb.Dataset(x, y, feature_name=names, categorical_feature=list(CATEGORICAL), free_raw_data=True)
    if valid is None:
        return lgb.train(params, train, num_boost_round=rounds)
    held = lgb.Dataset(valid[0], valid[1], reference=train)
    stop = lgb.early_stopping(EARLY_STOPPING, verbose=False)
    return lgb.train(params, train, num_boost_round=rounds, valid_sets=[held], callbacks=[stop])


def global_gbm(panel: xr.Dataset, horizon: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Draws (partner, family, horizon, samples): per step h, an NB around the h-step model's mean at the
    origin, with that step's out-of-sample dispersion."""
    x, names = features(panel)
    y = panel["lor_count"].transpose("partner", "family", "year").values.astype(float)
    last = y.shape[-1] - 1
    seed = int(rng.integers(2**31 - 1))  # from the contender's seed: reruns give the same model
    out = np.zeros((*y.shape[:2], horizon, samples), dtype=np.int64)
    for step in range(1, horizon + 1):
        train_x, train_y = _rows(x, y, step, last)
        if not len(train_y):
            raise ValueError(f"lightgbm: {y.shape[-1]} years of history are too few for a {step}-year step")
        if not train_y.any():  # nothing ever happened: nothing to learn, nothing forecast
            continue
        cut = last - horizon  # hold out the last H target years, as the origin holds out the next H
        early_x, early_y = _rows(x, y, step, cut)
        rounds, dispersion = FALLBACK_ROUNDS, None
        if len(early_y) and early_y.any():
            held_t = np.arange(max(cut + 1 - step, FIRST_ROW), last - step + 1)
            held_x = x[:, :, held_t].reshape(-1, x.shape[-1])
            held_y = y[:, :, held_t + step].reshape(-1)
            booster = _booster(early_x, early_y, names, seed + step, MAX_ROUNDS, (held_x, held_y))
            rounds = max(booster.best_iteration, MIN_ROUNDS)
            dispersion = moment_dispersion(held_y, booster.predict(held_x, num_iteration=rounds))
        booster = _booster(train_x, train_y, names, seed + step, rounds)
        if dispersion is None:  # no held-out years: the in-sample errors, which flatter the model
            dispersion = moment_dispersion(train_y, booster.predict(train_x))
        mean = booster.predict(x[:, :, last].reshape(-1, x.shape[-1])).reshape(y.shape[:2])
        out[:, :, step - 1] = nb_sample(mean, dispersion, samples, rng)
    return out

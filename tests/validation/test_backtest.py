"""The backtest on a simulated world: outputs in the documented layout, aggregates that are sums of
their cells, and a contender that peeks at the future is caught."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes.model import default_model_config
from evidence.loaders import load_dataset
from validation._cache import cache_key
from validation.backtest import (
    LEVELS,
    LookaheadError,
    Prediction,
    baseline_contender,
    check_no_lookahead,
    contender_for,
    run_backtest,
    score_table,
    training_panel,
)
from validation.scores import METRICS


@pytest.fixture(scope="module")
def dataset(sim_world: Path):
    return load_dataset(sim_world)


@pytest.fixture(scope="module")
def result(dataset, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("backtest")
    contenders = {name: baseline_contender(name, 2000) for name in ("climatology", "naive", "pooled")}
    return out, run_backtest(
        dataset,
        [2015, 2016],
        2,
        contenders,
        out,
        first_year=2000,
        samples=400,
        check_lookahead=tuple(contenders),
    )


def test_outputs_have_the_documented_layout(result) -> None:
    out, body = result
    rows = json.loads((out / "scores.json").read_text())["rows"]
    assert {r["level"] for r in rows} == {
        "cell",
        "family_year",
        "partner_year",
        "total_year",
        "partner_family_horizon",
    }
    assert {r["metric"] for r in rows} == set(METRICS)
    assert {r["origin"] for r in rows} == {2015, 2016, "all"}
    forecasts = pd.read_csv(out / "forecasts.csv", keep_default_na=False)
    assert list(forecasts.columns[:9]) == [
        "origin",
        "model",
        "level",
        "partner",
        "family",
        "category",
        "year",
        "observed",
        "mean",
    ]
    assert forecasts.filter(like="q0.").shape[1] == 9
    scores = xr.open_dataset(out / "scores.nc", engine="h5netcdf")
    assert set(scores["score"].dims) == {"model", "level", "origin", "metric"}
    assert score_table(body).shape[0] == 3
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64") == 6 and "largest partners" in page and "climatology" in page
    assert sum(body["pit_histograms"]["naive/cell"]) > 0
    promised = body["coverage_if_calibrated"]
    assert set(promised) == {"climatology", "naive", "pooled"}
    for level in ("cell", "family_year", "partner_year", "total_year"):
        values = promised["climatology"][level]
        # counts' intervals include their ends: a calibrated forecast covers at least nominal
        assert values["coverage_50"] >= 0.5 and values["coverage_95"] >= 0.95, level
    assert "if calibrated" in page
    # the best baseline per level and score is read off directly; with only baselines, no skill
    best = body["best_baseline"]
    assert {(r["level"], r["metric"]) for r in best} == {
        (level, metric) for level in LEVELS for metric in ("crps", "log_score", "wis", "brier")
    }
    assert all(r["best_baseline"] in promised and r["skill"] is None for r in best)
    assert "Best baseline per level" in page


def test_aggregates_are_sums_of_their_cells(result) -> None:
    out, _ = result
    f = pd.read_csv(out / "forecasts.csv", keep_default_na=False)
    f = f[(f["model"] == "climatology") & (f["origin"] == 2015)]
    cells = f[f["level"] == "cell"].groupby(["family", "year"])["observed"].sum()
    families = f[f["level"] == "family_year"].set_index(["family", "year"])["observed"]
    pd.testing.assert_series_equal(cells.sort_index(), families.sort_index(), check_names=False)
    total = f[f["level"] == "total_year"].set_index("year")["mean"]
    np.testing.assert_allclose(total.values, f[f["level"] == "cell"].groupby("year")["mean"].sum().values)
    # a partner x family over the horizon: its cells summed over the years, dated by the last one
    horizon = f[f["level"] == "partner_family_horizon"].set_index(["partner", "family"])
    cell = f[f["level"] == "cell"].groupby(["partner", "family"])
    pd.testing.assert_series_equal(
        horizon["observed"].sort_index(), cell["observed"].sum().sort_index(), check_names=False
    )
    np.testing.assert_allclose(horizon["mean"].sort_index(), cell["mean"].sum().sort_index())
    assert set(horizon["year"]) == {2017}


def test_the_training_panel_ends_at_the_origin(dataset) -> None:
    panel = training_panel(dataset, 2012, 2000)
    assert int(panel["year"].max()) == 2012


def _peeking(data, origin, horizon, samples, seed) -> Prediction:
    # the mistake: a panel of everything the dataset holds, future years included
    from bayes.panel import build_panel

    panel = build_panel(data, first_year=2000)
    future = panel["lor_count"].sel(year=slice(origin + 1, origin + horizon))
    future = future.transpose("partner", "family", "year").values
    draws = np.repeat(future[..., None], samples, axis=-1)
    years = np.arange(origin + 1, origin + 1 + horizon)
    return Prediction(panel["partner"].values, panel["family"].values, years, draws)


def test_a_contender_that_peeks_at_the_future_is_caught(dataset) -> None:
    with pytest.raises(LookaheadError, match="peeking"):
        check_no_lookahead(_peeking, dataset, 2014, 2, "peeking")
    check_no_lookahead(baseline_contender("climatology", 2000), dataset, 2014, 2, "climatology")


def test_a_backtest_stops_a_peeking_contender_it_was_told_to_check(dataset, tmp_path: Path) -> None:
    contenders = {"climatology": baseline_contender("climatology", 2000), "peeking": _peeking}
    with pytest.raises(LookaheadError, match="peeking: its forecast at origin 2014"):
        run_backtest(
            dataset,
            [2014, 2015],
            2,
            contenders,
            tmp_path,
            first_year=2000,
            samples=100,
            check_lookahead=("climatology", "peeking"),
            progress=False,
        )
    assert not (tmp_path / "scores.json").exists()


@pytest.mark.integration  # full fits per origin
def test_our_model_is_backtested_with_its_gates_labelled(dataset, tmp_path: Path) -> None:
    """Too few draws to pass the gates: scored all the same, and labelled so."""
    from validation.backtest import model_contender

    contenders = {"ours": model_contender(2000, {"draws": 50, "tune": 50, "chains": 2})}
    body = run_backtest(dataset, [2017], 2, contenders, tmp_path, first_year=2000, samples=200)
    assert body["gates"]["ours@2017"] != "passed" and "R-hat" in body["gates"]["ours@2017"]
    cell = {r["metric"]: r["value"] for r in body["rows"] if r["level"] == "cell" and r["origin"] == "all"}
    assert np.isfinite(cell["crps"]) and 0 <= cell["coverage_80"] <= 1


def _scores(body: dict) -> list[tuple]:
    return sorted((r["model"], r["level"], str(r["origin"]), r["metric"], r["value"]) for r in body["rows"])


@pytest.mark.integration  # a Dask cluster
def test_parallel_and_cluster_runs_score_the_same_as_one_process(dataset, tmp_path: Path) -> None:
    """Fits farmed out to spawned processes and to a Dask cluster come back scored identically."""
    from distributed import LocalCluster

    contenders = {name: baseline_contender(name, 2000) for name in ("climatology", "tsb")}
    run = dict(first_year=2000, samples=200, progress=False)
    inline = run_backtest(dataset, [2014, 2015, 2016], 2, contenders, tmp_path / "a", **run)
    pool = run_backtest(dataset, [2014, 2015, 2016], 2, contenders, tmp_path / "b", workers=2, **run)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        remote = run_backtest(
            dataset,
            [2014, 2015, 2016],
            2,
            contenders,
            tmp_path / "c",
            cluster=cluster.scheduler_address,
            **run,
        )
    assert _scores(inline) == _scores(pool) == _scores(remote)
    assert (tmp_path / "a" / "forecasts.csv").read_bytes() == (tmp_path / "b" / "forecasts.csv").read_bytes()


@pytest.mark.integration  # full fits
def test_a_rerun_fits_only_what_changed(dataset, tmp_path: Path) -> None:
    """Same inputs: everything from the cache, same scores. An LOR received in 2016 changes what the
    2016 origin knew but not what 2014 and 2015 knew: only the 2016 fits run again."""
    contenders = {name: baseline_contender(name, 2000) for name in ("climatology", "naive")}
    cache = tmp_path / "cache"
    run = dict(first_year=2000, samples=200, progress=False, cache_dir=cache)
    first = run_backtest(dataset, [2014, 2015, 2016], 2, contenders, tmp_path / "1", **run)
    assert (first["fits"], first["cached"]) == (6, 0)
    again = run_backtest(dataset, [2014, 2015, 2016], 2, contenders, tmp_path / "2", **run)
    assert (again["fits"], again["cached"]) == (0, 6) and _scores(again) == _scores(first)

    lors = dataset.lors
    late = lors[pd.to_datetime(lors["received"]).dt.year == 2016].head(3)
    assert len(late) == 3
    changed = dataclasses.replace(dataset, lors=lors.drop(late.index).reset_index(drop=True))
    third = run_backtest(changed, [2014, 2015, 2016], 2, contenders, tmp_path / "3", **run)
    assert (third["fits"], third["cached"]) == (2, 4)
    assert _scores(third) != _scores(first)


def test_model_variants_are_named_by_their_choices_and_cached_apart() -> None:
    plain = contender_for("ours", 2000)
    variant = contender_for("ours-without-nlp[family_path=ar1]", 2000)
    assert variant.model_config()["family_path"] == "ar1"
    assert variant.model_config()["components"] == {"nlp": False}
    assert plain.model_config()["family_path"] == default_model_config()["family_path"]
    assert "choices" not in plain.token()  # keys of runs before variants existed stay valid
    ablation = contender_for("ours-without-nlp", 2000)
    assert cache_key(variant.token(), "d") != cache_key(ablation.token(), "d")
    with pytest.raises(ValueError, match="spline"):
        contender_for("ours[family_path=spline]", 2000)


@pytest.mark.slow
def test_every_supplier_times_the_us_share_is_backtested_against_us_orders(tmp_path: Path) -> None:
    """The decomposition on a small real excerpt (every supplier's orders to nine recipients): forecasts
    of U.S. orders on the U.S. panel's partners and families, scored, with both fits' gates labelled."""
    from sources import suppliers
    from sources.sipri import build_dataset
    from tests.sources.test_sipri import ORIGINAL_2026
    from validation.backtest import DecomposedContender

    build_dataset(ORIGINAL_2026, tmp_path / "data")
    suppliers.build(ORIGINAL_2026, tmp_path / "data")
    data = load_dataset(tmp_path / "data")
    assert isinstance(contender_for("ours-suppliers", 2000), DecomposedContender)
    tiny = {"draws": 50, "tune": 50, "chains": 2}
    contender = contender_for("ours-suppliers", 2000, tiny)
    pred = check_no_lookahead(contender, data, 2016, 2, "ours-suppliers", samples=100)
    us_panel = training_panel(data, 2016, 2000)
    assert list(pred.partners) == list(us_panel["partner"].values)
    assert list(pred.families) == list(us_panel["family"].values)
    assert pred.draws.shape == (us_panel.sizes["partner"], us_panel.sizes["family"], 2, 100)
    assert pred.draws.min() >= 0 and "whole demand" in pred.gates  # 50 draws cannot pass the gates
    body = run_backtest(
        data, [2016], 2, {"ours-suppliers": contender}, tmp_path / "bt", first_year=2000, samples=100
    )
    cell = {r["metric"]: r["value"] for r in body["rows"] if r["level"] == "cell" and r["origin"] == "all"}
    assert np.isfinite(cell["crps"])

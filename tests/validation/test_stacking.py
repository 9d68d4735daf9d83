"""The stacked contender: weights on the simplex, learned leave-future-out (equal at the first origin, the
better part dominating when one is), a draw-by-draw mixture that keeps its parts' support and each draw's
coherence across cells, no read of a part's forecast after the origin, and its place in the backtest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from evidence.loaders import load_dataset
from totaldemand.cli import app
from validation.backtest import Prediction, baseline_contender, contender_for, run_backtest
from validation.stacking import (
    StackedContender,
    Summary,
    crps_gram,
    learn_weights,
    mix,
    simplex_weights,
    split_top_level,
    stack_at,
    stack_parts,
    stacked_contender,
    summarise,
)

PARTNERS, FAMILIES, HORIZON, SAMPLES = 6, 5, 2, 400
ORIGINS = (2010, 2011, 2012, 2013, 2014)
RATES = np.linspace(0.2, 1.5, FAMILIES)  # per partner and year, the same every year


def _truth(rng: np.random.Generator) -> xr.DataArray:
    """Partner x family x year counts of a stationary world, 2000-2016."""
    years = np.arange(2000, 2017)
    counts = rng.poisson(RATES[None, :, None], (PARTNERS, FAMILIES, len(years)))
    coords = {"partner": [f"p{i}" for i in range(PARTNERS)], "family": [f"f{j}" for j in range(FAMILIES)]}
    return xr.DataArray(counts, coords={**coords, "year": years}, dims=("partner", "family", "year"))


def _prediction(origin: int, scale: float, rng: np.random.Generator, partners=None) -> Prediction:
    """Poisson draws around ``scale`` x the true rates: scale 1 is the truth, 3 is far off."""
    rate = np.broadcast_to(scale * RATES[None, :, None, None], (PARTNERS, FAMILIES, HORIZON, SAMPLES))
    partners = np.array([f"p{i}" for i in range(PARTNERS)]) if partners is None else partners
    return Prediction(
        partners,
        np.array([f"f{j}" for j in range(FAMILIES)]),
        np.arange(origin + 1, origin + 1 + HORIZON),
        rng.poisson(rate).astype(np.int32),
    )


@pytest.fixture(scope="module")
def world() -> tuple[xr.DataArray, dict[tuple[int, str], Prediction]]:
    """Two parts at every origin: ``good`` forecasts the truth, ``bad`` three times too much."""
    rng = np.random.default_rng(3)
    preds = {}
    for origin in ORIGINS:
        preds[origin, "good"] = _prediction(origin, 1.0, rng)
        preds[origin, "bad"] = _prediction(origin, 3.0, rng)
    return _truth(rng), preds


def _history(preds: dict[tuple[int, str], Prediction]) -> dict[tuple[int, str], Summary]:
    return {key: summarise(pred) for key, pred in preds.items()}


STACK = StackedContender(("bad", "good"))


def test_stack_names_are_parsed_with_their_bracketed_parts() -> None:
    assert split_top_level("tsb, stacked[ours[recency=own],tsb],naive") == [
        "tsb",
        "stacked[ours[recency=own],tsb]",
        "naive",
    ]
    assert stack_parts("stacked[ours[recency=own],tsb]") == ("ours[recency=own]", "tsb")
    assert stack_parts("ours[recency=own]") is None
    stack = contender_for("stacked[climatology,naive]", 2000)
    assert isinstance(stack, StackedContender) and stack.name == "stacked[climatology,naive]"
    assert stack.objective == "family_year_crps"
    brier = "stacked[ours[recency=own],tsb,objective=partner_family_horizon_brier]"
    assert stacked_contender(brier) == StackedContender(
        ("ours[recency=own]", "tsb"), "partner_family_horizon_brier"
    )
    assert stacked_contender(brier).name == brier  # type: ignore[union-attr]
    for bad in (
        "stacked[tsb]",
        "stacked[tsb,tsb]",
        "stacked[tsb,stacked[naive,tsb]]",
        "stacked[tsb,oracle]",
        "stacked[tsb,naive,objective=log_score]",
        "stacked[tsb,naive,weights=equal]",
    ):
        with pytest.raises(ValueError):
            contender_for(bad, 2000)


def test_the_gram_matrix_is_the_mixture_crps() -> None:
    """w' G w is the CRPS of the mixture of the parts' empirical distributions, exactly."""
    import scoringrules as sr

    rng = np.random.default_rng(0)
    y = rng.poisson(3, 50)
    parts = np.stack([rng.poisson(3, (50, 300)), rng.poisson(7, (50, 300))])
    gram = crps_gram(parts, y)
    for k in range(2):
        expected = sr.crps_ensemble(y.astype(float), parts[k].astype(float), estimator="nrg").mean()
        assert gram[k, k] == pytest.approx(expected)
    # the half/half mixture of two equal-size ensembles is their union
    union = np.concatenate(parts, axis=1).astype(float)
    w = np.array([0.5, 0.5])
    assert w @ gram @ w == pytest.approx(sr.crps_ensemble(y.astype(float), union, estimator="nrg").mean())


def test_weights_are_on_the_simplex_reproducible_and_the_better_part_dominates(world) -> None:
    truth, preds = world
    history = _history(preds)
    weights, n = learn_weights(STACK.parts, 2014, history, truth)
    assert weights.min() >= 0 and weights.sum() == pytest.approx(1.0)
    again, _ = learn_weights(STACK.parts, 2014, history, truth)
    np.testing.assert_array_equal(weights, again)
    assert dict(zip(STACK.parts, weights, strict=True))["good"] > 0.95
    # targets: forecasts from 2010-2013 of years up to 2014 (2+2+2+1 years), per family
    assert n == FAMILIES * 7
    # a quadratic with a known answer: two parts whose errors cancel half and half
    np.testing.assert_allclose(simplex_weights(np.array([[1.0, -1.0], [-1.0, 1.0]])), [0.5, 0.5])
    np.testing.assert_allclose(simplex_weights(np.array([[1.0, 0.0], [0.0, 4.0]])), [0.8, 0.2], atol=1e-6)


def test_the_first_origin_gets_equal_weights(world) -> None:
    truth, preds = world
    history = _history(preds)
    weights, n = learn_weights(STACK.parts, ORIGINS[0], history, truth)
    assert n == 0
    np.testing.assert_array_equal(weights, [0.5, 0.5])


def test_weights_learned_on_the_brier_of_p_any_within_the_horizon(world) -> None:
    """The partner x family Brier objective reads only forecasts whose whole horizon is observed: none
    at 2011 (2010's horizon ends in 2012), then one origin per year; it too favours the good part."""
    truth, preds = world
    history = _history(preds)
    brier = "partner_family_horizon_brier"
    weights, n = learn_weights(STACK.parts, 2011, history, truth, brier)
    assert n == 0 and list(weights) == [0.5, 0.5]
    weights, n = learn_weights(STACK.parts, 2014, history, truth, brier)
    assert n == PARTNERS * FAMILIES * 3  # forecasts from 2010, 2011, 2012
    assert weights.min() >= 0 and weights.sum() == pytest.approx(1.0)
    # P(>= 1) saturates near one for the busier families, where both parts are alike: a smaller gap
    assert dict(zip(STACK.parts, weights, strict=True))["good"] > 0.8


def test_the_mixture_keeps_the_parts_support_and_each_draw_whole() -> None:
    """Part a draws 0-2, part b 10-12: every mixed draw is one part's draw in every cell (so every
    aggregate is a sum of whole draws), and the share of draws from each is its weight."""
    rng = np.random.default_rng(5)
    a = _prediction(2010, 1.0, rng)
    a = Prediction(a.partners, a.families, a.years, rng.integers(0, 3, a.draws.shape), "n/a")
    b = Prediction(a.partners[::-1], a.families, a.years, rng.integers(10, 13, a.draws.shape), "passed")
    mixed = mix([a, b], np.array([0.3, 0.7]), np.random.default_rng(1))
    assert mixed.draws.shape == a.draws.shape and list(mixed.partners) == list(a.partners)
    assert mixed.gates == "passed"
    b_aligned = b.draws[::-1]  # b's partners come in reverse order; the mixture is in a's
    from_a = (mixed.draws == a.draws).all(axis=(0, 1, 2))
    from_b = (mixed.draws == b_aligned).all(axis=(0, 1, 2))
    assert (from_a ^ from_b).all()  # each draw is exactly one part's, in every cell at once
    assert from_b.mean() == pytest.approx(0.7, abs=0.06)
    for cell in ((0, 0, 0), (3, 2, 1)):  # support: values some part drew in that cell
        assert set(mixed.draws[cell]) <= set(a.draws[cell]) | set(b_aligned[cell])
    # coherence: a family-year of the mixture is, draw by draw, the family-year of the part it came from
    totals = mixed.draws.sum(axis=0)
    np.testing.assert_array_equal(totals[..., from_a], a.draws.sum(axis=0)[..., from_a])
    again = mix([a, b], np.array([0.3, 0.7]), np.random.default_rng(1))
    np.testing.assert_array_equal(mixed.draws, again.draws)


@pytest.mark.parametrize(
    ("objective", "targets"),
    # at 2013: family-years 2011-2012 from 2010, 2012-2013 from 2011, 2013 from 2012; two-year
    # horizons that have ended: 2010's and 2011's
    [("family_year_crps", FAMILIES * 5), ("partner_family_horizon_brier", PARTNERS * FAMILIES * 2)],
)
def test_the_stack_never_reads_a_forecast_made_after_its_origin(world, objective: str, targets: int) -> None:
    """Corrupt every part's forecasts made at later origins, and the counts after the origin: the
    stacked forecast and its weights at the origin do not change, and no later forecast is loaded."""
    truth, preds = world
    origin, stack = 2013, StackedContender(STACK.parts, objective)

    def run(preds, truth):
        loaded = []

        def load(part: str) -> Prediction:
            loaded.append(part)
            return preds[origin, part]

        pred, weights, n = stack_at(stack, origin, _history(preds), truth, load, seed=0)
        return pred, weights, n, loaded

    clean = run(preds, truth)
    corrupted = {
        key: Prediction(p.partners, p.families, p.years, p.draws * 50 + 9) if key[0] > origin else p
        for key, p in preds.items()
    }
    future = truth.copy()
    future.loc[{"year": future["year"] > origin}] = 10_000
    dirty = run(corrupted, future)
    np.testing.assert_array_equal(clean[0].draws, dirty[0].draws)
    assert clean[1] == dirty[1] and clean[2] == dirty[2] == targets
    assert clean[3] == dirty[3] == ["bad", "good"]  # only the origin's own forecasts were loaded
    # and it does learn from the earlier ones: the good part dominates already (less so on the Brier
    # of P(>= 1), which saturates for the busier families)
    assert clean[1]["good"] > 0.75


@pytest.fixture(scope="module")
def dataset(sim_world: Path):
    return load_dataset(sim_world)


def _stack_rows(body: dict, name: str) -> list[tuple]:
    return sorted(
        (r["level"], r["origin"], r["metric"], r["value"])
        for r in body["rows"]
        if r["model"] == name and r["origin"] != "all"
    )


def test_a_backtest_stacks_leave_future_out_and_records_its_weights(
    dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the backtest: the stack is scored beside its parts, its weights per origin are in scores.json
    and the report, equal at the first origin; running more origins leaves the earlier stacked
    forecasts as they were; a second backtest reads the parts from the first one's cache by name."""
    name = "stacked[climatology,naive,pooled]"
    contenders = {n: baseline_contender(n, 2000) for n in ("climatology", "naive", "pooled")}
    contenders[name] = contender_for(name, 2000)  # type: ignore[assignment]
    run = dict(first_year=2000, samples=200, progress=False)
    body = run_backtest(
        dataset, [2013, 2014, 2015], 2, contenders, tmp_path / "a", cache_dir=tmp_path / "cache", **run
    )
    stored = json.loads((tmp_path / "a" / "scores.json").read_text())
    weights = stored["stacking_weights"][name]
    assert list(weights) == ["2013", "2014", "2015"]
    assert weights["2013"] == {p: pytest.approx(1 / 3) for p in ("climatology", "naive", "pooled")}
    for w in weights.values():
        assert min(w.values()) >= 0 and sum(w.values()) == pytest.approx(1.0)
    assert stored["stacking"][name]["targets"] == {"2013": 0, "2014": 8, "2015": 24}  # 8 families
    assert stored["stacking"][name]["objective"] == "family_year_crps"
    versus = stored["stacking"][name]["versus_parts"]
    assert {(r["level"], r["metric"]) for r in versus} >= {("family_year", "crps"), ("cell", "brier")}
    assert all(set(r["parts"]) == {"climatology", "naive", "pooled"} for r in versus)
    page = (tmp_path / "a" / "report.html").read_text()
    assert "Stacking" in page and "beats every part" in page
    assert any(r["model"] == name for r in stored["best_baseline"])  # skill against the best baseline
    # every cache entry is named beside it, so another backtest can find it by name
    records = [json.loads(p.read_text()) for p in (tmp_path / "cache").glob("*.json")]
    assert len(records) == 9 and {r["contender"] for r in records} == {"climatology", "naive", "pooled"}

    # the report is the slowest part of a small backtest and is checked above: not drawn again
    monkeypatch.setattr("validation.report.write_report", lambda *args, **kwargs: None)
    shorter = run_backtest(dataset, [2013, 2014], 2, contenders, tmp_path / "b", **run)
    assert shorter["stacking_weights"][name] == {o: body["stacking_weights"][name][o] for o in (2013, 2014)}
    assert _stack_rows(shorter, name) == [r for r in _stack_rows(body, name) if r[1] != 2015]

    borrowed = run_backtest(
        dataset, [2013, 2014, 2015], 2, contenders, tmp_path / "c", parts_from=[tmp_path / "cache"], **run
    )
    assert borrowed["fits"] == 0 and len(borrowed["read_from_other_caches"]) == 9
    assert _stack_rows(borrowed, name) == _stack_rows(body, name)


def test_a_stack_needs_its_parts_in_the_backtest(dataset, tmp_path: Path) -> None:
    contenders = {"climatology": baseline_contender("climatology", 2000)}
    contenders["stacked[climatology,naive]"] = contender_for("stacked[climatology,naive]", 2000)  # type: ignore[assignment]
    with pytest.raises(ValueError, match="naive"):
        run_backtest(dataset, [2014], 2, contenders, tmp_path, first_year=2000, samples=100, progress=False)


def test_the_cli_adds_a_stacks_parts_and_prints_its_weights(sim_world: Path, tmp_path: Path, cli) -> None:
    args = ["backtest", "--panel", str(sim_world), "--first-year", "2000", "--samples", "100"]
    models = ["--models", "stacked[climatology,naive]", "--no-cache"]
    result = cli.invoke(app, [*args, "--out", str(tmp_path), "--origins", "2015", "--horizon", "1", *models])
    assert result.exit_code == 0, result.output
    assert "stacked[climatology,naive]: weights per origin" in result.output
    assert "beats every part" in result.output
    rows = json.loads((tmp_path / "scores.json").read_text())["rows"]
    assert {r["model"] for r in rows} == {"climatology", "naive", "stacked[climatology,naive]"}

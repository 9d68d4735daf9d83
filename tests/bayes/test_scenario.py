"""Block buys of named systems and what-ifs: each what-if moves what it names, from the same draws."""

from __future__ import annotations

import numpy as np
import pytest

from bayes.forecast import Forecaster
from bayes.scenario import HypotheticalLor, Scenario, ScenarioError, condition_cell

BUY = ("domestic", "firm", "pending", "forecast")


def test_conditioning_keeps_draws_with_enough_and_replaces_the_rest() -> None:
    n = np.array([0, 1, 3, 0, 2])
    source, extra, share = condition_cell(n, np.ones(5, dtype=np.int64), np.random.default_rng(0))
    assert (n[source] >= 1).all() and (source[[1, 2, 4]] == [1, 2, 4]).all()
    np.testing.assert_array_equal(extra, n[source] - 1)
    np.testing.assert_allclose(share, (n[source] - 1) / n[source])
    none, extra, _ = condition_cell(
        np.zeros(3, dtype=np.int64), np.ones(3, dtype=np.int64), np.random.default_rng(0)
    )
    assert (none == -1).all() and (extra == 0).all()


def test_a_system_block_buy_adds_its_sources(line_forecaster: Forecaster) -> None:
    f = line_forecaster
    first, last = int(f.years[0]), int(f.years[-1])
    ds = f.system_block_buy(["SYS_A", "sys_b"], levels=[0.8], at_least=50)
    assert list(ds["system"].values) == ["sys_a", "sys_b"] and ds.attrs["first_year"] == first
    total = sum(ds[f"{k}_expected"] for k in BUY)
    np.testing.assert_allclose(ds["mean"].values, total.values, rtol=1e-9)
    np.testing.assert_allclose(sum(ds[f"{k}_share"] for k in BUY).values, 1.0)
    assert float(ds["firm_expected"].sel(system="sys_a")) == 30  # p01's firm request, in full
    assert 0 < float(ds["pending_expected"].sel(system="sys_a")) < 1000
    assert float(ds["firm_expected"].sel(system="sys_b")) == 0
    assert "FY2017" in ds.attrs["domestic_basis"]["sys_a"]
    assert ds.attrs["domestic_basis"]["sys_b"].startswith("none")
    assert float(ds["domestic_expected"].sel(system="sys_b")) == 0
    # the forecast part is the split of the family's draws over the window
    _, units = f.split("f00").dense("sys_a")
    np.testing.assert_allclose(
        float(ds["forecast_expected"].sel(system="sys_a")), units.sum(axis=(0, 1)).mean()
    )
    more = f.system_block_buy(["sys_a"], at_least=5000)
    assert float(more["p_at_least"][0]) <= float(ds["p_at_least"].sel(system="sys_a"))
    one_year = f.system_block_buy(["sys_a"], first_year=last, last_year=last)
    assert float(one_year["firm_expected"][0]) == 0  # the firm request was received in the first year


def test_an_empty_scenario_is_the_baseline_exactly(line_forecaster: Forecaster) -> None:
    f = line_forecaster
    base = f.line_risk("patriot_mse", levels=[0.8])
    same = f.line_risk("patriot_mse", levels=[0.8], scenario=Scenario())
    for name in base.data_vars:
        np.testing.assert_array_equal(base[name].values, same[name].values)


def test_a_hypothetical_firm_request_counts_once_and_conditions_its_cell(line_forecaster: Forecaster) -> None:
    f = line_forecaster
    year = int(f.years[1])
    lor = HypotheticalLor("p03", "sys_a", year, 120.0, "firm")
    base = f.system_block_buy(["sys_a"])
    new = f.system_block_buy(["sys_a"], scenario=Scenario(lors=(lor,)))
    assert float(new["firm_expected"][0] - base["firm_expected"][0]) == pytest.approx(120.0)
    for k in ("domestic", "pending"):
        assert float(new[f"{k}_expected"][0]) == float(base[f"{k}_expected"][0])
    assert new.attrs["what_if"] == [f"firm request from p03: 120 sys_a in {year}"]
    # only p03's cell is conditioned: the change is the same asked of p03 alone
    alone = f.system_block_buy(["sys_a"], partners=["p03"])
    alone_new = f.system_block_buy(["sys_a"], partners=["p03"], scenario=Scenario(lors=(lor,)))
    change = float(new["forecast_expected"][0] - base["forecast_expected"][0])
    assert change == pytest.approx(float(alone_new["forecast_expected"][0] - alone["forecast_expected"][0]))
    pending = f.system_block_buy(
        ["sys_a"], scenario=Scenario(lors=(HypotheticalLor("p03", "sys_a", year, 120.0, "pending"),))
    )
    assert 0 < float(pending["pending_expected"][0] - base["pending_expected"][0]) < 120


def test_a_plan_cut_scales_the_domestic_part_from_its_year(line_forecaster: Forecaster) -> None:
    f = line_forecaster
    cut_from = int(f.years[1])
    base = f.line_risk("patriot_mse", levels=[0.8])
    cut = f.line_risk("patriot_mse", levels=[0.8], scenario=Scenario(plan_scale=0.5, plan_from=cut_from))
    factor = np.where(f.years >= cut_from, 0.5, 1.0)
    np.testing.assert_allclose(cut["domestic_expected"].values, base["domestic_expected"].values * factor)
    for k in ("backlog", "firm", "pending", "forecast"):
        np.testing.assert_array_equal(cut[f"{k}_expected"].values, base[f"{k}_expected"].values)
    assert (cut["p_below_min"].values >= base["p_below_min"].values).all()


def test_a_capacity_change_moves_the_risk_not_the_load(line_forecaster: Forecaster) -> None:
    f = line_forecaster
    base = f.line_risk("patriot_mse", levels=[0.8])
    high_floor = float(base["mean"].max()) * 2
    changed = f.line_risk("patriot_mse", levels=[0.8], scenario=Scenario(min_rate=high_floor))
    np.testing.assert_array_equal(changed["mean"].values, base["mean"].values)
    assert changed.attrs["min_sustaining_rate"] == high_floor and "what-if" in changed.attrs["capacity_basis"]
    assert (changed["p_below_min"].values >= base["p_below_min"].values).all()
    assert changed["p_below_min"].values.max() > 0.5


def test_a_partner_leaving_is_the_buy_without_it(line_forecaster: Forecaster) -> None:
    f = line_forecaster
    others = [p for p in f.partners if p != "p01"]
    left = f.line_risk("patriot_mse", levels=[0.8], scenario=Scenario(leaving=("p01",)))
    without = f.line_risk("patriot_mse", partners=others, levels=[0.8])
    for name in left.data_vars:
        np.testing.assert_array_equal(left[name].values, without[name].values)
    assert "p01" not in left.attrs["partners"] and left.attrs["what_if"] == ["p01 leaves the buy"]


@pytest.mark.parametrize(
    ("scenario", "needle"),
    [
        (Scenario(lors=(HypotheticalLor("p99", "sys_a", 2020, 1.0),)), r"lors\[0\].partner: 'p99'"),
        (Scenario(lors=(HypotheticalLor("p01", "sys_c", 2020, 1.0),)), r"lors\[0\].system: 'sys_c'"),
        (Scenario(lors=(HypotheticalLor("p01", "sys_a", 1990, 1.0),)), r"lors\[0\].year: 1990"),
        (Scenario(lors=(HypotheticalLor("p01", "sys_a", None, 0.0),)), r"lors\[0\]"),
        (Scenario(plan_scale=-1), "plan_scale"),
        (Scenario(min_rate=10, max_rate=5), "min_rate: 10 is above max_rate"),
        (Scenario(leaving=("p99",)), r"leaving\[0\]"),
    ],
)
def test_a_what_if_that_does_not_fit_names_its_field(line_forecaster: Forecaster, scenario, needle) -> None:
    if scenario.lors and scenario.lors[0].year is None:
        scenario = Scenario(lors=(HypotheticalLor("p01", "sys_a", int(line_forecaster.years[0]), 0.0),))
    with pytest.raises(ScenarioError, match=needle):
        line_forecaster.line_risk("patriot_mse", scenario=scenario)


def test_every_partner_leaving_is_refused(line_forecaster: Forecaster) -> None:
    with pytest.raises(ScenarioError, match="every partner"):
        line_forecaster.line_risk("patriot_mse", partners=["p01"], scenario=Scenario(leaving=("p01",)))

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes.fitting import load_forecaster
from bayes.forecast import (
    DEFAULT_PLAN_SIGMA,
    Forecaster,
    ForecastError,
    NewPartner,
    budgeted_plans,
    plan_sigma,
)


@pytest.fixture(scope="module")
def forecaster(fitted, sim_world) -> Forecaster:
    return load_forecaster(fitted, sim_world, max_draws=800, seed=1)


def test_shapes_and_years(forecaster: Forecaster, fitted) -> None:
    fc = forecaster.forecast(horizon=3, levels=[0.8, 0.95])
    n_p, n_f = fitted.coords.sizes["partner"], fitted.coords.sizes["family"]
    assert fc.cells["mean"].shape == (n_p, n_f, 3)
    assert fc.cells["lower"].shape == (2, n_p, n_f, 3)
    assert fc.family_totals["mean"].shape == (n_f, 3)
    assert list(fc.cells["year"].values) == [2020, 2021, 2022]
    assert fc.draws.shape == (800, n_p, n_f, 3)


def test_totals_are_sums_of_cell_draws(forecaster: Forecaster) -> None:
    fc = forecaster.forecast(horizon=2, partners=["p01", "p02", "p03"])
    family_draws = fc.draws.sum("partner")
    np.testing.assert_allclose(fc.family_totals["mean"].values, family_draws.mean("sample").values)
    np.testing.assert_allclose(
        fc.year_totals["mean"].values, fc.draws.sum(("partner", "family")).mean("sample")
    )
    np.testing.assert_allclose(fc.family_totals["mean"].values, fc.cells["mean"].sum("partner").values)
    # a partner filter narrows the totals to those partners' demand only
    everyone = forecaster.forecast(horizon=2)
    assert (fc.year_totals["mean"].values < everyone.year_totals["mean"].values).all()


def test_intervals_nest_and_probabilities_are_consistent(forecaster: Forecaster) -> None:
    fc = forecaster.forecast(horizon=3, levels=[0.5, 0.8, 0.95])
    lo, hi = fc.cells["lower"].values, fc.cells["upper"].values
    assert (lo[0] >= lo[1]).all() and (lo[1] >= lo[2]).all()
    assert (hi[0] <= hi[1]).all() and (hi[1] <= hi[2]).all()
    assert (fc.cells["median"] >= fc.cells["lower"].sel(level=0.8)).all()
    within = fc.cells["p_any_within_horizon"]
    assert (within >= fc.cells["p_any"].max("year") - 1e-12).all()
    assert ((within >= 0) & (within <= 1)).all()


def test_more_history_means_higher_forecast(forecaster: Forecaster, fitted) -> None:
    observed = fitted.idata["observed_data"]["lor_count"].sum("year")
    mean = forecaster.forecast(horizon=1).cells["mean"].isel(year=0)
    busy = observed.values >= 4
    quiet = observed.values == 0
    assert mean.values[busy].mean() > 2 * mean.values[quiet].mean()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon": 99}, "horizon"),
        ({"levels": [1.2]}, "levels"),
        ({"partners": ["atlantis"]}, "partners: unknown id"),
        ({"families": ["warp_drive"]}, "families: unknown id"),
        ({"regions": ["Mars"]}, "regions: unknown region"),
    ],
)
def test_bad_requests_name_the_field(forecaster: Forecaster, kwargs: dict, message: str) -> None:
    with pytest.raises(ForecastError, match=message):
        forecaster.forecast(**kwargs)


def test_new_partner_and_family_are_drawn_from_the_population(forecaster: Forecaster) -> None:
    fc = forecaster.forecast(horizon=3, levels=[0.9], new_partners=["newland"], new_families=["new_kit"])
    assert fc.cells.sizes["partner"] == 31 and fc.cells.sizes["family"] == 9
    assert str(fc.cells["partner_region"].sel(partner="newland").values).startswith("(new")
    known = fc.cells["mean"].isel(partner=slice(0, 30), family=slice(0, 8)).mean("year")
    new = fc.cells["mean"].sel(partner="newland").isel(family=slice(0, 8)).mean("year")
    # Sensible: a new partner's rate sits inside the spread of known partners' rates, family by family...
    assert ((new >= known.quantile(0.02, "partner")) & (new <= known.quantile(0.98, "partner"))).all()
    # ...and knowing nothing about it shows. Its level is uncertain and shared by all its cells, so its
    # demand over families and years is over-dispersed beyond what a known partner's is: the squared
    # coefficient of variation of the rate, (Var - mean) / mean^2, exceeds every known partner's.
    totals = fc.draws.isel(family=slice(0, 8)).sum(("family", "year")).values.astype(float)
    mean, var = totals.mean(axis=0), totals.var(axis=0)
    excess = (var - mean) / mean**2
    assert excess[30] > 2 * excess[:30].max(), (excess[30], excess[:30].max())
    p_new = fc.cells["p_any_within_horizon"].sel(partner="newland", family="new_kit")
    assert 0 < p_new < 1
    # totals still add up draw by draw with the new cells in them
    np.testing.assert_allclose(fc.family_totals["mean"].values, fc.cells["mean"].sum("partner").values)


def test_new_labels_must_not_shadow_known_ids(forecaster: Forecaster) -> None:
    with pytest.raises(ForecastError, match="new_partners: \\['p01'\\] are known ids"):
        forecaster.forecast(new_partners=["p01"])


def test_new_entity_forecasts_are_reproducible(forecaster: Forecaster) -> None:
    a = forecaster.forecast(horizon=2, new_partners=["x"]).draws
    b = forecaster.forecast(horizon=2, new_partners=["x"]).draws
    np.testing.assert_array_equal(a.values, b.values)


def test_total_demand_is_the_sum_of_its_parts_draw_by_draw(forecaster: Forecaster) -> None:
    fc = forecaster.forecast(horizon=3)
    td = fc.total_demand
    new_units = fc.unit_draws.sum("partner")
    book = fc.total_draws - new_units - td["domestic"].fillna(0.0)
    # what is left after domestic plans and new LORs is the open book: firm + converted pending
    np.testing.assert_allclose(book.mean("sample").values, (td["firm"] + td["pending_expected"]).values)
    assert (book >= 0).all() and float(td["firm"].sum()) > 0 and float(td["pending_expected"].sum()) > 0
    np.testing.assert_allclose(td["mean"].values, fc.total_draws.mean("sample").values)
    np.testing.assert_allclose(td["new_lors_expected"].values, new_units.mean("sample").values)
    assert np.isfinite(td["domestic"].values).all()  # the simulated world plans every family-year


def test_line_risk_reads_the_total_demand_draws(forecaster: Forecaster) -> None:
    td = forecaster.forecast(horizon=5).total_demand
    draws = forecaster.forecast(horizon=5).total_draws
    below = (draws < td["min_sustaining_rate"]).mean("sample")
    above = (draws > td["max_rate"]).mean("sample")
    np.testing.assert_allclose(td["p_below_min"].values, below.values)
    np.testing.assert_allclose(td["p_above_max"].values, above.values)
    assert float(td["p_below_min"].max()) > 0 and float(td["p_below_min"].min()) < 1


def test_units_follow_counts(forecaster: Forecaster) -> None:
    fc = forecaster.forecast(horizon=2)
    counts, units = fc.draws.values, fc.unit_draws.values
    assert ((counts == 0) == (units == 0)).all()  # units come only with LORs
    assert (units >= counts).all()  # every LOR asks for at least one unit


def test_block_buy_sums_partners_and_years(forecaster: Forecaster) -> None:
    partners = ["p01", "p04", "p07"]
    ds = forecaster.block_buy(partners=partners, first_year=2020, last_year=2022, levels=[0.9])
    fc = forecaster.forecast(horizon=3, partners=partners)
    np.testing.assert_allclose(
        ds["mean"].sel(family="f02").values, fc.draws.sel(family="f02").sum(("partner", "year")).mean().values
    )
    np.testing.assert_allclose(
        ds["units_mean"].sel(family="all").values,
        fc.unit_draws.sum(("partner", "family", "year")).mean().values,
    )
    assert float(ds["p_any"].sel(family="all")) >= float(ds["p_any"].drop_sel(family="all").max())
    # every partner (read off the sums taken at start-up): the same as summing the cells' draws
    everyone = forecaster.block_buy(first_year=2020, last_year=2021, levels=[0.9])
    fc = forecaster.forecast(horizon=2)
    total = fc.unit_draws.sum(("partner", "year"))
    np.testing.assert_allclose(
        everyone["units_mean"].drop_sel(family="all").values, total.mean("sample").values
    )
    np.testing.assert_allclose(
        everyone["upper"].sel(family="all").values,
        np.quantile(fc.draws.sum(("partner", "family", "year")).values, 0.95, method="inverted_cdf"),
    )
    later = forecaster.block_buy(first_year=2021, last_year=2022, levels=[0.9])  # a window not at the start
    np.testing.assert_allclose(
        later["mean"].drop_sel(family="all").values,
        forecaster.forecast(horizon=3)
        .draws.sel(year=[2021, 2022])
        .sum(("partner", "year"))
        .mean("sample")
        .values,
    )
    with pytest.raises(ForecastError, match="window"):
        forecaster.block_buy(first_year=2019)


def test_a_block_buy_combines_plan_book_and_new_lors_draw_by_draw(forecaster: Forecaster) -> None:
    """The buy a line sees: domestic plan + the partners' firm and converted pending LORs + their
    forecast new LORs over the window, each source's expected units, and P(combined >= N)."""
    partners = ["p01", "p04", "p07"]
    ds = forecaster.block_buy(partners=partners, first_year=2020, last_year=2022, levels=[0.8], at_least=50)
    td = forecaster.forecast(horizon=3, partners=partners, levels=[0.8]).total_demand
    sources = ["combined_domestic", "combined_firm", "combined_pending", "combined_new_lors"]
    families = ds.drop_sel(family="all")
    # the window's total demand is the combined buy, part by part
    np.testing.assert_allclose(families["combined_mean"].values, td["mean"].sum("year").values)
    np.testing.assert_allclose(
        families["combined_domestic"].values, td["domestic"].fillna(0).sum("year").values
    )
    np.testing.assert_allclose(families["combined_firm"].values, td["firm"].sum("year").values)
    np.testing.assert_allclose(families["combined_new_lors"].values, families["units_mean"].values)
    np.testing.assert_allclose(sum(ds[k] for k in sources).values, ds["combined_mean"].values)
    np.testing.assert_allclose(
        ds["combined_mean"].sel(family="all"), families["combined_mean"].sum(), rtol=1e-12
    )
    lower = ds["combined_lower"].sel(level=0.8)
    assert (lower <= ds["combined_median"]).all() and (ds["combined_median"] <= ds["combined_upper"]).all()
    # P(combined >= N) falls as N rises, and is 1 where the plan alone reaches N
    higher = forecaster.block_buy(partners=partners, first_year=2020, last_year=2022, at_least=5000)
    assert (higher["p_at_least"] <= ds["p_at_least"]).all()
    assert float(ds["p_at_least"].sel(family="all")) >= float(ds["p_at_least"].drop_sel(family="all").max())
    assert "p_at_least" not in forecaster.block_buy(partners=partners, first_year=2020, last_year=2022)


def test_a_new_partner_in_a_known_region_borrows_from_it(forecaster: Forecaster) -> None:
    fc = forecaster.forecast(horizon=1, new_partners=[NewPartner("inside", region="Europe"), "nowhere"])
    assert str(fc.cells["partner_region"].sel(partner="inside").values) == "Europe"
    assert fc.cells["mean"].sel(partner="inside").sum() > 0
    with pytest.raises(ForecastError, match="unknown alliance"):
        forecaster.forecast(new_partners=[NewPartner("x", alliances=("WARSAW",))])


def test_every_partner_totals_read_off_the_presorted_draws_are_exact(forecaster: Forecaster) -> None:
    fc = forecaster.forecast(horizon=4, levels=[0.8], families=["f01", "f03"])
    family = fc.draws.sum("partner").values.astype(float)  # (sample, family, year)
    lower, median = np.quantile(family, [0.1, 0.5], axis=0, method="inverted_cdf")
    np.testing.assert_array_equal(fc.family_totals["median"].values, median)
    np.testing.assert_array_equal(fc.family_totals["lower"].sel(level=0.8).values, lower)
    total = fc.total_draws.values
    np.testing.assert_array_equal(
        fc.total_demand["median"].values, np.quantile(total, 0.5, axis=0, method="inverted_cdf")
    )


def test_a_fit_with_no_open_requests_forecasts(fitted) -> None:
    """The SIPRI panel has no firm or pending requests after its history: the book is empty."""
    from bayes.model import DemandModel

    empty = DemandModel(fitted.model_config, fitted.sampler_config)
    empty.idata = fitted.idata.copy()
    empty.idata["constant_data"] = xr.DataTree(fitted.coords.isel(open_lor=slice(0, 0)))
    td = Forecaster(empty, max_draws=200).forecast(horizon=2).total_demand
    assert float(td["firm"].sum()) == 0 and float(td["pending_expected"].sum()) == 0
    np.testing.assert_allclose(td["mean"].values, td["new_lors_expected"].values)


def test_damped_trend_steps() -> None:
    from bayes.terms.trend import damped_decades

    years = np.array([2021, 2022, 2023])
    np.testing.assert_allclose(damped_decades(2020, years, 2000.0, 1.0), [2.1, 2.2, 2.3])
    np.testing.assert_allclose(damped_decades(2020, years, 2000.0, 0.0), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(damped_decades(2020, years, 2000.0, 0.5), [2.05, 2.075, 2.0875])


def test_trend_damping_holds_or_extrapolates_the_family_trends(fitted) -> None:
    """Damping 1 carries each family's fitted trend on; 0 holds it: growing families grow less and
    shrinking ones shrink less, year on year, with the same draws otherwise."""
    linear = Forecaster(fitted, max_draws=400, seed=3, trend_damping=1.0).forecast(horizon=3)
    held = Forecaster(fitted, max_draws=400, seed=3, trend_damping=0.0).forecast(horizon=3)
    trend = fitted.draws.params(np.arange(fitted.draws.n))["family_trend"].mean(axis=0)

    def growth(fc, families: np.ndarray) -> float:
        # pooled over the growing (or shrinking) families: one family's count draws are too noisy
        mean = fc.draws.isel(family=np.flatnonzero(families)).sum(("partner", "family")).mean("sample")
        return float(mean.isel(year=-1) / mean.isel(year=0))

    up, down = trend > 0.05, trend < -0.05
    assert up.any() and down.any()
    assert growth(linear, up) > growth(held, up)
    assert growth(linear, down) < growth(held, down)
    with pytest.raises(ForecastError, match="trend_damping"):
        Forecaster(fitted, max_draws=10, trend_damping=1.5)


def test_mean_one_shocks_keep_the_expected_rate_where_the_state_is_carried(fitted) -> None:
    """Mean-one shocks: E[exp(state)] stays exp(rho^h * last); log-normal ones add exp(var_h / 2)."""
    fc = Forecaster(fitted, max_draws=40, seed=1)
    assert fc.dynamic_shocks == "mean_one"  # the default for new fits
    rho = fc._params["rho_dynamic"][:, None]
    sigma = fc._params["sigma_dynamic"][:, None]
    last = np.full((40, 20_000), 0.3)  # partners as Monte Carlo replicates
    h = np.arange(1, fc.max_horizon + 1)
    carried = rho[..., None] ** h * 0.3
    variance = sigma[..., None] ** 2 * (1 - rho[..., None] ** (2 * h)) / (1 - rho[..., None] ** 2)
    mean_one = np.exp(fc._roll_dynamic(np.random.default_rng(0), last)).mean(axis=1, keepdims=True)
    np.testing.assert_allclose(mean_one, np.exp(carried), rtol=0.03)
    fc.dynamic_shocks = "log_normal"
    log_normal = np.exp(fc._roll_dynamic(np.random.default_rng(0), last)).mean(axis=1, keepdims=True)
    np.testing.assert_allclose(log_normal, np.exp(carried + variance / 2), rtol=0.03)


def test_dynamic_shocks_must_be_known(fitted, tmp_path) -> None:
    from bayes.model import DemandModel, ModelFileError

    loaded = DemandModel.load(fitted.save(tmp_path / "m.nc"))
    assert Forecaster(loaded, max_draws=10).dynamic_shocks == "mean_one"
    # a file whose stored settings are not ours is refused when it is opened, naming the setting
    stored = json.loads(loaded.idata.attrs["model_config"])
    loaded.idata.attrs["model_config"] = json.dumps(stored | {"dynamic_shocks": "gaussian"})
    with pytest.raises(ModelFileError, match="dynamic_shocks"):
        DemandModel.load(loaded.save(tmp_path / "bad.nc"))
    with pytest.raises(ValueError, match="dynamic_shocks"):
        DemandModel({"dynamic_shocks": "gaussian"})


def test_future_fleets_age_a_year_a_year_unless_held(fitted, tmp_path) -> None:
    """Ageing (the default): the age covariate rises a year a year; held: it is flat over the horizon."""
    from bayes.model import DemandModel

    assert fitted.model_config["future_fleet_age"] == "ageing"
    ageing = Forecaster(fitted, max_draws=20, seed=1)
    assert ageing.components["readiness"]
    cd = ageing._cd
    units, last_age = cd["fleet_units_latest"].values, cd["fleet_mean_age_latest"].values
    present = (np.nan_to_num(units) > 0) & np.isfinite(last_age)
    assert present.any()
    aged = ageing._inputs["fleet_age"]
    step = 1.0 / ageing.scales["age"][1]
    np.testing.assert_allclose(np.diff(aged, axis=-1)[present], step, rtol=1e-5)
    # the setting is checked and frozen with the model: a model with "held" fleets is another model
    held_model = DemandModel({**fitted.model_config, "future_fleet_age": "held"}, fitted.sampler_config)
    held_model.idata = DemandModel.load(fitted.save(tmp_path / "m.nc")).idata
    held = Forecaster(held_model, max_draws=20, seed=1)._inputs["fleet_age"]
    np.testing.assert_allclose(np.diff(held, axis=-1), 0.0)
    np.testing.assert_allclose(held[..., 0], aged[..., 0])
    with pytest.raises(ValueError, match="future_fleet_age"):
        DemandModel({"future_fleet_age": "renewed"})


@pytest.mark.slow
def test_family_states_are_carried_forward_with_their_own_persistence(fitted_family_ar1) -> None:
    """Each family's AR(1) state rolls on from its last fitted year at rho_family_dynamic, with
    mean-one shocks: E[exp(state_h)] = exp(rho^h * last)."""
    fc = Forecaster(fitted_family_ar1, max_draws=40, seed=1)
    assert fc._inputs["family_dynamic"].shape == (40, len(fc.families), fc.max_horizon)
    rho = fc._params["rho_family_dynamic"][:, None]
    last = np.full((40, 20_000), -0.2)  # families as Monte Carlo replicates
    h = np.arange(1, fc.max_horizon + 1)
    rolled = fc._roll_dynamic(np.random.default_rng(0), last, kind="family_dynamic")
    mean = np.exp(rolled).mean(axis=1, keepdims=True)
    np.testing.assert_allclose(mean, np.exp(rho[..., None] ** h * -0.2), rtol=0.03)
    # the partner AR's persistence is another parameter: the family states do not use it
    assert not np.allclose(fc._params["rho_family_dynamic"], fc._params["rho_dynamic"])


def test_plans_past_the_budget_are_carried_forward_with_uncertainty(fitted) -> None:
    """A year past a family's last budget is never silently 0: the mean of its last three budgets,
    carried as a mean-one log random walk; plans labelled as assumptions are set aside."""
    probe = Forecaster(fitted, max_draws=400, seed=3)
    y0, fams = int(probe.years[0]), [str(f) for f in probe.families]
    budgets = [(fams[0], y0 - 3 + k, q, "DoD PB") for k, q in enumerate([100.0, 120.0, 110.0, 130.0])]
    flat = [(fams[1], y0 - 1 + k, 50.0, "assumption: held flat" if k else "DoD PB") for k in range(6)]
    plans = pd.DataFrame(budgets + flat, columns=["family", "fiscal_year", "quantity", "source"])
    fc = Forecaster(fitted, max_draws=400, seed=3, plans=plans)
    td = fc.forecast(horizon=5, families=fams[:3]).total_demand
    assert td["domestic_basis"].sel(family=fams[0]).values.tolist() == ["budget"] + ["carried"] * 4
    assert float(td["domestic"].sel(family=fams[0], year=y0)) == 130.0
    assert td["domestic_basis"].sel(family=fams[1]).values.tolist() == ["carried"] * 5
    assert td["domestic_basis"].sel(family=fams[2]).values.tolist() == ["none"] * 5
    assert np.isnan(td["domestic"].sel(family=fams[2]).values).all()
    assert fc.plan_sigma == DEFAULT_PLAN_SIGMA  # too few year-on-year pairs to estimate it

    draws = fc._domestic[fc.family_index[fams[0]], 1:5]  # (years past the budget, draws)
    np.testing.assert_allclose(draws.mean(axis=1), 120.0, rtol=0.15)  # mean one about (120+110+130)/3
    spread = np.log(draws).std(axis=1)
    assert np.all(np.diff(spread) > 0)
    np.testing.assert_allclose(spread, DEFAULT_PLAN_SIGMA * np.sqrt([1, 2, 3, 4]), rtol=0.2)
    np.testing.assert_allclose(fc._domestic[fc.family_index[fams[1]]].mean(axis=1), 50.0, rtol=0.2)


def test_the_carried_plans_spread_is_recovered_from_the_budgets() -> None:
    rng = np.random.default_rng(7)
    rows = [
        (f"f{i}", 2000 + t, float(q))
        for i in range(25)
        for t, q in enumerate(300 * np.exp(np.cumsum(rng.normal(0, 0.3, 12))))
    ]
    budgeted = budgeted_plans(pd.DataFrame(rows, columns=["family", "fiscal_year", "quantity"]))
    assert plan_sigma(budgeted) == pytest.approx(0.3, abs=0.03)


def test_a_planners_question_thins_the_yearly_draws_to_the_window(forecaster: Forecaster) -> None:
    """P(at least N units within M months of D): a whole year's window gives that year's draws; half a
    year under a uniform profile about half the requests; more units is never likelier."""
    year = int(forecaster.years[0])
    whole = forecaster.question("f02", 1, 12, date(year, 1, 1), partners=["p01", "p04"])
    fc = forecaster.forecast(horizon=1, partners=["p01", "p04"], families=["f02"])
    draws = fc.unit_draws.sum(("partner", "year")).sel(family="f02").values
    assert whole["expected_units"] == pytest.approx(draws.mean())
    assert whole["probability"] == pytest.approx((draws >= 1).mean())
    half = forecaster.question("f02", 1, 6, date(year, 1, 1), partners=["p01", "p04"])
    first_half = forecaster.arrival.share(year, date(year, 1, 1), date(year, 7, 1))
    assert half["window"]["share_of_each_year"] == {year: first_half}
    assert half["expected_requests"] == pytest.approx(whole["expected_requests"] * first_half, rel=0.1)
    many = forecaster.question(
        "f02", 10 * whole["expected_units"] + 1, 12, date(year, 1, 1), partners=["p01"]
    )
    assert many["probability"] <= whole["probability"]
    spanning = forecaster.question("f02", 1, 18, date(year, 7, 1), partners=["p01", "p04"])
    assert list(spanning["window"]["share_of_each_year"]) == [year, year + 1]
    assert spanning["rests_on"]["timing"] == forecaster.arrival.basis
    assert spanning["rests_on"]["data_through"] == year - 1
    assert forecaster.arrival.basis.startswith("learned from")  # the simulated world dates its LORs
    assert forecaster.question("f02", 1, 18, date(year, 7, 1), partners=["p01", "p04"]) == spanning  # seeded
    with pytest.raises(ForecastError, match="from: the window"):
        forecaster.question("f02", 1, 12, date(year - 1, 6, 1))
    with pytest.raises(ForecastError, match="within_months"):
        forecaster.question("f02", 1, 0)
    with pytest.raises(ForecastError, match="family"):
        forecaster.question("nope", 1, 12)

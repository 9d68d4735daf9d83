"""The partner-level panel variables: military budgets (partner_budget) and U.S. channels (partner_channel).

Year t of each holds the figure of year t - 1 (what was known when year t began); ``*_latest`` holds the
last panel year's. The default-dataset tests read the shipped evidence-milex.csv / evidence-sam.csv.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes.panel import BUDGET_MEASURES, CHANNEL_MEASURES, build_panel
from evidence.loaders import Dataset, default_dataset_path, load_dataset
from evidence.records import (
    MILEX_CONSTANT_USD_M,
    MILEX_SHARE_GDP_PCT,
    US_DCS_AUTHORIZATIONS_USD_M,
    US_FMS_AGREEMENTS_USD_M,
    US_FMS_NOTIFICATIONS_USD_M,
)

VARIABLES = {
    "partner_budget": ("budget_measure", "partner", "year"),
    "partner_channel": ("channel_measure", "partner", "year"),
    "partner_budget_latest": ("budget_measure", "partner"),
    "partner_channel_latest": ("channel_measure", "partner"),
}


def test_a_world_without_the_sources_gets_all_nan_variables(sim_world: Path) -> None:
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    for name, dims in VARIABLES.items():
        assert panel[name].dims == dims, name
        assert np.isnan(panel[name].values).all(), name
        assert panel[name].attrs["description"], name
    assert list(panel["budget_measure"].values) == ["milex_log", "milex_growth", "milex_share_gdp"]
    assert list(panel["channel_measure"].values) == ["fms_log", "dcs_log", "notified_log"]
    assert list(BUDGET_MEASURES) == list(panel["budget_measure"].values)
    assert list(CHANNEL_MEASURES) == list(panel["channel_measure"].values)


def _with_figures(sim_world: Path, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """The simulated world plus hand-made figures for p00 (2005-2019) and p01 (2010 only, a zero FMS)."""
    out = tmp_path / "w"
    shutil.copytree(sim_world, out)
    rows = []
    for year in range(2005, 2020):
        rows += [
            ("p00", year, MILEX_CONSTANT_USD_M, 1000.0 + 10 * year - 20000),
            ("p00", year, MILEX_SHARE_GDP_PCT, 1.0 + (year - 2005) / 10),
            ("p00", year, US_FMS_AGREEMENTS_USD_M, float(year - 2005)),
        ]
    rows += [("p01", 2010, US_FMS_AGREEMENTS_USD_M, 0.0), ("p01", 2010, US_DCS_AUTHORIZATIONS_USD_M, 12.5)]
    figures = pd.DataFrame(rows, columns=["partner", "year", "kind", "value"])
    part = figures.assign(family="", date=[f"{y}-12-31" for y in figures["year"]], source="test")
    part[["partner", "family", "date", "kind", "value", "source"]].to_csv(
        out / "evidence-test.csv", index=False
    )
    return out, figures


def test_year_t_holds_the_figure_of_t_minus_1(sim_world: Path, tmp_path: Path) -> None:
    world, figures = _with_figures(sim_world, tmp_path)
    panel = build_panel(load_dataset(world), first_year=2000)
    last = panel.attrs["last_year"]  # 2019

    def fig(partner: str, year: int, kind: str) -> float:
        hit = figures[(figures["partner"] == partner) & (figures["year"] == year) & (figures["kind"] == kind)]
        return float(hit["value"].iloc[0]) if len(hit) else np.nan

    budget = panel["partner_budget"].sel(partner="p00")
    for year in range(2000, last + 1):
        np.testing.assert_allclose(
            budget.sel(budget_measure="milex_log", year=year),
            np.log(fig("p00", year - 1, MILEX_CONSTANT_USD_M)),
        )
        np.testing.assert_allclose(
            budget.sel(budget_measure="milex_growth", year=year),
            np.log(fig("p00", year - 1, MILEX_CONSTANT_USD_M))
            - np.log(fig("p00", year - 2, MILEX_CONSTANT_USD_M)),
        )
        np.testing.assert_allclose(
            budget.sel(budget_measure="milex_share_gdp", year=year), fig("p00", year - 1, MILEX_SHARE_GDP_PCT)
        )
    # 2006 knows the 2005 figure but no growth (2004 is unknown); before 2006 nothing is known
    assert np.isnan(budget.sel(budget_measure="milex_growth", year=2006))
    assert np.isnan(budget.sel(year=slice(2000, 2005)).values).all()
    latest = panel["partner_budget_latest"].sel(partner="p00")
    np.testing.assert_allclose(
        latest.sel(budget_measure="milex_log"), np.log(fig("p00", last, MILEX_CONSTANT_USD_M))
    )
    channel = panel["partner_channel"]
    np.testing.assert_allclose(
        channel.sel(partner="p00", channel_measure="fms_log", year=2012),
        np.log1p(fig("p00", 2011, US_FMS_AGREEMENTS_USD_M)),
    )
    # a reported zero stays 0, an unreported figure stays NaN, and nothing is carried forward
    p01 = channel.sel(partner="p01")
    assert p01.sel(channel_measure="fms_log", year=2011).item() == 0.0
    assert p01.sel(channel_measure="dcs_log", year=2011).item() == pytest.approx(np.log1p(12.5))
    assert np.isnan(p01.sel(channel_measure="fms_log", year=2012).item())
    assert np.isnan(p01.sel(channel_measure="notified_log").values).all()
    assert np.isnan(panel["partner_budget"].sel(partner="p01").values).all()


def test_the_figures_change_the_panel_hash(sim_world: Path, tmp_path: Path) -> None:
    world, _ = _with_figures(sim_world, tmp_path)
    with_figures = build_panel(load_dataset(world), first_year=2000).attrs["data_hash"]
    assert with_figures != build_panel(load_dataset(sim_world), first_year=2000).attrs["data_hash"]
    assert with_figures == build_panel(load_dataset(world), first_year=2000).attrs["data_hash"]


# --- the shipped default: no look-ahead, coverage ----------------------------------------------------------


@pytest.fixture(scope="module")
def default() -> Dataset:
    return load_dataset(default_dataset_path())


def _figure(dataset: Dataset, partner: str, year: int, kind: str) -> float:
    ev = dataset.evidence
    hit = ev[(ev["partner"] == partner) & (ev["kind"] == kind) & (pd.to_datetime(ev["date"]).dt.year == year)]
    return float(hit["value"].iloc[-1]) if len(hit) else np.nan


def test_a_panel_as_of_2010_sees_no_later_figure(default: Dataset) -> None:
    as_of = build_panel(default.restrict_to(2010), first_year=1990, last_year=2010)
    # the same panel from a dataset whose post-2010 figures are all different: nothing may change
    ev = default.evidence
    later = pd.to_datetime(ev["date"]).dt.year > 2010
    scrambled = Dataset(
        default.partners,
        default.families,
        default.lors,
        ev.assign(value=np.where(later, ev["value"] * 7 + 3, ev["value"])),
        default.domestic_plans,
        default.line_capacities,
        "scrambled",
    )
    other = build_panel(scrambled, first_year=1990, last_year=2010)
    for name in VARIABLES:
        np.testing.assert_array_equal(as_of[name].values, other[name].values, err_msg=name)
    # and the full-history panel agrees with it on the years up to 2010
    full = build_panel(default, first_year=1990)
    partners = as_of["partner"].values
    for name in ("partner_budget", "partner_channel"):
        np.testing.assert_array_equal(
            full[name].sel(partner=partners, year=slice(1990, 2010)).values, as_of[name].values, err_msg=name
        )
    assert np.isfinite(as_of["partner_budget_latest"].values).any()


def test_the_2011_column_holds_the_2010_figure(default: Dataset) -> None:
    at_2010 = build_panel(default.restrict_to(2010), first_year=1990, last_year=2010)
    at_2011 = build_panel(default.restrict_to(2011), first_year=1990, last_year=2011)
    for partner, kind, measure in (
        ("korea_south", MILEX_CONSTANT_USD_M, "milex_log"),
        ("norway", MILEX_SHARE_GDP_PCT, "milex_share_gdp"),
    ):
        figure = _figure(default, partner, 2010, kind)
        expected = np.log(figure) if measure == "milex_log" else figure
        assert at_2011["partner_budget"].sel(partner=partner, budget_measure=measure, year=2011).item() == (
            pytest.approx(expected)
        )
        assert at_2010["partner_budget_latest"].sel(partner=partner, budget_measure=measure).item() == (
            pytest.approx(expected)
        )
    saudi = _figure(default, "saudi_arabia", 2010, US_FMS_AGREEMENTS_USD_M)
    assert at_2011["partner_channel"].sel(
        partner="saudi_arabia", channel_measure="fms_log", year=2011
    ).item() == (pytest.approx(np.log1p(saudi)))
    notified = _figure(default, "saudi_arabia", 2010, US_FMS_NOTIFICATIONS_USD_M)
    assert at_2010["partner_channel_latest"].sel(
        partner="saudi_arabia", channel_measure="notified_log"
    ).item() == (pytest.approx(np.log1p(notified)))
    # the panel's overlapping columns agree: latest of 2010 == column 2011 of the 2011 panel
    common = at_2010["partner"].values
    np.testing.assert_array_equal(
        at_2010["partner_budget_latest"].values,
        at_2011["partner_budget"].sel(partner=common, year=2011).values,
    )


def test_default_panel_coverage(default: Dataset) -> None:
    panel = build_panel(default, first_year=1990)
    ordered = panel["lor_count"].sum("family").values > 0  # partner-years with realised orders

    def share(name: str, dim: str, measure: str, first: int, last: int) -> tuple[float, int]:
        known = np.isfinite(panel[name].sel({dim: measure}).values)
        window = (panel["year"].values >= first) & (panel["year"].values <= last)
        mask = ordered & window[None, :]
        return float(known[mask].mean()), int(known[:, window].any(axis=1).sum())

    n = panel.sizes["partner"]
    rows = {
        "milex_log 1990-2021": share("partner_budget", "budget_measure", "milex_log", 1990, 2021),
        "milex_share_gdp 1990-2021": share("partner_budget", "budget_measure", "milex_share_gdp", 1990, 2021),
        "fms_log 2002-2017": share("partner_channel", "channel_measure", "fms_log", 2002, 2017),
        "dcs_log 2001-2019": share("partner_channel", "channel_measure", "dcs_log", 2001, 2019),
        "notified_log 2016-2021": share("partner_channel", "channel_measure", "notified_log", 2016, 2021),
    }
    for label, (fraction, partners) in rows.items():
        print(f"{label}: {fraction:.1%} of partner-years with orders known; {partners}/{n} partners with any")
    assert rows["milex_log 1990-2021"][0] > 0.9 and rows["milex_log 1990-2021"][1] >= 0.9 * n
    assert rows["milex_share_gdp 1990-2021"][0] > 0.9
    assert rows["fms_log 2002-2017"][0] > 0.7
    assert rows["dcs_log 2001-2019"][0] > 0.8
    assert rows["notified_log 2016-2021"][0] > 0.2
    # SAM covers fiscal years 1996-2020 only: the 1990s are (almost) all unknown, the last year fully so
    assert np.isnan(
        panel["partner_channel"].sel(channel_measure="fms_log", year=slice(1990, 2001)).values
    ).all()
    assert np.isnan(panel["partner_channel_latest"].values).all()  # 2021 figures: beyond SAM
    assert np.isfinite(panel["partner_budget_latest"].sel(budget_measure="milex_log").values).mean() > 0.85

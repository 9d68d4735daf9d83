from __future__ import annotations

import json
from pathlib import Path

from totaldemand.cli import app


def test_simulate_writes_loader_formats_and_truth(sim_world: Path, sim_truth: dict) -> None:
    for name in ("partners", "families", "lors", "evidence", "domestic_plans", "line_capacities"):
        assert (sim_world / f"{name}.csv").is_file()
    assert set(sim_truth["params"]) >= {"intercept", "sigma_partner", "dispersion"}


def test_forecast_json_from_a_posterior_file(fitted_path: Path, cli) -> None:
    result = cli.invoke(
        app,
        [
            "forecast",
            "--model",
            str(fitted_path),
            "--horizon",
            "2",
            "--level",
            "0.9",
            "--family",
            "f01",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {c["year"] for c in data["cells"]} == {2020, 2021}
    assert all(c["family"] == "f01" for c in data["cells"])


def test_forecast_table_and_bad_ids(fitted_path: Path, cli) -> None:
    ok = cli.invoke(app, ["forecast", "--model", str(fitted_path), "--horizon", "1"])
    assert ok.exit_code == 0 and "New LORs per family and year" in ok.stdout
    bad = cli.invoke(app, ["forecast", "--model", str(fitted_path), "--partner", "atlantis"])
    assert bad.exit_code == 2 and "atlantis" in bad.output


def test_missing_model_file_exits_2(tmp_path: Path, cli) -> None:
    result = cli.invoke(app, ["forecast", "--model", str(tmp_path / "none.nc")])
    assert result.exit_code == 2 and "totaldemand fit" in result.output


def test_default_dataset_describes(cli) -> None:
    result = cli.invoke(app, ["data", "describe"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["partners"] > 100 and info["families"] >= 20 and info["zero_share"] > 0.9


def test_serve_refuses_a_failed_fit(failed_path: Path, cli) -> None:
    result = cli.invoke(app, ["serve", "--model", str(failed_path), "--port", "1"])
    assert result.exit_code == 2 and "never served" in result.output


def test_priors_check_reports_every_family(sim_world: Path, cli) -> None:
    result = cli.invoke(
        app,
        [
            "priors",
            "check",
            "--data",
            str(sim_world),
            "--first-year",
            "2000",
            "--draws",
            "100",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["family"] for r in rows] == [f"f{i:02d}" for i in range(8)]
    for r in rows:
        for m in ("lors", "units"):
            assert r[f"{m}_observed_min"] <= r[f"{m}_observed_median"] <= r[f"{m}_observed_max"]
            assert r[f"{m}_prior_q05"] <= r[f"{m}_prior_q50"] <= r[f"{m}_prior_q95"]
            # the shipped priors neither miss nor pin the data
            assert 0 < r[f"{m}_prior_share_in_observed_range"] < 1


def test_priors_check_refuses_a_bad_prior_file(cli) -> None:
    bad = Path(__file__).parent / "fixtures" / "priors" / "negative_sigma.toml"
    result = cli.invoke(app, ["priors", "check", str(bad)])
    assert result.exit_code == 2 and "sigma = -1.0 must be > 0" in result.output


def test_forecast_table_shows_total_demand_and_block_buy(fitted_path: Path, sim_world: Path, cli) -> None:
    result = cli.invoke(
        app, ["forecast", "--model", str(fitted_path), "--data", str(sim_world), "--horizon", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "Total demand" in result.stdout and "P(<min)" in result.stdout
    block = cli.invoke(
        app,
        [
            "block-buy",
            "--model",
            str(fitted_path),
            "--partner",
            "p01",
            "--partner",
            "p02",
            "--from",
            "2020",
            "--to",
            "2021",
        ],
    )
    assert block.exit_code == 0 and "Block buy 2020-2021, 2 partner(s)" in block.stdout
    bad = cli.invoke(app, ["block-buy", "--model", str(fitted_path), "--from", "1990"])
    assert bad.exit_code == 2 and "window" in bad.output


def test_fit_refuses_an_unknown_component(cli) -> None:
    result = cli.invoke(app, ["fit", "--without", "astrology"])
    assert result.exit_code == 2 and "astrology" in result.output and "dynamics" in result.output


def test_backtest_of_baselines_and_its_bad_input(sim_world: Path, tmp_path: Path, cli) -> None:
    args = ["backtest", "--panel", str(sim_world), "--first-year", "2000", "--samples", "200", "--out"]
    result = cli.invoke(
        app,
        [*args, str(tmp_path), "--origins", "2015..2016", "--horizon", "2", "--models", "climatology,pooled"],
    )
    assert result.exit_code == 0, result.output
    assert "family_year" in result.output and (tmp_path / "scores.json").is_file()
    bad = cli.invoke(app, [*args, str(tmp_path), "--models", "oracle"])
    assert bad.exit_code == 2 and "oracle" in bad.output
    assert cli.invoke(app, [*args, str(tmp_path), "--origins", "soon"]).exit_code == 2

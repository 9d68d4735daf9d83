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
    assert ok.exit_code == 0 and "Family totals" in ok.stdout
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


def test_serve_refuses_a_failed_fit(fitted, tmp_path: Path, cli) -> None:
    from bayes.model import DemandModel

    failed = DemandModel.load(fitted.save(tmp_path / "failed.nc"))
    failed.idata.attrs["status"] = "failed"
    failed.save(tmp_path / "failed.nc")
    result = cli.invoke(app, ["serve", "--model", str(tmp_path / "failed.nc"), "--port", "1"])
    assert result.exit_code == 2 and "never served" in result.output

"""The ablation table reads backtest runs' scores.nc and sets each variant against the reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from validation.ablation import AblationError, main, read_scores, table


def write_run(path: Path, scores: dict[str, dict[str, float]]) -> Path:
    """A run directory whose scores.nc holds family-year CRPS ``scores[model][origin]``."""
    models = sorted(scores)
    origins = sorted({o for by in scores.values() for o in by})
    values = np.full((len(models), 1, len(origins), 2), np.nan)
    for i, model in enumerate(models):
        for j, origin in enumerate(origins):
            values[i, 0, j, 0] = scores[model].get(origin, np.nan)
    coords = {"model": models, "level": ["family_year"], "origin": origins, "metric": ["crps", "brier"]}
    ds = xr.Dataset({"score": (("model", "level", "origin", "metric"), values)}, coords=coords)
    path.mkdir()
    ds.to_netcdf(path / "scores.nc")
    return path


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    variant = write_run(
        tmp_path / "variant", {"ours": {"2010": 9.0}, "ours[waves=on]": {"2010": 1.1, "2011": 0.9}}
    )
    full = write_run(
        tmp_path / "full",
        {
            "ours": {"2010": 1.0, "2011": 1.0, "all": 1.0},
            "ours[waves=on]": {"2010": 5.0},
            "tsb": {"2010": 1.2, "2011": 0.8, "all": 1.0},
        },
    )
    return [variant, full]


def test_first_run_wins_and_changes_are_against_the_reference(runs: list[Path]) -> None:
    scores = read_scores(runs[::-1], "family_year", "crps")
    assert scores[("ours", "2010")] == 1.0 and scores[("ours[waves=on]", "2010")] == 5.0
    lines = table(read_scores([runs[1], runs[0]], "family_year", "crps"), "ours", ["ours[waves=on]"], ["tsb"])
    assert lines[2] == "| 2010 | 5.000 (+400.0%) | 1.000 | 1.200 (tsb) |"
    assert lines[3] == "| 2011 | 0.9000 (-10.0%) | 1.000 | 0.8000 (tsb) |"


def test_summary_rows_cover_only_origins_every_model_has(runs: list[Path]) -> None:
    lines = table(read_scores([runs[1], runs[0]], "family_year", "crps"), "ours", ["ours[waves=on]"], ["tsb"])
    assert lines[4] == "| mean of 2 origins | 2.950 (+195.0%) | 1.000 | 1.000 (tsb) |"
    # the variant has no pooled figure of the backtest's own, so none is printed
    assert len(lines) == 5


def test_unknown_models_and_levels_are_named(runs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    scores = read_scores(runs, "family_year", "crps")
    with pytest.raises(AblationError, match=r"ours\[recency=own\]"):
        table(scores, "ours", ["ours[recency=own]"], ["tsb"])
    with pytest.raises(AblationError, match="'cell'"):
        read_scores(runs, "cell", "crps")
    assert main([str(runs[0].parent / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main([*map(str, runs), "--variants", "ours[waves=on]", "--baselines", "tsb"]) == 0
    assert "| 2011 | 0.9000 (-10.0%)" in capsys.readouterr().out

"""Production lines from the P-21 exhibits, and how the system catalogue names them."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest

from evidence.lines import LinesError, default_lines_path, load_lines
from evidence.systems import load_catalogue


def test_every_line_a_system_names_has_rates_and_every_line_builds_a_system() -> None:
    lines = load_lines()
    named = {s.line for s in load_catalogue().systems if s.line}
    assert named == set(lines.index)


def test_rates_are_per_year_and_ordered() -> None:
    lines = load_lines()
    assert (lines["min_sustaining_rate"] > 0).all()
    assert (lines["min_sustaining_rate"] <= lines["max_rate"]).all()
    assert ((lines["rate_1_8_5"] <= lines["max_rate"]) | (lines["rate_1_8_5"] == 0)).all()
    # per-month figures were scaled: GMLRS's 90/250/500 a month (the Army alone bought 1,766 in a year)
    assert lines.loc["gmlrs", ["min_sustaining_rate", "max_rate"]].tolist() == [1080, 6000]
    assert (lines["dod_quantity"].dropna() <= lines.loc[lines["dod_quantity"].notna(), "max_rate"]).all()


def test_the_lines_follow_the_reviewed_sources() -> None:
    sources = pd.read_csv(Path(str(files("evidence") / "default_data" / "production_line_sources.csv")))
    lines = load_lines()
    assert sources["line"].tolist() == lines.index.tolist()
    assert sources["scale"].tolist() == lines["scale"].tolist()
    assert sources["budget_year"].tolist() == lines["budget_year"].tolist()
    assert lines["review"].str.len().gt(10).all()


def test_a_bad_lines_table_is_refused_naming_row_and_field(tmp_path: Path) -> None:
    table = pd.read_csv(default_lines_path(), dtype={"line_item_number": str})
    bad = table.copy()
    bad.loc[2, "max_rate"] = bad.loc[2, "min_sustaining_rate"] - 1
    bad.to_csv(tmp_path / "lines.csv", index=False)
    with pytest.raises(LinesError, match=r"row 4 \(.*\): min_sustaining_rate .* above max_rate"):
        load_lines(tmp_path / "lines.csv")
    bad = table.copy()
    bad.loc[0, "production_lead_months"] = 500
    bad.to_csv(tmp_path / "lines.csv", index=False)
    with pytest.raises(LinesError, match=r"row 2 .*production_lead_months 500"):
        load_lines(tmp_path / "lines.csv")
    table.drop(columns="max_rate").to_csv(tmp_path / "lines.csv", index=False)
    with pytest.raises(LinesError, match="missing columns max_rate"):
        load_lines(tmp_path / "lines.csv")

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evidence.loaders import LoadError, load_dataset, load_table
from evidence.records import EVIDENCE, LORS, PARTNERS
from totaldemand.cli import app

GOOD_LORS = (
    "id,partner,family,received,status,quantity,designation,estimated_value_usd,source\n"
    "a1,p00,f00,2019-03-01,executed,12,F-16V,1.2e9,test\n"
    "a2,p01,f01,2020-07-01,pending,,AIM-120,,test\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_parquet_and_json_give_the_same_table(tmp_path: Path) -> None:
    csv = load_table(write(tmp_path / "lors.csv", GOOD_LORS), LORS)
    pd.read_csv(tmp_path / "lors.csv", dtype=str, keep_default_na=False).to_parquet(tmp_path / "lors.parquet")
    records = pd.read_csv(tmp_path / "lors.csv", dtype=str, keep_default_na=False).to_dict(orient="records")
    write(tmp_path / "lors.json", json.dumps(records))
    write(tmp_path / "lors.jsonl", "\n".join(json.dumps(r) for r in records))
    for other in ("lors.parquet", "lors.json", "lors.jsonl"):
        pd.testing.assert_frame_equal(csv, load_table(tmp_path / other, LORS))
    assert csv["quantity"].tolist()[0] == 12
    assert pd.isna(csv["quantity"].tolist()[1])
    assert csv["status"].tolist() == ["executed", "pending"]


@pytest.mark.parametrize(
    ("row", "column", "value", "reason"),
    [
        ("a3,p00,f00,2019-13-01,executed,1,,,", "received", "2019-13-01", "not an ISO date"),
        ("a3,p00,f00,2019-01-01,accepted,1,,,", "status", "accepted", "not one of"),
        ("a3,p00,f00,2019-01-01,firm,-4,,,", "quantity", "-4", "must not be negative"),
        ("a3,p00,f00,2019-01-01,firm,2.5,,,", "quantity", "2.5", "not an integer"),
        ("a3,,f00,2019-01-01,firm,1,,,", "partner", "", "required value is empty"),
        ("a1,p00,f00,2019-01-01,firm,1,,,", "id", "id='a1'", "duplicate key"),
        ("a3,p00,f00,2019-01-01,firm,9223372036854775808,,,", "quantity", "9223372036854775808", "between 0"),
        ("a3,p00,f00,2019-01-01,firm,1" + "0" * 30 + ",,,", "quantity", "1" + "0" * 30, "between 0"),
        ("a3,p00,f00,2019-01-01,firm,nan,,,", "quantity", "nan", "not an integer"),
        ("a3,p00,f00,1850-01-01,firm,1,,,", "received", "1850-01-01", "from 1900-01-01 to 2100-12-31"),
        ("a3,p00,f00,9999-12-31,firm,1,,,", "received", "9999-12-31", "from 1900-01-01 to 2100-12-31"),
        ("a3,p00,f00,2019-01-01,firm,1,F-16\x00,,", "designation", "F-16\x00", "control character"),
        ("a3,p00,f00,2019-01-01,firm,1,," + "9" * 14 + ",", "estimated_value_usd", "9" * 14, "between 0"),
        ("a" + "x" * 200 + ",p00,f00,2019-01-01,firm,1,,,", "id", "a" + "x" * 200, "longer than 128"),
    ],
)
def test_bad_rows_are_named_by_file_row_column_value_and_reason(
    tmp_path: Path, row: str, column: str, value: str, reason: str
) -> None:
    path = write(tmp_path / "lors.csv", GOOD_LORS + row + "\n")
    with pytest.raises(LoadError) as info:
        load_table(path, LORS)
    (problem,) = info.value.problems
    assert problem.file == str(path)
    assert problem.row == 4  # header is line 1, the bad row is the file's 4th line
    assert problem.column == column
    assert str(problem.value) == value or value in str(problem.value)
    assert reason in problem.reason
    assert f"row 4, column '{column}'" in str(info.value)


def test_a_negative_mention_count_is_refused_but_other_evidence_may_be_negative(tmp_path: Path) -> None:
    header = "partner,family,date,kind,value,source\n"
    fine = "p00,f00,2019-01-01,readiness_trend,-0.4,test\np00,f00,2019-01-01,nlp_mention,2,test\n"
    assert len(load_table(write(tmp_path / "evidence.csv", header + fine), EVIDENCE)) == 2
    path = write(tmp_path / "evidence.csv", header + fine + "p01,f01,2019-02-01,nlp_mention,-1,test\n")
    with pytest.raises(LoadError) as info:
        load_table(path, EVIDENCE)
    (problem,) = info.value.problems
    assert (problem.row, problem.column, str(problem.value)) == (4, "value", "-1")
    assert "nlp_mention value must be between 0 and" in problem.reason


def test_missing_required_column_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "partners.csv", "id,name\np00,Partner\n")
    with pytest.raises(LoadError, match=r"column 'region'.*required column missing"):
        load_table(path, PARTNERS)


def test_unreadable_json_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="cannot be read"):
        load_table(write(tmp_path / "lors.json", "[{"), LORS)
    with pytest.raises(LoadError, match="list of objects"):
        load_table(write(tmp_path / "lors.json", '{"a": 1}'), LORS)


def test_dataset_cross_references_are_checked(sim_world: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(sim_world, broken)
    lors = pd.read_csv(broken / "lors.csv", dtype=str, keep_default_na=False)
    lors.loc[3, "family"] = "no_such_family"
    lors.to_csv(broken / "lors.csv", index=False)
    with pytest.raises(LoadError) as info:
        load_dataset(broken)
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (4, "family", "no_such_family")
    assert "unknown family id" in problem.reason


def test_simulated_world_loads_whole(sim_world: Path) -> None:
    from bayes.simulate import WorldSpec

    ds = load_dataset(sim_world)
    assert len(ds.partners) == WorldSpec.partners and len(ds.families) == WorldSpec.families
    assert set(ds.lors["status"]) == {"executed", "firm", "pending", "withdrawn"}
    assert {"nlp_mention", "readiness_fleet_units", "readiness_fleet_mean_age"} <= set(ds.evidence["kind"])
    assert len(ds.domestic_plans) == 8 * 5 and len(ds.line_capacities) == 8


def test_cli_bad_input_exits_2_with_a_clear_message(sim_world: Path, tmp_path: Path, cli) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(sim_world, broken)
    (broken / "partners.csv").write_text("id,name,region\np00,,Europe\n", encoding="utf-8")
    result = cli.invoke(app, ["data", "describe", "--data", str(broken)])
    assert result.exit_code == 2
    assert "partners.csv, row 2, column 'name'" in result.output
    assert "Traceback" not in result.output

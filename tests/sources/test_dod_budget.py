"""DoD P-1 line items → domestic plans and assumed line capacities (sources.dod_budget).

Self-contained: tests/sources/fixtures/dod holds a P-1 excerpt in the real 163-column layout (hand-made
rows) and a small LORS table. Only `test_rebuild_from_real_file_matches_shipped` reads ../shared and skips
without it.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evidence import taxonomy
from evidence.loaders import LoadError, default_dataset_path, load_dataset, load_table
from evidence.records import DOMESTIC_PLANS, LINE_CAPACITIES
from sources import dod_budget

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "dod"
EXCERPT = FIXTURES / "p1_lineitems_excerpt.csv"
FIXTURE_LORS = FIXTURES / "lors.csv"
DEFAULT_DATASET = REPO / "evidence" / "default_data" / "sipri_us"
REAL_BUDGET = (
    REPO.parent
    / "shared"
    / "data"
    / "raw"
    / "dod_procurement_lineitems_pb2013_2017"
    / "dod_procurement_lineitems_resource_summary_pb2013_2017.csv"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dod_budget.BuildSummary]:
    """The fixture excerpt built into a copy of the default dataset's partners and families."""
    out = tmp_path_factory.mktemp("dod")
    for name in ("partners.csv", "families.csv"):
        shutil.copy(DEFAULT_DATASET / name, out / name)
    shutil.copy(FIXTURE_LORS, out / "lors.csv")
    (out / "SOURCE.md").write_text("# Fixture dataset\n\nSIPRI part.\n", encoding="utf-8")
    summary = dod_budget.build(EXCERPT, out / "lors.csv", out)
    return out, summary


@pytest.fixture(scope="module")
def plans(built: tuple[Path, dod_budget.BuildSummary]) -> pd.DataFrame:
    return load_table(built[0] / "domestic_plans.csv", DOMESTIC_PLANS)


@pytest.fixture(scope="module")
def capacities(built: tuple[Path, dod_budget.BuildSummary]) -> pd.DataFrame:
    return load_table(built[0] / "line_capacities.csv", LINE_CAPACITIES).set_index("family")


def _series(plans: pd.DataFrame, family: str) -> dict[int, float]:
    rows = plans[plans["family"] == family]
    return dict(zip(rows["fiscal_year"].astype(int), rows["quantity"], strict=True))


def _source(plans: pd.DataFrame, family: str, year: int) -> str:
    return str(plans[(plans["family"] == family) & (plans["fiscal_year"] == year)]["source"].iloc[0])


def test_only_mapped_end_items_count(plans: pd.DataFrame) -> None:
    # "F-35 Modifications" (not in the table), "Modification Of In Svc Equip" (mixed units, empty family),
    # the advance-procurement MH-60R rows and the Joint Strike Fighter CV row in "Lots" add nothing.
    assert set(plans["family"]) == {"fighter_aircraft", "naval_helicopter", "uav"}
    assert _series(plans, "naval_helicopter") == {
        2014: 19,
        2015: 29,
        2016: 29,
        2017: 0,
        2018: 0,
        2019: 0,
        2020: 0,
    }
    assert max(plans["quantity"]) < 99


def test_newest_budget_wins_and_lines_sum_per_family(plans: pd.DataFrame) -> None:
    fighters = _series(plans, "fighter_aircraft")
    # FY2016: PB2016 requested 44 F-35A, PB2017 says 47 were enacted; plus 15 F-35B and 0 F/A-18E/F.
    assert fighters[2016] == 47 + 15
    assert (
        _source(plans, "fighter_aircraft", 2016)
        == "DoD PB2017 P-1, CurrentYear; DoD PB2016 P-1, BudgetYearOne"
    )
    # FY2014 is only in PB2016's window: 19 F-35A and 21 F/A-18E/F.
    assert fighters[2014] == 19 + 21
    assert _source(plans, "fighter_aircraft", 2014) == "DoD PB2016 P-1, PriorYear"
    # PB2017's F/A-18E/F row carries no quantity, so PB2016 (blank = zero inside its window) still speaks.
    assert fighters[2015] == 28 + 6 + 0
    assert fighters[2020] == 48 + 20 + 0
    # FY2021 is beyond PB2016's window: F-35A and F-35B only.
    assert fighters[2021] == 60 + 21
    assert _source(plans, "fighter_aircraft", 2021) == "DoD PB2017 P-1, BudgetYearFive"
    assert 2013 not in fighters


def test_amended_budget_outranks_pb_of_same_year(plans: pd.DataFrame) -> None:
    uav = _series(plans, "uav")
    # The amendment's BudgetYearOne total is blank: base 15 + OCO 4.
    assert uav == {2012: 29, 2013: 19, 2014: 19, 2015: 15, 2016: 0, 2017: 0, 2018: 0}
    assert _source(plans, "uav", 2014) == "DoD PB2014 amended P-1, BudgetYearOne"


def test_last_budget_year_held_flat_and_labelled(plans: pd.DataFrame, built) -> None:
    _, summary = built
    fighters = plans[plans["family"] == "fighter_aircraft"].set_index("fiscal_year")
    for year in range(2022, 2027):
        assert fighters.at[year, "quantity"] == 81
        assert (
            fighters.at[year, "source"]
            == "assumption: FY2021 quantity (DoD PB2017 P-1, BudgetYearFive) held flat"
        )
    budget_rows = plans[~plans["source"].str.startswith("assumption:")]
    assert budget_rows["source"].str.fullmatch(r"DoD PB\d{4}( amended)? P-1, \w+(; .+)?").all()
    assert budget_rows["fiscal_year"].max() == 2021
    # Families whose budgets stop before FY2021 get no carried rows rather than a guessed figure.
    assert plans[plans["family"].isin(["uav", "naval_helicopter"])]["fiscal_year"].max() < 2021
    assert summary.families_without_last_year == ["naval_helicopter", "uav"]


def test_capacity_rule(capacities: pd.DataFrame) -> None:
    # fighter_aircraft FY2013–FY2021: domestic 0, 40, 34, 62, 59, 64, 68, 68, 81; foreign 10 (2015) and
    # 5 (2020); the withdrawn 2018 order, the 2012 order and the order without a quantity add nothing.
    totals = [0, 40, 34 + 10, 62, 59, 64, 68, 68 + 5, 81]
    assert sum(totals) / 9 * 0.5 == pytest.approx(27.28, abs=0.01)
    assert capacities.at["fighter_aircraft", "min_sustaining_rate"] == 27
    assert capacities.at["fighter_aircraft", "max_rate"] == 120  # 1.5 × 81 = 121.5 → 2 significant figures
    # naval_helicopter: (19 + 29 + 29 + 4 foreign) / 9 / 2 = 4.5; 1.5 × 33 = 49.5 → 50.
    assert capacities.at["naval_helicopter", "min_sustaining_rate"] == 4.5
    assert capacities.at["naval_helicopter", "max_rate"] == 50
    # uav: (19 + 19 + 15) / 9 / 2 = 2.94 → 2.9; 1.5 × 19 = 28.5 → 29.
    assert capacities.at["uav", "min_sustaining_rate"] == 2.9
    assert capacities.at["uav", "max_rate"] == 29
    assert capacities["source"].str.startswith("assumption").all()
    assert (capacities["min_sustaining_rate"] <= capacities["max_rate"]).all()


def test_built_dataset_loads(built) -> None:
    out, _ = built
    dataset = load_dataset(out)
    assert set(dataset.line_capacities["family"]) == set(dataset.domestic_plans["family"])


def test_source_section_replaced_not_duplicated(built) -> None:
    out, _ = built
    dod_budget.build(EXCERPT, out / "lors.csv", out)
    text = (out / "SOURCE.md").read_text(encoding="utf-8")
    assert text.startswith("# Fixture dataset\n\nSIPRI part.\n")
    assert text.count(dod_budget.SECTION_BEGIN) == 1
    assert "540co/dod-president-budget-procurement-rdte-data" in text
    assert "| fighter_aircraft | 8 | 5 | 81 | 27 | 120 |" in text


def _write_without(column: str, path: Path) -> None:
    frame = pd.read_csv(EXCERPT, dtype=str, keep_default_na=False)
    frame.drop(columns=[column]).to_csv(path, index=False)


@pytest.mark.parametrize("column", ["Quantity__BudgetYearThree", "meta_budget_cycle", "LineItemTitle"])
def test_missing_column_is_named(column: str, tmp_path: Path) -> None:
    budget = tmp_path / "budget.csv"
    _write_without(column, budget)
    with pytest.raises(LoadError) as info:
        dod_budget.read_budget(budget)
    assert f"column '{column}'" in str(info.value)
    assert str(budget) in str(info.value)


def test_cli_exits_2_with_message_on_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    budget = tmp_path / "budget.csv"
    _write_without("Quantity__PriorYear", budget)
    code = dod_budget.main(
        ["--budget", str(budget), "--lors", str(FIXTURE_LORS), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    assert "Quantity__PriorYear" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as info:
        dod_budget.main(["--budget", str(budget)])
    assert info.value.code == 2


def test_bad_quantity_and_cycle_are_reported(tmp_path: Path) -> None:
    frame = pd.read_csv(EXCERPT, dtype=str, keep_default_na=False)
    frame.loc[0, "Quantity__CurrentYear"] = "many"
    frame.loc[1, "meta_budget_cycle"] = "PBX"
    budget = tmp_path / "budget.csv"
    frame.to_csv(budget, index=False)
    with pytest.raises(LoadError) as info:
        dod_budget.statements(dod_budget.read_budget(budget), dod_budget.read_mapping())
    message = str(info.value)
    assert "row 2, column 'Quantity__CurrentYear': value 'many': not a number" in message
    assert "row 3, column 'meta_budget_cycle'" in message


def test_title_matching_two_mapping_rows_is_an_error(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.csv"
    shutil.copy(dod_budget.DEFAULT_MAPPING, mapping)
    with mapping.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(["Air Force", "F-3\\d", "fighter_aircraft", "overlap"])
    with pytest.raises(LoadError, match="matches mapping rows"):
        dod_budget.statements(dod_budget.read_budget(EXCERPT), dod_budget.read_mapping(mapping))


def test_mapping_table_is_valid_and_documented() -> None:
    rules = dod_budget.read_mapping()
    assert all(r.note for r in rules), "every mapping row says why"
    assert {r.family for r in rules if r.family} <= set(taxonomy.FAMILY_BY_ID)
    # Lines left out on purpose say so.
    assert all(r.note.startswith("left out") for r in rules if not r.family)
    keys = [(r.service, r.pattern.pattern.lower()) for r in rules]
    assert len(keys) == len(set(keys))


def test_round_significant() -> None:
    assert dod_budget.round_significant(121.5) == 120
    assert dod_budget.round_significant(0.0) == 0
    assert dod_budget.round_significant(28.5) == 29
    assert dod_budget.round_significant(2.9444) == 2.9
    assert dod_budget.round_significant(86_250) == 86_000


def test_shipped_default_files_load_with_known_families() -> None:
    dataset = load_dataset(default_dataset_path())
    plans, caps = dataset.domestic_plans, dataset.line_capacities
    assert not plans.empty and not caps.empty
    assert set(plans["family"]) <= set(taxonomy.FAMILY_BY_ID)
    assert set(caps["family"]) == set(plans["family"])
    assert plans["fiscal_year"].min() == 2011 and plans["fiscal_year"].max() == 2026
    carried = plans[plans["fiscal_year"] > 2021]
    assert carried["source"].str.startswith("assumption: FY2021 quantity").all()
    assert not plans[plans["fiscal_year"] <= 2021]["source"].str.startswith("assumption").any()
    assert caps["source"].str.startswith("assumption").all()
    assert (caps["min_sustaining_rate"] <= caps["max_rate"]).all()
    source = (default_dataset_path() / "SOURCE.md").read_text(encoding="utf-8")
    assert source.count(dod_budget.SECTION_BEGIN) == 1


@pytest.mark.skipif(not REAL_BUDGET.is_file(), reason="needs ../shared/data/raw/dod_procurement_lineitems_*")
def test_rebuild_from_real_file_matches_shipped(tmp_path: Path) -> None:
    dod_budget.build(REAL_BUDGET, DEFAULT_DATASET / "lors.csv", tmp_path)
    for name in ("domestic_plans.csv", "line_capacities.csv"):
        assert (tmp_path / name).read_bytes() == (DEFAULT_DATASET / name).read_bytes(), name
    section = re.compile(
        re.escape(dod_budget.SECTION_BEGIN) + ".*?" + re.escape(dod_budget.SECTION_END), re.S
    )
    rebuilt = section.search((tmp_path / "SOURCE.md").read_text(encoding="utf-8"))
    shipped = section.search((DEFAULT_DATASET / "SOURCE.md").read_text(encoding="utf-8"))
    assert rebuilt is not None and shipped is not None
    assert rebuilt.group(0) == shipped.group(0)

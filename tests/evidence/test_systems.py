"""The system catalogue: what it covers, how designations map, and catalogue files it refuses."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evidence.loaders import default_dataset_path
from evidence.systems import (
    COLUMNS,
    CatalogueError,
    coverage,
    default_aliases_path,
    load_catalogue,
    parse_catalogue,
)
from evidence.taxonomy import FAMILY_BY_ID

HEADER = ",".join(COLUMNS) + "\n"


@pytest.fixture(scope="module")
def lors() -> pd.DataFrame:
    return pd.read_csv(default_dataset_path() / "lors.csv", dtype={"designation": str})


def test_the_catalogue_covers_four_fifths_of_us_orders_since_2000(lors: pd.DataFrame) -> None:
    assert coverage(lors, load_catalogue(), since=2000, until=2021) >= 0.80


def test_every_system_sits_in_a_known_family_and_matches_some_designation() -> None:
    catalogue = load_catalogue()
    aliases = pd.read_csv(default_aliases_path(), keep_default_na=False)
    assert all(s.family in FAMILY_BY_ID for s in catalogue.systems)
    assert {s.id for s in catalogue.systems} <= set(aliases["system"])


def test_the_reviewed_alias_table_is_what_the_catalogue_gives_now() -> None:
    """system_aliases.csv (written by scripts/build_systems.py) must not go stale when the catalogue
    changes: every SIPRI designation in it maps, with its family, as the table says."""
    catalogue = load_catalogue()
    table = pd.read_csv(default_aliases_path(), keep_default_na=False)
    sipri = table[table["source"] == "sipri"]
    now = catalogue.assign(sipri["designation"], sipri["family"]).fillna("")
    stale = sipri[now != sipri["system"]]
    assert stale.empty, stale.head(10).to_string()
    dsca = table[table["source"] == "dsca"]
    assert [catalogue.system_for(d) or "" for d in dsca["designation"]] == dsca["system"].tolist()


@pytest.mark.parametrize(
    ("designation", "family", "system"),
    [
        ("HIMARS", "rocket_artillery", "himars"),
        ("M-270 MLRS", "rocket_artillery", "mlrs"),
        ("MIM-104 PAC-3 MSE", "sam", "patriot_pac3"),
        ("Patriot Configuration-3", "air_defence_system", "patriot"),
        ("AIM-120C AMRAAM", "air_to_air_missile", "amraam"),
        ("AMRAAM-ER", "sam", "amraam_er"),  # NASAMS' interceptor is not the air-to-air AMRAAM
        ("F-16C Block-50", "fighter_aircraft", "f16"),
        ("F-35A Lightning-2", "fighter_aircraft", "f35"),
        ("King Air-350 ISR", "special_mission_aircraft", "king_air_isr"),
        ("King Air", "light_aircraft", "king_air"),
        ("M-109 chassis", "other_armoured_vehicles", None),  # a howitzer's chassis is not a howitzer
        ("aircraft engine", "aircraft_engine", None),  # SIPRI's generic designations name no system
    ],
)
def test_designations_map_within_their_family(designation: str, family: str, system: str | None) -> None:
    assert load_catalogue().system_for(designation, family) == system


def test_dsca_item_wording_maps_to_the_same_systems() -> None:
    catalogue = load_catalogue()
    assert catalogue.system_for("M142 HIMARS launcher") == "himars"
    assert catalogue.system_for("AIM-120C-7 AMRAAM") == "amraam"
    assert catalogue.system_for("PATRIOT MIM-104E GEM-T") == "patriot_pac2"
    assert catalogue.system_for("AN/TPY-2 radar") == "thaad"


def test_assign_gives_a_system_per_row_and_none_where_unnamed() -> None:
    catalogue = load_catalogue()
    designations = pd.Series(["Javelin", None, "vehicle engine", "FGM-148 Javelin"], index=[4, 5, 6, 7])
    families = pd.Series(
        ["anti_tank_missile"] * 2 + ["vehicle_engine", "anti_tank_missile"], index=[4, 5, 6, 7]
    )
    out = catalogue.assign(designations, families)
    assert out.index.tolist() == [4, 5, 6, 7]
    assert out.tolist() == ["javelin", None, None, "javelin"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("system,name\nx,y\n", "header"),
        (HEADER + "Bad Id,X,sam,,x,\n", "row 2, system 'Bad Id'"),
        (HEADER + "a,A,sam,,x,\na,B,sam,,y,\n", "row 3, system 'a': given twice"),
        (HEADER + "a,A,not_a_family,,x,\n", "row 2, family 'not_a_family'"),
        (HEADER + "a,A,sam,Line 1,x,\n", "row 2, line 'Line 1'"),
        (HEADER + "a,A,sam,,(unclosed,\n", "row 2, aliases '(unclosed': not a regular expression"),
        (HEADER + "a,A,sam,,x|,\n", "matches the empty designation"),
        (HEADER + "a,A,sam,, ,\n", "row 2, aliases ' ': empty"),
        (HEADER + "a,A,sam,,x\n", "row 2: expected 6 fields"),
        (HEADER, "no systems"),
    ],
)
def test_a_bad_catalogue_is_refused_naming_row_field_and_reason(text: str, needle: str) -> None:
    with pytest.raises(CatalogueError, match=r"^catalogue") as error:
        parse_catalogue(text)
    assert needle in str(error.value)


def test_a_catalogue_file_is_read_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "systems.csv"
    path.write_text(HEADER + "hawk_missile,HAWK,sam,,mim-23|hawk,old\n", encoding="utf-8")
    catalogue = load_catalogue(path)
    assert catalogue.system_for("MIM-23B I-Hawk", "sam") == "hawk_missile"
    assert catalogue.system_for("MIM-23B I-Hawk", "air_defence_system") is None

"""SIPRI register reader, dataset builder, taxonomy, gazetteer and readiness proxy.

Fast and self-contained: the fixtures under tests/fixtures/sipri are excerpts of the real exports. Only
`test_every_description_in_full_registers_maps` reads the full registers in ../shared and skips without them.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from evidence import gazetteer, readiness, taxonomy
from evidence.records import (
    EVIDENCE,
    FAMILIES,
    LORS,
    PARTNERS,
    READINESS_FLEET_MEAN_AGE,
    READINESS_FLEET_UNITS,
    LORStatus,
)
from sources import sipri
from sources.sipri import SipriFormatError, build_dataset, read_register

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "sipri"
ORIGINAL_2026 = FIXTURES / "register_2026_original_excerpt.csv"
CONVERTED_2025 = FIXTURES / "register_2025_converted_excerpt.csv"
SHARED_RAW = REPO.parent / "shared" / "data" / "raw"
FULL_REGISTERS = (
    SHARED_RAW / "sipri_trade_register" / "trade-register_generated-2026-05-18.original_cut2021.csv",
    SHARED_RAW / "sipri_trade_register_vintage_2025-03-13" / "sipri_trade_register_2025-03-13.csv",
)
DEFAULT_DATASET = REPO / "evidence" / "default_data" / "sipri_us"


def _columns(table) -> list[str]:
    return [c.name for c in table.columns]


def _row(df: pd.DataFrame, recipient: str, supplier: str, year: int, designation: str) -> pd.Series:
    hit = df[
        (df["recipient"] == recipient)
        & (df["supplier"] == supplier)
        & (df["order_year"] == year)
        & (df["designation"] == designation)
    ]
    assert len(hit) == 1, (recipient, supplier, year, designation, len(hit))
    return hit.iloc[0]


@pytest.fixture(scope="module")
def reg2026() -> pd.DataFrame:
    return read_register(ORIGINAL_2026)


@pytest.fixture(scope="module")
def reg2025() -> pd.DataFrame:
    return read_register(CONVERTED_2025)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sipri.BuildSummary]:
    out = tmp_path_factory.mktemp("sipri_us")
    return out, build_dataset(ORIGINAL_2026, out)


# --- reading ---------------------------------------------------------------------------------------------


def test_fixture_2026_is_the_original_format() -> None:
    raw = ORIGINAL_2026.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    lines = raw.decode("latin-1").splitlines()
    assert lines[10].startswith("Data generated:")
    assert lines[11].startswith("Recipient,Supplier,Year of order, ,Number ordered, ,")


def test_both_vintages_parse_to_the_same_columns(reg2026: pd.DataFrame, reg2025: pd.DataFrame) -> None:
    assert list(reg2026.columns) == list(sipri.REGISTER_COLUMNS)
    assert list(reg2025.columns) == list(sipri.REGISTER_COLUMNS)
    assert dict(reg2026.dtypes) == dict(reg2025.dtypes)
    assert str(reg2026["order_year"].dtype) == "int64"
    assert str(reg2026["number_ordered"].dtype) == "Int64"
    assert str(reg2026["number_delivered"].dtype) == "Int64"
    for flag in sipri.FLAG_COLUMNS:
        assert reg2026[flag].dtype == bool
    assert all(isinstance(y, list) and all(isinstance(v, int) for v in y) for y in reg2026["delivery_years"])
    assert len(reg2026) == 57


def test_generated_date_comes_from_the_preamble(reg2026: pd.DataFrame, reg2025: pd.DataFrame) -> None:
    assert reg2026.attrs["generated"] == date(2026, 5, 18)
    assert reg2025.attrs["generated"] is None


def test_latin1_text_is_decoded(reg2026: pd.DataFrame) -> None:
    assert "Wärtsilä" in _row(reg2026, "Algeria", "Finland", 2011, "ship engine")["comments"]
    assert "Santa Fé" in _row(reg2026, "Argentina", "United States", 1971, "GUPPY-2")["comments"]


def test_flags_are_kept_in_both_layouts(reg2026: pd.DataFrame, reg2025: pd.DataFrame) -> None:
    jdam = _row(reg2026, "Norway", "United States", 2006, "JDAM")
    assert (
        jdam["order_year_uncertain"],
        jdam["number_ordered_uncertain"],
        jdam["number_delivered_uncertain"],
    ) == (True, True, True)
    c130 = _row(reg2026, "Norway", "United States", 2007, "C-130J Hercules")
    assert not (
        c130["order_year_uncertain"] or c130["number_ordered_uncertain"] or c130["number_delivered_uncertain"]
    )
    for reg in (reg2026, reg2025):
        assert _row(reg, "Jordan", "United States", 2015, "S-70 Black Hawk")["order_year_uncertain"]
        assert not _row(reg, "Jordan", "United States", 2015, "AT-802U")["order_year_uncertain"]
    assert reg2026["order_year_uncertain"].sum() > 5 and reg2025["number_ordered_uncertain"].sum() > 5


def test_blank_numbers_and_delivery_years(reg2026: pd.DataFrame) -> None:
    essm = _row(reg2026, "Norway", "United States", 2018, "ESSM Block-2")
    assert pd.isna(essm["number_ordered"]) and essm["delivery_years"] == []
    nh90 = _row(reg2026, "Norway", "Italy", 2001, "NH-90 TTH")
    assert nh90["number_delivered"] == 8
    assert nh90["delivery_years"] == [2011, 2012, 2013, 2014, 2015, 2016, 2018, 2021]
    assert nh90["tiv_unit"] == 7.0


def test_junk_rows_with_blank_recipient_are_dropped(reg2025: pd.DataFrame) -> None:
    assert reg2025.attrs["rows_read"] == 56
    assert reg2025.attrs["rows_dropped"] == 1
    assert len(reg2025) == 55
    assert (reg2025["recipient"] != "").all()


def test_missing_required_column_raises_naming_file_and_column(tmp_path: Path) -> None:
    df = pd.read_csv(CONVERTED_2025, dtype=str, keep_default_na=False)
    broken = tmp_path / "no_description.csv"
    df.drop(columns=["Weapon description"]).to_csv(broken, index=False)
    with pytest.raises(SipriFormatError, match=r"no_description\.csv.*Weapon description"):
        read_register(broken)
    not_sipri = tmp_path / "other.csv"
    not_sipri.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(SipriFormatError, match=r"other\.csv"):
        read_register(not_sipri)
    assert issubclass(SipriFormatError, ValueError)


# --- comments: values and cancellations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "value"),
    [
        ("$427 m deal", 427e6),
        ("Second-hand; $1.2 b deal", 1.2e9),
        ("$40-49 m deal", 44.5e6),
        ("$5m deal", 5e6),
        ("GBP133 m (USD208 m) deal", 208e6),
        ("Deal worth $1.47 b; for NATO", 1.47e9),
        ("AUD595 m ($410 m) deal", 410e6),
        ("NOK63 b deal ($11.2 b; incl production of components in Norway)", 11.2e9),
        ("Part of $675-703 m deal (offsets $845 m); for F-16", 689e6),
        ("Second-hand; $373510 deal; Turkish designation", 373510.0),
        ("Second-hand; $18;000 deal; South Korean designation", 18000.0),
        ("F/A-18D version; offsets $250 m", None),
        ("EUR195 m deal", None),
        ("", None),
    ],
)
def test_parse_value_usd(comment: str, value: float | None) -> None:
    assert (
        sipri.parse_value_usd(comment) == pytest.approx(value)
        if value is not None
        else (sipri.parse_value_usd(comment) is None)
    )


@pytest.mark.parametrize(
    ("comment", "delivered", "status"),
    [
        (
            "Part of $425 m deal; deal cancelled 2022 and all returned to producer 2025",
            8,
            LORStatus.WITHDRAWN,
        ),
        ("Deal cancelled 2024 after protests", 0, LORStatus.WITHDRAWN),
        ("Order cancelled 2023", None, LORStatus.WITHDRAWN),
        ("Incl 2 MiG-29UB version; 30 more cancelled", 18, LORStatus.EXECUTED),
        (
            "Originally 586 ordered but rest cancelled after Iraqi invasion of Kuwait in 1990",
            240,
            LORStatus.EXECUTED,
        ),
        (
            "Originally 19200 ordered but deal cancelled in 2004 before deliveries completed",
            3312,
            LORStatus.EXECUTED,
        ),
        ("Order for 2 more cancelled", 0, LORStatus.EXECUTED),
        (
            "$9.8 m deal (originally ordered by Yemen but canceled 2015 and sold to Jordan)",
            4,
            LORStatus.EXECUTED,
        ),
        ("", 0, LORStatus.EXECUTED),
    ],
)
def test_lor_status(comment: str, delivered: int | None, status: LORStatus) -> None:
    assert sipri.lor_status(comment, delivered) == status


def test_lor_ids_suffix_exact_duplicates_in_order() -> None:
    ids = sipri.lor_ids(["a", "b", "a", "a"])
    assert ids[0].startswith("sipri-") and len(ids[0]) == len("sipri-") + 12
    assert ids[2] == ids[0] + "-2" and ids[3] == ids[0] + "-3" and ids[1] != ids[0]


# --- build_dataset ---------------------------------------------------------------------------------------


def test_build_writes_the_record_layouts(built: tuple[Path, sipri.BuildSummary]) -> None:
    out, summary = built
    for name in ("partners.csv", "families.csv", "lors.csv", "evidence.parquet", "SOURCE.md"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))
    partners = pd.read_csv(out / "partners.csv", keep_default_na=False)
    families = pd.read_csv(out / "families.csv", keep_default_na=False)
    lors = pd.read_csv(out / "lors.csv", keep_default_na=False)
    evidence = pd.read_parquet(out / "evidence.parquet")
    assert list(partners.columns) == _columns(PARTNERS)
    assert list(families.columns) == _columns(FAMILIES)
    # every column but the channel, which SIPRI does not give
    assert list(lors.columns) == [c for c in _columns(LORS) if c != "channel"]
    assert list(evidence.columns) == _columns(EVIDENCE)

    assert list(families["id"]) == [f.id for f in taxonomy.FAMILIES]
    assert set(lors["partner"]) <= set(partners["id"])
    assert set(lors["family"]) <= set(families["id"])
    assert set(evidence["partner"]) <= set(partners["id"])
    assert set(evidence["family"]) <= set(families["id"])
    assert set(evidence["kind"]) == {READINESS_FLEET_UNITS, READINESS_FLEET_MEAN_AGE}
    for table, frame in ((PARTNERS, partners), (FAMILIES, families), (LORS, lors)):
        for column in table.columns:
            if column.required:
                assert (frame[column.name].astype(str) != "").all(), (table.name, column.name)
    assert set(lors["status"]) <= {s.value for s in LORStatus}

    # Partners: every recipient of a US order, incl. the non-state and organisation recipients.
    assert set(partners["id"]) == {
        "norway",
        "jordan",
        "turkiye",
        "united_arab_emirates",
        "mujahedin_afghanistan",
        "nato",
        "argentina",
        "algeria",
        "austria",
    }
    flags = dict(zip(partners["id"], partners["is_state"], strict=True))
    assert flags["mujahedin_afghanistan"] is False and flags["nato"] is False and flags["norway"] is True
    assert summary.partners == len(partners) and summary.orders_kept == len(lors)
    assert summary.rows_read == 57 and summary.generated == "2026-05-18"
    source_md = (out / "SOURCE.md").read_text(encoding="utf-8")
    assert "SIPRI Arms Transfers Database (c) SIPRI" in source_md
    digest = hashlib.sha256(ORIGINAL_2026.read_bytes()).hexdigest()
    assert digest in source_md and ORIGINAL_2026.name in source_md
    assert summary.as_dict()["register_sha256"] == digest


def test_lor_rows(built: tuple[Path, sipri.BuildSummary]) -> None:
    out, _ = built
    lors = pd.read_csv(out / "lors.csv", keep_default_na=False, dtype=str)
    us_rows = read_register(ORIGINAL_2026).query("supplier == 'United States'")
    assert len(lors) == len(us_rows)
    keys = zip(lors["partner"], lors["received"], lors["designation"], strict=True)
    by_designation = dict(zip(keys, lors.to_dict("records"), strict=True))
    p8 = by_designation[("norway", "2017-07-01", "P-8A Poseidon")]
    assert (p8["family"], p8["quantity"], float(p8["estimated_value_usd"])) == (
        "special_mission_aircraft",
        "5",
        1.2e9,
    )
    assert p8["status"] == "executed" and p8["source"] == "SIPRI trade register (generated 2026-05-18)"
    essm = by_designation[("norway", "2018-07-01", "ESSM Block-2")]
    assert (
        essm["quantity"] == "" and essm["year_uncertain"] == "true" and essm["quantity_uncertain"] == "false"
    )
    assert essm["family"] == "sam"
    f35 = by_designation[("norway", "2008-07-01", "F-35A Lightning-2")]
    assert float(f35["estimated_value_usd"]) == 11.2e9 and f35["family"] == "fighter_aircraft"
    assert by_designation[("jordan", "2015-07-01", "AT-802U")]["status"] == "executed"
    hellfire = lors[(lors["partner"] == "jordan") & (lors["designation"] == "AGM-114 Hellfire-2")]
    assert set(hellfire["family"]) == {"anti_tank_missile"}
    # Algeria has two identical-key C-130J rows: the second gets the -2 suffix.
    algeria = lors[(lors["partner"] == "algeria") & (lors["designation"] == "C-130J Hercules")]["id"].tolist()
    assert len(algeria) == 2 and algeria[1] == algeria[0] + "-2"
    assert lors["id"].is_unique
    assert all(re.fullmatch(r"sipri-[0-9a-f]{12}(-\d+)?", i) for i in lors["id"])


def test_withdrawn_when_sipri_says_the_deal_was_cancelled(tmp_path: Path) -> None:
    build_dataset(ORIGINAL_2026, tmp_path, supplier="Italy")
    lors = pd.read_csv(tmp_path / "lors.csv", keep_default_na=False, dtype=str)
    status = dict(zip(lors["designation"], lors["status"], strict=True))
    assert status == {
        "NH-90 TTH": "withdrawn",
        "NH-90 NFH": "withdrawn",
        "T-129B ATAK": "executed",
        "Gokturk-1": "executed",
    }


def test_ids_are_stable_across_builds(built: tuple[Path, sipri.BuildSummary], tmp_path: Path) -> None:
    out, _ = built
    build_dataset(ORIGINAL_2026, tmp_path)
    for name in ("lors.csv", "partners.csv", "families.csv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    assert pd.read_parquet(tmp_path / "evidence.parquet").equals(pd.read_parquet(out / "evidence.parquet"))


def test_unknown_supplier_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Atlantis"):
        build_dataset(ORIGINAL_2026, tmp_path, supplier="Atlantis")


# --- readiness -------------------------------------------------------------------------------------------


def _fleet(evidence: pd.DataFrame, partner: str, family: str, kind: str) -> dict[int, float]:
    rows = evidence[
        (evidence["partner"] == partner) & (evidence["family"] == family) & (evidence["kind"] == kind)
    ]
    return {d.year: v for d, v in zip(rows["date"], rows["value"], strict=True)}


def test_readiness_hand_computed_case(built: tuple[Path, sipri.BuildSummary]) -> None:
    # Norway's transport helicopters in the fixture: 12 Bell-412 (US) over 1987-89, 2 Sea King (UK) over
    # 1996-97, 8 NH-90 TTH (Italy) one a year in 2011-16, 2018 and 2021.
    out, _ = built
    evidence = pd.read_parquet(out / "evidence.parquet")
    units = _fleet(evidence, "norway", "transport_helicopter", READINESS_FLEET_UNITS)
    expected = {
        1987: 4,
        1988: 8,
        1989: 12,
        **dict.fromkeys(range(1990, 1996), 12),
        1996: 13,
        **dict.fromkeys(range(1997, 2011), 14),
        2011: 15,
        2012: 16,
        2013: 17,
        2014: 18,
        2015: 19,
        2016: 20,
        2017: 20,
        2018: 21,
        2019: 21,
        2020: 21,
        2021: 22,
    }
    assert units == expected
    age = _fleet(evidence, "norway", "transport_helicopter", READINESS_FLEET_MEAN_AGE)
    assert set(age) == set(units)
    assert age[1987] == 0.0
    assert age[1990] == pytest.approx((4 * 3 + 4 * 2 + 4 * 1) / 12)
    assert age[1997] == pytest.approx((4 * 10 + 4 * 9 + 4 * 8 + 1) / 14, abs=1e-4)
    assert {d.month for d in evidence["date"]} == {12} and {d.day for d in evidence["date"]} == {31}


def _independent_split(n: int, years: list[int]) -> dict[int, int]:
    base, remainder = divmod(n, len(years))
    return {y: base + (1 if i >= len(years) - remainder else 0) for i, y in enumerate(years)}


def test_readiness_has_no_look_ahead(built: tuple[Path, sipri.BuildSummary]) -> None:
    out, _ = built
    evidence = pd.read_parquet(out / "evidence.parquet")
    register = read_register(ORIGINAL_2026)
    delivered: dict[tuple[str, str], dict[int, int]] = {}
    for _, r in register.iterrows():
        partner = gazetteer.partner_for(r["recipient"]).id
        if pd.isna(r["number_delivered"]) or not r["delivery_years"]:
            continue
        per_year = delivered.setdefault((partner, taxonomy.family_for(r["description"])), {})
        for y, u in _independent_split(int(r["number_delivered"]), r["delivery_years"]).items():
            per_year[y] = per_year.get(y, 0) + u
    units = evidence[evidence["kind"] == READINESS_FLEET_UNITS]
    assert len(units) > 0
    for (partner, family), rows in units.groupby(["partner", "family"], observed=True):
        series = dict(zip((d.year for d in rows["date"]), rows["value"], strict=True))
        years = sorted(series)
        assert all(series[a] <= series[b] for a, b in itertools.pairwise(years))
        for t, value in series.items():
            assert value == sum(u for y, u in delivered[(partner, family)].items() if y <= t)
        # No row before the first delivery year.
        assert min(years) == max(1980, min(delivered[(partner, family)]))


def test_largest_remainder_never_runs_ahead_of_the_even_split() -> None:
    register = pd.DataFrame(
        {
            "recipient": ["x"],
            "description": ["tank"],
            "number_delivered": pd.array([7], "Int64"),
            "delivery_years": [[2001, 2002, 2003]],
        }
    )
    split = readiness.delivery_units(register)
    assert split["units"].tolist() == [2, 2, 3]
    cumulative = split["units"].cumsum().tolist()
    assert all(c <= 7 * (i + 1) / 3 for i, c in enumerate(cumulative))


def test_rows_with_deliveries_but_no_year_are_skipped(reg2026: pd.DataFrame) -> None:
    split = readiness.delivery_units(reg2026)
    cv90 = reg2026.index[(reg2026["designation"] == "CV-90")][0]
    assert cv90 not in set(split["row"])
    assert split.attrs["undated_rows"] == int(
        ((reg2026["number_delivered"].fillna(0) > 0) & (reg2026["delivery_years"].map(len) == 0)).sum()
    )


# --- gazetteer -------------------------------------------------------------------------------------------


def test_renamed_countries_map_to_one_id(tmp_path: Path, built: tuple[Path, sipri.BuildSummary]) -> None:
    build_dataset(CONVERTED_2025, tmp_path)
    old = pd.read_csv(tmp_path / "partners.csv", keep_default_na=False)
    new = pd.read_csv(built[0] / "partners.csv", keep_default_na=False)
    assert "united_arab_emirates" in set(old["id"]) and set(old["id"]) <= set(new["id"])
    pairs = [
        ("UAE", "United Arab Emirates"),
        ("Turkey", "Turkiye"),
        ("Türkiye", "Turkiye"),
        ("Czech Republic", "Czechia"),
        ("Macedonia", "North Macedonia"),
        ("Swaziland", "eSwatini"),
        ("Libya HoR*", "House of Representatives (Libya)*"),
        ("PIJ (Israel/Palestine)*", "Palestinian Islamic Jihad (Israel/Palestine)*"),
        ("Yemen Arab Republic (North Yemen)", "North Yemen"),
        ("Vietnam", "Viet Nam"),
        ("Bosnia and Herzegovina", "Bosnia-Herzegovina"),
        ("  Korea, South ", "South Korea"),
    ]
    for a, b in pairs:
        assert gazetteer.partner_for(a) == gazetteer.partner_for(b), (a, b)
    assert gazetteer.partner_for("South Korea").id == "korea_south"
    uae = gazetteer.partner_for("UAE")
    assert (uae.name, uae.iso3, uae.region, uae.alliances) == (
        "United Arab Emirates",
        "ARE",
        "Middle East",
        ("GCC",),
    )


def test_unknown_recipient_gets_a_derived_partner(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="evidence.gazetteer"):
        p = gazetteer.partner_for("Free Republic of Nowhere*")
        gazetteer.partner_for("Free Republic of Nowhere*")
    assert (p.id, p.region, p.iso3, p.is_state) == ("free_republic_of_nowhere", "Unknown", None, False)
    assert sum("Free Republic of Nowhere" in r.getMessage() for r in caplog.records) == 1
    assert gazetteer.partner_for("Atlantis").is_state


def test_gazetteer_table_is_consistent() -> None:
    partners = gazetteer.known_partners()
    assert len({p.id for p in partners}) == len(partners)
    for p in partners:
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", p.id), p.id
        assert p.region in gazetteer.REGIONS
        assert set(p.alliances) <= set(gazetteer.ALLIANCES)
        assert p.iso3 is None or re.fullmatch(r"[A-Z]{3}", p.iso3)
        if not p.is_state:
            assert p.iso3 is None and not p.alliances
    table = pd.read_csv(gazetteer.GAZETTEER_CSV, keep_default_na=False)
    starred = table[table["sipri_name"].str.endswith("*")]
    assert (starred["is_state"] == False).all()  # noqa: E712
    nato = {p.id for p in partners if "NATO" in p.alliances}
    eu = {p.id for p in partners if "EU" in p.alliances}
    gcc = {p.id for p in partners if "GCC" in p.alliances}
    assert (len(nato), len(eu), len(gcc)) == (32, 27, 6)


# --- taxonomy --------------------------------------------------------------------------------------------


def test_taxonomy_shape() -> None:
    ids = [f.id for f in taxonomy.FAMILIES]
    assert len(ids) == len(set(ids))
    assert {f.category for f in taxonomy.FAMILIES} == set(taxonomy.CATEGORIES)
    for category, fallback in taxonomy.FALLBACK_FAMILY.items():
        assert taxonomy.FAMILY_BY_ID[fallback].category == category


def test_explicit_table_agrees_with_the_category_map() -> None:
    categories = taxonomy.description_categories()
    for description, family in taxonomy.description_families().items():
        if description in categories:
            assert taxonomy.FAMILY_BY_ID[family].category == categories[description], description
    assert set(categories) <= set(taxonomy.description_families())


def test_keyword_rules_land_in_the_right_category_for_every_known_description() -> None:
    # The rules only see rewordings, but on known wordings they must at least agree on the category.
    for description, family in taxonomy.description_families().items():
        ruled = taxonomy.family_by_rules(description)
        assert ruled is not None, description
        assert taxonomy.FAMILY_BY_ID[ruled].category == taxonomy.FAMILY_BY_ID[family].category, description


@pytest.mark.parametrize(
    ("description", "family"),
    [
        ("main battle tank", "tank"),
        ("heavy drone", "uav"),
        ("counter-battery radar", "surface_radar"),
        ("surface-to-air missile launcher", "air_defence_system"),
        ("offshore patrol vessel", "patrol_craft"),
        ("anti-radar missile", "air_to_surface_missile"),
        ("tank destroyer", "apc_ifv"),
        ("SONAR", "sonar"),
    ],
)
def test_family_for_new_wordings(description: str, family: str) -> None:
    assert taxonomy.family_for(description) == family


def test_unrecognised_description_falls_back_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="evidence.taxonomy"):
        assert taxonomy.family_for("quantum widget") == "other_equipment"
        assert taxonomy.family_for("quantum widget") == "other_equipment"
        assert taxonomy.family_for("") == "other_equipment"
    assert sum("quantum widget" in r.getMessage() for r in caplog.records) == 1


def test_every_description_in_full_registers_maps() -> None:
    present = [p for p in FULL_REGISTERS if p.is_file()]
    if len(present) < len(FULL_REGISTERS):
        pytest.skip(
            f"full SIPRI registers not available under {SHARED_RAW} (only needed for this coverage check)"
        )
    explicit = taxonomy.description_families()
    for path in present:
        register = read_register(path)
        for description in register["description"].unique():
            assert taxonomy.normalise_description(description) in explicit, (path.name, description)
            assert taxonomy.family_for(description) in taxonomy.FAMILY_BY_ID
        for recipient in register["recipient"].unique():
            assert gazetteer.is_known(recipient), (path.name, recipient)


# --- the embedded default dataset -------------------------------------------------------------------------


def test_embedded_default_dataset() -> None:
    for name in ("partners.csv", "families.csv", "lors.csv", "evidence.parquet", "SOURCE.md"):
        assert (DEFAULT_DATASET / name).is_file(), name
    lors = pd.read_csv(DEFAULT_DATASET / "lors.csv", nrows=1)
    assert list(lors.columns) == [c for c in _columns(LORS) if c != "channel"]  # SIPRI gives no channel
    assert list(pd.read_csv(DEFAULT_DATASET / "partners.csv", nrows=1).columns) == _columns(PARTNERS)
    assert pq.read_schema(DEFAULT_DATASET / "evidence.parquet").names == _columns(EVIDENCE)
    assert (DEFAULT_DATASET / "evidence.parquet").stat().st_size < 3_000_000
    assert "SIPRI Arms Transfers Database (c) SIPRI" in (DEFAULT_DATASET / "SOURCE.md").read_text(
        encoding="utf-8"
    )

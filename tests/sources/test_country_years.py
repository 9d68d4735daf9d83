"""Military expenditure (sources.milex) and U.S. arms-sales channels (sources.sam) as partner evidence.

Self-contained: tests/fixtures/country_years holds whole-line excerpts of both raw files. Only
`test_rebuild_from_real_files_matches_shipped` reads ../shared and skips without it.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evidence.loaders import LoadError, default_dataset_path, load_dataset, validate_frame
from evidence.records import (
    EVIDENCE,
    MILEX_CONSTANT_USD_M,
    MILEX_SHARE_GDP_PCT,
    US_DCS_AUTHORIZATIONS_USD_M,
    US_DCS_NOTIFICATIONS_USD_M,
    US_FMS_AGREEMENTS_USD_M,
    US_FMS_NOTIFICATIONS_USD_M,
)
from sources import country_years, milex, sam
from sources.augment import add_evidence

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "country_years"
MILEX_EXCERPT = FIXTURES / "milex_excerpt.csv"
SAM_EXCERPT = FIXTURES / "sam_excerpt.csv"
SHARED_RAW = REPO.parent / "shared" / "data" / "raw"
REAL_MILEX = SHARED_RAW / "sipri_milex_1949_2021" / "sipri_milex_1949_2021.csv"
REAL_SAM = SHARED_RAW / "sam_us_arms_sales_1996_2020" / "us_arms_sales_by_country_year.csv"
DEFAULT_DATASET = REPO / "evidence" / "default_data" / "sipri_us"


def value(rows: pd.DataFrame, partner: str, year: int, kind: str) -> float | None:
    """The figure of one partner × year × kind; None where there is no row (missing)."""
    hit = rows[(rows["partner"] == partner) & (rows["date"] == f"{year}-12-31") & (rows["kind"] == kind)]
    assert len(hit) <= 1, hit
    return None if hit.empty else float(hit["value"].iloc[0])


@pytest.fixture(scope="module")
def milex_rows() -> tuple[pd.DataFrame, country_years.NameMatch]:
    return milex.milex_evidence(milex.read_milex(MILEX_EXCERPT))


@pytest.fixture(scope="module")
def sam_rows() -> tuple[pd.DataFrame, country_years.NameMatch]:
    return sam.sam_evidence(sam.read_sam(SAM_EXCERPT))


# --- milex --------------------------------------------------------------------------------------------


def test_milex_rows_are_partner_evidence_dated_at_the_end_of_their_year(milex_rows) -> None:
    rows, _ = milex_rows
    validate_frame(rows, EVIDENCE, "milex")  # the loader's layout and bounds (Kuwait 1991: 117 % of GDP)
    assert (rows["family"] == "").all() and (rows["source"] == milex.SOURCE).all()
    assert value(rows, "korea_south", 2010, MILEX_CONSTANT_USD_M) == 32230.4
    assert value(rows, "korea_south", 2010, MILEX_SHARE_GDP_PCT) == 2.36
    assert value(rows, "kuwait", 1991, MILEX_SHARE_GDP_PCT) == 117.35


def test_milex_empty_cells_are_missing_never_zero(milex_rows) -> None:
    rows, _ = milex_rows
    assert (rows["value"] > 0).all()
    assert value(rows, "turkiye", 2010, MILEX_CONSTANT_USD_M) == 9493.1
    assert value(rows, "turkiye", 2010, MILEX_SHARE_GDP_PCT) == 2.27
    assert value(rows, "soviet_union", 1988, MILEX_CONSTANT_USD_M) == 282701.4
    assert value(rows, "soviet_union", 1988, MILEX_SHARE_GDP_PCT) is None  # the share cell is empty
    assert value(rows, "united_arab_emirates", 2014, MILEX_CONSTANT_USD_M) == 27352.6
    for year in (2015, 2016):
        assert value(rows, "united_arab_emirates", year, MILEX_CONSTANT_USD_M) is None
    assert value(rows, "soviet_union", 1990, MILEX_CONSTANT_USD_M) == 221760.3
    assert value(rows, "soviet_union", 1991, MILEX_CONSTANT_USD_M) is None
    assert not rows["partner"].isin(["gambia", "costa_rica"]).any()  # rows with every cell empty


def test_milex_names_map_to_the_register_partner_ids(milex_rows) -> None:
    rows, match = milex_rows
    assert match.ids["Korea, South"] == "korea_south"
    assert match.ids["Türkiye"] == "turkiye"
    assert match.ids["Congo, DR"] == "dr_congo"
    assert match.ids["Gambia, The"] == "gambia"
    assert match.ids["United States of America"] == "united_states"
    assert match.ids["USSR"] == "soviet_union"
    assert match.unmatched == [] and match.excluded == ["European Union"]
    assert value(rows, "dr_congo", 2010, MILEX_CONSTANT_USD_M) == 282.3


def test_every_milex_alias_names_a_register_recipient() -> None:
    # the source's SOURCE.md table: 16 names, 15 with a recipient
    assert len(milex.MILEX_ALIASES) == 16
    match = country_years.match_names(milex.MILEX_ALIASES, milex.MILEX_ALIASES, "milex")
    assert len(match.ids) == 15 and match.unmatched == []


def test_milex_refuses_a_file_that_is_not_the_milex_table(tmp_path: Path) -> None:
    bad = tmp_path / "milex.csv"
    bad.write_text("country,year,constant_2023_usd_m\nNorway,2010,5230.3\n", encoding="utf-8")
    with pytest.raises(milex.MilexFormatError, match="share_of_gdp_pct"):
        milex.read_milex(bad)
    bad.write_text(
        "country,year,constant_2023_usd_m,share_of_gdp_pct\nNorway,2010,5 230,1.5\n", encoding="utf-8"
    )
    with pytest.raises(milex.MilexFormatError, match="row 2"):
        milex.read_milex(bad)


# --- SAM ----------------------------------------------------------------------------------------------


def test_sam_zero_is_zero_only_where_the_source_covers_the_cell(sam_rows) -> None:
    rows, _ = sam_rows
    validate_frame(rows, EVIDENCE, "sam")
    # FMS agreements 2010 are covered (Norway, South Korea): Algeria's 0 is a real zero
    assert value(rows, "algeria", 2010, US_FMS_AGREEMENTS_USD_M) == 0.0
    assert value(rows, "norway", 2010, US_FMS_AGREEMENTS_USD_M) == 107.438
    # every FMS agreement of 2017 is 0: not covered, so missing
    assert value(rows, "norway", 2017, US_FMS_AGREEMENTS_USD_M) is None
    # DCS authorizations of 2019 are all 0 (missing); its notifications are covered: Turkey's 0 is zero
    assert value(rows, "turkiye", 2019, US_DCS_AUTHORIZATIONS_USD_M) is None
    assert value(rows, "turkiye", 2019, US_DCS_NOTIFICATIONS_USD_M) == 0.0
    assert value(rows, "new_zealand", 2018, US_DCS_NOTIFICATIONS_USD_M) == 0.0
    assert value(rows, "new_zealand", 2018, US_DCS_AUTHORIZATIONS_USD_M) == 87.848643


def test_sam_blank_notifications_are_missing(sam_rows) -> None:
    rows, _ = sam_rows
    assert value(rows, "norway", 2013, US_FMS_AGREEMENTS_USD_M) == 194.856
    assert value(rows, "norway", 2013, US_FMS_NOTIFICATIONS_USD_M) is None  # withheld (blank)
    assert value(rows, "norway", 2010, US_DCS_NOTIFICATIONS_USD_M) is None  # not reported (blank)
    assert value(rows, "korea_south", 2019, US_FMS_NOTIFICATIONS_USD_M) == 2388.9
    assert value(rows, "korea_south", 2019, US_FMS_AGREEMENTS_USD_M) is None  # FMS 2019: notifications only


def test_sam_repeated_records_are_summed_or_kept_once(sam_rows) -> None:
    rows, _ = sam_rows
    # DCS 2017: one record holds the authorization, the other the delivery
    assert value(rows, "norway", 2017, US_DCS_AUTHORIZATIONS_USD_M) == 443.571904
    # FMS 2017: a notifications-only record beside a deliveries record
    assert value(rows, "norway", 2017, US_FMS_NOTIFICATIONS_USD_M) == 170.0
    # Gambia FMS 2005: one record cited in two Historical Facts editions
    assert value(rows, "gambia", 2005, US_FMS_AGREEMENTS_USD_M) == 0.215
    # Timor-Leste DCS 2008: the same authorization twice, with different deliveries
    assert value(rows, "timor_leste", 2008, US_DCS_AUTHORIZATIONS_USD_M) == 0.1404
    # Serbia and Serbia and Montenegro share one id; their 2003 authorizations add up
    assert value(rows, "serbia", 2003, US_DCS_AUTHORIZATIONS_USD_M) == pytest.approx(2.275836)
    # the Latin-America-only years; EDA is not a channel read here
    assert value(rows, "argentina", 1996, US_DCS_AUTHORIZATIONS_USD_M) == 81.474787
    assert set(rows["kind"]) <= {
        US_FMS_AGREEMENTS_USD_M,
        US_DCS_AUTHORIZATIONS_USD_M,
        US_FMS_NOTIFICATIONS_USD_M,
        US_DCS_NOTIFICATIONS_USD_M,
    }


def test_sam_names_map_and_the_rest_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sources.country_years"):
        rows, match = sam.sam_evidence(sam.read_sam(SAM_EXCERPT))
    assert match.ids["Congo, the Democratic Republic of the"] == "dr_congo"
    assert match.ids["Iran, Islamic Republic of"] == "iran"
    assert match.ids["North Atlantic Treaty Organization"] == "nato"
    assert match.ids["South Korea"] == "korea_south" and match.ids["Turkey"] == "turkiye"
    assert match.unmatched == ["Guam"] and match.excluded == ["Global"]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "match no partner id: Guam" in messages and "excluded (not a country): Global" in messages
    assert value(rows, "dr_congo", 2010, US_FMS_AGREEMENTS_USD_M) == 0.125
    assert value(rows, "nato", 2015, US_DCS_NOTIFICATIONS_USD_M) == 537.6
    assert "iran" not in set(rows["partner"])  # its only record is a 2020 placeholder without a program


def test_every_sam_alias_names_a_register_recipient() -> None:
    match = country_years.match_names(sam.SAM_ALIASES, sam.SAM_ALIASES, "sam")
    assert match.unmatched == [] and len(match.excluded) == 3


# --- into a dataset -------------------------------------------------------------------------------------


def _dataset(tmp_path: Path) -> Path:
    """A small dataset: three state partners (Norway and South Korea with orders, Iceland without)."""
    out = tmp_path / "ds"
    out.mkdir()
    (out / "partners.csv").write_text(
        "id,name,region,iso3,alliances,is_state\n"
        "iceland,Iceland,Europe,ISL,NATO,true\n"
        "korea_south,South Korea,East Asia,KOR,MNNA,true\n"
        "norway,Norway,Europe,NOR,NATO,true\n",
        encoding="utf-8",
    )
    (out / "families.csv").write_text("id,name,category\nf00,Fighters,Aircraft\n", encoding="utf-8")
    (out / "lors.csv").write_text(
        "id,partner,family,received,status\n"
        "a1,norway,f00,2009-07-01,executed\n"
        "a2,korea_south,f00,2011-07-01,executed\n"
        "a3,norway,f00,2012-07-01,executed\n",
        encoding="utf-8",
    )
    return out


def test_parts_load_with_the_dataset_and_restrict_to_drops_later_years(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = _dataset(tmp_path)
    rows, match = milex.milex_evidence(milex.read_milex(MILEX_EXCERPT))
    with caplog.at_level(logging.INFO, logger="sources.country_years"):
        summary = country_years.write_part(rows, out, "milex", match)
    assert summary.path == "evidence-milex.csv" and summary.partners == 2
    assert "united_states" in summary.not_partners and summary.ordering_without_figures == []
    rows_sam, match_sam = sam.sam_evidence(sam.read_sam(SAM_EXCERPT))
    country_years.write_part(rows_sam, out, "sam", match_sam)
    dataset = load_dataset(out)
    ev = dataset.evidence
    assert set(ev["partner"]) == {"korea_south", "norway"}
    assert len(ev) == summary.rows + int(rows_sam["partner"].isin(["korea_south", "norway"]).sum())
    assert value(ev.assign(date=ev["date"].astype(str)), "norway", 2010, MILEX_CONSTANT_USD_M) == 5230.3
    as_of = dataset.restrict_to(2010).evidence
    assert pd.to_datetime(as_of["date"]).dt.year.max() == 2010
    assert len(as_of) == int((pd.to_datetime(ev["date"]).dt.year <= 2010).sum())


def test_a_partner_with_orders_and_no_figure_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = _dataset(tmp_path)
    rows, match = milex.milex_evidence(milex.read_milex(MILEX_EXCERPT))
    with caplog.at_level(logging.WARNING, logger="sources.country_years"):
        summary = country_years.write_part(rows[rows["partner"] != "norway"], out, "milex", match)
    assert summary.ordering_without_figures == ["norway"]
    assert any("have no figure: norway" in r.getMessage() for r in caplog.records)


def test_a_bad_part_row_is_named_by_its_file_and_row(tmp_path: Path) -> None:
    out = _dataset(tmp_path)
    (out / "evidence-milex.csv").write_text(
        "partner,family,date,kind,value,source\n"
        "norway,,2010-12-31,milex_constant_2023_usd_m,5230.3,x\n"
        "atlantis,,2010-12-31,milex_constant_2023_usd_m,1.0,x\n"
        "norway,,2011-12-31,milex_share_gdp_pct,-1,x\n",
        encoding="utf-8",
    )
    with pytest.raises(LoadError) as raised:
        load_dataset(out)
    text = str(raised.value)
    assert "evidence-milex.csv, row 4" in text and "milex_share_gdp_pct" in text
    (out / "evidence-milex.csv").write_text(
        "partner,family,date,kind,value,source\natlantis,,2010-12-31,milex_constant_2023_usd_m,1.0,x\n",
        encoding="utf-8",
    )
    with pytest.raises(LoadError, match=r"evidence-milex.csv, row 2, column 'partner': value 'atlantis'"):
        load_dataset(out)


def test_adding_evidence_keeps_the_parts_as_they_are(tmp_path: Path) -> None:
    source = _dataset(tmp_path)
    rows, match = milex.milex_evidence(milex.read_milex(MILEX_EXCERPT))
    country_years.write_part(rows, source, "milex", match)
    before = load_dataset(source)
    extra = pd.DataFrame(
        [{"partner": "iceland", "family": "f00", "date": "2012-01-01", "kind": "nlp_mention", "value": 1.0}]
    ).assign(source="test")
    after = add_evidence(source, extra, tmp_path / "out")
    assert (tmp_path / "out" / "evidence-milex.csv").read_bytes() == (
        source / "evidence-milex.csv"
    ).read_bytes()
    assert len(after.evidence) == len(before.evidence) + 1  # no part row stored twice
    assert len(pd.read_parquet(tmp_path / "out" / "evidence.parquet")) == 1


# --- the shipped default --------------------------------------------------------------------------------


def test_the_default_dataset_carries_both_parts() -> None:
    for name in ("evidence-milex.csv", "evidence-sam.csv"):
        path = DEFAULT_DATASET / name
        assert path.is_file(), name
        assert path.stat().st_size < 1_500_000  # derived yearly figures, not the raw files
    kinds = set(load_dataset(default_dataset_path()).evidence["kind"])
    assert {
        MILEX_CONSTANT_USD_M,
        MILEX_SHARE_GDP_PCT,
        US_FMS_AGREEMENTS_USD_M,
        US_DCS_AUTHORIZATIONS_USD_M,
    } <= kinds
    source = (DEFAULT_DATASET / "SOURCE.md").read_text(encoding="utf-8")
    for module in (milex.MODULE, sam.MODULE):
        begin, end = country_years.section_markers(module)
        assert source.count(begin) == 1 and source.count(end) == 1
    attribution = (REPO / "evidence" / "default_data" / "SOURCE.md").read_text(encoding="utf-8")
    assert (
        "SIPRI Military Expenditure Database" in attribution and "Security Assistance Monitor" in attribution
    )


@pytest.mark.skipif(
    not (REAL_MILEX.is_file() and REAL_SAM.is_file()), reason="needs ../shared/data/raw milex and SAM copies"
)
def test_rebuild_from_real_files_matches_shipped(tmp_path: Path) -> None:
    for name in ("partners.csv", "lors.csv"):
        shutil.copy(DEFAULT_DATASET / name, tmp_path / name)
    built = {"milex": milex.build(REAL_MILEX, tmp_path), "sam": sam.build(REAL_SAM, tmp_path)}
    shipped = (DEFAULT_DATASET / "SOURCE.md").read_text(encoding="utf-8")
    rebuilt = (tmp_path / "SOURCE.md").read_text(encoding="utf-8")
    for name, module in (("milex", milex.MODULE), ("sam", sam.MODULE)):
        path = f"evidence-{name}.csv"
        assert (tmp_path / path).read_bytes() == (DEFAULT_DATASET / path).read_bytes(), path
        begin, end = country_years.section_markers(module)
        section = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
        assert section.search(rebuilt).group(0) == section.search(shipped).group(0)  # type: ignore[union-attr]
    # no partner with orders loses its figures to a name mismatch: the gaps are the sources' own
    assert built["milex"].unmatched == []
    assert set(built["milex"].ordering_without_figures) <= {
        "bahamas", "barbados", "biafra", "costa_rica", "saint_kitts_and_nevis", "saint_vincent",
        "south_vietnam", "suriname", "tonga", "yugoslavia",
    }  # fmt: skip
    assert set(built["sam"].ordering_without_figures) <= {
        "biafra",
        "cuba",
        "iran",
        "myanmar",
        "north_yemen",
        "south_vietnam",
        "yugoslavia",
    }

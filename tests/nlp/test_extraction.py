"""Phase-1 extraction: DSCA notification text → country, date, cost, items, category, kind.

Unit tests use short handwritten notifications in DSCA's style; the last test scores the full hand-labelled
2008–2012 release set (skipped when ``../shared`` is absent).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.loaders import LoadError
from nlp import extraction
from nlp.extraction import evaluate, extract, format_evaluation, labelled_parts, match_items, read_texts

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "raw"
DSCA = SHARED / "dsca_major_arms_sales_2008_2012"

JUSTIFICATION = (
    "This proposed sale will contribute to the foreign policy and national security of the United States "
    "by helping to improve the security of a friendly country.\n"
    "The proposed sale of this equipment and support will not alter the basic military balance in the "
    "region.\n"
    "The prime contractor will be Boeing in St. Louis, Missouri. There are no known offset agreements.\n"
    "Implementation of this proposed sale will require the assignment of three U.S. Government "
    "representatives for 12 months.\n"
)


def notice(title: str, summary: str, request: str = "", date: str = "March 3, 2011") -> str:
    """A release laid out as DSCA publishes them (media contact and transmittal run together)."""
    return (
        f"{title}\n\n{title}\n\nMedia/Public Contact: pm-cpa@state.gov\u00a0Transmittal No: 11-01"
        f"WASHINGTON, {date} – The Defense Security Cooperation Agency notified Congress today of a "
        f"possible Foreign Military Sale {summary}\n{request}\n{JUSTIFICATION}"
    )


def items_of(record: dict) -> set[tuple[int, str]]:
    return {(i["quantity"], i["sipri_category"]) for i in record["items"]}


# --- money, dates, countries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("for an estimated cost of $1.2 billion.", 1_200_000_000),
        ("for a complete package worth approximately $647 million.", 647_000_000),
        ("The total value, if all options are exercised, could be as high as $3.2Billion.", 3_200_000_000),
        ("at an estimated value of as much as $250 Million.", 250_000_000),
        ("The estimated cost is $1.8\nbillion.", 1_800_000_000),
        ("The estimated cost is $2.160 billion.", 2_160_000_000),
    ],
)
def test_money_phrasings(phrase: str, expected: int) -> None:
    text = notice("Chile – F-16 Support", f"to Chile of F-16 logistics support {phrase}")
    assert extract(text, 1)["estimated_cost_usd"] == expected


def test_request_cost_preferred_over_summary_total() -> None:
    # The request's "The estimated cost is" is the figure notified for this case; an earlier programme
    # total in the summary is not.
    text = notice(
        "Egypt – Fast Missile Craft",
        "to Egypt of one additional Fast Missile Craft; the program total is $1.290 billion.",
        "The Government of Egypt has requested one (1) additional Fast Missile Craft. "
        "The estimated cost is $240 million.",
    )
    assert extract(text, 1)["estimated_cost_usd"] == 240_000_000


def test_missing_fields_are_null_not_invented() -> None:
    record = extract("A press release about training without a dateline, buyer or amount.", "x")
    assert record["pk"] == "x"
    assert record["country"] is None
    assert record["date"] is None
    assert record["estimated_cost_usd"] is None
    assert record["items"] == []


@pytest.mark.parametrize(
    ("dateline", "expected"),
    [("Jan. 26, 2010", "2010-01-26"), ("Sept. 29, 2008", "2008-09-29"), ("December 8, 2009", "2009-12-08")],
)
def test_dateline(dateline: str, expected: str) -> None:
    text = notice(
        "Canada – M777 Howitzers", "to Canada of 37 M777 howitzers for $114 million.", date=dateline
    )
    assert extract(text, 1)["date"] == expected


@pytest.mark.parametrize(
    ("buyer", "expected"),
    [
        ("to the Taipei Economic and Cultural Representative Office in the United States of", "Taiwan"),
        ("to the Government of the Republic of Korea of", "South Korea"),
        ("to the Government Korea of", "South Korea"),
        ("to the Government of Turkey of", "Turkiye"),
        ("to the Hashemite Kingdom of Jordan of", "Jordan"),
        ("to the Kingdom of Saudi Arabia of", "Saudi Arabia"),
        ("to the Government of the United Arab Emirates (UAE) of", "United Arab Emirates"),
        ("to the North Atlantic Treaty Organization (NATO) Airlift Management Agency of", "NATO"),
        ("to the Government of the Hellenic Republic of", "Greece"),
        ("to the Government of the Slovak Republic of", "Slovakia"),
        ("to the United Mexican States of", "Mexico"),
        ("to the Government of the Republic of Iraq of", "Iraq"),
    ],
)
def test_country_aliases(buyer: str, expected: str) -> None:
    text = notice("Buyer – AIM-120C-7 Missiles", f"{buyer} 20 AIM-120C-7 AMRAAM missiles for $40 million.")
    assert extract(text, 1)["country"] == expected


def test_summary_buyer_wins_over_pasted_headline() -> None:
    # A headline copied from another release must not decide the buyer.
    text = notice(
        "Australia – AEGIS Combat System", "to Finland of 15 AGM-154C JSOW missiles for $406 million."
    )
    assert extract(text, 1)["country"] == "Finland"


# --- quantities and items ----------------------------------------------------------------------------


def test_number_words_and_parenthesised_digits() -> None:
    text = notice(
        "Turkey – CH-47F CHINOOK Helicopters",
        "to Turkey of fourteen CH-47F CHINOOK Helicopters for an estimated cost of $1.2 billion.",
        "The Government of Turkey has requested a possible sale of fourteen CH-47F CHINOOK Helicopters, "
        "thirty-two (32) T55-GA-714A Turbine engines, six (6) spare T55-GA-714A engines, "
        "28 AN/ARC-201E Single Channel Ground and Airborne Radio Systems (SINCGARS), spare and repair parts. "
        "The estimated cost is $1.2 billion.",
    )
    record = extract(text, 1)
    assert items_of(record) == {(14, "Aircraft"), (32, "Engines"), (6, "Engines")}
    assert record["kind"] == "new_equipment"
    assert record["primary_category"] == "Aircraft"


def test_excluded_items_are_not_counted() -> None:
    text = notice(
        "Egypt – UH-60M BLACK HAWK Helicopters",
        "to Egypt of UH-60M BLACK HAWK Helicopters for an estimated cost of $176 million.",
        "The Government of Egypt has requested a possible sale of 4 UH-60M BLACK HAWK helicopters with "
        "8 T-700-GE-701D engines, 6 (2 per helicopter) AN/ARC-201D radios, 4 AN/APR-39A(V)2 Radar Signal "
        "Detecting Sets, 4 AN/AAR-57 Common Missile Warning Systems, 10 AN/AVS-9 Night Vision Goggles, "
        "4 M134D Miniguns, 2 Ground Power Units, 24 AGM-114 HELLFIRE Captive Air Training Missiles, "
        "and 100 AGM-114R HELLFIRE II missiles. The estimated cost is $176 million.",
    )
    record = extract(text, 1)
    assert items_of(record) == {(4, "Aircraft"), (8, "Engines"), (100, "Missiles")}


def test_training_rounds_and_containers_excluded_in_missile_sale() -> None:
    text = notice(
        "Switzerland – AIM-120C-7 AMRAAM",
        "to Switzerland of 150 AIM-120C-7 AMRAAM missiles for a complete package worth approximately "
        "$358 million.",
        "The Government of Switzerland has requested the purchase of 150 AIM-120C-7 Advanced Medium Range "
        "Air-to-Air Missiles (AMRAAM), 6 AIM-120C-7 Telemetry Missiles, 24 Captive Air Training Missiles, "
        "1 spare Missile Guidance Section, 40 missile containers. The estimated cost is $358 million.",
    )
    record = extract(text, 1)
    assert items_of(record) == {(150, "Missiles"), (1, "Missiles")}
    assert record["kind"] == "ammunition_or_munitions"
    assert record["primary_category"] == "Missiles"


def test_excluded_type_counts_when_it_is_the_subject() -> None:
    text = notice(
        "Iraq – Communication Equipment",
        "to Iraq of (1,500) 50 watt Very High Frequency (VHF) Base Station Radios and (6,000) VHF "
        "Tactical Handheld Radios for an estimated cost of $485 million.",
    )
    record = extract(text, 1)
    assert items_of(record) == {(1500, "Other"), (6000, "Other")}
    assert record["primary_category"] == "Other"


def test_upgraded_and_served_platforms_are_not_items() -> None:
    text = notice(
        "Republic of Korea – F-16 Block 32 Aircraft Upgrades",
        "to the Government of the Republic of Korea to support the upgrade of 35 F-16 Block 32 Aircraft. "
        "The estimated cost is $250 Million.",
        "The Republic of Korea has requested a possible sale to support the upgrade of 35 F-16 Block 32 "
        "aircraft, logistics support and training for 12 C-130J-30 aircraft being procured through a "
        "Direct Commercial Sale. The estimated cost is $250 million.",
    )
    record = extract(text, 1)
    assert record["items"] == []
    assert record["kind"] == "upgrade"
    assert record["primary_category"] == "Aircraft"


# --- LABELS.md's rules, one synthetic release each ---------------------------------------------------------
# (title, sale object, request, (kind, primary category, counted items or None when not checked))
RULE_CASES = [
    (
        "M109A5 Self-Propelled Howitzers",
        "howitzers",
        "24 M109A5 155mm Self-Propelled Howitzers and 24 M992 Field Artillery Ammunition Support Vehicles",
        ("new_equipment", "Artillery", [(24, "Artillery")]),  # support vehicles are excluded
    ),
    # title, summary, request, expected (kind, primary, items [(qty, cat)])
    (
        "M795 155mm Howitzer Ammunition",
        "155mm artillery ammunition",
        "20,000 M795 155mm High Explosive projectiles and 5,000 M232A1 Modular Artillery Charge System "
        "propellant charges",
        ("ammunition_or_munitions", "Artillery", None),
    ),
    (
        "Tank Ammunition",
        "120mm tank ammunition",
        "14,000 M829A3 120mm Armor Piercing Fin Stabilized Discarding Sabot-Tracer rounds and 10,000 "
        "M830A1 120mm High Explosive Anti-Tank rounds",
        ("ammunition_or_munitions", "Armoured vehicles", None),
    ),
    (
        "JAVELIN Missiles",
        "JAVELIN missiles",
        "1,200 JAVELIN Missiles and 120 JAVELIN Command Launch Units (CLUs)",
        ("ammunition_or_munitions", "Missiles", [(1200, "Missiles"), (120, "Other")]),
    ),
    (
        "F-16 Mid-Life Upgrade",
        "an upgrade of its F-16 aircraft",
        "an upgrade of 60 F-16 Block 20 aircraft to include 60 AN/APG-83 Scalable Agile Beam Radars, "
        "Embedded GPS/INS, and Link-16 terminals",
        ("upgrade", "Aircraft", [(60, "Sensors")]),
    ),
    (
        "Follow-On Support for F-16 Aircraft",
        "follow-on support for its F-16 aircraft",
        "follow-on support for its F-16 aircraft, including aircraft modifications, spare parts and "
        "munitions support",
        ("support_or_services", "Aircraft", []),
    ),
    (
        "Construction Services",
        "construction services",
        "design and construction services for an airbase, including hangars, runways and fuel facilities",
        ("support_or_services", "Other", []),
    ),
    (
        "Refurbishment of OLIVER HAZARD PERRY Class Frigates",
        "refurbishment of two excess defense articles OLIVER HAZARD PERRY class frigates",
        "the refurbishment and upgrade of two OLIVER HAZARD PERRY class frigates being transferred as "
        "Excess Defense Articles",
        ("upgrade", "Ships", []),
    ),
    (
        "HIMARS, ATACMS, and GMLRS",
        "High Mobility Artillery Rocket Systems and munitions",
        "18 M142 High Mobility Artillery Rocket System (HIMARS) launchers, 60 M57 Army Tactical Missile "
        "Systems (ATACMS) and 180 M31A1 Guided Multiple Launch Rocket System (GMLRS) Unitary pods",
        ("mixed", "Artillery", [(18, "Artillery"), (60, "Missiles"), (180, "Missiles")]),
    ),
    (
        "AVENGER Fire Units/STINGER Missiles",
        "AVENGER fire units and STINGER missiles",
        "12 AVENGER Fire Units and 240 STINGER Block I missiles",
        ("mixed", "Air defence systems", [(12, "Air defence systems"), (240, "Missiles")]),
    ),
    (
        "F110 Engines",
        "F110 engines",
        "10 F110-GE-129 engines (8 installed and 2 spares)",
        ("new_equipment", "Engines", [(10, "Engines")]),
    ),
    (
        "AN/TPS-77 Radars",
        "air surveillance radars",
        "six AN/TPS-77 Long Range Air Surveillance Radars",
        ("new_equipment", "Sensors", [(6, "Sensors")]),
    ),
    (
        "SNIPER Targeting Pods",
        "targeting pods",
        "20 SNIPER Advanced Targeting Pods",
        ("new_equipment", "Sensors", [(20, "Sensors")]),
    ),
    (
        "SINCGARS Radios",
        "radios",
        "2,400 Single Channel Ground and Airborne Radio Systems (SINCGARS)",
        ("new_equipment", "Other", [(2400, "Other")]),
    ),
    (
        "MK 45 Naval Guns",
        "naval guns",
        "four MK 45 Mod 4 5-inch/62 caliber naval guns",
        ("new_equipment", "Naval weapons", [(4, "Naval weapons")]),
    ),
    (
        "MK 54 Torpedoes",
        "torpedoes",
        "32 MK 54 Lightweight Torpedoes",
        ("ammunition_or_munitions", "Missiles", [(32, "Missiles")]),
    ),
    ("Patrol Boats", "patrol boats", "six 25-meter Patrol Boats", ("new_equipment", "Ships", [(6, "Ships")])),
    (
        "ScanEagle Unmanned Aerial Vehicles",
        "unmanned aerial vehicles",
        "12 ScanEagle Unmanned Aerial Vehicles and 2 ground control stations",
        ("new_equipment", "Aircraft", [(12, "Aircraft")]),
    ),
    (
        "HARPOON Missiles",
        "HARPOON missiles",
        "20 RGM-84L HARPOON Block II missiles",
        ("ammunition_or_munitions", "Missiles", [(20, "Missiles")]),
    ),
    (
        "UH-60M BLACK HAWK Helicopters",
        "helicopters",
        "12 UH-60M BLACK HAWK helicopters, 26 T700-GE-701D engines (24 installed and 2 spares), 24 M240H "
        "machine guns and 12 AN/AAR-57 Common Missile Warning Systems",
        ("new_equipment", "Aircraft", [(12, "Aircraft"), (26, "Engines")]),
    ),
    (
        "Light Armored Vehicles",
        "armored vehicles",
        "40 Light Armored Vehicles (LAV-25) and 40 M242 25mm chain guns",
        ("new_equipment", "Armoured vehicles", [(40, "Armoured vehicles")]),
    ),
    (
        "M1A2 Abrams Tank Upgrade",
        "an upgrade of its M1A1 tanks",
        "the upgrade of 100 M1A1 Abrams tanks to the M1A2 SEP configuration, including 100 Commander's "
        "Independent Thermal Viewers",
        ("upgrade", "Armoured vehicles", None),
    ),
    (
        "PATRIOT Configuration-3 Firing Units and Missiles",
        "PATRIOT fire units and missiles",
        "4 PATRIOT Configuration-3 Fire Units, 4 AN/MPQ-65 Radar Sets, 8 M903 Launching Stations and 100 "
        "PATRIOT Advanced Capability-3 (PAC-3) missiles",
        ("mixed", "Air defence systems", None),
    ),
    (
        "GBU-31 JDAM Kits",
        "guided bomb kits",
        "500 GBU-31 Joint Direct Attack Munition (JDAM) tail kits and 500 MK-84 2000-lb General Purpose "
        "bombs",
        ("ammunition_or_munitions", "Missiles", [(500, "Missiles"), (500, "Other")]),
    ),
    (
        "Technical and Logistics Support for E-2C Aircraft",
        "technical and logistics support for its E-2C aircraft",
        "technical and logistics support services for its E-2C HAWKEYE aircraft",
        ("support_or_services", "Aircraft", []),
    ),
    (
        "C-130J Aircraft",
        "C-130J aircraft",
        "two C-130J-30 aircraft, 10 AE2100D3 turboprop engines (8 installed and 2 spares), and two "
        "AN/AAR-47 Missile Warning Systems",
        ("new_equipment", "Aircraft", [(2, "Aircraft"), (10, "Engines")]),
    ),
    (
        "Excess Defense Articles F-16 Aircraft",
        "excess F-16 aircraft",
        "the refurbishment and upgrade of 24 F-16 Block 25 aircraft being provided as Excess Defense "
        "Articles",
        ("upgrade", "Aircraft", None),
    ),
    (
        "AN/SPY-1D Radar Upgrade",
        "an upgrade of its ship radars",
        "an upgrade of the AN/SPY-1D radars on three destroyers",
        ("upgrade", "Sensors", None),
    ),
    (
        "Mine-Resistant Ambush-Protected Vehicles",
        "MRAP vehicles",
        "100 Mine Resistant Ambush Protected (MRAP) vehicles and 50 M2 .50 caliber machine guns",
        ("new_equipment", "Armoured vehicles", [(100, "Armoured vehicles")]),
    ),
    (
        "Littoral Combat Ships",
        "littoral combat ships",
        "four Littoral Combat Ships, each with one MK 110 57mm gun, one AN/SPS-75 radar and one RAM launcher",
        ("new_equipment", "Ships", None),
    ),
]


# Rules written from the 2011 releases once they joined the tuning part; each case is a release of its own
# (other buyers, systems and counts), so the rule is checked apart from the release it came from.
GENERAL_CASES = [
    (
        "C-295 Aircraft",
        "four C-295 aircraft",
        "4 C-295 aircraft, 6 AN/APN-242 Radars, 8 AN/ARC-231 Systems, 5 AN/APX-117 Transponders, "
        "4 AN/ALR-69A Receivers and 4 AN/AAQ-37 Distributed Aperture Sets",  # JETDS letters
        ("new_equipment", "Aircraft", [(4, "Aircraft"), (4, "Sensors")]),
    ),
    (
        "C-130H Aircraft",
        "the modification and inspection of 12 C-130H aircraft",
        "the modification and inspection of 12 C-130H aircraft and 8 T56 spare engines being provided as "
        "grant Excess Defense Articles (EDA)",
        ("upgrade", "Aircraft", []),
    ),
    (
        "Excess Defense Articles C-130H Aircraft",
        "six excess C-130H aircraft",
        "6 C-130H aircraft provided as Excess Defense Articles and their refurbishment",  # sold, not granted
        ("new_equipment", "Aircraft", [(6, "Aircraft")]),
    ),
    (
        "TPS-77 Radar",
        "one AN/TPS-77 long range radar",  # counted only in the summary: "to <buyer> for one ..."
        "the radar with its shelter and generators",
        ("new_equipment", "Sensors", [(1, "Sensors")]),
    ),
    (
        "Laser-Guided Bombs",
        "laser-guided bombs",
        "Laser-Guided Bombs (20 GBU-12 Enhanced PAVEWAY II, 10 GBU-16 PAVEWAY II), 2 BDU-50 inert bombs",
        ("ammunition_or_munitions", "Missiles", [(20, "Missiles"), (10, "Missiles")]),
    ),
    (
        "Joint Direct Attack Munitions",
        "2,000 JDAM kits",
        "2,000 JDAM kits which include 500 GBU-54 Laser JDAM kits with 500 DSU-40 Laser Sensors, 1,000 "
        "GBU-38 JDAM kits and 498 GBU-31 JDAM kits",  # a breakdown a little short of its total
        ("ammunition_or_munitions", "Missiles", [(500, "Missiles"), (1000, "Missiles"), (498, "Missiles")]),
    ),
    (
        "C-130J Aircraft",
        "four C-130J aircraft",
        "4 C-130J aircraft including: 4 Rolls Royce AE 2100D3 spare engines",  # what comes with, not parts
        ("new_equipment", "Aircraft", [(4, "Aircraft"), (4, "Engines")]),
    ),
    (
        "MK 15 PHALANX CIWS Ordnance Alteration Kits",
        "ordnance alteration kits for the upgrade of its MK 15 PHALANX systems",
        "10 Block 0 to Block 1B Ordnance Alteration Kits and 6 Block 1A to Block 1B Ordnance Alteration Kits "
        "for the MK15 PHALANX Close-In Weapon System",
        ("upgrade", "Naval weapons", [(10, "Naval weapons"), (6, "Naval weapons")]),
    ),
    (
        "F-16 Pilot Training",
        "pilot training",
        "continued pilot training. Munitions will include 300 MK 82 and 50 MK 84 and 2,000 20mm cartridges",
        ("support_or_services", "Aircraft", [(300, "Other"), (50, "Other")]),
    ),
    (
        "Night Vision Devices",
        "night vision devices",
        "500 AN/PVS-14 Night Vision Monoculars and 200 Thermal Weapon Sights",
        ("new_equipment", "Other", [(500, "Other"), (200, "Other")]),
    ),
    (
        "M1A2 Tanks",
        "tanks",
        "50 M1A2 tanks, 50 Commander's Night Sights and 100 AN/VRC-92 radios",
        ("new_equipment", "Armoured vehicles", [(50, "Armoured vehicles")]),
    ),
    (
        "Service Life Extension Program for Frigates",
        "a service life extension program",
        "a Service Life Extension Program for the upgrade of MK 15 PHALANX Close-In Weapon Systems aboard "
        "two frigates",
        ("upgrade", "Naval weapons", []),
    ),
    (
        "SH-60 Helicopters",
        "the refurbishment of three SH-60 helicopters",
        "the refurbishment of three SH-60 helicopters. The three helicopters will be fitted with an "
        "AN/APS-147 (V) 2 radar",  # a reference back and a version number are not counts
        ("upgrade", "Aircraft", []),
    ),
    (
        "M1151 HMMWVs",
        "armored HMMWVs",
        "50 M1151A1 Up-Armored HMMWVs and 20 M1152 HMMWVs",
        ("new_equipment", "Armoured vehicles", [(50, "Armoured vehicles")]),
    ),
    (
        "Procure and Install Equipment on C-130H Aircraft",
        "the installation of sensors on three C-130H aircraft",
        "the procurement and installation of 3 AN/AAQ-22 Star SAFIRE sensors and 3 Mission Computers on "
        "three C-130H aircraft",
        ("upgrade", "Aircraft", [(3, "Sensors"), (3, "Other")]),
    ),
    (
        "TOW-2A Missiles",
        "TOW missiles",
        "100 BGM-71E Radio Frequency (RF) TOW-2A Missiles, 4 TOW-2A Instrumented Missiles and 10 TOW-2 "
        "Launchers",
        ("ammunition_or_munitions", "Missiles", [(100, "Missiles"), (10, "Other")]),
    ),
    (
        "Light Armored Vehicles",
        "light armored vehicles",
        "20 LAV-25 Light Armored Vehicles, 4 LAV Mortars and 6 LAV Command and Control Vehicles",
        (
            "new_equipment",
            "Armoured vehicles",
            [(20, "Armoured vehicles"), (4, "Armoured vehicles"), (6, "Armoured vehicles")],
        ),
    ),
    (
        "NATO SEASPARROW Surface Missile Systems",
        "two MK 57 NATO SEASPARROW Surface Missile Systems",
        "two each MK 57 NATO SEASPARROW Surface Missile Systems without missiles",
        ("new_equipment", "Naval weapons", [(2, "Naval weapons")]),
    ),
]


def check_rule(title: str, summary: str, asked: str, expected: tuple) -> None:
    kind, primary, items = expected
    text = notice(
        f"Norway – {title}",
        f"to the Government of Norway for {summary}. The estimated cost is $250 million.",
        f"The Government of Norway has requested a possible sale of {asked}. The estimated cost is $250 "
        f"million.",
    )
    record = extract(text, 1)
    assert (record["kind"], record["primary_category"]) == (kind, primary), record
    if items is not None:
        assert sorted((i["quantity"], i["sipri_category"]) for i in record["items"]) == sorted(items), record


@pytest.mark.parametrize(
    ("title", "summary", "asked", "expected"), RULE_CASES, ids=[c[0] for c in RULE_CASES]
)
def test_labels_md_rules(title: str, summary: str, asked: str, expected: tuple) -> None:
    check_rule(title, summary, asked, expected)


@pytest.mark.parametrize(
    ("title", "summary", "asked", "expected"), GENERAL_CASES, ids=[c[0] for c in GENERAL_CASES]
)
def test_rules_from_the_tuning_part(title: str, summary: str, asked: str, expected: tuple) -> None:
    check_rule(title, summary, asked, expected)


def test_breakdown_and_alternatives() -> None:
    text = notice(
        "Iraq – Vehicles and Helicopters",
        "to Iraq of vehicles and helicopters worth approximately $3 billion.",
        "The Government of Iraq has requested a possible sale of 392 Light Armored Vehicles (LAVs) which "
        "include 352 LAV-25, 24 LAV-CC, and 16 LAV-A (Ambulances); up to 15 AW109 Light Utility "
        "helicopters, or alternatively, 15 Bell Model 429 helicopters. The estimated cost is $3 billion.",
    )
    record = extract(text, 1)
    assert items_of(record) == {
        (352, "Armoured vehicles"),
        (24, "Armoured vehicles"),
        (16, "Armoured vehicles"),
        (15, "Aircraft"),
    }
    assert len(record["items"]) == 4  # the alternatives are one item, the 392 total is replaced


def test_munitions_and_platform_headline_is_mixed() -> None:
    text = notice(
        "Chile – AVENGER Fire Units/STINGER Missiles",
        "to Chile of 36 AVENGER Fire Units and 378 STINGER Block 1 missiles worth approximately "
        "$455 million.",
    )
    record = extract(text, 1)
    assert record["kind"] == "mixed"
    assert record["primary_category"] == "Air defence systems"
    assert items_of(record) == {(36, "Air defence systems"), (378, "Missiles")}


def test_gp_bombs_count_only_in_munitions_sales() -> None:
    request = (
        "The Government of Oman has requested 400 MK-84 2000 lb General Purpose Bombs. "
        "The estimated cost is $90 million."
    )
    munitions = extract(notice("Oman – Bombs", "to Oman of bombs for $90 million.", request), 1)
    aircraft = extract(
        notice("Oman – F-16 Aircraft", "to Oman of F-16 aircraft for $90 million.", request), 2
    )
    assert items_of(munitions) == {(400, "Other")}
    assert aircraft["items"] == []


def test_output_schema() -> None:
    record = extract(
        notice("Canada – M777 Howitzers", "to Canada of 37 M777 155mm howitzers for $114 million."), 7
    )
    assert set(record) == {"pk", "country", "date", "estimated_cost_usd", "items", "primary_category", "kind"}
    assert record["kind"] in extraction.KINDS
    assert record["items"] == [
        {"designation": "M777 155mm howitzers", "quantity": 37, "sipri_category": "Artillery"}
    ]


def test_extract_all_streams_rows() -> None:
    rows = [
        {"pk": "a", "text": notice("Peru – X", "to Peru of 2 C-27J aircraft for $20 million.")},
        {"pk": "b", "text": ""},
    ]
    out = list(extraction.extract_all(rows))
    assert [r["pk"] for r in out] == ["a", "b"]
    assert out[0]["country"] == "Peru"
    assert out[1]["country"] is None


# --- read_texts ----------------------------------------------------------------------------------------


def test_read_texts_ok(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('pk,title,text\n1,x,"multi\nline"\n2,y,other\n', encoding="utf-8")
    assert read_texts(path) == [{"pk": "1", "text": "multi\nline"}, {"pk": "2", "text": "other"}]


@pytest.mark.parametrize(
    ("content", "column", "reason"),
    [
        ("pk,title\n1,x\n", "text", "required column missing"),
        ("pk,text\n,x\n", "pk", "required value is empty"),
        ("pk,text\n1,x\n1,y\n", "pk", "duplicate key"),
    ],
)
def test_read_texts_errors(tmp_path: Path, content: str, column: str, reason: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoadError) as err:
        read_texts(path)
    problem = err.value.problems[0]
    assert problem.column == column
    assert reason in problem.reason
    assert problem.file == str(path)


def test_read_texts_reports_row_of_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("pk,text\n1,x\n2,y\n1,z\n", encoding="utf-8")
    with pytest.raises(LoadError) as err:
        read_texts(path)
    assert err.value.problems[0].row == 4
    assert err.value.problems[0].value == "1"


def test_read_texts_unreadable(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="file not found"):
        read_texts(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"pk,text\n1,\xff\xfe\xfa\n")
    with pytest.raises(LoadError, match="cannot be read"):
        read_texts(bad)


# --- scoring -------------------------------------------------------------------------------------------


def test_item_matching_rule() -> None:
    gold = [
        {"designation": "M-TADS/PNVS", "quantity": 23, "sipri_category": "Sensors"},
        {"designation": "AIM-120C-7 AMRAAM", "quantity": 150, "sipri_category": "Missiles"},
        {"designation": "AIM-9X SIDEWINDER", "quantity": 150, "sipri_category": "Missiles"},
    ]
    predicted = [
        {"designation": "AIM-9X SIDEWINDER Missiles", "quantity": 150, "sipri_category": "Missiles"},
        {
            "designation": "Modernized Target Acquisition Designation Sight/Pilot Night Vision Sensors",
            "quantity": 23,
            "sipri_category": "Sensors",
        },
        {"designation": "AIM-120C-7 AMRAAM", "quantity": 150, "sipri_category": "Aircraft"},  # wrong category
        {"designation": "AIM-120C-7 AMRAAM", "quantity": 151, "sipri_category": "Missiles"},  # wrong count
    ]
    assert sorted(match_items(predicted, gold)) == [(0, 2), (1, 0)]


def test_evaluate_counts_fields_and_items(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "pk,year,date,country,estimated_cost_usd,items,primary_category,kind\n"
        '1,2011,2011-03-03,Peru,20000000,"[{""designation"": ""C-27J"", ""quantity"": 2, '
        '""sipri_category"": ""Aircraft""}]",Aircraft,new_equipment\n'
        "2,2009,2009-01-01,Chile,5,[],Other,upgrade\n",
        encoding="utf-8",
    )
    predictions = [
        {
            "pk": "1",
            "country": "Peru",
            "date": "2011-03-03",
            "estimated_cost_usd": 20_000_000,
            "items": [
                {"designation": "C-27J aircraft", "quantity": 2, "sipri_category": "Aircraft"},
                {"designation": "AE-2100 engines", "quantity": 10, "sipri_category": "Engines"},
            ],
            "primary_category": "Aircraft",
            "kind": "new_equipment",
        },
        {
            "pk": "2",
            "country": None,
            "date": "2009-01-01",
            "estimated_cost_usd": 5,
            "items": [],
            "primary_category": "Other",
            "kind": "support_or_services",
        },
    ]
    ev = evaluate(predictions, labels)
    assert ev.releases == 2
    assert ev.accuracy["country"] == 0.5
    assert ev.accuracy["kind"] == 0.5
    assert (ev.items_gold, ev.items_predicted, ev.items_matched) == (1, 2, 1)
    assert ev.precision == 0.5 and ev.recall == 1.0
    assert [e.pk for e in ev.errors] == ["1", "2"]
    only_2011 = evaluate(predictions, labels, pks=["1"])
    assert only_2011.releases == 1 and only_2011.accuracy["country"] == 1.0
    assert "item F1" in format_evaluation(ev)


# --- the labelled release set --------------------------------------------------------------------------

needs_shared = pytest.mark.skipif(
    not DSCA.is_dir(), reason="../shared/data/raw/dsca_major_arms_sales_2008_2012 not present"
)
LABELS = DSCA / "labels_2008_2012.csv"


@pytest.fixture(scope="module")
def scored() -> dict[str, extraction.Evaluation]:
    """Evaluations of the tuning part (2008–2011) and the untouched part (2012), extracted once."""
    (tuning_name, tuning), (holdout_name, holdout) = labelled_parts(LABELS)
    assert (tuning_name, holdout_name) == ("tuning part 2008-2011", "untouched part 2012")
    rows = read_texts(DSCA / "dsca_major_arms_sales_2008_2012.csv")
    predictions = list(extraction.extract_all(rows))
    assert len(predictions) == len(tuning) + len(holdout) == 209
    return {
        "tuning": evaluate(predictions, LABELS, pks=tuning),
        "untouched": evaluate(predictions, LABELS, pks=holdout),
    }


def assert_targets(ev: extraction.Evaluation) -> None:
    report = format_evaluation(ev)
    assert ev.accuracy["country"] >= 0.98, report
    assert ev.accuracy["estimated_cost_usd"] >= 0.97, report
    assert ev.accuracy["primary_category"] >= 0.90, report
    assert ev.f1 >= 0.85, report


@needs_shared
def test_targets_on_tuning_part(scored: dict[str, extraction.Evaluation]) -> None:
    assert scored["tuning"].releases == 155
    assert_targets(scored["tuning"])


@needs_shared
@pytest.mark.xfail(
    strict=True,
    reason="untouched 2012 part: primary category 0.870 misses the 0.90 target (country 1.000, cost 1.000, "
    "item F1 0.889 meet theirs)",
)
def test_targets_on_untouched_part(scored: dict[str, extraction.Evaluation]) -> None:
    assert_targets(scored["untouched"])


@needs_shared
def test_untouched_part_does_not_regress(scored: dict[str, extraction.Evaluation]) -> None:
    # Floors at the values measured when the rules were frozen, so later changes cannot silently lose ground.
    ev = scored["untouched"]
    report = format_evaluation(ev)
    assert ev.releases == 54
    assert ev.accuracy["country"] >= 0.98, report
    assert ev.accuracy["estimated_cost_usd"] >= 0.97, report
    assert ev.accuracy["date"] >= 0.99, report
    assert ev.accuracy["primary_category"] >= 0.87, report
    assert ev.accuracy["kind"] >= 0.85, report
    assert ev.f1 >= 0.88, report

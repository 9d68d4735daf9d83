"""System-family taxonomy: SIPRI weapon descriptions grouped into families inside SIPRI's armament categories.

The families were sized on the descriptions of US-supplied orders since 1990 (about 3,600 rows of the May
2026 register): anything with real volume (fighters, transport helicopters, guided bombs, air-to-air
missiles, APCs, radars, ...) is its own family, while rare types are folded into the nearest neighbour
(MANPADS and ABM interceptors into ``sam``, submarines into ``combat_ship``, mine-warfare ships into
``amphibious_support_ship``). Every multi-family category also has an ``other_<category>`` family that
catches descriptions no rule recognises; the four categories with a single family (naval weapons, air
defence systems, other, satellites) use that family as their catch-all.

Two reviewable tables drive the mapping (both in ``default_data``):

* ``description_families.csv`` — explicit description → family map covering every description in the 2025
  and 2026 register vintages (SIPRI reworded many of them in 2026: ``SAM`` → ``surface-to-air missile``,
  ``UAV`` → ``drone``, ...).
* ``description_categories.csv`` — derived description → SIPRI armament category map (see SOURCE.md); used
  to keep keyword-rule results inside the right category and to pick the fallback family.

Descriptions missing from the explicit table (future exports reword them again) go through ordered keyword
rules, are checked against the category table, and otherwise fall back to ``other_<category>``. Each such
description is logged once.
"""

from __future__ import annotations

import csv
import logging
import re
from functools import cache
from pathlib import Path

from evidence.records import SystemFamily

log = logging.getLogger(__name__)

DEFAULT_DATA = Path(__file__).resolve().parent / "default_data"
DESCRIPTION_FAMILIES_CSV = DEFAULT_DATA / "description_families.csv"
DESCRIPTION_CATEGORIES_CSV = DEFAULT_DATA / "description_categories.csv"

# SIPRI's armament categories, spelled as in the 2024 exports (the Feb 2026 deliveries export writes
# "Air-defence systems"; `normalise_category` accepts both).
CATEGORIES: tuple[str, ...] = (
    "Aircraft",
    "Missiles",
    "Armoured vehicles",
    "Artillery",
    "Engines",
    "Sensors",
    "Ships",
    "Naval weapons",
    "Air defence systems",
    "Other",
    "Satellites",
)

FAMILIES: tuple[SystemFamily, ...] = (
    # Aircraft
    SystemFamily("fighter_aircraft", "Fighter, ground-attack and bomber aircraft", "Aircraft"),
    SystemFamily("trainer_aircraft", "Trainer and trainer/light-combat aircraft", "Aircraft"),
    SystemFamily("transport_aircraft", "Transport and tanker/transport aircraft", "Aircraft"),
    SystemFamily("light_aircraft", "Light aircraft and light transport aircraft", "Aircraft"),
    SystemFamily(
        "special_mission_aircraft",
        "AEW, ISR, SIGINT, maritime patrol and anti-submarine aircraft",
        "Aircraft",
    ),
    SystemFamily("attack_helicopter", "Combat (attack) helicopters", "Aircraft"),
    SystemFamily("transport_helicopter", "Transport and utility helicopters, tiltrotors", "Aircraft"),
    SystemFamily("light_helicopter", "Light helicopters", "Aircraft"),
    SystemFamily("naval_helicopter", "Anti-submarine, anti-ship and AEW helicopters", "Aircraft"),
    SystemFamily("uav", "Uncrewed aircraft (drones, UAVs)", "Aircraft"),
    SystemFamily("other_aircraft", "Other aircraft (airships, target tugs, unrecognised)", "Aircraft"),
    # Missiles
    SystemFamily("air_to_air_missile", "Air-to-air missiles", "Missiles"),
    SystemFamily("air_to_surface_missile", "Air-to-surface and anti-radar missiles", "Missiles"),
    SystemFamily("guided_bomb", "Guided bombs and glide bombs", "Missiles"),
    SystemFamily(
        "anti_tank_missile", "Anti-tank missiles (incl. anti-tank/air-to-surface, e.g. Hellfire)", "Missiles"
    ),
    SystemFamily(
        "sam", "Surface-to-air missiles (incl. portable and anti-ballistic interceptors)", "Missiles"
    ),
    SystemFamily("anti_ship_missile", "Anti-ship and anti-ship/land-attack missiles", "Missiles"),
    SystemFamily("torpedo", "Torpedoes and anti-submarine missiles", "Missiles"),
    SystemFamily(
        "surface_to_surface_missile",
        "Surface-to-surface and land-attack missiles, guided rockets and shells, loitering munitions",
        "Missiles",
    ),
    SystemFamily("other_missiles", "Other missiles (unrecognised)", "Missiles"),
    # Armoured vehicles
    SystemFamily("tank", "Tanks, light tanks and fire-support vehicles", "Armoured vehicles"),
    SystemFamily(
        "apc_ifv",
        "APCs, IFVs, armoured cars, reconnaissance vehicles and tank destroyers",
        "Armoured vehicles",
    ),
    SystemFamily(
        "armoured_support_vehicle",
        "Armoured recovery, engineer, bridgelayer and supply vehicles",
        "Armoured vehicles",
    ),
    SystemFamily(
        "other_armoured_vehicles",
        "Other armoured vehicles (chassis, UGVs, unrecognised)",
        "Armoured vehicles",
    ),
    # Artillery
    SystemFamily("gun_artillery", "Towed and self-propelled guns and mortars", "Artillery"),
    SystemFamily(
        "rocket_artillery", "Multiple rocket launchers and surface-to-surface missile launchers", "Artillery"
    ),
    SystemFamily("other_artillery", "Other artillery (unrecognised)", "Artillery"),
    # Engines
    SystemFamily("aircraft_engine", "Aircraft engines (turbofan, turbojet, turboprop)", "Engines"),
    SystemFamily("vehicle_engine", "Vehicle engines", "Engines"),
    SystemFamily("ship_engine", "Ship engines, gas turbines and reactors", "Engines"),
    SystemFamily("other_engines", "Other engines (unrecognised)", "Engines"),
    # Sensors
    SystemFamily(
        "surface_radar",
        "Ground and naval radars (search, fire-control, artillery-locating, coastal)",
        "Sensors",
    ),
    SystemFamily("airborne_radar", "Combat aircraft, helicopter, AEW and maritime patrol radars", "Sensors"),
    SystemFamily(
        "eo_recon_system", "Electro-optical and reconnaissance systems (airborne and surface)", "Sensors"
    ),
    SystemFamily("sonar", "Sonars", "Sensors"),
    SystemFamily("other_sensors", "Other sensors (SIGINT systems, unrecognised)", "Sensors"),
    # Ships
    SystemFamily(
        "combat_ship", "Frigates, destroyers, cruisers, corvettes, aircraft carriers and submarines", "Ships"
    ),
    SystemFamily("patrol_craft", "Patrol boats and ships, missile and torpedo boats, gunboats", "Ships"),
    SystemFamily(
        "amphibious_support_ship", "Amphibious, mine-warfare, support and auxiliary ships and craft", "Ships"
    ),
    SystemFamily("other_ships", "Other ships (unrecognised)", "Ships"),
    # Single-family categories: the family is also the category's catch-all.
    SystemFamily(
        "naval_weapon", "Naval guns, naval SAM systems and anti-submarine launchers/mortars", "Naval weapons"
    ),
    SystemFamily(
        "air_defence_system",
        "SAM systems, anti-ballistic missile systems and anti-aircraft guns",
        "Air defence systems",
    ),
    SystemFamily("other_equipment", "Turrets, air-refuelling systems and other equipment", "Other"),
    SystemFamily("satellite", "Satellites", "Satellites"),
)

FAMILY_BY_ID: dict[str, SystemFamily] = {f.id: f for f in FAMILIES}

FALLBACK_FAMILY: dict[str, str] = {
    "Aircraft": "other_aircraft",
    "Missiles": "other_missiles",
    "Armoured vehicles": "other_armoured_vehicles",
    "Artillery": "other_artillery",
    "Engines": "other_engines",
    "Sensors": "other_sensors",
    "Ships": "other_ships",
    "Naval weapons": "naval_weapon",
    "Air defence systems": "air_defence_system",
    "Other": "other_equipment",
    "Satellites": "satellite",
}

# Ordered keyword rules for descriptions that are not in the explicit table. Order matters: the first match
# wins, so qualifiers that change the category (naval, anti-aircraft, radar, launcher, aircraft carrier) come
# before the generic nouns they qualify. Tuned so that on every description in the 2025/2026 registers the
# rule lands in the same armament category as the explicit table (tests check this).
_RULES: tuple[tuple[str, str], ...] = (
    (r"satellite", "satellite"),
    (r"\bsonar\b", "sonar"),
    # "anti-radar missile" must not read as a radar, hence the look-behind instead of \b.
    (r"\b(aircraft|heli|helicopter|airborne|combat)\b.*(?<![-\w])radar\b", "airborne_radar"),
    (r"(?<![-\w])radar\b", "surface_radar"),
    (r"\b(search|surveillance) system\b|\bcoastal defence system\b", "surface_radar"),
    (
        r"\b(eo|electro-optical|recce|reconnaissance|targeting)\b[^/]*\b(system|pod)\b|\beo search\b",
        "eo_recon_system",
    ),
    (r"\b(signals intelligence|sigint|elint|electronic warfare) (system|station)\b", "other_sensors"),
    (r"\b(turbofan|turbojet|turboprop|turboshaft|aircraft engine|aero-?engine)\b", "aircraft_engine"),
    (r"\b(vehicle|tank) engine\b", "vehicle_engine"),
    (r"\b(ship|marine|diesel) engine\b|\bgas turbine\b|\breactor\b", "ship_engine"),
    (r"\bengine\b", "other_engines"),
    (
        r"\bnaval\b.*\b(gun|launcher|mortar|system|weapon)\b|\banti-submarine (mortar|rocket launcher)\b"
        r"|\bciws\b|\bclose-in weapon",
        "naval_weapon",
    ),
    (
        r"anti-aircraft|\bair[- ]defen[cs]e\b|\bad system\b"
        r"|\b(sam|abm|surface-to-air missile|anti-ballistic missile)\b[^,]*\b(system|launcher)\b"
        r"|\b(anti|counter)-(drone|uav|uas)\b",
        "air_defence_system",
    ),
    (r"\b(mortar|self-propelled gun|howitzer|gun) turret\b", "gun_artillery"),
    (r"\bturret\b|\bair refuel|\brefuell?ing system\b", "other_equipment"),
    (r"\b(multiple rocket|rocket|missile) launcher\b|\bmrl\b", "rocket_artillery"),
    # Vehicle and boat names that contain a missile or ship word.
    (r"\btank destroyer\b", "apc_ifv"),
    (r"\bmissile boat\b", "patrol_craft"),
    (r"\bair-to-air\b", "air_to_air_missile"),
    (r"\btorpedo\b(?! boat)|\banti-submarine missile\b|\bnaval mine\b", "torpedo"),
    (r"\banti-tank\b.*\bmissile\b|\batgm\b", "anti_tank_missile"),
    (r"\banti-ship\b.*\bmissile\b|\bcoastal defence missile\b", "anti_ship_missile"),
    (
        r"\banti-radar\b|\bair-to-surface\b|\bair-to-ground\b|\basm\b|\bair-launched\b",
        "air_to_surface_missile",
    ),
    (r"\bbomb\b", "guided_bomb"),
    (r"\b(sam|abm|manpads)\b|\bsurface-to-air\b|\banti-ballistic\b", "sam"),
    (
        r"\bsurface-to-surface\b|\bland-attack\b|\bballistic missile\b|\bcruise missile\b"
        r"|\bguided (rocket|shell|projectile)\b|\bloitering\b|\bone-way attack\b|\bkamikaze\b",
        "surface_to_surface_missile",
    ),
    (r"\bmissile\b|\brocket\b|\bmunition\b", "other_missiles"),
    (r"\baircraft carrier\b", "combat_ship"),
    (r"\b(uav|ucav|uas|drone|unmanned aerial|uncrewed aerial)\b", "uav"),
    (r"\b(combat|attack|gunship) helicopter\b", "attack_helicopter"),
    (
        r"\b(anti-submarine|anti-ship|naval|maritime|asw|airborne early-warning)\b.*\bhelicopter\b",
        "naval_helicopter",
    ),
    (r"\blight helicopter\b", "light_helicopter"),
    (r"\bhelicopter\b|\btiltrotor\b", "transport_helicopter"),
    (r"\btrainer\b", "trainer_aircraft"),
    (r"\b(fighter|ground-attack|fga|bomber|strike|combat)\b.*\baircraft\b", "fighter_aircraft"),
    (
        r"\b(early-warning|aew|surveillance|reconnaissance|signals intelligence|sigint|elint|maritime patrol"
        r"|anti-submarine|electronic warfare|isr)\b.*\baircraft\b",
        "special_mission_aircraft",
    ),
    (r"\blight (transport )?aircraft\b", "light_aircraft"),
    (r"\b(transport|tanker|cargo)\b.*\baircraft\b", "transport_aircraft"),
    (r"\baircraft\b|\bairship\b|\bglider\b", "other_aircraft"),
    (
        r"\bpatrol (boat|ship|craft|vessel)\b|\bmissile boat\b|\bgunboat\b|\btorp[a-z]* boat\b"
        r"|\bfast attack craft\b"
        r"|\bopv\b",
        "patrol_craft",
    ),
    (r"\b(frigate|destroyer|cruiser|corvette|submarine)\b", "combat_ship"),
    (
        r"\b(ship|boat|craft|vessel|landing|amphibious|minehunter|minesweeper|minelayer|mcm|tug|tanker|icebreaker)\b",
        "amphibious_support_ship",
    ),
    (
        r"\b(bridgelayer|bridge-layer|recovery vehicle|engineer vehicle|supply vehicle"
        r"|logistic(al)? vehicle)\b",
        "armoured_support_vehicle",
    ),
    (r"\bchassis\b|\bugv\b|\bunmanned ground\b|\buncrewed ground\b", "other_armoured_vehicles"),
    (r"\btank\b|\bfire-support vehicle\b", "tank"),
    (r"\b(apc|ifv|mrap)\b|\bpersonnel carrier\b|\barmoured\b|\bvehicle\b", "apc_ifv"),
    (r"\b(gun|howitzer|mortar|cannon)\b", "gun_artillery"),
)
_COMPILED_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), f) for p, f in _RULES)

# Descriptions already reported as unmapped, so a 30,000-row register logs each new wording once.
_reported: set[str] = set()


def normalise_description(description: str) -> str:
    """Lower-case and collapse whitespace (SIPRI writes both 'SONAR' and 'sonar')."""
    return " ".join(str(description).split()).lower()


def normalise_category(category: str) -> str:
    """Map SIPRI's category spellings ('Air-defence systems') onto `CATEGORIES`."""
    key = " ".join(str(category).split()).lower().replace("-", " ")
    for c in CATEGORIES:
        if c.lower() == key:
            return c
    raise ValueError(f"unknown armament category {category!r}")


@cache
def description_families() -> dict[str, str]:
    """The explicit table, keyed by normalised description."""
    table: dict[str, str] = {}
    with DESCRIPTION_FAMILIES_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            family = row["family"].strip()
            if family not in FAMILY_BY_ID:
                raise ValueError(f"{DESCRIPTION_FAMILIES_CSV.name}: unknown family {family!r}")
            table[normalise_description(row["description"])] = family
    return table


@cache
def description_categories() -> dict[str, str]:
    """The derived description → armament category table, keyed by normalised description."""
    table: dict[str, str] = {}
    with DESCRIPTION_CATEGORIES_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            table[normalise_description(row["weapon_description"])] = normalise_category(
                row["armament_category"]
            )
    return table


def family_by_rules(description: str) -> str | None:
    """The family the keyword rules give, or None when no rule matches."""
    text = normalise_description(description)
    for pattern, family in _COMPILED_RULES:
        if pattern.search(text):
            return family
    return None


def category_for(description: str) -> str:
    """The armament category of a description (via its family)."""
    return FAMILY_BY_ID[family_for(description)].category


def family_for(description: str) -> str:
    """The family id for a SIPRI weapon description; never raises.

    Explicit table first; then keyword rules, accepted only if they agree with the derived category table
    where that table knows the description; then ``other_<category>``; and ``other_equipment`` when even the
    category is unknown.
    """
    key = normalise_description(description)
    family = description_families().get(key)
    if family is not None:
        return family
    known_category = description_categories().get(key)
    ruled = family_by_rules(key)
    if ruled is not None and (known_category is None or FAMILY_BY_ID[ruled].category == known_category):
        family, how = ruled, "keyword rule"
    elif known_category is not None:
        family, how = FALLBACK_FAMILY[known_category], "category fallback"
    else:
        family, how = FALLBACK_FAMILY["Other"], "no rule matched"
    if key not in _reported:
        _reported.add(key)
        log.warning(
            "weapon description %r is not in %s; mapped to %s (%s)",
            description,
            DESCRIPTION_FAMILIES_CSV.name,
            family,
            how,
        )
    return family

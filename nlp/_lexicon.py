"""Hand-written lexicons for notification item phrases: head nouns, item classes and sale cues.

Everything here follows the vocabulary and inclusion rules of the DSCA gold labels (``LABELS.md`` of the
2008–2012 release set); none of it names a particular release.

**Head nouns.** The armament category of an item phrase is read off its head: the right-most word (or
multi-word term) of the phrase that names a kind of equipment. ``STINGER Anti-Aircraft missiles`` is a
missile, not an aircraft; ``Fast Missile Craft`` is a ship, not a missile. Words such as ``system``,
``set``, ``unit``, ``kit``, ``vehicle`` or ``launcher`` say nothing about the category on their own; they
are skipped and the scan goes on to the left (``Sniper Targeting Systems`` → ``targeting system``). Terms
are matched on singular forms (`singular`).

**Item classes.** Ordered patterns over an item's designation that put it in a class the inclusion rules
treat specially: avionics and communication subsystems, self-protection EW, helmets and NVGs, aircraft
guns, fuzes, training and test rounds, support equipment and support vehicles are excluded unless the
class is the subject of the sale; gun ammunition, unguided rockets and general-purpose bombs count only in
munitions sales; small arms only when they are the subject or in support sales; launchers are aircraft
launcher hardware in aircraft sales and weapons otherwise. ``TITLE_TRIGGERS`` says which headline words
make an excluded class the subject of the sale.
"""

from __future__ import annotations

import re

from nlp.normalise import wordset

DEFER = "defer"

# Singular head term (words separated by single spaces) → armament category, or DEFER.
HEADS: dict[str, str] = {
    # Aircraft
    "aircraft": "Aircraft",
    "helicopter": "Aircraft",
    "airplane": "Aircraft",
    "aeroplane": "Aircraft",
    "airframe": "Aircraft",
    "jet": "Aircraft",
    "fighter": "Aircraft",
    "gunship": "Aircraft",
    "uav": "Aircraft",
    "uas": "Aircraft",
    "ucav": "Aircraft",
    "drone": "Aircraft",
    "aerial vehicle": "Aircraft",
    "aerial system": "Aircraft",
    "unmanned aircraft": "Aircraft",
    "awacs": "Aircraft",
    "aew&c": "Aircraft",
    "glider": "Aircraft",
    "tiltrotor": "Aircraft",
    # Engines
    "engine": "Engines",
    "turbine": "Engines",
    "power pack": "Engines",
    "powerpack": "Engines",
    "turbofan": "Engines",
    "turboprop": "Engines",
    "turbojet": "Engines",
    "turboshaft": "Engines",
    # Sensors
    "radar": "Sensors",
    "sonar": "Sensors",
    "sensor": "Sensors",
    "sight": "Sensors",
    "flir": "Sensors",
    "irst": "Sensors",
    "camera": "Sensors",
    "targeting pod": "Sensors",
    "reconnaissance pod": "Sensors",
    "navigation pod": "Sensors",
    "targeting system": "Sensors",
    "reconnaissance system": "Sensors",
    "surveillance system": "Sensors",
    "detection system": "Sensors",
    "search and track": "Sensors",
    "fire control system": "Sensors",
    "acquisition system": "Sensors",
    "designation system": "Sensors",
    "sigint system": "Sensors",
    "aerostat": "Sensors",  # SIPRI counts aerostats by the radar they carry
    "esm system": "Sensors",
    "support measure": "Sensors",  # electronic support measures: ESM receivers
    "signal exploitation": "Sensors",
    "acoustic processor": "Sensors",
    # Missiles (guided weapons of every kind, as SIPRI counts them)
    "missile": "Missiles",
    "torpedo": "Missiles",
    "interceptor": "Missiles",
    "munition": "Missiles",
    "guided munition": "Missiles",
    "guided bomb": "Missiles",
    "guided bomb unit": "Missiles",
    "glide bomb": "Missiles",
    "guidance kit": "Missiles",
    "guidance section": "Missiles",
    "guidance unit": "Missiles",
    "tail kit": "Missiles",
    "rocket pod": "Missiles",
    "guided rocket": "Missiles",
    "fuzed weapon": "Missiles",
    "fused weapon": "Missiles",
    "jdam": "Missiles",
    "guided multiple launch rocket system": "Missiles",
    "missile system": "Missiles",
    # Artillery
    "howitzer": "Artillery",
    "mortar": "Artillery",
    "multiple launch rocket system": "Artillery",
    "rocket system": "Artillery",
    "mlrs": "Artillery",
    "himars": "Artillery",
    "rocket launcher": "Artillery",
    "artillery system": "Artillery",
    # Armoured vehicles
    "tank": "Armoured vehicles",
    "apc": "Armoured vehicles",
    "ifv": "Armoured vehicles",
    "mrap": "Armoured vehicles",
    "lav": "Armoured vehicles",
    "personnel carrier": "Armoured vehicles",
    "post carrier": "Armoured vehicles",
    "logistics vehicle": "Armoured vehicles",
    "tracked vehicle": "Armoured vehicles",
    "recovery vehicle": "Armoured vehicles",
    "armored vehicle": "Armoured vehicles",
    "armoured vehicle": "Armoured vehicles",
    "fighting vehicle": "Armoured vehicles",
    "combat vehicle": "Armoured vehicles",
    "assault vehicle": "Armoured vehicles",
    "amphibious vehicle": "Armoured vehicles",
    "reconnaissance vehicle": "Armoured vehicles",
    "protected vehicle": "Armoured vehicles",
    "ambulance": "Armoured vehicles",
    "tank destroyer": "Armoured vehicles",
    "bridgelayer": "Armoured vehicles",
    "hmmwv": "Armoured vehicles",  # counted only when armoured (class "hmmwv")
    # Ships
    "ship": "Ships",
    "boat": "Ships",
    "vessel": "Ships",
    "craft": "Ships",
    "frigate": "Ships",
    "corvette": "Ships",
    "destroyer": "Ships",
    "submarine": "Ships",
    "minehunter": "Ships",
    "minesweeper": "Ships",
    "cutter": "Ships",
    "landing ship tank": "Ships",
    "hovercraft": "Ships",
    "gunboat": "Ships",
    # Satellites
    "satellite": "Satellites",
    # Naval weapons
    "naval gun": "Naval weapons",
    "ciws": "Naval weapons",
    "vls": "Naval weapons",
    "vertical launch system": "Naval weapons",
    "launch control system": "Naval weapons",
    "weapon system": "Naval weapons",
    "combat system": "Naval weapons",
    "mine neutralization system": "Naval weapons",
    "mine clearance system": "Naval weapons",
    "gun mount": "Naval weapons",
    # The US Navy's name for shipboard SAM systems (NATO SEASPARROW Surface Missile System).
    "surface missile system": "Naval weapons",
    # Air defence systems
    "fire unit": "Air defence systems",
    "firing unit": "Air defence systems",
    "launching station": "Air defence systems",
    "engagement control station": "Air defence systems",
    "ecs": "Air defence systems",
    "air defense system": "Air defence systems",
    "air defence system": "Air defence systems",
    "sam system": "Air defence systems",
    # Other (SIPRI's "Other", plus types that count only as the subject of a sale)
    "cartridge": "Other",
    "projectile": "Other",
    "ammunition": "Other",
    "round": "Other",
    "command launch unit": "Other",
    "clu": "Other",
    "tow launcher": "Other",
    "gripstock": "Other",  # the MANPADS launcher
    "armament system": "Other",
    "mission computer": "Other",
    "aircraft launch": "Other",  # carrier catapults: "Electromagnetic Aircraft Launch System"
    "arresting gear": "Other",
    "binocular": "Other",
    "aiming laser": "Other",
    "radio": "Other",
    "terminal": "Other",
    "shelter": "Other",
    "rifle": "Other",
    "carbine": "Other",
    "pistol": "Other",
    "grenade launcher": "Other",
    "machine gun": "Other",
    "sweep system": "Other",
    "c4isr": "Other",
    "c4i": "Other",
    # Words that name no category on their own: keep scanning left.
    "system": DEFER,
    "set": DEFER,
    "unit": DEFER,
    "kit": DEFER,
    "equipment": DEFER,
    "suite": DEFER,
    "assembly": DEFER,
    "group": DEFER,
    "component": DEFER,
    "station": DEFER,
    "pod": DEFER,
    "vehicle": DEFER,
    "launcher": DEFER,
    "weapon": DEFER,
    "device": DEFER,
    "program": DEFER,
    "class": DEFER,
}
HEAD_MAX_WORDS = max(len(k.split()) for k in HEADS)

# Words that make a rocket or bomb a guided weapon (SIPRI: Missiles) rather than an unguided one (Other).
GUIDED = re.compile(
    r"\b(guided|guidance|laser|gps|jdam|paveway|gbu-?\d*|cbu-?\d*|glide|sdb|jsow|gmlrs|apkws|precision|"
    r"sensor fu[sz]ed|wcmd|smart)\b",
    re.IGNORECASE,
)

# Item classes, most specific first. Each is (name, pattern over the whole lower-cased phrase).
CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        (
            "training",
            r"\b(captive|catms?|natms?|dummy|dummies|inert|telemetry|telemeters?|cutaway|simulation|"
            r"simulators?|trainers?|training|practice|exercise|lot validation|lot acceptance|instrumented|"
            r"integration test|test (vehicle|round|missile|asset|torpedo)s?|ground handling|"
            r"flight in air material)\b",
        ),
        ("helmet", r"helmet|\bjhmcs\b|\bhmcs\b|\bihdss\b|cueing system"),
        (
            "nvg",
            r"night vision (goggle|device|equipment|system)s?|\bnvgs?\b|aviator night vision|image intensif|"
            r"(night|thermal|weapon) sights?|binoculars?|aiming lasers?",
        ),
        (
            "ew",
            r"radar warning|\brwrs?\b|missile (approach |launch )?(warning|detection)|\bc?mws\b|"
            r"laser warning|laser detecting|radar signal detecting|(?<!mine )counter-?measures?|"
            r"(?<!munitions )dispens(er|ing)|\bcmds\b|"
            r"jammers?|infrared (counter|jammer|suppression)|\bircm\b|\blaircm\b|large aircraft infrared|"
            r"electronic warfare|\bdews\b|interferometers?|defensive electronic|\bchaff\b|\bflares?\b|"
            r"hover infrared suppression|self[- ]protection",
        ),
        (
            "radio",
            r"\bradios?\b(?! frequency)|sincgars?|have ?quick|retransmitters?|base stations?\b|manpack|"
            r"satcom|"
            r"\bcommunications? (system|equipment|suite|terminal)s?|voice switch|voice recording|"
            r"data ?links?|"
            r"link[- ]16|blue force tracker|\bfbcb2\b|\bmids\b|information distribution|low volume terminal|"
            r"\bterminals?\b|receiver transmitter|vehicular receiver|transceivers?",
        ),
        (
            "navigation",
            # GPS-guided munitions are weapons, not navigation sets.
            r"^(?!.*\bguided\b).*(?:\bgps\b|global positioning|\begi\b|inertial navigation|\bins\b|tacan|"
            r"altimeter|identification friend or foe|\biff\b|\baiff\b|transponders?|"
            r"navigation (system|equipment|set)s?)",
        ),
        ("atc", r"weather radar|approach radar|airport surveillance|air traffic|automation service"),
        (
            "gun",
            r"cannons?\b|vulcan|machine ?guns?|automatic weapons?|gatling|miniguns?|chain ?gun|\.50 ?cal|"
            r"grenade machine",
        ),
        (
            "small_arms",
            r"\brifles?\b|carbines?|pistols?|shotguns?|grenade launchers?|light anti-tank weapons?",
        ),
        ("fuze", r"\bfuzes?\b|\bfuses\b"),
        (
            "hmmwv",
            r"high mobility multi-?purpose wheeled vehicles?|\bhmmwvs?\b|humvees?",
        ),
        (
            "support_equipment",
            r"ground control stations?|\bgcs\b|shelters?|\btrucks?\b|trailers?|wreckers?|tractors?|\bhemtt\b|"
            r"\bfmtv\b|\bmtvr\b|\bhet\b|sedans?|motorcycles?|forklifts?|containers?|test (sets?|equipment|"
            r"stations?)|consoles?|ground power units?|\bgpus?\b|\bacmi\b|air combat maneuvering|\brover\b|"
            r"video enhanced receivers?|mission planning|\bjmps\b|survivor|evader|locators?|camouflage|"
            r"meteorological|generators?|power plants?|power units?|\bepp\b|antenna mast|relay groups?|"
            r"command posts?(?! carrier)|tactical command|coordination centrals?|memory units?|"
            r"interface devices?|tactical data system|\bafatds\b|fuel tanks?|tool kits?|water tank|"
            r"tactical vehicles?|cargo truck|stores management|cockpit displays?|blanking units?|"
            r"display systems?|software|(modification|retrofit|conversion|installation|upgrade) kits?|"
            r"\bupgrades\b|command and control(?! vehicle)",
        ),
        ("launcher", r"\blaunchers?\b|\brails?\b|\blau-\d"),
        (
            "ammunition",
            r"cartridges?|projectiles?|\bammunition\b|(?<!up-)\brounds?\b|\bshells?\b|\bgrenades?\b",
        ),
        ("rocket", r"\brockets?\b"),
        # MK 81-84 are the general-purpose bomb bodies, often named by designation alone.
        ("bomb", r"\bbombs?\b|general purpose|\bblu-?\d+|\bmk\s?-?8[1-4]\b"),
    )
)

# Classes excluded unless the sale is about them.
SUBJECT_ONLY = frozenset(
    {"training", "helmet", "nvg", "ew", "radio", "navigation", "atc", "gun", "fuze", "support_equipment"}
)
# Category a class takes when it is included and its phrase has no head noun.
CLASS_CATEGORY: dict[str, str] = {"atc": "Sensors"}

# Headline words that make a subject-only class part of the sale.
TITLE_TRIGGERS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "training": r"telemetry|practice|training (round|missile|munition|ammunition)s?|inert|dummy",
        "helmet": r"helmet|jhmcs|cueing",
        "nvg": r"night vision|\bnvgs?\b|thermal (vision|sight|imag)",
        "ew": r"laircm|infrared countermeasure|countermeasure|electronic warfare|jammer|self-protection",
        "radio": r"radio|communication|sincgars|\bmids\b|information distribution|link-16|data link",
        "navigation": r"\bgps\b|navigation|identification friend",
        "atc": r"air traffic|airport|approach radar",
        "gun": r"machine gun|small arms|\bguns?\b",
        "small_arms": r"rifle|carbine|pistol|small arms|grenade launcher",
        "fuze": r"fuze",
        "support_equipment": r"shelter|simulator|trainer\b|ground control station",
        "ammunition": r"ammunition|cartridge|projectile|\brounds\b",
        "rocket": r"rocket",
        "bomb": r"\bbomb|munition",
    }.items()
}

# Pre-quantity cues: the platform is the object of an upgrade, support or training, not a sold item.
NOT_SOLD_BEFORE = re.compile(
    r"(?:\b(?:upgrades?|upgrading|modernize|modernization|refurbish\w*|retrofit|slep|overhaul|"
    r"remanufactur\w*|modification|conversion|support(?:ing)?|sustainment|training|checkout|installation|"
    r"integration|inspection|regeneration|reactivation|fleet|direct commercial sale|commercial sale|lease)"
    r"(?:\s+and\s+\w+)?(?:\s+(?:of|for|to|on|into))?"
    r"|\b(?:for|from|to|on|aboard|onboard|existing|previously|leased?))\s+(?:the\s+|a\s+|an\s+|its\s+|their\s+)?$",
    re.IGNORECASE,
)
# Options are notified quantities too; they are kept and marked "(option)".
OPTION_BEFORE = re.compile(
    r"\boptions?\s+(?:for|to\s+(?:purchase|buy|procure|acquire))?\s*(?:an?\s+)?(?:additional\s+)?$",
    re.IGNORECASE,
)
# ... except "sale for", "up to" and "procurement and installation of", which introduce sold quantities.
SOLD_BEFORE = re.compile(
    r"\b(sale|purchase|sales)\s+for\s*$|\bup\s+to\s*$|\b(procure\w*|purchase)\s+(and\s+\w+\s+)?of\s+(the\s+)?$",
    re.IGNORECASE,
)
NOT_SOLD_AFTER = re.compile(
    r"^[^,;]{0,60}?\b(being procured|procured through|previously procured|being upgraded|to be upgraded|"
    # Grant Excess Defense Articles are given, not sold; EDA that form part of the sale are (LABELS.md 5).
    r"granted as|(provided|transferred|offered) as (a )?grant)\b",
    re.IGNORECASE,
)
NOT_SOLD_PHRASE = re.compile(r"^(previously|existing|currently)\b", re.IGNORECASE)

# Title nouns that make a headline phrase a support, training or services phrase when they are its head
# ("Pilot Training", "Sustainment Partnership"), not when they modify equipment ("Diver Support Vessels").
SUPPORT_NOUNS = wordset(
    """support training service sustainment logistics maintenance construction infrastructure facility
    follow-on repair fuel assistance partnership operation order"""
)
UPGRADE_CUE = re.compile(
    r"\b(upgrades?|upgrading|slep|service life extension|refurbish\w*|retrofit|mid-life|mlu|overhaul|"
    r"remanufactur\w*|modifications?|conversion|installation and checkout|mission computing|"
    # Equipment installed on the buyer's platforms: "Procure and Install Equipment on P-3C Aircraft".
    r"install(?:ation)?\b(?=[^.]{0,60}\b(?:on|aboard|into)\b))",
    re.IGNORECASE,
)
UPGRADE_OF_EXISTING = re.compile(
    r"\bupgrade of (the )?(existing|its|their|current)\b|\bupgrade (the )?(existing|its|their)\b",
    re.IGNORECASE,
)
RELATED = re.compile(r"^\s*(related|other|associated|additional related)\b", re.IGNORECASE)

# Justification boilerplate: the item list is over once a sentence starts like this.
JUSTIFICATION = re.compile(
    r"^(?:(?:This|The) (?:proposed )?sale (?:will|would|is|serves|of this|of these|directly)|"
    r"This sale is consistent|The U\.S\. is committed|It is vital|.{0,60}\bforeign policy\b|"
    r".{0,80}\bnational security\b|.{0,80}\bnational, economic,? and security\b|"
    r"[A-Z][\w.' ]{1,40},? (?:is|remains|has been) (?:one of|a major|a key|an important|a partner|a close|"
    r"a strong|a friendly|a stable|a strategic|a valued|a NATO|a Major|the)\b|"
    r"[A-Z][\w.' ]{1,40}, one of (?:our|the)\b|"
    r"The (?:prime|principal) contractors?|Implementation of|There (?:will|are|is) no|"
    r"[A-Z][\w.' ]{1,40} (?:needs|intends|will use|requests these|requires)\b)",
)

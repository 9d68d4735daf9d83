"""Designation gazetteer: weapon designation codes and names → SIPRI armament category and family.

The table ``default_data/designations.csv`` is derived from the SIPRI trade register (US-supplied orders
since 1970) by ``scripts/build_designations.py``; this module defines the keys both sides use, so the
build and the look-ups cannot drift apart.

Two kinds of key:

* **codes**: an alphanumeric designation such as ``AH-64D``, ``AN/APG-78``, ``MK 54`` or ``F/A-18E``. A code
  is letters, an optional separator, digits and up to three trailing letters; the ``AN/`` prefix of US
  electronics is dropped because SIPRI writes ``APG-78`` where DSCA writes ``AN/APG-78``. Each code gives
  a *full* key (``ah64d``) and a *stem* (``ah64``); look-ups try the full key first, so ``F100`` (the
  engine) is not confused with ``F-100A`` (the aircraft) that shares its stem.
* **names**: the alphabetic words of a SIPRI designation (``Black Hawk``, ``Hellfire``, ``Javelin``),
  lower-cased, matched as whole-token phrases.

A key whose SIPRI rows disagree on the armament category is ambiguous (``Longbow`` is a helicopter, a
radar and a missile) and is left out of the table at build time; see ``MIN_SHARE``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from nlp.normalise import wordset

DESIGNATIONS_CSV = Path(str(files("evidence") / "default_data" / "designations.csv"))

# A key is kept only when at least this share of its SIPRI rows fall in one armament category.
MIN_SHARE = 0.7

# Letters-then-digits words that are not designations ("Block 50", "Lot 10", "Mod 3"): without this list
# every block number would become a code and collide across systems.
_GENERIC_PREFIXES = wordset(
    """block mod lot group phase increment flight type model class batch series version configuration
    config option no number route section table annex year fy line stage tranche level capability
    unit units kit kits part parts item items set sets rev revision lots pack increment spiral tape
    build generation gen day days week weeks month months page edition"""
)

_CODE = re.compile(
    # Not inside a word, and not a version suffix of a name ("Polaris-A3", "Trident-D5").
    r"(?<![A-Za-z0-9/])(?<![A-Za-z]-)(?:AN/)?"
    r"(?P<letters>[A-Z][A-Za-z]{0,5}(?:/[A-Z]{1,3})?)"
    r"[- ]?(?P<digits>\d{1,4})(?P<suffix>[A-Za-z]{0,3})(?![A-Za-z])"
)

# Words of a SIPRI designation that never identify a system on their own.
_GENERIC_NAME_WORDS = wordset(
    """block mod version turret chassis engine engines configuration system systems radar missile
    missiles aircraft helicopter vehicle launcher gun kit kits and the of for with mk mark model
    type new upgraded modernized improved advanced super special extended range pod pods set sets
    mast unit units"""
)

_ROMAN = re.compile(r"^[ivx]+$")


@dataclass(frozen=True, slots=True)
class CodeMatch:
    start: int
    end: int
    text: str
    full: str
    stem: str


@dataclass(frozen=True, slots=True)
class Designation:
    key: str
    kind: str  # "code", "stem" or "name"
    category: str
    family: str
    description: str
    designation: str
    rows: int
    share: float


def find_codes(text: str) -> list[CodeMatch]:
    """Every designation-like code in ``text`` with its full and stem keys."""
    found: list[CodeMatch] = []
    for m in _CODE.finditer(text):
        letters = m.group("letters")
        if letters.lower() in _GENERIC_PREFIXES:
            continue
        # Mixed-case prefixes are only the capitalised kind (Mk, Bell, Cessna); "McD-" style runs are noise.
        if not (letters.isupper() or re.fullmatch(r"[A-Z][a-z]+", letters) or "/" in letters):
            continue
        stem = re.sub(r"[^a-z0-9]", "", (letters + m.group("digits")).lower())
        full = stem + m.group("suffix").lower()
        found.append(CodeMatch(m.start(), m.end(), m.group(0), full, stem))
        if "/" in letters:
            # "F/A-18" is also written "F-18": index the first letter group too.
            short = re.sub(r"[^a-z0-9]", "", (letters.split("/")[0] + m.group("digits")).lower())
            found.append(CodeMatch(m.start(), m.end(), m.group(0), short + m.group("suffix").lower(), short))
    return found


# Joint Electronics Type Designation System (MIL-STD-196): AN/<installation><type><purpose>-<number>, e.g.
# AN/APN-241 is airborne (A), radar (P), navigation aid (N). Type and purpose letters tell what an
# unfamiliar electronics item is, where neither its name nor SIPRI does: (type, purpose) → item class of
# :mod:`nlp._lexicon` (avionics excluded by LABELS.md 3) or armament category. Missile and drone
# designations (AGM, BQM) share the letters' shape but always end in M, which no entry uses.
_JETDS = re.compile(r"(?<![A-Za-z0-9])(?:AN/)?([ABDFGKMPSTUVWZ])([ACLPQRVZ])([CDEGNQRSXY])-?\s?\d")
_JETDS_CLASS: dict[tuple[str, str], str] = {
    ("R", "C"): "radio",  # ARC-210, PRC-117
    ("C", "C"): "radio",
    ("Z", "C"): "radio",
    ("R", "N"): "navigation",  # ARN-118 TACAN
    ("P", "N"): "navigation",  # APN-241 weather/navigation radar, APN-194 altimeter
    ("P", "X"): "navigation",  # APX-119 IFF
    ("R", "X"): "navigation",
    ("L", "E"): "ew",  # ALE-47 dispensers
    ("L", "R"): "ew",  # ALR-56 radar warning receivers
    ("P", "R"): "ew",  # APR-39 radar warning receivers
    ("A", "R"): "ew",  # AAR-47 missile warning
    ("V", "S"): "nvg",  # PVS-7, AVS-9 night vision goggles
}
_JETDS_CATEGORY: dict[tuple[str, str], str] = {
    **{("P", purpose): "Sensors" for purpose in "DGQSY"},  # radars: APG-68, SPY-1, TPQ-36
    **{("A", purpose): "Sensors" for purpose in "DQS"},  # infrared: AAQ-33 targeting pods, AAS-44 FLIR
    **{("Q", purpose): "Sensors" for purpose in "QRS"},  # sonar: SQS-56, AQS-22
}


def jetds(text: str) -> tuple[str | None, str | None]:
    """(item class, category) of the first JETDS electronics code in ``text`` that says either."""
    for m in _JETDS.finditer(text):
        key = (m.group(2), m.group(3))
        if key in _JETDS_CLASS or key in _JETDS_CATEGORY:
            return _JETDS_CLASS.get(key), _JETDS_CATEGORY.get(key)
    return None, None


def name_phrases(designation: str) -> list[str]:
    """Name keys of a SIPRI designation: each run of alphabetic words, lower-cased.

    ``"AGM-114L Hellfire Longbow"`` → ``["hellfire longbow"]``; ``"FGM-148 Javelin"`` → ``["javelin"]``.
    Runs are kept whole: splitting ``Black Hawk`` or ``King Air`` into single words would make ``black``
    and ``king`` names. All-lower-case designations (``aircraft engine``) are SIPRI's placeholders for
    unnamed items and give no names.
    """
    if designation == designation.lower():
        return []
    stripped = _CODE.sub(" ", designation)
    runs: list[list[str]] = [[]]
    for word in re.split(r"[\s\-/()]+", stripped):
        w = word.lower().strip(".,'")
        if len(w) >= 3 and w.isalpha() and w not in _GENERIC_NAME_WORDS and not _ROMAN.match(w):
            runs[-1].append(w)
        elif runs[-1]:
            runs.append([])
    return list(dict.fromkeys(" ".join(run) for run in runs if run))


def normalise_name(text: str) -> str:
    """Lookup form of a name phrase: lower-case words separated by single spaces."""
    return " ".join(w for w in re.split(r"[\s\-/]+", text.lower()) if w)


@cache
def designation_table() -> dict[tuple[str, str], Designation]:
    """The gazetteer keyed by (kind, key)."""
    table: dict[tuple[str, str], Designation] = {}
    with DESIGNATIONS_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            entry = Designation(
                key=row["key"],
                kind=row["kind"],
                category=row["category"],
                family=row["family"],
                description=row["description"],
                designation=row["designation"],
                rows=int(row["rows"]),
                share=float(row["share"]),
            )
            table[(entry.kind, entry.key)] = entry
    return table


@cache
def name_keys() -> tuple[str, ...]:
    """All name keys, for building a phrase matcher."""
    return tuple(key for kind, key in designation_table() if kind == "name")


def lookup_code(code: CodeMatch) -> Designation | None:
    """The entry for a code: full key first, then the stem."""
    table = designation_table()
    return table.get(("code", code.full)) or table.get(("stem", code.stem))


def lookup_name(phrase: str) -> Designation | None:
    return designation_table().get(("name", normalise_name(phrase)))

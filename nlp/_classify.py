"""Armament category of a short equipment phrase, and the sale context read from a headline.

`categorise` tries, in order:

1. the head noun (right-most equipment term, :data:`nlp._lexicon.HEADS`), refined for guns,
   rockets and bombs (calibre and guidance decide between naval gun and artillery, Missiles and Other);
2. a designation code or name the gazetteer knows (``AGM-114R HELLFIRE II``, ``F-16C/D Block 50/52``);
3. the taxonomy's keyword rules for SIPRI descriptions (:func:`evidence.taxonomy.family_by_rules`).

`headline` splits a release title into coordinated phrases (``AVENGER Fire Units/STINGER Missiles``) and
records, for each, its category and whether it names support, an upgrade or munitions; the kind and
primary-category rules in :mod:`nlp.extraction` work from that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from evidence import taxonomy
from nlp._lexicon import DEFER, GUIDED, HEAD_MAX_WORDS, HEADS, RELATED, SUPPORT_NOUNS, UPGRADE_CUE
from nlp.designations import find_codes, jetds, lookup_code, lookup_name

_WORD_SPLIT = re.compile(r"[\s/\-(),;:\"]+")
_CALIBRE = re.compile(r"\b(\d{2,3})\s?mm\b", re.IGNORECASE)
_NAVAL = re.compile(r"\b(naval|shipboard|ship|dual purpose|super rapid)\b", re.IGNORECASE)
# Munition words for headline phrases whose head is not a guided weapon ("Tank Ammunition", "Weapons").
_MUNITION_WORDS = re.compile(
    r"\b(munitions?|ammunition|bombs?|cartridges?|rounds|projectiles?|weapons|rockets?|torpedo(es)?)\b",
    re.IGNORECASE,
)
# Armoured vehicle types whose variants are named "<type> <weapon>" (LAV Mortar, LAV Assault Gun).
_VEHICLE_VARIANT = frozenset({"lav", "apc", "ifv", "mrap"})
_C2 = re.compile(r"\bc4isr\b|\bc4i\b|\bc3i\b|command,? control", re.IGNORECASE)


def singular(word: str) -> str:
    w = word.lower()
    if len(w) <= 3 or w.endswith(("ss", "us", "is", "series")):
        return w
    if w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith(("oes", "ches", "shes", "xes", "sses")):
        return w[:-2]
    if w.endswith("s"):
        return w[:-1]
    return w


def words(phrase: str) -> list[str]:
    return [singular(w) for w in _WORD_SPLIT.split(phrase) if w]


@dataclass(frozen=True, slots=True)
class Category:
    category: str
    how: str  # "head", "designation", "taxonomy"
    head: str = ""
    family: str = ""


def head_term(phrase: str) -> tuple[str, str] | None:
    """The right-most equipment term of ``phrase`` and its category (DEFER terms are skipped).

    Bare numbers are not words of a term: "TOW-2 Launchers" is a TOW launcher."""
    ws = [w for w in words(phrase) if not w.isdigit()]
    for end in range(len(ws), 0, -1):
        for n in range(min(HEAD_MAX_WORDS, end), 0, -1):
            term = " ".join(ws[end - n : end])
            category = HEADS.get(term)
            if category is None:
                continue
            if category == DEFER:
                break  # a shorter term ending here is the same generic word; move left
            return term, category
    return None


def _refine(term: str, category: str, phrase: str) -> str:
    """Guns, rockets and bombs change category with calibre and guidance; a vehicle's weapon variant
    ("LAV Mortar") is the vehicle."""
    if category == "Artillery" and _VEHICLE_VARIANT.intersection(words(phrase)[:-1]):
        return "Armoured vehicles"
    if term in ("gun", "cannon"):
        calibre = _CALIBRE.search(phrase)
        if _NAVAL.search(phrase) or (calibre and int(calibre.group(1)) >= 57 and int(calibre.group(1)) < 105):
            return "Naval weapons"
        return "Artillery"
    return category


@cache
def categorise(phrase: str) -> Category | None:
    """Category of an equipment phrase, or None when nothing in it names equipment."""
    if _C2.search(phrase):
        return Category("Other", "head", "c4isr", "other_equipment")
    found = head_term(phrase)
    if found is not None:
        term, category = found
        return Category(_refine(term, category, phrase), "head", term)
    ws = words(phrase)
    for word in ("rocket", "bomb", "gun"):
        if word in ws:
            guided = GUIDED.search(phrase) is not None
            if word == "gun":
                return Category(_refine("gun", "Artillery", phrase), "head", "gun")
            return Category("Missiles" if guided else "Other", "head", word)
    for code in find_codes(phrase):
        entry = lookup_code(code)
        if entry is not None:
            return Category(entry.category, "designation", code.text, entry.family)
    electronics = jetds(phrase)[1]
    if electronics is not None:
        return Category(electronics, "designation", "jetds")
    for n in (3, 2, 1):
        raw = [w for w in _WORD_SPLIT.split(phrase) if w]
        for i in range(len(raw) - n + 1):
            chunk = " ".join(raw[i : i + n])
            if not chunk[0].isupper():
                continue
            entry = lookup_name(chunk)
            if entry is not None:
                return Category(entry.category, "designation", chunk, entry.family)
    family = taxonomy.family_by_rules(" ".join(ws))
    if family is not None:
        return Category(taxonomy.FAMILY_BY_ID[family].category, "taxonomy", "", family)
    return None


@dataclass(frozen=True, slots=True)
class TitlePhrase:
    text: str
    category: str | None
    support: bool
    upgrade: bool
    munition: bool
    related: bool  # "related support", "other support": an add-on, not a subject


@dataclass(frozen=True, slots=True)
class Headline:
    subject: str
    phrases: tuple[TitlePhrase, ...] = field(default_factory=tuple)

    @property
    def support(self) -> bool:
        return any(p.support and not p.related for p in self.phrases)

    @property
    def upgrade(self) -> bool:
        return any(p.upgrade for p in self.phrases)

    def categories(self) -> list[str]:
        return [p.category for p in self.phrases if p.category and not p.related]


# "/" coordinates words ("Fire Units/STINGER Missiles", "Technical/Logistics"), not designations (F/A-18).
_TITLE_SPLIT = re.compile(r",\s*|(?<=[a-z]{2})\s*/\s*(?=[A-Z][A-Za-z]{2})|\s+(?:and|AND|And|&|plus)\s+|;\s*")


def _is_support(phrase: str) -> bool:
    """True when the right-most meaningful word is a support noun rather than an equipment head."""
    ws = words(phrase)
    for end in range(len(ws), 0, -1):
        # "Service Life Extension Program" is an upgrade, not a service.
        if ws[end - 1] in SUPPORT_NOUNS and not (ws[end - 1] == "service" and ws[end : end + 1] == ["life"]):
            return True
        for n in range(min(HEAD_MAX_WORDS, end), 0, -1):
            category = HEADS.get(" ".join(ws[end - n : end]))
            if category is not None and category != DEFER:
                return False
    return False


def headline(subject: str) -> Headline:
    """Split a title subject into coordinated phrases and describe each."""
    phrases: list[TitlePhrase] = []
    # Parenthesised acronyms hold no coordination; keep them out of the split.
    protected = re.sub(
        r"\(([^)]*)\)", lambda m: "(" + m.group(1).replace(",", " ").replace("/", " ") + ")", subject
    )
    for part in _TITLE_SPLIT.split(protected):
        part = re.sub(r"^(?:and|&|plus)\s+", "", part.strip(" -–"), flags=re.IGNORECASE)
        if not part:
            continue
        related = bool(RELATED.match(part)) or part.lower() in ("spare parts", "parts", "equipment")
        # "X for Y": X is what is sold or done, Y the platform served.
        own = re.split(r"\s+for\s+", part, maxsplit=1)[0]
        support = _is_support(own)
        upgrade = bool(UPGRADE_CUE.search(part))
        category = (categorise(own) if head_term(own) else None) or categorise(part)
        munition = (
            not support
            and not related
            and (
                (category is not None and category.category == "Missiles")
                or bool(_MUNITION_WORDS.search(part))
            )
            and not (category is not None and category.category in ("Ships", "Aircraft"))
        )
        phrases.append(
            TitlePhrase(part, category.category if category else None, support, upgrade, munition, related)
        )
    return Headline(subject, tuple(phrases))

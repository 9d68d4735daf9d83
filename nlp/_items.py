"""Quantified items of a notification: find every counted phrase, then apply the inclusion rules.

**Finding quantities** (on spaCy tokens of the summary + request text). A quantity is a cardinal in
digits (``2,742``), a number word (``fourteen``), a parenthesised number (``(64) Deployable ...``) or a
word with its digits (``two (2)``, counted once). Numbers are not quantities when they are money, block,
lot, mod or model numbers, calibres and other measures (``155 mm``, ``500 lb``, ``50 watt``, ``5-ton``),
years, approximations (``approximately 24``), or inside a parenthesis with other words (``(24 installed
and 3 spares)``, ``(2 per helicopter)``). The phrase of a quantity runs to the next quantity or list
punctuation and stops at connectives (``and associated``, ``as well as``, ``for an estimated``); its core
(the designation) stops at modifiers (``with``, ``for``, ``including``, ``equipped``, ``remanufactured``).

**Structure rules.** A total broken down by ``which include`` / ``consisting of`` into parts that add up
to it is replaced by its parts (the parts inherit its category). Alternatives (``15 X, or alternatively,
15 Y``) with the same count become one item. A quantity after ``upgrade of``, ``support for``, ``for``,
``fleet of``, ``direct commercial sale of`` ... names a platform that is served, not sold. The summary
usually repeats the request: a summary item is dropped when the request has one with the same count and a
compatible designation. Exact repeats inside a list are dropped.

**Inclusion** follows the classes of :mod:`nlp._lexicon`: an item is kept when its phrase names
a kind of equipment (`nlp._classify.categorise`) and no exclusion class applies, or when the
class is the subject of the sale (a headline trigger word, or the headline's designation matches only
excluded items).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace

from spacy.tokens import Doc, Token

from nlp._classify import categorise, words
from nlp._lexicon import (
    CLASS_CATEGORY,
    CLASSES,
    HEADS,
    NOT_SOLD_AFTER,
    NOT_SOLD_BEFORE,
    NOT_SOLD_PHRASE,
    OPTION_BEFORE,
    SOLD_BEFORE,
    SUBJECT_ONLY,
    TITLE_TRIGGERS,
)
from nlp.designations import find_codes, jetds
from nlp.normalise import MONTHS, parse_int, wordset

_NOT_AFTER_PREFIX = wordset(
    """block lot mod group phase model class no no. number mark mk version increment flight type series
    batch mode configuration section annex law tranche spiral option rev revision figure page
    paragraph chapter title level step stage"""
)
_APPROXIMATE = wordset("approximately about around nearly over some roughly almost increments")
_UNITS = wordset(
    """mm cm m km kg lb lbs pound pounds watt watts w kw ton tons tonne tonnes meter meters metre
    metres inch inches in ft foot feet gal gallon gallons caliber calibre cal round year years month
    months week weeks day days hour hours percent % per x knot knots nm mile miles million billion
    thousand hundred times st nd rd th am pm minutes seconds kilometers kilometres mph"""
)
_LIST_WORDS = wordset("also and plus includes including include non-mde")
_YEAR_PREFIX = wordset("in since fy until through by during year calendar from")
_BOUNDARY_TOKENS = frozenset({",", ";", ":", "•", ".", "?", "!"})
# Connectives that end an item phrase (checked on lower-cased token text sequences).
_STOP_SEQUENCES: tuple[tuple[str, ...], ...] = (
    ("and", "associated"),
    ("and", "related"),
    ("and", "other"),
    ("and", "logistical"),
    ("and", "logistics"),
    ("and", "support"),
    ("and", "spare"),
    ("as", "well", "as"),
    ("for", "a", "complete"),
    ("for", "an", "estimated"),
    ("for", "a", "total"),
    ("at", "an", "estimated"),
    ("worth",),
    ("the", "estimated"),
    ("also",),
    ("in", "addition"),
    ("non-mde",),
    ("plus",),
    ("associated",),
    ("related", "support"),
    ("other", "related"),
)
_CORE_CUT = wordset(
    """with w/ without for including includes include which that being using equipped installed modified
    remanufactured outfitted plus configured capable"""
)
_BREAKDOWN = re.compile(
    r"^\W*(?:\([^)]*\)\W*)?(?:which|that)?\s*(?:include|includes|including|consisting of|consist of|"
    r"comprised of|comprising|composed of)\b",
    re.IGNORECASE,
)
_ALTERNATIVE = re.compile(
    r"\bor\b(?:\s*,?\s*alternatively)?\s*,?\s*(?:up to\s*)?$|\band/or\s*$", re.IGNORECASE
)
_GENERIC_WORDS = wordset(
    """the a an of and or for with to in on missile missiles system systems set sets unit units kit
    kits aircraft helicopter helicopters engine engines radar radars block mod lot spare spares
    vehicle vehicles equipment guided advanced improved enhanced new modernized upgraded tactical
    light medium heavy all round up ii iii iv"""
)


@dataclass
class Candidate:
    quantity: int
    phrase: str
    core: str
    start: int
    end: int
    in_request: bool
    not_sold: bool = False
    # "304 GBU-54 kits with 304 DSU-40 Laser Sensors": a part of the munition before it
    component: bool = False
    broken_down: bool = False  # a total replaced by the parts listed after it
    cls: str | None = None
    category: str | None = None
    head: str = ""
    included: bool = False
    reason: str = ""
    codes: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class SaleContext:
    """What the headline says about the sale; the inclusion rules depend on it."""

    title_subject: str
    munitions: bool  # the sale is (partly) about missiles, bombs or ammunition
    aircraft: bool  # the headline platform is an aircraft: launchers and guns are its fittings
    support: bool  # support, training or services sale
    vehicles: bool  # a vehicle package: armoured HMMWVs in it count
    weapon_headline: bool  # the headline names weapon-scope equipment (not only radios, shelters, ...)


def informative_tokens(phrase: str) -> set[str]:
    """Designation tokens that identify a system: codes (and their stems) and non-generic words."""
    tokens = {c.full for c in find_codes(phrase)} | {c.stem for c in find_codes(phrase)}
    for w in words(phrase):
        w = w.strip(".'")
        if len(w) >= 3 and w not in _GENERIC_WORDS and not w.isdigit():
            tokens.add(re.sub(r"[^a-z0-9]", "", w))
    return {t for t in tokens if t}


def _value(token: Token) -> int | None:
    """The count a token spells, if any; "one of" and "one or" are pronouns, not counts."""
    value = parse_int(token.text)
    if value is None or value <= 0:
        return None
    following = token.doc[token.i + 1].lower_ if token.i + 1 < len(token.doc) else ""
    if token.lower_ == "one" and following in ("of", "or"):
        return None
    return value


def _quantities(doc: Doc) -> list[tuple[int, int, int]]:
    """(value, first token index, index of the first token after the number) for every quantity."""
    depth = [0] * len(doc)
    open_parens = 0
    for t in doc:
        depth[t.i] = open_parens
        open_parens = max(0, open_parens + _paren_delta(t))
    found: list[tuple[int, int, int]] = []
    skip_until = -1
    for t in doc:
        if t.i < skip_until:
            continue
        value = _value(t)
        if value is None:
            continue
        i = t.i
        paren_only = i > 0 and doc[i - 1].text == "(" and i + 1 < len(doc) and doc[i + 1].text == ")"
        if paren_only:
            # "two (2)": the digits repeat the word already counted.
            if i >= 2 and _value(doc[i - 2]) == value:
                continue
            first, after = i - 1, i + 2
        else:
            if depth[i] > 0 and not _listed_in_parenthesis(doc, i):
                continue  # inside a parenthesis with other words: "(24 installed and 3 spares)"
            first, after = i, i + 1
            repeated = after + 2 < len(doc) and doc[after].text == "(" and doc[after + 2].text == ")"
            if repeated and _value(doc[after + 1]) == value:
                after += 3  # "two (2)"
        prev = doc[first - 1] if first > 0 else None
        nxt = doc[after] if after < len(doc) else None
        if prev is not None:
            p = prev.lower_
            # Counts follow list punctuation or function words; after a capitalised word a number is part
            # of a designation ("Bell Armed 407 Helicopters", "Hawkeye 2000").
            if prev.is_alpha and prev.text[:1].isupper() and p not in _LIST_WORDS and not prev.is_sent_start:
                continue
            if prev.text in ("$", "#") or p in _NOT_AFTER_PREFIX or p in _APPROXIMATE:
                continue
            if value == 1 and p in ("this", "that", "each", "any", "every"):
                continue
            if p in ("the", "these", "those"):
                continue  # "the two EDA aircraft will also be modified": a reference back, not a new count
            if prev.text == ")" and first >= 2 and doc[first - 2].text in ("V", "v"):
                continue  # "AN/APS-143C (V) 3": a version number
            if p.rstrip(".")[:4] in MONTHS or p.rstrip(".")[:3] in MONTHS:
                continue
            if 1900 <= value <= 2100 and (p in _YEAR_PREFIX):
                continue
        if nxt is None:
            continue
        n = nxt.lower_
        if n in _UNITS or n == "of" or nxt.text in ("-", "/", "%", ","):
            continue
        if n in ("to", "or") and after + 1 < len(doc) and _value(doc[after + 1]) is not None:
            continue  # a range ("two to three")
        if nxt.is_punct and nxt.text != "(":
            continue
        if 1950 <= value <= 2100 and t.text.isdigit() and not nxt.text[:1].isupper():
            continue  # a year ("in 2009", "2010 and")
        found.append((value, first, after))
        skip_until = after
    return found


def _listed_in_parenthesis(doc: Doc, i: int) -> bool:
    """True for a count that opens an entry of a list in parentheses and is followed by a designation:
    "Laser-Guided Bombs (16 GBU-10 Enhanced PAVEWAY II, 80 GBU-12 ...)"."""
    if i == 0 or doc[i - 1].text not in ("(", ",", ";"):
        return False
    end = i + 1
    while end < len(doc) and doc[end].text not in (",", ";", ")") and end - i < 12:
        end += 1
    entry = doc[i + 1 : end].text
    return bool(find_codes(entry)) and categorise(entry) is not None


def _paren_delta(token: Token) -> int:
    # Tokens such as "(SFW)/Wind" or "GBU-24(V" carry parentheses inside them.
    return token.text.count("(") - token.text.count(")")


def _phrase_end(doc: Doc, start: int, limit: int) -> int:
    """Token index where the phrase starting at ``start`` ends (exclusive), at most ``limit``."""
    depth = 0
    i = start
    while i < limit:
        t = doc[i]
        if _paren_delta(t) < 0 and depth == 0 and i > start:
            return i  # the list in parentheses the phrase began in is closed
        if _paren_delta(t):
            depth = max(0, depth + _paren_delta(t))
        elif depth == 0:
            if t.text in _BOUNDARY_TOKENS or (t.is_sent_start and i > start):
                return i
            lower = [doc[k].lower_ for k in range(i, min(limit, i + 3))]
            if any(tuple(lower[: len(seq)]) == seq for seq in _STOP_SEQUENCES) and i > start:
                return i
        i += 1
    return limit


def _cuts(tokens: list[Token]) -> list[int]:
    """Token positions where a modifier starts ("with", "for", "including", ...), in order."""
    cuts: list[int] = []
    depth = 0
    for k, t in enumerate(tokens):
        if _paren_delta(t):
            depth = max(0, depth + _paren_delta(t))
        elif depth == 0 and k > 0:
            low = t.lower_
            nxt = tokens[k + 1] if k + 1 < len(tokens) else None
            if low in _CORE_CUT or (
                low == "to"
                and nxt is not None
                and (nxt.text[:1].islower() or nxt.lower_ in ("the", "a", "an"))
            ):
                cuts.append(k)
    return cuts


_TRAILING = frozenset({"and", "or", "and/or", "the", "a", "(", ",", "-", "on", "of", "to", "in"})


def _trimmed(tokens: list[Token]) -> str:
    while tokens and tokens[-1].lower_ in _TRAILING:
        tokens = tokens[:-1]
    if not tokens:
        return ""
    return tokens[0].doc[tokens[0].i : tokens[-1].i + 1].text


def _core(tokens: list[Token]) -> str:
    """The designation: the phrase up to its first modifier, or up to a later one when the words before
    the first name no equipment ("120MM High Explosive with Tracer (HE-T) Cartridges")."""
    cuts = _cuts(tokens)
    first = _trimmed(tokens[: cuts[0]] if cuts else tokens)
    if not first or categorise(first) is not None:
        return first
    for cut in [*cuts[1:], len(tokens)]:
        longer = _trimmed(tokens[:cut])
        if categorise(longer) is not None:
            return longer
    return first


def _after_buyer(doc: Doc, first: int) -> bool:
    """True for the count in "a possible Foreign Military Sale to the Government of Finland for 600 ...":
    "for" after the buyer introduces what is sold, not a platform served."""
    i = first - 1
    if i < 1 or doc[i].lower_ != "for":
        return False
    i -= 1
    if doc[i].text == ")":  # "the United Arab Emirates (UAE) for"
        while i > 0 and doc[i].text != "(":
            i -= 1
        i -= 1
    return i >= 0 and doc[i].ent_type_ == "GPE"


def find_candidates(region: Doc, request_start: int) -> list[Candidate]:
    quantities = _quantities(region)
    candidates: list[Candidate] = []
    text = region.text
    for k, (value, first, after) in enumerate(quantities):
        limit = quantities[k + 1][1] if k + 1 < len(quantities) else len(region)
        start = after
        # A parenthesis right after the count qualifies it ("6 (2 per helicopter) T55 engines").
        if start < limit and region[start].text == "(":
            close = next((j for j in range(start, limit) if region[j].text == ")"), None)
            if close is not None and any(_value(region[j]) for j in range(start + 1, close)):
                start = close + 1
        if start < limit and region[start].lower_ == "each":
            start += 1  # "four each MK57 ... Systems"
        end = _phrase_end(region, start, limit)
        if end <= start:
            continue
        # "Swiftship Model 176DSV0702, 54X9.2X1.8 meter ... Vessels": a comma inside a long designation.
        if end < limit and region[end].text == "," and categorise(_core(list(region[start:end]))) is None:
            longer = _phrase_end(region, end + 1, limit)
            if longer > end + 1 and categorise(_core(list(region[start:longer]))) is not None:
                end = longer
        tokens = list(region[start:end])
        phrase = region[start:end].text
        core = _core(tokens)
        if not core:
            continue
        q_start = region[first].idx
        before = text[max(0, q_start - 60) : q_start]
        before = re.split(r"[,;:]", before)[-1]
        not_sold = (
            bool(NOT_SOLD_BEFORE.search(before))
            and not SOLD_BEFORE.search(before)
            and not _after_buyer(region, first)
        )
        after_text = text[region[end - 1].idx + len(region[end - 1].text) :]
        not_sold = not_sold or bool(NOT_SOLD_AFTER.match(phrase[len(core) :] + after_text[:80]))
        not_sold = not_sold or bool(NOT_SOLD_PHRASE.match(core))
        if OPTION_BEFORE.search(before):
            not_sold, core = False, f"{core} (option)"
        # A guided munition's parts are not weapons of their own: "kits with 304 DSU-40 Laser Sensors".
        component = False
        if (
            first > 0
            and region[first - 1].lower_ == "with"
            and candidates
            and candidates[-1].quantity == value
        ):
            previous = categorise(candidates[-1].core)
            component = previous is not None and previous.category == "Missiles"
        candidates.append(
            Candidate(
                quantity=value,
                phrase=phrase,
                core=core,
                start=q_start,
                end=region[end - 1].idx + len(region[end - 1].text),
                in_request=q_start >= request_start,
                not_sold=not_sold,
                component=component,
                codes={c.full for c in find_codes(core)},
            )
        )
    return candidates


def _structure(candidates: list[Candidate], text: str) -> list[Candidate]:
    """Breakdowns replace totals; alternatives with one count merge."""
    out: list[Candidate] = []
    i = 0
    while i < len(candidates):
        c = candidates[i]
        # The breakdown cue sits after the designation, in the phrase or just after it.
        gap = c.phrase[len(c.core) :] + (
            text[c.end : candidates[i + 1].start] if i + 1 < len(candidates) else ""
        )
        if i + 1 < len(candidates) and _BREAKDOWN.match(gap):
            total, j = 0, i + 1
            while j < len(candidates) and total < c.quantity:
                if not candidates[j].component:
                    total += candidates[j].quantity
                j += 1
            category = categorise(c.core)
            part_categories = [categorise(part.core) for part in candidates[i + 1 : j]]
            # A total's parts add up to it (DSCA's sums are sometimes off by a few units) and are of its
            # kind: "6 C-130J aircraft including ... 6 spare engines" lists what comes with them.
            same_kind = category is None or all(
                found is None or found.category == category.category or part.component
                for part, found in zip(candidates[i + 1 : j], part_categories, strict=True)
            )
            if abs(total - c.quantity) <= c.quantity // 100 and same_kind:
                for part, found in zip(candidates[i + 1 : j], part_categories, strict=True):
                    if category is not None and found is None:
                        part.category = category.category
                c.broken_down, c.reason = True, "total replaced by its breakdown"
                i += 1
                continue
        if out and _ALTERNATIVE.search(text[out[-1].end : c.start]) and out[-1].quantity == c.quantity:
            prev = out[-1]
            out[-1] = replace(prev, core=f"{prev.core} or {c.core}", phrase=f"{prev.phrase} or {c.phrase}")
            prev.reason = c.reason = "merged into an alternative"
            i += 1
            continue
        out.append(c)
        i += 1
    return out


def _code_keys(phrase: str) -> set[str]:
    return {c.stem for c in find_codes(phrase)}


def _similar(a: Candidate, b: Candidate) -> bool:
    return bool(informative_tokens(a.core) & informative_tokens(b.core))


def _item_class(core: str) -> str | None:
    lower = core.lower()
    named = next((name for name, pattern in CLASSES if pattern.search(lower)), None)
    return named or jetds(core)[0]


def _classify(c: Candidate, sale: SaleContext, excluded_codes: set[str]) -> None:
    found = categorise(c.core)
    if found is not None:
        c.category, c.head = c.category or found.category, found.head
    cls = _item_class(c.core)
    # Trainer aircraft and training helicopters are aircraft, not training aids.
    if (
        cls == "training"
        and HEADS.get(c.head) == "Aircraft"
        and not re.search(r"simulat|captive|dummy|inert", c.core, re.I)
    ):
        cls = None
    # A guided weapon or a launcher system is what it is, whatever ammunition word its name contains.
    if cls in ("ammunition", "rocket", "bomb") and c.category not in (None, "Other"):
        cls = None
    c.cls = cls
    if c.not_sold:
        c.included, c.reason = False, "platform served, not sold"
        return
    if c.component:
        c.included, c.reason = False, "component of the munition before it"
        return
    if c.codes & excluded_codes and cls != "training" and (cls is not None or c.category == "Engines"):
        c.included, c.reason = False, "part of excluded support equipment"
        return
    if cls is None:
        c.included = c.category is not None
        c.reason = "equipment" if c.included else "no equipment head"
        return
    trigger = TITLE_TRIGGERS.get(cls)
    subject = bool(trigger and trigger.search(sale.title_subject))
    if cls in SUBJECT_ONLY:
        # Training and telemetry rounds are named as such; other excluded types count only when the
        # headline names no weapon-scope equipment beside them.
        if cls != "training":
            subject = subject and not sale.weapon_headline
        c.included = subject
        c.reason = f"{cls} (subject of sale)" if subject else f"{cls} excluded"
        if subject and (
            cls != "training" or c.category is None or c.head in ("rocket", "round", "cartridge")
        ):
            c.category = CLASS_CATEGORY.get(cls, "Other")
        return
    if cls == "small_arms":
        c.included = subject or sale.support
        c.category = "Other"
    elif cls == "hmmwv":
        c.included = sale.vehicles and bool(re.search(r"\barmou?red\b", c.core, re.I))
        c.category = "Armoured vehicles"
    elif cls == "launcher":
        c.included = not sale.aircraft and c.category is not None
    elif cls == "ammunition":  # gun ammunition: a support sale's cartridges are expendables (LABELS.md 4)
        c.included = subject or (sale.munitions and not sale.support)
        c.category = "Other"
    else:  # unguided rockets and bombs: live weapons, in munitions and in support sales (LABELS.md 4)
        c.included = subject or sale.munitions or sale.support
        c.category = "Other"
    c.reason = f"{cls} {'included' if c.included else 'excluded'}"


def select_items(
    candidates: list[Candidate], sale: SaleContext, text: str
) -> tuple[list[Candidate], list[Candidate]]:
    """Apply structure, duplicate and inclusion rules.

    Returns the items and the candidates after the structure rules (each with ``included`` and
    ``reason``), which `retrofit_exception` may revisit.
    """
    structured = _structure(candidates, text)
    # Support vehicles first, so that their engines and power packs can be recognised by code.
    excluded_codes: set[str] = set()
    for c in structured:
        if _item_class(c.core) in ("support_equipment", "hmmwv") and not re.search(
            r"\barmou?red\b", c.core, re.I
        ):
            excluded_codes |= c.codes
    for c in structured:
        _classify(c, sale, excluded_codes)
    _subject_exception(structured, sale)
    _shared_modifier(structured, text)
    kept: list[Candidate] = []
    # The summary's total is the request's broken-down total: its parts stand for it.
    requested = [c for c in structured if c.in_request and c.included]
    requested += [c for c in candidates if c.in_request and c.broken_down]
    for c in structured:
        if not c.included:
            continue
        if not c.in_request:
            twin = next((r for r in requested if r.quantity == c.quantity and _same_item(c, r)), None)
            if twin is not None:
                c.included, c.reason = False, "repeated in the request"
                continue
        if any(k.quantity == c.quantity and k.core.lower() == c.core.lower() for k in kept):
            c.included, c.reason = False, "repeated in the list"
            continue
        kept.append(c)
    return kept, structured


def retrofit_exception(structured: list[Candidate]) -> list[Candidate]:
    """In an upgrade sale with no qualifying item, the quantified retrofit items are what is sold.

    Called by the extractor once the kind of sale is known; returns the items it includes (from the
    request when it lists any, else from the summary).
    """
    sold = [c for c in structured if not c.not_sold and c.cls != "training"]
    chosen = [c for c in sold if c.in_request] or sold
    added: list[Candidate] = []
    for c in chosen:
        if any(a.quantity == c.quantity and a.core.lower() == c.core.lower() for a in added):
            continue
        c.included, c.reason = True, "retrofit item of an upgrade"
        c.category = c.category if c.category and c.cls is None else "Other"
        added.append(c)
    return added


def _same_item(summary: Candidate, request: Candidate) -> bool:
    if _similar(summary, request):
        return True
    # "15 helicopters" in the summary is the "15 AW109 ... helicopters" of the request.
    return summary.category == request.category and not informative_tokens(summary.core)


def _shared_modifier(candidates: list[Candidate], text: str) -> None:
    """ "20 Block 1A ... Alteration Kits and 16 Block 1B ... Alteration Kits for conversion of MK15 PHALANX":
    two conjuncts with one head noun share the modifier after the second, and so its decision."""
    for first, second in itertools.pairwise(candidates):
        if first.included or first.not_sold or first.cls is not None or not second.included:
            continue
        if (first.phrase[len(first.core) :] + text[first.end : second.start]).strip().lower() != "and":
            continue
        if words(first.core)[-1:] == words(second.core.split(" for ")[0])[-1:]:
            first.included, first.category = True, second.category
            first.reason = "shares the modifier of the item after it"


def _subject_exception(candidates: list[Candidate], sale: SaleContext) -> None:
    """Include excluded items that are the headline subject, when no included item is."""
    title_codes = _code_keys(sale.title_subject)
    if not title_codes:
        return
    if any(_code_keys(c.core) & title_codes for c in candidates if c.included):
        return
    for c in candidates:
        if c.included or c.not_sold or c.cls not in SUBJECT_ONLY:
            continue
        if _code_keys(c.core) & title_codes:
            c.included, c.reason = True, f"{c.cls} (headline subject)"
            c.category = c.category or CLASS_CATEGORY.get(c.cls or "", "Other")

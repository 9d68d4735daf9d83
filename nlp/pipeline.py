"""The shared rule-based spaCy pipeline: tokenizer, sentencizer, country EntityRuler, system matcher.

Built once per process (`pipeline` is cached) from ``spacy.blank("en")``; no statistical model is used.

* **Tokenizer.** spaCy's English infix rules split on hyphens and slashes between letters, which would
  break designations (``T700-GE-701D``, ``F-16C/D``, ``KMU-572B/B``, ``Fly-to-Buy``) into pieces; those two
  infix rules are dropped, and so are the emoticon exceptions (``8)`` would keep a bracket on a number);
  the rest (prefixes, suffixes such as ``155mm`` → ``155 mm``, exceptions such as ``U.S.``) are kept.
* **Countries.** An EntityRuler labels ``GPE`` spans with the partner id as ``ent_id_``. Patterns are every
  state and organisation spelling in ``default_data/gazetteer.csv`` (as written and in capitals, for
  headlines such as ``TURKEY - PATRIOT``) plus the DSCA-style aliases in `COUNTRY_ALIASES`. Matching is
  case-sensitive so ``turkey`` or ``china`` in running text are not countries; the longest match wins, so
  ``Taipei Economic and Cultural Representative Office in the United States`` is Taiwan, not the US.
* **Systems.** `find_systems` combines a PhraseMatcher over the designation names of
  ``default_data/designations.csv`` with the code patterns of :mod:`nlp.designations`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.util import compile_infix_regex

from evidence import gazetteer
from nlp.designations import Designation, find_codes, lookup_code, lookup_name, name_keys

# Alias → SIPRI-style name known to the gazetteer. DSCA names buyers by their government or office.
COUNTRY_ALIASES: dict[str, str] = {
    "Taipei Economic and Cultural Representative Office in the United States": "Taiwan",
    "Taipei Economic and Cultural Representative Office": "Taiwan",
    "TECRO": "Taiwan",
    "Republic of China": "Taiwan",
    # The US sells to South Korea only; DSCA writes "the Government Korea", "Republic of Korea", "ROK".
    "Korea": "South Korea",
    "ROK": "South Korea",
    "North Atlantic Treaty Organization": "NATO",
    "Türkiye": "Turkiye",
    "Great Britain": "United Kingdom",
    "Hellenic Republic": "Greece",
    "Slovak Republic": "Slovakia",
    "United Mexican States": "Mexico",
    "Britain": "United Kingdom",
    "U.A.E.": "United Arab Emirates",
    "KSA": "Saudi Arabia",
    "United States of America": "United States",
    "U.S.": "United States",
    "U.S.A.": "United States",
}


@dataclass(frozen=True, slots=True)
class SystemMention:
    start: int  # character offsets into the doc text
    end: int
    text: str
    entry: Designation


def _tokenizer_keeping_designations(nlp: Language) -> None:
    infixes = [
        p for p in nlp.Defaults.infixes if "[:<>=/]" not in p and "-|–|—" not in p and r"[+\-\*^]" not in p
    ]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    # Emoticon exceptions such as "8)" or "(:" would glue a bracket to a number: "(8) M68 trainers".
    nlp.tokenizer.rules = {k: v for k, v in nlp.tokenizer.rules.items() if "(" not in k and ")" not in k}


def _country_patterns(nlp: Language) -> list[dict]:
    names: dict[str, str] = {}
    with gazetteer.GAZETTEER_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            is_org = row["sipri_name"].strip().endswith("**")
            if row["is_state"].strip().lower() != "true" and not is_org:
                continue
            for name in (gazetteer.strip_markers(row["sipri_name"]), row["name"].strip()):
                names[name] = row["id"].strip()
    for alias, canonical in COUNTRY_ALIASES.items():
        names[alias] = gazetteer.partner_for(canonical).id
    patterns = []
    for name, partner_id in names.items():
        for variant in {name, name.upper()}:
            tokens = [{"ORTH": t.text} for t in nlp.make_doc(variant)]
            patterns.append({"label": "GPE", "pattern": tokens, "id": partner_id})
    return patterns


@cache
def pipeline() -> Language:
    nlp = spacy.blank("en")
    _tokenizer_keeping_designations(nlp)
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": None})
    ruler.add_patterns(_country_patterns(nlp))
    return nlp


@cache
def _name_matcher() -> PhraseMatcher:
    nlp = pipeline()
    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    matcher.add("SYSTEM", [nlp.make_doc(key) for key in name_keys()])
    return matcher


def find_systems(doc: Doc) -> list[SystemMention]:
    """Designation codes and names in ``doc`` that the gazetteer knows, longest first where they overlap.

    Names must be capitalised in the text (``Patriot``, ``PATRIOT``), and names of three letters or fewer
    must be in capitals (``RAM``, ``SDB``), so ordinary words (``ram``, ``hunter``) are not systems.
    """
    found: list[SystemMention] = []
    for code in find_codes(doc.text):
        entry = lookup_code(code)
        if entry is not None:
            found.append(SystemMention(code.start, code.end, code.text, entry))
    for _, start, end in _name_matcher()(doc):
        span = doc[start:end]
        text = span.text
        if not text[0].isupper() or (len(text) <= 3 and not text.isupper()):
            continue
        entry = lookup_name(text)
        if entry is not None:
            found.append(SystemMention(span.start_char, span.end_char, text, entry))
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[SystemMention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            continue
        kept.append(mention)
    return kept

"""The parts of a DSCA notification: headline, dateline, the sale description and the estimated cost.

A release reads: headline (``<buyer> – <subject>``), media contact, ``Transmittal No``, then the dateline
``WASHINGTON, <Month> <d>, <yyyy> – The Defense Security Cooperation Agency notified Congress ...`` that
opens the *summary*; then usually ``The Government of <X> has requested a possible sale of ...`` (the
*request*, often continued by ``Also included ...`` or a one-per-line list); then boilerplate
justification (foreign policy, military balance, contractors, offsets, readiness). Only summary and
request describe the sale. The justification is found by its sentence openers
(:data:`nlp._lexicon.JUSTIFICATION`), checked both at line starts (paragraphs without a final
full stop) and at sentence starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from spacy.tokens import Doc

from nlp._lexicon import JUSTIFICATION
from nlp.normalise import clean, find_dateline, find_money, flatten
from nlp.pipeline import pipeline

_REQUEST = re.compile(r"\brequested\b|\bwill request\b", re.IGNORECASE)
_COST_CUE = re.compile(
    r"(estimated (total )?(cost|value)|worth|as high as|as much as|total value|valued at|cost of|"
    r"estimated at|value of|package)\W*(is|of|at|approximately|an estimated|could be|be)?\W*"
    r"(approximately|about|up to|an estimated)?\s*$",
    re.IGNORECASE,
)
_ESTIMATED_COST_IS = re.compile(
    r"estimated (total )?(cost|value) (is|of)\s*(approximately\s*)?$", re.IGNORECASE
)
_TITLE_SEPARATOR = re.compile(r"\s+[-–—]+\s*|\s*[–—]\s*|\s+-\s+|(?<=[a-z])\s*-\s+")


@dataclass(frozen=True)
class Sections:
    title: str
    title_buyer: str  # the part of the headline before the dash, e.g. "Kingdom of Saudi Arabia"
    subject: str  # the part after it
    dateline: date | None
    region: Doc  # summary + request, one line, parsed
    request_start: int  # character offset in region.text where the request part begins

    @property
    def summary_text(self) -> str:
        return self.region.text[: self.request_start]


def split_title(title: str) -> tuple[str, str]:
    """``"Kingdom of Saudi Arabia – JAVELIN Missiles"`` → buyer and subject."""
    parts = _TITLE_SEPARATOR.split(title, maxsplit=1)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        return parts[0].strip(), parts[1].strip()
    return "", title.strip()


def sections(text: str) -> Sections:
    cleaned = clean(text)
    title = next((line.strip() for line in cleaned.split("\n") if line.strip()), "")
    buyer, subject = split_title(title)
    found = find_dateline(cleaned)
    # The description starts after the dateline's date, so the year is not read as a count.
    start = found[2] if found else _fallback_start(cleaned)
    body = cleaned[start:]
    lines = body.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if i > 0 and JUSTIFICATION.match(line.strip()):
            break
        kept.append(line)
    flat = flatten("\n".join(kept))
    doc = pipeline()(flat)
    end = len(flat)
    for k, sent in enumerate(doc.sents):
        if k > 0 and JUSTIFICATION.match(sent.text.strip()):
            end = sent.start_char
            break
    region = doc if end == len(flat) else pipeline()(flat[:end].rstrip())
    request_start = len(region.text)
    for k, sent in enumerate(region.sents):
        if k > 0 and _REQUEST.search(sent.text):
            request_start = sent.start_char
            break
    return Sections(title, buyer, subject, found[0] if found else None, region, request_start)


def _fallback_start(text: str) -> int:
    """Without a dateline, the description starts at the first "notified Congress" sentence, or at 0."""
    m = re.search(r"[^.\n]*notified Congress", text)
    return m.start() if m else 0


def estimated_cost(s: Sections, full_text: str) -> int | None:
    """The notified estimated cost in US dollars.

    Preference: the request's "The estimated cost is $X" (the figure DSCA repeats at the end of the item
    list), then the first amount introduced by a cost cue ("worth approximately", "could be as high as",
    "estimated value", "as much as") anywhere in summary or request, then the first ``$`` amount of the
    description, then of the whole release.
    """
    text = s.region.text
    amounts = find_money(text)
    request = [m for m in amounts if m.start >= s.request_start]
    for m in reversed(request):
        if _ESTIMATED_COST_IS.search(text[max(0, m.start - 60) : m.start]):
            return m.value
    for m in amounts:
        if _COST_CUE.search(text[max(0, m.start - 60) : m.start]):
            return m.value
    if amounts:
        return amounts[0].value
    anywhere = find_money(clean(full_text))
    return anywhere[0].value if anywhere else None

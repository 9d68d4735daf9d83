"""Text clean-up and the small parsers (numbers, money, dates) shared by extraction and signals.

Press releases scraped from HTML and PDF carry conversion debris: non-breaking spaces, soft hyphens used as
dashes, words broken across hard line breaks (``T-\\n700-GE-701C``, ``Self- Propelled``) and item lists laid
out one per line. `clean` repairs the debris without moving sentence content, and `flatten` turns a
multi-line block into one line while keeping list structure: a line that starts with a quantity or bullet
begins a new list entry (``;`` is inserted), every other line break is a soft wrap.

Numbers: digits with thousands separators (``2,742``), cardinal words up to the nineties and hyphenated
compounds (``twenty-four``). Money: ``$1.2 billion``, ``$3.2Billion``, ``$250 Million``, ``$647 million``
(spaces and line breaks inside are allowed). Dates: ``<Month> <d>, <yyyy>`` with full or abbreviated
month names (``Jan.``, ``Sept.``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_UNITS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
NUMBER_WORDS: frozenset[str] = frozenset(_UNITS) | frozenset(_TENS)

MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH_RE = (
    r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
DATE_RE = re.compile(_MONTH_RE + r"\s+(?P<day>\d{1,2})\s*,?\s*(?P<year>(?:19|20)\d{2})\b", re.IGNORECASE)
DATELINE_RE = re.compile(r"WASHINGTON\s*,?\s*" + DATE_RE.pattern, re.IGNORECASE)

_MONEY_RE = re.compile(
    r"(?:US\s?)?\$\s?(?P<amount>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(?P<scale>billion|million|thousand)?",
    re.IGNORECASE,
)
_SCALE = {"billion": 1_000_000_000, "million": 1_000_000, "thousand": 1_000, None: 1}

# A line starting like this opens a new list entry rather than continuing the previous line.
_LIST_START = re.compile(
    r"^\s*(?:[•●▪·\-*]\s*|\(?\d[\d,]*\)?\s+\S|(?:" + "|".join(NUMBER_WORDS) + r")\s)", re.I
)
# ... unless the previous line ends mid-phrase ("upgrade of\n35 F-16").
_OPEN_END = re.compile(
    r"(?:\b(?:of|for|to|the|a|an|and|or|with|by|at|in|on|from|than|up|is|are|be|approximately)|[,(/\-]"
    r"|\(?\b\d[\d,]*\)?)\s*$",
    re.IGNORECASE,
)


def wordset(text: str) -> frozenset[str]:
    """A word list written as one whitespace-separated string, for readable lexicons."""
    return frozenset(text.split())


def clean(text: str) -> str:
    """Repair conversion debris; line structure is kept (see `flatten`)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u00ad", " ").replace("\u200b", "")
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    # Words broken at a hyphen across a line break, or with a stray space after the hyphen.
    text = re.sub(r"(?<=[A-Za-z0-9])-[ \t]*\n[ \t]*(?=[A-Za-z0-9])", "-", text)
    text = re.sub(r"(?<=[A-Za-z0-9])- (?=[A-Za-z0-9])", "-", text)
    text = re.sub(r"[ \t]+", " ", text)
    return text


def flatten(block: str) -> str:
    """One line from a multi-line block; list entries are separated by ``;``."""
    lines = [line.strip() for line in block.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        if out and _LIST_START.match(line) and not _OPEN_END.search(out[-1]):
            out.append("; " + line.lstrip("•●▪· "))
        else:
            out.append(line)
    return re.sub(r"\s+", " ", " ".join(out)).replace(" ; ", "; ").strip()


def parse_int(text: str) -> int | None:
    """An integer count from digits (``2,742``) or number words (``fourteen``, ``twenty-four``)."""
    t = text.strip().lower().strip("()")
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+|\d+", t):
        return int(t.replace(",", ""))
    if t in _UNITS:
        return _UNITS[t]
    if t in _TENS:
        return _TENS[t]
    parts = re.split(r"[- ]", t)
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _UNITS and _UNITS[parts[1]] < 10:
        return _TENS[parts[0]] + _UNITS[parts[1]]
    return None


@dataclass(frozen=True, slots=True)
class Money:
    value: int
    start: int
    end: int


def find_money(text: str) -> list[Money]:
    """Every ``$`` amount in ``text`` in whole US dollars."""
    found: list[Money] = []
    for m in _MONEY_RE.finditer(text):
        scale = m.group("scale")
        amount = float(m.group("amount").replace(",", ""))
        value = round(amount * _SCALE[scale.lower() if scale else None])
        found.append(Money(value, m.start(), m.end()))
    return found


def parse_date(text: str) -> date | None:
    """The first ``<Month> <d>, <yyyy>`` date in ``text``."""
    m = DATE_RE.search(text)
    return _to_date(m) if m else None


def find_dateline(text: str) -> tuple[date, int, int] | None:
    """The ``WASHINGTON, <Month> <d>, <yyyy>`` dateline: its date and character span."""
    m = DATELINE_RE.search(text)
    if not m:
        return None
    d = _to_date(m)
    return (d, m.start(), m.end()) if d else None


def _to_date(m: re.Match[str]) -> date | None:
    month = MONTHS[_month_key(m)]
    try:
        return date(int(m.group("year")), month, int(m.group("day")))
    except ValueError:
        return None


def _month_key(m: re.Match[str]) -> str:
    key = m.group("month").lower().rstrip(".")
    return "sept" if key.startswith("sept") else key[:3]

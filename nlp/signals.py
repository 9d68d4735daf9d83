"""Early demand signals from dated text about a partner (phase 2 of the text evidence).

Input is any dated text tied to one partner: news, parliamentary records, attaché reports, DSCA
notifications (`Document`, `read_documents`). `analyse` finds

* **mentions** of systems and families: designation codes and names from the phase-1 gazetteer
  (``default_data/designations.csv``: ``F-16``, ``PATRIOT``, ``AH-64D``) and generic family terms built from
  the SIPRI descriptions of :mod:`evidence.taxonomy` plus everyday synonyms (``fighter jets``, ``frigates``,
  ``air defence``). A generic term right after a designation ("the F-16 fighter jets") is part of that
  mention, not a second one. Every mention carries its character span in the document and its sentence;
* the **urgency** of each sentence toward a capability gap: a transparent lexicon score with negation
  (:mod:`nlp._signal_lexicon` documents cues, weights and the negation window);
* **threat → gap → system** relations from dependency-free patterns ("to counter the threat of X",
  "lacks the capability to X", "replace its aging Y", "creating a requirement for Y").

`aggregate` turns mentions into a partner × family × period table. Its **signal** is::

    signal = log1p(documents) * (1 + mean_urgency)

``documents`` (distinct documents, not mentions, so one long article does not dominate) grows the signal
with diminishing returns; ``mean_urgency`` in (-1, 1) scales it between 0 (every mention negated or
dismissed) and twice the neutral value. `notification_signal` turns phase-1 extractions of DSCA
notifications into the same partner × family × year layout (signal = number of notifications).

As-of semantics: with ``as_of``, only documents (or notifications) dated on or before it are used, so a
signal computed for a past date never sees later text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from evidence import gazetteer, taxonomy
from evidence.loaders import LoadError, Problem
from evidence.records import NLP_MENTION
from nlp._classify import words
from nlp._io import read_csv_rows
from nlp._signal_lexicon import (
    CLAUSE_BREAKS,
    FAMILY_SYNONYMS,
    GAP_PATTERNS,
    INTENSIFIER_FACTOR,
    INTENSIFIERS,
    NEGATION_WINDOW,
    NEGATORS,
    SYSTEM_PATTERNS,
    THREAT_PATTERNS,
    URGENCY,
    URGENCY_SCALE,
)
from nlp.normalise import parse_date
from nlp.pipeline import find_systems, pipeline

PERIODS = ("year", "quarter", "month")
_NO_BREAK = re.compile(r"[\w \-/]*")
AGGREGATE_COLUMNS = [
    "partner",
    "family",
    "category",
    "period",
    "mentions",
    "documents",
    "mean_urgency",
    "signal",
    "provenance",
]
NOTIFICATION_COLUMNS = [
    "partner",
    "family",
    "category",
    "period",
    "notifications",
    "quantity",
    "signal",
    "provenance",
]


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str
    partner: str  # partner id (see evidence.gazetteer)
    date: date
    text: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class Relation:
    threat: str | None
    gap: str | None
    system: str | None


@dataclass(frozen=True, slots=True)
class Mention:
    doc_id: str
    partner: str
    date: date
    family: str
    category: str
    designation: str | None  # the designation as written, for code and name mentions
    start: int  # character offsets into Document.text
    end: int
    text: str
    sentence: str
    urgency: float
    relation: Relation | None
    source: str = ""

    @property
    def provenance(self) -> str:
        return f"{self.doc_id}:{self.start}-{self.end}"


# --- reading -------------------------------------------------------------------------------------------


def partner_id(value: str, extra: Collection[str] = ()) -> str | None:
    known = {p.id for p in gazetteer.known_partners()}
    if value in known or value in extra:
        return value
    if gazetteer.is_known(value):
        return gazetteer.partner_for(value).id
    return None


def _iso_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return parse_date(value)


def read_documents(path: Path | str, partners: Collection[str] = ()) -> list[Document]:
    """Documents from a CSV with columns ``doc_id``, ``partner``, ``date``, ``text`` and optional ``source``.

    ``partner`` is a partner id (the gazetteer's or one of ``partners``, a dataset's ids) or any spelling
    the gazetteer knows (``Turkey`` → ``turkiye``); ``date`` is
    ``YYYY-MM-DD`` (or ``March 3, 2011``). Raises :class:`evidence.loaders.LoadError` listing every bad
    cell when a column is missing, a doc_id is empty or repeated, a partner is unknown, a date cannot be
    read or a text is empty.
    """
    rows = read_csv_rows(
        path,
        required=("doc_id", "partner", "date", "text"),
        optional=("source",),
        key="doc_id",
        non_empty=("partner", "date", "text"),
        checks={
            "partner": lambda v: (
                None
                if partner_id(v.strip(), partners)
                else "unknown partner (not an id or name in the gazetteer)"
            ),
            "date": lambda v: None if _iso_date(v) else "not a date (expected YYYY-MM-DD)",
        },
    )
    documents = []
    for row in rows:
        partner = partner_id(row["partner"].strip(), partners)
        day = _iso_date(row["date"])
        if partner is None or day is None:  # read_csv_rows has already rejected these
            raise LoadError([Problem(str(path), None, None, row["doc_id"], "invalid row")])
        documents.append(Document(row["doc_id"], partner, day, row["text"], row.get("source", "")))
    return documents


# --- mentions ------------------------------------------------------------------------------------------


def _plural(term: str) -> str:
    head = term.split()[-1]
    if head.endswith(("s", "x", "ch", "sh")):
        plural = head + "es"
    elif head.endswith("y") and not head.endswith(("ay", "ey", "oy")):
        plural = head[:-1] + "ies"
    elif head.endswith("o"):
        plural = head + "es"
    else:
        plural = head + "s"
    return " ".join([*term.split()[:-1], plural])


@cache
def _family_terms() -> dict[str, str]:
    """Lower-case family term (singular and plural) → family id."""
    terms: dict[str, str] = {}
    for description, family in taxonomy.description_families().items():
        terms[description] = family
    for term, family in FAMILY_SYNONYMS.items():
        terms[term] = family
    for term, family in list(terms.items()):
        terms.setdefault(_plural(term), family)
    return terms


@cache
def _family_matcher() -> PhraseMatcher:
    nlp = pipeline()
    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    for term in _family_terms():
        matcher.add(term, [nlp.make_doc(term)])
    return matcher


def _generic_mentions(doc: Doc) -> list[tuple[int, int, str]]:
    """(start_char, end_char, family) of family terms, longest first where they overlap."""
    found = []
    for match_id, start, end in _family_matcher()(doc):
        term = doc.vocab.strings[match_id]
        span = doc[start:end]
        found.append((span.start_char, span.end_char, _family_terms()[term]))
    found.sort(key=lambda m: (m[0], -(m[1] - m[0])))
    kept: list[tuple[int, int, str]] = []
    for m in found:
        if kept and m[0] < kept[-1][1]:
            continue
        kept.append(m)
    return kept


def sentence_urgency(sentence: Span) -> float:
    """Urgency of one sentence in (-1, 1); see the lexicon module for cues and negation."""
    tokens = list(sentence)
    total = 0.0
    for k, token in enumerate(tokens):
        weight = URGENCY.get(token.lower_)
        if weight is None:
            continue
        window: list[str] = []
        for j in range(k - 1, max(-1, k - 1 - NEGATION_WINDOW), -1):
            low = tokens[j].lower_
            if low in CLAUSE_BREAKS:
                break
            window.append(low)
        negated = any(w in NEGATORS for w in window) or "no longer" in " ".join(reversed(window))
        if k > 0 and tokens[k - 1].lower_ in INTENSIFIERS:
            weight *= INTENSIFIER_FACTOR
        total += -weight if negated else weight
    return math.tanh(total / URGENCY_SCALE)


def _first(patterns: Iterable[re.Pattern[str]], text: str, group: str) -> str | None:
    """The phrase of the first pattern that matches and is not negated ("does not need more tanks")."""
    for pattern in patterns:
        for m in pattern.finditer(text):
            before = re.split(r"[,;:]|\bbut\b", text[: m.start()])[-1].lower().split()[-NEGATION_WINDOW:]
            if any(w in NEGATORS or w.endswith("n't") for w in before):
                continue
            value = m.group(group).strip()
            if value:
                return " ".join(value.split()[:8])
    return None


def sentence_relation(sentence: str) -> Relation | None:
    """The threat, gap and wanted system a sentence names, or None when it names none of them."""
    threat = _first(THREAT_PATTERNS, sentence, "threat")
    gap = _first(GAP_PATTERNS, sentence, "gap")
    system = _first(SYSTEM_PATTERNS, sentence, "system")
    if threat is None and gap is None and system is None:
        return None
    return Relation(threat, gap, system)


def analyse(doc: Document) -> list[Mention]:
    """Every system or family mention in ``doc``, with urgency and relation of its sentence."""
    parsed = pipeline()(doc.text)
    mentions: list[Mention] = []
    systems = find_systems(parsed)
    generic = _generic_mentions(parsed)
    for sentence in parsed.sents:
        s0, s1 = sentence.start_char, sentence.end_char
        in_sentence = [m for m in systems if s0 <= m.start < s1]
        generic_here = [g for g in generic if s0 <= g[0] < s1]
        urgency = sentence_urgency(sentence)
        relation = sentence_relation(sentence.text)
        found: list[tuple[int, int, str, str, str | None]] = [
            (m.start, m.end, m.entry.family, m.entry.category, m.text) for m in in_sentence
        ]
        for start, end, family in generic_here:
            if any(s < end and start < e for s, e, *_ in found):
                continue  # inside a designation ("Black Hawk")
            # "F-16 fighter jets", "PATRIOT air defence system": the generic words belong to the designation.
            if any(
                designation is not None and 0 <= start - e <= 40 and _NO_BREAK.fullmatch(doc.text[e:start])
                for _, e, _, _, designation in found
            ):
                continue
            found.append((start, end, family, taxonomy.FAMILY_BY_ID[family].category, None))
        for start, end, family, category, designation in sorted(found):
            mention_relation = relation
            if relation is not None and relation.system is None:
                mention_relation = Relation(relation.threat, relation.gap, doc.text[start:end])
            mentions.append(
                Mention(
                    doc_id=doc.doc_id,
                    partner=doc.partner,
                    date=doc.date,
                    family=family,
                    category=category,
                    designation=designation,
                    start=start,
                    end=end,
                    text=doc.text[start:end],
                    sentence=sentence.text,
                    urgency=urgency,
                    relation=mention_relation,
                    source=doc.source,
                )
            )
    return mentions


# --- aggregation ---------------------------------------------------------------------------------------


def _as_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def period_of(day: date, period: str) -> str:
    """``2011``, ``2011Q2`` or ``2011-04`` for ``period`` year, quarter or month."""
    if period == "year":
        return str(day.year)
    if period == "quarter":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    raise ValueError(f"period must be one of {PERIODS}, not {period!r}")


def aggregate(
    mentions: Iterable[Mention], period: str = "year", as_of: date | str | None = None
) -> pd.DataFrame:
    """One row per partner × family × period (see the module docstring for ``signal``)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, not {period!r}")
    cutoff = _as_date(as_of)
    rows = [
        {
            "partner": m.partner,
            "family": m.family,
            "category": m.category,
            "period": period_of(m.date, period),
            "doc_id": m.doc_id,
            "urgency": m.urgency,
            "provenance": m.provenance,
        }
        for m in mentions
        if cutoff is None or m.date <= cutoff
    ]
    if not rows:
        return pd.DataFrame(columns=AGGREGATE_COLUMNS)
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["partner", "family", "category", "period"], sort=True)
    out = grouped.agg(
        mentions=("doc_id", "size"),
        documents=("doc_id", "nunique"),
        mean_urgency=("urgency", "mean"),
        provenance=("provenance", list),
    ).reset_index()
    out["signal"] = [
        math.log1p(d) * (1 + u) for d, u in zip(out["documents"], out["mean_urgency"], strict=True)
    ]
    return out[AGGREGATE_COLUMNS]


# Engines sold with a platform power that platform.
_ENGINE_FAMILY_BY_PLATFORM = {
    "Aircraft": "aircraft_engine",
    "Armoured vehicles": "vehicle_engine",
    "Ships": "ship_engine",
}


def system_family(designation: str) -> str | None:
    """The family of a system named by its designation (``F-16C``, ``PATRIOT``), if the gazetteer
    knows it."""
    for mention in find_systems(pipeline()(designation)):
        return mention.entry.family
    return None


def item_family(designation: str, category: str, primary: str | None) -> str:
    """Family of a notified item: its designation if the gazetteer knows it, else the taxonomy's rules on
    its words, else the category's catch-all family; always inside ``category``."""
    for mention in find_systems(pipeline()(designation)):
        if mention.entry.category == category:
            return mention.entry.family
    ruled = taxonomy.family_by_rules(" ".join(words(designation)))
    if ruled is not None and taxonomy.FAMILY_BY_ID[ruled].category == category:
        family = ruled
    else:
        family = taxonomy.FALLBACK_FAMILY.get(category, taxonomy.FALLBACK_FAMILY["Other"])
    if family == "other_engines" and primary in _ENGINE_FAMILY_BY_PLATFORM:
        return _ENGINE_FAMILY_BY_PLATFORM[primary]
    return family


@dataclass(frozen=True, slots=True)
class NotifiedItem:
    """One item of a notification, tied to the buyer's partner id and the item's family."""

    partner: str
    family: str
    number: int  # 1-based position among the notification's items
    designation: str
    quantity: int


def notified_items(record: dict) -> list[NotifiedItem]:
    """The items of one extraction record with partner and family; none without a country or date."""
    if not record.get("country") or not record.get("date"):
        return []
    partner = gazetteer.partner_for(str(record["country"])).id
    return [
        NotifiedItem(
            partner,
            item_family(
                str(item["designation"]),
                taxonomy.normalise_category(item["sipri_category"]),
                record.get("primary_category"),
            ),
            n,
            str(item["designation"]),
            int(item["quantity"]),
        )
        for n, item in enumerate(record.get("items") or [], start=1)
    ]


def notification_rows(extractions: Iterable[dict], as_of: date | str | None = None) -> pd.DataFrame:
    """One row per notification × family (columns partner, family, category, date, pk, quantity) from
    phase-1 extraction records of DSCA notifications.

    A notification counts once for every family among its items (a release selling helicopters and their
    missiles signals both families); a release without items counts for the catch-all family of its
    primary category. Records without a country or date are skipped; ``quantity`` sums item quantities.
    """
    cutoff = _as_date(as_of)
    rows = []
    for record in extractions:
        if not record.get("country") or not record.get("date"):
            continue
        day = date.fromisoformat(str(record["date"]))
        if cutoff is not None and day > cutoff:
            continue
        partner = gazetteer.partner_for(str(record["country"])).id
        families: dict[str, int] = {}
        for item in notified_items(record):
            families[item.family] = families.get(item.family, 0) + item.quantity
        if not families and record.get("primary_category"):
            category = taxonomy.normalise_category(record["primary_category"])
            families[taxonomy.FALLBACK_FAMILY[category]] = 0
        for family, quantity in families.items():
            rows.append(
                {
                    "partner": partner,
                    "family": family,
                    "category": taxonomy.FAMILY_BY_ID[family].category,
                    "date": day,
                    "pk": str(record["pk"]),
                    "quantity": quantity,
                }
            )
    return pd.DataFrame(rows, columns=["partner", "family", "category", "date", "pk", "quantity"])


def notification_signal(extractions: Iterable[dict], as_of: date | str | None = None) -> pd.DataFrame:
    """Partner × family × year rows from phase-1 extraction records of DSCA notifications
    (:func:`notification_rows`); ``provenance`` lists the release pks; ``signal`` is the number of
    notifications."""
    frame = notification_rows(extractions, as_of)
    if frame.empty:
        return pd.DataFrame(columns=NOTIFICATION_COLUMNS)
    frame = frame.assign(period=[str(d.year) for d in frame["date"]])
    out = (
        frame.groupby(["partner", "family", "category", "period"], sort=True)
        .agg(notifications=("pk", "nunique"), quantity=("quantity", "sum"), provenance=("pk", list))
        .reset_index()
    )
    out["signal"] = out["notifications"].astype(float)
    return out[NOTIFICATION_COLUMNS]


def notification_evidence(extractions: Iterable[dict], source: str = "dsca") -> pd.DataFrame:
    """Evidence rows (partner, family, date, kind, value, source) for the model: one per notification
    × family, value 1, dated on the notification, so the panel's yearly sum is the notification count
    and a backtest origin sees only notifications dated up to it."""
    rows = notification_rows(extractions)
    return pd.DataFrame(
        {
            "partner": rows["partner"],
            "family": rows["family"],
            "date": rows["date"],
            "kind": NLP_MENTION,
            "value": 1.0,
            "source": [f"{source}:{pk}" for pk in rows["pk"]],
        }
    )


def mention_evidence(mentions: Iterable[Mention]) -> pd.DataFrame:
    """Evidence rows for the model from document mentions: one per document × family, value
    1 + its mean urgency (0 to 2), dated on the document, with the spans as provenance."""
    frame = pd.DataFrame(
        [
            {
                "partner": m.partner,
                "family": m.family,
                "date": m.date,
                "doc_id": m.doc_id,
                "urgency": m.urgency,
                "span": m.provenance,
            }
            for m in mentions
        ],
        columns=["partner", "family", "date", "doc_id", "urgency", "span"],
    )
    grouped = frame.groupby(["partner", "family", "date", "doc_id"], sort=True)
    out = grouped.agg(urgency=("urgency", "mean"), spans=("span", list)).reset_index()
    return pd.DataFrame(
        {
            "partner": out["partner"],
            "family": out["family"],
            "date": out["date"],
            "kind": NLP_MENTION,
            "value": 1.0 + out["urgency"].astype(float),
            "source": [";".join(spans) for spans in out["spans"]],
        }
    )

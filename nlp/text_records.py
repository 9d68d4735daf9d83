"""Texts to records: notifications become pending LORs plus NLP evidence, documents become NLP evidence.

This is what ``POST /v1/evidence/texts`` stores. A notification (a DSCA-style release) is extracted
(:mod:`nlp.extraction`); each counted item becomes a **pending** LOR of the buyer for the item's
family (a notified sale is a request the partner has made that has not yet become an order; the model's
conversion model decides how much of it turns into demand), dated on the notification, with the
release id and item as provenance. Every notification and document also yields NLP evidence rows
(:func:`nlp.signals.notification_evidence`, :func:`nlp.signals.mention_evidence`), and
**mentions** (``MENTION_COLUMNS``): each notified item or document mention with its character span in
the text, the quoted words and their sentence, the sentence's urgency (documents) and the relation read
from it (threat -> capability gap -> system), so an answer can cite what moved it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from evidence.records import LORStatus
from nlp.extraction import extract
from nlp.signals import (
    Document,
    analyse,
    mention_evidence,
    notification_evidence,
    notified_items,
    sentence_relation,
)

KINDS = ("notification", "document")
MENTION_COLUMNS = [
    "doc_id", "kind", "partner", "family", "date", "designation", "quantity", "span_start", "span_end",
    "quote", "sentence", "urgency", "threat", "gap", "system", "source",
]  # fmt: skip


@dataclass
class TextRecords:
    lors: pd.DataFrame
    evidence: pd.DataFrame
    extractions: list[dict] = field(default_factory=list)
    mentions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MENTION_COLUMNS))


def _sentence_around(text: str, start: int, end: int) -> str:
    """The sentence holding text[start:end] (to the nearest full stop or line break either side)."""
    left = max(text.rfind(".", 0, start), text.rfind("\n", 0, start)) + 1
    stops = [i for i in (text.find(".", end), text.find("\n", end)) if i >= 0]
    return text[left : (min(stops) + 1 if stops else len(text))].strip()


def _relation(sentence: str) -> dict:
    r = sentence_relation(sentence)
    return (
        {"threat": r.threat, "gap": r.gap, "system": r.system}
        if r
        else dict.fromkeys(("threat", "gap", "system"))
    )


def records_from_texts(texts: Iterable[Mapping[str, object]], source: str) -> TextRecords:
    """``texts``: mappings with ``id``, ``text``, ``kind`` and, for documents, ``partner`` and ``date``."""
    lors: list[dict] = []
    extractions: list[dict] = []
    evidence: list[pd.DataFrame] = []
    mentions: list[dict] = []
    for text in texts:
        doc_id = str(text["id"])
        body = str(text["text"])
        if text.get("kind", "document") == "notification":
            record = extract(body, doc_id)
            extractions.append(record)
            for item in notified_items(record):
                at = body.lower().find(item.designation.lower()) if item.designation else -1
                start, end = (at, at + len(item.designation)) if at >= 0 else (None, None)
                sentence = _sentence_around(body, at, at + len(item.designation)) if at >= 0 else ""
                mentions.append(
                    {
                        "doc_id": doc_id,
                        "kind": "notification",
                        "partner": item.partner,
                        "family": item.family,
                        "date": record["date"],
                        "designation": item.designation,
                        "quantity": item.quantity,
                        "span_start": start,
                        "span_end": end,
                        "quote": body[start:end] if start is not None else item.designation,
                        "sentence": sentence,
                        "urgency": None,
                        **_relation(sentence),
                        "source": f"{source}: text {doc_id}, item {item.number}",
                    }
                )
            lors.extend(
                {
                    "id": f"{doc_id}-{item.number}",
                    "partner": item.partner,
                    "family": item.family,
                    "received": record["date"],
                    "status": LORStatus.PENDING.value,
                    "quantity": item.quantity,
                    "designation": item.designation,
                    "source": f"{source}: text {doc_id}, item {item.number}",
                }
                for item in notified_items(record)
            )
            evidence.append(notification_evidence([record], source=f"{source}: text"))
        else:
            day = text["date"] if isinstance(text["date"], date) else date.fromisoformat(str(text["date"]))
            doc = Document(doc_id, str(text["partner"]), day, body, source)
            found = analyse(doc)
            evidence.append(mention_evidence(found))
            mentions.extend(
                {
                    "doc_id": doc_id,
                    "kind": "document",
                    "partner": m.partner,
                    "family": m.family,
                    "date": m.date,
                    "designation": m.designation or m.text,
                    "quantity": None,
                    "span_start": m.start,
                    "span_end": m.end,
                    "quote": m.text,
                    "sentence": m.sentence,
                    "urgency": float(m.urgency),
                    "threat": m.relation.threat if m.relation else None,
                    "gap": m.relation.gap if m.relation else None,
                    "system": m.relation.system if m.relation else None,
                    "source": f"{source}: text {doc_id}, characters {m.start}-{m.end}",
                }
                for m in found
            )
    columns = ["partner", "family", "date", "kind", "value", "source"]
    frames = [f for f in evidence if len(f)]
    return TextRecords(
        pd.DataFrame(
            lors,
            columns=["id", "partner", "family", "received", "status", "quantity", "designation", "source"],
        ),
        pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns),
        extractions,
        pd.DataFrame(mentions, columns=MENTION_COLUMNS),
    )

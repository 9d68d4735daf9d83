"""Texts to records: notifications become pending LORs plus NLP evidence, documents become NLP evidence.

This is what ``POST /v1/evidence/texts`` stores. A notification (a DSCA-style release) is extracted
(:mod:`evidence.extraction`); each counted item becomes a **pending** LOR of the buyer for the item's
family (a notified sale is a request the partner has made that has not yet become an order; the model's
conversion model decides how much of it turns into demand), dated on the notification, with the
release id and item as provenance. Every notification and document also yields NLP evidence rows
(:func:`evidence.signals.notification_evidence`, :func:`evidence.signals.mention_evidence`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from evidence.extraction import extract
from evidence.records import LORStatus
from evidence.signals import Document, analyse, mention_evidence, notification_evidence, notified_items

KINDS = ("notification", "document")


@dataclass
class TextRecords:
    lors: pd.DataFrame
    evidence: pd.DataFrame
    extractions: list[dict] = field(default_factory=list)


def records_from_texts(texts: Iterable[Mapping[str, object]], source: str) -> TextRecords:
    """``texts``: mappings with ``id``, ``text``, ``kind`` and, for documents, ``partner`` and ``date``."""
    lors: list[dict] = []
    extractions: list[dict] = []
    evidence: list[pd.DataFrame] = []
    for text in texts:
        doc_id = str(text["id"])
        if text.get("kind", "document") == "notification":
            record = extract(str(text["text"]), doc_id)
            extractions.append(record)
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
            doc = Document(doc_id, str(text["partner"]), day, str(text["text"]), source)
            evidence.append(mention_evidence(analyse(doc)))
    columns = ["partner", "family", "date", "kind", "value", "source"]
    frames = [f for f in evidence if len(f)]
    return TextRecords(
        pd.DataFrame(
            lors,
            columns=["id", "partner", "family", "received", "status", "quantity", "designation", "source"],
        ),
        pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns),
        extractions,
    )

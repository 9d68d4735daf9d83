"""Topic trends: what each partner's texts are about, period by period, and which way it is moving.

A topic is a SIPRI category of the systems a document mentions (aircraft, air defence systems, ships,
...), as found by :func:`nlp.signals.analyse`. For every partner and period, the **share** of the
partner's documents that mention a topic (documents with at least one mention; one document may touch
several topics), and for every partner × topic the **trend**: the least-squares slope of that share
per year over the periods with documents from the partner, a period without one on the topic counting
as share 0.
A rising share of a partner's reporting on air defence is the kind of early drift an analyst looks for
before any notification.

As-of semantics as for the signals: with ``as_of``, documents dated after it are not seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

from nlp.signals import PERIODS, Mention, period_of

TOPIC_COLUMNS = [
    "partner",
    "topic",
    "period",
    "documents",
    "partner_documents",
    "share",
    "trend",
    "provenance",
]


def period_start(label: str) -> float:
    """A period label of :func:`nlp.signals.period_of` as a decimal year (2011Q2 -> 2011.25)."""
    if "Q" in label:
        year, quarter = label.split("Q")
        return int(year) + (int(quarter) - 1) / 4
    if "-" in label:
        year, month = label.split("-")
        return int(year) + (int(month) - 1) / 12
    return float(label)


def _slope(when: np.ndarray, share: np.ndarray) -> float:
    """Least-squares change in share per year (0 for a single period)."""
    if share.size < 2:
        return 0.0
    return float(np.polyfit(when, share, 1)[0])


def topic_trends(
    mentions: Iterable[Mention], period: str = "year", as_of: date | str | None = None
) -> pd.DataFrame:
    """One row per partner × topic × period with a document on any topic (columns ``TOPIC_COLUMNS``)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, not {period!r}")
    cutoff = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    seen = [
        (m.partner, m.category, period_of(m.date, period), m.doc_id)
        for m in mentions
        if cutoff is None or m.date <= cutoff
    ]
    if not seen:
        return pd.DataFrame(columns=TOPIC_COLUMNS)
    frame = pd.DataFrame(seen, columns=["partner", "topic", "period", "doc_id"]).drop_duplicates()
    totals = frame.groupby(["partner", "period"])["doc_id"].nunique().rename("partner_documents")
    topics = (
        frame.groupby(["partner", "topic", "period"])
        .agg(documents=("doc_id", "nunique"), provenance=("doc_id", lambda ids: sorted(set(ids))))
        .reset_index()
    )
    rows = []
    for (partner, topic), own in topics.groupby(["partner", "topic"], sort=True):
        periods = totals.loc[partner]
        docs = own.set_index("period")["documents"].reindex(periods.index, fill_value=0)
        provenance = own.set_index("period")["provenance"]
        share = (docs / periods).to_numpy(dtype=float)
        trend = _slope(np.array([period_start(str(p)) for p in periods.index]), share)
        for (label, count), total, value in zip(docs.items(), periods.to_numpy(), share, strict=True):
            rows.append(
                {
                    "partner": partner,
                    "topic": topic,
                    "period": label,
                    "documents": int(count),
                    "partner_documents": int(total),
                    "share": float(value),
                    "trend": trend,
                    "provenance": list(provenance.get(label, [])),
                }
            )
    return pd.DataFrame(rows, columns=TOPIC_COLUMNS)

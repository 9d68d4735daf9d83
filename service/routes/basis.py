"""What an answer is based on: ``POST /v1/basis``.

For a family or a named system and a set of partners: the model's data (through which year, the book as
of when), the book's requests the answer counts (firm, pending, withdrawn; with their provenance, which
for a notified sale names the text and item), the text mentions behind the partners' signal (each with
its character span in the text, its sentence, urgency and the relation read from it: threat ->
capability gap -> system), and what the text signal does to the forecast when the model has that term.
Scoped like every answer: a key sees its partners' evidence only.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import numpy as np
import pandas as pd
from litestar import Request
from litestar.datastructures import State
from litestar.response import Response

from service import store
from service.bodies import Basis, BasisRequest
from service.openapi import resource_router
from service.routes.common import JSON_BODY, cached_answer, forecast_post, served_model
from service.routes.forecasts import target
from service.state import active_model, services_of


def _none(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT else v


def _requests(rows: pd.DataFrame, system: str | None, f) -> list[dict]:
    """The requests an answer counts: those on the book (firm, pending, withdrawn) in the forecast years,
    and older pending ones, of the system when one is named."""
    status = rows["status"].astype(str)
    ahead = pd.to_datetime(rows["received"]).dt.year >= int(f.years[0])
    rows = rows[status.isin(["firm", "pending", "withdrawn"]) & (ahead | (status == "pending"))]
    systems = f.catalogue.assign(rows["designation"].fillna(""), rows["family"]) if len(rows) else []
    out = []
    for r, s in zip(rows.itertuples(index=False), systems, strict=True):
        if system is not None and s != system:
            continue
        out.append(
            {
                "id": str(r.id),
                "partner": str(r.partner),
                "family": str(r.family),
                "system": _none(s),
                "status": str(r.status),
                "received": str(pd.Timestamp(r.received).date()),
                "quantity": None if pd.isna(r.quantity) else int(r.quantity),
                "designation": str(r.designation or ""),
                "source": str(r.source or ""),
                "channel": str(getattr(r, "channel", "") or ""),
            }
        )
    return sorted(out, key=lambda x: x["received"], reverse=True)


def _mentions(frame: pd.DataFrame) -> list[dict]:
    out = []
    for r in frame.itertuples(index=False):
        relation = None
        if any(_none(v) for v in (r.threat, r.gap, r.system)):
            relation = {"threat": _none(r.threat), "gap": _none(r.gap), "system": _none(r.system)}
        start, end = _none(r.span_start), _none(r.span_end)
        out.append(
            {
                "doc_id": r.doc_id,
                "kind": r.kind,
                "partner": r.partner,
                "family": r.family,
                "date": str(r.date),
                "designation": r.designation,
                "quantity": None if _none(r.quantity) is None else int(r.quantity),
                "span": None if start is None else {"start": int(start), "end": int(end)},
                "quote": r.quote,
                "sentence": r.sentence,
                "urgency": None if _none(r.urgency) is None else float(r.urgency),
                "relation": relation,
                "source": r.source,
            }
        )
    return out


@forecast_post("/basis")
async def answer_basis(
    state: State, request: Request, data: Annotated[BasisRequest, JSON_BODY]
) -> Response[Basis]:
    """What an answer about a family or a named system, for these partners, is based on: the data it
    was fitted on, the book's requests it counts (with their provenance), the text mentions behind the
    partners' signal (span, sentence, urgency, threat -> gap -> system) and the signal's effect."""
    services = services_of(state)
    served = active_model(services)
    f = served.forecaster
    system, chosen = target(request, f, data)
    family = chosen.families[0]
    partners = list(chosen.partners)

    def compute() -> bytes:
        effects = f.signal_effect(partners, family)
        signal = {
            "in_model": effects is not None,
            "note": (
                "the model has no text-signal term (fitted without text evidence): texts move this answer "
                "through the book only (notified sales are pending requests)"
                if effects is None
                else "factor on each partner's expected requests per year from its recent text signal "
                "(posterior mean; 1: an average covered cell); factors within 1% of 1 left out"
            ),
            "effects": []
            if effects is None
            else [
                {"partner": p, "year": int(y), "factor": float(effects[i, k])}
                for i, p in enumerate(partners)
                for k, y in enumerate(f.years)
                if abs(effects[i, k] - 1) > 0.01
            ][:500],
        }
        mentions = store.read_mentions(services.engine, partners, [family], data.limit)
        if system is not None and len(mentions):
            named = f.catalogue.assign(mentions["designation"].fillna(""), mentions["family"])
            mentions = mentions[[s in (system, None) for s in named]]
        return msgspec.json.encode(
            {
                "model": served_model(served),
                "family": family,
                "system": system,
                "partners": partners,
                "data_through": int(f.years[0]) - 1,
                "book_as_of": f.book_as_of,
                "history": f"requests (SIPRI orders as the stand-in for LORs) through {int(f.years[0]) - 1}, "
                f"data hash {served.record.data_hash or ''}, priors {served.record.priors_hash or ''}",
                "requests": _requests(store.read_lors_of(services.engine, partners, family), system, f),
                "mentions": _mentions(mentions),
                "signal": signal,
            }
        )

    key = ("basis", system, data.limit, chosen)
    return await cached_answer(request, served, key, compute, len(partners))


router = resource_router("/v1", [answer_basis], tag="forecasts")

"""Records an analyst stores: LORs, evidence, domestic plans, every supplier's orders (JSON or CSV,
all rows or none), a request's status, and texts to extract from."""

from __future__ import annotations

from typing import Annotated

import anyio
import msgspec
from litestar import Request, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from evidence.loaders import LoadError, Problem
from evidence.records import DOMESTIC_PLANS, EVIDENCE, LORS, SUPPLIER_ORDERS, Table
from service import scope, store
from service.bodies import Extraction, LorStatusRequest, Stored, TextsStored, TextsUpload
from service.guards import request_caller, requires
from service.openapi import errors, resource_router, upload_operation
from service.routes.common import JSON_BODY, SMALL_BODY
from service.state import services_of


async def _ingest(state: State, request: Request, kind: str) -> Stored:
    services = services_of(state)
    caller = request_caller(request)
    body = await request.body()
    source = f"POST /v1/{kind} by key {caller.key_id}"

    def work() -> store.Stored:
        if not store.has_partner(store.INGESTS[kind]):  # refused before the body is even read
            scope.check_rows(caller, store.INGESTS[kind].name, None)
        raw, offset = store.parse_upload(
            body,
            request.headers.get("content-type", ""),
            source,
            services.settings.max_rows,
            store.INGESTS[kind],
        )
        stored = store.ingest(services.engine, kind, raw, source, caller.key_id, offset, caller)
        if kind == "lors":  # the served answers move with the book, at once (no refit)
            services.holder.refresh_book()
        return stored

    result = await anyio.to_thread.run_sync(work)
    return Stored(result.batch, result.kind, result.rows, result.replaced)


_INGEST_DOC = (
    'JSON (a list of objects, or {{"rows": [...]}}) or CSV (content-type text/csv) with the columns of the '
    "dataset's {table} table (docs/data.md). Every row is validated; all rows are stored or none, and a 400 "
    "lists each bad row, field and reason."
)


def _ingest_handler(kind: str, table: Table, summary: str):  # -> a Litestar route handler
    async def handler(state: State, request: Request) -> Stored:
        return await _ingest(state, request, kind)

    handler.__name__ = handler.__qualname__ = f"ingest_{kind}"
    handler.__doc__ = summary
    return post(
        f"/{kind}",
        status_code=201,
        opt=requires("analyst"),
        responses=errors(400, 401, 403, 413),
        description=_INGEST_DOC.format(table=table.name),
        operation_class=upload_operation(table),
    )(handler)


ingest_lors = _ingest_handler(
    "lors", LORS, "Store LORs (firm, pending, withdrawn or executed); ids must be new."
)
ingest_evidence = _ingest_handler(
    "evidence", EVIDENCE, "Store dated evidence signals (readiness, NLP mentions) per partner and family."
)
ingest_plans = _ingest_handler(
    "plans",
    DOMESTIC_PLANS,
    "Store domestic plans; a plan for a family and fiscal year already stored is replaced.",
)
ingest_supplier_orders = _ingest_handler(
    "supplier-orders",
    SUPPLIER_ORDERS,
    "Store orders from any supplier per partner, family, year and supplier (the U.S. share model's "
    "data); a count already stored for the same four is replaced.",
)


@post(
    "/lors/{lor_id:str}/status",
    status_code=200,
    request_max_body_size=SMALL_BODY,
    opt=requires("analyst"),
    responses=errors(400, 401, 403, 404, 413),
)
async def set_lor_status(
    state: State,
    request: Request,
    lor_id: FromPath[str],
    data: Annotated[LorStatusRequest, JSON_BODY],
) -> Stored:
    """Move a stored request to firm, pending or withdrawn (a withdrawn one leaves the book). The served
    answers move at once, without a refit; a scoped key may move its own partners' requests only."""
    services = services_of(state)
    caller = request_caller(request)

    def work() -> Stored:
        try:
            stored = store.set_lor_status(
                services.engine, lor_id, data.status, f"POST /v1/lors/{lor_id}/status", caller.key_id, caller
            )
        except KeyError:
            raise NotFoundException(f"lor_id: no stored request {lor_id!r}") from None
        services.holder.refresh_book()
        return Stored(stored.batch, stored.kind, stored.rows, stored.replaced)

    return await anyio.to_thread.run_sync(work)


@post(
    "/evidence/texts",
    status_code=201,
    opt=requires("analyst"),
    responses=errors(400, 401, 403, 413),
)
async def ingest_texts(
    state: State, request: Request, data: Annotated[TextsUpload, JSON_BODY]
) -> TextsStored:
    """Extract from texts and store what they say: notifications become pending LORs (one per counted
    item, with the release and item as provenance) and NLP evidence; documents become NLP evidence
    (mentions per family, urgency-weighted, with their character spans). All rows or none."""
    from nlp.signals import partner_id
    from nlp.text_records import records_from_texts

    services = services_of(state)
    caller = request_caller(request)
    source = f"POST /v1/evidence/texts by key {caller.key_id}"
    problems = []
    for i, t in enumerate(data.texts):
        if t.kind == "document":
            if t.partner is None or partner_id(t.partner) is None:
                problems.append(
                    Problem(source, i + 1, "partner", t.partner, "a document needs a known partner")
                )
            if t.date is None:
                problems.append(
                    Problem(source, i + 1, "date", None, "a document needs its date (YYYY-MM-DD)")
                )
    ids = [t.id for t in data.texts]
    problems += [
        Problem(source, i + 1, "id", v, "repeated in this upload") for i, v in enumerate(ids) if v in ids[:i]
    ]
    if problems:
        raise LoadError(problems)
    texts = [
        {**msgspec.structs.asdict(t), "partner": partner_id(t.partner) if t.partner else None}
        for t in data.texts
    ]

    def work() -> TextsStored:
        found = records_from_texts(texts, source)
        scope.check_rows(caller, "text", [*found.lors["partner"], *found.evidence["partner"]])
        stored = store.ingest_together(
            services.engine,
            [("lors", found.lors.astype(object)), ("evidence", found.evidence.astype(object))],
            source,
            caller.key_id,
            caller,
            mentions=found.mentions,
        )
        services.holder.refresh_book()
        return TextsStored(
            [Stored(r.batch, r.kind, r.rows, r.replaced) for r in stored],
            len(found.lors),
            len(found.evidence),
            [Extraction(**{("id" if k == "pk" else k): v for k, v in e.items()}) for e in found.extractions],
        )

    return await anyio.to_thread.run_sync(work)


router = resource_router(
    "/v1",
    [
        ingest_lors,
        set_lor_status,
        ingest_evidence,
        ingest_plans,
        ingest_supplier_orders,
        ingest_texts,
    ],
    tag="records",
)

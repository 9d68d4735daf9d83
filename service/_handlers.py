"""Route handlers. Each declares the role it needs; a key limited to some partners only ever sees
those partners' cells, and totals (family, year, total demand) over those partners alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import anyio
import msgspec
import numpy as np
from litestar import Request, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import Body, FromPath, Parameter
from litestar.response import File, Response
from sqlalchemy import text

from bayes.forecast import LINE_SOURCES, ForecastError, NewFamily, NewPartner, combined_records, records
from bayes.supplier_outlook import CHANNEL_NOTE
from evidence.loaders import LoadError, Problem
from evidence.organisations import ORGANISATIONS
from evidence.records import (
    DOMESTIC_PLANS,
    EVIDENCE,
    LORS,
    SUPPLIER_ORDERS,
    Column,
    LORChannel,
    LORStatus,
    Table,
)
from service import _replay, audit, auth, registry, scope, store
from service._cache import GZIP_MIN_BYTES, accepts_gzip, gzipped
from service.app import Served, Services
from service.db import now
from service.jobs import job_log_tail
from service.metrics import CONTENT_TYPE
from service.schemas import (
    BlockBuyRequest,
    BlockBuyResponse,
    ErrorBody,
    Extraction,
    Family,
    FitRequest,
    ForecastRequest,
    ForecastResponse,
    Health,
    Job,
    Key,
    KeyRequest,
    LineInfo,
    LineRisk,
    LineRiskRequest,
    LorStatusRequest,
    ModelSummary,
    NewFamilySpec,
    NewPartnerSpec,
    OrganisationInfo,
    Partner,
    QuestionAnswer,
    QuestionRequest,
    ServedModel,
    Stored,
    SupplierOutlook,
    SupplierOutlookRequest,
    SystemForecast,
    SystemForecastRequest,
    SystemInfo,
    TextsStored,
    TextsUpload,
)

SECURITY = [{"apiKey": []}]
ORGANISATION_RULE = (
    "pools the members the model knows (the organisation's own rare orders are not forecast); a key limited "
    "to some partners sees the pooled totals only when it sees every one of these members"
)
_REASONS = {
    400: "invalid input: the body, a field or a row (each named)",
    401: "missing, unknown or revoked API key",
    403: "the key's role or partner scope does not allow this",
    404: "unknown id",
    409: "conflicts with the model's state (failed gates, still fitting)",
    413: "request body over the size limit",
    503: "no model is active yet",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error responses a handler can give (always an ErrorBody)."""
    return {c: ResponseSpec(data_container=ErrorBody, description=_REASONS[c]) for c in codes}


AUTH = (401, 403)
SMALL_BODY = 64 * 1024  # requests that are not uploads: far more than any legitimate one needs
JSON_BODY = Body(media_type=RequestEncodingType.JSON)


def _services(state: State) -> Services:
    return state.services


async def caller_of(connection: ASGIConnection, token: str) -> auth.Caller | None:
    """The key behind ``token``: from the key cache on the event loop, or from the database in a worker
    thread once the cached entry is older than its few seconds."""
    keys = _services(connection.app.state).keys
    caller = keys.cached(token)
    if caller is False:
        caller = await anyio.to_thread.run_sync(keys.lookup, token)
    return caller  # type: ignore[return-value]


async def _authenticate(connection: ASGIConnection) -> auth.Caller:
    token = auth.token_from(connection.headers)
    if not token:
        raise NotAuthorizedException("missing API key: send 'Authorization: Bearer <key>'")
    caller = await caller_of(connection, token)
    if caller is None:
        raise NotAuthorizedException("unknown or revoked API key")
    return caller


def requires(role: str) -> dict[str, str]:
    """A route's ``opt``: the role its key needs. :func:`authorize` checks it for every such route."""
    return {"role": role}


async def authorize(request: Request) -> None:
    """Who may call this route: the key, its role and (for admin work) that it has no partner scope,
    checked before the body is read. An app-level ``before_request`` hook rather than a guard: Litestar
    copies the route handler for every guard call and runs a sync guard in a worker thread, which
    together cost a cached answer a fifth of its time."""
    role = request.route_handler.opt.get("role")
    if role is None:
        return  # open: health, metrics, the schema, the planner's page (which signs in with a cookie)
    caller = await _authenticate(request)
    if not caller.can(role):
        raise PermissionDeniedException(f"this needs the {role!r} role; the key has {caller.role!r}")
    if role == "admin":  # keys, activation: nothing an admin does belongs to one partner
        scope.require_unscoped(caller, "an admin action")
    request.state.caller = caller


def _caller(request: Request) -> auth.Caller:
    return request.state.caller


def _served(services: Services) -> Served:
    served = services.holder.served or services.holder.refresh()
    if served is None:
        raise ServiceUnavailableException("no model is active: fit one (POST /v1/models) and activate it")
    return served


# A miss this small (partners x families x years) is computed on the event loop: ~15 ms. Handed to a
# worker thread instead, it would wait for the GIL behind every cached answer the loop serves, and took
# 20 times as long under load (benchmarks/serve_load.py). Larger ones go to a thread, so that no single
# request stops the loop for long.
INLINE_CELLS = 2_000
INLINE_GZIP_BYTES = 512 * 1024


async def _cached(
    request: Request,
    served: Served,
    key: tuple,
    compute,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
    cells: int | None = None,
) -> Response:
    """A cached body straight from the event loop; a miss of at most ``INLINE_CELLS`` cells there too,
    a larger one (or one of unknown size: ``cells`` None) in a worker thread. Gzipped, once per cached
    body, for a client that accepts it and a body worth it (a region's forecast: 2 MB, or 130 kB)."""
    generation = served.cache.generation
    body = served.cache.get(key)
    if body is None:
        if cells is not None and cells <= INLINE_CELLS:
            body = served.cache.get_or_compute(key, compute)
        else:
            body = await anyio.to_thread.run_sync(served.cache.get_or_compute, key, compute)
    headers = {**(headers or {}), "vary": "accept-encoding"}
    if len(body) >= GZIP_MIN_BYTES and accepts_gzip(request.headers.get("accept-encoding", "")):
        packed = served.cache.get(("gzip", key), count=False)
        if packed is None:  # ~5 ms a megabyte: a large body is packed beside the loop (zlib frees the GIL)
            if len(body) <= INLINE_GZIP_BYTES:
                packed = gzipped(body)
            else:
                packed = await anyio.to_thread.run_sync(gzipped, body)
            served.cache.put(("gzip", key), packed, generation)
        body, headers = packed, {**headers, "content-encoding": "gzip"}
    return Response(body, media_type=media_type, headers=headers)


def _cells(served: Served, chosen: scope.Selection, years: int) -> int:
    """How many partner x family x year cells a request reads: what its cost grows with."""
    families = len(chosen.families or served.forecaster.families) + len(chosen.new_families)
    return (len(chosen.partners) + len(chosen.new_partners)) * families * years


def _listing(path: str):
    """The route of a reader's listing of the served model's ids (partners, families, systems, lines)."""
    return get(
        path,
        sync_to_thread=False,
        opt=requires("reader"),
        security=SECURITY,
        responses=errors(401, 403, 503),
        tags=["forecasts"],
    )


def _forecast_post(path: str):
    """The route of an endpoint that answers from the served draws: a reader's POST with a small body."""
    return post(
        path,
        status_code=200,
        request_max_body_size=SMALL_BODY,
        opt=requires("reader"),
        security=SECURITY,
        responses=errors(400, 401, 403, 413, 503),
        tags=["forecasts"],
    )


async def _answer(request: Request, served: Served, key: tuple, compute, cells: int) -> Response:
    """A forecast endpoint's answer: from the cache (or computed), and remembered for the replay layer
    unless the served book changed meanwhile."""
    generation = served.cache.generation
    response = await _cached(request, served, key, compute, cells=cells)
    if served.cache.generation == generation:
        _replay.remember(request, await request.body(), served.replay, response)
    return response


def _served_model(served: Served) -> ServedModel:
    r = served.record
    return ServedModel(
        r.id,
        r.status,
        r.fitted_at or "",
        r.data_hash or "",
        r.priors_hash or "",
        r.code_version or "",
        r.approximate,
        r.diagnostics,
    )


# ---- open: health and metrics -----------------------------------------------------------------


@get("/health", sync_to_thread=False, tags=["operations"])
def health(state: State) -> Health:
    """Liveness and what is served; 200 even with no active model (the server is up)."""
    services = _services(state)
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        database = f"error: {type(exc).__name__}"
    served = services.holder.served
    return Health(
        "ok" if database == "ok" else "degraded",
        served.record.id if served else None,
        served.loaded_at if served else None,
        database,
    )


@get("/metrics", sync_to_thread=True, tags=["operations"], media_type=CONTENT_TYPE)
def metrics(state: State) -> Response[bytes]:
    """Prometheus text format: request counts and latencies, fit jobs by status, model age."""
    return Response(_services(state).metrics.render(), media_type=CONTENT_TYPE)


# ---- reader: dimensions and forecasts -------------------------------------------------------


@_listing("/v1/partners")
def list_partners(state: State, request: Request) -> list[Partner]:
    served = _served(_services(state))
    c = served.model.coords
    visible = set(scope.visible_partners(_caller(request), served.forecaster))
    return [
        Partner(str(p), str(n), str(r))
        for p, n, r in zip(
            c["partner"].values, c["partner_name"].values, c["partner_region"].values, strict=True
        )
        if str(p) in visible
    ]


@_listing("/v1/organisations")
def list_organisations(state: State, request: Request) -> list[OrganisationInfo]:
    """Multinational buyers a block buy can pool through, with their members that the served model knows.
    A scoped key lists only those whose members it sees, every one (the rule it is held to)."""
    forecaster = _served(_services(state)).forecaster
    caller = _caller(request)
    out = []
    for org in ORGANISATIONS.values():
        known = scope.organisation_members(forecaster, org)
        if not known or not scope.may_pool(caller, known):
            continue
        out.append(OrganisationInfo(org.id, org.name, known, ORGANISATION_RULE))
    return out


@_listing("/v1/families")
def list_families(state: State) -> list[Family]:
    c = _served(_services(state)).model.coords
    return [
        Family(str(f), str(n), str(k))
        for f, n, k in zip(
            c["family"].values, c["family_name"].values, c["family_category"].values, strict=True
        )
    ]


def _new_partner(x: str | NewPartnerSpec) -> NewPartner:
    if isinstance(x, str):
        return NewPartner(x.strip())
    return NewPartner(x.id.strip(), x.region, tuple(x.alliances))


def _new_family(x: str | NewFamilySpec) -> NewFamily:
    return NewFamily(x.strip()) if isinstance(x, str) else NewFamily(x.id.strip(), x.category)


@_forecast_post("/v1/forecasts")
async def create_forecast(
    state: State, request: Request, data: Annotated[ForecastRequest, JSON_BODY]
) -> Response[ForecastResponse]:
    """Posterior forecast per partner × family × year (LOR counts and units), family and yearly
    totals over the selected partners, and total demand per family and year with line risk."""
    served = _served(_services(state))
    chosen = scope.select(
        _caller(request),
        served.forecaster,
        data.partners,
        data.families,
        data.regions,
        [_new_partner(x) for x in data.new_partners],
        [_new_family(x) for x in data.new_families],
    )

    def compute() -> bytes:
        fc = served.forecaster.forecast(
            data.horizon,
            data.levels,
            chosen.partners,
            chosen.families,
            None,
            chosen.new_partners,
            chosen.new_families,
        )
        body = fc.to_dict()
        return msgspec.json.encode(
            {"model": _served_model(served), "horizon": data.horizon, "levels": list(fc.levels), **body}
        )

    key = ("forecast", data.horizon, tuple(data.levels), chosen)
    return await _answer(request, served, key, compute, _cells(served, chosen, data.horizon))


@_forecast_post("/v1/block-buys")
async def create_block_buy(
    state: State, request: Request, data: Annotated[BlockBuyRequest, JSON_BODY]
) -> Response[BlockBuyResponse]:
    """Quantiles of cumulative LORs and units of a set of partners over a window (multinational pooling);
    ``organisation`` pools its members the model knows (a scoped key: only when it sees all of them)."""
    served = _served(_services(state))
    org = None
    if data.organisation is not None:
        if data.partners is not None:
            raise ForecastError("partners: name partners or an organisation, not both")
        org, chosen = scope.select_organisation(
            _caller(request), served.forecaster, data.organisation, data.families, data.regions
        )
    else:
        chosen = scope.select(_caller(request), served.forecaster, data.partners, data.families, data.regions)

    def compute() -> bytes:
        ds = served.forecaster.block_buy(
            chosen.partners,
            chosen.families,
            data.first_year,
            data.last_year,
            data.levels,
            at_least=data.at_least,
        )
        levels = tuple(float(v) for v in ds["level"].values)
        rows = records(ds, ("family",), levels, units=True)
        for row, combined in zip(rows, combined_records(ds, levels), strict=True):
            row["combined"] = combined
        return msgspec.json.encode(
            {
                "organisation": None if org is None else org.id,
                "partners": list(ds.attrs["partners"]),
                "first_year": int(ds.attrs["first_year"]),
                "last_year": int(ds.attrs["last_year"]),
                "levels": list(levels),
                "at_least": data.at_least,
                "rows": rows,
            }
        )

    key = (
        "block-buy",
        org and org.id,
        data.first_year,
        data.last_year,
        tuple(data.levels),
        data.at_least,
        chosen,
    )
    f = served.forecaster
    years = int((data.last_year or f.years[-1]) - (data.first_year or f.years[0]) + 1)
    every = len(chosen.partners) == len(f.partners)  # every partner: sums taken at start-up, cheap
    cells = 0 if every else _cells(served, chosen, max(years, 1))
    return await _answer(request, served, key, compute, cells)


def _system_id(forecaster, system: str | None) -> tuple[str | None, str | None]:
    """(system id, its family) for a system named in any case and spacing; (None, None) without one."""
    if system is None:
        return None, None
    wanted = system.strip().lower()
    return wanted, forecaster.family_of_system(wanted)


def target(request: Request, forecaster, data) -> tuple[str | None, scope.Selection]:
    """The named system (None: a family question) and the partners and family a question-like body
    (``family``, ``system``, ``partners``, ``regions``) is about, within the key's scope. A system and a
    family named together must agree."""
    system, family = _system_id(forecaster, data.system)
    if family is None and data.family is None:
        raise ForecastError("family or system: name one (GET /v1/families, GET /v1/systems)")
    caller = _caller(request)
    chosen = scope.select(caller, forecaster, data.partners, [family or data.family], data.regions)
    if data.family is not None and family is not None:
        asked = scope.select(caller, forecaster, None, [data.family]).families[0]
        if asked != family:
            raise ForecastError(f"system: {system!r} is in family {family!r}, not {asked!r}")
    return system, chosen


@_forecast_post("/v1/questions")
async def ask_question(
    state: State, request: Request, data: Annotated[QuestionRequest, JSON_BODY]
) -> Response[QuestionAnswer]:
    """The planner's question in one call: P(the partners request at least N units of a family, or of
    one named system, within M months of a date), with the expected quantity, a credible interval and
    what the answer rests on (data through, the book as of, the timing assumption, the system share)."""
    served = _served(_services(state))
    system, chosen = target(request, served.forecaster, data)

    def compute() -> bytes:
        answer = served.forecaster.question(
            chosen.families[0],
            data.at_least,
            data.within_months,
            data.start,
            chosen.partners,
            levels=data.levels,
            system=system,
        )
        return msgspec.json.encode(
            {
                "model": _served_model(served),
                "at_least": data.at_least,
                "within_months": data.within_months,
                **answer,
            }
        )

    key = ("question", system, data.at_least, data.within_months, data.start, tuple(data.levels), chosen)
    return await _answer(request, served, key, compute, len(chosen.partners) * 3)


@_forecast_post("/v1/system-forecasts")
async def create_system_forecast(
    state: State, request: Request, data: Annotated[SystemForecastRequest, JSON_BODY]
) -> Response[SystemForecast]:
    """A family's forecast per named system and year: the family's draws split by the system-share
    model, so the systems add up to the family draw by draw; each system says whether its share rests
    on history or on the stated prior share of a system never yet requested."""
    served = _served(_services(state))
    chosen = scope.select(_caller(request), served.forecaster, data.partners, [data.family], data.regions)

    def compute() -> bytes:
        ds = served.forecaster.system_forecast(chosen.families[0], data.horizon, data.levels, chosen.partners)
        levels = tuple(float(v) for v in ds["level"].values)
        rows = records(ds, ("system", "year"), levels, units=True)
        for row, basis in zip(rows, np.repeat(ds["basis"].values, ds.sizes["year"]), strict=True):
            row["basis"] = str(basis)
        return msgspec.json.encode(
            {
                "model": _served_model(served),
                "family": ds.attrs["family"],
                "partners": list(ds.attrs["partners"]),
                "units_split": ds.attrs["units_split"],
                "rows": rows,
            }
        )

    key = ("system-forecast", data.horizon, tuple(data.levels), chosen)
    return await _answer(request, served, key, compute, len(chosen.partners) * data.horizon)


@_forecast_post("/v1/supplier-outlook")
async def create_supplier_outlook(
    state: State, request: Request, data: Annotated[SupplierOutlookRequest, JSON_BODY]
) -> Response[SupplierOutlook]:
    """Per partner × family: P(the next order goes to the U.S.), the expected U.S. share per year and
    how it moves (the region's trend), and the other suppliers the partner bought the family from, from
    the U.S. share model fitted to every supplier's orders; per partner, P(its U.S. orders use FMS rather
    than DCS) per year, from the channel model (docs/suppliers.md)."""
    served = _served(_services(state))
    chosen = scope.select(_caller(request), served.forecaster, data.partners, data.families, data.regions)
    families = [str(f) for f in (chosen.families or served.forecaster.families)]

    def compute() -> bytes:
        forecaster = served.forecaster
        rows = forecaster.supplier_outlook(chosen.partners, families, data.horizon, data.levels, data.top)
        channels, note = [], CHANNEL_NOTE
        if forecaster.channels is not None and forecaster.channels.status == "ok":
            channels = forecaster.channel_outlook(chosen.partners, data.horizon, data.levels)
        elif forecaster.channels is not None:
            note += " The channel model failed its gates, so no P(FMS) is given."
        body = {"model": _served_model(served), "horizon": data.horizon, "levels": data.levels, "rows": rows}
        return msgspec.json.encode(body | {"channels": channels, "channel_note": note})

    key = ("supplier-outlook", data.horizon, tuple(data.levels), data.top, chosen)
    return await _answer(request, served, key, compute, _cells(served, chosen, data.horizon))


def line_risk_body(served: Served, ds) -> dict[str, Any]:
    """A line's risk (Forecaster.line_risk) as the LineRisk body."""
    levels = [float(v) for v in ds["level"].values]
    lower, upper = ds["lower"].values, ds["upper"].values
    rows = [
        {
            "year": int(year),
            **{f"{k}_expected": float(ds[f"{k}_expected"].values[i]) for k in LINE_SOURCES},
            "mean": float(ds["mean"].values[i]),
            "median": float(ds["median"].values[i]),
            "intervals": [
                {"level": lv, "lower": float(lower[j, i]), "upper": float(upper[j, i])}
                for j, lv in enumerate(levels)
            ],
            "p_below_min": float(ds["p_below_min"].values[i]),
            "p_above_max": float(ds["p_above_max"].values[i]),
        }
        for i, year in enumerate(ds["year"].values)
    ]
    return {"model": _served_model(served), **ds.attrs, "rows": rows}


@_forecast_post("/v1/line-risk")
async def create_line_risk(
    state: State, request: Request, data: Annotated[LineRiskRequest, JSON_BODY]
) -> Response[LineRisk]:
    """A production line's load per production year by source (domestic plan, backlog, firm, pending,
    forecast), with P(load below the minimum sustaining rate) and P(load above the maximum rate). The
    foreign part is the selected partners' only, so a scoped key sees its partners' demand and no other."""
    served = _served(_services(state))
    chosen = scope.select(_caller(request), served.forecaster, data.partners, None, data.regions)
    line = data.line.strip().lower()

    def compute() -> bytes:
        ds = served.forecaster.line_risk(line, chosen.partners, levels=data.levels)
        return msgspec.json.encode(line_risk_body(served, ds))

    key = ("line-risk", line, tuple(data.levels), chosen)
    return await _answer(request, served, key, compute, len(chosen.partners) * 2)


@_listing("/v1/lines")
def list_lines(state: State) -> list[LineInfo]:
    """The production lines (DoD P-21 rates, units a year) and the named systems each builds."""
    forecaster = _served(_services(state)).forecaster
    return [
        LineInfo(
            str(line),
            str(row["name"]),
            str(row["service"]),
            float(row["min_sustaining_rate"]),
            float(row["rate_1_8_5"]),
            float(row["max_rate"]),
            int(row["budget_year"]),
            [system for system, _ in forecaster.line_systems(str(line))],
        )
        for line, row in forecaster.lines.iterrows()
    ]


@_listing("/v1/systems")
def list_systems(state: State) -> list[SystemInfo]:
    """The named systems the served model answers about: id, name, family, production line, and
    whether its share rests on history or on the stated prior. Empty for a model without systems."""
    forecaster = _served(_services(state)).forecaster
    shares = forecaster.shares
    if shares is None:
        return []
    catalogue = forecaster.catalogue
    out = []
    for family in forecaster.families:
        basis = shares.basis(str(family))
        for system in shares.systems(str(family))[1:]:
            entry = catalogue.get(system)
            out.append(
                SystemInfo(
                    system,
                    entry.name if entry else system,
                    str(family),
                    entry.line if entry else None,
                    basis[system],
                )
            )
    return out


# ---- analyst: ingest, fits, posterior files -------------------------------------------------


async def _ingest(state: State, request: Request, kind: str) -> Stored:
    services = _services(state)
    caller = _caller(request)
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


_JSON_TYPES = {"int": OpenAPIType.INTEGER, "float": OpenAPIType.NUMBER, "bool": OpenAPIType.BOOLEAN}


def _column_schema(column: Column) -> Schema:
    """One upload column as JSON Schema, with the bounds the loaders enforce (evidence.records)."""
    kind = _JSON_TYPES.get(column.kind, OpenAPIType.STRING)
    words = [w for w in (column.description, column.bounds) if w]
    if column.kind == "status":
        words.append(f"one of {[s.value for s in LORStatus]}")
    if column.kind == "channel":
        words.append(f"one of {[s.value for s in LORChannel]}, or blank")
    return Schema(
        type=kind if column.required else [kind, OpenAPIType.NULL],
        format="date" if column.kind == "date" else None,
        minimum=column.minimum,
        maximum=column.maximum,
        max_length=column.max_length,
        description="; ".join(words) or None,
    )


def _upload_operation(table: Table) -> type[Operation]:
    """An OpenAPI operation documenting the upload body (the handler reads it raw: JSON or CSV)."""
    row = Schema(
        type=OpenAPIType.OBJECT,
        properties={c.name: _column_schema(c) for c in table.columns},
        required=[c.name for c in table.columns if c.required],
    )
    rows = Schema(type=OpenAPIType.ARRAY, items=row, min_items=1)
    body = RequestBody(
        required=True,
        content={
            "application/json": OpenAPIMediaType(
                schema=Schema(
                    one_of=[
                        rows,
                        Schema(type=OpenAPIType.OBJECT, properties={"rows": rows}, required=["rows"]),
                    ]
                )
            ),
            "text/csv": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, description="CSV with a header")
            ),
        },
    )

    @dataclasses.dataclass
    class UploadOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return UploadOperation


@dataclasses.dataclass
class _FileOperation(Operation):
    """A file download's operation. Litestar describes ``last-modified`` as an RFC 3339 date-time,
    but the header is an HTTP date (RFC 9110), so a client validating headers would reject it."""

    def __post_init__(self) -> None:
        for response in (self.responses or {}).values():
            header = (getattr(response, "headers", None) or {}).get("last-modified")
            if header is not None and isinstance(header.schema, Schema):
                header.schema.format = None
                header.description = "when the file was last modified (an HTTP date, RFC 9110)"


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
        f"/v1/{kind}",
        status_code=201,
        opt=requires("analyst"),
        security=SECURITY,
        responses=errors(400, 401, 403, 413),
        tags=["records"],
        description=_INGEST_DOC.format(table=table.name),
        operation_class=_upload_operation(table),
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
    "/v1/lors/{lor_id:str}/status",
    status_code=200,
    request_max_body_size=SMALL_BODY,
    opt=requires("analyst"),
    security=SECURITY,
    responses=errors(400, 401, 403, 404, 413),
    tags=["records"],
)
async def set_lor_status(
    state: State,
    request: Request,
    lor_id: FromPath[str],
    data: Annotated[LorStatusRequest, JSON_BODY],
) -> Stored:
    """Move a stored request to firm, pending or withdrawn (a withdrawn one leaves the book). The served
    answers move at once, without a refit; a scoped key may move its own partners' requests only."""
    services = _services(state)
    caller = _caller(request)

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
    "/v1/evidence/texts",
    status_code=201,
    opt=requires("analyst"),
    security=SECURITY,
    responses=errors(400, 401, 403, 413),
    tags=["records"],
)
async def ingest_texts(
    state: State, request: Request, data: Annotated[TextsUpload, JSON_BODY]
) -> TextsStored:
    """Extract from texts and store what they say: notifications become pending LORs (one per counted
    item, with the release and item as provenance) and NLP evidence; documents become NLP evidence
    (mentions per family, urgency-weighted, with their character spans). All rows or none."""
    from nlp.signals import partner_id
    from nlp.text_records import records_from_texts

    services = _services(state)
    caller = _caller(request)
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


def _job(services: Services, job: registry.JobRecord) -> Job:
    return Job(
        job.id,
        job.kind,
        job.status,
        job.stage,
        job.progress,
        job.params,
        job.created_at,
        job.started_at,
        job.finished_at,
        job.model_id,
        job.error,
        job_log_tail(services.settings, job.id),
    )


@post(
    "/v1/models",
    request_max_body_size=SMALL_BODY,
    status_code=202,
    sync_to_thread=True,
    opt=requires("analyst"),
    security=SECURITY,
    responses=errors(400, 401, 403, 404, 413),
    tags=["models"],
)
def start_fit(state: State, request: Request, data: Annotated[FitRequest, JSON_BODY]) -> Job:
    """Start a fit of the stored records in a worker process; poll ``GET /v1/jobs/{id}``."""
    services = _services(state)
    caller = _caller(request)
    scope.require_unscoped(caller, "a fit (it reads every partner's records)")
    if data.activate and not caller.can("admin"):  # serving it is what activation does: an admin's call
        raise PermissionDeniedException(
            f"activate: serving a model needs the 'admin' role; the key has {caller.role!r}"
        )
    if data.warm_start and data.warm_start != "active":
        registry.get_model(services.engine, data.warm_start)  # 404 now rather than a failed job later
    params = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
    job = registry.create_job(services.engine, "fit", params, caller.key_id)
    services.dispatcher.wake()
    return _job(services, job)


@get(
    "/v1/jobs/{job_id:str}",
    sync_to_thread=True,
    opt=requires("analyst"),
    security=SECURITY,
    responses=errors(401, 403, 404),
    tags=["models"],
)
def get_job(state: State, job_id: FromPath[str]) -> Job:
    services = _services(state)
    return _job(services, registry.get_job(services.engine, job_id))


def _summary(record: registry.ModelRecord) -> ModelSummary:
    fields = {name: getattr(record, name) for name in ModelSummary.__struct_fields__}
    return ModelSummary(**fields)


@get(
    "/v1/models",
    sync_to_thread=True,
    opt=requires("reader"),
    security=SECURITY,
    responses=errors(401, 403),
    tags=["models"],
)
def list_models(state: State) -> list[ModelSummary]:
    return [_summary(m) for m in registry.list_models(_services(state).engine)]


@get(
    "/v1/models/{model_id:str}",
    sync_to_thread=True,
    opt=requires("reader"),
    security=SECURITY,
    responses=errors(401, 403, 404),
    tags=["models"],
)
def get_model(state: State, model_id: FromPath[str]) -> ModelSummary:
    """Status, gates and diagnostics, data and prior hashes of one model."""
    return _summary(registry.get_model(_services(state).engine, model_id))


@post(
    "/v1/models/{model_id:str}/activate",
    status_code=200,
    sync_to_thread=True,
    opt=requires("admin"),
    security=SECURITY,
    responses=errors(401, 403, 404, 409),
    tags=["models"],
)
def activate_model(state: State, request: Request, model_id: FromPath[str]) -> ModelSummary:
    """Serve this model from now on; refused (409) for a model that failed its gates."""
    services = _services(state)
    record = registry.activate(services.engine, model_id, _caller(request).key_id)
    services.holder.refresh()
    return _summary(record)


@get(
    "/v1/models/{model_id:str}/posterior.nc",
    sync_to_thread=True,
    opt=requires("analyst"),
    security=SECURITY,
    responses=errors(401, 403, 404, 409),
    tags=["models"],
    media_type="application/x-netcdf",
    operation_class=_FileOperation,
)
def download_posterior(state: State, request: Request, model_id: FromPath[str]) -> File:
    """The posterior NetCDF file, as ArviZ opens it (``arviz.from_netcdf``)."""
    scope.require_unscoped(_caller(request), "a posterior file (it holds every partner)")
    record = registry.get_model(_services(state).engine, model_id)
    if record.status == "fitting":
        raise registry.RegistryError(f"model {model_id} is still being fitted", 409)
    if not Path(record.path).is_file():
        raise NotFoundException(f"model {model_id}: its posterior file is missing")
    return File(record.path, filename=f"{model_id}.nc", media_type="application/x-netcdf")


# ---- admin: keys and the audit trail --------------------------------------------------------


@post(
    "/v1/keys",
    request_max_body_size=SMALL_BODY,
    status_code=201,
    sync_to_thread=True,
    opt=requires("admin"),
    security=SECURITY,
    responses=errors(400, 401, 403, 413),
    tags=["admin"],
)
def create_key(state: State, request: Request, data: Annotated[KeyRequest, JSON_BODY]) -> Key:
    """A new API key; its token is in this response only."""
    issued = auth.create_key(
        _services(state).engine, data.name, data.role, data.partners, _caller(request).key_id
    )
    c = issued.caller
    return Key(
        c.key_id,
        c.name,
        c.role,
        None if c.partners is None else sorted(c.partners),
        now(),
        token=issued.token,
    )


@get(
    "/v1/keys",
    sync_to_thread=True,
    opt=requires("admin"),
    security=SECURITY,
    responses=errors(401, 403),
    tags=["admin"],
)
def list_keys(state: State) -> list[Key]:
    return [Key(**k) for k in auth.list_keys(_services(state).engine)]


@delete(
    "/v1/keys/{key_id:str}",
    status_code=204,
    sync_to_thread=True,
    opt=requires("admin"),
    security=SECURITY,
    responses=errors(401, 403, 404),
    tags=["admin"],
)
def revoke_key(state: State, request: Request, key_id: FromPath[str]) -> None:
    services = _services(state)
    auth.revoke_key(services.engine, key_id, _caller(request).key_id)
    services.keys.forget()


@get(
    "/v1/audit",
    sync_to_thread=True,
    opt=requires("admin"),
    security=SECURITY,
    responses=errors(400, 401, 403),
    tags=["admin"],
)
def audit_trail(
    state: State, limit: Annotated[int, Parameter(ge=1, le=10_000)] = 100
) -> list[dict[str, Any]]:
    """The newest writes: who (key id), when, what and to which target."""
    return audit.trail(_services(state).engine, limit)


HANDLERS = [
    health,
    metrics,
    list_partners,
    list_families,
    list_organisations,
    list_systems,
    list_lines,
    create_line_risk,
    create_forecast,
    create_block_buy,
    ask_question,
    create_system_forecast,
    create_supplier_outlook,
    ingest_lors,
    set_lor_status,
    ingest_evidence,
    ingest_plans,
    ingest_supplier_orders,
    ingest_texts,
    start_fit,
    get_job,
    list_models,
    get_model,
    activate_model,
    download_posterior,
    create_key,
    list_keys,
    revoke_key,
    audit_trail,
]

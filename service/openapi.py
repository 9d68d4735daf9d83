"""The OpenAPI description's shared parts: the security scheme, the error responses a route declares,
the upload bodies (documented from the record layouts, since the handlers read them raw) and the file
download's headers; and an OPTIONS answer for every path that several methods share."""

from __future__ import annotations

import dataclasses

from litestar import Response, Router, route
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)

from evidence.records import Column, LORChannel, LORStatus, Table
from service.bodies import ErrorBody

SECURITY = [{"apiKey": []}]
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


def upload_operation(table: Table) -> type[Operation]:
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
class FileOperation(Operation):
    """A file download's operation. Litestar describes ``last-modified`` as an RFC 3339 date-time,
    but the header is an HTTP date (RFC 9110), so a client validating headers would reject it."""

    def __post_init__(self) -> None:
        for response in (self.responses or {}).values():
            header = (getattr(response, "headers", None) or {}).get("last-modified")
            if header is not None and isinstance(header.schema, Schema):
                header.schema.format = None
                header.description = "when the file was last modified (an HTTP date, RFC 9110)"


def _allow(path: str, methods: list[str]) -> HTTPRouteHandler:
    def options() -> Response:
        return Response(None, status_code=204, headers={"allow": ", ".join(methods)})

    options.__name__ = options.__qualname__ = f"options_{path}"
    return route(path, http_method=["OPTIONS"], include_in_schema=False, sync_to_thread=False)(options)


def with_options(handlers: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """``handlers`` and, first, an OPTIONS handler for each path that several of them share. Litestar 2
    answers OPTIONS on such a path with the first handler's methods alone (litestar#4169, fixed in v3),
    and a client that believes ``Allow`` would not know the others exist."""
    methods: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            methods.setdefault(path, set()).update(handler.http_methods)
    shared = [_allow(p, sorted(m | {"OPTIONS"})) for p, m in methods.items() if len(m) > 1]
    return [*shared, *handlers]


def resource_router(
    path: str, handlers: list[HTTPRouteHandler], tag: str | None = None, keyed: bool = True
) -> Router:
    """One resource's routes under ``path``, with the OPTIONS answers :func:`with_options` adds, described
    under ``tag`` (none: pages left out of the description) and, where ``keyed``, as needing a key (each
    route says which role in its ``opt``)."""
    if tag is None:
        return Router(path, route_handlers=with_options(handlers))
    security = SECURITY if keyed else None
    return Router(path, route_handlers=with_options(handlers), tags=[tag], security=security)


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="totaldemand",
        version="0.2.0",
        path="/schema",
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(
                    type="http", scheme="bearer", description="Authorization: Bearer <key>"
                )
            }
        ),
    )

"""Admin work: API keys and the audit trail of writes."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, Parameter

from service import audit, auth
from service.bodies import Key, KeyRequest
from service.db import now
from service.guards import request_caller, requires
from service.openapi import errors, resource_router
from service.routes.common import JSON_BODY, SMALL_BODY
from service.state import services_of


@post(
    "/keys",
    request_max_body_size=SMALL_BODY,
    status_code=201,
    sync_to_thread=True,
    opt=requires("admin"),
    responses=errors(400, 401, 403, 413),
)
def create_key(state: State, request: Request, data: Annotated[KeyRequest, JSON_BODY]) -> Key:
    """A new API key; its token is in this response only."""
    issued = auth.create_key(
        services_of(state).engine, data.name, data.role, data.partners, request_caller(request).key_id
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
    "/keys",
    sync_to_thread=True,
    opt=requires("admin"),
    responses=errors(401, 403),
)
def list_keys(state: State) -> list[Key]:
    return [Key(**k) for k in auth.list_keys(services_of(state).engine)]


@delete(
    "/keys/{key_id:str}",
    status_code=204,
    sync_to_thread=True,
    opt=requires("admin"),
    responses=errors(401, 403, 404),
)
def revoke_key(state: State, request: Request, key_id: FromPath[str]) -> None:
    services = services_of(state)
    auth.revoke_key(services.engine, key_id, request_caller(request).key_id)
    services.keys.forget()


@get(
    "/audit",
    sync_to_thread=True,
    opt=requires("admin"),
    responses=errors(400, 401, 403),
)
def audit_trail(
    state: State, limit: Annotated[int, Parameter(ge=1, le=10_000)] = 100
) -> list[dict[str, Any]]:
    """The newest writes: who (key id), when, what and to which target."""
    return audit.trail(services_of(state).engine, limit)


router = resource_router("/v1", [create_key, list_keys, revoke_key, audit_trail], tag="admin")

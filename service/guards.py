"""Who may call a route: the bearer key, its role and, for admin work, that it has no partner scope.

Each route names its role in ``opt`` (:func:`requires`); :func:`authorize`, the app's ``before_request``
hook, checks it for every such route before the body is read and leaves the key's :class:`Caller` on the
request (:func:`request_caller`). A key limited to some partners is further held to them by
:mod:`service.scope`."""

from __future__ import annotations

import anyio
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from service import auth, scope
from service.request_checks import check_body
from service.state import services_of


async def caller_of(connection: ASGIConnection, token: str) -> auth.Caller | None:
    """The key behind ``token``: from the key cache on the event loop, or from the database in a worker
    thread once the cached entry is older than its few seconds."""
    keys = services_of(connection.app.state).keys
    caller = keys.cached(token)
    if caller is False:
        caller = await anyio.to_thread.run_sync(keys.lookup, token)
    return caller  # type: ignore[return-value]


async def authenticate(connection: ASGIConnection) -> auth.Caller:
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
    caller = await authenticate(request)
    if not caller.can(role):
        raise PermissionDeniedException(f"this needs the {role!r} role; the key has {caller.role!r}")
    if role == "admin":  # keys, activation: nothing an admin does belongs to one partner
        scope.require_unscoped(caller, "an admin action")
    request.state.caller = caller


def request_caller(request: Request) -> auth.Caller:
    return request.state.caller


async def before_request(request: Request) -> None:
    """The app's ``before_request`` hook: the key first, then what it sent (:mod:`service.request_checks`)."""
    await authorize(request)
    await check_body(request)

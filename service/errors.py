"""Errors as HTTP answers: every one a JSON ``ErrorBody`` (``status_code``, ``detail`` and, for bad
input, ``errors`` naming each row, field, value and reason). A user's mistake is a 4xx; anything else is
logged with its traceback and answered 500 without details."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException

from evidence.loaders import LoadError
from totaldemand.errors import UserError

log = logging.getLogger(__name__)


def error_response(
    status: int, detail: str, errors: list[dict] | None = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict = {"status_code": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return Response(body, status_code=status, headers=headers)


def _load_error(_: Request, exc: LoadError) -> Response:
    """Every bad row, field and reason of an upload: 400, and nothing of it was stored."""
    errors = [
        {
            "row": p.row,
            "field": p.column,
            "value": None if p.value is None else str(p.value),
            "reason": p.reason,
        }
        for p in exc.problems[:1000]
    ]
    return error_response(400, f"{len(exc.problems)} problem(s); nothing was stored", errors)


def _user_error(_: Request, exc: UserError) -> Response:
    """Any other error of the user's input: its own status (400, 403 beyond the key's scope, 404, 409)."""
    return error_response(exc.status_code, str(exc))


def _field_errors(extra: object) -> list[dict] | None:
    """Litestar's validation details ({key, message, source}) in the shape of upload errors."""
    if not isinstance(extra, list) or not extra:
        return None
    return [
        {"row": None, "field": e.get("key"), "value": None, "reason": str(e.get("message", ""))}
        if isinstance(e, dict)
        else {"row": None, "field": None, "value": None, "reason": str(e)}
        for e in extra
    ]


def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):  # its headers too: a 405 says which methods are allowed
        extra = _field_errors(getattr(exc, "extra", None))
        return error_response(exc.status_code, exc.detail, extra, dict(exc.headers or {}))
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error; the server log has the details")


# Litestar picks the handler of the nearest class in the exception's MRO: LoadError's rows first, then
# every other user error by its status code, then anything else as a logged 500.
EXCEPTION_HANDLERS = {LoadError: _load_error, UserError: _user_error, Exception: _unexpected}

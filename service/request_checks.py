"""Request bodies read strictly, before any handler sees them.

Litestar decodes a JSON body leniently (``"3"`` passes as the integer 3; a key given twice keeps its last
value) and lets the parser's own limits surface as 500s (a body nested 10,000 deep raises
``RecursionError``). So every body a typed handler reads first passes :func:`check_body`, a
``before_request`` hook: UTF-8, strict JSON (:mod:`evidence.strict_json`: depth, duplicate keys,
non-finite numbers, integers within ±2^53), no control characters in strings but tab and line breaks,
and the handler's struct converted with ``strict=True`` (a string is not a number). Each failure is a
400 naming the field where there is one. Uploads (LORs, evidence, plans: JSON or CSV) are read by
:func:`service.store.parse_upload` with the same JSON reader, row by row.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any, NoReturn

import anyio
import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

from evidence import strict_json

# Tab, line feed and carriage return are allowed: documents sent for extraction have lines.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_INLINE_BYTES = 64 * 1024  # larger bodies are checked in a worker thread, off the event loop
_REMEMBERED_BYTES = 4 * 1024  # bodies this small that passed are remembered (at most 16 MiB of them)
_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _refuse(reason: str, field: str | None = None) -> NoReturn:
    where = field or "body"
    raise ValidationException(f"{where}: {reason}", extra=[{"key": where, "message": reason}])


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a decoded body, keys included, with where it is (``new_partners[0].id``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            yield where, key
            yield from _strings(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def _field(message: str) -> tuple[str, str | None]:
    """msgspec's "Expected `int`, got `str` - at `$.horizon`" as ("Expected ...", "horizon")."""
    m = _AT.match(message)
    assert m is not None  # the pattern matches any text
    path = (m["path"] or "").removeprefix(".")
    return m["reason"], path or None


def check(body: bytes, struct: type[msgspec.Struct]) -> None:
    """Raise a 400 (:class:`ValidationException`) unless ``body`` is a strict encoding of ``struct``."""
    try:
        payload = strict_json.loads(body)
    except strict_json.JSONError as exc:
        _refuse(exc.reason, exc.field)
    for where, text in _strings(payload):
        if _CONTROL.search(text):
            _refuse("holds a control character", where or None)
    try:
        msgspec.convert(payload, struct, strict=True)
    except msgspec.ValidationError as exc:
        _refuse(*_field(str(exc)))


async def check_body(request: Request) -> None:
    """The ``before_request`` hook: a typed handler's body is checked before Litestar decodes it."""
    data = request.route_handler.parsed_data_field
    struct = data.annotation if data is not None else None
    if not (isinstance(struct, type) and issubclass(struct, msgspec.Struct)):
        return  # uploads read their raw bodies themselves; forms and body-less requests need nothing
    body = await request.body()
    if not body:
        return  # Litestar answers a missing body itself (400)
    if len(body) <= _REMEMBERED_BYTES:
        _checked(body, struct)
    elif len(body) <= _INLINE_BYTES:
        check(body, struct)
    else:
        await anyio.to_thread.run_sync(check, body, struct)


@functools.lru_cache(maxsize=4096)
def _checked(body: bytes, struct: type[msgspec.Struct]) -> None:
    """:func:`check`, remembered for bodies that passed: a dashboard sends the same few bodies again
    and again, and the check is a pure function of the bytes (a failure raises, so is never kept)."""
    check(body, struct)


__all__ = ["check", "check_body"]

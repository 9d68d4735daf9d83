"""JSON read strictly, for bodies and files a careless or hostile client wrote.

Python's ``json`` reads more than RFC 8259 allows, and some of what it allows does harm here: ``NaN`` and
``Infinity`` (non-finite numbers stored as values), a key given twice (the first value silently dropped,
so a check can pass on one value and another be used), integers of any size (2**63 overflows the
database's integer column) and nesting as deep as the stack (a ``RecursionError``). This reader refuses
each of them with a :class:`JSONError` that says what and where, before any of it reaches a caller.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from totaldemand.errors import UserError

MAX_DEPTH = 32  # the deepest legitimate body (a forecast request's new partners) is 3 levels
MAX_SAFE_INTEGER = 2**53 - 1  # RFC 8259 section 6: the integers every JSON reader holds exactly
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class JSONError(UserError):
    """Input that is not strict JSON; ``field`` names the object key concerned, where there is one."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


def decode_utf8(data: bytes) -> str:
    """The text of ``data``, which must be UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONError(f"not valid UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r})") from None


def depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # too few brackets to exceed the limit: skip the scan
    structure = np.frombuffer(_STRING.sub("", text).encode("ascii", "replace"), dtype=np.uint8)
    steps = np.isin(structure, (91, 123)).astype(np.int32) - np.isin(structure, (93, 125))
    return int(np.cumsum(steps).max(initial=0))


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JSONError("given twice in one object", key)
        out[key] = value
    return out


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(number := int(text)) > MAX_SAFE_INTEGER:
        raise JSONError(f"integer {text[:40]} is beyond ±2^53 (the largest JSON holds exactly)")
    return number


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise JSONError(f"number {text[:40]} is too large for a double")
    return number


def _constant(name: str) -> Any:
    raise JSONError(f"{name} is not JSON (RFC 8259 has no non-finite numbers)")


def loads(data: bytes | str) -> Any:
    """Parse strict JSON: UTF-8, at most ``MAX_DEPTH`` levels, unique keys, finite numbers, integers
    within ±2^53. Raises :class:`JSONError`."""
    text = decode_utf8(data) if isinstance(data, bytes | bytearray) else data
    if (levels := depth(text)) > MAX_DEPTH:
        raise JSONError(f"nested {levels} levels deep; at most {MAX_DEPTH} are allowed")
    try:
        return json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
        )
    except json.JSONDecodeError as exc:
        raise JSONError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:  # unreachable below MAX_DEPTH; kept so no input can raise it
        raise JSONError(f"nested too deeply; at most {MAX_DEPTH} levels are allowed") from None


__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "JSONError", "decode_utf8", "depth", "loads"]

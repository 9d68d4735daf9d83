"""Encoded responses per served model: a forecast is a pure function of the model and the request, so
a repeated request (the common case: dashboards polling the same partners) is answered from here."""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

GZIP_MIN_BYTES = 16 * 1024  # smaller answers go as they are: the header would eat the saving
_GZIP_LEVEL = 3  # a region's 2 MB forecast: 130 kB in 10 ms (level 6: 106 kB in 29 ms)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header admits gzip (``gzip`` or ``*``, with a q above 0)."""
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip().removeprefix("q=")
            try:
                return not params.strip() or float(q) > 0
            except ValueError:
                return False
    return False


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0)


class ResponseCache:
    """A bounded LRU of encoded bodies. It lives with one served model and goes when that model does."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.generation = 0  # bumped by clear(): a body computed before it is not kept after it

    def get(self, key: Hashable, count: bool = True) -> bytes | None:
        """The body kept for ``key``; ``count`` False: a look that is not an answer (not a hit)."""
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
                self.hits += count
            return body

    def clear(self) -> None:
        """Forget every body (the answers changed: the served book did)."""
        with self._lock:
            self._items.clear()
            self.generation += 1

    def put(self, key: Hashable, body: bytes, generation: int | None = None) -> None:
        with self._lock:
            if generation is not None and generation != self.generation:
                return  # computed from what was served before a clear()
            self._items[key] = body
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], bytes]) -> bytes:
        body = self.get(key)
        if body is not None:
            return body
        generation = self.generation
        body = compute()  # outside the lock: two threads may compute one key; both get the same bytes
        with self._lock:
            self.misses += 1
        self.put(key, body, generation)
        return body

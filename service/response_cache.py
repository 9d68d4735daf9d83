"""Encoded responses per served model: a forecast is a pure function of the model and the request, so
a repeated request (the common case: dashboards polling the same partners) is answered from here."""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import anyio
from litestar import Request
from litestar.response import Response

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


# A miss this small (partners x families x years) is computed on the event loop: ~15 ms. Handed to a
# worker thread instead, it would wait for the GIL behind every cached answer the loop serves, and took
# 20 times as long under load (benchmarks/serve_load.py). Larger ones go to a thread, so that no single
# request stops the loop for long.
INLINE_CELLS = 2_000
INLINE_GZIP_BYTES = 512 * 1024


async def cached_response(
    request: Request,
    cache: ResponseCache,
    key: tuple,
    compute,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
    cells: int | None = None,
) -> Response:
    """A cached body straight from the event loop; a miss of at most ``INLINE_CELLS`` cells there too,
    a larger one (or one of unknown size: ``cells`` None) in a worker thread. Gzipped, once per cached
    body, for a client that accepts it and a body worth it (a region's forecast: 2 MB, or 130 kB)."""
    generation = cache.generation
    body = cache.get(key)
    if body is None:
        if cells is not None and cells <= INLINE_CELLS:
            body = cache.get_or_compute(key, compute)
        else:
            body = await anyio.to_thread.run_sync(cache.get_or_compute, key, compute)
    headers = {**(headers or {}), "vary": "accept-encoding"}
    if len(body) >= GZIP_MIN_BYTES and accepts_gzip(request.headers.get("accept-encoding", "")):
        packed = cache.get(("gzip", key), count=False)
        if packed is None:  # ~5 ms a megabyte: a large body is packed beside the loop (zlib frees the GIL)
            if len(body) <= INLINE_GZIP_BYTES:
                packed = gzipped(body)
            else:
                packed = await anyio.to_thread.run_sync(gzipped, body)
            cache.put(("gzip", key), packed, generation)
        body, headers = packed, {**headers, "content-encoding": "gzip"}
    return Response(body, media_type=media_type, headers=headers)

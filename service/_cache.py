"""Encoded responses per served model: a forecast is a pure function of the model and the request, so
a repeated request (the common case: dashboards polling the same partners) is answered from here."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class ResponseCache:
    """A bounded LRU of encoded bodies. It lives with one served model and goes when that model does."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return body

    def get_or_compute(self, key: Hashable, compute: Callable[[], bytes]) -> bytes:
        body = self.get(key)
        if body is not None:
            return body
        body = compute()  # outside the lock: two threads may compute one key; both get the same bytes
        with self._lock:
            self.misses += 1
            self._items[key] = body
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return body

"""Backtest predictions cached on disk, keyed by everything a prediction depends on.

A key hashes the contender (name and configuration), the origin, horizon, sample count and seed, the
training panel's data hash (what was known at the origin, so new LORs after it change nothing before
it), the prior file and the source code of the packages a prediction runs through. A rerun after a
change refits only the (origin, contender) pairs that change touches; a rerun with nothing changed
fits nothing. Entries are written atomically, so an interrupted run leaves no half-written entry.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from evidence.writers import atomic_write_bytes

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[1]
# The packages a prediction's value depends on; the service and the report do not change forecasts.
_CODE = (
    "bayes",
    "priors",
    "evidence",
    "validation/backtest.py",
    "validation/baselines.py",
    "validation/gbm.py",
    "validation/top_down.py",
)


@cache
def code_fingerprint() -> str:
    """SHA-256 over the source (and prior/data files) of the packages a prediction runs through."""
    digest = hashlib.sha256()
    for entry in _CODE:
        path = _ROOT / entry
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(_ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def cache_key(token: dict[str, Any], data_hash: str) -> str:
    """The key of one prediction: ``token`` describes contender and task, ``data_hash`` the training data."""
    payload = json.dumps({**token, "data_hash": data_hash, "code": code_fingerprint()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


class PredictionCache:
    """Predictions as compressed ``.npz`` files under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError) as exc:  # a damaged entry is refitted, not trusted
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(self._path(key), buffer.getvalue())

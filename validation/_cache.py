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

from evidence.writers import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[1]
# The packages a prediction's value depends on; the service and the report do not change forecasts.
_CODE = (
    "bayes",
    "priors",
    "evidence",
    "sources",
    "nlp",
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


def cache_record(identity: dict[str, Any], name: str) -> dict[str, Any]:
    """What the record beside an entry says it holds: its identity under the contender's name as given.
    A variant's token says "ours" (its choices apart), so the name must win or a later run reads
    ``ours[waves=on]`` as ours."""
    return {**identity, "contender": name}


class PredictionCache:
    """Predictions as compressed ``.npz`` files under one directory, each with a ``.json`` beside it that
    names what it holds (contender, origin, horizon, samples, seed): keys are hashes, and another
    backtest reads entries by name (:class:`CacheIndex`), which a hash cannot tell it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def path(self, key: str) -> Path:
        """Where the entry of ``key`` lies (whether or not it is there yet)."""
        return self._path(key)

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

    def put(self, key: str, arrays: dict[str, np.ndarray], about: dict[str, Any] | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(self._path(key), buffer.getvalue())
        if about is not None:  # after the entry: an index line never names a missing file
            atomic_write_text(self.directory / f"{key}.json", json.dumps(about, sort_keys=True))


# what an index entry must say to be matched by name; anything else in it is kept but not matched on
INDEX_FIELDS = ("contender", "origin", "horizon", "samples", "seed")


class CacheIndex:
    """Predictions of other backtests, found by contender name and task instead of by key.

    Each directory holds ``<anything>.json`` records with :data:`INDEX_FIELDS` and optionally ``file``,
    the ``.npz`` they describe (relative to the directory, or absolute; default: the record's own name
    with ``.npz``). :class:`PredictionCache` writes such a record beside every entry it stores; for a
    cache written before it did, ``scripts/index_backtest_cache.py`` writes them, from that backtest's
    own code (keys hash the code, so only it can say which key is which contender).
    """

    def __init__(self, directories: list[Path]) -> None:
        self.entries: dict[tuple, Path] = {}
        for directory in directories:
            records = sorted(directory.glob("*.json"))
            if not records:
                raise FileNotFoundError(f"{directory}: no index records (*.json) to read predictions by")
            for record in records:
                about = json.loads(record.read_text())
                if not all(f in about for f in INDEX_FIELDS):
                    continue  # not an index record
                if about["contender"] == "ours" and (about.get("choices") or about.get("without")):
                    # written before records kept the variant's name: a variant of ours, not ours
                    log.warning("%s: a variant of ours recorded as 'ours'; skipped (re-index it)", record)
                    continue
                path = directory / about.get("file", f"{record.stem}.npz")
                if path.is_file():  # the first directory that has an entry wins
                    self.entries.setdefault(self._match(about), path)

    @staticmethod
    def _match(about: dict[str, Any]) -> tuple:
        return tuple(about[f] for f in INDEX_FIELDS)

    def find(self, contender: str, origin: int, horizon: int, samples: int, seed: int) -> Path | None:
        return self.entries.get((contender, origin, horizon, samples, seed))

    @staticmethod
    def read(path: Path) -> dict[str, np.ndarray]:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}

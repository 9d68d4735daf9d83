"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pandas as pd


def atomic_write(path: Path | str, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write`` on a binary handle to a temp file beside ``path``, fsync it, then rename it over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; datasets and posterior files are meant to be read by others.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_table(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write a record table as CSV or Parquet (by suffix), atomically; booleans as true/false."""
    path = Path(path)
    if path.suffix == ".parquet":
        return atomic_write(path, lambda fh: frame.to_parquet(fh, index=False))
    if path.suffix == ".csv":
        out = frame.copy()
        for column in out.columns:
            if out[column].dtype == bool:
                out[column] = out[column].map({True: "true", False: "false"})
        return atomic_write_bytes(path, out.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    raise ValueError(f"{path}: write_table supports .csv and .parquet")

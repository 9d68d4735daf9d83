"""CSV reading for the text modules, with the same all-or-nothing validation as :mod:`evidence.loaders`.

A file loads whole or raises :class:`evidence.loaders.LoadError` listing every problem (file, row,
column, value, reason); rows are numbered as in a spreadsheet (header row 1, first data row 2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from evidence.loaders import LoadError, Problem

CellCheck = Callable[[str], str | None]  # returns a reason when the cell is invalid


def read_csv_rows(
    path: Path | str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    key: str | None = None,
    non_empty: Sequence[str] = (),
    checks: dict[str, CellCheck] | None = None,
) -> list[dict]:
    """Rows of ``path`` as dicts of strings with the required and optional columns (others dropped)."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise LoadError([Problem(source, None, None, None, "file not found")])
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        raise LoadError([Problem(source, None, None, None, f"cannot be read: {exc}")]) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    problems = [
        Problem(source, None, column, None, f"required column missing (have {list(frame.columns)})")
        for column in required
        if column not in frame.columns
    ]
    if problems:
        raise LoadError(problems)
    columns = [*required, *(c for c in optional if c in frame.columns)]
    rows: list[dict] = []
    seen: dict[str, int] = {}
    for i, record in enumerate(frame[columns].to_dict("records")):
        line = i + 2
        row = {c: ("" if record[c] is None else str(record[c])) for c in columns}
        for c in optional:
            row.setdefault(c, "")
        for c in (*((key,) if key else ()), *non_empty):
            if not row[c].strip():
                problems.append(Problem(source, line, c, row[c], "required value is empty"))
        for c, check in (checks or {}).items():
            if c in row and row[c].strip():
                reason = check(row[c])
                if reason:
                    problems.append(Problem(source, line, c, row[c], reason))
        if key and row[key].strip():
            k = row[key].strip()
            if k in seen:
                problems.append(Problem(source, line, key, k, f"duplicate key (first in row {seen[k]})"))
            else:
                seen[k] = line
            row[key] = k
        rows.append(row)
    if problems:
        raise LoadError(problems)
    return rows

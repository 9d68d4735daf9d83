"""Add evidence rows (text signals, readiness reports) to a dataset directory, as a new dataset.

The source directory is never modified unless it is also the destination, and then it is replaced
whole: the combined dataset is written to a temporary directory beside the destination, loaded back
through the full validation of :func:`evidence.loaders.load_dataset`, and only then renamed into place.
A failure at any point leaves the destination as it was.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from evidence.loaders import (
    Dataset,
    LoadError,
    check_references,
    evidence_part_files,
    first_row_number,
    load_dataset,
    load_table,
)
from evidence.records import EVIDENCE
from evidence.writers import write_table
from sources.sipri import write_evidence

log = logging.getLogger(__name__)


def read_evidence_file(path: Path, dataset: Dataset) -> pd.DataFrame:
    """Evidence rows from a table file (the ``evidence`` layout), validated, with every partner and
    family id checked against ``dataset``; a :class:`LoadError` names each bad row of ``path``."""
    path = Path(path)
    rows = load_table(path, EVIDENCE)
    offset = first_row_number(path)
    problems = [
        problem
        for column, known, allow_blank in (
            ("partner", dataset.partners["id"], False),
            ("family", dataset.families["id"], True),  # partner-level evidence has no family
        )
        for problem in check_references(
            "evidence", rows, column, known, column, dataset.source, allow_blank, str(path), offset
        )
    ]
    if problems:
        raise LoadError(problems)
    return rows


def add_evidence(source: Path, rows: pd.DataFrame, out: Path, dataset: Dataset | None = None) -> Dataset:
    """The dataset at ``source`` plus ``rows`` (evidence columns), written to ``out``; a row equal to
    one already stored is not added again. ``dataset``: ``source`` already loaded, to skip a reload."""
    dataset = dataset if dataset is not None else load_dataset(source)
    rows = rows.assign(date=pd.to_datetime(rows["date"]).dt.date, source=rows["source"].fillna(""))
    stored = dataset.evidence.assign(date=pd.to_datetime(dataset.evidence["date"]).dt.date)
    rows = rows[stored.columns]
    # rows already stored (the same file added twice) are skipped; the stored table stays as it was
    known = set(map(tuple, stored.astype(str).to_numpy()))
    fresh = rows[[tuple(r) not in known for r in rows.astype(str).to_numpy()]]
    # The evidence parts (evidence-<name>.csv) are copied as they are below, so their rows stay out of the
    # rewritten evidence table: stored there too, every such row would load twice.
    in_parts: set[tuple[str, ...]] = set()
    for part in evidence_part_files(Path(source)):
        part_rows = load_table(part, EVIDENCE)
        part_rows = part_rows.assign(date=pd.to_datetime(part_rows["date"]).dt.date)[stored.columns]
        in_parts |= set(map(tuple, part_rows.astype(str).to_numpy()))
    if in_parts:
        stored = stored[[tuple(r) not in in_parts for r in stored.astype(str).to_numpy()]]
    combined = pd.concat([stored, fresh], ignore_index=True)
    added = len(fresh)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        stored_as = [p for p in Path(source).iterdir() if p.is_file() and p.stem == "evidence"]
        for entry in Path(source).iterdir():
            if entry.is_file() and entry.stem != "evidence":
                shutil.copy2(entry, staging / entry.name)
        if stored_as and stored_as[0].suffix == ".csv":  # keep the source's format
            write_table(combined, staging / "evidence.csv")
        else:
            write_evidence(combined, staging / "evidence.parquet")
        result = load_dataset(staging)  # the new dataset must load before it replaces anything
        if out.exists():
            retired = out.with_name(f".{out.name}-old-{os.getpid()}")
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info(
        "%s: %d evidence rows added (%d given, %d already there)", out, added, len(rows), len(rows) - added
    )
    return dataclasses.replace(result, source=str(out))

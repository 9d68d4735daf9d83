"""`totaldemand data ...`: build datasets from public sources and add evidence to them."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from totaldemand.cli.common import DataOpt, out, user_errors
from totaldemand.settings import load_settings

data_app = typer.Typer(help="Build and inspect datasets.", no_args_is_help=True)


@data_app.command("build-sipri")
@user_errors
def build_sipri(
    register: Annotated[Path, typer.Option(help="A SIPRI trade-register export (CSV, any vintage).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset directory to write.")],
    supplier: Annotated[str, typer.Option(help="Supplier whose orders are the LORs.")] = "United States",
) -> None:
    """Turn a SIPRI trade-register export into a dataset of realised LORs plus a readiness proxy."""
    from sources.sipri import build_dataset

    if not register.is_file():
        raise FileNotFoundError(f"--register: {register} does not exist")
    summary = build_dataset(register, out_dir, supplier=supplier)
    out.print_json(json.dumps(summary.as_dict()))


@data_app.command("add-texts")
@user_errors
def add_texts(
    texts: Annotated[Path, typer.Option(help="CSV of texts: notifications (pk, text) or documents.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset directory to write (may be --data).")],
    data: DataOpt = None,
    documents: Annotated[
        bool,
        typer.Option(help="Texts are dated documents (doc_id, partner, date, text), not notifications."),
    ] = False,
) -> None:
    """Turn texts into NLP evidence (one row per notification or document x family, with provenance)
    and write the dataset with it added."""
    from evidence.loaders import load_dataset
    from nlp.extraction import extract_all, read_texts
    from nlp.signals import analyse, mention_evidence, notification_evidence, read_documents
    from sources.augment import add_evidence

    source = data or load_settings().seed_dataset()
    stored = load_dataset(source)
    if documents:
        known = set(stored.partners["id"])
        rows = mention_evidence(m for doc in read_documents(texts, known) for m in analyse(doc))
    else:
        rows = notification_evidence(extract_all(read_texts(texts)), source=texts.stem)
    inside = rows["partner"].isin(stored.partners["id"]) & rows["family"].isin(stored.families["id"])
    if not inside.all():
        # the text names a partner or family this dataset does not model (e.g. a new buyer)
        outside = rows.loc[~inside, ["partner", "family"]].drop_duplicates()
        logging.getLogger(__name__).warning(
            "%d evidence rows left out: partner x family not in the dataset: %s",
            int((~inside).sum()),
            ", ".join(f"{p}/{f}" for p, f in outside.itertuples(index=False)),
        )
    rows = rows[inside]
    dataset = add_evidence(source, rows, out_dir, stored)
    out.print(f"{len(rows)} NLP evidence rows from {texts}; {out_dir}: {len(dataset.evidence)} evidence rows")


@data_app.command("add-readiness")
@user_errors
def add_readiness(
    reports: Annotated[
        Path,
        typer.Option(
            help="CSV: partner, family or system, date, fleet_size[, mission_capable_rate, average_age]."
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset directory to write (may be --data).")],
    data: DataOpt = None,
) -> None:
    """Validate readiness reports and write the dataset with them (they replace the SIPRI fleet proxy
    for their partner x family from their date on)."""
    from evidence.loaders import load_dataset
    from nlp.signals import system_family
    from sources.augment import add_evidence
    from sources.readiness_reports import read_readiness_reports

    source = data or load_settings().seed_dataset()
    dataset = load_dataset(source)
    rows = read_readiness_reports(
        reports, set(dataset.partners["id"]), set(dataset.families["id"]), system_family
    )
    add_evidence(source, rows, out_dir, dataset)
    out.print(f"{len(rows)} readiness evidence rows from {reports} added; dataset written to {out_dir}")


@data_app.command("add-evidence")
@user_errors
def add_evidence_rows(
    evidence: Annotated[
        Path, typer.Option(help="Evidence table (partner, family, date, kind, value, source).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset directory to write (may be --data).")],
    data: DataOpt = None,
) -> None:
    """Validate evidence rows (e.g. the shipped DSCA notification signal) and write the dataset with them."""
    from evidence.loaders import load_dataset
    from sources.augment import add_evidence, read_evidence_file

    source = data or load_settings().seed_dataset()
    dataset = load_dataset(source)
    rows = read_evidence_file(evidence, dataset)
    add_evidence(source, rows, out_dir, dataset)
    out.print(f"{len(rows)} evidence rows from {evidence}; dataset written to {out_dir}")


@data_app.command("describe")
@user_errors
def describe_data(data: DataOpt = None, first_year: int = 1990) -> None:
    """Load a dataset (validating it) and describe its panel."""
    from bayes.panel import build_panel, describe
    from evidence.loaders import load_dataset

    panel = build_panel(load_dataset(data or load_settings().seed_dataset()), first_year=first_year)
    out.print_json(json.dumps({**describe(panel), "data_hash": panel.attrs["data_hash"]}))

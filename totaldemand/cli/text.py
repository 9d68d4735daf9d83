"""`totaldemand extract` and `totaldemand signals`: what texts say, as records and signals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from totaldemand.cli.common import out, user_errors
from totaldemand.errors import UserError

commands = typer.Typer()  # merged into the top-level app (totaldemand.cli)


@commands.command()
@user_errors
def extract(
    texts: Annotated[Path | None, typer.Option(help="CSV with columns pk and text (others ignored).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="JSON Lines file to write.")] = None,
    evaluate: Annotated[
        Path | None, typer.Option(help="Gold labels CSV: print per-field accuracy and item P/R/F1.")
    ] = None,
    errors: Annotated[bool, typer.Option(help="With --evaluate: list every release's errors.")] = False,
) -> None:
    """Extract sale records (country, date, cost, items, category, kind) from notification texts."""
    from evidence.writers import atomic_write_text
    from nlp.extraction import evaluate as score
    from nlp.extraction import extract_all, format_errors, format_evaluation, labelled_parts, read_texts

    if texts is None and evaluate is not None:
        beside = [p for p in evaluate.parent.glob("*.csv") if p != evaluate.resolve() and p != evaluate]
        if len(beside) != 1:
            raise FileNotFoundError(f"--texts: give the texts that {evaluate} labels")
        texts = beside[0]
    if texts is None:
        raise FileNotFoundError("--texts: a CSV with columns pk and text is required")
    if out_file is None and evaluate is None:
        raise FileNotFoundError("--out: where to write the records (or --evaluate LABELS.csv)")
    records = list(extract_all(read_texts(texts)))
    if out_file is not None:
        atomic_write_text(out_file, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        out.print(f"{len(records)} records written to {out_file}")
    if evaluate is not None:
        for title, pks in [*labelled_parts(evaluate), ("all", None)]:
            ev = score(records, evaluate, pks)
            out.print(f"\n{title}\n{format_evaluation(ev)}")
            if errors and pks is None:
                out.print(format_errors(ev))


@commands.command()
@user_errors
def signals(
    texts: Annotated[Path, typer.Option(help="CSV of dated documents (doc_id, partner, date, text).")],
    notifications: Annotated[
        bool, typer.Option(help="The texts are notifications (pk, text): count them per family instead.")
    ] = False,
    period: Annotated[str, typer.Option(help="year, quarter or month.")] = "year",
    as_of: Annotated[str | None, typer.Option(help="Use only texts dated on or before (YYYY-MM-DD).")] = None,
    topics: Annotated[bool, typer.Option(help="Topic trends per partner instead of family signals.")] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="CSV to write (default: print).")] = None,
) -> None:
    """Early signals from text per partner x family x period (or topic trends), with provenance."""
    from datetime import date

    from evidence.writers import atomic_write_text
    from nlp.extraction import extract_all, read_texts
    from nlp.signals import PERIODS, aggregate, analyse, notification_signal, read_documents
    from nlp.topics import topic_trends

    problems = []
    if period not in PERIODS:
        problems.append(f"--period: {period!r} is not one of {list(PERIODS)}")
    if as_of is not None:
        try:
            date.fromisoformat(as_of)
        except ValueError:
            problems.append(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)")
    if notifications and (topics or period != "year"):
        problems.append("--notifications: signals are yearly notification counts (no --topics or --period)")
    if problems:
        raise UserError("; ".join(problems))
    if notifications:
        table = notification_signal(extract_all(read_texts(texts)), as_of=as_of)
    else:
        found = [m for doc in read_documents(texts) for m in analyse(doc)]
        table = (topic_trends if topics else aggregate)(found, period=period, as_of=as_of)
    table = table.assign(provenance=[";".join(map(str, p)) for p in table["provenance"]])
    if out_file is None:
        out.print(table.to_string(index=False) if len(table) else "no signals")
    else:
        atomic_write_text(out_file, table.to_csv(index=False))
        out.print(f"{len(table)} rows written to {out_file}")

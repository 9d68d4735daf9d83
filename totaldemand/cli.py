"""The ``totaldemand`` command line: data, simulate, fit, forecast, serve, up.

Bad input exits with code 2 and a message naming the file, row, field or value; never a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from totaldemand import settings

app = typer.Typer(help="Bayesian forecasts of partner procurement demand (LORs).", no_args_is_help=True)
data_app = typer.Typer(help="Build and inspect datasets.", no_args_is_help=True)
priors_app = typer.Typer(help="Inspect prior files.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(priors_app, name="priors")
console = Console(stderr=True)
# Tables piped to a file or another program keep every column whole (rich would assume 80 columns).
out = Console(width=None if sys.stdout.isatty() else 200)
log = logging.getLogger("totaldemand")


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    _configure_logging(logging.DEBUG if verbose else logging.INFO)


def _configure_logging(level: int) -> None:
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("jax", "pytensor", "arviz", "matplotlib", "h5py"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def user_errors(fn: Callable) -> Callable:
    """Turn input errors into a clear message and exit code 2."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from bayes.forecast import ForecastError
        from bayes.model import ModelFileError
        from evidence.loaders import LoadError
        from priors import PriorError
        from sources.sipri import SipriFormatError

        errors = (LoadError, PriorError, ForecastError, SipriFormatError, FileNotFoundError, ModelFileError)
        try:
            return fn(*args, **kwargs)
        except errors as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper


DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Dataset directory (default: embedded SIPRI panel).")
]


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

    source = data or settings.dataset_path()
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

    source = data or settings.dataset_path()
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

    source = data or settings.dataset_path()
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

    panel = build_panel(load_dataset(data or settings.dataset_path()), first_year=first_year)
    out.print_json(json.dumps({**describe(panel), "data_hash": panel.attrs["data_hash"]}))


@app.command()
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


@app.command()
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
        console.print("[bold red]error:[/] " + "; ".join(problems), highlight=False)
        raise typer.Exit(code=2)
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


@app.command()
@user_errors
def simulate(
    seed: Annotated[int, typer.Option(help="Random seed.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the world to.")],
    partners: int = 30,
    families: int = 8,
    first_year: int = 2000,
    last_year: int = 2019,
) -> None:
    """Write a synthetic world with known parameters (truth.json) in the loaders' formats."""
    from bayes.simulate import WorldSpec, write_world

    if partners < 2 or families < 2 or last_year - first_year < 4:
        console.print("[bold red]error:[/] need >= 2 partners, >= 2 families and >= 5 years")
        raise typer.Exit(code=2)
    spec = WorldSpec(partners=partners, families=families, first_year=first_year, last_year=last_year)
    truth = write_world(out_dir, spec, seed)
    log.info(
        "wrote a world of %d partners x %d families x %d years to %s",
        partners,
        families,
        last_year - first_year + 1,
        out_dir,
    )
    out.print_json(json.dumps(truth["params"]))


@app.command()
@user_errors
def fit(
    data: DataOpt = None,
    model_path: Annotated[Path | None, typer.Option("--out", help="Posterior file to write.")] = None,
    priors: Annotated[Path | None, typer.Option(help="Prior TOML file (default: shipped priors).")] = None,
    first_year: int = 1990,
    draws: Annotated[int | None, typer.Option(help="Draws per chain [default: the model's, 1200].")] = None,
    tune: Annotated[int | None, typer.Option(help="Tuning steps per chain [default: 400].")] = None,
    chains: Annotated[int | None, typer.Option(help="Chains [default: 4].")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [default: the model's].")] = None,
    warm_start: Annotated[
        Path | None,
        typer.Option(help="A stored posterior file to start from (refit after new data): short warm-up."),
    ] = None,
    warm_tune: Annotated[
        int | None, typer.Option(help="Tuning steps of a warm start [default: 200].")
    ] = None,
    zero_inflated: Annotated[
        bool, typer.Option(help="NB with structural zeros (compare with `totaldemand compare`).")
    ] = False,
    without: Annotated[
        list[str] | None,
        typer.Option(
            help="Leave a component out (alliance, readiness, nlp, dynamics, family_dynamics); repeat."
            " Ablations."
        ),
    ] = None,
    family_path: Annotated[
        str | None,
        typer.Option(
            help="How a family's rate moves: trend (log-linear), ar1 (about its level), or trend_ar1"
            " [default: the model's, trend]."
        ),
    ] = None,
) -> None:
    """Fit the hierarchical NB model and write its posterior as NetCDF (opens in ArviZ)."""
    from bayes.fitting import fit_dataset
    from bayes.model import CHOICES, SWITCHABLE

    unknown = sorted(set(without or ()) - set(SWITCHABLE))
    if unknown:
        console.print(
            f"[bold red]error:[/] --without: unknown component(s) {unknown}; known: {list(SWITCHABLE)}"
        )
        raise typer.Exit(code=2)
    if family_path is not None and family_path not in CHOICES["family_path"]:
        console.print(
            f"[bold red]error:[/] --family-path: {family_path!r} is not one of {list(CHOICES['family_path'])}"
        )
        raise typer.Exit(code=2)
    model = fit_dataset(
        data or settings.dataset_path(),
        model_path or settings.model_path(),
        priors,
        first_year,
        {
            key: value
            for key, value in (
                ("draws", draws),
                ("tune", tune),
                ("chains", chains),
                ("random_seed", seed),
                ("warm_tune", warm_tune),
            )
            if value is not None
        },
        warm_start=warm_start,
        model_config={
            "zero_inflation": zero_inflated,
            "components": {name: False for name in without or ()},
            **({"family_path": family_path} if family_path is not None else {}),
        },
    )
    for line in model.diagnostics.lines():
        out.print(line)
    if model.status != "ok":
        console.print("[bold red]the fit failed its gates: it is stored as failed and will not be served[/]")
        raise typer.Exit(code=1)


@app.command()
@user_errors
def forecast(
    model_path: Annotated[Path | None, typer.Option("--model", help="Posterior file.")] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Dataset with domestic plans and line capacities (default: the model's)."
        ),
    ] = None,
    horizon: int = 3,
    level: Annotated[list[float] | None, typer.Option(help="Credible level; repeat for several.")] = None,
    partner: Annotated[list[str] | None, typer.Option(help="Partner id; repeat for several.")] = None,
    family: Annotated[list[str] | None, typer.Option(help="Family id; repeat for several.")] = None,
    new_partner: Annotated[
        list[str] | None,
        typer.Option(help="A partner never seen, as LABEL or LABEL@REGION (forecast from the population)."),
    ] = None,
    new_family: Annotated[
        list[str] | None,
        typer.Option(help="A family never seen, as LABEL or LABEL@CATEGORY (forecast from the population)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Forecast LORs for the next HORIZON years: cells, family totals, total demand and line risk."""
    from bayes.fitting import load_forecaster
    from bayes.forecast import NewFamily, NewPartner
    from bayes.model import DemandModel

    path = model_path or settings.model_path()
    if not path.is_file():
        raise FileNotFoundError(f"--model: no posterior file at {path}; run `totaldemand fit` first")
    partners_new = [NewPartner(*[*x.split("@", 1), None][:2]) for x in new_partner or ()]
    families_new = [NewFamily(*[*x.split("@", 1), None][:2]) for x in new_family or ()]
    result = load_forecaster(DemandModel.load(path, analysis_groups=False), data).forecast(
        horizon, level or [0.8, 0.95], partner, family, None, partners_new, families_new
    )
    if fmt == "json":
        out.print_json(json.dumps(result.to_dict()))
        return
    _print_table("New LORs per family and year", result.family_totals, ("family", "year"), result.levels)
    if partner or family or new_partner or new_family:
        _print_table("Cells", result.cells, ("partner", "family", "year"), result.levels)
    _print_total_demand(result.total_demand, result.levels)


@app.command("ask")
@user_errors
def ask(
    family: Annotated[str | None, typer.Option(help="Family id (or name a --system).")] = None,
    system: Annotated[str | None, typer.Option(help="Named system id, e.g. himars.")] = None,
    *,
    at_least: Annotated[int, typer.Option("--at-least", min=1, help="Units requested, at least.")],
    within_months: Annotated[int, typer.Option("--within-months", min=1, max=120, help="Window length.")],
    start: Annotated[
        str | None,
        typer.Option("--from", help="First day, YYYY-MM-DD (default: 1 January of the first forecast year)."),
    ] = None,
    partner: Annotated[
        list[str] | None, typer.Option(help="Partner id; repeat for several (default: all).")
    ] = None,
    region: Annotated[list[str] | None, typer.Option(help="Region; repeat for several.")] = None,
    level: Annotated[float, typer.Option(help="Credible level of the interval.")] = 0.8,
    model_path: Annotated[Path | None, typer.Option("--model", help="Posterior file.")] = None,
    data: Annotated[Path | None, typer.Option(help="Dataset (default: the model's own).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """The planner's question: P(the partners request at least N units of a family, or of one named
    system, within M months)."""
    import datetime

    from bayes.fitting import load_forecaster
    from bayes.forecast import ForecastError
    from bayes.model import DemandModel

    path = model_path or settings.model_path()
    if not path.is_file():
        raise FileNotFoundError(f"--model: no posterior file at {path}; run `totaldemand fit` first")
    try:
        first = datetime.date.fromisoformat(start) if start else None
    except ValueError:
        raise ForecastError(f"--from: {start!r} is not a date YYYY-MM-DD") from None
    forecaster = load_forecaster(DemandModel.load(path, analysis_groups=False), data)
    system = system.strip().lower() if system else None
    answer = forecaster.question(family, at_least, within_months, first, partner, region, (level,), system)
    if fmt == "json":
        out.print_json(data=answer)
        return
    who = answer["partners"][0] if len(answer["partners"]) == 1 else f"{len(answer['partners'])} partners"
    window = answer["window"]
    interval = answer["intervals"][0]
    out.print(
        f"P({who} request at least {at_least} units of {system or answer['family']} "
        f"from {window['from']} to {window['to']}) "
        f"= {answer['probability']:.2f}\n"
        f"  expected units {answer['expected_units']:.1f} (median {answer['median_units']:.0f}, "
        f"{level:.0%} interval {interval['lower']:.0f}-{interval['upper']:.0f}); "
        f"P(any request) {answer['p_any_request']:.2f}\n"
        f"  rests on: data through {answer['rests_on']['data_through']}, model fitted "
        f"{answer['rests_on']['book_as_of']}, timing {answer['rests_on']['timing']}"
        + (f"\n  system share: {answer['rests_on']['system_share']}" if system else "")
    )


@app.command("line-risk")
@user_errors
def line_risk(
    line: Annotated[str, typer.Argument(help="Production line id, e.g. patriot_mse.")],
    partner: Annotated[
        list[str] | None, typer.Option(help="Partner id; repeat for several (default: all).")
    ] = None,
    level: Annotated[float, typer.Option(help="Credible level of the interval.")] = 0.8,
    years: Annotated[int, typer.Option(min=1, max=10, help="Production years shown.")] = 5,
    model_path: Annotated[Path | None, typer.Option("--model", help="Posterior file.")] = None,
    data: Annotated[Path | None, typer.Option(help="Dataset (default: the model's own).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """A production line's load per production year by source, and the risk it falls below its minimum
    sustaining rate or above its maximum rate (DoD P-21 rates)."""
    from bayes.fitting import load_forecaster
    from bayes.forecast import LINE_SOURCES
    from bayes.model import DemandModel

    path = model_path or settings.model_path()
    if not path.is_file():
        raise FileNotFoundError(f"--model: no posterior file at {path}; run `totaldemand fit` first")
    forecaster = load_forecaster(DemandModel.load(path, analysis_groups=False), data, max_horizon=years)
    ds = forecaster.line_risk(line.strip().lower(), partner, levels=(level,))
    if fmt == "json":
        out.print_json(
            data={**ds.attrs, "rows": ds.drop_vars("level").to_dataframe().reset_index().to_dict("records")}
        )
        return
    a = ds.attrs
    table = Table(
        title=f"{a['name']} ({a['line']}): minimum sustaining {a['min_sustaining_rate']:g}, "
        f"maximum {a['max_rate']:g} a year"
    )
    for col in ("year", *LINE_SOURCES, "load (mean)", f"{level:.0%} interval", "P(<min)", "P(>max)"):
        table.add_column(col, justify="right")
    for i, year in enumerate(ds["year"].values):
        table.add_row(
            str(int(year)),
            *(f"{float(ds[f'{k}_expected'][i]):.0f}" for k in LINE_SOURCES),
            f"{float(ds['mean'][i]):.0f}",
            f"{float(ds['lower'][0, i]):.0f}-{float(ds['upper'][0, i]):.0f}",
            f"{float(ds['p_below_min'][i]):.2f}",
            f"{float(ds['p_above_max'][i]):.2f}",
        )
    out.print(table)
    out.print(f"systems: {', '.join(a['systems']) or 'none in this model'}; data through {a['data_through']}")
    out.print(f"capacity: {a['capacity_basis']}\ndomestic: {a['domestic_basis']}")
    for system, basis in a["timing_basis"].items():
        out.print(f"timing ({system}): {basis}")


@app.command("block-buy")
@user_errors
def block_buy(
    model_path: Annotated[Path | None, typer.Option("--model", help="Posterior file.")] = None,
    partner: Annotated[list[str] | None, typer.Option(help="Partner id; repeat for several.")] = None,
    family: Annotated[list[str] | None, typer.Option(help="Family id; repeat for several.")] = None,
    first_year: Annotated[int | None, typer.Option("--from", help="First year of the window.")] = None,
    last_year: Annotated[int | None, typer.Option("--to", help="Last year of the window.")] = None,
    level: Annotated[list[float] | None, typer.Option(help="Credible level; repeat for several.")] = None,
    at_least: Annotated[
        int | None, typer.Option("--at-least", min=1, help="Units: gives P(combined buy >= this).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Dataset for domestic plans (default: the model's own).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Cumulative demand of a set of partners over a window: quantiles of LORs and units per family, and
    the combined buy (domestic plan + firm + converted pending + new LORs) with P(combined >= N)."""
    from bayes.fitting import load_forecaster
    from bayes.model import DemandModel

    path = model_path or settings.model_path()
    if not path.is_file():
        raise FileNotFoundError(f"--model: no posterior file at {path}; run `totaldemand fit` first")
    ds = load_forecaster(DemandModel.load(path, analysis_groups=False), data).block_buy(
        partner, family, first_year, last_year, level or [0.8], at_least=at_least
    )
    if fmt == "json":
        intervals = ["lower", "upper", "units_lower", "units_upper", "combined_lower", "combined_upper"]
        frame = ds.drop_vars([*intervals, "level"]).to_dataframe()
        out.print_json(frame.reset_index().to_json(orient="records"))
        return
    title = (
        f"Block buy {ds.attrs['first_year']}-{ds.attrs['last_year']}, {len(ds.attrs['partners'])} partner(s)"
    )
    table = Table(title=title)
    for c in (
        "family",
        "LORs mean",
        "P(>=1)",
        "units mean",
        *(f"units {int(lv * 100)}% CrI" for lv in ds["level"].values),
        "combined mean",
        "plan / firm / pending / new",
        *([f"P(>= {at_least})"] if at_least is not None else []),
    ):
        table.add_column(c, justify="left" if c == "family" else "right")
    for f in ds["family"].values:
        row = ds.sel(family=f)
        table.add_row(
            str(f),
            f"{float(row['mean']):.2f}",
            f"{float(row['p_any']):.2f}",
            f"{float(row['units_mean']):.0f}",
            *(
                f"{int(row['units_lower'].sel(level=lv))}-{int(row['units_upper'].sel(level=lv))}"
                for lv in ds["level"].values
            ),
            f"{float(row['combined_mean']):.0f}",
            " / ".join(
                f"{float(row[f'combined_{k}']):.0f}" for k in ("domestic", "firm", "pending", "new_lors")
            ),
            *([f"{float(row['p_at_least']):.2f}"] if at_least is not None else []),
        )
    out.print(table)


def _print_total_demand(ds, levels: tuple[float, ...]) -> None:
    table = Table(title="Total demand (units): domestic + firm + converted pending + new LORs")
    cols = (
        "family",
        "year",
        "domestic",
        "firm",
        "pending",
        "new",
        "total mean",
        f"{int(levels[-1] * 100)}% CrI",
        "P(<min)",
        "P(>max)",
    )
    for c in cols:
        table.add_column(c, justify="left" if c == "family" else "right")

    def fmt(v: float, pattern: str = "{:.0f}") -> str:
        return "-" if math.isnan(v) else pattern.format(v)

    for f in ds["family"].values:
        for y in ds["year"].values:
            r = ds.sel(family=f, year=y)
            table.add_row(
                str(f),
                str(int(y)),
                fmt(float(r["domestic"])),
                fmt(float(r["firm"])),
                fmt(float(r["pending_expected"])),
                fmt(float(r["new_lors_expected"])),
                fmt(float(r["mean"])),
                f"{int(r['lower'].sel(level=levels[-1]))}-{int(r['upper'].sel(level=levels[-1]))}",
                fmt(float(r["p_below_min"]), "{:.2f}"),
                fmt(float(r["p_above_max"]), "{:.2f}"),
            )
    out.print(table)


def _print_table(title: str, ds, keys: tuple[str, ...], levels: tuple[float, ...]) -> None:
    table = Table(title=title)
    for k in keys:
        table.add_column(k)
    for c in ("mean", "median", "P(>=1)", *(f"{int(lv * 100)}% CrI" for lv in levels)):
        table.add_column(c, justify="right")
    frame = ds[["mean", "median", "p_any"]].to_dataframe().reset_index()
    for _, row in frame.iterrows():
        sel = {k: row[k] for k in keys}
        ints = [
            f"{int(ds['lower'].sel(level=lv, **sel))}-{int(ds['upper'].sel(level=lv, **sel))}"
            for lv in levels
        ]
        table.add_row(
            *(str(row[k]) for k in keys),
            f"{row['mean']:.2f}",
            f"{row['median']:.0f}",
            f"{row['p_any']:.2f}",
            *ints,
        )
    out.print(table)


@priors_app.command("show")
@user_errors
def priors_show(path: Annotated[Path | None, typer.Argument(help="Prior TOML file.")] = None) -> None:
    """Validate a prior file and print its priors and rationales."""
    from priors import load_priors

    p = load_priors(path)
    table = Table(title=f"priors {p.version} ({p.hash})")
    for c in ("parameter", "distribution", "rationale"):
        table.add_column(c)
    for name, prior in p.priors.items():
        args = ", ".join(f"{k}={v:g}" for k, v in prior.params.items())
        table.add_row(name, f"{prior.dist}({args})", prior.rationale)
    out.print(table)


@priors_app.command("check")
@user_errors
def priors_check(
    path: Annotated[Path | None, typer.Argument(help="Prior TOML file.")] = None,
    data: DataOpt = None,
    first_year: int = 1990,
    draws: int = 500,
    seed: int = 0,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Prior predictive check: yearly LOR totals per family implied by the priors vs observed."""
    from bayes.panel import build_panel
    from bayes.prior_check import prior_predictive_check
    from evidence.loaders import load_dataset
    from priors import load_priors

    priors = load_priors(path)
    panel = build_panel(load_dataset(data or settings.dataset_path()), first_year=first_year)
    report = prior_predictive_check(panel, priors, draws=draws, seed=seed)
    if fmt == "json":
        out.print_json(report.to_json(orient="records"))
        return
    table = Table(title=f"Prior predictive yearly totals per family (priors {priors.version})")
    for c in (
        "family",
        "LORs observed min-med-max",
        "LORs prior 5-50-95%",
        "in range",
        "units observed min-med-max",
        "units prior 5-50-95%",
        "in range ",
    ):
        table.add_column(c, justify="left" if c == "family" else "right")
    for r in report.to_dict(orient="records"):
        cells = [r["family"]]
        for m in ("lors", "units"):
            cells += [
                f"{r[m + '_observed_min']:.0f}-{r[m + '_observed_median']:.0f}-{r[m + '_observed_max']:.0f}",
                f"{r[m + '_prior_q05']:.0f}-{r[m + '_prior_q50']:.0f}-{r[m + '_prior_q95']:.0f}",
                f"{r[m + '_prior_share_in_observed_range']:.0%}",
            ]
        table.add_row(*cells)
    out.print(table)


@app.command()
@user_errors
def compare(
    models: Annotated[list[Path], typer.Argument(help="Posterior files fitted to the same panel.")],
) -> None:
    """Compare fitted models by PSIS-LOO (pointwise log-likelihood per partner-year): elpd, SE, weights."""
    import arviz as az

    from bayes.model import open_posterior

    if len(models) < 2:
        console.print("[bold red]error:[/] give at least two posterior files to compare")
        raise typer.Exit(code=2)
    trees, hashes = {}, set()
    for path in models:
        tree = open_posterior(path)
        hashes.add(tree.attrs.get("data_hash"))
        trees[path.stem] = tree
    if len(hashes) > 1:
        console.print("[bold red]error:[/] the models were fitted to different data (data_hash differs)")
        raise typer.Exit(code=2)
    out.print(az.compare(trees).to_string())


class SBCModel(StrEnum):
    demand = "demand"
    us_share = "us_share"
    channel = "channel"


@app.command()
@user_errors
def sbc(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for ranks.nc, sbc.json and sbc.png.")],
    model: Annotated[
        SBCModel, typer.Option(help="The demand model, the U.S. share model or the FMS channel model.")
    ] = SBCModel.demand,
    replicates: int = 60,
    draws: int = 200,
    tune: int = 300,
    seed: int = 0,
    workers: Annotated[int, typer.Option(help="Replicates fitted at once, one process each.")] = 2,
) -> None:
    """Simulation-based calibration on a small configuration: rank histograms and uniformity tests."""
    from rich.progress import Progress

    from bayes.sbc import plot_ranks, run_sbc, run_side_sbc
    from evidence.writers import atomic_write_text

    if replicates < 5 or draws < 20:
        console.print("[bold red]error:[/] need --replicates >= 5 and --draws >= 20")
        raise typer.Exit(code=2)
    out_dir.mkdir(parents=True, exist_ok=True)
    with Progress(console=console) as bar:
        task = bar.add_task(f"SBC replicates ({model.value})", total=replicates)
        settings = {"seed": seed, "workers": workers, "progress": lambda i, n: bar.update(task, completed=i)}
        if model is SBCModel.demand:
            result = run_sbc(replicates, draws, tune, **settings)
        else:
            result = run_side_sbc(model.value, replicates, draws, tune, **settings)
    result.ranks.to_netcdf(out_dir / "ranks.nc")
    summary = {"p_values": result.p_values, "failed_fits": result.failed_fits, "uniform": result.uniform()}
    atomic_write_text(out_dir / "sbc.json", json.dumps(summary, indent=2))
    plot_ranks(result, out_dir / "sbc.png")
    table = Table(
        title=f"SBC of {model.value}: {replicates} replicates, ranks among {result.n_ranks - 1} draws"
    )
    for c in ("parameter", "chi-square p"):
        table.add_column(c)
    for name, p in result.p_values.items():
        table.add_row(name, f"{p:.3f}")
    out.print(table)
    out.print(
        f"ranks uniform (Bonferroni, alpha 0.01): {result.uniform()}; failed fits: {result.failed_fits}"
    )


def _origins(text: str) -> list[int]:
    """'2010..2018' or '2010,2012,2014'."""
    try:
        if ".." in text:
            first, last = (int(x) for x in text.split(".."))
            return list(range(first, last + 1))
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected FIRST..LAST or a comma-separated list of years"
        ) from None


@app.command()
@user_errors
def backtest(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for scores.json, scores.nc, forecasts.csv.")
    ],
    panel: Annotated[
        Path | None, typer.Option("--panel", help="Dataset directory (default: embedded).")
    ] = None,
    register: Annotated[
        Path | None, typer.Option(help="A SIPRI trade-register export: built into a dataset first.")
    ] = None,
    origins: Annotated[str, typer.Option(help="Forecast origins, e.g. 2010..2018.")] = "2010..2018",
    horizon: Annotated[int, typer.Option(min=1, max=10, help="Years ahead scored.")] = 3,
    models: Annotated[
        str,
        typer.Option(
            help="Comma-separated: ours (or its variants) and baselines: climatology, naive, pooled, "
            "unpooled_glm, croston, tsb, adida, lightgbm, autoets, autoarima; and stacks of any of them, "
            "stacked[ours,lightgbm,tsb,autoets]: a mixture whose weights at each origin minimise the "
            "family-year CRPS of earlier origins' forecasts of years already observed (equal at the "
            "first), or with objective=partner_family_horizon_brier among the parts the Brier of "
            "P(>= 1 LOR within the horizon) per partner x family; parts not named on their own are added."
        ),
    ] = "ours,climatology,naive,pooled,unpooled_glm",
    first_year: int = 1990,
    samples: Annotated[int, typer.Option(min=50, help="Predictive draws per target.")] = 1000,
    draws: Annotated[int | None, typer.Option(help="Our model: draws per chain.")] = None,
    tune: Annotated[int | None, typer.Option(help="Our model: tuning steps per chain.")] = None,
    parallel_chains: Annotated[
        int | None,
        typer.Option(min=1, help="Our model: chains sampled at once (fewer: flat memory, a little slower)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Fits run in this many processes.")] = 1,
    cluster: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://host:8786): fits run there.")
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Prediction cache directory [default: OUT/cache].")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Refit everything; cache nothing.")] = False,
    parts_from: Annotated[
        list[Path] | None,
        typer.Option(
            "--parts-from",
            help="Another backtest's cache directory (repeatable): a contender's prediction found there "
            "by name, origin, horizon, samples and seed is read instead of fitted (e.g. ours from a run "
            "of another commit, for a stack). Caches of older runs need "
            "scripts/index_backtest_cache.py first.",
        ),
    ] = None,
) -> None:
    """Rolling-origin backtest with proper scores against baselines (each origin sees only its past)."""
    from evidence.loaders import load_dataset
    from validation.backtest import best_baseline_table, contender_for, run_backtest, score_table
    from validation.stacking import split_top_level, stack_parts

    if panel is not None and register is not None:
        console.print("[bold red]error:[/] give --panel or --register, not both")
        raise typer.Exit(code=2)
    names = split_top_level(models)  # commas inside stacked[...] separate its parts, not contenders
    overrides = (("draws", draws), ("tune", tune), ("parallel_chains", parallel_chains))
    sampler = {k: v for k, v in overrides if v is not None}
    try:
        stacks = {name: parts for name in names if (parts := stack_parts(name)) is not None}
        # a stack's parts run (and are scored) as contenders of their own, before the stacks
        names = [n for n in names if n not in stacks]
        names += [p for parts in stacks.values() for p in parts if p not in names]
        names = list(dict.fromkeys(names)) + list(stacks)
        contenders = {name: contender_for(name, first_year, sampler) for name in names}
    except ValueError as exc:
        known = "ours, ours-without-<component>, ours[family_path=ar1]"
        console.print(f"[bold red]error:[/] --models: {escape(str(exc))} (and {escape(known)})")
        raise typer.Exit(code=2) from None
    years = _origins(origins)
    if register is not None:
        from sources.sipri import build_dataset

        panel = out_dir / "dataset"
        build_dataset(register, panel)
    dataset = load_dataset(panel or settings.dataset_path())
    result = run_backtest(
        dataset,
        years,
        horizon,
        contenders,
        out_dir,
        first_year,
        samples,
        check_lookahead=tuple(n for n in names if not n.startswith("ours") and n not in stacks),
        workers=workers,
        cluster=cluster,
        cache_dir=None if no_cache else (cache or out_dir / "cache"),
        parts_from=parts_from or (),
    )
    table = score_table(result)
    for level in ("cell", "family_year", "partner_year", "partner_family_horizon"):
        out.print(f"\n{level} (pooled over origins {years[0]}..{years[-1]}, horizon {horizon})")
        out.print(table[level][["crps", "log_score", "wis", "coverage_80", "coverage_95", "brier"]].round(4))
    best = best_baseline_table(result)
    if not best.empty:
        out.print("\nbest baseline per level and score; skill = 1 - score / best baseline's (>0: better)")
        out.print(escape(best.round(4).to_string()))  # a stack's name is in brackets: not markup
    _print_stacks(result)
    borrowed = len(result.get("read_from_other_caches", {}))
    out.print(
        f"\nwall time {result['wall_seconds']:.1f} s "
        f"({result['fits']} fits run, {result['cached']} read from the cache"
        + (f", {borrowed} from other caches" if borrowed else "")
        + ")"
    )
    failed = {k: v for k, v in result["gates"].items() if v not in ("passed", "n/a")}
    if failed:
        console.print(f"[bold yellow]fits that failed their gates (scored, labelled):[/] {failed}")


def _print_stacks(result: dict) -> None:
    """Each stack's weights per origin, and its pooled scores beside its parts'."""
    import pandas as pd

    for name, weights in result.get("stacking_weights", {}).items():
        objective = result["stacking"][name]["objective"]
        out.print(escape(f"\n{name}: weights per origin (learned on earlier origins' {objective})"))
        out.print(escape(pd.DataFrame(weights).T.round(3).to_string()))
        rows = [
            {"level": r["level"], "metric": r["metric"], "stacked": r["stacked"], **r["parts"]}
            | {"beats every part": r["beats_every_part"]}
            for r in result["stacking"][name]["versus_parts"]
        ]
        if rows:
            out.print(escape(f"{name} against its parts (pooled; lower is better)"))
            out.print(escape(pd.DataFrame(rows).set_index(["level", "metric"]).round(4).to_string()))


@app.command("backtest-systems")
@user_errors
def backtest_systems(
    out_file: Annotated[Path, typer.Option("--out", help="JSON file for the scores.")],
    panel: Annotated[Path | None, typer.Option("--panel", help="Dataset (default: embedded).")] = None,
    origins: Annotated[str, typer.Option(help="Forecast origins, e.g. 2010..2018.")] = "2010..2018",
    horizon: Annotated[int, typer.Option(min=1, max=10, help="Years ahead scored.")] = 3,
    first_year: int = 1990,
    draws: Annotated[int, typer.Option(min=50, help="Share model: draws per chain.")] = 500,
    tune: Annotated[int, typer.Option(min=50, help="Share model: tuning steps per chain.")] = 400,
    seed: int = 0,
) -> None:
    """Backtest the split over named systems: the share model against each family's historical shares
    (per request: Brier and log score; per family, year and system: CRPS of the count)."""
    import json

    from evidence.loaders import default_dataset_path, load_dataset
    from validation.system_backtest import system_backtest

    years = _origins(origins)
    result = system_backtest(
        load_dataset(panel or default_dataset_path()),
        years,
        horizon,
        first_year,
        {"draws": draws, "tune": tune},
        seed=seed,
    )
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result, indent=2))
    out.print(f"pooled over origins {years[0]}..{years[-1]}, horizon {horizon} (lower is better)")
    for name, row in result["pooled"].items():
        out.print(
            f"  {name:15s} Brier {row['brier']:.4f}  log score {row['log_score']:.4f}  "
            f"CRPS {row['crps']:.4f}  ({row['requests']} requests, {row['targets']} targets)"
        )
    for base, row in result["skill"].items():
        out.print(f"  skill vs {base}: " + ", ".join(f"{k} {v:+.3f}" for k, v in row.items()))


def _service_settings():  # -> service.config.Settings
    from service.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        _fail(str(exc))


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def _services(config, model_path: Path | None = None):  # -> service.app.Services
    """The service's database migrated and seeded (and ``model_path`` registered and activated), or a
    message and exit code 2 naming the setting at fault."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.app import build_services

    try:
        return build_services(config, model_path)
    except SQLAlchemyError as exc:
        _fail(f"database {config.db_url}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    except OSError as exc:
        _fail(f"TOTALDEMAND_HOME={config.home}: {exc}")
    except RuntimeError as exc:  # a model that failed its gates
        _fail(str(exc))


def _check_listen(host: str, port: int) -> None:
    """Fail now, with a message, where uvicorn would fail later with a traceback."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        _fail(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})")


@app.command()
@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    model_path: Annotated[
        Path | None, typer.Option("--model", help="Register this posterior file and serve it.")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Uvicorn worker processes; each loads the active model's draws.")
    ] = 1,
) -> None:
    """Serve the HTTP API (Litestar under uvicorn) on the database in $TOTALDEMAND_HOME.

    Settings come from TOTALDEMAND_* environment variables and the file in $TOTALDEMAND_CONFIG
    (docs/cli.md). SIGTERM or Ctrl-C shuts down gracefully: requests in flight finish, fit workers stop
    and their jobs are marked failed. Bad arguments or settings (a model file that is not a posterior,
    a database that cannot be opened, a port in use) end with a message and exit code 2."""
    import uvicorn

    from bayes.model import DemandModel

    config = _service_settings()
    if model_path is not None:
        status = DemandModel.load(model_path).status  # every draw readable, before any worker starts
        if status != "ok":
            _fail(f"{model_path} has status {status!r}; a failed fit is never served")
    _check_listen(host, port)
    _services(config, model_path).engine.dispose()  # migrated, seeded, the model registered and active
    from service.logs import log_config

    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(config.log_format, config.log_level.upper()),
        access_log=config.access_log,
        timeout_graceful_shutdown=30,
    )


keys_app = typer.Typer(help="API keys (operators, on the server's machine).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
@user_errors
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help="reader, analyst or admin.")] = "reader",
    partner: Annotated[list[str] | None, typer.Option(help="Limit the key to this partner; repeat.")] = None,
) -> None:
    """Create a key and print its token (shown once; only its hash is stored)."""
    from service.auth import create_key
    from service.registry import RegistryError

    services = _services(_service_settings())
    try:
        issued = create_key(services.engine, name, role, partner)
    except RegistryError as exc:
        _fail(str(exc))
    out.print(issued.token, highlight=False)


@keys_app.command("list")
def keys_list() -> None:
    from service.auth import list_keys

    for key in list_keys(_services(_service_settings()).engine):
        out.print(json.dumps(key), highlight=False, soft_wrap=True)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    from service.auth import revoke_key
    from service.registry import RegistryError

    try:
        revoke_key(_services(_service_settings()).engine, key_id)
    except RegistryError as exc:
        _fail(str(exc))


def default_model_report(data: Path, path: Path, log_level: int) -> list[str]:
    """The default model at ``path`` made current (fitted where none valid is stored), and its
    diagnostics' lines; run in a child process by :func:`up`."""
    from bayes.fitting import ensure_default_model

    _configure_logging(log_level)
    return ensure_default_model(data, path).diagnostics.lines()


@app.command()
@user_errors
def up(host: str = "127.0.0.1", port: int = 8000) -> None:
    """The embedded default end to end: database seeded, the default model fitted if no valid one is
    stored, an admin key on first start (printed once), then serve."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from service import registry
    from service.auth import create_key, has_keys

    config = _service_settings()
    _check_listen(host, port)
    services = _services(config)
    # The fit runs in a child process: its memory (several GB on the real panel) goes back to the system
    # when it ends, rather than staying in the server's heap for as long as it serves.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            level = logging.getLogger().level
            report = pool.submit(default_model_report, config.seed_dataset(), settings.model_path(), level)
            lines = report.result()
        except RuntimeError as exc:  # the default fit failed its gates: say so, serve nothing
            console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(code=1) from None
    record = registry.register_file(services.engine, settings.model_path())
    if registry.active_id(services.engine) is None:
        registry.activate(services.engine, record.id)
    for line in lines:
        out.print(line)
    token = None
    if not has_keys(services.engine):
        token = create_key(services.engine, "admin (created by `totaldemand up`)", "admin").token
    out.print(
        f"\nServing on http://{host}:{port}  (planner page: http://{host}:{port}/planner;"
        f" OpenAPI: http://{host}:{port}/schema).",
        highlight=False,
    )
    if token:
        out.print(
            f"\nAdmin API key (shown once; create more with POST /v1/keys or `totaldemand keys create`):\n"
            f"  {token}\n",
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        "Try:\n"
        f"  curl -s -X POST http://{host}:{port}/v1/forecasts -H 'content-type: application/json' \\\n"
        "       -H 'authorization: Bearer <key>' \\\n"
        '       -d \'{"horizon": 2, "levels": [0.8], "partners": ["japan"], "families": ["sam"]}\'\n',
        soft_wrap=True,
        highlight=False,
    )
    serve(host=host, port=port, model_path=None, workers=1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

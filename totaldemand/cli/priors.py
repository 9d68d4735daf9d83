"""`totaldemand priors ...`: inspect prior files and check them against simulated data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from totaldemand.cli.common import DataOpt, out, user_errors
from totaldemand.settings import load_settings

priors_app = typer.Typer(help="Inspect prior files.", no_args_is_help=True)


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
    panel = build_panel(load_dataset(data or load_settings().seed_dataset()), first_year=first_year)
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

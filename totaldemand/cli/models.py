"""`totaldemand simulate`, `fit`, `compare` and `sbc`: fitting the model and checking it."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from totaldemand.cli.common import DataOpt, console, log, out, user_errors
from totaldemand.errors import UserError
from totaldemand.settings import load_settings

commands = typer.Typer()  # merged into the top-level app (totaldemand.cli)


@commands.command()
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
        raise UserError("need >= 2 partners, >= 2 families and >= 5 years")
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


@commands.command()
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
    demand_basis: Annotated[
        str,
        typer.Option(
            help="us: fit U.S. requests; every_supplier: fit every supplier's orders and thin the forecasts"
            " to U.S. demand by the U.S. share model fitted beside it."
        ),
    ] = "us",
) -> None:
    """Fit the hierarchical NB model and write its posterior as NetCDF (opens in ArviZ)."""
    from bayes.fitting import fit_dataset

    model = fit_dataset(
        data or load_settings().seed_dataset(),
        model_path or load_settings().model_path,
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
            "demand_basis": demand_basis,
        },
    )
    for line in model.diagnostics.lines():
        out.print(line)
    if model.status != "ok":
        console.print("[bold red]the fit failed its gates: it is stored as failed and will not be served[/]")
        raise typer.Exit(code=1)


@commands.command()
@user_errors
def compare(
    models: Annotated[list[Path], typer.Argument(help="Posterior files fitted to the same panel.")],
) -> None:
    """Compare fitted models by PSIS-LOO (pointwise log-likelihood per partner-year): elpd, SE, weights."""
    import arviz as az

    from bayes.model import analysis_path, open_posterior

    if len(models) < 2:
        raise UserError("give at least two posterior files to compare")
    trees, hashes = {}, set()
    for path in models:
        # the pointwise log-likelihood is in the analysis file, beside the model file
        tree = open_posterior(analysis_path(path) if analysis_path(path).is_file() else path)
        hashes.add(tree.attrs.get("data_hash"))
        trees[path.stem] = tree
    if len(hashes) > 1:
        raise UserError("the models were fitted to different data (data_hash differs)")
    out.print(az.compare(trees).to_string())


class SBCModel(StrEnum):
    demand = "demand"
    us_share = "us_share"
    channel = "channel"


@commands.command()
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
        raise UserError("need --replicates >= 5 and --draws >= 20")
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

"""`totaldemand backtest` and `backtest-systems`: rolling-origin backtests against baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from totaldemand.cli.common import console, out, user_errors
from totaldemand.errors import UserError
from totaldemand.settings import load_settings

commands = typer.Typer()  # merged into the top-level app (totaldemand.cli)


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


@commands.command()
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
        raise UserError("give --panel or --register, not both")
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
        raise UserError(f"--models: {exc} (and {known})") from None
    years = _origins(origins)
    if register is not None:
        from sources.sipri import build_dataset

        panel = out_dir / "dataset"
        build_dataset(register, panel)
    dataset = load_dataset(panel or load_settings().seed_dataset())
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


@commands.command("backtest-systems")
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

"""`totaldemand forecast`, `ask`, `line-risk` and `block-buy`: answers from a stored posterior."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from totaldemand.cli.common import out, posterior_file, user_errors

commands = typer.Typer()  # merged into the top-level app (totaldemand.cli)


@commands.command()
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

    path = posterior_file(model_path)
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


@commands.command("ask")
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

    path = posterior_file(model_path)
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


@commands.command("line-risk")
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

    path = posterior_file(model_path)
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


@commands.command("block-buy")
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

    path = posterior_file(model_path)
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

"""Per-origin ablation table from one or more backtest runs' ``scores.nc``: what each variant of the
model adds over a reference fit, origin by origin, beside the best baseline at each origin.

    python -m validation.ablation bt_waves bt_full --variants 'ours[waves=on]' \\
        --baselines tsb,lightgbm,autoets --level family_year --metric crps

Runs are read in the order given; a (model, origin) scored in several runs is taken from the first.
Prints a Markdown table: one row per origin where the reference was scored, one column per variant
(its score and its change against the reference, negative = better for these lower-is-better
scores), the reference, and the best of the baselines at that origin. The last row is the unweighted
mean over the origins every shown model was scored at; for runs that scored every origin, the
backtest's own pooled figure (origin ``all``, weighted by targets) is printed beneath it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import xarray as xr

from totaldemand.errors import UserError
from validation.stacking import split_top_level


class AblationError(UserError):
    """A run without scores, or a model, level or metric it did not score."""


def read_scores(runs: list[Path], level: str, metric: str) -> dict[tuple[str, str], float]:
    """{(model, origin): score} at one level and metric, first run wins."""
    out: dict[tuple[str, str], float] = {}
    for run in runs:
        path = run / "scores.nc" if run.is_dir() else run
        if not path.exists():
            raise AblationError(f"{path}: no scores.nc (is {run} a backtest's output directory?)")
        with xr.open_dataset(path) as ds:
            if level not in ds.level.values or metric not in ds.metric.values:
                raise AblationError(f"{path}: no level {level!r} or metric {metric!r}")
            table = ds.score.sel(level=level, metric=metric).load()
        for (model, origin), value in table.to_series().dropna().items():
            out.setdefault((str(model), str(origin)), float(value))
    return out


def _fmt(scores: dict[tuple[str, str], float], model: str, origin: str, reference: str) -> str:
    """A score, and beside a variant's its change against the reference at the same origin."""
    value, ref = scores.get((model, origin)), scores.get((reference, origin))
    if value is None:
        return "-"
    if model == reference or ref is None:
        return f"{value:#.4g}"
    return f"{value:#.4g} ({(value / ref - 1) * 100:+.1f}%)"


def _best(scores: dict[tuple[str, str], float], baselines: list[str], origin: str) -> str:
    found = [(scores[(b, origin)], b) for b in baselines if (b, origin) in scores]
    return f"{min(found)[0]:#.4g} ({min(found)[1]})" if found else "-"


def table(
    scores: dict[tuple[str, str], float], reference: str, variants: list[str], baselines: list[str]
) -> list[str]:
    """Markdown lines: one row per origin the reference was scored at, then the summary rows."""
    origins = sorted({o for (m, o) in scores if m == reference and o != "all"})
    if not origins:
        raise AblationError(f"reference {reference!r} was not scored in these runs")
    missing = [m for m in (*variants, *baselines) if not any(k[0] == m for k in scores)]
    if missing:
        raise AblationError(f"not scored in these runs: {missing}; scored: {sorted({m for m, _ in scores})}")

    def row(label: str, at: str, source: dict[tuple[str, str], float]) -> str:
        cells = [label, *(_fmt(source, m, at, reference) for m in (*variants, reference))]
        return "| " + " | ".join([*cells, _best(source, baselines, at)]) + " |"

    head = ["origin", *variants, reference, "best baseline"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [row(origin, origin, scores) for origin in origins]
    shown = [reference, *variants, *baselines]
    common = [o for o in origins if all((m, o) in scores for m in shown)]
    if common:
        means = {(m, "mean"): sum(scores[(m, o)] for o in common) / len(common) for m in shown}
        lines.append(row(f"mean of {len(common)} origins", "mean", {**scores, **means}))
    if len(common) == len(origins) and all((m, "all") in scores for m in shown):
        lines.append(row("pooled (backtest)", "all", scores))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="backtest --out directories (or scores.nc files)")
    parser.add_argument("--reference", default="ours")
    parser.add_argument("--variants", default="", help="comma-separated contender names")
    parser.add_argument("--baselines", default="tsb,lightgbm,autoets")
    parser.add_argument("--level", default="family_year")
    parser.add_argument("--metric", default="crps")
    args = parser.parse_args(argv)
    try:
        scores = read_scores(args.runs, args.level, args.metric)
        lines = table(scores, args.reference, split_top_level(args.variants), split_top_level(args.baselines))
    except AblationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.level} {args.metric}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

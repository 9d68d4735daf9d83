"""``report.html``: the backtest in pictures -- coverage against nominal, PIT histograms, CRPS skill
against climatology by origin and family, and fan charts for the largest families and partners -- beside the
pooled score table and, per level and score, the best baseline and every other contender's skill against
it. Self-contained: the figures are embedded PNGs."""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evidence.writers import atomic_write_text
from validation.scores import COVERAGE_LEVELS

REFERENCE = "climatology"


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _coverage(rows: pd.DataFrame) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, level in zip(axes, ("cell", "family_year"), strict=True):
        for model, part in rows[(rows["level"] == level) & (rows["origin"] == "all")].groupby("model"):
            values = [
                part.loc[part["metric"] == f"coverage_{round(100 * lv)}", "value"].iloc[0]
                for lv in COVERAGE_LEVELS
            ]
            ax.plot(COVERAGE_LEVELS, values, marker="o", label=model)
        ax.plot([0.4, 1], [0.4, 1], color="grey", linestyle="--", linewidth=1)
        ax.set(title=f"coverage ({level})", xlabel="nominal", ylabel="empirical")
    axes[0].legend(fontsize=8)
    return _png(fig)


def _pit(histograms: dict[str, list[int]]) -> str:
    keys = sorted(k for k in histograms if k.endswith(("/cell", "/family_year")))
    cols = 2
    fig, axes = plt.subplots(
        max(1, (len(keys) + 1) // cols),
        cols,
        figsize=(10, 2.2 * max(1, (len(keys) + 1) // cols)),
        squeeze=False,
    )
    for ax, key in zip(axes.ravel(), keys, strict=False):
        counts = np.asarray(histograms[key], dtype=float)
        ax.bar(
            np.arange(len(counts)) / len(counts),
            counts / counts.sum() * len(counts),
            width=1 / len(counts),
            align="edge",
        )
        ax.axhline(1, color="grey", linestyle="--", linewidth=1)
        ax.set(title=f"randomized PIT: {key}", xlim=(0, 1))
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def _skill(rows: pd.DataFrame, forecasts: pd.DataFrame) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    crps = rows[(rows["metric"] == "crps") & (rows["origin"] != "all")]
    for level, ax in zip(("cell", "family_year"), axes, strict=True):
        part = crps[crps["level"] == level].pivot_table(index="origin", columns="model", values="value")
        if REFERENCE not in part:
            continue
        for model in part.columns.drop(REFERENCE):
            ax.plot(part.index.astype(int), 1 - part[model] / part[REFERENCE], marker="o", label=model)
        ax.axhline(0, color="grey", linewidth=1)
        ax.set(title=f"CRPS skill vs {REFERENCE} ({level})", xlabel="origin")
    axes[0].legend(fontsize=8)
    return _png(fig)


def _family_skill(family_crps: dict[str, dict[str, float]]) -> str:
    reference = family_crps.get(REFERENCE, {})
    families = sorted(reference, key=lambda f: -reference[f])[:20]  # the 20 with the most at stake
    models = [m for m in family_crps if m != REFERENCE]
    if not families or not models:  # nothing to compare against climatology
        return ""
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(len(models), 1)
    for k, model in enumerate(models):
        skill = [
            1 - family_crps[model].get(f, np.nan) / reference[f] if reference[f] > 0 else np.nan
            for f in families
        ]
        ax.bar(np.arange(len(families)) + k * width, skill, width=width, label=model)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xticks(np.arange(len(families)) + 0.4 - width / 2, families, rotation=60, ha="right", fontsize=8)
    ax.set(title=f"CRPS skill vs {REFERENCE} by family (family-year, pooled over origins)")
    ax.legend(fontsize=8)
    return _png(fig)


def _fans(forecasts: pd.DataFrame, level: str = "family_year", key: str = "family") -> str:
    """One-year-ahead fan charts of the four largest families (or partners) by observed LORs."""
    targets = forecasts[forecasts["level"] == level]
    largest = targets.groupby(key)["observed"].sum().nlargest(4).index
    first = targets[targets["year"] == targets["origin"] + 1]  # one year ahead
    models = [m for m in first["model"].unique()]
    fig, axes = plt.subplots(len(largest), 1, figsize=(10, 2.6 * max(1, len(largest))), squeeze=False)
    for ax, family in zip(axes[:, 0], largest, strict=False):
        part = first[first[key] == family]
        for model in models:
            m = part[part["model"] == model].sort_values("year")
            line = ax.plot(m["year"], m["q0.5"], label=model)[0]
            ax.fill_between(m["year"], m["q0.1"], m["q0.9"], alpha=0.15, color=line.get_color())
        observed = part.drop_duplicates("year").sort_values("year")
        ax.plot(observed["year"], observed["observed"], "k.", markersize=9, label="observed")
        ax.set(title=f"{family}: one year ahead, median and 80% interval", ylabel="LORs")
    axes[0, 0].legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return _png(fig)


def _calibrated_coverage(rows: pd.DataFrame, calibrated: dict[str, dict[str, dict[str, float]]]) -> str:
    """Empirical coverage beside the coverage each contender's intervals would reach were it
    calibrated: counts' intervals include their ends, so that is above nominal, and it, not the
    nominal level, is what empirical coverage should be held to."""
    if not calibrated:
        return ""
    pooled = rows[(rows["origin"] == "all") & rows["metric"].str.startswith("coverage_")]
    records = []
    for model, levels in calibrated.items():
        for level, own in levels.items():
            empirical = pooled[(pooled["model"] == model) & (pooled["level"] == level)]
            record = {"level": level, "model": model}
            for metric, value in own.items():
                observed = empirical.loc[empirical["metric"] == metric, "value"]
                record[f"{metric} empirical"] = float(observed.iloc[0]) if len(observed) else np.nan
                record[f"{metric} if calibrated"] = value
            records.append(record)
    return pd.DataFrame(records).set_index(["level", "model"]).sort_index().round(3).to_html()


def _best_baselines(result: dict) -> str:
    """The best baseline per level and score, and each other contender's skill against it."""
    from validation.backtest import best_baseline_table

    table = best_baseline_table(result)
    return table.round(4).to_html() if not table.empty else ""


def _stacking(result: dict) -> str:
    """Per stack, its weights per origin (learned leave-future-out) and its pooled scores beside its
    parts': a stack is worth keeping only where it beats every one of them."""
    sections = []
    for name, weights in result.get("stacking_weights", {}).items():
        about = result.get("stacking", {}).get(name, {})
        table = pd.DataFrame(weights).T.rename_axis("origin")
        table["targets"] = pd.Series(about.get("targets", {})).reindex(table.index)
        rows = [
            {"level": r["level"], "metric": r["metric"], "stacked": r["stacked"], **r["parts"]}
            | {"beats every part": r["beats_every_part"]}
            for r in about.get("versus_parts", [])
        ]
        versus = pd.DataFrame(rows).set_index(["level", "metric"]).round(4).to_html() if rows else ""
        sections.append(
            f"<h3>{html.escape(name)}: weights per origin (objective: "
            f"{html.escape(str(about.get('objective', '')))}; targets: how many it was learned on)</h3>"
            f"{table.round(3).to_html()}<h3>{html.escape(name)} against its parts, pooled</h3>{versus}"
        )
    return "<h2>Stacking</h2>" + "".join(sections) if sections else ""


def write_report(result: dict, forecasts: pd.DataFrame, path) -> None:
    rows = pd.DataFrame(result["rows"]).assign(origin=lambda d: d["origin"].astype(str))
    pooled = rows[rows["origin"] == "all"].pivot_table(
        index=["level", "model"], columns="metric", values="value"
    )
    figures = {
        "Coverage against nominal": _coverage(rows),
        "Randomized PIT (uniform when calibrated)": _pit(result.get("pit_histograms", {})),
        f"Skill: 1 - CRPS / CRPS({REFERENCE}) per origin": _skill(rows, forecasts),
        "Skill by family": _family_skill(result.get("family_crps", {})),
        "Fan charts, largest families": _fans(forecasts),
        "Fan charts, largest partners": _fans(forecasts, "partner_year", "partner"),
    }
    gates = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in result["gates"].items())
    figures = {k: v for k, v in figures.items() if v}
    body = "".join(
        f"<h2>{html.escape(t)}</h2><img src='data:image/png;base64,{img}'>" for t, img in figures.items()
    )
    page = (
        "<!doctype html><meta charset='utf-8'><title>totaldemand backtest</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}</style>"
        f"<h1>Backtest: origins {result['origins'][0]}..{result['origins'][-1]}, "
        f"horizon {result['horizon']}</h1>"
        f"<h2>Scores pooled over origins (lower is better; coverage: nominal)</h2>{pooled.round(4).to_html()}"
        "<h2>Best baseline per level and score, and skill against it (1 - score / best baseline's)</h2>"
        f"{_best_baselines(result)}"
        "<h2>Coverage: empirical and what calibrated intervals of these counts would cover</h2>"
        f"{_calibrated_coverage(rows, result.get('coverage_if_calibrated', {}))}"
        f"{_stacking(result)}"
        f"<h2>Fits and their gates</h2><ul>{gates}</ul>{body}"
    )
    atomic_write_text(path, page)

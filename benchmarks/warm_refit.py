"""Refit after new LORs arrive: warm start from the stored fit against a cold refit, in one run.

Usage: python benchmarks/warm_refit.py [--data DIR] [--first-year 1990] [--quick] [--json]

The base fit sees the data as of the year before the last; the refit sees one more year of LORs
and evidence. Both refits sample the same number of draws with the same gates; the cold one tunes
``--tune`` steps from scratch, the warm one starts from the base fit's last positions, step size and
mass matrix and tunes the step size for ``--warm-tune`` steps. Printed per refit: wall time, min
bulk ESS, min ESS per second, divergences and the gates, and the warm/cold ratios.
``--quick`` runs on a small simulated world (seconds to minutes) instead of the embedded SIPRI data.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bayes.model import DemandModel, default_model_config, default_sampler_config
from bayes.panel import build_panel
from evidence.loaders import default_dataset_path, load_dataset


def refit(panel, warm, sampler: dict, model_config: dict) -> dict:
    model = DemandModel(model_config, sampler)
    start = time.perf_counter()
    model.fit(panel, progressbar=False, warm_start=warm)
    wall = time.perf_counter() - start
    diag = model.diagnostics
    return {
        "wall_s": round(wall, 1),
        "sampling_s": model.idata.attrs["sampling_seconds"],
        "min_ess_bulk": round(diag.ess_bulk_min, 1),
        "min_ess_per_s": round(diag.ess_bulk_min / wall, 3),
        "divergences": diag.divergences,
        "mean_steps_per_draw": float(model.idata["sample_stats"]["n_steps"].mean()),
        "gates": "passed" if diag.passed else "; ".join(diag.failures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--first-year", type=int, default=1990)
    defaults = default_sampler_config()
    parser.add_argument("--draws", type=int, default=defaults["draws"])
    parser.add_argument("--tune", type=int, default=defaults["tune"], help="cold warm-up steps")
    parser.add_argument("--warm-tune", type=int, default=defaults["warm_tune"])
    parser.add_argument("--quick", action="store_true", help="a small simulated world instead")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model_config = default_model_config()
    if args.quick:
        from bayes.simulate import WorldSpec, write_world

        data = Path(tempfile.mkdtemp()) / "world"
        write_world(data, WorldSpec(), seed=11)
        first_year = 2000
    else:
        data, first_year = args.data or default_dataset_path(), args.first_year
    dataset = load_dataset(data)
    full = build_panel(dataset, first_year=first_year)
    last = int(full["year"].max())
    base_panel = build_panel(dataset.restrict_to(last - 1), first_year=first_year)
    sampler = {"draws": args.draws, "tune": args.tune, "warm_tune": args.warm_tune}
    print(f"base fit: data as of {last - 1}; refits: as of {last}")
    base = DemandModel(model_config, sampler)
    base.fit(base_panel, progressbar=False)
    warm_state = base.sampler_state
    print(f"base fit gates: {'passed' if base.diagnostics.passed else base.diagnostics.failures}")
    cold = refit(full, None, sampler, model_config)
    warm = refit(full, warm_state, sampler, model_config)
    result = {
        "data": str(data),
        "cells": int(full["lor_count"].size),
        "cold": cold,
        "warm": warm,
        "wall_ratio_cold_over_warm": round(cold["wall_s"] / warm["wall_s"], 2),
        "ess_per_s_ratio_warm_over_cold": round(warm["min_ess_per_s"] / cold["min_ess_per_s"], 2),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name in ("cold", "warm"):
        r = result[name]
        print(
            f"{name:5s} wall {r['wall_s']:7.1f}s  sampling {r['sampling_s']:7.1f}s"
            f"  min ESS {r['min_ess_bulk']:7.1f}"
            f"  ESS/s {r['min_ess_per_s']:7.3f}  steps/draw {r['mean_steps_per_draw']:6.1f}"
            f"  divergences {r['divergences']}  gates {r['gates']}"
        )
    print(
        f"warm refit: {result['wall_ratio_cold_over_warm']}x faster wall, "
        f"{result['ess_per_s_ratio_warm_over_cold']}x the cold refit's min ESS/s"
    )


if __name__ == "__main__":
    main()

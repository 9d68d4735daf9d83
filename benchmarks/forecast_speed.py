"""How fast the forecaster answers, against a straightforward reference, in one run.

Usage: python benchmarks/forecast_speed.py [--model PATH] [--draws 4000] [--repeats N]

Ours: the compiled Forecaster (counts and units drawn once per model and sorted per cell at
start-up, so a request reads quantiles by position) answering the full request: every partner ×
family × 5 years, levels 50/80/95%, with family and year totals, total demand and line risk.
Reference: the same draws summarised the obvious way (``np.quantile`` per request) for the cells
and family totals alone. Figures: milliseconds per request (median of repeats, after a warm-up),
the reference/ours ratio, the build time and the forecaster's memory.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from bayes.forecast import Forecaster, _quantile_pairs
from bayes.model import DemandModel
from totaldemand.settings import load_settings


def reference(forecaster: Forecaster, horizon: int, levels: tuple[float, ...]) -> dict[str, np.ndarray]:
    sub = forecaster.cube[:, :, :horizon].astype(np.int64)
    qs = np.concatenate([[0.5], _quantile_pairs(levels).ravel()])
    fam = sub.sum(axis=0)
    return {
        "cell_q": np.quantile(sub, qs, axis=-1, method="inverted_cdf"),
        "cell_mean": sub.mean(axis=-1),
        "fam_q": np.quantile(fam, qs, axis=-1, method="inverted_cdf"),
    }


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=load_settings().model_path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--draws", type=int, default=4000)
    args = parser.parse_args()
    model = DemandModel.load(args.model)
    start = time.perf_counter()
    forecaster = Forecaster(model, max_draws=args.draws, max_horizon=5)
    build_s = time.perf_counter() - start
    levels = (0.5, 0.8, 0.95)
    ours = timed(lambda: forecaster.forecast(horizon=5, levels=levels), args.repeats)
    ref = timed(lambda: reference(forecaster, 5, levels), args.repeats)
    # Same answers: the reference's cell medians equal ours.
    fc = forecaster.forecast(horizon=5, levels=levels)
    assert np.array_equal(reference(forecaster, 5, levels)["cell_q"][0], fc.cells["median"].values)
    cells = fc.cells["mean"].size
    print(f"model: {args.model}  draws used: {forecaster.cube.shape[-1]}  cells per request: {cells}")
    cubes = forecaster.cube.nbytes * 2 + forecaster.units.nbytes * 2
    print(
        f"forecaster build (draw, sort once): {build_s * 1000:.0f} ms; "
        f"count and unit cubes {cubes / 1e6:.0f} MB"
    )
    print(f"ours      median {statistics.median(ours):8.1f} ms/request")
    print(f"reference median {statistics.median(ref):8.1f} ms/request")
    print(f"speed-up  {statistics.median(ref) / statistics.median(ours):.1f}x")


if __name__ == "__main__":
    main()

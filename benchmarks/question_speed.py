"""In-process latency of the planner's answers on a fitted model: questions (family and named system),
system forecasts and line risks, against a plain family forecast measured in the same run.

Usage: python benchmarks/question_speed.py [--model var/models/default.nc] [--repeat 50]

Prints the median and p99 per call in milliseconds, and each as a ratio to the reference (a forecast of
one partner and one family, three years ahead). The first call on a family splits its draws over its
systems (cached after), so it is timed apart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import numpy as np

from bayes.fitting import load_forecaster
from bayes.model import DemandModel


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - started))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="var/models/default.nc")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--system", default="himars")
    parser.add_argument("--line", default="patriot_mse")
    args = parser.parse_args()
    f = load_forecaster(DemandModel.load(args.model), max_horizon=5)
    family = f.family_of_system(args.system)
    partner = str(f.partners[0])
    start = date(int(f.years[0]), 1, 1)
    started = time.perf_counter()
    f.split(family)
    first_split = 1000 * (time.perf_counter() - started)
    cases = {
        "reference: forecast, 1 partner x 1 family": lambda: f.forecast(
            3, partners=[partner], families=[family]
        ),
        "question, family, 1 partner": lambda: f.question(family, 24, 18, start, [partner]),
        "question, system, 1 partner": lambda: f.question(None, 24, 18, start, [partner], system=args.system),
        "question, system, all partners": lambda: f.question(None, 24, 18, start, None, system=args.system),
        "system forecast, all partners": lambda: f.system_forecast(family, 5),
        f"line risk {args.line}, all partners": lambda: f.line_risk(args.line),
    }
    times = {name: _timed(fn, args.repeat) for name, fn in cases.items()}
    reference = statistics.median(next(iter(times.values())))
    print(f"first split of {family} over its systems: {first_split:.0f} ms (once per family, then cached)")
    for name, values in times.items():
        median, p99 = statistics.median(values), float(np.percentile(values, 99))
        print(
            f"{name:45s} median {median:7.2f} ms  p99 {p99:7.2f} ms  ({median / reference:5.1f}x reference)"
        )


if __name__ == "__main__":
    main()

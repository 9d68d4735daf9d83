"""In-process latency of the planner's answers on a fitted model: questions (family and named system),
system forecasts, line risks, system block buys and what-if scenarios, against a plain family forecast
measured in the same run.

Usage: python benchmarks/question_speed.py [--model var/models/default.nc] [--repeat 50]
       [--system himars] [--line patriot_mse] [--partner poland] [--leaving ID]

Prints the median and p99 per call in milliseconds, and each as a ratio to the reference (a forecast of
one partner and one family, three years ahead). The first call on a family splits its draws over its
systems (cached after), so it is timed apart.

The what-ifs (bayes.scenario): on the line, a 30% cut in the domestic plan from the second forecast year
and a hypothetical firm request of 100 of the line's first system in the first forecast year (from
``--partner``, default poland, else the first partner); on the block buy of ``--system`` (all partners,
at least 24 units), the same partner's hypothetical firm request of 100 in the first forecast year and
``--leaving`` (default the first other partner) leaving the buy.
``POST /v1/scenarios`` answers the baseline and the scenario, so each is also timed as the two calls
together ("baseline + what-if").
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import numpy as np

from bayes.fitting import load_forecaster
from bayes.model import DemandModel
from bayes.scenario import HypotheticalLor, Scenario


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
    parser.add_argument("--partner", default="poland", help="the hypothetical requests' partner")
    parser.add_argument("--leaving", help="the partner leaving the buy (default: the first other partner)")
    args = parser.parse_args()
    f = load_forecaster(DemandModel.load(args.model), max_horizon=5)
    family = f.family_of_system(args.system)
    partner = str(f.partners[0])
    buyer = args.partner if args.partner in set(map(str, f.partners)) else partner
    leaver = args.leaving or next(str(p) for p in f.partners if str(p) != buyer)
    start = date(int(f.years[0]), 1, 1)
    first, second = int(f.years[0]), int(f.years[1])
    line_system = f.line_systems(args.line)[0][0]
    line_what_if = Scenario(
        plan_scale=0.7,
        plan_from=second,
        lors=(HypotheticalLor(buyer, line_system, first, 100, "firm"),),
    )
    buy_what_if = Scenario(lors=(HypotheticalLor(buyer, args.system, first, 100, "firm"),), leaving=(leaver,))

    def risk(scenario: Scenario | None):
        return f.line_risk(args.line, scenario=scenario)

    def buy(scenario: Scenario | None):
        return f.system_block_buy([args.system], at_least=24, scenario=scenario)

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
        f"block buy {args.system}, all partners, >= 24": lambda: buy(None),
        "scenario on the line (what-if only)": lambda: risk(line_what_if),
        "scenario on the line (baseline + what-if)": lambda: (risk(None), risk(line_what_if)),
        "scenario on the buy (what-if only)": lambda: buy(buy_what_if),
        "scenario on the buy (baseline + what-if)": lambda: (buy(None), buy(buy_what_if)),
    }
    times = {name: _timed(fn, args.repeat) for name, fn in cases.items()}
    reference = statistics.median(next(iter(times.values())))
    print(f"first split of {family} over its systems: {first_split:.0f} ms (once per family, then cached)")
    print(f"what-if on the line: {'; '.join(line_what_if.describe())}")
    print(f"what-if on the buy: {'; '.join(buy_what_if.describe())}")
    for name, values in times.items():
        median, p99 = statistics.median(values), float(np.percentile(values, 99))
        print(
            f"{name:45s} median {median:7.2f} ms  p99 {p99:7.2f} ms  ({median / reference:5.1f}x reference)"
        )


if __name__ == "__main__":
    main()

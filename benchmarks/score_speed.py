"""How fast a backtest scores one prediction, against the straightforward way, in one run.

Usage: python benchmarks/score_speed.py [--partners 172] [--families 44] [--horizon 3]
       [--samples 1000] [--repeats 3]

Ours: :func:`validation.scores.score` at cell level (partner x family x year targets), with the
forecasts.csv quantiles: the draws sorted once, scoringrules' CRPS on the sorted ensemble, every
quantile read off that sort. Reference: the same scores the obvious way, scoringrules' CRPS on
the unsorted draws and ``np.quantile`` once per interval and for the forecasts.csv quantiles,
checked equal to ours. Draws: NB counts as sparse as the real panel's (about 2% of cells non-zero).
Figures: seconds per scoring (median of repeats) and the reference/ours ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scoringrules as sr

from validation.backtest import QUANTILES
from validation.scores import COVERAGE_LEVELS, WIS_LEVELS, score


def reference(observed: np.ndarray, draws: np.ndarray) -> dict[str, np.ndarray]:
    draws = draws.astype(float)

    def quantile(q):
        return np.quantile(draws, q, axis=-1, method="inverted_cdf")

    alphas = np.array([1 - lv for lv in WIS_LEVELS])
    lower = np.moveaxis(quantile(alphas / 2), 0, -1)
    upper = np.moveaxis(quantile(1 - alphas / 2), 0, -1)
    covered = {}
    for level in COVERAGE_LEVELS:
        lo, hi = quantile(np.array([(1 - level) / 2, 1 - (1 - level) / 2]))
        covered[level] = (observed >= lo) & (observed <= hi)
    return {
        "crps": np.asarray(sr.crps_ensemble(observed, draws, m_axis=-1)),
        "wis": np.asarray(sr.weighted_interval_score(observed, quantile(0.5), lower, upper, alphas)),
        "covered": covered,
        "quantiles": quantile(np.array(QUANTILES)),
    }


def timed(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return statistics.median(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=172)
    parser.add_argument("--families", type=int, default=44)
    parser.add_argument("--horizon", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    targets = args.partners * args.families * args.horizon
    rate = rng.gamma(0.2, 0.1, size=targets)
    observed = rng.poisson(rate).astype(float)
    draws = rng.negative_binomial(2.0, 2.0 / (2.0 + rate[:, None]), size=(targets, args.samples))
    draws = draws.astype(np.int32)  # as the backtest hands them over

    ours = score(observed, draws, 0, QUANTILES)
    ref = reference(observed, draws)
    np.testing.assert_allclose(ours.crps, ref["crps"], rtol=1e-10)
    np.testing.assert_allclose(ours.wis, ref["wis"], rtol=1e-10)
    for level in COVERAGE_LEVELS:
        np.testing.assert_array_equal(ours.covered[level], ref["covered"][level])
    for q, values in zip(QUANTILES, ref["quantiles"], strict=True):
        np.testing.assert_array_equal(ours.quantiles[q], values)

    t_ours = timed(lambda: score(observed, draws, 0, QUANTILES), args.repeats)
    t_ref = timed(lambda: reference(observed, draws), args.repeats)
    print(f"targets {targets} x {args.samples} draws ({(observed > 0).mean():.1%} observed non-zero)")
    print(f"ours      {t_ours:.3f} s per scoring (CRPS, log score, WIS, coverage, Brier, PIT, quantiles)")
    print(f"reference {t_ref:.3f} s (CRPS, WIS, coverage and quantiles only)")
    print(f"ratio     {t_ref / t_ours:.1f}x")


if __name__ == "__main__":
    main()

"""Parameter recovery: fit a simulated world with known truth and find the truth in the posterior."""

from __future__ import annotations

import numpy as np
import pytest

from bayes.model import PRIOR_NAMES

# Every hyper-parameter the simulator sets; the dispersion is recovered on its natural scale.
HYPER = (*(n for n in PRIOR_NAMES if n != "inv_sqrt_dispersion"), "dispersion")


def eti(values: np.ndarray, mass: float = 0.94) -> tuple[float, float]:
    lo, hi = np.quantile(values, [(1 - mass) / 2, 1 - (1 - mass) / 2])
    return float(lo), float(hi)


def test_sampler_converged(fitted) -> None:
    diag = fitted.diagnostics
    assert diag.r_hat_max <= 1.01, diag.lines()
    assert diag.divergences == 0, diag.lines()
    assert diag.chains == 4


@pytest.mark.parametrize("name", HYPER)
def test_hyperparameters_inside_94_percent_intervals(fitted, sim_truth, name: str) -> None:
    draws = fitted.idata["posterior"][name].values.ravel()
    lo, hi = eti(draws)
    assert lo <= sim_truth["params"][name] <= hi, (
        f"{name}: truth {sim_truth['params'][name]} not in [{lo}, {hi}]"
    )


@pytest.mark.parametrize(
    ("name", "dim"), [("partner_effect", "partner"), ("family_effect", "family"), ("family_trend", "family")]
)
def test_effects_are_recovered(fitted, sim_truth, name: str, dim: str) -> None:
    post = fitted.idata["posterior"][name]
    ids = [str(v) for v in post[dim].values]
    truth = np.array([sim_truth[name][i] for i in ids])
    samples = post.stack(s=("chain", "draw")).transpose("s", dim).values
    lo, hi = np.quantile(samples, [0.03, 0.97], axis=0)
    coverage = np.mean((lo <= truth) & (truth <= hi))
    # 94% intervals over a handful of effects: allow sampling noise, not systematic misses.
    assert coverage >= 0.75, f"{name}: 94% intervals cover {coverage:.0%} of true effects"
    assert np.corrcoef(samples.mean(axis=0), truth)[0, 1] > 0.6


def test_partner_family_effects_track_truth(fitted, sim_truth) -> None:
    post = fitted.idata["posterior"]["partner_family_effect"]
    samples = post.stack(s=("chain", "draw")).transpose("s", "partner", "family").values
    truth = np.array(
        [
            [sim_truth["partner_family_effect"][f"{p}|{f}"] for f in post["family"].values]
            for p in post["partner"].values
        ]
    )
    lo, hi = np.quantile(samples, [0.03, 0.97], axis=0)
    assert np.mean((lo <= truth) & (truth <= hi)) >= 0.85

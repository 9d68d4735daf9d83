"""Simulation-based calibration on a small configuration: ranks of the truth must be uniform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bayes.sbc import _bins, plot_ranks, run_sbc, run_side_sbc, uniformity_p_value


def test_the_rank_test_sees_miscalibration() -> None:
    rng = np.random.default_rng(0)
    n_ranks, bins = 20, _bins(20, 16)
    assert bins == 4
    calibrated = rng.integers(0, n_ranks, 16)
    over_confident = np.where(rng.random(16) < 0.5, 0, n_ranks - 1)  # truth outside the posterior
    biased = rng.integers(0, 4, 16)  # posterior sits above the truth
    assert uniformity_p_value(calibrated, n_ranks, bins) > 0.01
    assert uniformity_p_value(over_confident, n_ranks, bins) < 1e-3
    assert uniformity_p_value(biased, n_ranks, bins) < 1e-3


@pytest.mark.slow
def test_sbc_ranks_are_uniform(tmp_path: Path) -> None:
    result = run_sbc(replicates=16, draws=100, tune=200, chains=2, thin_to=19, seed=3, workers=2)
    assert result.failed_fits <= 1
    ranks = np.stack([result.ranks[n].values for n in result.p_values])
    assert ((ranks >= 0) & (ranks <= 19)).sum() >= 15 * len(result.p_values)
    # a miscalibrated model piles ranks at the ends; with 16 replicates only gross failures show
    assert result.uniform(alpha=0.01), result.p_values
    assert plot_ranks(result, tmp_path / "sbc.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["us_share", "channel"])
def test_side_model_sbc_ranks_are_uniform(kind: str) -> None:
    result = run_side_sbc(kind, replicates=16, draws=100, tune=200, thin_to=19, seed=5, workers=2)
    assert result.failed_fits <= 1
    assert result.ranks.attrs["model"] == kind
    assert result.uniform(alpha=0.01), result.p_values


def test_a_side_model_without_a_calibration_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'demand_units' has no simulation-based calibration"):
        run_side_sbc("demand_units", replicates=2)

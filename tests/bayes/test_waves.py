"""Waves: a stationary AR(1) per region x family, reaching every partner of the region.

The default world has waves, so their recovery is in ``test_recovery``."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bayes import terms
from bayes.config import ModelConfig
from bayes.model import default_model_config
from bayes.terms.waves import Waves
from tests.bayes.conftest import random_levels

WAVES = {"waves": "on"}


def test_a_region_s_wave_moves_each_of_its_partners_and_no_other() -> None:
    s, r, f, t = 2, 3, 2, 5
    rng = np.random.default_rng(1)
    wave = rng.normal(0.0, 0.3, (s, r, f, t))
    region_index = np.array([0, 2, 2, 1])
    params = random_levels(rng, s, 4, f)
    inputs = {"wave": wave, "region_index": region_index}
    log_mu = terms.log_rate(params, inputs) - terms.log_rate(params, {})
    assert log_mu.shape == (s, 4, f, t)
    for p, region in enumerate(region_index):
        np.testing.assert_allclose(log_mu[:, p], wave[:, region], atol=1e-12)


def test_forecast_years_roll_each_region_s_state_on() -> None:
    s, r, f, horizon = 4000, 2, 3, 3
    last = np.zeros((s, r, f, 6))
    last[:, 0, 0, -1] = 1.0  # one region x family surging at the origin
    params = {"wave": last, "rho_wave": np.full(s, 0.6), "sigma_wave": np.full(s, 0.2)}
    config = ModelConfig.from_mapping({**default_model_config(), **WAVES}, terms.SWITCHABLE)
    cd = xr.Dataset({"partner_region": ("partner", np.array(["B", "A", "B"]))})
    ctx = terms.FutureContext(
        params=params,
        horizon=horizon,
        years=np.arange(2013, 2016),
        reference_year=2012,
        centre_year=2000.0,
        constant_data=cd,
        scales={},
        config=config,
        present={"waves": True},
        trend_damping=0.0,
    )
    out = Waves().future_inputs(ctx, np.random.default_rng(0))
    assert out["wave"].shape == (s, r, f, horizon)
    np.testing.assert_array_equal(out["region_index"], [1, 0, 1])  # regions sorted, as the design has them
    mean = out["wave"].mean(axis=0)
    # the surge fades at rho a year (less half the variance, so the shock is mean one on the rate)
    assert mean[0, 0, 0] == pytest.approx(0.6 - 0.02, abs=0.02)
    assert mean[0, 0, 2] < mean[0, 0, 1] < mean[0, 0, 0]
    assert abs(mean[1, 0, 0] + 0.02) < 0.02  # a calm region stays calm

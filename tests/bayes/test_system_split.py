"""Forecasts per named system: split from the family draws, so families are sums of systems, draw by draw."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from bayes.forecast import Forecaster, ForecastError
from bayes.model import DemandModel
from bayes.system_shares import OTHER


@pytest.fixture(scope="module")
def with_systems(systems_path) -> Forecaster:
    """The session's simulated fit with a share model attached: two families get named systems."""
    return Forecaster(DemandModel.load(systems_path), max_draws=400, max_horizon=3, seed=1)


def test_a_family_is_the_sum_of_its_systems_in_every_draw(with_systems: Forecaster) -> None:
    f = with_systems
    family = str(f.families[0])
    split = f.split(family)
    assert split.systems == (OTHER, "sys_a", "sys_b")
    fi = f.family_index[family]
    counts = np.zeros(f.cube[:, fi].shape, dtype=np.int64)
    units = np.zeros(f.units[:, fi].shape)
    for system in split.systems:
        c, u = split.dense(system)
        counts += c
        units += u
    np.testing.assert_array_equal(counts, f.cube[:, fi])
    np.testing.assert_allclose(units, f.units[:, fi], rtol=1e-9)


def test_system_forecast_adds_up_to_the_family_totals(with_systems: Forecaster) -> None:
    f = with_systems
    family = str(f.families[0])
    ds = f.system_forecast(family, horizon=3)
    assert list(ds["system"].values) == [OTHER, "sys_a", "sys_b"]
    family_mean = f.forecast(horizon=3, families=[family]).family_totals["mean"].sel(family=family)
    np.testing.assert_allclose(ds["mean"].sum("system").values, family_mean.values, rtol=1e-9)
    assert set(ds["basis"].values) <= {"history", "prior (share 0.05)"}
    # A subset of partners sees only its own requests.
    one = str(f.partners[0])
    sub = f.system_forecast(family, horizon=3, partners=[one])
    assert sub.attrs["partners"] == [one]
    assert float(sub["mean"].sum()) <= float(ds["mean"].sum())


def test_a_question_about_a_system_never_exceeds_its_family(with_systems: Forecaster) -> None:
    f = with_systems
    family = str(f.families[0])
    start = date(int(f.years[0]), 1, 1)
    fam = f.question(family, at_least=1, within_months=18, start=start)
    a = f.question(None, at_least=1, within_months=18, start=start, system="sys_a")
    b = f.question(None, at_least=1, within_months=18, start=start, system="sys_b")
    assert a["family"] == family and a["system"] == "sys_a"
    assert a["probability"] <= fam["probability"] and b["probability"] <= fam["probability"]
    assert a["expected_units"] + b["expected_units"] <= fam["expected_units"] + 1e-9
    assert "system-share model" in a["rests_on"]["system_share"]
    assert a == f.question(None, at_least=1, within_months=18, start=start, system="sys_a")  # seeded


def test_system_errors_name_the_field(with_systems: Forecaster, fitted) -> None:
    f = with_systems
    with pytest.raises(ForecastError, match="unknown system"):
        f.question(None, at_least=1, within_months=12, system="nope")
    with pytest.raises(ForecastError, match="is in family"):
        f.question(str(f.families[1]), at_least=1, within_months=12, system="sys_a")
    plain = Forecaster(fitted, max_draws=50, max_horizon=2)
    with pytest.raises(ForecastError, match="no system-share model"):
        plain.system_forecast(str(plain.families[0]), horizon=1)

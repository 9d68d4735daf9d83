"""The live book: requests posted after a fit move the answers without a refit, counted once."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes.fitting import fit_dataset
from bayes.forecast import Forecaster
from evidence.loaders import load_dataset


@pytest.fixture(scope="module")
def book(sim_world: Path) -> pd.DataFrame:
    return load_dataset(sim_world).lors


def _free_cell(f: Forecaster) -> tuple[str, str]:
    """A partner and family with requests forecast in the first year and nothing on the book there."""
    b = f._book
    taken = {
        (int(p), int(fam)) for p, fam, y in zip(b["partner"], b["family"], b["year"], strict=True) if y == 0
    }
    p_any = (f.cube[:, :, 0] > 0).mean(axis=-1)
    for p, fam in zip(*np.unravel_index(np.argsort(-p_any, axis=None), p_any.shape), strict=True):
        if (int(p), int(fam)) not in taken:
            return str(f.partners[p]), str(f.families[fam])
    raise AssertionError("no free cell")


def _firm(partner: str, family: str, year: int, quantity: int, lor_id: str = "live-1") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": lor_id,
                "partner": partner,
                "family": family,
                "received": f"{year}-06-01",
                "status": "firm",
                "quantity": quantity,
                "designation": "",
            }
        ]
    )


def test_a_firm_request_is_realised_demand_and_the_cell_is_conditioned_on_it(fitted, book) -> None:
    f = Forecaster(fitted, max_draws=400, max_horizon=2, seed=3)
    partner, family = _free_cell(f)
    p, fam = f.partner_index[partner], f.family_index[family]
    year = int(f.years[0])
    before_counts = f.cube[p, fam, 0].astype(int).copy()
    before = f.forecast(1, families=[family]).total_demand
    f.set_book(pd.concat([book, _firm(partner, family, year, 50)]), as_of="2026-12-05T00:00:00+00:00")
    after = f.forecast(1, families=[family]).total_demand
    assert float(after["firm"].sum() - before["firm"].sum()) == pytest.approx(50)
    # The cell's new LORs are now N - 1 given N >= 1: none is counted twice.
    n = before_counts
    expected = (n[n >= 1] - 1).mean()
    assert f.cube[p, fam, 0].mean() == pytest.approx(expected, abs=0.15 * max(expected, 1))
    assert f.question(family, 1, 12, partners=[partner])["rests_on"]["book_as_of"].startswith("2026-12-05")
    # Withdrawn, it leaves: the answers are the fit's own again, exactly.
    withdrawn = _firm(partner, family, year, 50).assign(status="withdrawn")
    f.set_book(pd.concat([book, withdrawn]), as_of="later")
    np.testing.assert_array_equal(f.cube[p, fam, 0], before_counts)
    again = f.forecast(1, families=[family]).total_demand
    np.testing.assert_allclose(again["mean"].values, before["mean"].values)


def test_the_fitted_book_answer_stays_what_the_fit_served(fitted, book) -> None:
    """What "why did this move" compares: the answer with the fitted book is the one served before any
    request was posted, exactly, whatever the live book holds now."""
    f = Forecaster(fitted, max_draws=400, max_horizon=2, seed=3)
    partner, family = _free_cell(f)
    served = f.question(family, 1, 12, partners=[partner])
    assert f.question(family, 1, 12, partners=[partner], book="fitted") == served
    f.set_book(pd.concat([book, _firm(partner, family, int(f.years[0]), 50)]), as_of="now")
    moved = f.question(family, 1, 12, partners=[partner])
    assert moved["expected_requests"] != served["expected_requests"]
    then = f.question(family, 1, 12, partners=[partner], book="fitted")
    assert {k: v for k, v in then.items() if k != "rests_on"} == {
        k: v for k, v in served.items() if k != "rests_on"
    }


def test_a_pending_request_counts_with_its_conversion_probability(fitted, book) -> None:
    f = Forecaster(fitted, max_draws=400, max_horizon=2, seed=3)
    partner, family = _free_cell(f)
    before = f.forecast(1, families=[family]).total_demand
    pending = _firm(partner, family, int(f.years[0]), 100).assign(status="pending")
    f.set_book(pd.concat([book, pending]), as_of="now")
    after = f.forecast(1, families=[family]).total_demand
    added = float(after["pending_expected"].sum() - before["pending_expected"].sum())
    assert 0 < added < 100


@pytest.mark.slow
def test_the_live_book_agrees_with_a_refit_that_has_the_request_in_its_data(
    fitted, book, sim_world: Path, tmp_path: Path
) -> None:
    """The comparison: a firm request in the first forecast year, served two ways: posted to the fitted
    model's live book, and written into the dataset and refitted from scratch. The request is demand in a
    forecast year, not history, so it leaves the likelihood unchanged and both condition on it the same
    way; they differ by Monte Carlo error only. Compared: the expected total demand of the request's
    family and year (in units), and P(at least one more new LOR) in its cell."""
    live = Forecaster(fitted, max_draws=1000, max_horizon=1, seed=3)
    partner, family = _free_cell(live)
    year = int(live.years[0])
    firm = _firm(partner, family, year, 50)
    live.set_book(pd.concat([book, firm]), as_of="now")
    world = tmp_path / "world"
    shutil.copytree(sim_world, world)
    lors = pd.read_csv(world / "lors.csv")
    pd.concat([lors, firm.assign(source="test")], ignore_index=True).to_csv(world / "lors.csv", index=False)
    refit = fit_dataset(
        world, tmp_path / "refit.nc", first_year=2000, sampler_config={"draws": 500, "tune": 500}
    )
    again = Forecaster(refit, max_draws=1000, max_horizon=1, seed=3, allow_failed=True)
    a = live.forecast(1, families=[family]).total_demand["mean"].item()
    b = again.forecast(1, families=[family]).total_demand["mean"].item()
    assert a == pytest.approx(b, rel=0.1)
    pa = (live.cube[live.partner_index[partner], live.family_index[family], 0] > 0).mean()
    pb = (again.cube[again.partner_index[partner], again.family_index[family], 0] > 0).mean()
    assert pa == pytest.approx(pb, abs=0.06)

"""Reuse of a stored fit: only when it passed its gates and matches the data, priors and model version."""

from __future__ import annotations

from pathlib import Path

from bayes.fitting import stored_fit_is_current
from bayes.panel import build_panel
from evidence.loaders import load_dataset


def test_a_current_fit_is_reused(fitted_path: Path, sim_world: Path) -> None:
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    model = stored_fit_is_current(fitted_path, panel)
    assert model is not None and model.status == "ok"


def test_changed_data_means_refit(fitted_path: Path, sim_world: Path) -> None:
    panel = build_panel(load_dataset(sim_world).restrict_to(2018), first_year=2000)
    assert stored_fit_is_current(fitted_path, panel) is None


def test_failed_or_unreadable_fits_are_not_reused(failed_path: Path, sim_world: Path, tmp_path: Path) -> None:
    panel = build_panel(load_dataset(sim_world), first_year=2000)
    assert stored_fit_is_current(failed_path, panel) is None
    (tmp_path / "junk.nc").write_bytes(b"not a netcdf file")
    assert stored_fit_is_current(tmp_path / "junk.nc", panel) is None
    assert stored_fit_is_current(tmp_path / "missing.nc", panel) is None

"""Reuse of a stored fit: only when it passed its gates and matches the data, priors and model version."""

from __future__ import annotations

from pathlib import Path

import pytest

from bayes.fitting import ensure_default_model, stale_side_group, stored_fit_is_current
from bayes.model import STORED_DRAWS, DemandModel, analysis_path
from bayes.panel import build_panel, panel_hash
from bayes.us_share import GROUP as US_GROUP
from bayes.us_share import USShareModel
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


def test_a_stored_side_group_is_refitted_when_missing_stale_or_of_an_earlier_model(
    systems_path: Path,
) -> None:
    tree = DemandModel.load(systems_path).idata
    data = tree[US_GROUP]["constant_data"].to_dataset()
    tree[US_GROUP].attrs["shares_hash"] = panel_hash(data)
    assert stale_side_group(tree, US_GROUP, "shares_hash", data, USShareModel.names) == ""
    other = data.assign(all_count=data["all_count"] + 1)
    assert stale_side_group(tree, US_GROUP, "shares_hash", other, USShareModel.names) == "data changed"
    # a group fitted before the region-year shock: its posterior lacks a variable the model now samples
    tree[US_GROUP]["posterior"] = tree[US_GROUP]["posterior"].to_dataset().drop_vars("shock_raw")
    assert stale_side_group(tree, US_GROUP, "shares_hash", data, USShareModel.names) == "model changed"
    del tree[US_GROUP]
    assert stale_side_group(tree, US_GROUP, "shares_hash", data, USShareModel.names) == "missing"


@pytest.mark.integration  # rewrites every draw of the fit (about 20 s)
def test_a_one_file_model_of_an_earlier_version_is_split_without_a_refit(
    fitted_path: Path, sim_world: Path, tmp_path: Path
) -> None:
    """Before the analysis file, a model file held every draw and every group: the next start splits it
    into the two files, keeping the fit (and its every draw) as it was."""
    import xarray as xr

    whole = xr.open_datatree(analysis_path(fitted_path), engine="h5netcdf").load()
    model_file = xr.open_datatree(fitted_path, engine="h5netcdf").load()
    old = whole.copy()
    for group in set(model_file.children) - set(whole.children):  # sampler state, side models
        old[group] = model_file[group]
    path = tmp_path / "default.nc"
    old.to_netcdf(path, engine="h5netcdf")
    assert "stored_draws" not in old.attrs

    model = ensure_default_model(sim_world, path, first_year=2000)
    assert model.idata.attrs["fitted_at"] == whole.attrs["fitted_at"]  # not refitted
    split = xr.open_datatree(path, engine="h5netcdf")
    assert "log_likelihood" not in split.children and split.attrs["stored_draws"] == STORED_DRAWS
    again = xr.open_datatree(analysis_path(path), engine="h5netcdf")
    xr.testing.assert_equal(again["log_likelihood"].to_dataset(), whole["log_likelihood"].to_dataset())
    assert again["posterior"].sizes["draw"] == whole["posterior"].sizes["draw"]

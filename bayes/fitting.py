"""Fit a dataset end to end (records → panel → model → posterior file), or reuse a valid stored fit."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from bayes.model import MODEL_VERSION, DemandModel, default_model_config
from bayes.panel import build_panel, describe, panel_hash
from bayes.system_shares import GROUP, SystemShareModel, default_share_sampler, named_systems, system_panel
from bayes.us_share import GROUP as US_GROUP
from bayes.us_share import USShareModel, share_panel, with_supplier_history
from evidence.loaders import Dataset, load_dataset
from evidence.systems import load_catalogue
from priors import load_priors

log = logging.getLogger(__name__)


def fit_panel(
    panel: xr.Dataset,
    out: Path,
    priors: Path | None = None,
    sampler_config: Mapping[str, Any] | None = None,
    progressbar: bool = True,
    warm_start: Path | None = None,
    model_config: Mapping[str, Any] | None = None,
    systems: xr.Dataset | None = None,
    us_shares: xr.Dataset | None = None,
) -> DemandModel:
    """Fit and save; a fit that fails its gates is saved too, marked ``status = failed``.

    ``systems`` (:func:`systems_for`): the requests per named system, to fit the system-share model
    into the same file (group ``system_shares``); without it the file answers per family only.
    ``us_shares`` (:func:`us_shares_for`): every supplier's orders, to fit the U.S. share model into
    the file (group ``us_share``); without it the file answers no questions about suppliers.

    ``warm_start``: a stored posterior file whose sampler state (positions, step size, mass
    matrix) the chains start from -- the refit after new LORs arrive. ``model_config`` entries
    (``zero_inflation``, ``components``) override the defaults."""
    log.info("panel: %s", describe(panel))
    state = None
    if warm_start is not None:
        if not Path(warm_start).is_file():
            raise FileNotFoundError(f"--warm-start: no posterior file at {warm_start}")
        state = DemandModel.load(warm_start).sampler_state
        if state is None:
            raise ValueError(
                f"--warm-start: {warm_start} carries no sampler state (fitted by an older version)"
            )
    model = DemandModel({**default_model_config(load_priors(priors)), **(model_config or {})}, sampler_config)
    model.fit(panel, progressbar=progressbar, warm_start=state)
    if systems is not None:
        fit_shares(model, systems, progressbar)
    if us_shares is not None:
        fit_us_share(model, us_shares, progressbar)
    model.save(out)
    return model


def systems_for(dataset: Dataset, panel: xr.Dataset) -> xr.Dataset:
    """The share model's data for a demand panel: the same families and years, the default catalogue."""
    years = panel["year"].values
    return system_panel(
        dataset.lors,
        dataset.partners,
        load_catalogue(),
        first_year=int(years.min()),
        last_year=int(years.max()),
        families=[str(f) for f in panel["family"].values],
    )


def us_shares_for(dataset: Dataset, panel: xr.Dataset) -> xr.Dataset | None:
    """The U.S. share model's data for a demand panel (its partners, families and years), with each
    cell's orders per supplier; None for a dataset without every supplier's orders."""
    if dataset.supplier_orders.empty:
        return None
    years = panel["year"].values
    shares = share_panel(
        dataset.supplier_orders,
        dataset.partners,
        int(years.min()),
        int(years.max()),
        [str(p) for p in panel["partner"].values],
        [str(f) for f in panel["family"].values],
    )
    return with_supplier_history(shares, dataset.supplier_orders)


def _side_sampler(model: DemandModel, base: Mapping[str, Any]) -> dict[str, Any]:
    """A side model's sampler: no more draws, tuning steps or chains than the demand model used (a quick
    test fit stays quick; its gates say what that cost)."""
    cfg = model.sampler_config
    return {
        **{k: min(int(cfg[k]), int(base[k])) for k in ("draws", "tune", "chains")},
        "chain_method": cfg["chain_method"],
    }


def fit_shares(model: DemandModel, systems: xr.Dataset, progressbar: bool = True) -> SystemShareModel | None:
    """Fit the system-share model into ``model``'s tree. None, and no group, where no family of the
    panel has a named system (a simulated world's families)."""
    if not named_systems(systems):
        log.info("no family has a named system in the catalogue: the model answers per family only")
        return None
    shares = SystemShareModel(sampler_config=_side_sampler(model, default_share_sampler()))
    tree = shares.fit(systems, progressbar)
    tree.attrs["systems_hash"] = panel_hash(systems)
    model.idata[GROUP] = tree
    return shares


def fit_us_share(model: DemandModel, shares: xr.Dataset, progressbar: bool = True) -> USShareModel:
    """Fit the U.S. share model into ``model``'s tree (group ``us_share``)."""
    share_model = USShareModel()
    share_model.sampler_config |= _side_sampler(model, share_model.sampler_config)
    tree = share_model.fit(shares, progressbar)
    tree.attrs["shares_hash"] = panel_hash(shares)
    model.idata[US_GROUP] = tree
    return share_model


def fit_dataset(
    data: Path,
    out: Path,
    priors: Path | None = None,
    first_year: int = 1990,
    sampler_config: Mapping[str, Any] | None = None,
    progressbar: bool = True,
    warm_start: Path | None = None,
    model_config: Mapping[str, Any] | None = None,
) -> DemandModel:
    dataset = load_dataset(data)
    panel = build_panel(dataset, first_year=first_year)
    return fit_panel(
        panel,
        out,
        priors,
        sampler_config,
        progressbar,
        warm_start,
        model_config,
        systems_for(dataset, panel),
        us_shares_for(dataset, panel),
    )


def stored_fit_is_current(path: Path, panel: xr.Dataset) -> DemandModel | None:
    """The stored model if it passed its gates and was fitted to this panel with these priors and code."""
    if not path.is_file():
        return None
    try:
        model = DemandModel.load(path)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable model file %s: %s", path, exc)
        return None
    attrs = model.idata.attrs
    reasons = []
    if model.status != "ok":
        reasons.append(f"status {model.status}")
    if attrs.get("data_hash") != panel.attrs["data_hash"]:
        reasons.append("data changed")
    if attrs.get("priors_hash") != load_priors().hash:
        reasons.append("priors changed")
    if str(attrs.get("model_version")) != MODEL_VERSION:
        reasons.append("model version changed")
    if reasons:
        log.info("stored model %s is not current (%s)", path, ", ".join(reasons))
        return None
    return model


def ensure_default_model(data: Path, path: Path, first_year: int = 1990) -> DemandModel:
    dataset = load_dataset(data)
    panel = build_panel(dataset, first_year=first_year)
    systems = systems_for(dataset, panel)
    us_shares = us_shares_for(dataset, panel)
    model = stored_fit_is_current(path, panel)
    if model is not None:
        log.info("using stored model %s (fitted %s)", path, model.idata.attrs.get("fitted_at"))
        # The demand fit still holds; only a side model whose data changed (or is missing) is refitted.
        side = [(GROUP, "systems_hash", systems, fit_shares)]
        if us_shares is not None:
            side.append((US_GROUP, "shares_hash", us_shares, fit_us_share))
        changed = False
        for group, key, data, fit in side:
            stored = model.idata[group].attrs.get(key) if group in model.idata.children else None
            if stored != panel_hash(data):
                log.info("fitting the %s model into %s (%s)", group, path, "stale" if stored else "missing")
                fit(model, data)
                changed = True
        if changed:
            model.save(path)
        return model
    log.info("fitting the default model; this takes a few minutes on 2 cores")
    model = fit_panel(panel, path, systems=systems, us_shares=us_shares)
    if model.status != "ok":
        raise RuntimeError(f"the default fit failed its gates: {'; '.join(model.diagnostics.failures)}")
    return model


def load_forecaster(model: DemandModel, data: Path | None = None, **kwargs: Any):  # -> Forecaster
    """A forecaster with the domestic plans, line capacities and arrival profile of ``data``
    (default: the dataset the model was fitted on, when it is still there); without them total demand
    has no domestic part and windows in months spread each year's requests evenly."""
    from bayes.forecast import Forecaster
    from bayes.timing import ArrivalProfile

    source = data or Path(str(model.idata.attrs.get("data_source", "")))
    plans = capacities = None
    if str(source) and source.is_dir():
        dataset = load_dataset(source)
        plans, capacities = dataset.domestic_plans, dataset.line_capacities
        kwargs.setdefault("arrival", ArrivalProfile.from_lors(dataset.lors))
        kwargs.setdefault("lors", dataset.lors)
    elif data is not None:
        raise FileNotFoundError(f"--data: no dataset directory at {data}")
    else:
        log.warning("dataset %s not found: forecasts carry no domestic plans or line capacities", source)
    return Forecaster(model, plans=plans, capacities=capacities, **kwargs)

"""Fit a dataset end to end (records → panel → model → posterior file), or reuse a valid stored fit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from bayes._small_fit import SmallModel
from bayes.channel_share import GROUP as CHANNEL_GROUP
from bayes.channel_share import ChannelError, ChannelModel, channel_panel
from bayes.config import CHOICES, ModelConfigError
from bayes.model import MODEL_VERSION, DemandModel, default_model_config
from bayes.panel import build_panel, describe, panel_hash
from bayes.system_shares import GROUP, SystemShareModel, default_share_sampler, named_systems, system_panel
from bayes.us_share import GROUP as US_GROUP
from bayes.us_share import USShareModel, share_panel, with_supplier_history
from evidence.loaders import Dataset, every_supplier, load_dataset
from evidence.systems import load_catalogue
from priors import load_priors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SideData:
    """The side models' data for a demand panel (:func:`side_data_for`); each one present is fitted into
    the demand model's file as a group of its own, and one left out leaves the file without its answers:

    - ``systems``: requests per named system (group ``system_shares``; without it, per family only);
    - ``us_shares``: every supplier's orders (group ``us_share``; without it, no answers about suppliers);
    - ``channels``: FMS and DCS dollars per partner and year (group ``channel_share``; without it, no
      answer about which channel demand uses)."""

    systems: xr.Dataset | None = None
    us_shares: xr.Dataset | None = None
    channels: xr.Dataset | None = None

    def parts(self) -> list[tuple[str, str, xr.Dataset, Callable[..., Any], tuple[str, ...]]]:
        """(group, the attribute holding its data's hash, data, fit, the variables the model samples) for
        each side model with data."""
        every = [
            (GROUP, "systems_hash", self.systems, fit_shares, SystemShareModel.names),
            (US_GROUP, "shares_hash", self.us_shares, fit_us_share, USShareModel.names),
            (CHANNEL_GROUP, "channels_hash", self.channels, fit_channels, ChannelModel.names),
        ]
        return [part for part in every if part[2] is not None]


def fit_panel(
    panel: xr.Dataset,
    out: Path,
    priors: Path | None = None,
    sampler_config: Mapping[str, Any] | None = None,
    progressbar: bool = True,
    warm_start: Path | None = None,
    model_config: Mapping[str, Any] | None = None,
    side: SideData | None = None,
) -> DemandModel:
    """Fit and save; a fit that fails its gates is saved too, marked ``status = failed``.

    ``side`` (:func:`side_data_for`): the side models' data, each fitted into the same file.
    ``warm_start``: a stored posterior file whose sampler state (positions, step size, mass
    matrix) the chains start from -- the refit after new LORs arrive. ``model_config`` entries
    (``zero_inflation``, ``components``) override the defaults."""
    log.info("panel: %s", describe(panel))
    state = None
    if warm_start is not None:
        if not Path(warm_start).is_file():
            raise FileNotFoundError(f"warm_start: no posterior file at {warm_start}")
        state = DemandModel.load(warm_start).sampler_state
        if state is None:
            raise ValueError(
                f"warm_start: {warm_start} carries no sampler state (fitted by an older version)"
            )
    model = DemandModel({**default_model_config(load_priors(priors)), **(model_config or {})}, sampler_config)
    model.fit(panel, progressbar=progressbar, warm_start=state)
    for _, _, data, fit, _ in (side or SideData()).parts():
        fit(model, data, progressbar)
    model.save(out)
    return model


def side_data_for(dataset: Dataset, panel: xr.Dataset) -> SideData:
    """Every side model's data for a demand panel: the same partners, families and years."""
    return SideData(systems_for(dataset, panel), us_shares_for(dataset, panel), channels_for(dataset, panel))


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


def channels_for(dataset: Dataset, panel: xr.Dataset) -> xr.Dataset | None:
    """The channel model's data for a demand panel's partners; None where the dataset has no FMS and
    DCS figures (a simulated world) or none for these partners."""
    try:
        return channel_panel(dataset.evidence, dataset.partners, [str(p) for p in panel["partner"].values])
    except ChannelError as exc:
        log.info("no channel model: %s", exc)
        return None


def _side_sampler(model: DemandModel, base: Mapping[str, Any]) -> dict[str, Any]:
    """A side model's sampler: no more draws or chains than the demand model used, and no more tuning
    steps than its whole run (a quick test fit stays quick; its gates say what that cost)."""
    cfg = model.sampler_config
    return {
        **{k: min(int(cfg[k]), int(base[k])) for k in ("draws", "chains")},
        "tune": min(int(cfg["tune"]) + int(cfg["draws"]), int(base["tune"])),
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


def _fit_side(
    model: DemandModel, side: SmallModel, data: xr.Dataset, group: str, key: str, progressbar: bool
) -> Any:
    side.sampler_config |= _side_sampler(model, side.sampler_config)
    tree = side.fit(data, progressbar)
    tree.attrs[key] = panel_hash(data)
    model.idata[group] = tree
    return side


def fit_us_share(model: DemandModel, shares: xr.Dataset, progressbar: bool = True) -> USShareModel:
    """Fit the U.S. share model into ``model``'s tree (group ``us_share``)."""
    return _fit_side(model, USShareModel(), shares, US_GROUP, "shares_hash", progressbar)


def fit_channels(model: DemandModel, channels: xr.Dataset, progressbar: bool = True) -> ChannelModel:
    """Fit the channel model into ``model``'s tree (group ``channel_share``)."""
    return _fit_side(model, ChannelModel(), channels, CHANNEL_GROUP, "channels_hash", progressbar)


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
    panel = fitting_panel(dataset, first_year, (model_config or {}).get("demand_basis", "us"))
    side = side_data_for(dataset, panel)
    return fit_panel(panel, out, priors, sampler_config, progressbar, warm_start, model_config, side)


def fitting_panel(dataset: Dataset, first_year: int, demand_basis: str = "us") -> xr.Dataset:
    """The panel a demand model of ``demand_basis`` (model_config) is fitted to: the dataset's U.S.
    requests, or each partner's orders from every supplier (whose forecasts the U.S. share model, fitted
    beside it, thins to U.S. demand). Either way the panel names the dataset it came from, so answers
    read that dataset's plans, lines and requests."""
    if demand_basis == "us":
        return build_panel(dataset, first_year=first_year)
    if demand_basis != "every_supplier":
        allowed = CHOICES["demand_basis"]
        raise ModelConfigError(f"model_config['demand_basis']: {demand_basis!r} is not one of {allowed}")
    panel = build_panel(every_supplier(dataset), first_year=first_year)
    panel.attrs["source"] = dataset.source
    return panel


def stored_fit_is_current(path: Path, panel: xr.Dataset) -> DemandModel | None:
    """The stored model if it passed its gates and was fitted to this panel with these priors and code."""
    if not path.is_file():
        return None
    try:
        model = DemandModel.load(path, analysis_groups=False)  # the analysis file is not needed here
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


def stale_side_group(
    tree: xr.DataTree, group: str, key: str, data: xr.Dataset, names: tuple[str, ...]
) -> str:
    """Why a stored side group must be refitted ("" where it holds): missing, fitted to other data, or
    fitted by an earlier form of its model (a variable the model now samples is not in its posterior)."""
    if group not in tree.children:
        return "missing"
    if tree[group].attrs.get(key) != panel_hash(data):
        return "data changed"
    sampled = set(tree[group]["posterior"].data_vars) if "posterior" in tree[group].children else set()
    return "model changed" if not set(names) <= sampled else ""


def ensure_default_model(data: Path, path: Path, first_year: int = 1990) -> DemandModel:
    dataset = load_dataset(data)
    panel = build_panel(dataset, first_year=first_year)
    side = side_data_for(dataset, panel)
    model = stored_fit_is_current(path, panel)
    if model is not None:
        log.info("using stored model %s (fitted %s)", path, model.idata.attrs.get("fitted_at"))
        changed = "stored_draws" not in model.idata.attrs  # an earlier version's one file of every draw
        if changed:  # read whole, so that save() moves its analysis groups to the analysis file
            log.info("splitting %s into its model file and its analysis file", path)
            model = DemandModel.load(path)
        # The demand fit still holds; only a side model whose data changed (or is missing) is refitted.
        for group, key, data, fit, names in side.parts():
            reason = stale_side_group(model.idata, group, key, data, names)
            if reason:
                log.info("fitting the %s model into %s (%s)", group, path, reason)
                fit(model, data)
                changed = True
        if changed:
            model.save(path)
        return model
    log.info("fitting the default model; this takes a few minutes on 2 cores")
    model = fit_panel(panel, path, side=side)
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
        raise FileNotFoundError(f"data: no dataset directory at {data}")
    else:
        log.warning("dataset %s not found: forecasts carry no domestic plans or line capacities", source)
    return Forecaster(model, plans=plans, capacities=capacities, **kwargs)

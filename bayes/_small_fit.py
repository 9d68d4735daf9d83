"""Fitting a small side model (the share models): sample, gate, and keep the settings with the draws.

The demand model has its own fit (continuation rounds, float32, a sparse likelihood); the share models are
small float64 PyMC models that need none of that, and share this one path so that their files carry the
same attributes and their gates are read the same way.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from bayes._nuts import run_nuts
from bayes.diagnostics import Diagnostics, diagnose, from_dict

log = logging.getLogger(__name__)


def small_sampler(random_seed: int, target_accept: float = 0.8) -> dict[str, Any]:
    """The side models' sampler defaults: 4 chains of 1000 draws after 1000 tuning steps, all at once
    (500 left the U.S. share model's intercept at an R-hat of 1.0101 on the real panel at 2015)."""
    return {
        "draws": 1000,
        "tune": 1000,
        "chains": 4,
        "target_accept": target_accept,
        "random_seed": random_seed,
        "chain_method": "parallel",
    }


def sample_small(
    model,  # pm.Model
    names: list[str],
    sampler_config: Mapping[str, Any],
    progressbar: bool = True,
) -> tuple[xr.Dataset, xr.Dataset]:
    """Sample ``names`` of ``model`` with NumPyro NUTS in float64: (posterior, sampler statistics)."""
    import pytensor

    cfg = sampler_config
    with pytensor.config.change_flags(floatX="float64"), model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Explicitly requested dtype", UserWarning)
        posterior, stats, _ = run_nuts(
            model,
            names,
            draws=int(cfg["draws"]),
            tune=int(cfg["tune"]),
            chains=int(cfg["chains"]),
            target_accept=float(cfg["target_accept"]),
            seed=int(cfg["random_seed"]),
            chain_method=str(cfg["chain_method"]),
            progressbar=progressbar,
        )
    return posterior, stats


def fit_small(
    model,  # pm.Model
    names: list[str],
    panel: xr.Dataset,
    model_config: Mapping[str, Any],
    sampler_config: Mapping[str, Any],
    label: str,
    progressbar: bool = True,
    **attrs: Any,
) -> xr.DataTree:
    """Sample ``names`` of ``model`` (:func:`sample_small`) and return the posterior, the sampler's
    statistics and the panel as one tree, its attributes holding both configs, the gates' verdict
    (``diagnostics``, ``status``), the panel's years, the fit time and ``attrs``."""
    started = time.perf_counter()
    posterior, stats = sample_small(model, names, sampler_config, progressbar)
    tree = xr.DataTree.from_dict(
        {"posterior": posterior, "sample_stats": stats, "constant_data": panel.drop_attrs()}
    )
    diag = diagnose(tree, names, model_config.get("gates"))
    tree.attrs.update(
        {
            "model_config": json.dumps(dict(model_config)),
            "sampler_config": json.dumps(dict(sampler_config)),
            "first_year": int(panel.attrs["first_year"]),
            "last_year": int(panel.attrs["last_year"]),
            **attrs,
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "fit_seconds": round(time.perf_counter() - started, 2),
            "diagnostics": json.dumps(diag.as_dict()),
            "status": "ok" if diag.passed else "failed",
        }
    )
    log.info("%s fitted in %.1fs; %s", label, tree.attrs["fit_seconds"], "; ".join(diag.lines()))
    return tree


def regions_of(panel: xr.Dataset) -> tuple[np.ndarray, list[str]]:
    """Each partner's position among the panel's regions (sorted), and the regions."""
    regions = panel["partner_region"].values.astype(str)
    names = sorted(set(regions))
    lookup = {n: i for i, n in enumerate(names)}
    return np.array([lookup[r] for r in regions], dtype=int), names


def pick_draws(n: int, take: int) -> np.ndarray:
    """``take`` of ``n`` posterior draws, evenly spaced (cycled when more are asked for than there are)."""
    return np.linspace(0, n - 1, take).astype(int) if take <= n else np.arange(take) % n


def centre_year(panel: xr.Dataset) -> float:
    """The mean of the panel's years: trends are read per decade from it."""
    return float(panel["year"].values.mean())


class SmallModel(ABC):
    """A side model with explicit ``model_config`` and ``sampler_config``, as
    :class:`bayes.model.DemandModel` has: a subclass names its sampled variables, its error class and a
    label for the log, and builds its PyMC model; fitting, the gates' verdict and the status are the same
    for every side model."""

    label: ClassVar[str]
    names: ClassVar[tuple[str, ...]]
    scalars: ClassVar[tuple[str, ...]]  # the hyper-parameters simulation-based calibration ranks
    observed_name: ClassVar[str]  # the likelihood's variable
    error: ClassVar[type[Exception]]
    model_config: dict[str, Any]
    sampler_config: dict[str, Any]
    idata: xr.DataTree | None

    def _configure(
        self,
        defaults: Mapping[str, Any],
        sampler_defaults: Mapping[str, Any],
        model_config: Mapping[str, Any] | None,
        sampler_config: Mapping[str, Any] | None,
        positive: tuple[str, ...] = (),
    ) -> None:
        """Both configs over their defaults, each of ``positive`` checked to be a positive number."""
        self.model_config = {**defaults, **(model_config or {})}
        self.sampler_config = {**sampler_defaults, **(sampler_config or {})}
        for name in positive:
            value = self.model_config[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise self.error(f"model_config[{name!r}]: {value!r} is not a positive number")
        self.idata = None

    @abstractmethod
    def build_model(self, panel: xr.Dataset, observed: np.ndarray | None = None):  # -> pm.Model
        """The PyMC model of ``panel``; every subclass writes its own. ``observed`` replaces the
        likelihood's data (``observed_name``, in the order the model reads the panel's cells): simulated
        values, for simulation-based calibration on the panel's design."""

    def fit(self, panel: xr.Dataset, progressbar: bool = True) -> xr.DataTree:
        model = self.build_model(panel)
        self.idata = fit_small(
            model,
            list(self.names),
            panel,
            self.model_config,
            self.sampler_config,
            self.label,
            progressbar,
            centre_year=centre_year(panel),
        )
        return self.idata

    @property
    def diagnostics(self) -> Diagnostics:
        if self.idata is None:
            raise self.error(f"the {self.label} model is not fitted")
        return from_dict(json.loads(self.idata.attrs["diagnostics"]))

    @property
    def status(self) -> str:
        return "failed" if self.idata is None else str(self.idata.attrs["status"])

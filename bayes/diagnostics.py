"""Convergence diagnostics and the gates a fit must pass before it may be served."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import arviz as az
import numpy as np
import xarray as xr

from bayes._convergence import convergence

_BLOCK = 512  # parameters per block of convergence statistics

DEFAULT_GATES: dict[str, float] = {
    "r_hat_max": 1.01,
    "ess_bulk_min": 400.0,
    "ess_tail_min": 400.0,
    "divergences_max": 0.0,
    "bfmi_min": 0.3,
}


@dataclass(frozen=True)
class Diagnostics:
    r_hat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    bfmi_min: float
    draws: int
    chains: int
    worst: dict[str, str] = field(default_factory=dict)  # statistic -> variable that set it
    failures: tuple[str, ...] = ()
    approximate: bool = False
    # How hard NUTS worked (efficiency, not validity, so not gated; None in files from before):
    # the chains' adapted step sizes, leapfrog steps per draw, and draws whose tree hit the cap.
    step_size_min: float | None = None
    step_size_max: float | None = None
    steps_per_draw: float | None = None
    tree_depth_hits: int | None = None
    max_tree_depth: int | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and not self.approximate

    def as_dict(self) -> dict:
        return {**asdict(self), "failures": list(self.failures), "passed": self.passed}

    def lines(self) -> list[str]:
        return [
            f"R-hat max {self.r_hat_max:.4f} ({self.worst.get('r_hat', '-')})",
            f"ESS bulk min {self.ess_bulk_min:.0f} ({self.worst.get('ess_bulk', '-')}), "
            f"tail min {self.ess_tail_min:.0f} ({self.worst.get('ess_tail', '-')})",
            f"divergences {self.divergences}, E-BFMI min {self.bfmi_min:.2f}",
            *self._effort(),
            f"gates: {'passed' if self.passed else 'FAILED: ' + '; '.join(self.failures)}",
        ]

    def _effort(self) -> list[str]:
        if self.steps_per_draw is None:
            return []
        line = (
            f"step size {self.step_size_min:.3g}-{self.step_size_max:.3g}, "
            f"{self.steps_per_draw:.0f} leapfrog steps a draw"
        )
        if self.max_tree_depth is not None:
            total = self.draws * self.chains
            line += f", {self.tree_depth_hits} of {total} draws at the depth cap {self.max_tree_depth}"
        return [line]


def _per_variable(posterior: xr.DataTree, var_names: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """R-hat, bulk and tail ESS of every element of every variable. Elements are independent, so
    they go in blocks to a thread per core (NumPy's sorts and FFTs release the GIL)."""
    arrays = {}
    for name in var_names:
        x = np.asarray(posterior[name].transpose("chain", "draw", ...).values, dtype=float)
        arrays[name] = x.reshape(x.shape[0], x.shape[1], -1)
    blocks = [(name, start) for name, x in arrays.items() for start in range(0, x.shape[2], _BLOCK)]

    def run(block: tuple[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        name, start = block
        with np.errstate(divide="ignore", invalid="ignore"):
            return convergence(arrays[name][:, :, start : start + _BLOCK])

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(run, blocks))
    out: dict[str, dict[str, list[np.ndarray]]] = {
        n: {"r_hat": [], "ess_bulk": [], "ess_tail": []} for n in arrays
    }
    for (name, _), (r_hat, bulk, tail) in zip(blocks, results, strict=True):
        out[name]["r_hat"].append(r_hat)
        out[name]["ess_bulk"].append(bulk)
        out[name]["ess_tail"].append(tail)
    return {n: {k: np.concatenate(v) for k, v in stats.items()} for n, stats in out.items()}


def _extreme(stats: dict[str, dict[str, np.ndarray]], key: str, pick) -> tuple[float, str]:
    best_value, best_name = None, "-"
    for name, values in stats.items():
        v = values[key][np.isfinite(values[key])]
        if not v.size:
            continue
        value = pick(v)
        if best_value is None or pick([best_value, value]) == value:
            best_value, best_name = value, name
    return (float("nan") if best_value is None else float(best_value)), best_name


def diagnose(
    idata: xr.DataTree, var_names: Iterable[str], gates: Mapping[str, float] | None = None
) -> Diagnostics:
    """R-hat, bulk/tail ESS, divergences and E-BFMI over ``var_names``, checked against ``gates``.

    R-hat is the rank-normalised split R-hat (max of bulk and folded), tail ESS the smaller of the
    ESS of the 5% and 95% quantiles (Vehtari et al. 2021) -- ArviZ's estimators, computed by
    :mod:`bayes._convergence` for all elements at once."""
    gates = {**DEFAULT_GATES, **(gates or {})}
    var_names = list(var_names)
    posterior = idata["posterior"]
    per_variable = _per_variable(posterior, var_names)
    r_hat_max, r_name = _extreme(per_variable, "r_hat", max)
    bulk_min, bulk_name = _extreme(per_variable, "ess_bulk", min)
    tail_min, tail_name = _extreme(per_variable, "ess_tail", min)
    stats = idata["sample_stats"]
    divergences = int(stats["diverging"].values.sum()) if "diverging" in stats else 0
    bfmi = (
        np.asarray(az.bfmi(idata)["energy"].values, dtype=float) if "energy" in stats else np.array([np.nan])
    )
    bfmi_min = float(np.nanmin(bfmi))
    failures = []
    if not r_hat_max <= gates["r_hat_max"]:
        failures.append(f"R-hat {r_hat_max:.3f} > {gates['r_hat_max']} ({r_name})")
    if not bulk_min >= gates["ess_bulk_min"]:
        failures.append(f"bulk ESS {bulk_min:.0f} < {gates['ess_bulk_min']:.0f} ({bulk_name})")
    if not tail_min >= gates["ess_tail_min"]:
        failures.append(f"tail ESS {tail_min:.0f} < {gates['ess_tail_min']:.0f} ({tail_name})")
    if divergences > gates["divergences_max"]:
        failures.append(f"{divergences} divergent transitions")
    if not bfmi_min >= gates["bfmi_min"]:
        failures.append(f"E-BFMI {bfmi_min:.2f} < {gates['bfmi_min']}")
    return Diagnostics(
        **_sampler_effort(stats),
        r_hat_max=r_hat_max,
        ess_bulk_min=bulk_min,
        ess_tail_min=tail_min,
        divergences=divergences,
        bfmi_min=bfmi_min,
        draws=posterior.sizes["draw"],
        chains=posterior.sizes["chain"],
        worst={"r_hat": r_name, "ess_bulk": bulk_name, "ess_tail": tail_name},
        failures=tuple(failures),
    )


def _sampler_effort(stats: xr.DataTree) -> dict[str, float | int | None]:
    """Step sizes, leapfrog steps per draw and draws at the tree-depth cap, where the sampler kept them."""
    out: dict[str, float | int | None] = {}
    if "step_size" in stats:
        step = stats["step_size"].values
        out["step_size_min"], out["step_size_max"] = float(step.min()), float(step.max())
    if "n_steps" in stats:
        out["steps_per_draw"] = float(stats["n_steps"].values.mean())
    if "max_tree_depth" in stats.attrs and "tree_depth" in stats:
        cap = out["max_tree_depth"] = int(stats.attrs["max_tree_depth"])
        out["tree_depth_hits"] = int((stats["tree_depth"].values >= cap).sum())
    return out


def from_dict(data: Mapping) -> Diagnostics:
    fields = {k: v for k, v in data.items() if k != "passed"}
    fields["failures"] = tuple(fields.get("failures", ()))
    return Diagnostics(**fields)

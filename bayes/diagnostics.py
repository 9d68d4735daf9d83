"""Convergence diagnostics and the gates a fit must pass before it may be served."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

import arviz as az
import numpy as np
import xarray as xr

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
            f"gates: {'passed' if self.passed else 'FAILED: ' + '; '.join(self.failures)}",
        ]


def _extreme(tree: xr.DataTree, var_names: Iterable[str], pick) -> tuple[float, str]:
    best_value, best_name = None, "-"
    for name in var_names:
        values = np.asarray(tree[name].values, dtype=float).ravel()
        values = values[np.isfinite(values)]
        if not values.size:
            continue
        value = pick(values)
        if best_value is None or pick([best_value, value]) == value:
            best_value, best_name = value, name
    return (float("nan") if best_value is None else float(best_value)), best_name


def diagnose(
    idata: xr.DataTree, var_names: Iterable[str], gates: Mapping[str, float] | None = None
) -> Diagnostics:
    """R-hat, bulk/tail ESS, divergences and E-BFMI over ``var_names``, checked against ``gates``."""
    gates = {**DEFAULT_GATES, **(gates or {})}
    var_names = list(var_names)
    posterior = idata["posterior"]
    rhat = az.rhat(idata, var_names=var_names)
    ess_bulk = az.ess(idata, var_names=var_names, method="bulk")
    ess_tail = az.ess(idata, var_names=var_names, method="tail")
    r_hat_max, r_name = _extreme(rhat, var_names, max)
    bulk_min, bulk_name = _extreme(ess_bulk, var_names, min)
    tail_min, tail_name = _extreme(ess_tail, var_names, min)
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


def from_dict(data: Mapping) -> Diagnostics:
    fields = {k: v for k, v in data.items() if k != "passed"}
    fields["failures"] = tuple(fields.get("failures", ()))
    return Diagnostics(**fields)

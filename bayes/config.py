"""The model's settings as one typed, frozen value, checked once where a model is made.

``DemandModel`` keeps the plain mapping too (it is what the posterior file stores, as JSON, and what
``load`` reads back), but every reader takes its values from :class:`ModelConfig`, so an unknown key,
a misspelt choice or a damping outside [0, 1] fails at construction, naming the key, and never deep in a
fit or a forecast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from totaldemand.errors import UserError

# The values of model_config's choice options: how forecasts draw future partner shocks and carry fleet
# ages forward, and how a family's rate moves over the years.
CHOICES: dict[str, tuple[str, ...]] = {
    "dynamic_shocks": ("mean_one", "log_normal"),
    "future_fleet_age": ("ageing", "held"),
    "family_path": ("ar1", "trend", "trend_ar1"),
    "recency": ("off", "own"),
    "budgets": ("off", "on"),
    "channels": ("off", "on"),
    "waves": ("off", "on"),
    "text_evidence": ("lagged", "requests"),
    "demand_basis": ("us", "every_supplier"),
}
# Choices added after files were stored, with the value such a file has (the term it did not have off).
LATER_DEFAULTS = {
    "recency": "off",
    "budgets": "off",
    "channels": "off",
    "waves": "off",
    "text_evidence": "lagged",
    "demand_basis": "us",
}
LIKELIHOODS = ("sparse", "reference")
# Parametrisation per block, measured: on the real panel centred partner and family levels took half
# the leapfrog steps of non-centred ones (60 vs 125 per draw); family slopes on within-cell readiness
# are weakly identified, and centred they funnel (161 divergences on the simulated world).
DEFAULT_CENTRED = {"partner": True, "family": True, "slopes": False}
KEYS = (
    "priors",
    "gates",
    "likelihood",
    "trend_damping",
    "dynamic_shocks",
    "future_fleet_age",
    "family_path",
    "components",
    "centred",
    "zero_inflation",
    "recency",
    "budgets",
    "channels",
    "waves",
    "text_evidence",
    "demand_basis",
)


class ModelConfigError(UserError):
    """A model_config that cannot be used; the message names the key and the reason."""


def invalid_choices(model_config: Mapping[str, Any]) -> list[str]:
    """Why each option of :data:`CHOICES` in ``model_config`` is not one of its values (empty if all are)."""
    return [
        f"model_config[{key!r}]: {model_config.get(key)!r} is not one of {allowed}"
        for key, allowed in CHOICES.items()
        if model_config.get(key) not in allowed
    ]


@dataclass(frozen=True)
class ModelConfig:
    priors: Mapping[str, Any]
    gates: Mapping[str, float]
    likelihood: str = "sparse"
    trend_damping: float = 0.0
    dynamic_shocks: str = "mean_one"
    future_fleet_age: str = "ageing"
    family_path: str = "trend"
    recency: str = "off"
    budgets: str = "off"
    channels: str = "off"
    waves: str = "off"
    text_evidence: str = "lagged"
    demand_basis: str = "us"  # "every_supplier": fitted to every supplier's orders, thinned by P(U.S.)
    components: Mapping[str, bool] = field(default_factory=dict)  # switches off, for ablations
    centred: Mapping[str, bool] = field(default_factory=lambda: dict(DEFAULT_CENTRED))
    zero_inflation: bool = False

    @property
    def float_x(self) -> str:
        return "float32" if self.likelihood == "sparse" else "float64"

    def switched_on(self, switch: str) -> bool:
        return bool(self.components.get(switch, True))

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any], switchable: tuple[str, ...]) -> ModelConfig:
        """Check every key of a complete model_config (defaults filled in) and freeze it."""
        unknown = sorted(set(config) - set(KEYS))
        if unknown:
            raise ModelConfigError(f"model_config: unknown key(s) {unknown}; known: {list(KEYS)}")
        # settings added after files were stored: such a file has them off
        if problems := invalid_choices({**LATER_DEFAULTS, **config}):
            raise ModelConfigError("; ".join(problems))
        likelihood = config.get("likelihood", "sparse")
        if likelihood not in LIKELIHOODS:
            raise ModelConfigError(f"model_config['likelihood']: {likelihood!r} is not one of {LIKELIHOODS}")
        damping = config.get("trend_damping", 0.0)
        if isinstance(damping, bool) or not isinstance(damping, int | float) or not 0.0 <= damping <= 1.0:
            raise ModelConfigError(f"model_config['trend_damping']: {damping!r} is not a number in [0, 1]")
        switches = config.get("components") or {}
        if not isinstance(switches, Mapping):
            raise ModelConfigError(f"model_config['components']: {switches!r} is not a mapping of switches")
        if bad := sorted(set(switches) - set(switchable)):
            raise ModelConfigError(
                f"model_config['components']: unknown component(s) {bad}; known: {list(switchable)}"
            )
        centred = {**DEFAULT_CENTRED, **(config.get("centred") or {})}
        if bad := sorted(set(centred) - set(DEFAULT_CENTRED)):
            raise ModelConfigError(
                f"model_config['centred']: unknown block(s) {bad}; known: {list(DEFAULT_CENTRED)}"
            )
        zero_inflation = config.get("zero_inflation", False)
        if likelihood == "reference" and zero_inflation:
            raise ModelConfigError("model_config: the reference likelihood has no zero-inflated form")
        return cls(
            priors=MappingProxyType(dict(config["priors"])),
            gates=MappingProxyType(dict(config.get("gates") or {})),
            likelihood=str(likelihood),
            trend_damping=float(damping),
            dynamic_shocks=str(config["dynamic_shocks"]),
            future_fleet_age=str(config["future_fleet_age"]),
            family_path=str(config["family_path"]),
            **{key: str(config.get(key, default)) for key, default in LATER_DEFAULTS.items()},
            components=MappingProxyType({str(k): bool(v) for k, v in switches.items()}),
            centred=MappingProxyType({k: bool(v) for k, v in centred.items()}),
            zero_inflation=bool(zero_inflation),
        )

"""Load and validate a prior file (TOML) into a :class:`PriorSet` that a model can instantiate."""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from totaldemand.errors import UserError

# Distribution name -> (required arguments, arguments that must be > 0).
PRIOR_DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Normal": (("mu", "sigma"), ("sigma",)),
    "HalfNormal": (("sigma",), ("sigma",)),
    "Exponential": (("lam",), ("lam",)),
    "Gamma": (("alpha", "beta"), ("alpha", "beta")),
    "Beta": (("alpha", "beta"), ("alpha", "beta")),
    "StudentT": (("nu", "mu", "sigma"), ("nu", "sigma")),
    "HalfStudentT": (("nu", "sigma"), ("nu", "sigma")),
}


class PriorError(UserError):
    """A prior file that cannot be used; the message names the file, the entry and the reason."""


@dataclass(frozen=True, slots=True)
class Prior:
    name: str
    dist: str
    params: Mapping[str, float]
    rationale: str

    def create(self, dims: str | tuple[str, ...] | None = None):  # -> pytensor variable
        """Create this prior as a PyMC random variable inside the current model context."""
        import pymc as pm

        return getattr(pm, self.dist)(self.name, **dict(self.params), dims=dims)

    def draw(self, rng, size=None):  # -> numpy array
        """Draw from this prior with numpy (for the simulator and prior checks)."""
        p = self.params
        match self.dist:
            case "Normal":
                return rng.normal(p["mu"], p["sigma"], size)
            case "HalfNormal":
                return abs(rng.normal(0.0, p["sigma"], size))
            case "Exponential":
                return rng.exponential(1.0 / p["lam"], size)
            case "Gamma":
                return rng.gamma(p["alpha"], 1.0 / p["beta"], size)
            case "Beta":
                return rng.beta(p["alpha"], p["beta"], size)
            case "StudentT":
                return p["mu"] + p["sigma"] * rng.standard_t(p["nu"], size)
            case "HalfStudentT":
                return abs(p["sigma"] * rng.standard_t(p["nu"], size))
        raise PriorError(f"cannot draw from {self.dist}")

    def logpdf(self, x):  # -> numpy array, elementwise
        """The log density at ``x`` (for reweighting posterior draws from one prior to another)."""
        from scipy import stats

        p = self.params
        match self.dist:
            case "Normal":
                return stats.norm.logpdf(x, p["mu"], p["sigma"])
            case "HalfNormal":
                return stats.halfnorm.logpdf(x, 0.0, p["sigma"])
            case "Exponential":
                return stats.expon.logpdf(x, 0.0, 1.0 / p["lam"])
            case "Gamma":
                return stats.gamma.logpdf(x, p["alpha"], 0.0, 1.0 / p["beta"])
            case "Beta":
                return stats.beta.logpdf(x, p["alpha"], p["beta"])
            case "StudentT":
                return stats.t.logpdf(x, p["nu"], p["mu"], p["sigma"])
            case "HalfStudentT":
                return stats.t.logpdf(x, p["nu"], 0.0, p["sigma"]) + np.log(2.0)
        raise PriorError(f"no density for {self.dist}")


@dataclass(frozen=True)
class PriorSet:
    version: str
    priors: Mapping[str, Prior]
    source: str

    def __getitem__(self, name: str) -> Prior:
        try:
            return self.priors[name]
        except KeyError:
            raise PriorError(f"{self.source}: no prior for '{name}' (have {sorted(self.priors)})") from None

    def require(self, names: tuple[str, ...]) -> None:
        missing = [n for n in names if n not in self.priors]
        if missing:
            raise PriorError(f"{self.source}: missing prior(s) {missing} needed by the model")

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            **{n: {"dist": p.dist, **p.params, "rationale": p.rationale} for n, p in self.priors.items()},
        }

    @property
    def hash(self) -> str:
        """Content hash over distributions and arguments (not rationales), for caches and provenance."""
        core = {n: [p.dist, sorted(p.params.items())] for n, p in sorted(self.priors.items())}
        return hashlib.sha256(json.dumps([self.version, core]).encode()).hexdigest()[:16]


def default_priors_path() -> Path:
    return Path(str(files("priors") / "default.toml"))


def _parse_entry(source: str, name: str, entry: Any) -> Prior:
    where = f"{source}: [{name}]"
    if not isinstance(entry, dict):
        raise PriorError(f"{where}: expected a table with 'dist', its arguments and 'rationale'")
    entry = dict(entry)
    dist = entry.pop("dist", None)
    rationale = entry.pop("rationale", None)
    if dist not in PRIOR_DISTRIBUTIONS:
        raise PriorError(f"{where}: dist {dist!r} is not one of {sorted(PRIOR_DISTRIBUTIONS)}")
    if not isinstance(rationale, str) or not rationale.strip():
        raise PriorError(f"{where}: 'rationale' is required (one line saying why this prior)")
    required, positive = PRIOR_DISTRIBUTIONS[dist]
    missing = [a for a in required if a not in entry]
    if missing:
        raise PriorError(f"{where}: {dist} needs argument(s) {missing}")
    extra = [a for a in entry if a not in required]
    if extra:
        raise PriorError(f"{where}: unknown argument(s) {extra} for {dist} (expected {list(required)})")
    params: dict[str, float] = {}
    for arg in required:
        value = entry[arg]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise PriorError(f"{where}: {arg} = {value!r} is not a finite number")
        if arg in positive and value <= 0:
            raise PriorError(f"{where}: {arg} = {value!r} must be > 0")
        params[arg] = float(value)
    return Prior(name, dist, params, rationale.strip())


def load_priors(path: Path | str | None = None) -> PriorSet:
    """Read and validate a prior TOML file (the shipped default when ``path`` is None)."""
    path = Path(path) if path is not None else default_priors_path()
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PriorError(f"{source}: prior file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise PriorError(f"{source}: not valid TOML: {exc}") from None
    return parse_priors(data, source)


def parse_priors(data: Mapping[str, Any], source: str = "<priors>") -> PriorSet:
    """Validate a prior mapping as read from TOML (or from a posterior file's attributes)."""
    data = dict(data)
    version = data.pop("version", None)
    if not isinstance(version, str) or not version:
        raise PriorError(f"{source}: top-level 'version' string is required")
    priors = {name: _parse_entry(source, name, entry) for name, entry in data.items()}
    return PriorSet(version, priors, source)

"""The model's terms, each in its own module, and the functions that put them together.

    log mu[p, f, t] = levels + trend + partner dynamics + family paths + regional waves + readiness
                      + text signals + recency + budgets + U.S. channels (the last five off by default)
    mu[p, f, t]    += orders expected from requests on the book (notices; off by default)
    lor_count[p, f, t] ~ NegativeBinomial(mu, dispersion)                     (bayes.observation)
    alongside: units per request, the conversion of requests

A term is a small class (:class:`bayes.terms._term.Term`) rather than a plain function, the
PyMC-Marketing way rather than NumPyro's. A NumPyro model is one function because NumPyro runs the
same function to fit, to simulate and to predict, with effect handlers swapping what a ``sample``
site does. Our model has no such single interpreter: the fit is a PyMC graph sampled through JAX,
while the forecasts, the simulator, SBC and the prior check run in numpy on stored draws, without
PyMC. Each term therefore has several faces that must agree -- its priors and switch, its random
variables in the graph, its addends to log mu (written once, placed on the dense cube or gathered at
cells by :class:`Dense` / :class:`Cells`), and the inputs it reads on the fitted years and on
forecast years (its AR(1) rolled on, its fleets aged). A class holds those faces side by side, so the
term is defined once and a missed face is visible in one file; the registry below is the only list
of terms, and every parameter list (priors required, variables stored, gated, optional, calibrated) is
derived from it. Adding a term is one new module plus its test, and its entry in :data:`TERMS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bayes.observation import draw_counts
from bayes.terms._term import BuildContext, Cells, Dense, FutureContext, Inputs, Place, Term
from bayes.terms.budgets import Budgets
from bayes.terms.channels import Channels
from bayes.terms.conversion import Conversion
from bayes.terms.family_paths import FamilyPaths
from bayes.terms.levels import Levels
from bayes.terms.notices import Notices
from bayes.terms.partner_dynamics import PartnerDynamics
from bayes.terms.readiness import Readiness
from bayes.terms.recency import Recency
from bayes.terms.text_signals import TextSignals
from bayes.terms.trend import Trend
from bayes.terms.units import Units
from bayes.terms.waves import Waves

# The order is the order of the addends in log mu and of the random numbers forecasts draw.
TERMS: tuple[Term, ...] = (
    Levels(),
    Trend(),
    PartnerDynamics(),
    FamilyPaths(),
    Waves(),
    Readiness(),
    TextSignals(),
    Notices(),
    Recency(),
    Budgets(),
    Channels(),
    Units(),
    Conversion(),
)
# The observation model's own parameters (bayes.observation): NB dispersion, as 1/sqrt(phi).
OBSERVATION_PRIORS = ("inv_sqrt_dispersion",)
OBSERVATION_STORED = ("inv_sqrt_dispersion", "dispersion")

PRIOR_NAMES: tuple[str, ...] = (*(n for t in TERMS for n in t.priors), *OBSERVATION_PRIORS)
PER_DRAW_INPUTS: frozenset[str] = frozenset(n for t in TERMS for n in t.per_draw_inputs)
STORED: tuple[str, ...] = (*(n for t in TERMS for n in t.stored), *OBSERVATION_STORED)
OPTIONAL: dict[str, tuple[str, ...]] = {k: v for t in TERMS for k, v in t.optional.items()}
SWITCHABLE: tuple[str, ...] = tuple(t.switch for t in TERMS if t.switch)
CHECKED: tuple[str, ...] = (*(n for t in TERMS for n in t.checked), "inv_sqrt_dispersion")


def required_priors(config: Any) -> tuple[str, ...]:
    """The priors a model with these settings needs: those of every term the settings may turn on
    (a file fitted before a term existed carries no prior for it, and needs none)."""
    return (*(n for t in TERMS if t.wanted(config) for n in t.priors), *OBSERVATION_PRIORS)


def presence(design: Any, config: Any) -> dict[str, bool]:
    """Which optional parts the model has: those the data can inform, the settings ask for and the
    switches (``model_config['components']``) leave on."""
    out: dict[str, bool] = {}
    for term in TERMS:
        out |= term.presence(design, config)
    return out


def stored_names(present: Mapping[str, bool], zero_inflated: bool = False) -> list[str]:
    """The posterior variables a fit stores: every term's, less those of parts the model lacks."""
    absent = {v for part, on in present.items() if not on for v in OPTIONAL.get(part, ())}
    names = [n for n in STORED if n not in absent]
    return [*names, "zero_inflation"] if zero_inflated else names


def gated_names(present: Mapping[str, bool], zero_inflated: bool = False) -> list[str]:
    """What the gates judge: every stored quantity but constants (the dispersion, a function of
    inv_sqrt_dispersion, and the zeros a term stores when it is off)."""
    constant = {"dispersion"}
    for term in TERMS:
        if any(not present.get(part, True) for part in term.optional):
            constant |= set(term.constant_without)
    return [n for n in stored_names(present, zero_inflated) if n not in constant]


def build(ctx: BuildContext) -> None:
    """Every term's random variables, parameters and inputs, in the model's context."""
    for term in TERMS:
        term.build(ctx)


def log_rate(params: Mapping[str, Any], inputs: Inputs, at: Place | None = None) -> Any:
    """log mu from every term active in this evaluation, placed by ``at`` (default: the dense cube).

    Works unchanged on pytensor tensors (the fit) and numpy arrays with leading sample axes (fitted
    years, forecasts, the simulator); addends are summed in :data:`TERMS` order."""
    at = at or Dense()
    out, added = None, None
    for term in TERMS:
        if term.active(params, inputs):
            for addend in term.rate(params, inputs, at):
                out = addend if out is None else out + addend
            more = term.added_rate(params, inputs, at)
            if more is not None:
                added = more if added is None else added + more
    return out if added is None else _plus_counts(out, added)


def _plus_counts(log_mu: Any, added: Any) -> Any:
    """log(mu + added): exact on arrays (log 0 is -inf, and logaddexp takes it); in the graph as
    log mu + log1p(added / mu), whose gradient stays finite where nothing is added, with mu floored
    at e^-60 so that 1 / mu cannot overflow float32 in a far corner of the warm-up."""
    kind = type(log_mu).__module__
    if kind.startswith("pytensor"):
        import pytensor.tensor as pt

        return log_mu + pt.log1p(added * pt.exp(-pt.maximum(log_mu, -60.0)))
    if kind.startswith("jax"):  # the pointwise log-likelihood runs the numpy form under jax.jit
        import jax.numpy as jnp

        return jnp.logaddexp(log_mu, jnp.log(added))
    with np.errstate(divide="ignore"):
        return np.logaddexp(log_mu, np.log(added))


def fitted_inputs(params: Mapping[str, Any], design: Any) -> dict[str, Any]:
    """What the terms read on the fitted years, for these draws."""
    out: dict[str, Any] = {}
    for term in TERMS:
        out |= term.fitted_inputs(params, design)
    return out


def draw(
    rng: np.random.Generator,
    log_mu: np.ndarray,
    params: Mapping[str, Any],
    inputs: Inputs,
    dispersion: Any,
    zero_inflation: Any = None,
) -> np.ndarray:
    """Counts about ``log_mu``: all at once (:func:`bayes.observation.draw_counts`), or year by year
    where a term reads the counts themselves (recency)."""
    for term in TERMS:
        if term.feeds_back(params, inputs):
            return term.draw_sequential(rng, log_mu, params, inputs, dispersion, zero_inflation)
    return draw_counts(rng, log_mu, dispersion, zero_inflation)


def future_inputs(ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
    """What the terms read on forecast years, drawn in :data:`TERMS` order from ``rng``."""
    out: dict[str, Any] = {}
    for term in TERMS:
        out |= term.future_inputs(ctx, rng)
    return out


__all__ = [
    "CHECKED",
    "OBSERVATION_PRIORS",
    "OPTIONAL",
    "PER_DRAW_INPUTS",
    "PRIOR_NAMES",
    "STORED",
    "SWITCHABLE",
    "TERMS",
    "BuildContext",
    "Cells",
    "Dense",
    "FutureContext",
    "Term",
    "build",
    "draw",
    "fitted_inputs",
    "future_inputs",
    "gated_names",
    "log_rate",
    "presence",
    "required_priors",
    "stored_names",
]

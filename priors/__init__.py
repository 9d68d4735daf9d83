"""Versioned prior files: each parameter's distribution, its arguments and why."""

from priors.priorset import (
    PRIOR_DISTRIBUTIONS,
    Prior,
    PriorError,
    PriorSet,
    default_priors_path,
    load_priors,
    parse_priors,
)

__all__ = [
    "PRIOR_DISTRIBUTIONS",
    "Prior",
    "PriorError",
    "PriorSet",
    "default_priors_path",
    "load_priors",
    "parse_priors",
]

"""Helpers shared by the model's tests."""

from __future__ import annotations

import numpy as np


def random_levels(rng: np.random.Generator, s: int, p: int, f: int) -> dict[str, np.ndarray]:
    """``s`` draws of the level parameters every log rate has, for ``p`` partners x ``f`` families."""
    return {
        "intercept": rng.normal(-3.0, 0.5, s),
        "partner_effect": rng.normal(0.0, 0.5, (s, p)),
        "family_effect": rng.normal(0.0, 0.5, (s, f)),
        "partner_family_effect": rng.normal(0.0, 0.5, (s, p, f)),
    }

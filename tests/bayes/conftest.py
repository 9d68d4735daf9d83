"""Helpers shared by the model's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bayes.model import DemandModel
from bayes.panel import build_panel
from bayes.simulate import WorldSpec, write_world
from evidence.loaders import load_dataset
from tests.conftest import SIM_SEED


def recovered(
    tmp_path: Path, spec: WorldSpec, config: dict[str, Any], truths: dict[str, float], seed: int
) -> tuple[DemandModel, dict]:
    """Parameter recovery for an optional term: the default world's seed drawn with ``spec``, fitted
    with ``config`` (4 chains, 1000 + 1000 draws, target acceptance 0.9); the gates pass and each of
    ``truths`` lies inside its 98% interval. Returns the model and the world's truth."""
    truth = write_world(tmp_path / "w", spec, SIM_SEED)
    panel = build_panel(load_dataset(tmp_path / "w"), first_year=2000)
    model = DemandModel(config, {"draws": 1000, "tune": 1000, "random_seed": seed, "target_accept": 0.9})
    model.fit(panel, progressbar=False, analysis_groups=False)
    assert model.status == "ok", model.diagnostics.failures
    for name, value in truths.items():
        lo, hi = np.quantile(getattr(model.draws, name), [0.01, 0.99])
        assert lo < value < hi, (name, value, lo, hi)
    return model, truth


def random_levels(rng: np.random.Generator, s: int, p: int, f: int) -> dict[str, np.ndarray]:
    """``s`` draws of the level parameters every log rate has, for ``p`` partners x ``f`` families."""
    return {
        "intercept": rng.normal(-3.0, 0.5, s),
        "partner_effect": rng.normal(0.0, 0.5, (s, p)),
        "family_effect": rng.normal(0.0, 0.5, (s, f)),
        "partner_family_effect": rng.normal(0.0, 0.5, (s, p, f)),
    }

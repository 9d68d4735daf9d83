"""The gates and the sampler-effort figures that every fit reports."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from bayes.diagnostics import diagnose, from_dict


def _tree(steps: np.ndarray, step_size: np.ndarray, cap: int | None) -> xr.DataTree:
    rng = np.random.default_rng(0)
    chains, draws = steps.shape
    posterior = xr.Dataset({"x": (("chain", "draw"), rng.normal(size=(chains, draws)))})
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.zeros((chains, draws), dtype=bool)),
            "energy": (("chain", "draw"), rng.normal(size=(chains, draws))),
            "step_size": (("chain", "draw"), np.repeat(step_size[:, None], draws, axis=1)),
            "n_steps": (("chain", "draw"), steps),
            "tree_depth": (("chain", "draw"), np.floor(np.log2(steps)).astype(int) + 1),
        }
    )
    if cap is not None:
        stats.attrs["max_tree_depth"] = cap
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


def test_effort_counts_the_draws_whose_tree_hit_the_depth_cap() -> None:
    steps = np.full((4, 500), 31)
    steps[1, :7] = 63  # depth 6: the cap below
    diag = diagnose(_tree(steps, np.array([0.08, 0.1, 0.11, 0.09]), cap=6), ["x"])
    assert (diag.tree_depth_hits, diag.max_tree_depth) == (7, 6)
    assert (diag.step_size_min, diag.step_size_max) == (0.08, 0.11)
    assert diag.steps_per_draw == steps.mean()
    assert "7 of 2000 draws at the depth cap 6" in " ".join(diag.lines())
    assert diag.passed  # effort is reported, not gated
    assert from_dict(json.loads(json.dumps(diag.as_dict()))) == diag


def test_a_stored_diagnostics_record_without_effort_still_loads() -> None:
    diag = diagnose(_tree(np.full((2, 400), 15), np.array([0.2, 0.3]), cap=None), ["x"])
    old = {
        k: v
        for k, v in diag.as_dict().items()
        if k not in ("step_size_min", "step_size_max", "steps_per_draw")
    }
    loaded = from_dict(old)
    assert loaded.steps_per_draw is None and loaded.tree_depth_hits is None
    assert not any("leapfrog" in line for line in loaded.lines())
    assert any("leapfrog" in line for line in diag.lines()) and "depth cap" not in " ".join(diag.lines())


def test_a_fit_reports_its_sampler_effort(fitted) -> None:
    stats = fitted.idata["sample_stats"]
    diag = fitted.diagnostics
    assert diag.steps_per_draw == float(stats["n_steps"].values.mean())
    assert diag.max_tree_depth == 10 and diag.tree_depth_hits == int((stats["tree_depth"].values >= 10).sum())
    assert 0 < diag.step_size_min <= diag.step_size_max

"""Our vectorised R-hat and ESS equal ArviZ's estimators element by element."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import xarray as xr

from bayes._convergence import convergence, ess_bulk, ess_tail, rhat_rank


@pytest.fixture(scope="module")
def world() -> tuple[np.ndarray, np.ndarray]:
    """AR(1) chains from anti-correlated to very sticky (rho), the first 20 with chains offset
    (not mixed), one constant parameter, one with ties; an odd draw count (the split drops the
    middle draw)."""
    rng = np.random.default_rng(0)
    chains, n_draws, n = 4, 301, 120
    rho = rng.uniform(-0.3, 0.97, n)
    x = np.zeros((chains, n_draws, n))
    x[:, 0] = rng.normal(size=(chains, n))
    for t in range(1, n_draws):
        x[:, t] = rho * x[:, t - 1] + rng.normal(size=(chains, n))
    x[:, :, :20] += rng.normal(0, 0.5, (chains, 1, 20))
    x[:, :, 20] = 3.0
    x[:, :, 21] = np.round(x[:, :, 21])
    return x, rho


def test_equal_to_arviz(world: tuple[np.ndarray, np.ndarray]) -> None:
    draws, rho = world
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"v": (("chain", "draw", "k"), draws)})})
    with np.errstate(divide="ignore", invalid="ignore"):
        ours = {"rhat": rhat_rank(draws), "bulk": ess_bulk(draws), "tail": ess_tail(draws)}
    theirs = {
        "rhat": az.rhat(tree)["v"].values,
        "bulk": az.ess(tree, method="bulk")["v"].values,
        "tail": az.ess(tree, method="tail", prob=(0.05, 0.95))["v"].values,
    }
    shared = dict(zip(("rhat", "bulk", "tail"), convergence(draws), strict=True))
    for name in ours:
        np.testing.assert_allclose(shared[name], ours[name], rtol=1e-12, equal_nan=True, err_msg=name)
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-9, equal_nan=True, err_msg=name)
    # and they see what they should: offset chains fail the 1.01 gate, a constant counts every
    # (split) draw, and the stickiest chains have a fraction of the ESS of the least sticky
    assert ours["rhat"][:20].min() > 1.01
    assert ours["bulk"][20] == 4 * 300
    mixed = np.arange(30, len(rho))
    sticky, quick = mixed[np.argmax(rho[mixed])], mixed[np.argmin(np.abs(rho[mixed]))]
    assert ours["bulk"][sticky] < ours["bulk"][quick] / 5

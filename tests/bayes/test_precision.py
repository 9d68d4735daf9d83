"""JAX's 64-bit flag follows the model's precision for the length of a fit, on every thread."""

from __future__ import annotations

import jax
import pytensor

from bayes._nuts import _in_model_precision


def test_a_fit_sets_the_global_flag_and_restores_it() -> None:
    # NumPyro's progress bar reads the global flag from its callback thread: after a float64 fit, a
    # float32 fit in the same process failed with "Expected: int32, Actual: int64" until the global flag
    # followed the model too
    seen: list[bool] = []

    @_in_model_precision
    def probe() -> None:
        seen.append(bool(jax.config.jax_enable_x64))

    before = bool(jax.config.jax_enable_x64)
    for float_x in ("float64", "float32", "float64"):
        with pytensor.config.change_flags(floatX=float_x):
            probe()
    assert seen == [True, False, True]
    assert bool(jax.config.jax_enable_x64) == before

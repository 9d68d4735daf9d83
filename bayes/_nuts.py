"""NUTS through NumPyro on a PyMC model's JAX log density, with the sampler state kept for warm starts.

PyMC's ``pm.sample(nuts_sampler="numpyro")`` hides NumPyro's final state. Running NumPyro here
keeps, per chain, the adapted step size, the diagonal inverse mass matrix and the last position
(all on the unconstrained scale), which a later refit on slightly changed data starts from: a
short step-size-only warm-up instead of a full adaptation.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import numpy as np
import xarray as xr

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplerState:
    """Per chain: step size, diagonal inverse mass matrix and last position, over value variables
    laid out as ``layout`` (name, shape) in order."""

    layout: tuple[tuple[str, tuple[int, ...]], ...]
    step_size: np.ndarray  # (chains,)
    inverse_mass: np.ndarray  # (chains, n)
    position: np.ndarray  # (chains, n)

    def to_dataset(self) -> xr.Dataset:
        ds = xr.Dataset(
            {
                "step_size": ("chain", self.step_size),
                "inverse_mass": (("chain", "unconstrained"), self.inverse_mass),
                "position": (("chain", "unconstrained"), self.position),
            }
        )
        ds.attrs["layout"] = ";".join(f"{n}:{'x'.join(map(str, s))}" for n, s in self.layout)
        return ds

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> SamplerState:
        layout = []
        for item in str(ds.attrs["layout"]).split(";"):
            name, shape = item.split(":")
            layout.append((name, tuple(int(v) for v in shape.split("x") if v)))
        return cls(
            tuple(layout),
            np.asarray(ds["step_size"].values),
            np.asarray(ds["inverse_mass"].values),
            np.asarray(ds["position"].values),
        )

    def aligned(self, layout: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[np.ndarray, np.ndarray]:
        """Mass and positions mapped onto another model's layout, variable by variable. Same name
        and shape: copied. Grown (a new year of AR(1) innovations, say): the old block is copied
        into the leading corner and the new entries start at 0 with the median mass, as do
        variables the stored fit did not have."""
        offsets, start = {}, 0
        for name, shape in self.layout:
            size = int(np.prod(shape))
            offsets[name] = (start, size, shape)
            start += size
        chains = self.step_size.shape[0]
        fill = np.median(self.inverse_mass, axis=1)
        mass, position = [], []
        for name, shape in layout:
            m = np.repeat(fill[:, None], int(np.prod(shape)), axis=1).reshape(chains, *shape)
            z = np.zeros((chains, *shape))
            old = offsets.get(name)
            grown = old is not None and len(old[2]) == len(shape)
            if grown and all(a <= b for a, b in zip(old[2], shape, strict=True)):
                corner = (slice(None), *(slice(0, a) for a in old[2]))
                sl = slice(old[0], old[0] + old[1])
                m[corner] = self.inverse_mass[:, sl].reshape(chains, *old[2])
                z[corner] = self.position[:, sl].reshape(chains, *old[2])
            mass.append(m.reshape(chains, -1))
            position.append(z.reshape(chains, -1))
        return np.concatenate(mass, axis=1), np.concatenate(position, axis=1)


def parallel_width(chains: int, chain_method: str, limit: int | None = None) -> int:
    """How many chains run at once: all of them (as many as there are JAX devices), or ``limit``.

    Measured on the real panel, 2 cores, 4 chains x (600 + 1000): all four at once sample in 267 s,
    but the process grows by about 1.5 MB per chain and iteration (peak 10.5 GB) -- XLA's
    multi-threaded Eigen runtime keeps buffers while threads outnumber cores; two rounds of two
    chains (``limit=2``) give identical draws in 334 s with a flat 2.6 GB peak."""
    import jax

    if chain_method != "parallel":
        return chains
    return max(1, min(chains, jax.local_device_count(), limit or chains))


_MAX_TREE_DEPTH = 10  # NumPyro's and Stan's default


def _in_model_precision(fn: Callable) -> Callable:
    """Run ``fn`` with 64-bit JAX on only for a float64 model (PyTensor's ``floatX``).

    Whatever import order left it at (importing ``pymc.sampling.jax`` turns it on): PyTensor's
    JAX backend returns float32 sums in their float64 accumulator type, and with 64-bit JAX on
    that float64 spreads through the whole partner x family x year cube (the real panel's
    gradient then costs 2.5 ms, not 0.97 ms)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import jax
        import pytensor

        want = pytensor.config.floatX == "float64"
        # The global flag too, not only the context's: NumPyro's progress bar runs its callback on
        # another thread, which reads the global flag, and answered int64 to a 32-bit program after a
        # float64 fit in the same process (JaxRuntimeError: "Expected: int32, Actual: int64").
        before = bool(jax.config.jax_enable_x64)
        jax.config.update("jax_enable_x64", want)
        try:
            with jax.enable_x64(want):
                return fn(*args, **kwargs)
        finally:
            jax.config.update("jax_enable_x64", before)

    return wrapper


_EXTRA_FIELDS = (
    "num_steps",
    "potential_energy",
    "energy",
    "diverging",
    "accept_prob",
    "adapt_state.step_size",
)


@_in_model_precision
def run_nuts(
    model,  # pm.Model
    var_names: list[str],
    draws: int,
    tune: int,
    chains: int,
    target_accept: float,
    seed: int,
    chain_method: str = "parallel",
    progressbar: bool = True,
    warm: SamplerState | None = None,
    parallel_chains: int | None = None,
    max_tree_depth_warmup: int | None = None,
    max_tree_depth: int = _MAX_TREE_DEPTH,
) -> tuple[xr.Dataset, xr.Dataset, SamplerState]:
    """Sample ``model``; return (posterior of ``var_names``, sample_stats, final sampler state).

    With ``warm``, chains start from its positions, step size and mass matrix, and warm-up only
    re-tunes the step size. ``parallel_chains`` bounds how many chains run at once (default: all;
    see :func:`parallel_width` for the memory this trades). ``max_tree_depth_warmup`` caps the
    trees during warm-up, ``max_tree_depth`` while sampling (NUTS's default 10).
    """
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree
    from pymc.sampling.jax import get_jaxified_logp

    value_vars = model.value_vars
    point = model.initial_point()  # compiles a function each call: once only
    layout = tuple((v.name, tuple(int(d) for d in point[v.name].shape)) for v in value_vars)
    # PyMC's naming: negative_logp=False gives minus the log density, i.e. NumPyro's potential.
    potential = get_jaxified_logp(model, negative_logp=False)
    # NumPyro samples one flat vector: its tree bookkeeping (selects, U-turn checks, checkpoints)
    # then runs once per leapfrog step rather than once per value variable (~30 here).
    _, unravel = ravel_pytree([jnp.zeros(shape) for _, shape in layout])
    kernel_kwargs: dict[str, Any] = {
        "target_accept_prob": target_accept,
        "dense_mass": False,
        "max_tree_depth": (int(max_tree_depth_warmup or max_tree_depth), int(max_tree_depth)),
    }
    init, start = _starting_point(model, chains, seed, potential, layout, warm)
    kernel_kwargs |= start
    started = time.perf_counter()
    rounds = _sample_in_rounds(
        lambda z: potential(unravel(z)),
        kernel_kwargs,
        init,
        seed,
        (draws, tune, chains),
        parallel_width(chains, chain_method, parallel_chains),
        chain_method,
        progressbar,
    )
    sampling_time = time.perf_counter() - started
    log.info("NUTS: %d chains x (%d + %d) in %.1fs", chains, tune, draws, sampling_time)
    posterior = _constrained_posterior(model, var_names, rounds.draws(unravel), chains, draws)
    sample_stats = _sample_stats(rounds.fields(), chains, draws)
    sample_stats.attrs["sampling_time"] = sampling_time
    sample_stats.attrs["tuning_steps"] = tune
    sample_stats.attrs["max_tree_depth"] = int(max_tree_depth)
    return posterior, sample_stats, rounds.state(layout)


def _starting_point(model, chains: int, seed: int, potential, layout, warm: SamplerState | None):
    """(chains' initial flat positions, kernel settings): jittered starts, or a warm start's positions
    with its step size and mass matrix (then only the step size is re-tuned)."""
    import jax
    import jax.numpy as jnp
    import pytensor
    from pymc.sampling.jax import _get_batched_jittered_initial_points

    if warm is None:
        # jitted: PyMC checks each jittered start's density, and op by op that took 8 s on the real panel
        points = _get_batched_jittered_initial_points(model, chains, None, seed, logp_fn=jax.jit(potential))
        points = [np.asarray(x) for x in (points if chains > 1 else [np.asarray(i)[None] for i in points])]
        dtype = points[0].dtype
        init = np.concatenate([x.reshape(chains, -1) for x in points], axis=1)
        return jnp.asarray(init, dtype=dtype), {}
    mass, init = warm.aligned(layout)
    dtype = np.dtype(pytensor.config.floatX)
    settings = {
        "step_size": float(np.median(warm.step_size)),
        "inverse_mass_matrix": jnp.asarray(np.median(mass, axis=0), dtype=dtype),
        "adapt_mass_matrix": False,
    }
    return jnp.asarray(init, dtype=dtype), settings


@dataclass
class _Rounds:
    """What each round of chains left: flat draws, extra fields and final sampler states."""

    raw: list = field(default_factory=list)
    extra: list = field(default_factory=list)
    z: list = field(default_factory=list)
    step: list = field(default_factory=list)
    mass: list = field(default_factory=list)

    def draws(self, unravel) -> list[np.ndarray]:
        import jax

        flat = np.concatenate([np.asarray(p) for p in self.raw])  # (chains, draws, n)
        return [np.asarray(v) for v in jax.vmap(jax.vmap(unravel))(flat)]

    def fields(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([np.asarray(f[k]) for f in self.extra]) for k in _EXTRA_FIELDS}

    def state(self, layout) -> SamplerState:
        return SamplerState(
            layout, np.concatenate(self.step), np.concatenate(self.mass), np.concatenate(self.z)
        )


def _sample_in_rounds(
    flat_potential,
    kernel_kwargs: dict[str, Any],
    init,
    seed: int,
    sizes: tuple[int, int, int],
    width: int,
    chain_method: str,
    progressbar: bool,
) -> _Rounds:
    """NUTS over ``chains`` chains, ``width`` at a time (``sizes``: draws, tune, chains)."""
    import jax
    from numpyro.infer import MCMC, NUTS

    draws, tune, chains = sizes
    keys = jax.random.split(jax.random.PRNGKey(seed), chains)
    samplers: dict[int, Any] = {}
    out = _Rounds()
    for first in range(0, chains, width):
        idx = list(range(first, min(first + width, chains)))
        n = len(idx)
        if n not in samplers:  # one sampler per round size, so its compiled program is reused
            samplers[n] = MCMC(
                NUTS(potential_fn=flat_potential, **kernel_kwargs),
                num_warmup=tune,
                num_samples=draws,
                num_chains=n,
                chain_method=chain_method if n > 1 else "sequential",
                progress_bar=progressbar,
            )
        mcmc = samplers[n]
        if width < chains:
            log.info("NUTS: chains %d-%d of %d", idx[0] + 1, idx[-1] + 1, chains)
        mcmc.run(
            keys[idx[0]] if n == 1 else keys[np.array(idx)],
            init_params=init[idx[0]] if n == 1 else init[np.array(idx)],
            extra_fields=_EXTRA_FIELDS,
        )
        out.raw.append(jax.block_until_ready(mcmc.get_samples(group_by_chain=True)))  # JAX is async
        out.extra.append(mcmc.get_extra_fields(group_by_chain=True))
        last = mcmc.last_state
        out.z.append(np.asarray(last.z).reshape(n, -1))
        out.step.append(np.atleast_1d(np.asarray(last.adapt_state.step_size)).reshape(n))
        out.mass.append(np.asarray(last.adapt_state.inverse_mass_matrix).reshape(n, -1))
    return out


def _constrained_posterior(model, var_names: list[str], raw: list[np.ndarray], chains: int, draws: int):
    """Constrained values of the requested variables, computed from the unconstrained draws in JAX."""
    from pymc.sampling.jax import _postprocess_samples, get_jaxified_graph

    named = {v.name: v for v in model.unobserved_value_vars}
    outputs = [named[name] for name in var_names]
    jax_fn = get_jaxified_graph(inputs=model.value_vars, outputs=outputs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Explicitly requested dtype", UserWarning)
        values = _postprocess_samples(jax_fn, raw)
    coords = {k: np.asarray(v) for k, v in model.coords.items() if v is not None}
    base = {"chain": np.arange(chains), "draw": np.arange(draws)}
    posterior = xr.Dataset(
        {
            name: (("chain", "draw", *model.named_vars_to_dims.get(name, ())), np.asarray(value))
            for name, value in zip(var_names, values, strict=True)
        },
        coords=base,
    )
    return posterior.assign_coords({d: coords[d] for d in posterior.dims if d in coords})


def _sample_stats(fields: dict[str, np.ndarray], chains: int, draws: int) -> xr.Dataset:
    steps = np.asarray(fields["num_steps"])
    return xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.asarray(fields["diverging"], dtype=bool)),
            "energy": (("chain", "draw"), np.asarray(fields["energy"])),
            "lp": (("chain", "draw"), -np.asarray(fields["potential_energy"])),
            "acceptance_rate": (("chain", "draw"), np.asarray(fields["accept_prob"])),
            "step_size": (("chain", "draw"), np.asarray(fields["adapt_state.step_size"])),
            "n_steps": (("chain", "draw"), steps),
            "tree_depth": (("chain", "draw"), np.floor(np.log2(np.maximum(steps, 1))).astype(int) + 1),
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws)},
    )

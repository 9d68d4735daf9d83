"""A stacked contender: a mixture of other contenders' forecasts, weighted leave-future-out.

``stacked[ours,lightgbm,tsb,autoets]`` forecasts, at origin ``o``, a mixture of its parts' forecasts
made at ``o``. Its weights are learned only from what was known at ``o``: the parts' forecasts made at
the backtest's earlier origins ``o' < o`` for years ``y <= o`` (a forecast for a later year is not yet
scoreable at ``o``), scored against the LOR counts as known at the end of ``o`` (the training panel at
``o``, not the backtest's truth, so a late-received LOR does not leak in). With no such forecast (the
first origin) the weights are equal.

The default objective, ``family_year_crps``, is the mean CRPS of the mixture over family-year targets,
minimised over the simplex. Why: family-year CRPS is the headline target of the backtests, and it is
where the parts differ most (at cell level 98% of targets are zeros and every sensible contender is
within 3%). One set of weights must serve every level -- the mixture is formed draw by draw so that all
levels stay sums of the same draws -- so they have to be chosen at one. The CRPS of a mixture is exactly
a convex quadratic form in its weights, ``CRPS(sum_k w_k F_k, y) = w' G w`` with
``G_jk = integral (F_j - 1{y <= x}) (F_k - 1{y <= x}) dx`` (the integrand is a product of two step
functions, so the integral is an exact finite sum over the draws' values), hence the weights are the
solution of a small quadratic programme (SLSQP), deterministic and without sampling the mixture.

The second target, the partner x family Brier of P(>= 1 LOR within the horizon), is the other objective
(``stacked[a,b,objective=partner_family_horizon_brier]``): the mixture's probability is ``sum_k w_k p_k``,
so its mean Brier is again ``w' G w``, ``G_jk = mean (p_j - o)(p_k - o)``. It has thousands of targets per
origin where family-years have tens, so its weights are steadier, but a target is scoreable only once its
whole horizon has passed (``o' + H <= o``): the weights stay equal until ``H`` years after the first origin.
The log score of a mixture of draws is no candidate: it is dominated by the floor given to values no
draw hit.

The stacked prediction is a mixture of draws: for each draw index ``s``, one part ``k`` is picked with
probability ``w_k`` (seeded by the origin) and the stacked forecast's draw ``s`` is part ``k``'s draw
``s`` in every cell, so every level (cell, family-year, partner-year, totals, partner x family over the
horizon) is a sum of the same mixed draws and stays coherent, and every stacked value is one some part
drew.

The backtest scores each prediction as it arrives and drops its draws; the stack needs its parts'
draws at ``o`` only once every part is in, so a :class:`PartStore` keeps them on disk (the prediction
cache's own files where there is one, a temporary directory otherwise) and in memory only what the
weights read: their family-year sums (families x horizon x samples per part and origin) and their
P(>= 1 LOR within the horizon) per partner x family.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from scipy.optimize import minimize

if TYPE_CHECKING:
    from evidence.loaders import Dataset
    from validation.backtest import Prediction

OBJECTIVES = ("family_year_crps", "partner_family_horizon_brier")
_STACK = re.compile(r"^stacked\[(?P<parts>.*)\]$")


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside brackets: ``"ours[a=b],stacked[ours,tsb]"`` is two names."""
    items, depth, current = [], 0, []
    for char in text:
        depth += (char == "[") - (char == "]")
        if char == sep and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


@dataclass(frozen=True)
class StackedContender:
    """A mixture of ``parts`` (other contenders of the same backtest), weighted per origin."""

    parts: tuple[str, ...]
    objective: str = OBJECTIVES[0]

    @property
    def name(self) -> str:
        option = [] if self.objective == OBJECTIVES[0] else [f"objective={self.objective}"]
        return f"stacked[{','.join([*self.parts, *option])}]"


def stacked_contender(name: str) -> StackedContender | None:
    """``stacked[a,b,...]`` (and optionally ``objective=<one of OBJECTIVES>`` among the items), or None
    if ``name`` is no stack."""
    m = _STACK.match(name.strip())
    if m is None:
        return None
    items = split_top_level(m.group("parts"))
    # an option is key=value outside any brackets; a part's own choices sit inside its brackets
    options = dict(i.split("=", 1) for i in items if "=" in i.split("[", 1)[0])
    parts = tuple(i for i in items if "=" not in i.split("[", 1)[0])
    unknown = set(options) - {"objective"}
    if unknown:
        raise ValueError(f"{name}: unknown stack option(s) {sorted(unknown)}; known: objective")
    objective = options.get("objective", OBJECTIVES[0]).strip()
    if objective not in OBJECTIVES:
        raise ValueError(f"{name}: objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    if len(parts) < 2 or len(set(parts)) != len(parts):
        raise ValueError(f"{name}: a stack needs two or more different parts")
    if any(stacked_contender(p) is not None for p in parts):
        raise ValueError(f"{name}: a stack of stacks is not supported")
    return StackedContender(parts, objective)


def stack_parts(name: str) -> tuple[str, ...] | None:
    """The parts of ``stacked[a,b,...]``, or None if ``name`` is no stack."""
    stack = stacked_contender(name)
    return None if stack is None else stack.parts


@dataclass(frozen=True)
class Summary:
    """What the weights read of a part's forecast: its draws summed over partners (family, year,
    sample), and per partner x family its P(>= 1 LOR within the horizon) (partner, family)."""

    partners: np.ndarray
    families: np.ndarray
    years: np.ndarray
    family_year: np.ndarray
    p_any: np.ndarray


def summarise(pred: Prediction) -> Summary:
    return Summary(
        np.asarray(pred.partners),
        np.asarray(pred.families),
        np.asarray(pred.years),
        pred.draws.sum(axis=0),
        (pred.draws.sum(axis=2) > 0).mean(axis=-1),
    )


# ---------------------------------------------------------------------------------------------------
# weights


def crps_gram(draws: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """``G`` (K, K) with ``w' G w`` the mean CRPS of the mixture ``sum_k w_k F_k`` over the targets.

    ``draws``: (K parts, n targets, S samples), ``observed``: (n,). ``F_k`` is part k's empirical CDF.
    Per target, both ``F_k`` and the step ``1{y <= x}`` are constant between consecutive values among
    the draws and the observation, so the CRPS integral is an exact sum over those intervals."""
    parts, n, samples = draws.shape
    gram = np.zeros((parts, parts))
    ordered = np.sort(draws, axis=-1)
    for i in range(n):
        points = np.unique(np.append(ordered[:, i].ravel(), observed[i]).astype(float))
        if len(points) < 2:  # every draw equals the observation: no error
            continue
        left, width = points[:-1], np.diff(points)
        cdf = np.stack([np.searchsorted(ordered[k, i], left, side="right") / samples for k in range(parts)])
        gap = cdf - (observed[i] <= left)  # (K, intervals)
        gram += (gap * width) @ gap.T
    return gram / max(n, 1)


def simplex_weights(gram: np.ndarray) -> np.ndarray:
    """argmin ``w' G w`` over the simplex (a convex quadratic: ``G`` is a Gram matrix), from equal weights.

    SLSQP with the exact gradient; the result is clipped at zero and renormalised (SLSQP may leave
    -1e-12). Deterministic: the same ``G`` gives the same weights."""
    k = gram.shape[0]
    equal = np.full(k, 1.0 / k)
    scale = float(np.trace(gram)) / k or 1.0  # O(1) values, so the tolerances mean the same at any scale
    g = gram / scale
    result = minimize(
        lambda w: float(w @ g @ w),
        equal,
        jac=lambda w: 2.0 * g @ w,
        bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 500},
    )
    w = np.clip(result.x if result.success else equal, 0.0, None)
    # a solver that fails, or lands above where it started, is not trusted: equal weights stand
    if not result.success or w @ g @ w > equal @ g @ equal:
        return equal
    return w / w.sum()


def learn_weights(
    parts: Sequence[str],
    origin: int,
    history: Mapping[tuple[int, str], Summary],
    observed: xr.DataArray,
    objective: str = OBJECTIVES[0],
) -> tuple[np.ndarray, int]:
    """Weights of ``parts`` at ``origin`` and the number of targets they were learned from.

    ``history``: the parts' forecast summaries by (origin, part); only those made before ``origin``
    and only their years up to ``origin`` are read (for ``partner_family_horizon_brier``, only those
    whose whole horizon is). ``observed``: LOR counts (partner, family, year) as known at ``origin``;
    its years after ``origin`` are not read. No target: equal weights."""
    earlier = sorted({o for o, _ in history if o < origin})
    blocks, truth = [], []
    for o in earlier:
        if not all((o, p) in history for p in parts):
            continue
        first = history[o, parts[0]]
        seen = first.years <= origin  # forecast years already observed at the origin
        if objective == "partner_family_horizon_brier" and not seen.all():
            continue  # "within the horizon" is not known until the horizon's last year is
        if not seen.any():
            continue
        fams, years = first.families, first.years[seen]
        # only years up to the origin are selected here: the observed counts after it are never read
        # the forecast's own partners, as the backtest scores it (a partner first seen later is not in it)
        known = observed.sel(partner=first.partners, family=fams, year=years)
        if objective == "family_year_crps":
            stacked = []
            for p in parts:
                part = history[o, p]
                rows = _positions(part.families, fams, f"{p} at {o}")
                cols = _positions(part.years, years, f"{p} at {o}")
                stacked.append(part.family_year[np.ix_(rows, cols)].reshape(len(fams) * len(years), -1))
            blocks.append(np.stack(stacked))
            truth.append(known.sum("partner").transpose("family", "year").values.ravel())
        else:
            partners, probs = first.partners, []
            for p in parts:
                part = history[o, p]
                rows = _positions(part.partners, partners, f"{p} at {o}")
                cols = _positions(part.families, fams, f"{p} at {o}")
                probs.append(part.p_any[np.ix_(rows, cols)].ravel())
            blocks.append(np.stack(probs))
            hit = known.sum("year").transpose("partner", "family").values > 0
            truth.append(hit.ravel())
    k = len(parts)
    if not blocks:
        return np.full(k, 1.0 / k), 0
    if objective == "family_year_crps":
        samples = {b.shape[-1] for b in blocks}
        if len(samples) != 1:
            raise ValueError(f"parts' forecasts have different numbers of draws: {sorted(samples)}")
        draws, y = np.concatenate(blocks, axis=1), np.concatenate(truth)
        return simplex_weights(crps_gram(draws, y)), len(y)
    gap = np.concatenate(blocks, axis=1) - np.concatenate(truth)  # (K, targets): p_k - o
    return simplex_weights(gap @ gap.T / gap.shape[1]), gap.shape[1]


def _positions(have: np.ndarray, want: np.ndarray, what: str) -> np.ndarray:
    index = {v: i for i, v in enumerate(have.tolist())}
    missing = [v for v in want.tolist() if v not in index]
    if missing:
        raise ValueError(f"{what}: its forecast lacks {missing[:5]} that another part has")
    return np.array([index[v] for v in want.tolist()], dtype=int)


# ---------------------------------------------------------------------------------------------------
# the mixture


def mix(preds: Sequence[Prediction], weights: np.ndarray, rng: np.random.Generator) -> Prediction:
    """Draw ``s`` of the mixture is draw ``s`` of part ``k`` in every cell, ``k`` picked with
    probability ``w_k``: the parts' support and each draw's coherence across cells are kept. The
    partners, families and years are the first part's, each other part aligned to them (they must
    forecast the same ones)."""
    from validation.backtest import Prediction

    first = preds[0]
    samples = first.draws.shape[-1]
    if any(p.draws.shape[-1] != samples for p in preds):
        raise ValueError("parts' forecasts have different numbers of draws")
    choice = rng.choice(len(preds), size=samples, p=weights)
    out = np.empty(first.draws.shape, dtype=np.result_type(*(p.draws.dtype for p in preds)))
    for k, pred in enumerate(preds):
        picked = np.flatnonzero(choice == k)
        if not len(picked):
            continue
        rows = _positions(pred.partners, np.asarray(first.partners), "a part")
        cols = _positions(pred.families, np.asarray(first.families), "a part")
        years = _positions(pred.years, np.asarray(first.years), "a part")
        if len(pred.partners) != len(rows) or len(pred.families) != len(cols):
            raise ValueError("parts forecast different partners or families")
        out[..., picked] = pred.draws[np.ix_(rows, cols, years, picked)]
    # a part's failed gates are the stack's: it is scored, labelled, like the part
    labelled = [f"{pred_gates}" for pred_gates in (p.gates for p in preds) if pred_gates != "n/a"]
    failed = [g for g in labelled if g != "passed"]
    gates = "; ".join(failed) if failed else ("passed" if labelled else "n/a")
    return Prediction(first.partners, first.families, first.years, out, gates)


def stack_at(
    stack: StackedContender,
    origin: int,
    history: Mapping[tuple[int, str], Summary],
    observed: xr.DataArray,
    load: Callable[[str], Prediction],
    seed: int,
) -> tuple[Prediction, dict[str, float], int]:
    """The stacked forecast at ``origin``, its weights by part and its number of training targets.

    ``load(part)`` gives the part's forecast made at ``origin`` -- the only full forecast read;
    ``history`` and ``observed`` are read only before / up to ``origin`` (:func:`learn_weights`)."""
    weights, n = learn_weights(stack.parts, origin, history, observed, stack.objective)
    preds = [load(part) for part in stack.parts]
    # seeded by the origin: the same inputs give the same mixture whichever origins run around it
    pred = mix(preds, weights, np.random.default_rng([seed, origin]))
    return pred, dict(zip(stack.parts, weights.tolist(), strict=True)), n


# ---------------------------------------------------------------------------------------------------
# inside the backtest


class PartStore:
    """The stacks' parts' forecasts, kept on disk until every origin's are in: the cache file a
    forecast was read from or written to, or a compressed copy in a temporary directory. In memory
    only the summaries the weights read (:class:`Summary`)."""

    def __init__(self, parts: set[str]) -> None:
        self.parts = parts
        self.history: dict[tuple[int, str], Summary] = {}
        self.paths: dict[tuple[int, str], Path] = {}
        self._tmp: tempfile.TemporaryDirectory | None = None

    def keep(self, origin: int, name: str, pred: Prediction, path: Path | None) -> None:
        if name not in self.parts:
            return
        from validation.backtest import _arrays

        self.history[origin, name] = summarise(pred)
        if path is None:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="stack-parts-")
            path = Path(self._tmp.name) / f"{len(self.paths)}.npz"
            np.savez_compressed(path, **_arrays(pred))
        self.paths[origin, name] = path

    def load(self, origin: int, name: str) -> Prediction:
        from validation._cache import CacheIndex
        from validation.backtest import _prediction

        return _prediction(CacheIndex.read(self.paths[origin, name]))

    def __enter__(self) -> PartStore:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def known_counts(dataset: Dataset, origin: int, first_year: int) -> xr.DataArray:
    """LOR counts (partner, family, year) as known at the end of ``origin``: what the stack may score
    its parts' earlier forecasts against."""
    from validation.backtest import training_panel

    return training_panel(dataset, origin, first_year)["lor_count"]


def stack_backtest(
    stacks: Mapping[str, StackedContender],
    store: PartStore,
    dataset: Dataset,
    origins: Sequence[int],
    first_year: int,
    seed: int,
    record: dict[str, dict],
) -> Iterator[tuple[tuple[int, str], Prediction]]:
    """Each stack's forecast per origin, in origin order; weights and target counts go to ``record``
    (``{name: {"parts", "objective", "weights": {origin: {part: w}}, "targets": {origin: n}}}``)."""
    for name, stack in stacks.items():
        record[name] = {
            "parts": list(stack.parts),
            "objective": stack.objective,
            "weights": {},
            "targets": {},
        }
    for origin in origins:
        observed = known_counts(dataset, origin, first_year)
        for name, stack in stacks.items():
            # the loader is bound to this origin: the stack cannot read a part's later forecast
            load = partial(store.load, origin)
            pred, weights, n = stack_at(stack, origin, store.history, observed, load, seed)
            record[name]["weights"][origin] = weights
            record[name]["targets"][origin] = n
            yield (origin, name), pred


def versus_parts(
    result: dict, name: str, parts: Sequence[str], levels: Sequence[str], metrics: Sequence[str]
) -> list[dict]:
    """Per level and proper score (lower is better), pooled over origins: the stack's score, each
    part's, and whether the stack beats every one of them (what it must do to be worth keeping)."""
    pooled = {
        (r["model"], r["level"], r["metric"]): float(r["value"])
        for r in result["rows"]
        if str(r["origin"]) == "all"
    }
    records = []
    for level in levels:
        for metric in metrics:
            mine = pooled.get((name, level, metric))
            theirs = {p: pooled.get((p, level, metric)) for p in parts}
            if mine is None or any(v is None for v in theirs.values()):
                continue
            best = min(theirs, key=lambda p: (theirs[p], p))
            records.append(
                {
                    "level": level,
                    "metric": metric,
                    "stacked": mine,
                    "parts": theirs,
                    "best_part": best,
                    "beats_every_part": bool(mine < theirs[best]),
                }
            )
    return records

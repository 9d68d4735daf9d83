"""Rolling-origin backtests: for each origin, every contender sees only what was known then, forecasts
the next ``horizon`` years as draws, and all of them are scored by the same code against what happened.

A contender is a function ``(dataset, origin, horizon, samples, seed) -> Prediction``. It is handed the
whole dataset and is trusted to use only records up to the origin, because real models need the
register to compute as-of evidence; :func:`check_no_lookahead` holds it to that by re-running it on a
copy whose later records are removed and demanding the same forecast.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from bayes.panel import build_panel
from evidence.loaders import Dataset
from evidence.writers import atomic_write_bytes, atomic_write_text
from validation._cache import CacheIndex, PredictionCache, cache_key, cache_record
from validation._runner import Task, execute
from validation.baselines import BASELINES, PanelBaseline
from validation.scores import METRICS, score

log = logging.getLogger(__name__)

# partner_family_horizon: each cell summed over the horizon, so its Brier score is that of P(at least one
# LOR from this partner for this family within the horizon), the question a planner asks of a cell
LEVELS = ("cell", "family_year", "partner_year", "total_year", "partner_family_horizon")
# proper scores, lower is better: the ones a best baseline and a skill against it are read off for
# (coverage is held to a target, not minimised)
SKILL_METRICS = ("crps", "log_score", "wis", "brier")
PIT_BINS = 10
QUANTILES = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)


class LookaheadError(AssertionError):
    """A contender's forecast changed when records after the origin did: it used the future."""


@dataclass(frozen=True)
class Prediction:
    """Draws (partner, family, year, sample) for the partners and families known at the origin."""

    partners: np.ndarray
    families: np.ndarray
    years: np.ndarray
    draws: np.ndarray
    gates: str = "n/a"  # "passed", the failures, or "n/a" for baselines


Contender = Callable[[Dataset, int, int, int, int], Prediction]


def training_panel(dataset: Dataset, origin: int, first_year: int) -> xr.Dataset:
    """The panel as known at the end of ``origin``: LORs received and evidence dated up to then."""
    return build_panel(dataset.restrict_to(origin), first_year=first_year, last_year=origin)


@dataclass(frozen=True)
class BaselineContender:
    """One of :data:`validation.baselines.BASELINES` on the counts known at the origin, or, for a
    :class:`~validation.baselines.PanelBaseline`, on the whole training panel as known then."""

    name: str
    first_year: int

    def __call__(self, dataset: Dataset, origin: int, horizon: int, samples: int, seed: int) -> Prediction:
        panel = training_panel(dataset, origin, self.first_year)
        baseline = BASELINES[self.name]
        rng = np.random.default_rng(seed)
        if isinstance(baseline, PanelBaseline):
            draws = baseline(panel, horizon, samples, rng)
        else:
            history = panel["lor_count"].transpose("partner", "family", "year").values
            draws = baseline(history, horizon, samples, rng)
        years = np.arange(origin + 1, origin + 1 + horizon)
        return Prediction(panel["partner"].values, panel["family"].values, years, draws)

    def token(self) -> dict:
        return {"contender": self.name, "first_year": self.first_year}


@dataclass(frozen=True)
class ModelContender:
    """Our model: fitted at each origin with the default priors; its gates are reported with its scores."""

    first_year: int
    sampler_config: tuple[tuple[str, object], ...] = ()
    without: tuple[str, ...] = ()  # components switched off (ablations: "nlp", "readiness", ...)
    choices: tuple[tuple[str, str], ...] = ()  # model_config choices, e.g. (("family_path", "ar1"),)

    def __call__(self, dataset: Dataset, origin: int, horizon: int, samples: int, seed: int) -> Prediction:
        from bayes.forecast import Forecaster
        from bayes.model import DemandModel

        panel = training_panel(dataset, origin, self.first_year)
        model = DemandModel(self.model_config(), {"random_seed": seed, **dict(self.sampler_config)})
        model.fit(panel, progressbar=False, analysis_groups=False)  # forecasts need none of them
        gates = "passed" if model.status == "ok" else "; ".join(model.diagnostics.failures)
        # a failed fit is scored for the record but labelled; it is never served
        forecaster = Forecaster(model, max_draws=samples, max_horizon=horizon, seed=seed, allow_failed=True)
        fc = forecaster.forecast(horizon, (0.5,))
        draws = fc.draws.transpose("partner", "family", "year", "sample").values
        return Prediction(
            fc.draws["partner"].values, fc.draws["family"].values, fc.draws["year"].values, draws, gates
        )

    def model_config(self) -> dict:
        from bayes.model import default_model_config

        switched_off = {"components": {name: False for name in self.without}}
        return default_model_config() | dict(self.choices) | switched_off

    def token(self) -> dict:
        return {
            "contender": "ours",
            "first_year": self.first_year,
            "sampler": dict(self.sampler_config),
            "without": sorted(self.without),
            **({"choices": dict(self.choices)} if self.choices else {}),  # old cache keys stay valid
        }


@dataclass(frozen=True)
class DecomposedContender:
    """Our model fitted to every supplier's orders (``demand_basis`` "every_supplier"), with the U.S. share
    model beside it in the same tree: the forecaster thins every supplier's orders to U.S. demand,
    Binomial(whole demand, P(U.S.)) draw by draw, as it does for a served model of that basis. Scored, like
    every contender, against U.S. orders, on the U.S. panel's partners and families."""

    first_year: int
    sampler_config: tuple[tuple[str, object], ...] = ()
    choices: tuple[tuple[str, str], ...] = ()

    def __call__(self, dataset: Dataset, origin: int, horizon: int, samples: int, seed: int) -> Prediction:
        from bayes.forecast import Forecaster
        from bayes.model import DemandModel, default_model_config
        from bayes.us_share import GROUP, USShareModel, share_panel
        from evidence.loaders import every_supplier

        known = dataset.restrict_to(origin)
        us_panel = training_panel(known, origin, self.first_year)
        panel = build_panel(every_supplier(known), first_year=self.first_year, last_year=origin)
        config = default_model_config() | dict(self.choices) | {"demand_basis": "every_supplier"}
        model = DemandModel(config, {"random_seed": seed, **dict(self.sampler_config)})
        model.fit(panel, progressbar=False, analysis_groups=False)
        axes = list(panel["partner"].values), list(panel["family"].values)
        shares = share_panel(known.supplier_orders, known.partners, self.first_year, origin, *axes)
        share_model = USShareModel(sampler_config={"random_seed": seed})
        model.idata[GROUP] = share_model.fit(shares, progressbar=False)
        failures = [f"whole demand: {f}" for f in model.diagnostics.failures] + [
            f"U.S. share: {f}" for f in share_model.diagnostics.failures
        ]
        forecaster = Forecaster(model, max_draws=samples, max_horizon=horizon, seed=seed, allow_failed=True)
        us = forecaster.forecast(horizon, (0.5,)).draws.transpose("partner", "family", "year", "sample")
        # the U.S. panel's partners and families: each has U.S. orders, so it is in the whole panel too
        draws = us.sel(partner=us_panel["partner"].values, family=us_panel["family"].values)
        return Prediction(
            draws["partner"].values,
            draws["family"].values,
            draws["year"].values,
            draws.values,
            "passed" if not failures else "; ".join(failures),
        )

    def extra_data_hash(self, dataset: Dataset, origin: int) -> str:
        """What this contender reads beyond the U.S. panel (every supplier's orders up to the origin),
        hashed, so that a cached forecast is not reused after that table changes."""
        # the table alone: restricting the whole dataset would copy its large evidence table too
        orders = dataset.supplier_orders[dataset.supplier_orders["year"] <= origin]
        return hashlib.sha256(
            pd.util.hash_pandas_object(orders, index=False).to_numpy().tobytes()
        ).hexdigest()[:16]

    def token(self) -> dict:
        return {
            "contender": "ours-suppliers",
            # thinned by the forecaster (before: by this class, with draws of its own)
            "thinned_by": "forecaster",
            "first_year": self.first_year,
            "sampler": dict(self.sampler_config),
            **({"choices": dict(self.choices)} if self.choices else {}),
        }


def baseline_contender(name: str, first_year: int) -> BaselineContender:
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    return BaselineContender(name, first_year)


def model_contender(
    first_year: int,
    sampler_config: dict | None = None,
    without: Sequence[str] = (),
    choices: dict[str, str] | None = None,
) -> ModelContender:
    return ModelContender(
        first_year,
        tuple(sorted((sampler_config or {}).items())),
        tuple(sorted(without)),
        tuple(sorted((choices or {}).items())),
    )


_VARIANT = re.compile(r"^(?P<base>[^\[\]]+)(?:\[(?P<choices>[^\[\]]*)\])?$")


def _variant_choices(name: str, text: str) -> dict[str, str]:
    """``key=value;key=value`` of a model variant, checked as the model checks its config."""
    from bayes.model import CHOICES, default_model_config, invalid_choices

    choices: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = (v.strip() for v in item.partition("="))
        if not sep or key not in CHOICES:
            raise ValueError(f"{name}: {item!r} is not <option>=<value>; options: {', '.join(CHOICES)}")
        choices[key] = value
    problems = invalid_choices(default_model_config() | choices)
    if problems:
        raise ValueError(f"{name}: {'; '.join(problems)}")
    return choices


def contender_for(name: str, first_year: int, sampler_config: dict | None = None) -> Contender:
    """``ours``, ``ours-without-<component>[+<component>...]`` (an ablation), either with model choices
    in brackets (``ours[family_path=ar1]``), ``ours-suppliers`` (every supplier's demand times the U.S.
    share, :class:`DecomposedContender`), a baseline's name, or ``stacked[<part>,<part>,...]``, a
    mixture of other contenders (:mod:`validation.stacking`; it is not called like the others, and
    :func:`run_backtest` needs its parts among its contenders)."""
    from bayes.model import SWITCHABLE
    from validation.stacking import stacked_contender

    stack = stacked_contender(name)
    if stack is not None:
        for part in stack.parts:  # a part's name is checked as the part would be
            contender_for(part, first_year, sampler_config)
        return stack  # type: ignore[return-value]
    m = _VARIANT.match(name)
    base, bracket = (m.group("base"), m.group("choices")) if m else (name, None)
    if base == "ours-suppliers":
        choices = _variant_choices(name, bracket or "")
        return DecomposedContender(
            first_year, tuple(sorted((sampler_config or {}).items())), tuple(sorted(choices.items()))
        )
    if base == "ours" or base.startswith("ours-without-"):
        choices = _variant_choices(name, bracket or "")
        parts = base.removeprefix("ours-without-").split("+") if base != "ours" else []
        unknown = sorted(set(parts) - set(SWITCHABLE))
        if unknown:
            raise ValueError(f"{name}: unknown component(s) {unknown}; known: {', '.join(SWITCHABLE)}")
        return model_contender(first_year, sampler_config, parts, choices)
    return baseline_contender(name, first_year)


def check_no_lookahead(
    contender: Contender,
    dataset: Dataset,
    origin: int,
    horizon: int,
    name: str,
    samples: int = 200,
    seed: int = 7,
) -> Prediction:
    """Forecasts must not change when every record after the origin is removed; returns the forecast."""
    full = contender(dataset, origin, horizon, samples, seed)
    blind = contender(dataset.restrict_to(origin), origin, horizon, samples, seed)
    if full.draws.shape != blind.draws.shape or not np.array_equal(full.draws, blind.draws):
        raise LookaheadError(f"{name}: its forecast at origin {origin} changes with records after {origin}")
    return full


@dataclass
class _Targets:
    """Observed values and predictive draws per level, flattened to (targets,) and (targets, samples)."""

    keys: dict[str, pd.DataFrame] = field(default_factory=dict)
    observed: dict[str, np.ndarray] = field(default_factory=dict)
    draws: dict[str, np.ndarray] = field(default_factory=dict)


def _aggregate(pred: Prediction, truth: np.ndarray, categories: dict[str, str]) -> _Targets:
    """Cells and the four aggregates, as sums of the same draws (coherent by construction). A
    partner_family_horizon target carries the horizon's last year as its year."""
    out = _Targets()
    p, f, y = np.meshgrid(pred.partners, pred.families, pred.years, indexing="ij")
    parts = {
        "cell": ((0, 1, 2), pred.draws, truth, {"partner": p, "family": f, "year": y}),
        "family_year": ((1, 2), pred.draws.sum(axis=0), truth.sum(axis=0), {"family": f[0], "year": y[0]}),
        "partner_year": (
            (0, 2),
            pred.draws.sum(axis=1),
            truth.sum(axis=1),
            {"partner": p[:, 0], "year": y[:, 0]},
        ),
        "total_year": ((2,), pred.draws.sum(axis=(0, 1)), truth.sum(axis=(0, 1)), {"year": y[0, 0]}),
        "partner_family_horizon": (
            (0, 1),
            pred.draws.sum(axis=2),
            truth.sum(axis=2),
            {"partner": p[:, :, -1], "family": f[:, :, -1], "year": y[:, :, -1]},
        ),
    }
    for level, (_, draws, observed, keys) in parts.items():
        frame = pd.DataFrame({k: np.asarray(v).ravel() for k, v in keys.items()})
        for column in ("partner", "family"):
            if column not in frame:
                frame[column] = ""
        frame["category"] = frame["family"].map(categories).fillna("")
        out.keys[level] = frame
        out.observed[level] = np.asarray(observed).ravel()
        out.draws[level] = np.asarray(draws).reshape(-1, draws.shape[-1])
    return out


def _predict(
    dataset: Dataset,
    contender: Contender,
    name: str,
    origin: int,
    horizon: int,
    samples: int,
    seed: int,
    check: bool,
) -> Prediction:
    if check:  # the checked forecast is the one scored: no second run
        return check_no_lookahead(contender, dataset, origin, horizon, name, samples, seed)
    return contender(dataset, origin, horizon, samples, seed)


def _compact(pred: Prediction) -> Prediction:
    """Counts as int32: half the memory of int64, and the form the cache stores."""
    if np.issubdtype(pred.draws.dtype, np.integer) and pred.draws.dtype != np.int32:
        return dataclasses.replace(pred, draws=pred.draws.astype(np.int32))
    return pred


def _arrays(pred: Prediction) -> dict[str, np.ndarray]:
    draws = _compact(pred).draws
    return {
        "partners": pred.partners.astype(str),
        "families": pred.families.astype(str),
        "years": pred.years,
        "draws": draws,
        "gates": np.array(pred.gates),
    }


def _prediction(arrays: dict[str, np.ndarray]) -> Prediction:
    return Prediction(
        arrays["partners"], arrays["families"], arrays["years"], arrays["draws"], str(arrays["gates"])
    )


@dataclass
class _Scored:
    """What one (origin, contender) prediction leaves once scored: its draws are not kept."""

    gates: str
    rows: list[dict] = field(default_factory=list)
    frames: list[pd.DataFrame] = field(default_factory=list)
    pit: dict[str, np.ndarray] = field(default_factory=dict)  # level -> PIT values
    family_crps: dict[str, list[float]] = field(default_factory=dict)  # family -> CRPS per year
    means: dict[str, tuple[dict[str, float], int]] = field(default_factory=dict)  # level -> (means, n)
    own_coverage: dict[str, dict[str, float]] = field(default_factory=dict)  # level -> coverage if calibrated


def _score_prediction(
    pred: Prediction, counts: xr.DataArray, categories: dict[str, str], origin: int, name: str, seed: int
) -> _Scored:
    pred = _compact(pred)
    out = _Scored(pred.gates)
    truth = counts.sel(partner=pred.partners, family=pred.families, year=pred.years).values
    targets = _aggregate(pred, truth, categories)
    for level in LEVELS:
        observed, draws = targets.observed[level], targets.draws[level]
        scored = score(observed, draws, seed, QUANTILES)
        means = scored.means()
        out.rows += [
            {"model": name, "level": level, "origin": origin, "metric": metric, "value": value}
            for metric, value in means.items()
        ]
        out.pit[level] = scored.pit
        if level == "family_year":
            for family, value in zip(targets.keys[level]["family"], scored.crps, strict=True):
                out.family_crps.setdefault(str(family), []).append(float(value))
        out.means[level] = (means, len(observed))
        out.own_coverage[level] = scored.own_coverage_means()
        frame = targets.keys[level].assign(
            origin=origin, model=name, level=level, observed=observed, mean=draws.mean(axis=-1)
        )
        for q in QUANTILES:
            frame[f"q{q:g}"] = scored.quantiles[q]
        out.frames.append(frame)
    return out


def _pool(parts: list[tuple[dict[str, float], int]]) -> dict[str, float]:
    """Means over origins, each origin's mean weighted by its number of targets."""
    total = sum(n for _, n in parts)
    return {metric: sum(m[metric] * n for m, n in parts) / total for metric in parts[0][0]}


def run_backtest(
    dataset: Dataset,
    origins: Sequence[int],
    horizon: int,
    contenders: dict[str, Contender],
    out: Path,
    first_year: int = 1990,
    samples: int = 1000,
    seed: int = 0,
    check_lookahead: Sequence[str] = (),
    progress: bool = True,
    workers: int = 1,
    cluster: str | None = None,
    cache_dir: Path | None = None,
    parts_from: Sequence[Path] = (),
) -> dict:
    """Backtest every contender at every origin; write scores.json, scores.nc, forecasts.csv, report.html.

    Fits run in ``workers`` spawned processes or on the Dask scheduler at ``cluster``; with
    ``cache_dir`` a prediction whose inputs (training data, priors, code, settings) are unchanged is
    read back instead of refitted. A prediction not in that cache but in one of the caches
    ``parts_from`` (another backtest's, found by contender name, origin, horizon, samples and seed:
    :class:`~validation._cache.CacheIndex`) is read from there, as that backtest's code made it, and
    listed in ``read_from_other_caches``. Contenders named in ``check_lookahead`` are held to
    :func:`check_no_lookahead` at the earliest origin. Each prediction is scored as it arrives and
    its draws dropped, so memory holds one prediction at a time, not all of them; rows come out in
    (origin, contender) order however the fits ran.

    A stacked contender (:mod:`validation.stacking`) is formed after every other prediction is in,
    origin by origin, from its parts' predictions kept on disk (the cache, or a temporary directory
    without one); its weights per origin are in ``stacking_weights``.
    """
    started = time.perf_counter()
    truth_panel = build_panel(dataset, first_year=first_year, last_year=max(origins) + horizon)
    counts = truth_panel["lor_count"].transpose("partner", "family", "year")
    categories = dict(zip(truth_panel["family"].values, truth_panel["family_category"].values, strict=True))
    fits = _fit_and_score(
        dataset,
        origins,
        horizon,
        contenders,
        (counts, categories),
        _FitSettings(first_year, samples, seed, tuple(check_lookahead), progress, workers, cluster),
        cache_dir,
        parts_from,
    )
    fit_seconds = time.perf_counter() - started  # fits and their scoring, which runs as each arrives
    pooled = _pool_scores(fits.order, fits.scored)
    out.mkdir(parents=True, exist_ok=True)
    histograms = {
        k: np.histogram(v, np.linspace(0, 1, PIT_BINS + 1))[0].tolist() for k, v in pooled.pit.items()
    }
    result = {
        "rows": pooled.rows,
        "gates": pooled.gates,
        "horizon": horizon,
        "origins": list(origins),
        "pit_histograms": histograms,
        "fits": fits.fitted,
        "cached": fits.to_fit - fits.fitted - len(fits.borrowed),
        "fit_and_score_seconds": round(fit_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "coverage_if_calibrated": pooled.calibrated,
        "family_crps": {
            m: {f: float(np.mean(v)) for f, v in fams.items()} for m, fams in pooled.family_crps.items()
        },
    }
    if fits.borrowed:
        result["read_from_other_caches"] = fits.borrowed
    if fits.stacks:
        from validation.stacking import versus_parts

        stacking = fits.stacking
        result["stacking_weights"] = {n: s.pop("weights") for n, s in stacking.items()}
        for name, stack in fits.stacks.items():
            stacking[name]["versus_parts"] = versus_parts(result, name, stack.parts, LEVELS, SKILL_METRICS)
        result["stacking"] = stacking
    result["best_baseline"] = best_baselines(result)
    _write_outputs(out, result, pooled.forecast_rows)
    return result


@dataclass(frozen=True)
class _FitSettings:
    first_year: int
    samples: int
    seed: int
    check_lookahead: tuple[str, ...]
    progress: bool
    workers: int
    cluster: str | None


@dataclass
class _Fits:
    """Every (origin, contender)'s scores, in the order they are reported, and how each was come by."""

    order: list[tuple[int, str]]
    scored: dict[tuple[int, str], _Scored]
    fitted: int  # predictions fitted in this run
    to_fit: int  # predictions of fitted (not stacked) contenders, however come by
    borrowed: dict[str, str]  # "name@origin" -> the other cache's file it was read from
    stacks: dict
    stacking: dict[str, dict]


def _fit_and_score(
    dataset: Dataset,
    origins: Sequence[int],
    horizon: int,
    contenders: dict[str, Contender],
    truth: tuple[xr.DataArray, dict[str, str]],
    settings: _FitSettings,
    cache_dir: Path | None,
    parts_from: Sequence[Path],
) -> _Fits:
    """Each contender's prediction at each origin, from this backtest's cache, another's, a fit or a
    stack of them, scored against ``truth`` (counts, family categories) as it arrives."""
    from validation.stacking import PartStore, StackedContender, stack_backtest

    counts, categories = truth
    first_year, samples, seed = settings.first_year, settings.samples, settings.seed
    check_lookahead, progress = settings.check_lookahead, settings.progress
    workers, cluster = settings.workers, settings.cluster
    cache = PredictionCache(cache_dir) if cache_dir is not None else None
    others = CacheIndex([Path(d) for d in parts_from]) if parts_from else None
    stacks = {n: c for n, c in contenders.items() if isinstance(c, StackedContender)}
    fitted = [n for n in contenders if n not in stacks]
    for name, stack in stacks.items():
        missing = [p for p in stack.parts if p not in fitted]
        if missing:
            raise ValueError(f"{name}: its part(s) {missing} are not contenders of this backtest")
    # parts' draws go to disk as they arrive: the stack needs them after every fit is in
    store = PartStore({p for s in stacks.values() for p in s.parts}) if stacks else None
    order = [(origin, name) for origin in origins for name in contenders]
    scored: dict[tuple[int, str], _Scored] = {}
    keys: dict[tuple[int, str], str] = {}
    about: dict[tuple[int, str], dict] = {}  # what each cache entry holds, written beside it
    borrowed: dict[str, str] = {}  # "name@origin" -> the other cache's file it was read from

    def checked(origin: int, name: str) -> bool:
        # at the earliest origin, where the most future is there to peek at: a second run per
        # origin would double every baseline's cost for a check that the first origin already makes
        return name in check_lookahead and origin == min(origins)

    def take(pair: tuple[int, str], pred: Prediction, path: Path | None = None) -> None:
        scored[pair] = _score_prediction(pred, counts, categories, pair[0], pair[1], seed)
        if store is not None:
            store.keep(pair[0], pair[1], pred, path)

    if cache is not None:
        for origin in origins:
            data_hash = str(training_panel(dataset, origin, first_year).attrs["data_hash"])
            for name in fitted:
                token = getattr(contenders[name], "token", None)
                if token is None:  # an ad-hoc contender has no stable identity: always run
                    continue
                task = {"origin": origin, "horizon": horizon, "samples": samples, "seed": seed + origin}
                task["lookahead_checked"] = checked(origin, name)
                identity = {**token(), **task}
                extra = getattr(contenders[name], "extra_data_hash", None)
                hashed = data_hash if extra is None else f"{data_hash}+{extra(dataset, origin)}"
                keys[origin, name] = cache_key(identity, hashed)
                about[origin, name] = cache_record(identity, name)
                stored = cache.get(keys[origin, name])
                if stored is not None:
                    take((origin, name), _prediction(stored), cache.path(keys[origin, name]))
                    log.info("origin %d: %s read from the cache", origin, name)
    if others is not None:
        for origin in origins:
            for name in fitted:
                if (origin, name) in scored:  # this backtest's own cache comes first
                    continue
                path = others.find(name, origin, horizon, samples, seed + origin)
                if path is not None:
                    take((origin, name), _prediction(others.read(path)), path)
                    borrowed[f"{name}@{origin}"] = str(path)
                    log.info("origin %d: %s read from %s", origin, name, path)
    pending = [pair for pair in order if pair not in scored and pair[1] in fitted]
    tasks = [
        Task(_predict, (contenders[n], n, o, horizon, samples, seed + o, checked(o, n))) for o, n in pending
    ]
    to_fit = len(origins) * len(fitted)
    bar = tqdm(total=to_fit, initial=to_fit - len(pending), desc="backtest", unit="fit", disable=not progress)
    with bar:
        for index, pred in execute(tasks, dataset, workers, cluster):
            pair = pending[index]
            path = None
            if pair in keys:
                cache.put(keys[pair], _arrays(pred), about[pair])  # type: ignore[union-attr]
                path = cache.path(keys[pair])  # type: ignore[union-attr]
            log.info("origin %d: %s fitted (gates: %s)", pair[0], pair[1], pred.gates)
            take(pair, pred, path)
            bar.update()
    stacking: dict[str, dict] = {}
    if store is not None:
        with store:
            for (origin, name), pred in stack_backtest(
                stacks, store, dataset, origins, first_year, seed, stacking
            ):
                take((origin, name), pred)
    return _Fits(order, scored, len(pending), to_fit, borrowed, stacks, stacking)


@dataclass
class _Pooled:
    rows: list[dict]
    forecast_rows: list[pd.DataFrame]
    gates: dict[str, str]
    pit: dict[str, list[float]]
    family_crps: dict[str, dict[str, list[float]]]
    calibrated: dict[str, dict[str, dict[str, float]]]


def _pool_scores(order: list[tuple[int, str]], scored: dict[tuple[int, str], _Scored]) -> _Pooled:
    """Each origin's rows, and every metric pooled over origins per contender and level."""
    rows, forecast_rows, gates = [], [], {}
    pit: dict[str, list[float]] = {}
    family_crps: dict[str, dict[str, list[float]]] = {}
    # every metric is a mean over targets, so pooling over origins weights each origin's means by its
    # number of targets: exact, without keeping every origin's draws in memory
    pooled: dict[tuple[str, str], list[tuple[dict[str, float], int]]] = {}
    own_pooled: dict[tuple[str, str], list[tuple[dict[str, float], int]]] = {}
    for origin, name in order:
        result = scored.pop((origin, name))
        gates[f"{name}@{origin}"] = result.gates
        rows += result.rows
        forecast_rows += result.frames
        for level in LEVELS:
            pit.setdefault(f"{name}/{level}", []).extend(result.pit[level].tolist())
            pooled.setdefault((name, level), []).append(result.means[level])
            own_pooled.setdefault((name, level), []).append(
                (result.own_coverage[level], result.means[level][1])
            )
        for family, values in result.family_crps.items():
            family_crps.setdefault(name, {}).setdefault(family, []).extend(values)
    for (name, level), parts in pooled.items():
        for metric, value in _pool(parts).items():
            rows.append({"model": name, "level": level, "origin": "all", "metric": metric, "value": value})
    # the coverage each contender's own intervals promise (what it would reach were it calibrated)
    calibrated: dict[str, dict[str, dict[str, float]]] = {}
    for (name, level), parts in own_pooled.items():
        calibrated.setdefault(name, {})[level] = _pool(parts)

    return _Pooled(rows, forecast_rows, gates, pit, family_crps, calibrated)


def _write_outputs(out: Path, result: dict, forecast_rows: list[pd.DataFrame]) -> None:
    """scores.json, forecasts.csv, scores.nc and report.html in ``out``."""
    rows = result["rows"]
    atomic_write_text(out / "scores.json", json.dumps(result, indent=1))
    columns = [
        "origin",
        "model",
        "level",
        "partner",
        "family",
        "category",
        "year",
        "observed",
        "mean",
        *(f"q{q:g}" for q in QUANTILES),
    ]
    table = pd.concat(forecast_rows, ignore_index=True)[columns]
    atomic_write_bytes(out / "forecasts.csv", table.to_csv(index=False, lineterminator="\n").encode())
    frame = pd.DataFrame(rows).assign(origin=lambda d: d["origin"].astype(str))
    scores = frame.set_index(["model", "level", "origin", "metric"])["value"].to_xarray()
    scores.to_dataset(name="score").to_netcdf(out / "scores.nc", engine="h5netcdf")
    from validation.report import write_report

    write_report(result, table, out / "report.html")


def score_table(result: dict, origin: str = "all") -> pd.DataFrame:
    """Pooled scores as a model × (level, metric) table."""
    frame = pd.DataFrame(result["rows"])
    frame = frame[frame["origin"].astype(str) == origin]
    return frame.pivot_table(index="model", columns=["level", "metric"], values="value").reindex(
        columns=[(lv, m) for lv in LEVELS for m in METRICS]
    )


def _is_baseline(model: str) -> bool:
    return model in BASELINES


def best_baselines(result: dict, origin: str = "all") -> list[dict]:
    """Per level and proper score (:data:`SKILL_METRICS`), the baseline that scores best (lowest) and
    every other contender's skill against it, 1 - score / best baseline's score (positive: better than
    the best baseline). One record per (level, metric, contender that is not a baseline); with no such
    contender, one record per (level, metric) with ``model``, ``value`` and ``skill`` None."""
    frame = pd.DataFrame(result["rows"])
    frame = frame[(frame["origin"].astype(str) == origin) & frame["metric"].isin(SKILL_METRICS)]
    records: list[dict] = []
    for level in LEVELS:
        for metric in SKILL_METRICS:
            part = frame[(frame["level"] == level) & (frame["metric"] == metric)]
            values = dict(zip(part["model"], part["value"].astype(float), strict=True))
            baselines = {m: v for m, v in values.items() if _is_baseline(m) and np.isfinite(v)}
            if not baselines:
                continue
            best = min(baselines, key=lambda m: (baselines[m], m))  # ties: the first by name
            base = {
                "level": level,
                "metric": metric,
                "best_baseline": best,
                "best_baseline_value": baselines[best],
            }
            others = [m for m in values if not _is_baseline(m)]
            if not others:
                records.append({**base, "model": None, "value": None, "skill": None})
            for model in others:
                value = values[model]
                ratio = 1.0 - value / baselines[best] if baselines[best] > 0 else None
                records.append({**base, "model": model, "value": value, "skill": ratio})
    return records


def best_baseline_table(result: dict, origin: str = "all") -> pd.DataFrame:
    """:func:`best_baselines` as a table indexed by (level, metric): the best baseline, its score, and
    per other contender its score and its skill against that best baseline."""
    stored = result.get("best_baseline") if origin == "all" else None
    records = stored if stored is not None else best_baselines(result, origin)
    if not records:
        return pd.DataFrame()
    frame = pd.DataFrame(records)
    table = frame.drop_duplicates(["level", "metric"]).set_index(["level", "metric"])[
        ["best_baseline", "best_baseline_value"]
    ]
    for model, part in frame.dropna(subset=["model"]).groupby("model", sort=False):
        part = part.set_index(["level", "metric"])
        table[str(model)] = part["value"].astype(float)
        table[f"skill {model}"] = part["skill"].astype(float)
    return table

"""How fast the model fits on the real panel, against the textbook PyMC version of the same likelihood.

Usage:
    PYTHONPATH=. python benchmarks/fit_speed.py [--reference-tune 100] [--reference-draws 100]
        [--reference-cores N] [--only ours|reference] [--set KEY=VALUE ...] [--quick] [--json PATH]

Both paths fit the real panel -- every U.S. partner × system family × year from 1990 -- and are
measured the same way: wall time, minimum bulk ESS over the gated variables
(``DemandModel.gated_names``, ``bayes.diagnostics.diagnose``) and minimum ESS per second.

* ours: ``DemandModel().fit(panel)`` with the project's sampler defaults (NumPyro NUTS, 4 chains ×
  1600 draws after 400 tuning steps, target acceptance 0.8, warm-up trees capped at depth 6, float32,
  sparse likelihood) --
  exactly what ``totaldemand fit`` runs. Wall time is the whole ``fit`` call: compile, sampling, prior draws,
  log-likelihood, predictive draws and the gates.
* reference: ``DemandModel({"likelihood": "reference"})`` -- ``pm.NegativeBinomial`` observed on a
  long vector of every cell, effects gathered by index, float64 -- sampled with ``pm.sample()``
  (PyMC's own NUTS, its default init and ``target_accept``), 4 chains on as many processes as the
  machine has CPUs. Its default 1000 + 1000 iterations take hours on 2 cores, so tuning and draws
  are reduced (``--reference-tune``/``--reference-draws``, 100 each by default: about 50 minutes here).
  At 100 tuning steps the reference has not finished warming up, so its ESS is a floor and the
  printed ratio an overstatement; the report also prints the bound that holds even if every
  reference draw were independent. Wall time is the whole ``pm.sample`` call.

Each path runs in its own child process, so peak memory is per path: the sampled peak of the summed
RSS of the child and its worker processes, and ``getrusage`` max RSS of the child and its largest
worker. The report ends with the ratio ours / reference of min ESS/s and whether the targets hold:
ratio >= 10 and our full real-panel fit within 180 s with its gates passed.

``--quick`` is a smoke test (about a minute or two): a small panel (years from 2015, the busiest
partners and families) and a few dozen iterations on both paths; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 10.0
TARGET_FIT_S = 180.0
CHAINS = 4
QUICK_FIRST_YEAR = 2015
QUICK_PARTNERS = 12
QUICK_FAMILIES = 8
QUICK_ITERATIONS = 50  # tune and draws, both paths


# -- memory ------------------------------------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def tree_rss_bytes(root: int) -> int:
    """Summed resident set size of ``root`` and all its descendants (Linux /proc)."""
    children = _children_map()
    page = os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


class PeakRSS:
    """Polls the summed RSS of this process tree in a background thread and keeps the peak."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pid = os.getpid()
        while not self._stop.is_set():
            if os.path.isdir("/proc"):
                self.peak = max(self.peak, tree_rss_bytes(pid))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def getrusage_mb() -> dict[str, float]:
    """Max RSS (Linux reports KiB) of this process and of its largest reaped child, in MB."""
    return {
        "self_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_max_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


# -- the two paths (run in a child process) ----------------------------------------------------------
def load_panel(quick: bool):  # -> xr.Dataset
    import numpy as np

    from bayes.panel import build_panel
    from evidence.loaders import default_dataset_path, load_dataset

    dataset = load_dataset(default_dataset_path())
    if not quick:
        return build_panel(dataset, first_year=1990)
    panel = build_panel(dataset, first_year=QUICK_FIRST_YEAR)
    counts = panel["lor_count"]
    partners = np.sort(np.argsort(-counts.sum(("family", "year")).values, kind="stable")[:QUICK_PARTNERS])
    families = np.sort(np.argsort(-counts.sum(("partner", "year")).values, kind="stable")[:QUICK_FAMILIES])
    return panel.isel(partner=partners, family=families)


def panel_summary(panel) -> dict[str, Any]:
    from bayes.panel import describe

    return {
        **describe(panel),
        "first_year": int(panel["year"].values.min()),
        "last_year": int(panel["year"].values.max()),
    }


def mean_steps(idata) -> float | None:
    """Mean leapfrog steps (gradient evaluations) per post-warm-up draw."""
    stats = idata["sample_stats"]
    return float(stats["n_steps"].values.mean()) if "n_steps" in stats.data_vars else None


def _sampling_time(idata) -> float | None:
    value = idata["posterior"].attrs.get("sampling_time", idata["sample_stats"].attrs.get("sampling_time"))
    return None if value is None else float(value)


def run_ours(quick: bool, choices: dict[str, str]) -> dict[str, Any]:
    from bayes.model import DemandModel

    panel = load_panel(quick)
    sampler_config = {"draws": QUICK_ITERATIONS, "tune": QUICK_ITERATIONS} if quick else {}
    model = DemandModel(choices, sampler_config=sampler_config)
    cfg = model.sampler_config
    started = time.perf_counter()
    model.fit(panel, progressbar=False)
    wall = time.perf_counter() - started
    idata = model.idata
    diag = model.diagnostics
    ess, ess_var = diag.ess_bulk_min, diag.worst["ess_bulk"]
    return {
        "panel": panel_summary(panel),
        "settings": (
            f"DemandModel.fit: likelihood {model.model_config['likelihood']} (float32), "
            f"{cfg['nuts_sampler']} NUTS, {cfg['chains']} chains x {cfg['draws']} draws, "
            f"tune {cfg['tune']}, target_accept {cfg['target_accept']}, "
            f"chain_method {cfg['chain_method']}, seed {cfg['random_seed']}"
            + "".join(f", {k} {v}" for k, v in choices.items())
        ),
        "short": f"{cfg['chains']}x{cfg['draws']} (tune {cfg['tune']})",
        "wall_s": wall,
        # NumPyro's run, its JIT compile included; fit_seconds adds the prior draws.
        "sampling_s": _sampling_time(idata),
        "fit_seconds_attr": float(idata.attrs["fit_seconds"]),
        "min_bulk_ess": ess,
        "min_bulk_ess_var": ess_var,
        "mean_steps_per_draw": mean_steps(idata),
        "diagnostics": diag.as_dict(),
    }


def run_reference(quick: bool, tune: int, draws: int, cores: int) -> dict[str, Any]:
    import pymc as pm
    import pytensor

    from bayes.diagnostics import diagnose
    from bayes.model import DemandModel

    panel = load_panel(quick)
    demand = DemandModel({"likelihood": "reference"})
    seed = int(demand.sampler_config["random_seed"])
    model = demand.build_model(panel)
    gated = demand.gated_names(demand.design)  # as DemandModel.fit keeps and gates them
    started = time.perf_counter()
    with pytensor.config.change_flags(floatX="float64"), model:
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=CHAINS,
            cores=cores,
            random_seed=seed,
            var_names=gated,
            progressbar=False,
        )
    wall = time.perf_counter() - started
    diag = diagnose(idata, gated, demand.model_config.get("gates"))
    ess, ess_var = diag.ess_bulk_min, diag.worst["ess_bulk"]
    return {
        "panel": panel_summary(panel),
        "settings": (
            f"pm.sample (PyMC NUTS, default init and target_accept): likelihood reference (float64), "
            f"{CHAINS} chains x {draws} draws, tune {tune}, cores {cores}, seed {seed}"
        ),
        "short": f"{CHAINS}x{draws} (tune {tune})",
        "draws_total": CHAINS * draws,
        "wall_s": wall,
        # PyMC's sampling loop, after compile and init.
        "sampling_s": _sampling_time(idata),
        "min_bulk_ess": ess,
        "min_bulk_ess_var": ess_var,
        "mean_steps_per_draw": mean_steps(idata),
        "diagnostics": diag.as_dict(),
    }


def child_main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    with PeakRSS() as peak:
        if args.child == "ours":
            result = run_ours(args.quick, args.choices)
        else:
            result = run_reference(
                args.quick, args.reference_tune, args.reference_draws, args.reference_cores
            )
    result.update(getrusage_mb())
    result["peak_tree_rss_mb"] = max(peak.peak / 2**20, result["self_max_rss_mb"])
    Path(args.result_file).write_text(json.dumps(result))


# -- orchestration -----------------------------------------------------------------------------------
def run_child(path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one path in a fresh interpreter; its logs go to our stderr, its figures come back as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        result_file = Path(tmp) / f"{path}.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            path,
            "--result-file",
            str(result_file),
            "--reference-tune",
            str(args.reference_tune),
            "--reference-draws",
            str(args.reference_draws),
            "--reference-cores",
            str(args.reference_cores),
        ]
        if args.quick:
            cmd.append("--quick")
        for setting in args.set:
            cmd += ["--set", setting]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        print(f"[fit_speed] running {path} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=sys.stderr, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"fit_speed: the {path} path failed (exit code {proc.returncode})")
        result = json.loads(result_file.read_text())
    result["process_s"] = time.perf_counter() - started
    for basis in ("wall", "sampling"):
        seconds = result.get(f"{basis}_s")
        result[f"ess_per_s_{basis}"] = result["min_bulk_ess"] / seconds if seconds else None
    print(
        f"[fit_speed] {path} done in {result['process_s']:.0f} s: wall {result['wall_s']:.1f} s, "
        f"min bulk ESS {result['min_bulk_ess']:.0f}, "
        f"mean steps/draw {_fmt(result['mean_steps_per_draw'], '.1f')}",
        file=sys.stderr,
        flush=True,
    )
    return result


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _ratio(ours: dict[str, Any] | None, ref: dict[str, Any] | None, basis: str) -> float | None:
    if not ours or not ref:
        return None
    a, b = ours.get(f"ess_per_s_{basis}"), ref.get(f"ess_per_s_{basis}")
    return a / b if a is not None and b else None


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    import platform

    first = next(iter(results.values()))
    p = first["panel"]
    lines = [
        f"fit_speed{' (QUICK smoke test: figures are meaningless)' if args.quick else ''}",
        f"panel: {p['partners']} partners x {p['families']} families x {p['years']} years "
        f"({p['first_year']}-{p['last_year']}) = {p['cells']} cells, {p['lors']} LORs, "
        f"{p['zero_share']:.1%} zeros",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')}",
        "",
        f"{'path':<10} {'settings':<20} {'wall s':>8} {'sampling s':>10} {'min bulk ESS':>12} "
        f"{'ESS/s wall':>10} {'ESS/s samp':>10} {'peak RSS MB':>11}  gates",
    ]
    for name, r in results.items():
        d = r["diagnostics"]
        gates = "passed" if d["passed"] else "FAILED"
        lines.append(
            f"{name:<10} {r['short']:<20} {r['wall_s']:>8.1f} {_fmt(r['sampling_s'], '.1f'):>10} "
            f"{r['min_bulk_ess']:>12.0f} {_fmt(r['ess_per_s_wall'], '.3f'):>10} "
            f"{_fmt(r['ess_per_s_sampling'], '.3f'):>10} {r['peak_tree_rss_mb']:>11.0f}  {gates}"
        )
    lines.append("")
    for name, r in results.items():
        d = r["diagnostics"]
        lines += [
            f"{name}: {r['settings']}",
            f"  min bulk ESS {r['min_bulk_ess']:.0f} ({r['min_bulk_ess_var']}); "
            f"R-hat max {d['r_hat_max']:.4f} ({d['worst'].get('r_hat', '-')}); "
            f"tail ESS min {d['ess_tail_min']:.0f}; divergences {d['divergences']}; "
            f"E-BFMI min {d['bfmi_min']:.2f}; mean leapfrog steps/draw "
            f"{_fmt(r['mean_steps_per_draw'], '.1f')}",
            f"  gates: {'passed' if d['passed'] else 'FAILED: ' + '; '.join(d['failures'])}",
            f"  memory: peak summed RSS of the process tree {r['peak_tree_rss_mb']:.0f} MB; "
            f"getrusage max RSS main {r['self_max_rss_mb']:.0f} MB, "
            f"largest worker {r['children_max_rss_mb']:.0f} MB",
        ]
        if name == "ours":
            lines.append(
                f"  wall = whole DemandModel.fit; sampling = NumPyro run incl. JIT compile; "
                f"fit_seconds attr (sampling + prior draws) {r['fit_seconds_attr']:.1f} s"
            )
        else:
            lines.append("  wall = whole pm.sample call (compile, init, sampling); sampling = PyMC's loop")
    ours, ref = results.get("ours"), results.get("reference")
    ratio_wall, ratio_sampling = _ratio(ours, ref, "wall"), _ratio(ours, ref, "sampling")
    targets: dict[str, Any] = {}
    lines.append("")
    if ratio_wall is not None:
        lines.append(
            f"ratio ours/reference of min ESS/s: {ratio_wall:.1f}x on wall time "
            f"({_fmt(ratio_sampling, '.1f')}x on sampling time)"
        )
        targets["ratio_ge_10"] = ratio_wall >= TARGET_RATIO
        if ref is not None and ours is not None and ref.get("draws_total"):
            # A short reference run may not have warmed up, making its ESS a floor; this bound holds
            # even if every one of its draws were independent (ESS = number of draws).
            bound = ours["ess_per_s_wall"] / (ref["draws_total"] / ref["wall_s"])
            lines.append(f"ratio if every reference draw were independent (a lower bound): {bound:.1f}x")
            targets["ratio_bound_ge_10"] = bound >= TARGET_RATIO
    if ours is not None:
        targets["ours_fit_le_180s_gates_passed"] = (
            ours["wall_s"] <= TARGET_FIT_S and ours["diagnostics"]["passed"]
        )
    labels = {
        "ratio_ge_10": f"min ESS/s ratio >= {TARGET_RATIO:.0f}x",
        "ratio_bound_ge_10": f"min ESS/s ratio >= {TARGET_RATIO:.0f}x even on the lower bound",
        "ours_fit_le_180s_gates_passed": f"our fit <= {TARGET_FIT_S:.0f} s with gates passed",
    }
    for key, met in targets.items():
        lines.append(f"target {labels[key]}: {'MET' if met else 'NOT MET'}")
    if args.quick and targets:
        lines.append("(quick mode: the targets refer to the real-panel run and are not assessed here)")
    print("\n".join(lines), flush=True)
    return {
        "quick": args.quick,
        "argv": sys.argv,
        "cpus": os.cpu_count(),
        "panel": p,
        "paths": results,
        "ratio_min_ess_per_s_wall": ratio_wall,
        "ratio_min_ess_per_s_sampling": ratio_sampling,
        "targets": {k: (v if not args.quick else None) for k, v in targets.items()},
        "target_values": {"ratio": TARGET_RATIO, "ours_fit_s": TARGET_FIT_S},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reference-tune", type=int, default=None, help="reference tuning steps (100)")
    parser.add_argument("--reference-draws", type=int, default=None, help="reference draws per chain (100)")
    parser.add_argument(
        "--reference-cores", type=int, default=None, help="reference worker processes (default: CPUs)"
    )
    parser.add_argument("--only", choices=("ours", "reference"), help="run one path only")
    parser.add_argument("--quick", action="store_true", help="small panel, few iterations: a smoke test")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model_config choice for ours, e.g. waves=off (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--child", choices=("ours", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.choices = {}
    for setting in args.set:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            parser.error(f"--set {setting!r}: expected KEY=VALUE")
        args.choices[key] = value
    default_iterations = QUICK_ITERATIONS if args.quick else 100
    if args.reference_tune is None:
        args.reference_tune = default_iterations
    if args.reference_draws is None:
        args.reference_draws = default_iterations
    if args.reference_cores is None:
        # "As many as the machine has": PyMC's own default halves cpu_count (it assumes
        # hyper-threads), which would leave one of two cores idle here.
        args.reference_cores = os.cpu_count() or 1
    return args


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return None
    paths = [args.only] if args.only else ["ours", "reference"]
    results = {path: run_child(path, args) for path in paths}
    summary = report(results, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
        print(f"figures written to {args.json}", flush=True)
    return summary


if __name__ == "__main__":
    main()

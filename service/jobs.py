"""Fit jobs: each runs in its own worker process (never in the server's event loop), queued in the
database, so a restart finds every job where it was and a crashed worker is noticed.

The worker reserves a model id up front (status ``fitting``), writes the posterior file atomically,
then registers its status (``ok`` or ``failed`` by the gates). Progress comes from the sampler's own
progress bar, which the worker sends to its log file (``<home>/jobs/<id>.log``)."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import re
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from service import registry
from service import tables as s
from service.db import engine_for, now
from totaldemand.settings import Settings

log = logging.getLogger(__name__)

_PERCENT = re.compile(r"(\d{1,3})%\|")
_STAGES = {"exporting data": 0.02, "building panel": 0.05, "sampling": 0.1, "saving": 0.95}


def claim_next(engine: Engine) -> registry.JobRecord | None:
    """Take the oldest queued job, atomically (two server processes never start the same one)."""
    with engine.begin() as conn:
        job_id = conn.execute(
            select(s.jobs.c.id).where(s.jobs.c.status == "queued").order_by(s.jobs.c.created_at).limit(1)
        ).scalar()
        if job_id is None:
            return None
        claimed = conn.execute(
            update(s.jobs)
            .where(s.jobs.c.id == job_id, s.jobs.c.status == "queued")
            .values(status="running", stage="starting", started_at=now())
        )
        if not claimed.rowcount:
            return None
    return registry.get_job(engine, job_id)


class Dispatcher:
    """Starts queued jobs in worker processes, at most ``settings.fit_workers`` at once."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.processes: dict[str, mp.Process] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._context = mp.get_context("spawn")  # JAX and fork do not mix

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="fit-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def running(self) -> int:
        return sum(p.is_alive() for p in self.processes.values())

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._reap()
                while self.running() < self.settings.fit_workers:
                    job = claim_next(self.engine)
                    if job is None:
                        break
                    self._launch(job)
            except Exception:  # keep dispatching; the job table says what failed
                log.exception("fit dispatcher")
            self._wake.wait(1.0)
            self._wake.clear()

    def _launch(self, job: registry.JobRecord) -> None:
        process = self._context.Process(
            target=run_job, args=(job.id, asdict(self.settings)), name=f"fit-{job.id}", daemon=False
        )
        process.start()
        registry.update_job(self.engine, job.id, pid=process.pid)
        self.processes[job.id] = process
        log.info("fit job %s started in worker process %d", job.id, process.pid)

    def _reap(self) -> None:
        for job_id, process in list(self.processes.items()):
            if process.is_alive():
                continue
            process.join()
            del self.processes[job_id]
            job = registry.get_job(self.engine, job_id)
            if job.status == "running":  # the worker died without saying so (killed, out of memory)
                registry.fail_job(
                    self.engine, job, f"worker process exited with code {process.exitcode} before finishing"
                )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop dispatching; running workers are terminated and their jobs marked failed."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for job_id, process in self.processes.items():
            if process.is_alive():
                process.terminate()
                process.join(timeout)
                if process.is_alive():
                    process.kill()
            job = registry.get_job(self.engine, job_id)
            if job.status == "running":
                registry.fail_job(
                    self.engine, job, "the server shut down while the fit was running; start it again"
                )
        self.processes.clear()


# ---- in the worker process ----------------------------------------------------------------------


def _watch(engine: Engine, job_id: str, log_path: Path, parent: int, stop: threading.Event) -> None:
    """Progress from the sampler's bar in the log; exit if the server that started us is gone."""
    while not stop.wait(2.0):
        if os.getppid() != parent:
            job = registry.get_job(engine, job_id)
            registry.fail_job(
                engine, job, "the server process ended while the fit was running; start it again"
            )
            os._exit(3)
        try:
            with log_path.open("rb") as fh:
                fh.seek(max(0, log_path.stat().st_size - 4096))
                tail = fh.read().decode("utf-8", "replace")
        except OSError:
            continue
        found = [int(m) for m in _PERCENT.findall(tail)]
        if found and registry.get_job(engine, job_id).stage == "sampling":
            # warm-up and sampling share one bar per chain; its percentage covers both
            registry.update_job(engine, job_id, progress=round(0.1 + 0.85 * min(found[-4:]) / 100, 3))


def _sampler_config(params: dict[str, Any]) -> dict[str, Any]:
    names = {
        "draws": "draws",
        "tune": "tune",
        "chains": "chains",
        "seed": "random_seed",
        "target_accept": "target_accept",
        "parallel_chains": "parallel_chains",
        "warm_tune": "warm_tune",
    }
    return {names[k]: v for k, v in params.items() if k in names and v is not None}


def yield_cpu(settings: Settings) -> None:
    """Lower this process's CPU priority as the settings ask (fit_nice, fit_idle); threads started later,
    such as JAX's, inherit it. Where the system refuses, the fit runs at the priority it has."""
    with contextlib.suppress(OSError):
        os.nice(settings.fit_nice)
    if settings.fit_idle and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def run_job(job_id: str, settings_dict: dict[str, Any]) -> None:
    """Worker process entry point: fit what the job asks for and register the result."""
    settings = Settings(
        **{k: Path(v) if k in ("home", "data") and v is not None else v for k, v in settings_dict.items()}
    )
    parent = os.getppid()
    yield_cpu(settings)
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.jobs_dir / f"{job_id}.log"
    handle = log_path.open("a", buffering=1)
    os.dup2(handle.fileno(), 2)  # the sampler's progress bar and any warnings land in the job log
    sys.stderr = handle
    logging.basicConfig(
        level=logging.INFO,
        stream=handle,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    engine = engine_for(settings.db_url)
    job = registry.get_job(engine, job_id)
    stop = threading.Event()
    threading.Thread(target=_watch, args=(engine, job_id, log_path, parent, stop), daemon=True).start()
    model_id = registry.new_id()
    out = settings.models_dir / f"{model_id}.nc"
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(s.models).values(
                    id=model_id,
                    status="fitting",
                    path=str(out.resolve()),
                    created_at=now(),
                    job_id=job_id,
                    diagnostics="{}",
                )
            )
        registry.update_job(engine, job_id, model_id=model_id, pid=os.getpid())
        params = job.params
        from bayes.fitting import fit_panel, fitting_panel, side_data_for
        from evidence.loaders import load_dataset
        from service.store import export

        _stage(engine, job_id, "exporting data")
        data = export(engine, settings.datasets_dir)
        _stage(engine, job_id, "building panel")
        dataset = load_dataset(data)
        basis = str(params.get("demand_basis", "us"))
        panel = fitting_panel(dataset, int(params.get("first_year", 1990)), basis)
        warm = None
        if params.get("warm_start"):
            warm = Path(registry.get_model(engine, _resolve(engine, params["warm_start"])).path)
        _stage(engine, job_id, "sampling")
        model = fit_panel(
            panel,
            out,
            sampler_config=_sampler_config(params),
            progressbar=True,
            warm_start=warm,
            model_config={
                "zero_inflation": bool(params.get("zero_inflated", False)),
                "components": {name: False for name in params.get("without", [])},
                "demand_basis": basis,
            },
            side=side_data_for(dataset, panel),
        )
        _stage(engine, job_id, "saving")
        record = registry.register_file(engine, out, job_id=job_id, model_id=model_id)
        if params.get("activate") and record.status == "ok":
            registry.activate(engine, model_id)
        registry.update_job(
            engine,
            job_id,
            status="succeeded",
            stage="done",
            progress=1.0,
            finished_at=now(),
            error=None
            if model.status == "ok"
            else "the fit failed its gates: " + "; ".join(model.diagnostics.failures),
        )
    except BaseException as exc:
        log.exception("fit job %s failed", job_id)
        registry.fail_job(engine, registry.get_job(engine, job_id), f"{type(exc).__name__}: {exc}")
        raise SystemExit(1) from None
    finally:
        stop.set()


def _stage(engine: Engine, job_id: str, stage: str) -> None:
    registry.update_job(engine, job_id, stage=stage, progress=_STAGES[stage])
    log.info("job %s: %s", job_id, stage)


def _resolve(engine: Engine, ref: str) -> str:
    if ref == "active":
        active = registry.active_id(engine)
        if active is None:
            raise registry.RegistryError("warm_start 'active': no model is active")
        return active
    return ref


def job_log_tail(settings: Settings, job_id: str, lines: int = 20) -> list[str]:
    path = settings.jobs_dir / f"{job_id}.log"
    if not path.is_file():
        return []
    text = path.read_text(errors="replace").replace("\r", "\n")
    return [line for line in text.splitlines() if line.strip()][-lines:]


def wait_for(engine: Engine, job_id: str, timeout: float, poll: float = 0.5) -> registry.JobRecord:
    """Block until a job finishes (tests, the CLI); returns its final record."""
    deadline = time.monotonic() + timeout
    while True:
        job = registry.get_job(engine, job_id)
        if job.status in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(poll)

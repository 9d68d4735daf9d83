"""What the server shares between requests: the model it serves (swapped whole on activation, and
followed across server processes), the database, the key cache, the fit dispatcher and the metrics.

Handlers reach it through :func:`services_of` (the app's state) and :func:`active_model` (503 while no
model is active)."""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from litestar.datastructures import State
from litestar.exceptions import ServiceUnavailableException
from sqlalchemy import Engine, func, select

from bayes.fitting import load_forecaster
from bayes.forecast import MAX_HORIZON, Forecaster
from bayes.model import DemandModel
from service import registry, store
from service import tables as s
from service.auth import KeyCache
from service.db import engine_for, migrate
from service.jobs import Dispatcher
from service.metrics import Metrics
from service.response_cache import ResponseCache
from totaldemand.settings import Settings

log = logging.getLogger(__name__)

SERVED_DRAWS = 1000  # posterior draws each answer rests on


@dataclass
class Served:
    """A registered model and its compiled forecaster."""

    record: registry.ModelRecord
    model: DemandModel
    forecaster: Forecaster
    loaded_at: float = field(default_factory=time.time)
    cache: ResponseCache = field(default_factory=ResponseCache)
    replay: ResponseCache = field(default_factory=ResponseCache)  # service.replay
    book_version: int = -1  # the database's last write the served book reflects (store.book_version)

    @classmethod
    def load(cls, record: registry.ModelRecord) -> Served:
        # only what answers read: no analysis groups, and the forecaster's draws alone (not 6,400)
        model = DemandModel.load(record.path, analysis_groups=False, max_draws=SERVED_DRAWS)
        return cls(record, model, load_forecaster(model, max_horizon=MAX_HORIZON, max_draws=SERVED_DRAWS))


class ModelHolder:
    """The model this process serves, swapped whole when another one is activated (here, or in
    another server process: a poller follows the registry)."""

    def __init__(self, engine: Engine, reload_seconds: float) -> None:
        self.engine = engine
        self.reload_seconds = reload_seconds
        self.served: Served | None = None
        self._compared: Served | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def refresh(self) -> Served | None:
        active = registry.active_id(self.engine)
        if active is None or (self.served is not None and self.served.record.id == active):
            return self.served
        with self._lock:
            if self.served is None or self.served.record.id != active:
                record = registry.get_model(self.engine, active)
                started = time.perf_counter()
                self.served = Served.load(record)
                # What is alive now (modules, the model, its forecaster) lives as long as the process:
                # out of the collector's sight, a full collection scans only what requests allocate,
                # instead of millions of objects while every request waits.
                gc.freeze()
                log.info(
                    "serving model %s (%s) after %.1fs", record.id, record.path, time.perf_counter() - started
                )
        self.refresh_book()
        return self.served

    def compared(self, model_id: str) -> Served:
        """Another registered model, served with the live book, for "why did this move" (the last one
        asked for is kept: loading a model takes seconds)."""
        served = self.served
        version = store.book_version(self.engine)
        with self._lock:
            kept = self._compared
            if kept is None or kept.record.id != model_id or kept.book_version != version:
                record = registry.get_model(self.engine, model_id)
                kept = Served.load(record)
                lors = store.read_lors(self.engine)
                kept.forecaster.set_book(lors, as_of=served.forecaster.book_as_of if served else "")
                kept.book_version = version
                self._compared = kept
                log.info("loaded model %s to compare with the served one", model_id)
        return kept

    def refresh_book(self) -> None:
        """Serve the book of requests as stored now, if anything was written since it was read: posted
        LORs move the answers without a refit (Forecaster.set_book), and cached answers are dropped."""
        served = self.served
        if served is None:
            return
        version = store.book_version(self.engine)
        if version == served.book_version:
            return
        with self._lock:
            if version == served.book_version:
                return
            started = time.perf_counter()
            lors = store.read_lors(self.engine)
            as_of = f"{datetime.now(UTC).isoformat(timespec='seconds')} (write {version})"
            on_book = served.forecaster.set_book(lors, as_of=as_of)
            served.cache.clear()
            served.replay.clear()
            served.book_version = version
            log.info(
                "book refreshed at write %d: %d firm or pending requests in the forecast years (%.0f ms)",
                version,
                on_book,
                1000 * (time.perf_counter() - started),
            )

    def follow(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.reload_seconds):
                try:
                    self.refresh()
                except Exception:  # a bad file must not take the served model down
                    log.exception("could not load the newly activated model; still serving the previous one")

        threading.Thread(target=loop, name="model-follower", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Services:
    settings: Settings
    engine: Engine
    keys: KeyCache
    holder: ModelHolder
    dispatcher: Dispatcher
    metrics: Metrics


def _jobs_by_status(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(s.jobs.c.status, func.count()).group_by(s.jobs.c.status)).all()
    return {status: int(n) for status, n in rows}


def build_services(settings: Settings, model_path: Path | None = None) -> Services:
    """Database migrated and seeded, orphaned jobs reconciled, a given posterior file registered and
    activated (refused if it failed its gates)."""
    engine = engine_for(settings.db_url)
    migrate(engine)
    store.seed(engine, settings.seed_dataset())
    for job_id in registry.reconcile(engine):
        log.warning("job %s had been interrupted; marked failed", job_id)
    if model_path is not None:
        record = registry.register_file(engine, Path(model_path))
        if record.status != "ok":
            raise RuntimeError(
                f"{model_path}: model status {record.status!r}; refusing to serve a failed fit"
            )
        registry.activate(engine, record.id)
    holder = ModelHolder(engine, settings.reload_seconds)

    def fitted_at() -> str | None:
        return holder.served.record.fitted_at if holder.served else None

    def loaded_at() -> float | None:
        return holder.served.loaded_at if holder.served else None

    def cache_counts() -> tuple[int, int]:
        served = holder.served
        return (served.cache.hits + served.replay.hits, served.cache.misses) if served else (0, 0)

    metrics = Metrics(
        jobs_by_status=lambda: _jobs_by_status(engine),
        model_fitted_at=fitted_at,
        model_loaded_at=loaded_at,
        cache_counts=cache_counts,
    )
    return Services(settings, engine, KeyCache(engine), holder, Dispatcher(settings, engine), metrics)


def services_of(state: State) -> Services:
    """The services an app was created with (``create_app`` puts them in its state)."""
    return state.services


def active_model(services: Services) -> Served:
    """The model served now; 503 while none is active."""
    served = services.holder.served or services.holder.refresh()
    if served is None:
        raise ServiceUnavailableException("no model is active: fit one (POST /v1/models) and activate it")
    return served

"""The Litestar application: forecasts from the active model's stored draws, validated ingests into the
database, fit jobs in worker processes, the model registry, API keys and metrics. OpenAPI at ``/schema``.

The planner's page (``/planner``, ``service/_planner.py``) renders the same forecasts as HTML.

``create_app`` migrates the database, seeds it from the configured dataset when it is empty, marks
jobs orphaned by a crash as failed, and starts the fit dispatcher with the app."""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from litestar import Litestar, Request, Response, route
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from sqlalchemy import Engine, func, select

from bayes.fitting import load_forecaster
from bayes.forecast import MAX_HORIZON, Forecaster, ForecastError
from bayes.model import DemandModel
from bayes.scenario import ScenarioError
from evidence.loaders import LoadError
from service import _replay, registry, store
from service import _schema as s
from service._bodies import check_body
from service._cache import ResponseCache
from service.auth import KeyCache
from service.config import Settings, load_settings
from service.db import engine_for, migrate
from service.jobs import Dispatcher
from service.metrics import Metrics
from service.scope import ScopeError

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
    replay: ResponseCache = field(default_factory=ResponseCache)  # service/_replay.py
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


def _error(
    status: int, detail: str, errors: list[dict] | None = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict = {"status_code": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return Response(body, status_code=status, headers=headers)


def _load_error(_: Request, exc: LoadError) -> Response:
    """Every bad row, field and reason of an upload: 400, and nothing of it was stored."""
    errors = [
        {
            "row": p.row,
            "field": p.column,
            "value": None if p.value is None else str(p.value),
            "reason": p.reason,
        }
        for p in exc.problems[:1000]
    ]
    return _error(400, f"{len(exc.problems)} problem(s); nothing was stored", errors)


def _forecast_error(_: Request, exc: ForecastError | ScenarioError) -> Response:
    return _error(400, str(exc))


def _registry_error(_: Request, exc: registry.RegistryError) -> Response:
    return _error(exc.status_code, str(exc))


def _scope_error(_: Request, exc: ScopeError) -> Response:
    return _error(403, str(exc))


def _field_errors(extra: object) -> list[dict] | None:
    """Litestar's validation details ({key, message, source}) in the shape of upload errors."""
    if not isinstance(extra, list) or not extra:
        return None
    return [
        {"row": None, "field": e.get("key"), "value": None, "reason": str(e.get("message", ""))}
        if isinstance(e, dict)
        else {"row": None, "field": None, "value": None, "reason": str(e)}
        for e in extra
    ]


def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):  # its headers too: a 405 says which methods are allowed
        extra = _field_errors(getattr(exc, "extra", None))
        return _error(exc.status_code, exc.detail, extra, dict(exc.headers or {}))
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error(500, "internal error; the server log has the details")


def _allow(path: str, methods: list[str]) -> HTTPRouteHandler:
    def options() -> Response:
        return Response(None, status_code=204, headers={"allow": ", ".join(methods)})

    options.__name__ = options.__qualname__ = f"options_{path}"
    return route(path, http_method=["OPTIONS"], include_in_schema=False, sync_to_thread=False)(options)


def with_options(handlers: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """``handlers`` and, first, an OPTIONS handler for each path that several of them share. Litestar 2
    answers OPTIONS on such a path with the first handler's methods alone (litestar#4169, fixed in v3),
    and a client that believes ``Allow`` would not know the others exist."""
    methods: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            methods.setdefault(path, set()).update(handler.http_methods)
    shared = [_allow(p, sorted(m | {"OPTIONS"})) for p, m in methods.items() if len(m) > 1]
    return [*shared, *handlers]


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


def create_app(settings: Settings | None = None, model_path: Path | str | None = None) -> Litestar:
    """The app around a database (``settings``, default: from the environment and config file)."""
    from service import _basis, _planner, _planner_views, _scenarios, _why
    from service import _handlers as h

    async def before_request(request: Request) -> None:  # the key first, then what it sent
        await h.authorize(request)
        await check_body(request)

    settings = settings or load_settings()
    services = build_services(settings, Path(model_path) if model_path else None)
    services.holder.refresh()
    if services.holder.served is None:
        log.warning("no model is active yet: forecasts answer 503 until one is fitted and activated")

    def startup() -> None:
        services.metrics.watch_gc()
        services.dispatcher.start()
        services.holder.follow()

    def shutdown() -> None:
        log.info("shutting down: stopping the fit dispatcher")
        services.metrics.unwatch_gc()
        services.holder.stop()
        services.dispatcher.stop()
        services.engine.dispose()

    return Litestar(
        route_handlers=with_options(
            [
                *h.HANDLERS,
                *_scenarios.HANDLERS,
                *_basis.HANDLERS,
                *_why.HANDLERS,
                *_planner.HANDLERS,
                *_planner_views.HANDLERS,
            ]
        ),
        state=State({"services": services}),
        openapi_config=OpenAPIConfig(
            title="totaldemand",
            version="0.2.0",
            path="/schema",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(
                        type="http", scheme="bearer", description="Authorization: Bearer <key>"
                    )
                }
            ),
        ),
        request_max_body_size=settings.max_body_bytes,
        before_request=before_request,
        middleware=[
            DefineMiddleware(services.metrics.middleware),
            DefineMiddleware(_replay.middleware(lambda: services.holder.served, services.keys)),
        ],
        exception_handlers={
            LoadError: _load_error,
            ForecastError: _forecast_error,
            ScenarioError: _forecast_error,
            registry.RegistryError: _registry_error,
            ScopeError: _scope_error,
            Exception: _unexpected,
        },
        on_startup=[startup],
        on_shutdown=[shutdown],
    )


__all__ = ["Services", "build_services", "create_app"]

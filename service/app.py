"""The Litestar application: forecasts from the active model's stored draws, validated ingests into the
database, fit jobs in worker processes, the model registry, API keys and metrics. OpenAPI at ``/schema``.

The pieces, each in its own module: the shared state (:mod:`service.state`), who may call what
(:mod:`service.guards`, :mod:`service.scope`), the response cache (:mod:`service.response_cache`), errors as
answers (:mod:`service.errors`), and the routes, one router per resource (:mod:`service.routes`).

``create_app`` migrates the database, seeds it from the configured dataset when it is empty, marks
jobs orphaned by a crash as failed, and starts the fit dispatcher with the app."""

from __future__ import annotations

import logging
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware

from service import replay
from service.errors import EXCEPTION_HANDLERS
from service.guards import before_request
from service.openapi import openapi_config
from service.routes import ROUTERS
from service.state import Services, build_services
from totaldemand.settings import Settings, load_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, model_path: Path | str | None = None) -> Litestar:
    """The app around a database (``settings``, default: from the environment and config file)."""
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
        route_handlers=ROUTERS,
        state=State({"services": services}),
        openapi_config=openapi_config(),
        request_max_body_size=settings.max_body_bytes,
        before_request=before_request,
        middleware=[
            DefineMiddleware(services.metrics.middleware),
            DefineMiddleware(replay.middleware(lambda: services.holder.served, services.keys)),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[startup],
        on_shutdown=[shutdown],
    )


__all__ = ["Services", "build_services", "create_app"]

"""Open routes for operators: liveness and Prometheus metrics."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State
from litestar.response import Response
from sqlalchemy import text

from service.bodies import Health
from service.metrics import CONTENT_TYPE
from service.openapi import resource_router
from service.state import services_of


@get("/health", sync_to_thread=False)
def health(state: State) -> Health:
    """Liveness and what is served; 200 even with no active model (the server is up)."""
    services = services_of(state)
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        database = f"error: {type(exc).__name__}"
    served = services.holder.served
    return Health(
        "ok" if database == "ok" else "degraded",
        served.record.id if served else None,
        served.loaded_at if served else None,
        database,
    )


@get("/metrics", sync_to_thread=True, media_type=CONTENT_TYPE)
def metrics(state: State) -> Response[bytes]:
    """Prometheus text format: request counts and latencies, fit jobs by status, model age."""
    return Response(services_of(state).metrics.render(), media_type=CONTENT_TYPE)


router = resource_router("/", [health, metrics], tag="operations", keyed=False)

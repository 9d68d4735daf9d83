"""What the route modules share: the decorators of a reader's listing and of a forecast endpoint,
how an answer is cached and remembered for replay, and the served model's description in each answer."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Response

from service import replay, scope
from service.bodies import ServedModel
from service.guards import requires
from service.openapi import errors
from service.response_cache import cached_response
from service.state import Served

SMALL_BODY = 64 * 1024  # requests that are not uploads: far more than any legitimate one needs
JSON_BODY = Body(media_type=RequestEncodingType.JSON)


def cell_count(served: Served, chosen: scope.Selection, years: int) -> int:
    """How many partner x family x year cells a request reads: what its cost grows with."""
    families = len(chosen.families or served.forecaster.families) + len(chosen.new_families)
    return (len(chosen.partners) + len(chosen.new_partners)) * families * years


def listing(path: str):
    """The route of a reader's listing of the served model's ids (partners, families, systems, lines)."""
    return get(
        path,
        sync_to_thread=False,
        opt=requires("reader"),
        responses=errors(401, 403, 503),
    )


def forecast_post(path: str):
    """The route of an endpoint that answers from the served draws: a reader's POST with a small body."""
    return post(
        path,
        status_code=200,
        request_max_body_size=SMALL_BODY,
        opt=requires("reader"),
        responses=errors(400, 401, 403, 413, 503),
    )


async def cached_answer(request: Request, served: Served, key: tuple, compute, cells: int) -> Response:
    """A forecast endpoint's answer: from the cache (or computed), and remembered for the replay layer
    unless the served book changed meanwhile."""
    generation = served.cache.generation
    response = await cached_response(request, served.cache, key, compute, cells=cells)
    if served.cache.generation == generation:
        replay.remember(request, await request.body(), served.replay, response)
    return response


def served_model(served: Served) -> ServedModel:
    r = served.record
    return ServedModel(
        r.id,
        r.status,
        r.fitted_at or "",
        r.data_hash or "",
        r.priors_hash or "",
        r.code_version or "",
        r.approximate,
        r.diagnostics,
    )

"""Models: fit jobs in worker processes, the registry, activation and the posterior file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import File

from bayes.model import analysis_path
from service import registry, scope
from service.bodies import FitRequest, Job, ModelSummary
from service.guards import request_caller, requires
from service.jobs import job_log_tail
from service.openapi import FileOperation, errors, resource_router
from service.routes.common import JSON_BODY, SMALL_BODY
from service.state import Services, services_of


def _job(services: Services, job: registry.JobRecord) -> Job:
    return Job(
        job.id,
        job.kind,
        job.status,
        job.stage,
        job.progress,
        job.params,
        job.created_at,
        job.started_at,
        job.finished_at,
        job.model_id,
        job.error,
        job_log_tail(services.settings, job.id),
    )


@post(
    "/models",
    request_max_body_size=SMALL_BODY,
    status_code=202,
    sync_to_thread=True,
    opt=requires("analyst"),
    responses=errors(400, 401, 403, 404, 413),
)
def start_fit(state: State, request: Request, data: Annotated[FitRequest, JSON_BODY]) -> Job:
    """Start a fit of the stored records in a worker process; poll ``GET /v1/jobs/{id}``."""
    services = services_of(state)
    caller = request_caller(request)
    scope.require_unscoped(caller, "a fit (it reads every partner's records)")
    if data.activate and not caller.can("admin"):  # serving it is what activation does: an admin's call
        raise PermissionDeniedException(
            f"activate: serving a model needs the 'admin' role; the key has {caller.role!r}"
        )
    if data.warm_start and data.warm_start != "active":
        registry.get_model(services.engine, data.warm_start)  # 404 now rather than a failed job later
    params = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
    job = registry.create_job(services.engine, "fit", params, caller.key_id)
    services.dispatcher.wake()
    return _job(services, job)


@get(
    "/jobs/{job_id:str}",
    sync_to_thread=True,
    opt=requires("analyst"),
    responses=errors(401, 403, 404),
)
def get_job(state: State, job_id: FromPath[str]) -> Job:
    services = services_of(state)
    return _job(services, registry.get_job(services.engine, job_id))


def _summary(record: registry.ModelRecord) -> ModelSummary:
    fields = {name: getattr(record, name) for name in ModelSummary.__struct_fields__}
    return ModelSummary(**fields)


@get(
    "/models",
    sync_to_thread=True,
    opt=requires("reader"),
    responses=errors(401, 403),
)
def list_models(state: State) -> list[ModelSummary]:
    return [_summary(m) for m in registry.list_models(services_of(state).engine)]


@get(
    "/models/{model_id:str}",
    sync_to_thread=True,
    opt=requires("reader"),
    responses=errors(401, 403, 404),
)
def get_model(state: State, model_id: FromPath[str]) -> ModelSummary:
    """Status, gates and diagnostics, data and prior hashes of one model."""
    return _summary(registry.get_model(services_of(state).engine, model_id))


@post(
    "/models/{model_id:str}/activate",
    status_code=200,
    sync_to_thread=True,
    opt=requires("admin"),
    responses=errors(401, 403, 404, 409),
)
def activate_model(state: State, request: Request, model_id: FromPath[str]) -> ModelSummary:
    """Serve this model from now on; refused (409) for a model that failed its gates."""
    services = services_of(state)
    record = registry.activate(services.engine, model_id, request_caller(request).key_id)
    services.holder.refresh()
    return _summary(record)


def _model_file(state: State, request: Request, model_id: str) -> registry.ModelRecord:
    scope.require_unscoped(request_caller(request), "a posterior file (it holds every partner)")
    record = registry.get_model(services_of(state).engine, model_id)
    if record.status == "fitting":
        raise registry.RegistryError(f"model {model_id} is still being fitted", 409)
    return record


def _file_route(path: str):
    return get(
        path,
        sync_to_thread=True,
        opt=requires("analyst"),
        responses=errors(401, 403, 404, 409),
        media_type="application/x-netcdf",
        operation_class=FileOperation,
    )


@_file_route("/models/{model_id:str}/posterior.nc")
def download_posterior(state: State, request: Request, model_id: FromPath[str]) -> File:
    """The model file, as ArviZ opens it (``arviz.from_netcdf``): the posterior's draws that every answer
    reads (1,000, evenly spaced within each chain), the side models, the gates' verdict on every draw."""
    record = _model_file(state, request, model_id)
    if not Path(record.path).is_file():
        raise NotFoundException(f"model {model_id}: its posterior file is missing")
    return File(record.path, filename=f"{model_id}.nc", media_type="application/x-netcdf")


@_file_route("/models/{model_id:str}/analysis.nc")
def download_analysis(state: State, request: Request, model_id: FromPath[str]) -> File:
    """The analysis file, as ArviZ opens it: every posterior draw with the prior, the pointwise
    log-likelihood (for LOO) and the posterior predictive. 404 for a fit stored without them."""
    record = _model_file(state, request, model_id)
    path = analysis_path(record.path)
    if not path.is_file():
        raise NotFoundException(f"model {model_id}: it has no analysis file (fitted without its groups)")
    return File(path, filename=f"{model_id}.analysis.nc", media_type="application/x-netcdf")


router = resource_router(
    "/v1",
    [start_fit, get_job, list_models, get_model, activate_model, download_posterior, download_analysis],
    tag="models",
)

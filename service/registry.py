"""The model registry and the job table: which posterior files exist, how their fits went, which one
is served, and what each fit job is doing."""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from bayes.model import open_posterior
from service import audit
from service import tables as s
from service.db import now
from totaldemand.errors import UserError

log = logging.getLogger(__name__)


class RegistryError(UserError):
    """A registry operation that cannot be done (unknown id, activating a failed model)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class ModelRecord:
    id: str
    status: str
    path: str
    created_at: str
    fitted_at: str | None
    data_hash: str | None
    priors_hash: str | None
    code_version: str | None
    approximate: bool
    diagnostics: dict[str, Any]
    job_id: str | None
    active: bool = False


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    status: str
    stage: str
    progress: float
    params: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    pid: int | None
    model_id: str | None
    error: str | None


def _model(row, active_id: str | None) -> ModelRecord:
    m = row._mapping
    return ModelRecord(
        m["id"],
        m["status"],
        m["path"],
        m["created_at"],
        m["fitted_at"],
        m["data_hash"],
        m["priors_hash"],
        m["code_version"],
        bool(m["approximate"]),
        json.loads(m["diagnostics"] or "{}"),
        m["job_id"],
        m["id"] == active_id,
    )


def _job(row) -> JobRecord:
    m = row._mapping
    return JobRecord(
        m["id"],
        m["kind"],
        m["status"],
        m["stage"],
        float(m["progress"]),
        json.loads(m["params"] or "{}"),
        m["created_at"],
        m["started_at"],
        m["finished_at"],
        m["pid"],
        m["model_id"],
        m["error"],
    )


def active_id(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(s.active_model.c.model_id).where(s.active_model.c.slot == 1)).scalar()


def list_models(engine: Engine) -> list[ModelRecord]:
    active = active_id(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(s.models).order_by(s.models.c.created_at, s.models.c.id)).all()
    return [_model(r, active) for r in rows]


def get_model(engine: Engine, model_id: str) -> ModelRecord:
    active = active_id(engine)
    with engine.connect() as conn:
        row = conn.execute(select(s.models).where(s.models.c.id == model_id)).first()
    if row is None:
        raise RegistryError(f"unknown model id {model_id!r}", 404)
    return _model(row, active)


def register_file(
    engine: Engine, path: Path, job_id: str | None = None, model_id: str | None = None
) -> ModelRecord:
    """Record a posterior file that exists on disk, with the status and diagnostics it carries."""
    # the attributes are all the registry needs: read them without loading the draws
    with open_posterior(path) as tree:
        a = dict(tree.attrs)
    values = {
        "status": str(a.get("status", "failed")),
        "path": str(Path(path).resolve()),
        "fitted_at": str(a.get("fitted_at", "")),
        "data_hash": str(a.get("data_hash", "")),
        "priors_hash": str(a.get("priors_hash", "")),
        "code_version": str(a.get("code_version", "")),
        "approximate": bool(json.loads(a.get("diagnostics", "{}")).get("approximate", False)),
        "diagnostics": str(a.get("diagnostics", "{}")),
        "job_id": job_id,
    }
    with engine.begin() as conn:
        existing = (
            model_id or conn.execute(select(s.models.c.id).where(s.models.c.path == values["path"])).scalar()
        )
        if existing and conn.execute(select(s.models.c.id).where(s.models.c.id == existing)).first():
            conn.execute(update(s.models).where(s.models.c.id == existing).values(**values))
            model_id = existing
        else:
            model_id = model_id or new_id()
            conn.execute(insert(s.models).values(id=model_id, created_at=now(), **values))
    log.info("registered model %s (%s) from %s", model_id, values["status"], path)
    return get_model(engine, model_id)


def activate(engine: Engine, model_id: str, key_id: str | None = None) -> ModelRecord:
    """Make a model the one served; refused unless it passed its gates and its file is there."""
    record = get_model(engine, model_id)
    if record.status != "ok":
        failures = "; ".join(record.diagnostics.get("failures", [])) or record.status
        raise RegistryError(
            f"model {model_id} has status {record.status!r} ({failures}); it cannot be served", 409
        )
    if not Path(record.path).is_file():
        raise RegistryError(f"model {model_id}: its posterior file {record.path} is missing", 409)
    with engine.begin() as conn:
        stamp = now()
        done = conn.execute(
            update(s.active_model)
            .where(s.active_model.c.slot == 1)
            .values(model_id=model_id, activated_at=stamp)
        )
        if not done.rowcount:
            conn.execute(insert(s.active_model).values(slot=1, model_id=model_id, activated_at=stamp))
        audit.record(conn, key_id, "model.activate", model_id)
    log.info("activated model %s", model_id)
    return get_model(engine, model_id)


def activated_at(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(s.active_model.c.activated_at).where(s.active_model.c.slot == 1)).scalar()


# ---- jobs -------------------------------------------------------------------------------------


def create_job(engine: Engine, kind: str, params: dict[str, Any], key_id: str | None) -> JobRecord:
    job_id = new_id()
    with engine.begin() as conn:
        conn.execute(
            insert(s.jobs).values(
                id=job_id,
                kind=kind,
                status="queued",
                stage="queued",
                progress=0.0,
                params=json.dumps(params, sort_keys=True),
                created_at=now(),
                key_id=key_id,
            )
        )
        audit.record(conn, key_id, f"job.{kind}", job_id, **params)
    return get_job(engine, job_id)


def get_job(engine: Engine, job_id: str) -> JobRecord:
    with engine.connect() as conn:
        row = conn.execute(select(s.jobs).where(s.jobs.c.id == job_id)).first()
    if row is None:
        raise RegistryError(f"unknown job id {job_id!r}", 404)
    return _job(row)


def list_jobs(engine: Engine, status: str | None = None) -> list[JobRecord]:
    query = select(s.jobs).order_by(s.jobs.c.created_at, s.jobs.c.id)
    if status:
        query = query.where(s.jobs.c.status == status)
    with engine.connect() as conn:
        return [_job(r) for r in conn.execute(query).all()]


def update_job(engine: Engine, job_id: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(s.jobs).where(s.jobs.c.id == job_id).values(**values))


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_job(engine: Engine, job: JobRecord, error: str) -> None:
    """Mark a job failed, and the model it was fitting (if any) with it."""
    update_job(engine, job.id, status="failed", stage="failed", finished_at=now(), error=error)
    if job.model_id:
        with engine.begin() as conn:
            conn.execute(
                update(s.models)
                .where(s.models.c.id == job.model_id, s.models.c.status == "fitting")
                .values(status="failed", diagnostics=json.dumps({"failures": [error]}))
            )
            path = conn.execute(select(s.models.c.path).where(s.models.c.id == job.model_id)).scalar()
        if path:  # a save cut short leaves its temp file (the atomic write's rename never happened)
            for partial in Path(path).parent.glob(f".{Path(path).name}.*.tmp"):
                partial.unlink(missing_ok=True)
    log.warning("fit job %s failed: %s", job.id, error)


def reconcile(engine: Engine) -> list[str]:
    """After a crash or restart: a job marked running whose worker process is gone failed (queued
    jobs stay queued and start again). Returns the ids of the jobs marked failed."""
    lost = [j for j in list_jobs(engine, "running") if not _alive(j.pid)]
    for job in lost:
        fail_job(engine, job, "the worker process ended before the fit finished (server restart or crash)")
    return [j.id for j in lost]

"""The registry and fit jobs: a fit runs in a worker process, reports progress, registers its model
with its gates; a failed model is never activated; posterior files stream as ArviZ opens them."""

from __future__ import annotations

import gc
import re
import shutil
import time
from pathlib import Path

import arviz as az
import pytest
import xarray as xr
from litestar.testing import TestClient

from service import registry
from tests.service.conftest import Keys, bearer


def _wait(client: TestClient, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        seen.add(job["stage"])
        if job["status"] in ("succeeded", "failed"):
            job["seen_stages"] = seen
            return job
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} still {job['status']} ({job['stage']})")


def test_the_active_model_is_listed_with_its_gates(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    active = [m for m in models if m["active"]]
    assert len(active) == 1 and active[0]["status"] == "ok"
    one = client.get(f"/v1/models/{active[0]['id']}").json()
    assert one["diagnostics"]["passed"] and one["data_hash"] and one["priors_hash"]
    assert client.get("/v1/models/nope").status_code == 404
    for name, groups in (("posterior.nc", {"posterior"}), ("analysis.nc", {"posterior", "log_likelihood"})):
        file = client.get(f"/v1/models/{active[0]['id']}/{name}")
        assert file.status_code == 200 and file.headers["content-type"] == "application/x-netcdf"
        path = Path(client.app.state.services.settings.home) / name
        path.write_bytes(file.content)
        assert groups <= set(xr.open_datatree(path, engine="h5netcdf").children)
    assert client.get("/v1/models/nope/analysis.nc").status_code == 404


@pytest.mark.integration  # a full fit in a worker process
def test_a_fit_job_runs_in_a_worker_and_a_failed_model_is_never_activated(
    client: TestClient, keys: Keys
) -> None:
    """Too few draws to pass the gates: the job succeeds, its model is stored as failed (asked by an
    admin: serving the result, as ``activate`` asks, is an admin's call)."""
    body = {"draws": 60, "tune": 60, "chains": 2, "seed": 3, "first_year": 2000, "activate": True}
    assert client.post("/v1/models", json=body, headers=bearer(keys.analyst)).status_code == 403
    started = client.post("/v1/models", json=body, headers=bearer(keys.admin))
    assert started.status_code == 202, started.text
    job = _wait(client, started.json()["id"])
    assert job["status"] == "succeeded", job
    assert "sampling" in job["seen_stages"] and job["progress"] == 1.0
    assert "failed its gates" in job["error"]
    model = client.get(f"/v1/models/{job['model_id']}").json()
    assert model["status"] == "failed" and not model["active"] and model["diagnostics"]["failures"]
    refused = client.post(f"/v1/models/{job['model_id']}/activate")
    assert refused.status_code == 409 and "cannot be served" in refused.text
    served = client.post("/v1/forecasts", json={"horizon": 1}).json()["model"]["id"]
    assert served != job["model_id"]

    download = client.get(f"/v1/models/{job['model_id']}/posterior.nc")
    assert download.status_code == 200
    path = Path(client.app.state.services.settings.home) / "downloaded.nc"
    path.write_bytes(download.content)
    tree = xr.open_datatree(path, engine="h5netcdf")
    assert "posterior" in tree.children and tree.attrs["status"] == "failed"
    assert len(az.summary(tree, var_names=["intercept"])) == 1
    analysis = client.get(f"/v1/models/{job['model_id']}/analysis.nc")
    assert analysis.status_code == 200
    path = path.with_name("downloaded.analysis.nc")  # the model file is still open
    path.write_bytes(analysis.content)
    whole = xr.open_datatree(path, engine="h5netcdf")
    assert {"log_likelihood", "prior"} <= set(whole.children) and whole.attrs["fitted_at"] == tree.attrs[
        "fitted_at"
    ]


def test_bad_fit_requests_are_400(client: TestClient) -> None:
    for body in (
        {"draws": 5},
        {"chains": 99},
        {"without": ["weather"]},
        {"colour": 1},
        {"warm_start": "nope"},
    ):
        response = client.post("/v1/models", json=body)
        assert response.status_code in (400, 404), (body, response.text)
    assert client.get("/v1/jobs/nope").status_code == 404


def test_activating_another_model_swaps_what_is_served(client: TestClient, fitted_path: Path) -> None:
    services = client.app.state.services
    copy = services.settings.models_dir / "copy.nc"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(fitted_path, copy)
    before = client.post("/v1/forecasts", json={"horizon": 1}).json()["model"]["id"]
    record = registry.register_file(services.engine, copy)
    activated = client.post(f"/v1/models/{record.id}/activate")
    assert activated.status_code == 200 and activated.json()["active"]
    after = client.post("/v1/forecasts", json={"horizon": 1}).json()
    assert after["model"]["id"] == record.id != before
    assert client.post(f"/v1/models/{before}/activate").status_code == 200
    assert ("model.activate", record.id) in [
        (a["action"], a["target"]) for a in client.get("/v1/audit").json()
    ]


def test_metrics_in_prometheus_text_format(client: TestClient) -> None:
    client.post("/v1/forecasts", json={"horizon": 1})
    text = client.get("/metrics").text
    assert 'totaldemand_http_requests_total{method="POST",route="/v1/forecasts",status="200"}' in text
    assert "totaldemand_http_request_duration_seconds_bucket" in text
    assert 'totaldemand_fit_jobs{status="running"}' in text
    assert "totaldemand_model_age_seconds" in text
    gc.collect()  # every collection is timed, by generation
    text = client.get("/metrics").text
    count = re.search(r'totaldemand_gc_pause_seconds_count\{generation="2"\} (\S+)', text)
    assert count and float(count[1]) >= 1

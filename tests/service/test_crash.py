"""SIGKILL in the middle of an ingest and of a fit, then a restart: no row lost or half-written, the
registry consistent, no partial posterior file, and the served model unchanged."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.service.conftest import LiveServer, admin_token, bearer

# live servers killed mid-write and mid-fit
pytestmark = pytest.mark.integration


def _db(server: LiveServer) -> sqlite3.Connection:
    return sqlite3.connect(server.home / "totaldemand.db")


def _consistent(server: LiveServer) -> dict[str, int]:
    """Integrity check passes and every stored row belongs to a batch whose row count it matches."""
    with _db(server) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for table, kind in (("evidence", "evidence"), ("lors", "lors")):
            per_batch = dict(conn.execute(f"SELECT batch, COUNT(*) FROM {table} GROUP BY batch").fetchall())
            declared = dict(conn.execute("SELECT id, rows FROM batches WHERE kind = ?", (kind,)).fetchall())
            for batch, rows in declared.items():
                assert per_batch.get(batch) == rows, (table, batch)
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("evidence", "lors", "audit")
        }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_job(server: LiveServer, headers: dict, job_id: str, until, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{server.url}/v1/jobs/{job_id}", headers=headers, timeout=10).json()
        if until(job):
            return job
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id}: {job}")


@pytest.fixture(scope="module")
def server(sim_world: Path, fitted_path: Path, tmp_path_factory: pytest.TempPathFactory):
    live = LiveServer(tmp_path_factory.mktemp("crash-home"), sim_world, fitted_path).start()
    yield live
    live.stop()


def test_sigkill_during_ingests_loses_nothing_stored(server: LiveServer) -> None:
    headers = bearer(admin_token(server))
    rng = np.random.default_rng(0)
    n = 120_000
    upload = pd.DataFrame(
        {
            "partner": rng.choice([f"p{i:02d}" for i in range(30)], n),
            "family": "",
            "date": "2021-06-30",
            "kind": "nlp_mention",
            "value": rng.random(n).round(4),
        }
    ).to_csv(index=False)
    before = _consistent(server)
    dropped = 0
    for delay in (0.5, 1.5, 3.0):
        outcome: dict = {}

        def post(outcome: dict = outcome) -> None:
            try:
                r = httpx.post(
                    f"{server.url}/v1/evidence",
                    content=upload,
                    headers={**headers, "content-type": "text/csv"},
                    timeout=120,
                )
                outcome["status"] = r.status_code
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=post)
        thread.start()
        time.sleep(delay)
        server.kill()
        thread.join(60)
        dropped += "error" in outcome
        server.start()
        after = _consistent(server)
        # the upload is there whole, or not at all; nothing stored before it is lost
        assert after["evidence"] in (before["evidence"], before["evidence"] + n), (delay, outcome)
        if outcome.get("status") == 201:
            assert after["evidence"] == before["evidence"] + n
        before = after
    assert dropped >= 1, "every upload finished before the kill: the test did not test a crash"


def test_sigkill_of_a_fit_worker_and_of_the_server_mid_fit(server: LiveServer) -> None:
    headers = bearer(admin_token(server))
    active = httpx.post(f"{server.url}/v1/forecasts", json={"horizon": 1}, headers=headers).json()["model"][
        "id"
    ]
    body = {"draws": 3000, "tune": 1000, "chains": 2, "first_year": 2000, "activate": True}

    # 1. the worker dies (OOM killer, operator): the server notices and marks the job failed
    job = httpx.post(f"{server.url}/v1/models", json=body, headers=headers).json()
    running = _wait_job(server, headers, job["id"], lambda j: j["stage"] == "sampling")
    with _db(server) as conn:
        pid = conn.execute("SELECT pid FROM jobs WHERE id = ?", (running["id"],)).fetchone()[0]
    os.kill(pid, 9)
    failed = _wait_job(server, headers, job["id"], lambda j: j["status"] == "failed", timeout=60)
    assert "exited" in failed["error"]
    model = httpx.get(f"{server.url}/v1/models/{failed['model_id']}", headers=headers).json()
    assert model["status"] == "failed"

    # 2. the server dies mid-fit: its worker stops too, and the restarted server reports the job failed
    job = httpx.post(f"{server.url}/v1/models", json=body, headers=headers).json()
    running = _wait_job(server, headers, job["id"], lambda j: j["stage"] == "sampling")
    with _db(server) as conn:
        pid = conn.execute("SELECT pid FROM jobs WHERE id = ?", (running["id"],)).fetchone()[0]
    server.kill()
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _alive(pid), "the fit worker outlived its server"
    server.start()
    after = httpx.get(f"{server.url}/v1/jobs/{job['id']}", headers=headers).json()
    assert after["status"] == "failed" and after["error"]
    models = {m["id"]: m for m in httpx.get(f"{server.url}/v1/models", headers=headers).json()}
    assert models[after["model_id"]]["status"] == "failed"
    assert [m for m in models.values() if m["active"]] == [models[active]]
    assert not [m for m in models.values() if m["status"] == "fitting"]
    assert list((server.home / "models").glob(".*.tmp")) == []
    served = httpx.post(f"{server.url}/v1/forecasts", json={"horizon": 1}, headers=headers).json()
    assert served["model"]["id"] == active
    _consistent(server)

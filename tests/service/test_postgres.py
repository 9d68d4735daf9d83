"""The same storage on PostgreSQL, by URL: migrations, seeding, all-or-nothing ingests, export, the
registry and keys. Uses $TOTALDEMAND_TEST_POSTGRES_URL, or a throwaway cluster when PostgreSQL's
server binaries are installed; skipped otherwise (SQLite is the default everywhere else)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from bayes.panel import build_panel
from evidence.loaders import LoadError, load_dataset
from service import auth, registry, store
from service.db import engine_for, migrate

# a real PostgreSQL server
pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if os.environ.get("TOTALDEMAND_TEST_POSTGRES_URL"):
        yield os.environ["TOTALDEMAND_TEST_POSTGRES_URL"]
        return
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL: set TOTALDEMAND_TEST_POSTGRES_URL or install its server binaries")
    pytest.importorskip("psycopg")
    prefix: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="td-pg-"))  # pytest's own temp dirs are private to root
    data = scratch / "data"
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        prefix = ["runuser", "-u", "postgres", "--"]
        scratch.chmod(0o777)
    port = _free_port()
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "td"], check=True, capture_output=True
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    # the server inherits pg_ctl's output: send it to a log file, or waiting on pg_ctl never ends
    start = [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(scratch / "pg.log"), "-w", "start"]
    subprocess.run(start, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"postgresql+psycopg://td@127.0.0.1:{port}/postgres"
    finally:
        stop = [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(scratch, ignore_errors=True)


def test_storage_on_postgresql(postgres_url: str, sim_world: Path, fitted_path: Path, tmp_path: Path) -> None:
    engine = engine_for(postgres_url)
    migrate(engine)
    migrate(engine)  # idempotent
    assert store.seed(engine, sim_world) and not store.seed(engine, sim_world)
    exported = store.export(engine, tmp_path)
    original = build_panel(load_dataset(sim_world), first_year=2000).attrs["data_hash"]
    assert build_panel(load_dataset(exported), first_year=2000).attrs["data_hash"] == original

    before = store.counts(engine)
    bad = pd.DataFrame(
        {
            "id": ["a", "b"],
            "partner": ["p01", "nowhere"],
            "family": ["f00", "f00"],
            "received": ["2021-01-01", "2021-01-01"],
            "status": ["firm", "firm"],
        }
    )
    with pytest.raises(LoadError, match="unknown partner"):
        store.ingest(engine, "lors", bad, "test", None)
    assert store.counts(engine) == before
    stored = store.ingest(engine, "lors", bad.iloc[:1], "test", None)
    assert stored.rows == 1 and store.counts(engine)["lors"] == before["lors"] + 1

    record = registry.register_file(engine, fitted_path)
    assert registry.activate(engine, record.id).active
    issued = auth.create_key(engine, "pg", "reader", ["p01"])
    assert auth.KeyCache(engine).lookup(issued.token).partners == frozenset({"p01"})
    engine.dispose()

"""Schemathesis against the live OpenAPI description of a real server, every check it has but one:
server errors, schema and status conformance, negative data rejected (a body that breaks the schema must
be a 4xx), authorization ignored nowhere (each operation without its key is a 401), methods and ``Allow``
headers, and a stateful phase chaining operations through the links it infers (a key created, then
read and revoked). ``make fuzz`` runs it with more examples.

Left out: ``positive_data_acceptance`` (a schema-valid body may still name a partner or family the
database does not know: a 400 is right there) and fit starts (each valid example would start a real fit;
their body is validated like every other, and test_models covers them)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.conftest import LiveServer, admin_token

# Schemathesis against a live server
pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("TOTALDEMAND_FUZZ_EXAMPLES", "12"))
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def fuzz_server(sim_world: Path, fitted_path: Path, tmp_path_factory: pytest.TempPathFactory):
    live = LiveServer(tmp_path_factory.mktemp("fuzz-home"), sim_world, fitted_path).start()
    live.token = admin_token(live)
    yield live
    live.stop()


def test_schemathesis_finds_nothing(fuzz_server: LiveServer) -> None:
    st = Path(sys.executable).with_name("st")
    command = [
        str(st),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{fuzz_server.url}/schema/openapi.json",
        "--header",
        f"Authorization: Bearer {fuzz_server.token}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--exclude-name",
        "POST /v1/models",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "24",
        "--workers",
        "1",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=fuzz_server.home)
    output = run.stdout + run.stderr
    summary = output[output.rfind("SUMMARY") :]
    assert run.returncode == 0, output[-6000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", summary)
    assert selected and int(selected[1]) == int(selected[2]) - 1, summary  # all but fit starts
    assert re.search(r"✅\s+Stateful", summary) and "Failures:" not in summary, summary  # ran, passed
    log = (fuzz_server.home / "server.log").read_text(errors="replace")
    assert "Traceback" not in log and "unhandled error" not in log, log

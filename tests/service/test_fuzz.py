"""Schemathesis against the live OpenAPI spec of a real server: generated requests for every operation
(a bounded number each; ``make fuzz`` runs more) find no 5xx and no response that breaks the schema.

Fit starts are left out: each valid example would start a real fit; their bodies are the same struct
validation as every other operation, and test_models covers them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.service.conftest import LiveServer, admin_token, bearer

EXAMPLES = int(os.environ.get("TOTALDEMAND_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzz_server(sim_world: Path, fitted_path: Path, tmp_path_factory: pytest.TempPathFactory):
    live = LiveServer(tmp_path_factory.mktemp("fuzz-home"), sim_world, fitted_path).start()
    live.token = admin_token(live)
    yield live
    live.stop()


def test_no_server_errors_and_responses_match_the_schema(fuzz_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/schema/openapi.json")
    schema = schema.exclude(method="POST", path="/v1/models")
    headers = bearer(fuzz_server.token)
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case) -> None:
            case.call_and_validate(base_url=fuzz_server.url, headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
        tested += 1
    assert tested >= 15
    assert not failures, "\n\n".join(failures)

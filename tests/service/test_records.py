"""Ingest over HTTP: every row validated, errors by row, field and reason, all rows stored or none."""

from __future__ import annotations

import pandas as pd
import pytest
from litestar.testing import TestClient

from bayes.panel import build_panel
from evidence.loaders import load_dataset
from service import store
from tests.service.conftest import Keys, bearer

LOR_HEADER = "id,partner,family,received,status,quantity\n"


def _counts(client: TestClient) -> dict[str, int]:
    return store.counts(client.app.state.services.engine)


def test_the_seeded_database_exports_the_dataset_it_came_from(client: TestClient, sim_world) -> None:
    services = client.app.state.services
    exported = store.export(services.engine, services.settings.datasets_dir)
    original = build_panel(load_dataset(sim_world), first_year=2000).attrs["data_hash"]
    assert build_panel(load_dataset(exported), first_year=2000).attrs["data_hash"] == original
    assert store.export(services.engine, services.settings.datasets_dir) == exported  # unchanged: reused


def test_csv_and_json_lors_are_stored_and_audited(client: TestClient) -> None:
    before = _counts(client)["lors"]
    csv = LOR_HEADER + "new-1,p01,f00,2021-02-01,pending,12\nnew-2,p02,f01,2021-03-01,firm,\n"
    stored = client.post("/v1/lors", content=csv, headers={"content-type": "text/csv"})
    assert stored.status_code == 201, stored.text
    assert stored.json()["rows"] == 2
    rows = [
        {"id": "new-3", "partner": "p03", "family": "f02", "received": "2021-04-01", "status": "withdrawn"}
    ]
    assert client.post("/v1/lors", json={"rows": rows}).status_code == 201
    assert _counts(client)["lors"] == before + 3
    assert client.get("/v1/audit", params={"limit": 1}).json()[0]["action"] == "ingest.lors"


def test_a_bad_upload_names_every_problem_and_stores_nothing(client: TestClient) -> None:
    before = _counts(client)
    csv = (
        LOR_HEADER
        + "ok-1,p01,f00,2021-02-01,pending,3\n"  # line 2: fine, but must not be stored either
        + "ok-2,atlantis,f00,2021-02-01,firm,3\n"  # line 3: unknown partner
        + "ok-3,p01,f00,2021-02-30,firm,3\n"  # line 4: no such date
        + "ok-4,p01,f00,2021-02-01,maybe,-2\n"  # line 5: bad status and negative quantity
    )
    response = client.post("/v1/lors", content=csv, headers={"content-type": "text/csv"})
    assert response.status_code == 400
    errors = {(e["row"], e["field"]) for e in response.json()["errors"]}
    assert {(3, "partner"), (4, "received"), (5, "status")} <= errors
    assert "nothing was stored" in response.json()["detail"]
    assert _counts(client) == before


@pytest.mark.parametrize(
    ("content", "content_type", "needle"),
    [
        (b"{not json", "application/json", "malformed JSON"),
        (b'{"rows": 3}', "application/json", "list of objects"),
        (b"[]", "application/json", "no rows"),
        (b"id,partner\nx,p01\n", "text/csv", "required column missing"),
        (b"\xff\xfe\x00", "text/csv", "CSV"),
        (b"a=1", "application/x-www-form-urlencoded", "unsupported content type"),
    ],
)
def test_malformed_uploads_are_400(
    client: TestClient, content: bytes, content_type: str, needle: str
) -> None:
    response = client.post("/v1/lors", content=content, headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    assert needle in response.text


def test_duplicate_lor_ids_are_refused_within_and_across_uploads(client: TestClient) -> None:
    rows = [{"id": "dup-1", "partner": "p01", "family": "f00", "received": "2021-01-05", "status": "firm"}]
    assert client.post("/v1/lors", json=rows).status_code == 201
    again = client.post("/v1/lors", json=rows)
    assert again.status_code == 400 and "already stored" in again.text
    twice = client.post("/v1/lors", json=[{**rows[0], "id": "dup-2"}] * 2)
    assert twice.status_code == 400 and "duplicate key" in twice.text


def test_plans_replace_the_same_family_and_year(client: TestClient) -> None:
    engine = client.app.state.services.engine
    plan = [{"family": "f00", "fiscal_year": 2031, "quantity": 10}]
    assert client.post("/v1/plans", json=plan).json()["replaced"] == 0
    revised = client.post("/v1/plans", json=[{**plan[0], "quantity": 14}]).json()
    assert revised["replaced"] == 1
    with engine.connect() as conn:
        plans = store.read_table(conn, "domestic_plans")
    assert plans.query("family == 'f00' and fiscal_year == 2031")["quantity"].tolist() == [14.0]


def test_evidence_may_concern_a_partner_as_a_whole(client: TestClient) -> None:
    rows = pd.DataFrame(
        {
            "partner": ["p01", "p02"],
            "family": ["", "f03"],
            "date": ["2021-05-01"] * 2,
            "kind": ["nlp_mention", "nlp_mention"],
            "value": [1.0, 2.0],
        }
    )
    response = client.post(
        "/v1/evidence", content=rows.to_csv(index=False), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 201, response.text


def test_a_scoped_key_cannot_write_other_partners(client: TestClient, keys: Keys, app_and_keys) -> None:
    from service import auth

    engine = app_and_keys[0].state.services.engine
    token = auth.create_key(engine, "p01 analyst", "analyst", ["p01"]).token
    rows = [{"id": "scope-1", "partner": "p02", "family": "f00", "received": "2021-01-05", "status": "firm"}]
    assert client.post("/v1/lors", json=rows, headers=bearer(token)).status_code == 403


def test_uploads_over_the_size_limit_are_413(client: TestClient) -> None:
    limit = client.app.state.services.settings.max_body_bytes
    body = LOR_HEADER + "x" * (limit + 10)
    assert client.post("/v1/lors", content=body, headers={"content-type": "text/csv"}).status_code == 413


def test_a_hybrid_lor_is_stored_and_a_bad_channel_is_refused(client: TestClient) -> None:
    lor = {
        "id": "hybrid-1",
        "partner": "p01",
        "family": "f00",
        "received": "2031-02-01",
        "status": "pending",
        "quantity": 4,
        "channel": " Hybrid ",
    }
    bad = client.post("/v1/lors", json=[{**lor, "id": "hybrid-2", "channel": "dcs"}])
    assert bad.status_code == 400 and "channel" in bad.text and "hybrid" in bad.text, bad.text
    assert client.post("/v1/lors", json=[lor]).status_code == 201
    unstated = client.post("/v1/lors", json=[{**lor, "id": "hybrid-3", "channel": None}])
    assert unstated.status_code == 201, unstated.text
    engine = client.app.state.services.engine
    with engine.connect() as conn:
        lors = store.read_table(conn, "lors").set_index("id")
    assert lors.loc["hybrid-1", "channel"] == "hybrid" and lors.loc["hybrid-3", "channel"] == ""

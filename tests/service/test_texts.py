"""POST /v1/evidence/texts: notifications become pending LORs and NLP evidence, documents become NLP
evidence with their spans, all in one transaction; bad texts are 400s that name the text and field."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pandas as pd
import pytest
from litestar.testing import TestClient

from evidence.loaders import default_dataset_path
from service import auth, store
from service.app import create_app
from tests.service.conftest import bearer
from totaldemand.settings import Settings

NOTIFICATION = (
    "Norway – AIM-120C-7 AMRAAM Missiles\n\nTransmittal No: 13-01 WASHINGTON, May 2, 2013 – The Defense "
    "Security Cooperation Agency notified Congress today of a possible Foreign Military Sale to Norway of "
    "AIM-120C-7 missiles for an estimated cost of $85 million.\nThe Government of Norway has requested a "
    "possible sale of 48 AIM-120C-7 AMRAAM missiles.\nThe prime contractor will be Raytheon.\n"
)
DOCUMENT = "The air force urgently lacks modern fighter aircraft and must replace its aging fleet."


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A database with the real partners and families (a slice of the embedded dataset's records)."""
    data = tmp_path_factory.mktemp("real_slice")
    source = default_dataset_path()
    for name in ("partners.csv", "families.csv", "domestic_plans.csv", "line_capacities.csv"):
        shutil.copy(source / name, data / name)
    pd.read_csv(source / "lors.csv", dtype=str, keep_default_na=False).head(50).to_csv(
        data / "lors.csv", index=False
    )
    pd.read_parquet(source / "evidence.parquet").head(100).to_parquet(data / "evidence.parquet", index=False)
    app = create_app(Settings(home=tmp_path_factory.mktemp("home"), data=data))
    token = auth.create_key(app.state.services.engine, "analyst", "analyst").token
    with TestClient(app=app) as c:
        c.headers.update(bearer(token))
        yield c


def test_notifications_and_documents_are_stored_with_provenance(client: TestClient) -> None:
    engine = client.app.state.services.engine
    before = store.counts(engine)
    texts = [
        {"id": "dsca-13-01", "kind": "notification", "text": NOTIFICATION},
        {"id": "memo-7", "kind": "document", "partner": "Norway", "date": "2013-04-01", "text": DOCUMENT},
    ]
    response = client.post("/v1/evidence/texts", json={"texts": texts})
    assert response.status_code == 201, response.text
    body = response.json()
    (extraction,) = body["extractions"]
    assert extraction["country"] == "Norway" and extraction["estimated_cost_usd"] == 85_000_000
    assert body["lors"] == 1 and body["evidence"] >= 2
    after = store.counts(engine)
    assert after["lors"] == before["lors"] + 1 and after["evidence"] == before["evidence"] + body["evidence"]
    with engine.connect() as conn:
        lors = store.read_table(conn, "lors")
        evidence = store.read_table(conn, "evidence")
    lor = lors[lors["id"] == "dsca-13-01-1"].iloc[0]
    assert (lor["partner"], lor["status"], lor["quantity"]) == ("norway", "pending", 48)
    assert "dsca-13-01" in lor["source"]
    memo = evidence[evidence["source"].str.startswith("memo-7:")]
    assert set(memo["family"]) == {"fighter_aircraft"} and (memo["value"] > 1).all()
    start, end = map(int, memo["source"].iloc[0].split(":")[1].split(";")[0].split("-"))
    assert "fighter aircraft" in DOCUMENT[start:end]


def test_bad_texts_are_400_and_store_nothing(client: TestClient) -> None:
    engine = client.app.state.services.engine
    once = [{"id": "dsca-13-02", "kind": "notification", "text": NOTIFICATION}]
    assert client.post("/v1/evidence/texts", json={"texts": once}).status_code == 201
    before = store.counts(engine)
    texts = [
        {"id": "a", "kind": "document", "partner": "Atlantis", "date": "2013-04-01", "text": DOCUMENT},
        {"id": "b", "kind": "document", "partner": "Norway", "text": DOCUMENT},
        {"id": "a", "kind": "notification", "text": NOTIFICATION},
    ]
    response = client.post("/v1/evidence/texts", json={"texts": texts})
    assert response.status_code == 400, response.text
    errors = {(e["row"], e["field"]) for e in response.json()["errors"]}
    assert errors == {(1, "partner"), (2, "date"), (3, "id")}
    assert client.post("/v1/evidence/texts", json={"texts": [{"id": "x", "text": ""}]}).status_code == 400
    again = client.post("/v1/evidence/texts", json={"texts": once})
    assert again.status_code == 400 and "already stored" in again.text  # its LOR ids exist: nothing added
    assert store.counts(engine) == before


def test_texts_keep_their_mentions_with_span_urgency_and_relation(client: TestClient) -> None:
    texts = [
        {"id": "dsca-13-09", "kind": "notification", "text": NOTIFICATION},
        {"id": "memo-9", "kind": "document", "partner": "Norway", "date": "2013-05-01", "text": DOCUMENT},
    ]
    assert client.post("/v1/evidence/texts", json={"texts": texts}).status_code == 201
    engine = client.app.state.services.engine
    memo = store.read_mentions(engine, ["norway"], ["fighter_aircraft"])
    memo = memo[memo["doc_id"] == "memo-9"].iloc[0]
    assert (
        DOCUMENT[memo["span_start"] : memo["span_end"]] == memo["quote"]
        and "fighter aircraft" in memo["quote"]
    )
    assert memo["urgency"] > 0 and memo["sentence"] == DOCUMENT and memo["kind"] == "document"
    assert memo["gap"] is not None  # "lacks modern fighter aircraft": a capability gap
    item = store.read_mentions(engine, ["norway"], list(set(store.read_lors(engine)["family"])))
    item = item[item["doc_id"] == "dsca-13-09"].iloc[0]
    assert NOTIFICATION[item["span_start"] : item["span_end"]] == item["quote"]
    assert item["quote"].lower() == item["designation"].lower() and item["quantity"] == 48
    assert "item 1" in item["source"] and item["urgency"] is None

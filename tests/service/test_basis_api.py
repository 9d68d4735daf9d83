"""POST /v1/basis: what an answer rests on, the book's requests and the text mentions behind it, scoped."""

from __future__ import annotations

from nlp.text_records import records_from_texts
from service import store
from tests.service.conftest import bearer

MEMO = "The army urgently lacks long-range air defence against ballistic missiles and needs new batteries."


def _store_memo(client, partner: str, family: str) -> None:
    """A document's mention stored the way POST /v1/evidence/texts stores one, for a simulated partner."""
    found = records_from_texts(
        [
            {
                "id": f"memo-{partner}",
                "kind": "document",
                "partner": "norway",
                "date": "2023-03-01",
                "text": MEMO,
            }
        ],
        "test",
    )
    mentions = found.mentions.assign(partner=partner, family=family)
    evidence = found.evidence.assign(partner=partner, family=family)
    store.ingest_together(
        client.app.state.services.engine, [("evidence", evidence)], "test", None, mentions=mentions
    )


def test_the_basis_lists_the_book_and_the_mentions_with_their_spans(systems_client) -> None:
    client, _ = systems_client
    first = client.post("/v1/system-block-buys", json={"systems": ["sys_a"]}).json()["first_year"]
    row = {"id": "basis-firm-1", "partner": "p01", "family": "f00", "received": f"{first}-02-01"}
    row |= {"status": "firm", "quantity": 12, "designation": "Sys A", "source": "attaché report 7"}
    assert client.post("/v1/lors", json={"rows": [row]}).status_code == 201
    _store_memo(client, "p01", "f00")
    _store_memo(client, "p03", "f00")
    r = client.post("/v1/basis", json={"family": "F00", "partners": ["p01"]})
    assert r.status_code == 200, r.text
    basis = r.json()
    assert basis["family"] == "f00" and basis["partners"] == ["p01"] and basis["data_through"] == first - 1
    (lor,) = [x for x in basis["requests"] if x["id"] == "basis-firm-1"]
    assert lor["source"] == "attaché report 7" and lor["quantity"] == 12
    assert basis["mentions"] and {m["partner"] for m in basis["mentions"]} == {"p01"}
    mention = basis["mentions"][0]
    start, end = mention["span"]["start"], mention["span"]["end"]
    assert MEMO[start:end] == mention["quote"] and mention["sentence"] == MEMO and mention["urgency"] > 0
    assert mention["relation"] is not None and mention["relation"]["gap"]
    signal = basis["signal"]  # the simulated fit has a text-signal term
    assert signal["in_model"] and all(e["partner"] == "p01" and e["factor"] > 0 for e in signal["effects"])


def test_a_scoped_key_gets_its_partners_basis_only(systems_client) -> None:
    client, scoped = systems_client
    headers = bearer(scoped)
    mine = client.post("/v1/basis", json={"family": "f00"}, headers=headers)
    assert mine.status_code == 200 and set(mine.json()["partners"]) == {"p01", "p02"}
    assert {m["partner"] for m in mine.json()["mentions"]} <= {"p01", "p02"}
    assert {x["partner"] for x in mine.json()["requests"]} <= {"p01", "p02"}
    other = client.post("/v1/basis", json={"family": "f00", "partners": ["P03"]}, headers=headers)
    assert other.status_code == 403


def test_a_bad_basis_request_names_its_field(systems_client) -> None:
    client, _ = systems_client
    for body, needle in (
        ({}, "family or system"),
        ({"system": "nope"}, "unknown system"),
        ({"family": "f00", "limit": 0}, "limit"),
        ({"family": "nope"}, "families"),
    ):
        r = client.post("/v1/basis", json=body)
        assert r.status_code == 400 and needle in r.text, r.text

"""Malformed and implausible bodies: every one a 4xx that names the field where there is one, never a
5xx, and nothing of it stored (service/request_checks.py, evidence/strict_json.py, the loaders' bounds)."""

from __future__ import annotations

import json

import pytest
from litestar.testing import TestClient

from service import request_checks as _bodies
from service import store
from service.bodies import TextsUpload

DEEP = b'{"partners": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
LOR = {"id": "b-1", "partner": "p01", "family": "f00", "received": "2021-02-01", "status": "firm"}
LOR_CSV = "id,partner,family,received,status,quantity\n"
JSON, CSV = "application/json", "text/csv"
EVIDENCE_CSV = "partner,date,kind,value\n"

BAD_BODIES = [
    # (path, body, content type, the field the answer names, or None for the body as a whole)
    ("/v1/forecasts", DEEP, JSON, None),
    ("/v1/block-buys", DEEP, JSON, None),
    ("/v1/keys", DEEP, JSON, None),
    ("/v1/lors", DEEP, JSON, None),
    ("/v1/evidence/texts", DEEP, JSON, None),
    ("/v1/forecasts", b'{"horizon": 2, "partners": ["p01\xff"]}', JSON, None),
    ("/v1/lors", b"id,partner\n\xff\xfe,p01\n", CSV, None),
    ("/v1/forecasts", b'{"horizon": "3"}', JSON, "horizon"),
    ("/v1/block-buys", b'{"first_year": "2024"}', JSON, "first_year"),
    ("/v1/forecasts", b'{"horizon": "x", "horizon": 2}', JSON, "horizon"),
    ("/v1/forecasts", b'{"horizon": NaN}', JSON, None),
    ("/v1/forecasts", b'{"levels": [Infinity]}', JSON, None),
    ("/v1/forecasts", b'{"horizon": 1e400}', JSON, None),
    ("/v1/forecasts", b'{"horizon": 9223372036854775808}', JSON, None),
    ("/v1/forecasts", b'{"partners": []}', JSON, "partners"),
    ("/v1/forecasts", b'{"families": []}', JSON, "families"),
    ("/v1/forecasts", b'{"regions": []}', JSON, "regions"),
    ("/v1/forecasts", b'{"partners": ["p01\\u0000"]}', JSON, "partners[0]"),
    ("/v1/keys", b'{"name": "a\\u001bb", "role": "reader"}', JSON, "name"),
    ("/v1/keys", b'{"name": "x", "role": "reader", "partners": []}', JSON, "partners"),
    ("/v1/lors", json.dumps([{**LOR, "quantity": 2**63}]).encode(), JSON, None),
    ("/v1/lors", json.dumps([{**LOR, "quantity": 10**30}]).encode(), JSON, None),
    ("/v1/lors", json.dumps([{**LOR, "quantity": 5e12}]).encode(), JSON, "quantity"),
    ("/v1/lors", json.dumps([{**LOR, "quantity": "3"}]).encode(), JSON, "quantity"),
    ("/v1/lors", json.dumps([{**LOR, "quantity": True}]).encode(), JSON, "quantity"),
    ("/v1/lors", json.dumps([{**LOR, "partner": {"$ne": 1}}]).encode(), JSON, "partner"),
    ("/v1/lors", json.dumps([{**LOR, "received": "1850-01-01"}]).encode(), JSON, "received"),
    ("/v1/lors", json.dumps([{**LOR, "received": "9999-01-01"}]).encode(), JSON, "received"),
    ("/v1/lors", b'[{"id": "b-1", "id": "b-2"}]', JSON, "id"),
    ("/v1/lors", b'[{"id": "n", "quantity": NaN}]', JSON, None),
    (
        "/v1/lors",
        (LOR_CSV + "c-1,p01,f00,2021-02-01,firm,9223372036854775808\n").encode(),
        CSV,
        "quantity",
    ),
    (
        "/v1/lors",
        (LOR_CSV + "c-1,p01,f00,2021-02-01,firm,1" + "0" * 30 + "\n").encode(),
        CSV,
        "quantity",
    ),
    ("/v1/lors", (LOR_CSV + "c-1,p\x0001,f00,2021-02-01,firm,3\n").encode(), CSV, "partner"),
    ("/v1/lors", (LOR_CSV + "c-\x1b1,p01,f00,2021-02-01,firm,3\n").encode(), CSV, "id"),
    ("/v1/lors", (LOR_CSV + "c-1,p01,f00,2021-02-01,firm,nan\n").encode(), CSV, "quantity"),
    ("/v1/evidence", b"partner,date,kind,value\np01,2021-01-01,nlp_mention,inf\n", CSV, "value"),
    ("/v1/evidence", b"partner,date,kind,value\np01,2021-01-01,nlp_mention,1e7\n", CSV, "value"),
    (
        "/v1/evidence",
        b"partner,date,kind,value\np01,2021-01-01,reported_mission_capable_rate,7\n",
        CSV,
        "value",
    ),
    ("/v1/plans", b"family,fiscal_year,quantity\nf00,3000,1\n", CSV, "fiscal_year"),
    ("/v1/plans", b"family,fiscal_year,quantity\nf00,2030,1e12\n", CSV, "quantity"),
    (
        "/v1/evidence/texts",
        b'{"texts": [{"id": "t", "text": "a\\u0000b"}]}',
        JSON,
        "texts[0].text",
    ),
]


@pytest.mark.parametrize(("path", "body", "content_type", "field"), BAD_BODIES)
def test_a_malformed_body_is_a_4xx_naming_its_field_and_stores_nothing(
    client: TestClient, path: str, body: bytes, content_type: str, field: str | None
) -> None:
    before = store.counts(client.app.state.services.engine)
    response = client.post(path, content=body, headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    answer = response.json()
    if field is not None:
        named = {e["field"] for e in answer.get("errors") or []}
        assert field in named or answer["detail"].startswith(f"{field}:"), answer
    assert store.counts(client.app.state.services.engine) == before


def test_bodies_beyond_their_endpoints_limit_are_413(client: TestClient) -> None:
    padding = json.dumps({"partners": ["p01"] * 20_000}).encode()  # 160 kB: a forecast needs under 1 kB
    assert client.post("/v1/forecasts", content=padding, headers={"content-type": JSON}).status_code == 413
    assert client.post("/v1/keys", content=padding, headers={"content-type": JSON}).status_code == 413


def test_strict_json_still_takes_what_is_valid(client: TestClient) -> None:
    ok = client.post("/v1/forecasts", content=b'{"horizon": 1, "levels": [0.5, 1e-1], "partners": ["p01"]}')
    assert ok.status_code == 200, ok.text
    excel = "\ufeff" + LOR_CSV + "c-ok,p01,f00,2021-02-01,firm,3\n"  # a spreadsheet's byte-order mark
    assert client.post("/v1/lors", content=excel.encode(), headers={"content-type": CSV}).status_code == 201
    # a string holding brackets, tabs and line breaks is not nesting and not a control character
    text = {"texts": [{"id": "t-ok", "text": "[[[[\tline one\r\nline two]]]]" * 20, "kind": "notification"}]}
    _bodies.check(json.dumps(text).encode(), TextsUpload)

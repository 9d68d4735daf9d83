"""Multinational buyers over HTTP: a block buy pooled through an organisation; the scoped keys' rule."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from tests.service.conftest import Keys, bearer


def test_a_block_buy_through_the_un_pools_every_state(client: TestClient) -> None:
    body = {"families": ["f00"], "levels": [0.8]}
    pooled = client.post("/v1/block-buys", json={**body, "organisation": " United_Nations "})
    assert pooled.status_code == 200, pooled.text
    every = client.post("/v1/block-buys", json=body).json()
    out = pooled.json()
    assert out["organisation"] == "united_nations" and every["organisation"] is None
    assert out["partners"] == every["partners"] and out["rows"] == every["rows"]


def test_organisations_are_listed_with_the_members_the_model_knows(client: TestClient) -> None:
    listed = {o["id"]: o for o in client.get("/v1/organisations").json()}
    partners = [p["id"] for p in client.get("/v1/partners").json()]
    assert listed["united_nations"]["members"] == partners
    assert "every one of these members" in listed["united_nations"]["rule"]


def test_a_scoped_key_sees_no_pool_over_members_outside_its_scope(client: TestClient, keys: Keys) -> None:
    r = client.post("/v1/block-buys", json={"organisation": "united_nations"}, headers=bearer(keys.scoped))
    assert r.status_code == 403 and "organisation" in r.text, r.text
    assert "p03" not in r.text  # names no member it may not see
    listed = client.get("/v1/organisations", headers=bearer(keys.scoped)).json()
    assert "united_nations" not in {o["id"] for o in listed}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"organisation": "warsaw_pact"}, "unknown 'warsaw_pact'"),
        ({"organisation": "nato", "partners": ["p01"]}, "not both"),
        ({"organisation": ""}, "organisation"),
    ],
)
def test_bad_organisation_requests_are_400s_naming_the_field(
    client: TestClient, body: dict, needle: str
) -> None:
    r = client.post("/v1/block-buys", json=body)
    assert r.status_code == 400 and needle in r.text, r.text

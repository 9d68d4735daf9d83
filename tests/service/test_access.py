"""API keys: roles, partner scopes that hold for cells and every aggregate, revocation, the audit trail."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from service import auth
from tests.service.conftest import Keys, bearer


def test_no_key_or_a_wrong_key_is_401(client: TestClient) -> None:
    for headers in ({"authorization": ""}, bearer("td_not-a-key"), {"authorization": "Basic abc"}):
        response = client.get("/v1/partners", headers=headers)
        assert response.status_code == 401, response.text
    assert client.get("/health", headers={"authorization": ""}).status_code == 200


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("reader", "post", "/v1/forecasts", True),
        ("reader", "post", "/v1/lors", False),
        ("reader", "post", "/v1/models", False),
        ("analyst", "post", "/v1/lors", True),
        ("analyst", "get", "/v1/keys", False),
        ("analyst", "post", "/v1/models/x/activate", False),
        ("admin", "get", "/v1/keys", True),
    ],
)
def test_roles(client: TestClient, keys: Keys, role: str, method: str, path: str, allowed: bool) -> None:
    response = getattr(client, method)(path, headers=bearer(getattr(keys, role)))
    assert (response.status_code != 403) == allowed, response.text
    if not allowed:
        assert "role" in response.json()["detail"]


def test_a_scoped_key_sees_only_its_partners(client: TestClient, keys: Keys) -> None:
    scoped = bearer(keys.scoped)
    assert {p["id"] for p in client.get("/v1/partners", headers=scoped).json()} == {"p01", "p02"}

    mine = client.post("/v1/forecasts", json={"horizon": 2}, headers=scoped).json()
    assert {c["partner"] for c in mine["cells"]} == {"p01", "p02"}
    # every aggregate it gets is over its own partners: equal to an unscoped request for just them
    full = client.post("/v1/forecasts", json={"horizon": 2, "partners": ["p01", "p02"]}).json()
    for part in ("family_totals", "year_totals", "total_demand"):
        assert mine[part] == full[part], part
    everyone = client.post("/v1/forecasts", json={"horizon": 2}).json()
    assert mine["year_totals"][0]["mean"] < everyone["year_totals"][0]["mean"]

    for body in ({"partners": ["p01", "p03"]}, {"partners": ["p05"]}):
        refused = client.post("/v1/forecasts", json=body, headers=scoped)
        assert refused.status_code == 403 and "p0" in refused.json()["detail"]
    block = client.post("/v1/block-buys", json={}, headers=scoped).json()
    assert block["partners"] == ["p01", "p02"]
    assert client.post("/v1/block-buys", json={"partners": ["p09"]}, headers=scoped).status_code == 403
    model_id = client.get("/v1/models").json()[0]["id"]
    for name in ("posterior.nc", "analysis.nc", "posterior.nc?x=1", "ANALYSIS.nc"):
        # every partner is in either file: a scoped key gets neither, however it asks
        assert client.get(f"/v1/models/{model_id}/{name}", headers=scoped).status_code in (403, 404)
    assert client.get(f"/v1/models/{model_id}/analysis.nc", headers=scoped).status_code == 403
    unkeyed = {"authorization": ""}
    assert client.get(f"/v1/models/{model_id}/analysis.nc", headers=unkeyed).status_code == 401


def test_keys_are_created_revoked_and_audited(client: TestClient, app_and_keys) -> None:
    created = client.post("/v1/keys", json={"name": "planner", "role": "reader", "partners": ["p03"]})
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["token"].startswith(auth.TOKEN_PREFIX) and key["partners"] == ["p03"]
    listed = {k["id"]: k for k in client.get("/v1/keys").json()}
    assert listed[key["id"]]["token"] is None  # never shown again
    engine = app_and_keys[0].state.services.engine
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT hash FROM api_keys WHERE id = ?", (key["id"],)).scalar()
    assert stored == auth.hash_token(key["token"]) and key["token"] not in stored

    assert client.get("/v1/partners", headers=bearer(key["token"])).status_code == 200
    assert client.delete(f"/v1/keys/{key['id']}").status_code == 204
    assert client.get("/v1/partners", headers=bearer(key["token"])).status_code == 401
    assert client.delete(f"/v1/keys/{key['id']}").status_code == 404

    bad = client.post("/v1/keys", json={"name": "x", "role": "reader", "partners": ["atlantis"]})
    assert bad.status_code == 400 and "atlantis" in bad.text
    assert client.post("/v1/keys", json={"name": "x", "role": "root"}).status_code == 400

    actions = [(a["action"], a["target"]) for a in client.get("/v1/audit").json()]
    assert ("key.revoke", key["id"]) in actions and ("key.create", key["id"]) in actions


def test_every_route_that_documents_a_key_requires_one(client: TestClient) -> None:
    """The role a route needs (checked by service.guards.authorize) and the security its OpenAPI
    entry declares come in pairs: no route needs a key without saying so, nor says so without one."""
    checked = 0
    for route in client.app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.include_in_schema is False:
                continue
            security = handler.resolve_security()  # declared by the route's router, or the route
            assert bool(handler.opt.get("role")) == bool(security), handler.handler_name
            checked += bool(security)
    assert checked >= 15

"""A partner-scoped key never sees more, whatever shape its request takes (service/scope.py).

Hypothesis writes the requests: filters left out, null, empty, doubled, in other cases or padded with
spaces, unknown ids, ids of partners outside the scope, regions, new partners labelled like known ones.
Whatever it writes, a scoped key's answer holds no cell of another partner and no total over one: each
total equals an unscoped key's total over exactly the partners the scoped answer shows."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from service import auth, scope
from service.routes.planner import COOKIE
from tests.service.conftest import Keys, bearer

SCOPE = {"p01", "p02"}  # the `scoped` key of conftest
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _spellings(ids: list[str]) -> st.SearchStrategy[str]:
    """Known ids as a careless or hostile client writes them."""
    return st.builds(
        lambda v, f: f(v),
        st.sampled_from(ids),
        st.sampled_from([str, str.upper, str.title, lambda v: f"  {v} ", lambda v: f"\t{v.upper()}"]),
    )


@pytest.fixture(scope="module")
def known(client: TestClient) -> dict[str, list[str]]:
    partners = client.get("/v1/partners").json()
    return {
        "partners": [p["id"] for p in partners],
        "regions": sorted({p["region"] for p in partners}),
        "families": [f["id"] for f in client.get("/v1/families").json()],
    }


def _filter(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str] | None]:
    return st.none() | st.lists(values, max_size=5)


def _requests(known: dict[str, list[str]]) -> st.SearchStrategy[dict]:
    partner = _spellings(known["partners"]) | st.sampled_from(["atlantis", "", " ", "p01,p03", "*", "%"])
    region = _spellings(known["regions"]) | st.just("Nowhere")
    family = _spellings(known["families"]) | st.just("f99")
    fields = {
        "partners": _filter(partner),
        "regions": _filter(region),
        "families": _filter(family),
        "new_partners": st.lists(partner | st.just("newland"), max_size=2),
    }
    return st.fixed_dictionaries({}, optional=fields)


def _shown_partners(cells: list[dict], known: list[str]) -> set[str]:
    return {c["partner"] for c in cells} & set(known)


@given(data=st.data())
@EXAMPLES
def test_a_scoped_forecast_holds_its_partners_alone(
    client: TestClient, keys: Keys, known: dict[str, list[str]], data: st.DataObject
) -> None:
    body = {"horizon": 2, "levels": [0.8], **data.draw(_requests(known))}
    response = client.post("/v1/forecasts", json=body, headers=bearer(keys.scoped))
    event(f"status {response.status_code}")
    assert response.status_code in (200, 400, 403), response.text
    if response.status_code != 200:
        return
    answer = response.json()
    folded = {p.casefold().strip() for p in known["partners"]}
    for cell in answer["cells"]:
        # a cell is one of its partners, or a hypothetical partner whose label names no known one
        assert cell["partner"] in SCOPE or cell["partner"].casefold().strip() not in folded, cell
    shown = _shown_partners(answer["cells"], known["partners"])
    assert shown and shown <= SCOPE
    unscoped = {**body, "partners": sorted(shown)}
    unscoped.pop("regions", None)
    reference = client.post("/v1/forecasts", json=unscoped).json()
    for part in ("family_totals", "year_totals", "total_demand"):
        assert answer[part] == reference[part], part


@given(data=st.data())
@EXAMPLES
def test_a_scoped_block_buy_pools_its_partners_alone(
    client: TestClient, keys: Keys, known: dict[str, list[str]], data: st.DataObject
) -> None:
    body = data.draw(_requests(known))
    body.pop("new_partners", None)
    response = client.post("/v1/block-buys", json={**body, "levels": [0.9]}, headers=bearer(keys.scoped))
    event(f"status {response.status_code}")
    assert response.status_code in (200, 400, 403), response.text
    if response.status_code != 200:
        return
    answer = response.json()
    assert answer["partners"] and set(answer["partners"]) <= SCOPE
    reference = {k: v for k, v in body.items() if k == "families"}
    unscoped = client.post(
        "/v1/block-buys", json={**reference, "partners": answer["partners"], "levels": [0.9]}
    )
    assert answer["rows"] == unscoped.json()["rows"]


@given(
    partners=st.lists(st.sampled_from(["p01", "P02", " p01 ", "p03", "", "atlantis", "p01"]), max_size=4),
    regions=st.lists(st.sampled_from(["", "nowhere"]), max_size=1),
)
@EXAMPLES
def test_the_planners_csv_totals_only_its_partners(
    client: TestClient, keys: Keys, partners: list[str], regions: list[str]
) -> None:
    query = [("horizon", "2"), ("level", "0.8"), *(("partner", p) for p in partners)]
    query += [("region", r) for r in regions]
    page = client.get(
        "/planner/total-demand.csv",
        params=query,
        headers={"authorization": "", "cookie": f"{COOKIE}={keys.scoped}"},
    )
    event(f"status {page.status_code}")
    assert page.status_code in (200, 400, 403), page.text
    if page.status_code != 200:
        return
    asked = {p.strip().casefold() for p in partners if p.strip()}
    counted = sorted(SCOPE & asked) or sorted(SCOPE)
    reference = client.post("/v1/forecasts", json={"horizon": 2, "levels": [0.8], "partners": counted}).json()
    means = {(r["family"], int(r["year"])): float(r["mean"]) for r in csv.DictReader(io.StringIO(page.text))}
    assert means == pytest.approx({(r["family"], r["year"]): r["mean"] for r in reference["total_demand"]})


def test_partner_ids_are_matched_ignoring_case_and_spaces_and_counted_once(
    client: TestClient, keys: Keys
) -> None:
    plain = client.post(
        "/v1/forecasts", json={"horizon": 1, "partners": ["p01"]}, headers=bearer(keys.scoped)
    )
    for spelling in (["P01"], [" p01 "], ["p01", "P01", "p01"]):
        again = client.post(
            "/v1/forecasts", json={"horizon": 1, "partners": spelling}, headers=bearer(keys.scoped)
        )
        assert again.json()["cells"] == plain.json()["cells"]


def test_outside_ids_are_refused_alike_whether_or_not_they_exist(client: TestClient, keys: Keys) -> None:
    """A 403 for p03 (it exists) reads like the one for atlantis (it does not): no existence oracle."""
    for body in ({"partners": ["p03"]}, {"partners": ["atlantis"]}, {"new_partners": ["P03"]}):
        refused = client.post("/v1/forecasts", json=body, headers=bearer(keys.scoped))
        assert refused.status_code == 403, (body, refused.text)
        assert "not allowed to see" in refused.json()["detail"]


def test_a_question_is_scoped_like_a_forecast(client: TestClient, keys: Keys) -> None:
    """Left out, the partners are the key's own; another partner, however spelt, is a 403; the answer
    over the key's partners is an unscoped key's answer over exactly those."""
    body = {"family": "f02", "at_least": 2, "within_months": 12}
    mine = client.post("/v1/questions", json=body, headers=bearer(keys.scoped)).json()
    assert set(mine["partners"]) == SCOPE
    reference = client.post("/v1/questions", json={**body, "partners": sorted(SCOPE)}).json()
    assert mine["probability"] == reference["probability"]
    for partners in (["p03"], ["P01", " p03"], ["atlantis"]):
        refused = client.post(
            "/v1/questions", json={**body, "partners": partners}, headers=bearer(keys.scoped)
        )
        assert refused.status_code == 403, refused.text
    empty = client.post("/v1/questions", json={**body, "partners": []}, headers=bearer(keys.scoped))
    assert empty.status_code == 400


def test_writes_are_scoped_like_reads(client: TestClient, app_and_keys) -> None:
    engine = app_and_keys[0].state.services.engine
    mine = bearer(auth.create_key(engine, "p01 analyst", "analyst", ["p01"]).token)
    lor = {"id": "w-1", "partner": "p01", "family": "f00", "received": "2021-01-05", "status": "firm"}
    assert client.post("/v1/lors", json=[lor], headers=mine).status_code == 201
    for rows in ([{**lor, "id": "w-2", "partner": "p02"}], [{**lor, "id": "w-3", "partner": " P02"}]):
        assert client.post("/v1/lors", json=rows, headers=mine).status_code == 403
    # rows that belong to no partner: plans need a key without a scope, and so do fits
    plan = [{"family": "f00", "fiscal_year": 2031, "quantity": 1}]
    refused = client.post("/v1/plans", json=plan, headers=mine)
    assert refused.status_code == 403 and "belong to no partner" in refused.json()["detail"]
    assert client.post("/v1/models", json={"draws": 50, "tune": 50}, headers=mine).status_code == 403
    # a scoped key never becomes an admin, nor is an admin scoped
    assert (
        client.post("/v1/keys", json={"name": "x", "role": "admin", "partners": ["p01"]}).status_code == 400
    )
    analyst = bearer(auth.create_key(engine, "analyst", "analyst").token)
    refused = client.post("/v1/models", json={"draws": 50, "tune": 50, "activate": True}, headers=analyst)
    assert refused.status_code == 403 and "activate" in refused.json()["detail"]


def test_one_function_lists_what_a_key_sees(client: TestClient, keys: Keys) -> None:
    served = client.app.state.services.holder.served
    caller = client.app.state.services.keys.lookup(keys.scoped)
    assert set(scope.visible_partners(caller, served.forecaster)) == SCOPE
    listed = client.get("/v1/partners", headers=bearer(keys.scoped)).json()
    assert {p["id"] for p in listed} == SCOPE

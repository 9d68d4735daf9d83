"""Named systems over HTTP: the catalogue the model answers about, questions and forecasts per system."""

from __future__ import annotations

import pytest

from tests.service.conftest import bearer


def test_systems_lists_what_the_model_answers_about(systems_client) -> None:
    client, _ = systems_client
    rows = client.get("/v1/systems").json()
    assert {r["id"]: r["family"] for r in rows} == {"sys_a": "f00", "sys_b": "f00", "sys_c": "f01"}
    assert all(r["basis"] in {"history", "prior (share 0.05)"} for r in rows)


def test_a_question_about_a_system_in_any_case(systems_client) -> None:
    client, _ = systems_client
    body = {"system": " SYS_A ", "at_least": 1, "within_months": 18, "partners": ["p01", "p04"]}
    r = client.post("/v1/questions", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["system"] == "sys_a" and answer["family"] == "f00"
    assert "system-share model" in answer["rests_on"]["system_share"]
    family = client.post("/v1/questions", json={**body, "system": None, "family": "f00"}).json()
    assert answer["probability"] <= family["probability"]
    assert family["system"] is None and family["rests_on"]["system_share"] is None
    agreeing = client.post("/v1/questions", json={**body, "family": "F00"})
    assert agreeing.status_code == 200 and agreeing.json()["probability"] == answer["probability"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"system": "nope"}, "unknown system"),
        ({"system": "sys_a", "family": "f01"}, "is in family"),
        ({}, "family or system"),
        ({"system": ""}, "system"),
    ],
)
def test_bad_system_questions_are_400s_naming_the_field(systems_client, body: dict, needle: str) -> None:
    client, _ = systems_client
    r = client.post("/v1/questions", json={"at_least": 1, "within_months": 12, **body})
    assert r.status_code == 400 and needle in r.text, r.text


def test_system_forecasts_add_up_to_the_family(systems_client) -> None:
    client, _ = systems_client
    body = {"family": "f00", "horizon": 2, "partners": ["p01", "p02", "p03"]}
    r = client.post("/v1/system-forecasts", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert {row["system"] for row in out["rows"]} == {"other", "sys_a", "sys_b"}
    same = {"families": ["f00"], "horizon": 2, "partners": body["partners"]}
    forecast = client.post("/v1/forecasts", json=same)
    totals = {t["year"]: t["mean"] for t in forecast.json()["family_totals"]}
    for year, mean in totals.items():
        assert sum(row["mean"] for row in out["rows"] if row["year"] == year) == pytest.approx(mean)


def test_a_scoped_key_asks_about_its_partners_only(systems_client) -> None:
    client, scoped = systems_client
    headers = bearer(scoped)
    mine = client.post("/v1/system-forecasts", json={"family": "f00"}, headers=headers)
    assert mine.status_code == 200 and mine.json()["partners"] == ["p01", "p02"]
    for path, body in (
        ("/v1/system-forecasts", {"family": "f00", "partners": ["p03"]}),
        ("/v1/questions", {"system": "sys_a", "at_least": 1, "within_months": 9, "partners": ["p03"]}),
    ):
        assert client.post(path, json=body, headers=headers).status_code == 403


def test_lines_and_line_risk_over_http(systems_client) -> None:
    client, scoped = systems_client
    lines = {row["id"]: row for row in client.get("/v1/lines").json()}
    assert lines["patriot_mse"]["min_sustaining_rate"] == 72.0 and lines["patriot_mse"]["budget_year"] == 2017
    r = client.post("/v1/line-risk", json={"line": " PATRIOT_MSE ", "levels": [0.5, 0.9]})
    assert r.status_code == 200, r.text
    risk = r.json()
    assert risk["line"] == "patriot_mse" and "P-21" in risk["capacity_basis"]
    assert "carried" in risk["domestic_basis"] and len(risk["rows"]) >= 3
    for row in risk["rows"]:
        parts = sum(row[f"{k}_expected"] for k in ("domestic", "backlog", "firm", "pending", "forecast"))
        assert row["mean"] == pytest.approx(parts) and 0 <= row["p_below_min"] <= 1
        assert [i["level"] for i in row["intervals"]] == [0.5, 0.9]
    assert client.post("/v1/line-risk", json={"line": "nope"}).status_code == 400
    headers = bearer(scoped)
    mine = client.post("/v1/line-risk", json={"line": "patriot_mse"}, headers=headers)
    assert mine.status_code == 200 and mine.json()["partners"] == ["p01", "p02"]
    other = client.post("/v1/line-risk", json={"line": "patriot_mse", "partners": ["p03"]}, headers=headers)
    assert other.status_code == 403

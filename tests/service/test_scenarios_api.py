"""Block buys of named systems and what-if scenarios over HTTP, as planners and hostile clients send them."""

from __future__ import annotations

import pytest

from tests.service.conftest import bearer


def test_a_system_block_buy_gives_each_source_and_its_share(systems_client) -> None:
    client, _ = systems_client
    body = {"systems": ["sys_a", " SYS_B ", "sys_a"], "at_least": 10, "levels": [0.8]}
    r = client.post("/v1/system-block-buys", json=body)
    assert r.status_code == 200, r.text
    buy = r.json()
    assert [row["system"] for row in buy["rows"]] == ["sys_a", "sys_b"]
    for row in buy["rows"]:
        assert row["mean"] == pytest.approx(sum(row["sources"].values()))
        assert sum(row["shares"].values()) == pytest.approx(1.0) or row["mean"] == 0
        assert 0 <= row["p_at_least"] <= 1 and row["domestic_basis"].startswith("none")
    assert buy["what_if"] == [] and buy["at_least"] == 10


def test_a_scenario_on_a_buy_counts_the_hypothetical_request(systems_client) -> None:
    client, _ = systems_client
    year = client.post("/v1/system-block-buys", json={"systems": ["sys_a"]}).json()["first_year"]
    what_if = {"lors": [{"partner": "P03", "system": "Sys_A", "year": year, "quantity": 200}]}
    r = client.post("/v1/scenarios", json={"systems": ["sys_a"], "what_if": what_if, "at_least": 200})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["kind"] == "block_buy" and answer["what_if"] == [
        f"firm request from p03: 200 sys_a in {year}"
    ]
    base, new = answer["baseline"]["rows"][0], answer["scenario"]["rows"][0]
    assert new["sources"]["firm"] - base["sources"]["firm"] == pytest.approx(200)
    assert new["p_at_least"] == 1.0 and answer["change"][0]["key"] == "sys_a"
    assert answer["change"][0]["mean"] == pytest.approx(new["mean"] - base["mean"])


def test_two_hypothetical_requests_from_one_partner_both_count(systems_client) -> None:
    client, _ = systems_client
    year = client.post("/v1/system-block-buys", json={"systems": ["sys_a"]}).json()["first_year"]
    lors = [
        {"partner": p, "system": "sys_a", "year": year + k, "quantity": 10}
        for k, p in enumerate(["p04", "P04 "])
    ]
    r = client.post("/v1/scenarios", json={"systems": ["sys_a"], "what_if": {"lors": lors}})
    assert r.status_code == 200, r.text
    base, new = r.json()["baseline"]["rows"][0], r.json()["scenario"]["rows"][0]
    assert new["sources"]["firm"] - base["sources"]["firm"] == pytest.approx(20)


def test_a_partner_leaving_twice_leaves_once(systems_client) -> None:
    client, _ = systems_client
    body = {"systems": ["sys_a"], "what_if": {"leaving": ["p02", " P02", "p02"]}}
    r = client.post("/v1/scenarios", json=body)
    assert r.status_code == 200 and r.json()["what_if"] == ["p02 leaves the buy"], r.text


def test_a_scenario_on_a_line_moves_its_risk(systems_client) -> None:
    client, _ = systems_client
    what_if = {"plan_scale": 0.1, "min_rate": 100}
    r = client.post("/v1/scenarios", json={"line": "PATRIOT_MSE", "what_if": what_if})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["kind"] == "line" and answer["scenario"]["min_sustaining_rate"] == 100
    assert set(answer["what_if"]) == {"domestic plan x0.1", "minimum sustaining rate 100"}
    for change, base in zip(answer["change"], answer["baseline"]["rows"], strict=True):
        assert change["mean"] == pytest.approx(-0.9 * base["domestic_expected"])
        assert change["p_below_min"] >= 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"what_if": {}}, "name exactly one"),
        ({"line": "patriot_mse", "systems": ["sys_a"], "what_if": {}}, "name exactly one"),
        ({"systems": ["sys_a"]}, "what_if"),
        ({"systems": ["sys_a"], "what_if": {"plan_scale": -1}}, "plan_scale"),
        ({"systems": ["sys_a"], "what_if": {"min_rate": 5, "max_rate": 1}}, "min_rate"),
        ({"systems": ["sys_a"], "what_if": {"leaving": ["nobody"]}}, "what_if.leaving"),
        (
            {
                "systems": ["sys_a"],
                "what_if": {"lors": [{"partner": "p01", "system": "sys_c", "year": 2024}]},
            },
            "quantity",
        ),
        ({"systems": ["nope"], "what_if": {}}, "unknown system"),
        ({"systems": [], "what_if": {}}, "systems"),
        ({"systems": ["sys_a"], "what_if": {"lors": [{}] * 21}}, "lors"),
        ({"systems": ["sys_a"], "what_if": {"surprise": 1}}, "surprise"),
        ({"line": "nope", "what_if": {}}, "unknown production line"),
    ],
)
def test_a_bad_scenario_is_a_400_naming_the_field(systems_client, body, needle) -> None:
    client, _ = systems_client
    r = client.post("/v1/scenarios", json=body)
    assert r.status_code == 400, r.text
    assert needle in r.text


def test_a_hypothetical_request_outside_the_years_is_a_400(systems_client) -> None:
    client, _ = systems_client
    lor = {"partner": "p01", "system": "sys_a", "year": 1999, "quantity": 5}
    r = client.post("/v1/scenarios", json={"systems": ["sys_a"], "what_if": {"lors": [lor]}})
    assert r.status_code == 400 and "what_if.lors[0].year: 1999" in r.text


def test_a_scoped_key_cannot_reach_other_partners_through_a_what_if(systems_client) -> None:
    client, scoped = systems_client
    headers = bearer(scoped)
    mine = client.post("/v1/system-block-buys", json={"systems": ["sys_a"]}, headers=headers)
    assert mine.status_code == 200 and set(mine.json()["partners"]) == {"p01", "p02"}
    for what_if in (
        {"lors": [{"partner": "p03", "system": "sys_a", "year": 2030, "quantity": 5}]},
        {"leaving": ["P03"]},
    ):
        r = client.post("/v1/scenarios", json={"systems": ["sys_a"], "what_if": what_if}, headers=headers)
        assert r.status_code == 403, r.text
        assert "what_if" in r.text
    for path, body in (
        ("/v1/system-block-buys", {"systems": ["sys_a"], "partners": ["p03"]}),
        ("/v1/scenarios", {"line": "patriot_mse", "partners": ["p01", "p03"], "what_if": {}}),
    ):
        assert client.post(path, json=body, headers=headers).status_code == 403
    own = {"lors": [{"partner": "p01", "system": "sys_a", "year": mine.json()["first_year"], "quantity": 5}]}
    ok = client.post("/v1/scenarios", json={"systems": ["sys_a"], "what_if": own}, headers=headers)
    assert ok.status_code == 200 and set(ok.json()["scenario"]["partners"]) == {"p01", "p02"}

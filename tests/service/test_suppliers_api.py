"""Suppliers over HTTP: P(the next order goes to the U.S.), the share's path and the competitors, within
the key's scope; every supplier's orders stored through the records API."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from service import store
from tests.service.conftest import bearer


def test_the_outlook_answers_every_cell_asked_for(systems_client) -> None:
    client, _ = systems_client
    body = {"partners": ["p01", "P02 "], "families": ["f00", "f01", "f00"], "horizon": 2}
    body["levels"] = [0.5, 0.9]
    r = client.post("/v1/supplier-outlook", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [(row["partner"], row["family"]) for row in out["rows"]] == [
        ("p01", "f00"),
        ("p01", "f01"),
        ("p02", "f00"),
        ("p02", "f01"),
    ]
    for row in out["rows"]:
        p = row["p_next_us"]
        assert 0 < p["mean"] < 1
        narrow, wide = p["intervals"]
        assert wide["lower"] <= narrow["lower"] <= p["mean"] <= narrow["upper"] <= wide["upper"]
        last = row["history"]["last_year"]
        assert [s["year"] for s in row["shares"]] == [last + 1, last + 2]
        assert row["shares"][0]["mean"] == pytest.approx(p["mean"])
        history = row["history"]
        assert history["us_orders"] <= history["orders"] and history["recent_orders"] <= history["orders"]
        others = history["orders"] - history["us_orders"]
        assert sum(c["orders"] for c in row["competitors"]) == others  # three rivals, top 3: all of them
        assert all(c["supplier"] != "united_states" for c in row["competitors"])
        counts = [c["orders"] for c in row["competitors"]]
        assert counts == sorted(counts, reverse=True)
        assert (row["basis"] == "history") == (history["orders"] > 0)


def test_the_outlook_keeps_a_scoped_key_to_its_partners(systems_client) -> None:
    client, scoped = systems_client
    mine = client.post("/v1/supplier-outlook", json={"families": ["f00"]}, headers=bearer(scoped))
    assert mine.status_code == 200, mine.text
    assert {row["partner"] for row in mine.json()["rows"]} == {"p01", "p02"}
    other = client.post("/v1/supplier-outlook", json={"partners": ["p03"]}, headers=bearer(scoped))
    assert other.status_code == 403, other.text


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"families": ["nope"]}, "families"),
        ({"partners": []}, "partners"),
        ({"horizon": 0}, "horizon"),
        ({"top": -1}, "top"),
        ({"levels": [1.5]}, "levels"),
        ({"partner": ["p01"]}, "partner"),
    ],
)
def test_bad_outlook_bodies_are_400s_naming_the_field(systems_client, body: dict, needle: str) -> None:
    client, _ = systems_client
    r = client.post("/v1/supplier-outlook", json=body)
    assert r.status_code == 400 and needle in r.text, r.text


def test_a_model_without_a_share_model_says_so(client: TestClient) -> None:
    r = client.post("/v1/supplier-outlook", json={"partners": ["p01"]})
    assert r.status_code == 400 and "no U.S. share model" in r.text, r.text


def test_supplier_orders_are_stored_and_a_revised_count_replaces_the_old(client: TestClient) -> None:
    row = {"partner": "p01", "family": "f00", "year": 2019, "supplier": "france", "orders": 1, "units": 12}
    first = client.post("/v1/supplier-orders", json=[row])
    assert first.status_code == 201, first.text
    assert first.json()["replaced"] == 0
    revised = client.post("/v1/supplier-orders", json=[{**row, "orders": 2, "units": None}]).json()
    assert revised["replaced"] == 1
    engine = client.app.state.services.engine
    with engine.connect() as conn:
        stored = store.read_table(conn, "supplier_orders")
    mine = stored.query("partner == 'p01' and family == 'f00' and year == 2019 and supplier == 'france'")
    assert mine["orders"].tolist() == [2]


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ({"orders": 0}, "orders"),
        ({"partner": "atlantis"}, "unknown partner id"),
        ({"year": 1200}, "year"),
        ({"supplier": ""}, "supplier"),
        ({"supplier": "FRANCE"}, "partners' scheme"),
    ],
)
def test_bad_supplier_orders_are_refused_naming_the_field(client: TestClient, row: dict, needle: str) -> None:
    base = {"partner": "p01", "family": "f00", "year": 2019, "supplier": "france", "orders": 1}
    r = client.post("/v1/supplier-orders", json=[{**base, **row}])
    assert r.status_code == 400 and needle in r.text, r.text


def test_a_scoped_key_may_not_store_orders_of_another_partner(client: TestClient, keys) -> None:
    row = {"partner": "p05", "family": "f00", "year": 2019, "supplier": "france", "orders": 1}
    r = client.post("/v1/supplier-orders", json=[row], headers=bearer(keys.scoped))
    assert r.status_code == 403, r.text


def test_the_outlook_says_which_channel_each_partner_s_orders_use(systems_client) -> None:
    client, _ = systems_client
    last = client.get("/v1/partners").json()[-1]["id"]  # its channel figures are all unreported
    r = client.post("/v1/supplier-outlook", json={"partners": ["p01", last], "horizon": 2})
    assert r.status_code == 200, r.text
    out = r.json()
    assert "LOR" in out["channel_note"] and "DCS" in out["channel_note"]
    by_partner = {c["partner"]: c for c in out["channels"]}
    assert set(by_partner) == {"p01", last}
    first_year = out["rows"][0]["shares"][0]["year"]
    for channel in by_partner.values():
        assert [y["year"] for y in channel["p_fms"]] == [first_year, first_year + 1]
        for year in channel["p_fms"]:
            (interval,) = year["intervals"]
            assert 0 < interval["lower"] <= year["mean"] <= interval["upper"] < 1
    assert by_partner["p01"]["basis"].startswith("history") and by_partner["p01"]["last_reported"]
    # no reported year: the common share, with the partners' spread as its uncertainty
    assert by_partner[last]["last_reported"] is None and "no year" in by_partner[last]["basis"]
    wide = by_partner[last]["p_fms"][0]["intervals"][0]
    narrow = by_partner["p01"]["p_fms"][0]["intervals"][0]
    assert wide["upper"] - wide["lower"] > narrow["upper"] - narrow["lower"]

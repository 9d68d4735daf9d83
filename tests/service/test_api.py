"""Forecast endpoints through Litestar's test client, on a real posterior file and database (admin key)."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient


def test_health_and_dimensions(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    partners = client.get("/v1/partners").json()
    families = client.get("/v1/families").json()
    assert {"id", "name", "region"} <= set(partners[0])
    assert {"id", "name", "category"} <= set(families[0])
    assert len(families) == 8


def test_forecast_filters_levels_and_totals(client: TestClient) -> None:
    body = {"horizon": 2, "levels": [0.8, 0.95], "partners": ["p01", "p02"], "families": ["f00"]}
    response = client.post("/v1/forecasts", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["model"]["status"] == "ok"
    assert {(c["partner"], c["family"], c["year"]) for c in data["cells"]} == {
        (p, "f00", y) for p in ("p01", "p02") for y in (2020, 2021)
    }
    cell = data["cells"][0]
    assert [i["level"] for i in cell["intervals"]] == [0.8, 0.95]
    assert 0 <= cell["p_any"] <= cell["p_any_within_horizon"] <= 1
    totals = {(t["family"], t["year"]): t["mean"] for t in data["family_totals"]}
    for year in (2020, 2021):
        cells = sum(c["mean"] for c in data["cells"] if c["year"] == year)
        assert totals[("f00", year)] == pytest.approx(cells)


def test_new_partner_from_the_population(client: TestClient) -> None:
    body = {"horizon": 1, "families": ["f00"], "partners": ["p01"], "new_partners": ["newland"]}
    data = client.post("/v1/forecasts", json=body).json()
    assert [c["partner"] for c in data["cells"]] == ["p01", "newland"]
    bad = client.post("/v1/forecasts", json={"new_partners": ["p01"]})
    assert bad.status_code == 400 and "known ids" in bad.text


def test_default_request_covers_everything(client: TestClient) -> None:
    data = client.post("/v1/forecasts", json={}).json()
    assert len(data["cells"]) == 30 * 8 * 3
    assert len(data["year_totals"]) == 3
    assert len(data["total_demand"]) == 8 * 3
    row = data["total_demand"][0]
    assert row["domestic"] is not None and row["p_below_min"] is not None
    assert row["mean"] == pytest.approx(
        row["domestic"] + row["firm"] + row["pending_expected"] + row["new_lors_expected"], rel=1e-9
    )
    assert {"mean", "median", "intervals"} <= set(data["cells"][0]["units"])


def test_new_partner_placed_in_a_region(client: TestClient) -> None:
    body = {
        "horizon": 1,
        "families": ["f00"],
        "new_partners": [{"id": "eu_new", "region": "Europe", "alliances": ["NATO"]}],
    }
    data = client.post("/v1/forecasts", json=body).json()
    assert data["cells"][-1]["partner"] == "eu_new"
    bad = client.post("/v1/forecasts", json={"new_partners": [{"id": "x", "colour": "red"}]})
    assert bad.status_code == 400


def test_block_buy(client: TestClient) -> None:
    body = {"partners": ["p01", "p02"], "first_year": 2020, "last_year": 2022, "levels": [0.9]}
    data = client.post("/v1/block-buys", json=body).json()
    assert data["partners"] == ["p01", "p02"] and data["rows"][-1]["family"] == "all"
    assert data["rows"][-1]["units"]["mean"] >= max(r["units"]["mean"] for r in data["rows"][:-1])
    bad = client.post("/v1/block-buys", json={"first_year": 1999})
    assert bad.status_code == 400 and "window" in bad.text
    assert data["at_least"] is None and data["rows"][0]["combined"]["p_at_least"] is None


def test_block_buy_combined_with_a_threshold(client: TestClient) -> None:
    body = {
        "partners": ["p01"],
        "families": ["f00", "f01"],
        "first_year": 2020,
        "last_year": 2021,
        "at_least": 40,
    }
    data = client.post("/v1/block-buys", json=body).json()
    assert data["at_least"] == 40
    for row in data["rows"]:
        combined = row["combined"]
        assert combined["mean"] == pytest.approx(sum(combined["sources"].values()))
        assert sum(combined["shares"].values()) == pytest.approx(1.0)
        assert combined["sources"]["new_lors"] == pytest.approx(row["units"]["mean"])
        assert 0.0 <= combined["p_at_least"] <= 1.0
    for bad in (0, -1, "40", 10**10):
        r = client.post("/v1/block-buys", json={**body, "at_least": bad})
        assert r.status_code == 400 and "at_least" in r.text


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon": 50}, "horizon"),
        ({"levels": [1.5]}, "levels"),
        ({"levels": []}, "levels"),
        ({"partners": ["atlantis"]}, "atlantis"),
        ({"regions": ["Mars"]}, "Mars"),
        ({"horizon": "three"}, "horizon"),
        ({"colour": "blue"}, "colour"),
        ({"new_partners": [""]}, "new_partners"),
        ({"new_families": ["x"] * 21}, "new_families"),
    ],
)
def test_bad_requests_get_400_naming_the_problem(client: TestClient, body: dict, needle: str) -> None:
    response = client.post("/v1/forecasts", json=body)
    assert response.status_code == 400, response.text
    assert needle in response.text


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/forecasts", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_openapi_schema_is_served(client: TestClient) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert "/v1/forecasts" in schema["paths"]


def test_a_repeated_request_is_answered_from_the_cache_unchanged(client: TestClient) -> None:
    served = client.app.state.services.holder.served

    def hits() -> int:  # answered from the cache, or replayed before the framework (service/replay.py)
        return served.cache.hits + served.replay.hits

    body = {"horizon": 2, "partners": ["p04"], "levels": [0.9]}
    first = client.post("/v1/forecasts", json=body)
    before = hits()
    second = client.post("/v1/forecasts", json=body)
    assert second.content == first.content and hits() == before + 1
    other = client.post("/v1/forecasts", json={**body, "levels": [0.5]})
    assert other.content != first.content and hits() == before + 1
    assert 'totaldemand_forecast_cache{result="hit"}' in client.get("/metrics").text


def test_a_planners_question_in_one_call(client: TestClient) -> None:
    body = {
        "family": " F02 ",
        "at_least": 3,
        "within_months": 18,
        "from": "2020-07-01",
        "partners": ["p01", "p04"],
    }
    r = client.post("/v1/questions", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["family"] == "f02" and answer["partners"] == ["p01", "p04"]
    assert 0 <= answer["probability"] <= answer["p_any_request"] <= 1
    assert answer["window"] == {
        "from": "2020-07-01",
        "to": "2022-01-01",
        "share_of_each_year": pytest.approx(
            {"2020": answer["window"]["share_of_each_year"]["2020"], "2021": 1.0}
        ),
    }
    basis = answer["rests_on"]
    assert basis["data_through"] == 2019 and basis["timing"] and basis["book_as_of"]
    interval = answer["intervals"][0]
    assert interval["level"] == 0.8 and interval["lower"] <= answer["median_units"] <= interval["upper"]
    more = client.post("/v1/questions", json={**body, "at_least": 300}).json()
    assert more["probability"] <= answer["probability"]
    everyone = client.post("/v1/questions", json={"family": "f02", "at_least": 3, "within_months": 6}).json()
    assert len(everyone["partners"]) == 30 and everyone["window"]["from"] == "2020-01-01"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"family": "f02", "at_least": 3, "within_months": 18, "from": "2019-06-01"}, "from"),
        ({"family": "f02", "at_least": 3, "within_months": 121}, "within_months"),
        ({"family": "f02", "at_least": "3", "within_months": 12}, "at_least"),
        ({"family": "nope", "at_least": 3, "within_months": 12}, "famil"),
        ({"at_least": 3, "within_months": 12}, "family"),
        ({"family": "f02", "at_least": 3, "within_months": 12, "from": "2020-02-30"}, "from"),
        ({"family": "f02", "at_least": 3, "within_months": 12, "partners": []}, "partners"),
    ],
)
def test_a_bad_question_is_a_400_naming_the_field(client: TestClient, body: dict, needle: str) -> None:
    r = client.post("/v1/questions", json=body)
    assert r.status_code == 400 and needle in r.text, r.text

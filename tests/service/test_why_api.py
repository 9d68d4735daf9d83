"""POST /v1/why: the change in a planner's question split into parts that add up to it."""

from __future__ import annotations

import pytest

from tests.service.conftest import bearer


def _question(**extra) -> dict:
    return {"family": "f01", "at_least": 1, "within_months": 12, "partners": ["p05"], **extra}


def test_requests_posted_since_the_fit_are_the_whole_change(systems_client) -> None:
    client, _ = systems_client
    first = client.post("/v1/system-block-buys", json={"systems": ["sys_a"]}).json()["first_year"]
    row = {"id": "why-firm-1", "partner": "p05", "family": "f01", "received": f"{first}-03-01"}
    assert (
        client.post("/v1/lors", json={"rows": [row | {"status": "firm", "quantity": 9}]}).status_code == 201
    )
    r = client.post("/v1/why", json=_question())
    assert r.status_code == 200, r.text
    why = r.json()
    now = client.post("/v1/questions", json=_question()).json()
    assert why["after"]["probability"] == now["probability"]
    book, *others = why["parts"]
    assert book["component"] == "book" and book["probability"] == pytest.approx(why["change"]["probability"])
    assert book["expected_units"] != 0  # the cell is now conditioned on the firm request
    assert all(p["probability"] == 0 and p["changed"] == [] for p in others)
    assert why["before"]["book_as_of"] != why["after"]["book_as_of"]


def test_against_another_fit_the_parts_add_up(systems_client) -> None:
    client, _ = systems_client
    (model,) = [m for m in client.get("/v1/models").json() if m["active"]]
    r = client.post("/v1/why", json=_question(since=model["id"]))
    assert r.status_code == 200, r.text
    why = r.json()
    total = sum(p["probability"] for p in why["parts"])
    assert total == pytest.approx(why["change"]["probability"], abs=1e-12)
    refit = why["parts"][-1]
    assert refit["component"] == "refit" and refit["changed"] == [] and refit["probability"] == 0
    assert "nothing else recorded" in refit["detail"]


def test_why_is_checked_and_scoped(systems_client) -> None:
    client, scoped = systems_client
    assert client.post("/v1/why", json=_question(since="no-such-model")).status_code == 404
    assert client.post("/v1/why", json={"at_least": 1, "within_months": 3}).status_code == 400
    assert client.post("/v1/why", json=_question(within_months=0)).status_code == 400
    assert client.post("/v1/why", json=_question(), headers=bearer(scoped)).status_code == 403
    mine = client.post("/v1/why", json=_question(partners=["P01"]), headers=bearer(scoped))
    assert mine.status_code == 200, mine.text


def test_a_change_of_priors_is_separated_by_reweighting(systems_client, systems_path, tmp_path) -> None:
    """A second registered fit that differs from the served one in one prior only (the same draws, its
    intercept prior recorded wider): the priors' part is computed by reweighting the served draws, and
    the parts still add up."""
    import json

    from bayes.model import DemandModel
    from priors.priorset import parse_priors
    from service import registry

    client, _ = systems_client
    other = DemandModel.load(systems_path)
    config = json.loads(other.idata.attrs["model_config"])
    config["priors"]["intercept"]["sigma"] *= 1.2
    other.idata.attrs["model_config"] = json.dumps(config)
    other.idata.attrs["priors_hash"] = parse_priors(config["priors"]).hash
    record = registry.register_file(client.app.state.services.engine, other.save(tmp_path / "wider.nc"))
    r = client.post("/v1/why", json=_question(since=record.id))
    assert r.status_code == 200, r.text
    why = r.json()
    components = [p["component"] for p in why["parts"]]
    assert components == ["book", "refit", "priors"], why["parts"]
    priors = why["parts"][-1]
    assert priors["changed"] == ["intercept"] and "reweighted" in priors["detail"]
    total = sum(p["probability"] for p in why["parts"])
    assert total == pytest.approx(why["change"]["probability"], abs=1e-12)

"""The planner's system, line, question and partner views: signed in by cookie, scoped like the API."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient


@pytest.fixture(scope="module")
def views(systems_client) -> Iterator[tuple[TestClient, str, str]]:
    """A browser on the systems app (cookies, no bearer header), the admin's key and a scoped key."""
    client, scoped = systems_client
    admin = client.headers["authorization"].split()[1]
    with TestClient(app=client.app) as browser:
        yield browser, admin, scoped


def signed_in(browser: TestClient, token: str) -> TestClient:
    browser.cookies.clear()
    r = browser.post("/planner/login", data={"key": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser


def test_the_system_view_draws_a_fan_and_a_block_buy_with_a_what_if(views) -> None:
    browser, admin, _ = views
    b = signed_in(browser, admin)
    r = b.get("/planner/system", params={"system": "SYS_A", "at_least": 5})
    assert r.status_code == 200, r.text
    assert 'id="system-fan"' in r.text and r.text.count("<polygon") == 3  # the 50/80/95% bands
    assert 'data-kind="baseline"' in r.text and 'data-kind="scenario"' not in r.text
    year = re.search(r'<option value="(\d{4})"', r.text[r.text.index('name="lor_year"') :])[1]
    what_if = {
        "system": "sys_a",
        "lor_partner": "p01",
        "lor_year": year,
        "lor_quantity": 500,
        "at_least": 400,
    }
    r = b.get("/planner/system", params=what_if)
    assert r.status_code == 200, r.text
    assert f"firm request from p01: 500 sys_a in {year}" in r.text
    assert re.search(r'id="scenario-p">(&gt;99%|100%)<', r.text)
    assert 'href="/planner/partner?partner=' in r.text  # the drill-down


def test_the_line_view_shows_the_scenario_beside_the_baseline(views) -> None:
    browser, admin, _ = views
    b = signed_in(browser, admin)
    base = b.get("/planner/line", params={"line": "patriot_mse"})
    assert base.status_code == 200 and 'id="line-fan"' in base.text and 'class="floor"' in base.text
    r = b.get("/planner/line", params={"line": "patriot_mse", "plan_scale": "0.5", "min_rate": "900"})
    assert r.status_code == 200, r.text
    assert "domestic plan x0.5" in r.text and 'class="compare"' in r.text and "scenario mean" in r.text


def test_the_question_form_answers_in_place(views) -> None:
    browser, admin, _ = views
    b = signed_in(browser, admin)
    form = b.get("/planner/question")
    assert form.status_code == 200 and 'id="answer"' not in form.text
    r = b.get("/planner/question", params={"target": "system:sys_a", "at_least": 1, "months": 18})
    assert r.status_code == 200, r.text
    p = float(re.search(r'id="probability">([\d.]+)<', r.text)[1])
    assert 0 <= p <= 1 and "system-share model" in r.text


def test_the_partner_view_drills_into_one_partner(views) -> None:
    browser, admin, _ = views
    r = signed_in(browser, admin).get("/planner/partner", params={"partner": "P02"})
    assert r.status_code == 200 and 'id="partner-fan"' in r.text and 'id="partner-families"' in r.text


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        ("/planner/system", {"system": "nope"}, "unknown system"),
        ("/planner/system", {"at_least": "many"}, "at_least"),
        ("/planner/system", {"horizon": ["1", "2"]}, "given 2 times"),
        ("/planner/system", {"lor_partner": "p01"}, "lor_quantity"),
        ("/planner/line", {"line": "nope"}, "unknown production line"),
        ("/planner/line", {"min_rate": "nan"}, "min_rate"),
        ("/planner/line", {"plan_scale": "-2"}, "plan_scale"),
        ("/planner/question", {"target": "bogus"}, "target"),
        ("/planner/question", {"target": "family:f00", "at_least": 1}, "months"),
        ("/planner/question", {"target": "family:f00", "at_least": 1, "months": 3, "from": "soon"}, "from"),
        ("/planner/partner", {"partner": "nobody"}, "nobody"),
    ],
)
def test_a_bad_view_query_is_a_400_naming_the_field(views, path, params, needle) -> None:
    browser, admin, _ = views
    r = signed_in(browser, admin).get(path, params=params)
    assert r.status_code == 400, r.text
    assert needle in r.text


def test_a_scoped_key_sees_its_partners_in_every_view(views) -> None:
    browser, _, scoped = views
    b = signed_in(browser, scoped)
    r = b.get("/planner/system", params={"system": "sys_a"})
    assert r.status_code == 200
    assert set(re.findall(r'data-partner="(p\d+)"', r.text)) <= {"p01", "p02"}
    for path, params in (
        ("/planner/system", {"partner": "p03"}),
        ("/planner/system", {"leaving": "p03"}),
        ("/planner/line", {"lor_partner": "p03", "lor_year": 2030, "lor_quantity": 1}),
        ("/planner/partner", {"partner": "p03"}),
        ("/planner/question", {"target": "family:f00", "at_least": 1, "months": 3, "partner": "p03"}),
    ):
        assert b.get(path, params=params).status_code == 403, (path, params)


def test_the_views_ask_for_a_key_when_signed_out(views) -> None:
    browser, _, _ = views
    browser.cookies.clear()
    for path in ("/planner/system", "/planner/line", "/planner/question", "/planner/partner"):
        r = browser.get(path)
        assert r.status_code == 200 and 'action="/planner/login"' in r.text and "<svg" not in r.text

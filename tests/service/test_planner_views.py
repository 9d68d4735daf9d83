"""The planner's system, line, question and partner views: signed in by cookie, scoped like the API."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from service import auth
from service.routes.planner_views import partner_view
from service.state import active_model


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


def _pct(v: float) -> str:
    """The page's pct macro, as the HTML writes it."""
    if 0 < v < 0.005:
        return "&lt;1%"
    if 0.995 <= v < 1:
        return "&gt;99%"
    return f"{v:.0%}"


def _table(page: str, table_id: str) -> list[tuple[str, list[str]]]:
    """(family, the text of each cell) per row of the table ``table_id``."""
    table = page[page.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    return [
        (
            family,
            [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)],
        )
        for family, row in re.findall(r'<tr data-family="([^"]+)">(.*?)</tr>', table, re.S)
    ]


def _supplier_cells(row: dict) -> list[str]:
    """What the partner page's supplier table shows for one row of POST /v1/supplier-outlook."""
    p, shares, history = row["p_next_us"], row["shares"], row["history"]
    change = row["change_per_decade"]["mean"] * 100
    if history["orders"] == 0:
        others = row["basis"]
    elif not row["competitors"]:
        others = "U.S. only"
    else:
        others = "; ".join(
            f"{c['supplier'].replace('_', ' ')} {c['orders']} ({_pct(c['share'])}), last {c['last_year']}"
            for c in row["competitors"]
        )
    return [
        _pct(p["mean"]),
        f"{_pct(p['intervals'][0]['lower'])}-{_pct(p['intervals'][0]['upper'])}",
        _pct(shares[0]["mean"]),
        *([_pct(shares[-1]["mean"])] if len(shares) > 1 else []),
        ("±0" if abs(change) < 0.05 else f"{change:+.1f}") + " pts",
        f"{history['orders']} / {history['us_orders']}",
        others,
    ]


@pytest.mark.parametrize("horizon", [1, 3])
def test_the_partner_view_shows_the_suppliers_the_api_gives(views, systems_client, horizon: int) -> None:
    api, _ = systems_client
    browser, admin, _ = views
    r = signed_in(browser, admin).get("/planner/partner", params={"partner": "p02", "horizon": horizon})
    assert r.status_code == 200, r.text
    names = {family: cells[0] for family, cells in _table(r.text, "partner-families")}
    shown = _table(r.text, "partner-suppliers")
    body = {"partners": ["p02"], "families": list(names), "horizon": horizon, "levels": [0.8], "top": 3}
    answer = api.post("/v1/supplier-outlook", json=body)
    assert answer.status_code == 200, answer.text
    rows = {row["family"]: row for row in answer.json()["rows"]}
    # a row per family, named as the page names it, those with orders first (most first), the rest as above
    assert [family for family, _ in shown] == sorted(names, key=lambda f: -rows[f]["history"]["orders"])
    assert any(rows[f]["history"]["orders"] for f in names)  # the simulated history orders something
    for family, cells in shown:
        assert cells == [names[family], *_supplier_cells(rows[family])], family
    history = next(iter(rows.values()))["history"]
    basis = re.search(r'id="partner-suppliers-basis">(.*?)</p>', r.text, re.S)[1]
    assert "SIPRI orders from every supplier" in basis
    assert f"{history['first_year']}-{history['last_year']}" in basis
    years = [s["year"] for s in next(iter(rows.values()))["shares"]]
    assert f"U.S. share {years[0]} (exp.)" in r.text and f"U.S. share {years[-1]} (exp.)" in r.text
    assert 'id="partner-suppliers-note"' not in r.text
    channel = answer.json()["channels"][0]["p_fms"][0]
    line = re.search(r'id="partner-channel">(.*?)</p>', r.text, re.S)[1]
    assert f"P(an order in {channel['year']} uses FMS, an LOR)\n{_pct(channel['mean'])}" in line


def test_the_partner_view_without_a_share_model_says_so(client: TestClient, keys) -> None:
    with TestClient(app=client.app) as browser:
        r = signed_in(browser, keys.admin).get("/planner/partner", params={"partner": "p01"})
    assert r.status_code == 200, r.text
    assert 'id="partner-families"' in r.text and 'id="partner-suppliers"' not in r.text
    note = re.search(r'id="partner-suppliers-note">(.*?)</p>', r.text, re.S)[1]
    assert "no U.S. share model" in note


def test_the_partner_view_with_a_failed_share_model_says_so(views, monkeypatch) -> None:
    browser, _, _ = views
    served = active_model(browser.app.state.services)
    monkeypatch.setattr(served.forecaster.us_shares, "status", "failed")
    admin = auth.Caller("k", "admin", "admin", None)
    page = partner_view(served, admin, {"partner": ["p01"]})
    assert 'id="partner-families"' in page and 'id="partner-suppliers"' not in page
    assert "failed its gates" in re.search(r'id="partner-suppliers-note">(.*?)</p>', page, re.S)[1]


def test_a_scoped_key_sees_the_suppliers_of_its_partners_alone(views) -> None:
    browser, _, scoped = views
    b = signed_in(browser, scoped)
    mine = b.get("/planner/partner", params={"partner": "p01"})
    assert mine.status_code == 200 and 'id="partner-suppliers"' in mine.text
    other = b.get("/planner/partner", params={"partner": "p03"})
    assert other.status_code == 403 and "partner-suppliers" not in other.text


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

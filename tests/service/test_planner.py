"""The planner's page: sign-in with a key, the same numbers as the API, the key's partner scope, and
clear 400s for a bad query."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest
from litestar.testing import TestClient

from service import auth
from service.charts import stacked_chart
from service.routes.planner import COOKIE
from tests.service.conftest import Keys, LiveServer, admin_token, bearer


class _Tables(HTMLParser):
    """Rows of every table with an id: the row's data-* attributes and its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[dict, list[str]]]] = {}
        self._table: str | None = None
        self._row: tuple[dict, list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table and any(k.startswith("data-") for k in a):
            self._row = ({k[5:]: v for k, v in a.items() if k.startswith("data-")}, [])
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[tuple[dict, list[str]]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def units(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def pct(v: float | None) -> str:
    if v is None:
        return "-"
    return "<1%" if 0 < v < 0.005 else ">99%" if 0.995 <= v < 1 else f"{v:.0%}"


@pytest.fixture(scope="module")
def browser(app_and_keys) -> Iterator[TestClient]:
    """A browser: no bearer header, a cookie jar (emptied before each test)."""
    app, _ = app_and_keys
    with TestClient(app=app) as c:
        yield c


@pytest.fixture
def fresh(browser: TestClient) -> TestClient:
    browser.cookies.clear()
    return browser


def sign_in(browser: TestClient, token: str) -> None:
    r = browser.post("/planner/login", data={"key": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/planner"


def test_the_page_asks_for_a_key_and_keeps_it_in_a_strict_cookie(fresh: TestClient, keys: Keys) -> None:
    r = fresh.get("/", follow_redirects=False)
    assert r.status_code in (301, 302, 307) and r.headers["location"] == "/planner"
    r = fresh.get("/planner")
    assert r.status_code == 200 and 'action="/planner/login"' in r.text and 'id="total-demand"' not in r.text

    r = fresh.post("/planner/login", data={"key": "td_not-a-key"}, follow_redirects=False)
    assert r.status_code == 401 and "unknown or revoked" in r.text
    assert COOKIE not in fresh.cookies

    r = fresh.post("/planner/login", data={"key": keys.reader}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/planner" in cookie
    r = fresh.get("/planner")
    assert r.status_code == 200 and 'id="total-demand"' in r.text and "reader" in r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "private, no-store"  # a cookie-authorised page stays private

    r = fresh.post("/planner/logout", follow_redirects=False)
    assert r.status_code == 303
    assert fresh.get("/planner").text.count('id="total-demand"') == 0


@pytest.mark.parametrize(
    ("headers", "form", "status"),
    [
        ({"sec-fetch-site": "cross-site"}, ["key"], 403),
        ({"origin": "https://elsewhere.example"}, ["key"], 403),
        ({"origin": "http://testserver.local"}, ["key"], 303),  # from this site: signed in
        ({}, ["key", "key"], 400),
        ({}, [], 400),
    ],
)
def test_a_sign_in_from_another_site_or_without_one_key_is_refused(
    fresh: TestClient, keys: Keys, headers: dict, form: list[str], status: int
) -> None:
    body = "&".join(f"{name}={keys.reader}" for name in form)
    headers = {**headers, "content-type": "application/x-www-form-urlencoded"}
    r = fresh.post("/planner/login", content=body, headers=headers, follow_redirects=False)
    assert r.status_code == status
    if status != 303:
        assert "text/html" in r.headers["content-type"]
        assert "set-cookie" not in r.headers and COOKIE not in fresh.cookies


def test_each_key_sees_its_own_name_on_a_page_cached_per_key(fresh: TestClient, keys: Keys) -> None:
    for token, name in ((keys.reader, "reader"), (keys.admin, "admin"), (keys.reader, "reader")):
        sign_in(fresh, token)
        assert f"{name} ({name})" in fresh.get("/planner", params={"horizon": 1}).text


def test_a_revoked_key_is_signed_out(fresh: TestClient, app_and_keys) -> None:
    app, _ = app_and_keys
    services = app.state.services
    issued = auth.create_key(services.engine, "<script>short-lived</script>", "reader")
    sign_in(fresh, issued.token)
    html = fresh.get("/planner").text
    assert 'id="total-demand"' in html
    assert "&lt;script&gt;short-lived" in html and "<script>" not in html  # names are escaped
    auth.revoke_key(services.engine, issued.caller.key_id)
    services.keys.forget()
    r = fresh.get("/planner")
    assert r.status_code == 200 and 'action="/planner/login"' in r.text and 'id="total-demand"' not in r.text


def test_the_page_shows_the_apis_numbers(fresh: TestClient, keys: Keys) -> None:
    sign_in(fresh, keys.reader)
    families = ["f01", "f02"]
    r = fresh.get("/planner", params={"horizon": 2, "level": 0.9, "family": families})
    assert r.status_code == 200, r.text
    page = tables(r.text)
    api = fresh.post(
        "/v1/forecasts",
        json={"horizon": 2, "levels": [0.9], "families": families},
        headers=bearer(keys.reader),
    ).json()

    shown = {(a["family"], int(a["year"])): cells for a, cells in page["total-demand"]}
    assert len(shown) == len(api["total_demand"]) == 4
    for row in api["total_demand"]:
        cells = shown[(row["family"], row["year"])]
        (interval,) = row["intervals"]
        assert cells[2:8] == [
            units(row["domestic"]),
            units(row["firm"]),
            units(row["pending_expected"]),
            units(row["new_lors_expected"]),
            units(row["mean"]),
            f"{units(interval['lower'])}-{units(interval['upper'])}",
        ]
        assert cells[8:] == [
            units(row["min_sustaining_rate"]),
            units(row["max_rate"]),
            pct(row["p_below_min"]),
            pct(row["p_above_max"]),
        ]

    years = {int(a["year"]): cells for a, cells in page["years"]}
    for row in api["year_totals"]:
        assert years[row["year"]][1] == f"{row['mean']:.1f}"

    # The most likely askers: the cells with the highest P(at least one LOR within the horizon), in order.
    within = sorted(
        {(c["partner"], c["family"]): c["p_any_within_horizon"] for c in api["cells"]}.items(),
        key=lambda kv: -kv[1],
    )
    likely = page["likely"]
    assert likely and all(a["family"] in families for a, _ in likely)
    assert [pct(p) for _, p in within[: len(likely)]] == [cells[3] for _, cells in likely]
    assert len(re.findall("<svg", r.text)) == len(families)


def test_the_table_downloads_as_csv_unrounded(fresh: TestClient, keys: Keys) -> None:
    sign_in(fresh, keys.reader)
    query = {"horizon": 2, "level": 0.5, "family": ["f02"]}
    html = fresh.get("/planner", params=query).text
    link = re.search(r'href="(/planner/total-demand\.csv\?[^"]+)"', html).group(1).replace("&amp;", "&")
    r = fresh.get(link)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    api = fresh.post(
        "/v1/forecasts",
        json={"horizon": 2, "levels": [0.5], "families": ["f02"]},
        headers=bearer(keys.reader),
    ).json()["total_demand"]
    assert [(row["family"], int(row["year"])) for row in rows] == [(a["family"], a["year"]) for a in api]
    for row, a in zip(rows, api, strict=True):
        assert float(row["level"]) == 0.5
        assert float(row["mean"]) == pytest.approx(a["mean"])
        assert float(row["upper"]) == pytest.approx(a["intervals"][0]["upper"])
        assert float(row["p_below_min"]) == pytest.approx(a["p_below_min"])
        assert row["domestic_basis"] == a["domestic_basis"] in ("budget", "carried", "none")
    assert 'id="plan-basis"' in html  # the page states how a plan past the budget is carried
    fresh.cookies.clear()
    r = fresh.get(link)  # signed out: 401, with the sign-in form
    assert r.status_code == 401 and 'action="/planner/login"' in r.text


def test_a_scoped_key_sees_its_partners_alone(fresh: TestClient, keys: Keys) -> None:
    sign_in(fresh, keys.scoped)
    r = fresh.get("/planner", params={"horizon": 3})
    assert r.status_code == 200
    page = tables(r.text)
    assert {a["partner"] for a, _ in page["likely"]} <= {"p01", "p02"}
    assert "p01, p02" in r.text  # the key's scope is stated
    api = fresh.post(
        "/v1/forecasts", json={"horizon": 3, "levels": [0.8]}, headers=bearer(keys.scoped)
    ).json()
    shown = {(a["family"], int(a["year"])): cells[6] for a, cells in page["total-demand"]}
    assert shown == {(row["family"], row["year"]): units(row["mean"]) for row in api["total_demand"]}
    years = {int(a["year"]): cells[1] for a, cells in page["years"]}
    assert years == {row["year"]: f"{row['mean']:.1f}" for row in api["year_totals"]}
    first = min(years)
    block = fresh.post(
        "/v1/block-buys",
        json={"first_year": first, "last_year": first + 2, "levels": [0.8]},
        headers=bearer(keys.scoped),
    ).json()
    assert block["partners"] == ["p01", "p02"]
    cumulative = {a["family"]: cells[1] for a, cells in page["cumulative"]}
    assert cumulative == {row["family"]: f"{row['mean']:.1f}" for row in block["rows"]}


def test_regions_and_partners_narrow_the_totals(fresh: TestClient, keys: Keys) -> None:
    sign_in(fresh, keys.reader)
    partners = fresh.get("/v1/partners", headers=bearer(keys.reader)).json()
    region = partners[0]["region"]
    in_region = {p["id"] for p in partners if p["region"] == region}
    for query, body in (
        ({"region": region}, {"regions": [region]}),
        ({"partner": ["p03", "p04"]}, {"partners": ["p03", "p04"]}),
    ):
        r = fresh.get("/planner", params={"horizon": 2, **query})
        assert r.status_code == 200, r.text
        page = tables(r.text)
        api = fresh.post(
            "/v1/forecasts", json={"horizon": 2, "levels": [0.8], **body}, headers=bearer(keys.reader)
        ).json()
        shown = {(a["family"], int(a["year"])): cells[6] for a, cells in page["total-demand"]}
        assert shown == {(row["family"], row["year"]): units(row["mean"]) for row in api["total_demand"]}
        allowed = in_region if "region" in query else set(query["partner"])
        assert {a["partner"] for a, _ in page["likely"]} <= allowed


def test_the_cumulative_table_is_the_apis_block_buy(fresh: TestClient, keys: Keys) -> None:
    sign_in(fresh, keys.reader)
    query = {"horizon": 3, "level": 0.9, "family": ["f01", "f03"], "partner": ["p02", "p05", "p07"]}
    page = tables(fresh.get("/planner", params=query).text)
    first = min(int(a["year"]) for a, _ in page["years"])
    api = fresh.post(
        "/v1/block-buys",
        json={
            "partners": query["partner"],
            "families": query["family"],
            "first_year": first,
            "last_year": first + 2,
            "levels": [0.9],
        },
        headers=bearer(keys.reader),
    ).json()
    shown = {a["family"]: cells for a, cells in page["cumulative"]}
    assert set(shown) == {"f01", "f03", "all"} == {row["family"] for row in api["rows"]}
    for row in api["rows"]:
        (interval,) = row["intervals"]
        (u_interval,) = row["units"]["intervals"]
        assert shown[row["family"]][1:] == [
            f"{row['mean']:.1f}",
            f"{interval['lower']:.0f}-{interval['upper']:.0f}",
            pct(row["p_any"]),
            units(row["units"]["mean"]),
            f"{units(u_interval['lower'])}-{units(u_interval['upper'])}",
        ]


def test_a_scoped_key_cannot_pick_another_partner(fresh: TestClient, keys: Keys) -> None:
    sign_in(fresh, keys.scoped)
    r = fresh.get("/planner", params={"partner": "p03"})
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert "p03" in r.text
    assert 'value="p03"' not in fresh.get("/planner").text  # nor is it offered


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"horizon": "0"}, "horizon"),
        ({"horizon": "soon"}, "horizon"),
        ({"horizon": ["1", "2"]}, "horizon"),
        ({"level": "0.7"}, "level"),
        ({"level": "high"}, "level"),
        ({"family": "no-such-family"}, "family"),
        ({"region": "Atlantis"}, "region"),
        ({"partner": "no-such-partner"}, "partner"),
    ],
)
def test_a_bad_query_is_a_400_that_names_the_field(
    fresh: TestClient, keys: Keys, query: dict, field: str
) -> None:
    sign_in(fresh, keys.reader)
    r = fresh.get("/planner", params=query)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert re.search(rf'class="bad">{field}: ', r.text), r.text


@pytest.mark.integration  # a real server and browser
def test_a_browser_signs_in_and_reads_the_page_from_a_real_server(
    sim_world, fitted_path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = LiveServer(tmp_path_factory.mktemp("planner-home"), sim_world, fitted_path).start()
    try:
        token = admin_token(server)
        with httpx.Client(base_url=server.url, follow_redirects=True, timeout=60) as browser:
            assert 'action="/planner/login"' in browser.get("/").text  # / leads to the sign-in form
            r = browser.post("/planner/login", data={"key": token})
            assert r.status_code == 200 and 'id="total-demand"' in r.text, r.text[-2000:]
            assert str(r.url).endswith("/planner") and browser.cookies.get(COOKIE) == token
            r = browser.get("/planner/total-demand.csv", params={"horizon": 2})
            assert r.status_code == 200 and r.text.startswith("family,name,year,level,")
            browser.post("/planner/logout")
            assert 'id="total-demand"' not in browser.get("/planner").text
    finally:
        server.stop()


def test_the_page_is_not_part_of_the_api_description(fresh: TestClient) -> None:
    paths = fresh.get("/schema/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/planner")]


def _row(year: int, mean: float, upper: float, floor: float | None) -> dict:
    return {
        "year": year,
        "domestic": mean / 2,
        "firm": 0.0,
        "pending_expected": None,
        "new_lors_expected": mean / 2,
        "mean": mean,
        "lower": mean / 2,
        "upper": upper,
        "min_sustaining_rate": floor,
        "max_rate": None,
    }


def test_the_chart_draws_the_floor_where_a_line_has_one() -> None:
    svg = stacked_chart([_row(2022, 100.0, 180.0, 120.0), _row(2023, 110.0, 230.0, 120.0)])
    assert svg.count('class="floor"') == 2 and svg.count('class="whisker"') == 2
    ticks = [float(t.replace(",", "")) for t in re.findall(r'text-anchor="end">([\d,]+)<', svg)]
    assert ticks[0] == 0 and ticks[-1] >= 230 and ticks[-1] < 2 * 230  # the interval is in view
    # the floor sits at its value on the axis, whose ticks are evenly spaced from 0 at the bottom
    grid = [float(v) for v in re.findall(r'y1="([\d.]+)" y2="[\d.]+" class="grid"', svg)]
    floor_y = float(re.search(r'y1="([\d.]+)" y2="[\d.]+" class="floor"', svg).group(1))
    assert floor_y == pytest.approx(grid[0] + (grid[-1] - grid[0]) * 120.0 / ticks[-1], abs=0.15)
    assert 'class="floor"' not in stacked_chart([_row(2022, 100.0, 180.0, None)])


def _top_and_heights(svg: str) -> tuple[float, float, list[tuple[float, float]]]:
    """The plot's top and bottom (y of the highest and the 0 tick) and each bar part's (y, height)."""
    grid = [float(v) for v in re.findall(r'y1="([\d.]+)" y2="[\d.]+" class="grid"', svg)]
    parts = [
        (float(y), float(h))
        for y, h in re.findall(r'<rect x="[\d.]+" y="([\d.-]+)" width="[\d.]+" height="([\d.-]+)"', svg)
    ]
    return grid[-1], grid[0], parts


def test_the_chart_keeps_empty_and_skewed_years_in_view() -> None:
    # nothing at all: still an axis
    empty = stacked_chart([_row(2022, 0.0, 0.0, None), _row(2023, 0.0, 0.0, None)])
    ticks = re.findall(r'text-anchor="end">([\d,]+)<', empty)
    assert ticks == ["0", "1"]
    small = stacked_chart([_row(2022, 1.0, 3.0, None)])
    labels = re.findall(r'text-anchor="end">([\d,]+)<', small)
    assert len(labels) == len(set(labels))  # whole-unit ticks: no label repeats
    # a skewed total whose mean is above its interval's upper end: the stacked bar stays inside the plot
    top, bottom, parts = _top_and_heights(stacked_chart([_row(2022, 500.0, 300.0, 100.0)]))
    assert parts and min(y for y, _ in parts) >= top - 0.1
    assert max(y + h for y, h in parts) == pytest.approx(bottom, abs=0.2)

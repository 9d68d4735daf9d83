"""The planner's page: total demand per family and year with its line risk, the partners most likely to
ask, and the yearly totals, rendered on the server from the same forecast the API gives.

A browser cannot send a bearer header, so the page signs in once with an API key and keeps it in an
HttpOnly, SameSite=Strict cookie scoped to ``/planner``; the key's role and partner scope apply exactly as
on the API (a key limited to some partners sees their cells and totals over them alone). The page is
read-only, so the cookie can authorise nothing but reading forecasts. It is left out of the OpenAPI
description: it is not part of the API."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import numpy as np
import xarray as xr
from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import Request, get, post
from litestar.datastructures import Cookie, State
from litestar.exceptions import ServiceUnavailableException
from litestar.response import Redirect, Response

from bayes.forecast import Forecast, ForecastError
from bayes.scenario import ScenarioError
from service import auth, scope
from service.charts import PARTS, stacked_chart
from service.guards import caller_of
from service.openapi import resource_router
from service.response_cache import cached_response
from service.scope import ScopeError, Selection
from service.state import Served, active_model, services_of
from totaldemand.errors import UserError

COOKIE = "td_planner_key"
PATH = "/planner"
LEVELS = (0.5, 0.8, 0.9, 0.95)
TOP_CELLS = 25  # partner x family rows in "most likely to ask"
MAX_CHARTS = 12
HTML, CSV = "text/html", "text/csv"  # Litestar adds the charset
# The page is authorised by a cookie, which shared caches do not treat as private the way they treat an
# Authorization header: every answer says so, and may not be framed by another site.
PRIVATE = {"cache-control": "private, no-store", "x-frame-options": "DENY"}

_env = Environment(loader=PackageLoader("service", "templates"), autoescape=select_autoescape(["html"]))


class PageError(UserError):
    """A query the page cannot answer; the message names the field and the reason."""


@dataclass(frozen=True)
class Query:
    horizon: int
    level: float
    families: tuple[str, ...] = ()  # each filter: empty means all
    regions: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()

    def url_query(self) -> str:
        """This query as a query string (``parse_query`` reads it back)."""
        params: list[tuple[str, object]] = [("horizon", self.horizon), ("level", self.level)]
        for name, values in (("family", self.families), ("region", self.regions), ("partner", self.partners)):
            params += [(name, v) for v in values]
        return urlencode(params)


def parse_query(params: dict[str, list[str]], max_horizon: int) -> Query:
    """The page's query string, checked field by field (the page shows the message, with a 400)."""

    def one(name: str, default: str) -> str:
        values = params.get(name) or [default]
        if len(values) > 1:
            raise PageError(f"{name}: given {len(values)} times; give it once")
        return values[0].strip()

    raw = one("horizon", "3")
    try:
        horizon = int(raw)
    except ValueError:
        raise PageError(f"horizon: {raw!r} is not a whole number of years") from None
    if not 1 <= horizon <= max_horizon:
        raise PageError(f"horizon: {horizon} is outside 1..{max_horizon}")
    raw = one("level", "0.8")
    try:
        level = float(raw)
    except ValueError:
        raise PageError(f"level: {raw!r} is not a number") from None
    if level not in LEVELS:
        raise PageError(f"level: {raw} is not one of {list(LEVELS)}")

    def many(name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.strip() for v in params.get(name, []) if v.strip()))

    return Query(horizon, level, many("family"), many("region"), many("partner"))


# ---- what the page shows, as plain rows ---------------------------------------------------------


_TOTAL_DEMAND = (
    "domestic",
    "firm",
    "pending_expected",
    "new_lors_expected",
    "mean",
    "lower",
    "upper",
    "min_sustaining_rate",
    "max_rate",
    "p_below_min",
    "p_above_max",
)


def _rows(ds: xr.Dataset, dims: tuple[str, ...], variables: Sequence[str]) -> list[dict]:
    """One dict per element over ``dims`` (the page asks for one credible level); NaN (no line
    capacity on record, say) becomes None."""
    ds = ds.isel(level=0) if "level" in ds.dims else ds
    values = {v: ds[v].transpose(*dims).values.ravel().astype(float) for v in variables}
    labels = [ds[d].values for d in dims]
    rows = []
    for flat, idx in enumerate(np.ndindex(*(len(lab) for lab in labels))):
        row: dict = {d: lab[i].item() for d, lab, i in zip(dims, labels, idx, strict=True)}
        row |= {v: None if math.isnan(x[flat]) else float(x[flat]) for v, x in values.items()}
        rows.append(row)
    return rows


def total_rows(fc: Forecast, names: dict[str, str]) -> list[dict]:
    """Per family and year: the parts of total demand (units) with the domestic part's basis, its
    interval and the line risk."""
    td = fc.total_demand
    rows = _rows(td, ("family", "year"), _TOTAL_DEMAND)
    basis = td["domestic_basis"].transpose("family", "year").values.ravel()
    return [
        r | {"name": names.get(r["family"], r["family"]), "domestic_basis": str(b)}
        for r, b in zip(rows, basis, strict=True)
    ]


def year_rows(fc: Forecast) -> list[dict]:
    return _rows(fc.year_totals, ("year",), ("mean", "lower", "upper", "units_mean"))


def likely_cells(fc: Forecast, names: dict[str, str], top: int = TOP_CELLS) -> list[dict]:
    """The partner x family cells most likely to see at least one LOR within the horizon."""
    cells = fc.cells
    p_within = cells["p_any_within_horizon"].transpose("partner", "family").values
    expected = cells["mean"].sum("year").transpose("partner", "family").values
    units = cells["units_mean"].sum("year").transpose("partner", "family").values
    order = np.lexsort((-expected.ravel(), -p_within.ravel()))[:top]
    partners, families = cells["partner"].values, cells["family"].values
    regions = cells["partner_region"].values
    n_f = len(families)
    return [
        {
            "partner": str(partners[k // n_f]),
            "partner_name": names.get(str(partners[k // n_f]), str(partners[k // n_f])),
            "region": str(regions[k // n_f]),
            "family": str(families[k % n_f]),
            "p_within": float(p_within.ravel()[k]),
            "expected": float(expected.ravel()[k]),
            "units": float(units.ravel()[k]),
        }
        for k in order
    ]


def html(template: str, **context) -> str:
    return _env.get_template(template).render(path=PATH, **context)


def render(template: str, status_code: int = 200, **context) -> Response:
    return Response(html(template, **context), status_code=status_code, media_type=HTML, headers=PRIVATE)


def names_of(served: Served, dim: str) -> dict[str, str]:
    c = served.model.coords
    return dict(zip(map(str, c[dim].values), map(str, c[f"{dim}_name"].values), strict=True))


def _forecast(served: Served, query: Query, chosen: Selection) -> Forecast:
    return served.forecaster.forecast(query.horizon, (query.level,), chosen.partners, chosen.families)


def _page_names(message: str) -> str:
    """A forecaster message in the page's parameter names (``family=...``, not the API's ``families``)."""
    for api, param in (("families", "family"), ("regions", "region"), ("partners", "partner")):
        if message.startswith(f"{api}:"):
            return param + message[len(api) :]
    return message


_CUMULATIVE = ("mean", "lower", "upper", "p_any", "units_mean", "units_lower", "units_upper")


def cumulative_rows(served: Served, query: Query, chosen: Selection, first_year: int) -> list[dict]:
    """New LORs and units summed over the horizon's years and the counted partners, draw by draw, per
    family and for all of them together (the API's block buy over the same window)."""
    ds = served.forecaster.block_buy(
        chosen.partners, chosen.families, first_year, first_year + query.horizon - 1, (query.level,)
    )
    return _rows(ds, ("family",), _CUMULATIVE)


CSV_COLUMNS = ("family", "name", "year", "level", *_TOTAL_DEMAND, "domestic_basis")


def total_demand_csv(served: Served, query: Query, chosen: Selection) -> str:
    """The page's total-demand table unrounded, one row per family and year, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in total_rows(_forecast(served, query, chosen), names_of(served, "family")):
        writer.writerow({**row, "level": query.level})
    return out.getvalue()


def page(served: Served, caller: auth.Caller, query: Query, chosen: Selection) -> str:
    """The whole page for one query, as HTML."""
    fc = _forecast(served, query, chosen)
    f = served.forecaster
    first_year = int(f.years[0])
    names, partner_names = names_of(served, "family"), names_of(served, "partner")
    region_of = dict(zip(map(str, f.partners), map(str, f.partner_region), strict=True))
    visible = [  # the partners this key may choose from, with their region
        (p, partner_names[p], region_of[p]) for p in scope.visible_partners(caller, f)
    ]
    totals = total_rows(fc, names)
    by_family: dict[str, list[dict]] = {}
    for r in totals:
        by_family.setdefault(r["family"], []).append(r)
    at_risk = sorted(by_family, key=lambda f: -max(r["p_below_min"] or 0.0 for r in by_family[f]))
    charts = [(f, names.get(f, f), stacked_chart(by_family[f])) for f in at_risk[:MAX_CHARTS]]
    return html(
        "planner.html",
        model=served.record,
        first_year=first_year,
        caller=caller,
        scope=None if caller.partners is None else sorted(caller.partners),
        query=query,
        query_string=query.url_query(),
        levels=LEVELS,
        max_horizon=f.max_horizon,
        all_families=list(names.items()),
        all_regions=sorted({region for _, _, region in visible}),
        all_partners=[(p, name) for p, name, _ in visible],
        totals=totals,
        plan_sigma=f.plan_sigma,
        charts=charts,
        parts=PARTS,
        likely=likely_cells(fc, partner_names),
        family_names=names,
        years=year_rows(fc),
        cumulative=cumulative_rows(served, query, chosen, first_year),
    )


# ---- handlers ---------------------------------------------------------------------------------


async def _caller(request: Request) -> auth.Caller | None:
    token = request.cookies.get(COOKIE, "")
    return await caller_of(request, token) if token else None


@get("/", include_in_schema=False, sync_to_thread=False)
def home() -> Redirect:
    return Redirect(PATH)


async def respond(
    request: Request,
    kind: str,
    build: Callable[[Served, auth.Caller, dict[str, list[str]]], str],
    media_type: str = HTML,
    signed_out: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """``build(served, caller, query parameters)``, cached per key and query; the sign-in form (with
    status ``signed_out``) without a valid key; a page naming the field for a bad query (400) or a
    partner beyond the key's scope (403)."""
    caller = await _caller(request)
    if caller is None:
        return render("login.html", signed_out, message=None)
    try:
        served = active_model(services_of(request.app.state))
        params = {k: request.query_params.getall(k) for k in request.query_params}
        # the page names its key, so it is cached per key
        key = (kind, tuple(sorted((k, tuple(v)) for k, v in params.items())), caller.key_id)
        return await cached_response(
            request,
            served.cache,
            key,
            lambda: build(served, caller, params).encode(),
            media_type,
            {**PRIVATE, **(headers or {})},
        )
    except ServiceUnavailableException as exc:
        return render("message.html", 503, title="No model yet", message=str(exc.detail))
    except (PageError, ForecastError, ScenarioError) as exc:
        return render("message.html", 400, title="Cannot show that", message=_page_names(str(exc)))
    except ScopeError as exc:
        return render("message.html", 403, title="Not for this key", message=_page_names(str(exc)))


def _overview(build: Callable[[Served, auth.Caller, Query, Selection], str]):
    """A build over the overview's query (horizon, level, families, regions, partners)."""

    def run(served: Served, caller: auth.Caller, params: dict[str, list[str]]) -> str:
        query = parse_query(params, served.forecaster.max_horizon)
        chosen = scope.select(
            caller,
            served.forecaster,
            list(query.partners) or None,
            list(query.families) or None,
            list(query.regions) or None,
        )
        return build(served, caller, query, chosen)

    return run


@get(PATH, include_in_schema=False)
async def planner(request: Request) -> Response:
    """The page for the signed-in key; the sign-in form when there is none (or it was revoked)."""
    return await respond(request, "planner", _overview(page))


@get(f"{PATH}/total-demand.csv", include_in_schema=False)
async def planner_csv(request: Request) -> Response:
    """The page's total-demand table as CSV, unrounded; 401 (with the sign-in form) when signed out."""
    return await respond(
        request,
        "planner-csv",
        _overview(lambda served, _, query, chosen: total_demand_csv(served, query, chosen)),
        CSV,
        401,
        {"content-disposition": 'attachment; filename="total-demand.csv"'},
    )


def _cross_site(request: Request) -> bool:
    """A form posted from another site (so that site cannot sign a planner in with its own key)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:  # what current browsers send: their own verdict
        return fetch_site == "cross-site"
    origin = request.headers.get("origin")  # older ones: compare the origin with the host asked for
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return origin is not None and urlsplit(origin).netloc != host


def _refused() -> Response:
    return render(
        "message.html", 403, title="Refused", message="sign-in and sign-out come from this site only"
    )


@post(f"{PATH}/login", include_in_schema=False, status_code=303)
async def login(state: State, request: Request) -> Response:
    if _cross_site(request):
        return _refused()
    keys = (await request.form()).getall("key", [])
    if len(keys) != 1:
        return render("login.html", 400, message=f"key: expected one API key in the form, got {len(keys)}")
    token = str(keys[0]).strip()
    caller = await caller_of(request, token) if token else None
    if caller is None:
        return render("login.html", 401, message="key: unknown or revoked API key")
    # Behind a proxy that ends TLS the app sees http; the proxy's header says what the browser used.
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"
    cookie = Cookie(key=COOKIE, value=token, path=PATH, httponly=True, samesite="strict", secure=secure)
    return Redirect(PATH, status_code=303, cookies=[cookie], headers=PRIVATE)


@post(f"{PATH}/logout", include_in_schema=False, status_code=303)
async def logout(request: Request) -> Response:
    if _cross_site(request):
        return _refused()
    return Redirect(
        PATH, status_code=303, cookies=[Cookie(key=COOKIE, value="", path=PATH, max_age=0, expires=0)]
    )


router = resource_router("/", [home, planner, planner_csv, login, logout])

"""The planner's views beyond the overview: a named system, a production line, the planner's question
and one partner, each with fan charts, and scenario toggles on the system and line views.

Every view reads the same forecaster methods the API does (``system_forecast``, ``system_block_buy``,
``line_risk``, ``question``, ``forecast``, ``supplier_outlook``), through the key's scope: a scoped key
names only its partners, in the view's filters and in every toggle alike. Toggles are plain GET
parameters, so a scenario is a link a planner can share; the baseline and the scenario come from the same
draws.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import msgspec
import numpy as np
from litestar import Request, get
from litestar.response import Response

from bayes.forecast import LINE_SOURCES, Forecaster, ForecastError
from bayes.scenario import Scenario
from service import auth, scope
from service.bodies import WhatIf
from service.charts import fan_chart
from service.openapi import resource_router
from service.routes.forecasts import line_risk_body
from service.routes.planner import LEVELS, PATH, PageError, html, names_of, respond
from service.routes.scenarios import BUY_SOURCES, buy_body, to_scenario
from service.state import Served

FAN_LEVELS = (0.5, 0.8, 0.95)
PLAN_CUTS = (1.0, 0.9, 0.7, 0.5, 0.0)  # the toggle's choices: the plan times this
TOP_PARTNERS = 25
SUPPLIER_LEVEL = 0.8  # the partner page's supplier intervals
TOP_SUPPLIERS = 3  # competitors named per family

Params = dict[str, list[str]]


# ---- query parameters, each checked by name -----------------------------------------------------


def _one(params: Params, name: str) -> str | None:
    values = [v.strip() for v in params.get(name, []) if v.strip()]
    if len(values) > 1:
        raise PageError(f"{name}: given {len(values)} times; give it once")
    return values[0] if values else None


def _number(params: Params, name: str, lo: float, hi: float, whole: bool = True) -> float | None:
    raw = _one(params, name)
    if raw is None:
        return None
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise PageError(f"{name}: {raw!r} is not {kind}") from None
    if not (lo <= value <= hi):  # also refuses nan
        raise PageError(f"{name}: {raw} is outside {lo:g}..{hi:g}")
    return value


def _many(params: Params, name: str) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in params.get(name, []) if v.strip()))


def _level(params: Params) -> float:
    level = _number(params, "level", 0, 1, whole=False)
    if level is not None and level not in LEVELS:
        raise PageError(f"level: {level:g} is not one of {list(LEVELS)}")
    return level if level is not None else 0.8


def _horizon(params: Params, f: Forecaster) -> int:
    return int(_number(params, "horizon", 1, f.max_horizon) or min(3, f.max_horizon))


def what_if(params: Params, f: Forecaster, caller: auth.Caller, system: str | None) -> Scenario:
    """The scenario toggles: ``plan_scale``, ``plan_from``, ``min_rate``, ``max_rate``, ``leaving``
    (repeatable) and one hypothetical request (``lor_partner``, ``lor_year``, ``lor_quantity``,
    ``lor_status``; its system is the view's)."""
    spec: dict = {"leaving": _many(params, "leaving")}
    partner = _one(params, "lor_partner")
    if named := [*spec["leaving"], *([partner] if partner else [])]:
        scope.select(caller, f, named)  # beyond the key's scope: 403 before anything else is said
    for name, lo, hi in (("plan_scale", 0, 10), ("min_rate", 0, 1e9), ("max_rate", 0, 1e9)):
        value = _number(params, name, lo, hi, whole=False)
        if value is not None:
            spec[name] = value
    if (plan_from := _number(params, "plan_from", 1900, 2100)) is not None:
        spec["plan_from"] = plan_from
    if partner is not None:
        if system is None:
            raise PageError("lor_partner: no named system of this model is built here to request")
        quantity = _number(params, "lor_quantity", 1, 1e9, whole=False)
        year = _number(params, "lor_year", 1900, 2100)
        if quantity is None or year is None:
            raise PageError("lor_quantity and lor_year: a hypothetical request needs both")
        status = _one(params, "lor_status") or "firm"
        spec["lors"] = [
            {"partner": partner, "system": system or "", "year": year, "quantity": quantity, "status": status}
        ]
    try:
        checked = msgspec.convert(spec, WhatIf)
    except msgspec.ValidationError as exc:
        raise PageError(f"scenario: {exc}") from None
    return to_scenario(caller, f, checked)


# ---- shared pieces ---------------------------------------------------------------------------------


def _bands(ds, prefix: str = "") -> list[tuple[float, list[float], list[float]]]:
    return [
        (
            float(lv),
            ds[f"{prefix}lower"].sel(level=lv).values.tolist(),
            ds[f"{prefix}upper"].sel(level=lv).values.tolist(),
        )
        for lv in ds["level"].values
    ]


def _context(served: Served, caller: auth.Caller, **rest) -> dict:
    f = served.forecaster
    names = names_of(served, "partner")
    return {
        "model": served.record,
        "caller": caller,
        "scope": None if caller.partners is None else sorted(caller.partners),
        "first_year": int(f.years[0]),
        "years": list(map(int, f.years)),
        "levels": LEVELS,
        "max_horizon": f.max_horizon,
        "all_partners": [(p, names.get(p, p)) for p in scope.visible_partners(caller, f)],
        "partner_names": names,
        "plan_cuts": PLAN_CUTS,
        **rest,
    }


def _systems(f: Forecaster) -> list[tuple[str, str, str]]:
    """(id, name, family) of every named system the model answers about."""
    if f.shares is None:
        return []
    out = []
    for family in f.families:
        for system in f.shares.systems(str(family))[1:]:
            entry = f.catalogue.get(system)
            out.append((system, entry.name if entry else system, str(family)))
    return sorted(out, key=lambda x: x[1].casefold())


def _chosen(caller: auth.Caller, f: Forecaster, params: Params, families: Sequence[str] | None = None):
    return scope.select(
        caller,
        f,
        _many(params, "partner") or None,
        list(families) if families else None,
        _many(params, "region") or None,
    )


# ---- the system view --------------------------------------------------------------------------------


def system_view(served: Served, caller: auth.Caller, params: Params) -> str:
    f = served.forecaster
    systems = _systems(f)
    if not systems:
        raise PageError("system: this model file has no system-share model; refit it to see named systems")
    ids = {s for s, _, _ in systems}
    asked = (_one(params, "system") or ("himars" if "himars" in ids else systems[0][0])).lower()
    if asked not in ids:
        raise PageError(f"system: unknown system {asked!r}; choose one from the list")
    family = f.family_of_system(asked)
    horizon, level = _horizon(params, f), _level(params)
    at_least = _number(params, "at_least", 1, 1e9)
    chosen = _chosen(caller, f, params, [family])
    first = int(f.years[0])
    last = first + horizon - 1
    fc = f.system_forecast(family, horizon, FAN_LEVELS, chosen.partners).sel(system=asked)
    fan = fan_chart(
        list(map(int, fc["year"].values)), _bands(fc, "units_"), fc["units_median"].values.tolist()
    )
    scenario = what_if(params, f, caller, asked)
    buy = f.system_block_buy([asked], chosen.partners, None, first, last, (level,), at_least)
    changed = None
    if not scenario.empty:
        changed = f.system_block_buy(
            [asked], chosen.partners, None, first, last, (level,), at_least, scenario
        )
    counts, units = f.split(family).dense(asked)
    pi = f.select_partners(list(chosen.partners))
    window_units = units[pi, :horizon].sum(axis=1)  # (P', S)
    p_any = (counts[pi, :horizon].sum(axis=1) > 0).mean(axis=-1)
    expected = window_units.mean(axis=-1)
    order = np.lexsort((-p_any, -expected))[:TOP_PARTNERS]
    drill = [
        {"partner": chosen.partners[k], "p_any": float(p_any[k]), "units": float(expected[k])} for k in order
    ]
    return html(
        "system.html",
        **_context(served, caller),
        view="system",
        systems=systems,
        system=asked,
        system_name=next(n for s, n, _ in systems if s == asked),
        family=family,
        basis=str(fc["basis"].values),
        horizon=horizon,
        level=level,
        at_least=at_least,
        last_year=last,
        fan=fan,
        buy=buy_body(served, buy)["rows"][0],
        changed=buy_body(served, changed)["rows"][0] if changed is not None else None,
        what_if=scenario.describe(),
        sources=BUY_SOURCES,
        drill=drill,
        selected=_many(params, "partner"),
        params=params,
    )


# ---- the line view ----------------------------------------------------------------------------------


def line_view(served: Served, caller: auth.Caller, params: Params) -> str:
    f = served.forecaster
    lines = [(str(i), str(r["name"])) for i, r in f.lines.iterrows()]
    ids = {i for i, _ in lines}
    asked = (_one(params, "line") or ("patriot_mse" if "patriot_mse" in ids else lines[0][0])).lower()
    if asked not in ids:
        raise PageError(f"line: unknown production line {asked!r}; choose one from the list")
    chosen = _chosen(caller, f, params)
    systems = [s for s, _ in f.line_systems(asked)]
    scenario = what_if(params, f, caller, systems[0] if systems else None)
    base = f.line_risk(asked, chosen.partners, levels=FAN_LEVELS)
    new = (
        f.line_risk(asked, chosen.partners, levels=FAN_LEVELS, scenario=scenario)
        if not scenario.empty
        else None
    )
    shown = new if new is not None else base
    rules = [
        (
            shown.attrs["min_sustaining_rate"],
            "floor",
            f"minimum sustaining rate {shown.attrs['min_sustaining_rate']:,.0f}",
        )
    ]
    rules.append((shown.attrs["max_rate"], "ceiling", f"maximum rate {shown.attrs['max_rate']:,.0f}"))
    fan = fan_chart(
        list(map(int, shown["year"].values)),
        _bands(shown),
        shown["median"].values.tolist(),
        rules,
        compare=base["median"].values.tolist() if new is not None else None,
    )
    return html(
        "line.html",
        **_context(served, caller),
        view="line",
        lines=lines,
        line=asked,
        attrs=base.attrs,
        scenario_attrs=new.attrs if new is not None else None,
        systems=systems,
        fan=fan,
        rows=line_risk_body(served, base)["rows"],
        changed=line_risk_body(served, new)["rows"] if new is not None else None,
        what_if=scenario.describe(),
        sources=LINE_SOURCES,
        selected=_many(params, "partner"),
        params=params,
    )


# ---- the planner's question -------------------------------------------------------------------------


def question_view(served: Served, caller: auth.Caller, params: Params) -> str:
    f = served.forecaster
    systems = _systems(f)
    family_names = names_of(served, "family")
    target = _one(params, "target")  # "system:<id>" or "family:<id>"
    answer, asked = None, None
    if target is not None:
        kind, _, ident = target.partition(":")
        if kind not in ("system", "family") or not ident:
            raise PageError(f"target: {target!r} is neither system:<id> nor family:<id>")
        system = ident.lower() if kind == "system" else None
        family = f.family_of_system(system) if system else ident
        at_least = _number(params, "at_least", 1, 1e9)
        months = _number(params, "months", 1, 120)
        if at_least is None or months is None:
            raise PageError("at_least and months: the question needs both")
        start_raw = _one(params, "from")
        try:
            start = datetime.date.fromisoformat(start_raw) if start_raw else None
        except ValueError:
            raise PageError(f"from: {start_raw!r} is not a date (YYYY-MM-DD)") from None
        chosen = _chosen(caller, f, params, [family])
        answer = f.question(
            chosen.families[0],
            at_least,
            months,
            start,
            chosen.partners,
            levels=(_level(params),),
            system=system,
        )
        asked = {"target": target, "at_least": at_least, "months": months, "from": start_raw or ""}
    return html(
        "question.html",
        **_context(served, caller),
        view="question",
        systems=systems,
        families=sorted(family_names.items(), key=lambda x: x[1].casefold()),
        answer=answer,
        asked=asked,
        selected=_many(params, "partner"),
        level=_level(params),
    )


# ---- one partner ------------------------------------------------------------------------------------


def partner_view(served: Served, caller: auth.Caller, params: Params) -> str:
    f = served.forecaster
    partner = _one(params, "partner") or scope.visible_partners(caller, f)[0]
    chosen = scope.select(caller, f, [partner])
    pid = chosen.partners[0]
    horizon = _horizon(params, f)
    fc = f.forecast(horizon, FAN_LEVELS, [pid])
    totals = fc.year_totals
    fan = fan_chart(
        list(map(int, totals["year"].values)),
        _bands(totals, "units_"),
        totals["units_median"].values.tolist(),
    )
    cells = fc.cells.sel(partner=pid)
    names = names_of(served, "family")
    rows = []
    for fam in cells["family"].values:
        c = cells.sel(family=fam)
        rows.append(
            {
                "family": str(fam),
                "name": names.get(str(fam), str(fam)),
                "p_within": float(c["p_any_within_horizon"]),
                "per_year": c["mean"].values.tolist(),
                "units": float(c["units_mean"].sum()),
            }
        )
    rows.sort(key=lambda r: -r["p_within"])
    suppliers, suppliers_note = supplier_rows(f, pid, rows, horizon)
    channel = None
    if f.channels is not None and f.channels.status == "ok":
        channel = f.channel_outlook([pid], horizon, (SUPPLIER_LEVEL,))[0]
    return html(
        "partner.html",
        **_context(served, caller),
        view="partner",
        partner=pid,
        region=str(f.partner_region[f.select_partners([pid])[0]]),
        horizon=horizon,
        fan=fan,
        rows=rows,
        forecast_years=list(map(int, totals["year"].values)),
        suppliers=suppliers,
        suppliers_note=suppliers_note,
        channel=channel,
        supplier_level=SUPPLIER_LEVEL,
    )


def supplier_rows(
    f: Forecaster, partner: str, family_rows: list[dict], horizon: int
) -> tuple[list[dict], str | None]:
    """The partner's supplier outlook, one row per family of ``family_rows`` (the page's rows, whose names
    it keeps), the families with orders on record first, most first; or no rows and the reason.

    A model without a U.S. share model, or with one that failed its gates, still draws the rest of the
    page: the reason stands in for the table."""
    try:
        outlook = f.supplier_outlook(
            [partner], [r["family"] for r in family_rows], horizon, (SUPPLIER_LEVEL,), TOP_SUPPLIERS
        )
    except ForecastError as exc:
        return [], str(exc).removeprefix("suppliers: ").rstrip(".") + "."
    names = {r["family"]: r["name"] for r in family_rows}
    rows = [
        {
            **o,
            "name": names[o["family"]],
            "p_next": o["p_next_us"]["mean"],
            "p_next_lower": o["p_next_us"]["intervals"][0]["lower"],
            "p_next_upper": o["p_next_us"]["intervals"][0]["upper"],
            "first_share": o["shares"][0],
            "last_share": o["shares"][-1],
            "change": o["change_per_decade"]["mean"],
        }
        for o in outlook
    ]
    # stable: families without orders keep the page's order (most likely to ask first)
    rows.sort(key=lambda r: -r["history"]["orders"])
    return rows, None


# ---- handlers ---------------------------------------------------------------------------------------


@get(f"{PATH}/system", include_in_schema=False)
async def system_page(request: Request) -> Response:
    """A named system: its requests per year as a fan, a block buy with scenario toggles, the partners."""
    return await respond(request, "planner-system", system_view)


@get(f"{PATH}/line", include_in_schema=False)
async def line_page(request: Request) -> Response:
    """A production line's load per production year as a fan, by source, with scenario toggles."""
    return await respond(request, "planner-line", line_view)


@get(f"{PATH}/question", include_in_schema=False)
async def question_page(request: Request) -> Response:
    """The planner's question as a form, and its answer."""
    return await respond(request, "planner-question", question_view)


@get(f"{PATH}/partner", include_in_schema=False)
async def partner_page(request: Request) -> Response:
    """One partner: its new requests per year as a fan, per family, and whom it buys each family from."""
    return await respond(request, "planner-partner", partner_view)


router = resource_router("/", [system_page, line_page, question_page, partner_page])

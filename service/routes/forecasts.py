"""Forecasts from the served draws, for a reader: cells and totals, block buys, the planner's question,
named systems, suppliers and channels, and a line's risk. A key limited to some partners only ever sees
those partners' cells, and totals over them alone."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import numpy as np
from litestar import Request
from litestar.datastructures import State
from litestar.response import Response

from bayes.forecast import LINE_SOURCES, ForecastError, NewFamily, NewPartner, combined_records, records
from bayes.supplier_outlook import CHANNEL_NOTE
from service import scope
from service.bodies import (
    BlockBuyRequest,
    BlockBuyResponse,
    ForecastRequest,
    ForecastResponse,
    LineRisk,
    LineRiskRequest,
    NewFamilySpec,
    NewPartnerSpec,
    QuestionAnswer,
    QuestionRequest,
    SupplierOutlook,
    SupplierOutlookRequest,
    SystemForecast,
    SystemForecastRequest,
)
from service.guards import request_caller
from service.openapi import resource_router
from service.routes.common import JSON_BODY, cached_answer, cell_count, forecast_post, served_model
from service.state import Served, active_model, services_of


def _new_partner(x: str | NewPartnerSpec) -> NewPartner:
    if isinstance(x, str):
        return NewPartner(x.strip())
    return NewPartner(x.id.strip(), x.region, tuple(x.alliances))


def _new_family(x: str | NewFamilySpec) -> NewFamily:
    return NewFamily(x.strip()) if isinstance(x, str) else NewFamily(x.id.strip(), x.category)


@forecast_post("/forecasts")
async def create_forecast(
    state: State, request: Request, data: Annotated[ForecastRequest, JSON_BODY]
) -> Response[ForecastResponse]:
    """Posterior forecast per partner × family × year (LOR counts and units), family and yearly
    totals over the selected partners, and total demand per family and year with line risk."""
    served = active_model(services_of(state))
    chosen = scope.select(
        request_caller(request),
        served.forecaster,
        data.partners,
        data.families,
        data.regions,
        [_new_partner(x) for x in data.new_partners],
        [_new_family(x) for x in data.new_families],
    )

    def compute() -> bytes:
        fc = served.forecaster.forecast(
            data.horizon,
            data.levels,
            chosen.partners,
            chosen.families,
            None,
            chosen.new_partners,
            chosen.new_families,
        )
        body = fc.to_dict()
        return msgspec.json.encode(
            {"model": served_model(served), "horizon": data.horizon, "levels": list(fc.levels), **body}
        )

    key = ("forecast", data.horizon, tuple(data.levels), chosen)
    return await cached_answer(request, served, key, compute, cell_count(served, chosen, data.horizon))


@forecast_post("/block-buys")
async def create_block_buy(
    state: State, request: Request, data: Annotated[BlockBuyRequest, JSON_BODY]
) -> Response[BlockBuyResponse]:
    """Quantiles of cumulative LORs and units of a set of partners over a window (multinational pooling);
    ``organisation`` pools its members the model knows (a scoped key: only when it sees all of them)."""
    served = active_model(services_of(state))
    org = None
    if data.organisation is not None:
        if data.partners is not None:
            raise ForecastError("partners: name partners or an organisation, not both")
        org, chosen = scope.select_organisation(
            request_caller(request), served.forecaster, data.organisation, data.families, data.regions
        )
    else:
        chosen = scope.select(
            request_caller(request), served.forecaster, data.partners, data.families, data.regions
        )

    def compute() -> bytes:
        ds = served.forecaster.block_buy(
            chosen.partners,
            chosen.families,
            data.first_year,
            data.last_year,
            data.levels,
            at_least=data.at_least,
        )
        levels = tuple(float(v) for v in ds["level"].values)
        rows = records(ds, ("family",), levels, units=True)
        for row, combined in zip(rows, combined_records(ds, levels), strict=True):
            row["combined"] = combined
        return msgspec.json.encode(
            {
                "organisation": None if org is None else org.id,
                "partners": list(ds.attrs["partners"]),
                "first_year": int(ds.attrs["first_year"]),
                "last_year": int(ds.attrs["last_year"]),
                "levels": list(levels),
                "at_least": data.at_least,
                "rows": rows,
            }
        )

    key = (
        "block-buy",
        org and org.id,
        data.first_year,
        data.last_year,
        tuple(data.levels),
        data.at_least,
        chosen,
    )
    f = served.forecaster
    years = int((data.last_year or f.years[-1]) - (data.first_year or f.years[0]) + 1)
    every = len(chosen.partners) == len(f.partners)  # every partner: sums taken at start-up, cheap
    cells = 0 if every else cell_count(served, chosen, max(years, 1))
    return await cached_answer(request, served, key, compute, cells)


def _system_id(forecaster, system: str | None) -> tuple[str | None, str | None]:
    """(system id, its family) for a system named in any case and spacing; (None, None) without one."""
    if system is None:
        return None, None
    wanted = system.strip().lower()
    return wanted, forecaster.family_of_system(wanted)


def target(request: Request, forecaster, data) -> tuple[str | None, scope.Selection]:
    """The named system (None: a family question) and the partners and family a question-like body
    (``family``, ``system``, ``partners``, ``regions``) is about, within the key's scope. A system and a
    family named together must agree."""
    system, family = _system_id(forecaster, data.system)
    if family is None and data.family is None:
        raise ForecastError("family or system: name one (GET /v1/families, GET /v1/systems)")
    caller = request_caller(request)
    chosen = scope.select(caller, forecaster, data.partners, [family or data.family], data.regions)
    if data.family is not None and family is not None:
        asked = scope.select(caller, forecaster, None, [data.family]).families[0]
        if asked != family:
            raise ForecastError(f"system: {system!r} is in family {family!r}, not {asked!r}")
    return system, chosen


@forecast_post("/questions")
async def ask_question(
    state: State, request: Request, data: Annotated[QuestionRequest, JSON_BODY]
) -> Response[QuestionAnswer]:
    """The planner's question in one call: P(the partners request at least N units of a family, or of
    one named system, within M months of a date), with the expected quantity, a credible interval and
    what the answer rests on (data through, the book as of, the timing assumption, the system share)."""
    served = active_model(services_of(state))
    system, chosen = target(request, served.forecaster, data)

    def compute() -> bytes:
        answer = served.forecaster.question(
            chosen.families[0],
            data.at_least,
            data.within_months,
            data.start,
            chosen.partners,
            levels=data.levels,
            system=system,
        )
        return msgspec.json.encode(
            {
                "model": served_model(served),
                "at_least": data.at_least,
                "within_months": data.within_months,
                **answer,
            }
        )

    key = ("question", system, data.at_least, data.within_months, data.start, tuple(data.levels), chosen)
    return await cached_answer(request, served, key, compute, len(chosen.partners) * 3)


@forecast_post("/system-forecasts")
async def create_system_forecast(
    state: State, request: Request, data: Annotated[SystemForecastRequest, JSON_BODY]
) -> Response[SystemForecast]:
    """A family's forecast per named system and year: the family's draws split by the system-share
    model, so the systems add up to the family draw by draw; each system says whether its share rests
    on history or on the stated prior share of a system never yet requested."""
    served = active_model(services_of(state))
    chosen = scope.select(
        request_caller(request), served.forecaster, data.partners, [data.family], data.regions
    )

    def compute() -> bytes:
        ds = served.forecaster.system_forecast(chosen.families[0], data.horizon, data.levels, chosen.partners)
        levels = tuple(float(v) for v in ds["level"].values)
        rows = records(ds, ("system", "year"), levels, units=True)
        for row, basis in zip(rows, np.repeat(ds["basis"].values, ds.sizes["year"]), strict=True):
            row["basis"] = str(basis)
        return msgspec.json.encode(
            {
                "model": served_model(served),
                "family": ds.attrs["family"],
                "partners": list(ds.attrs["partners"]),
                "units_split": ds.attrs["units_split"],
                "rows": rows,
            }
        )

    key = ("system-forecast", data.horizon, tuple(data.levels), chosen)
    return await cached_answer(request, served, key, compute, len(chosen.partners) * data.horizon)


@forecast_post("/supplier-outlook")
async def create_supplier_outlook(
    state: State, request: Request, data: Annotated[SupplierOutlookRequest, JSON_BODY]
) -> Response[SupplierOutlook]:
    """Per partner × family: P(the next order goes to the U.S.), the expected U.S. share per year and
    how it moves (the region's trend), and the other suppliers the partner bought the family from, from
    the U.S. share model fitted to every supplier's orders; per partner, P(its U.S. orders use FMS rather
    than DCS) per year, from the channel model (docs/suppliers.md)."""
    served = active_model(services_of(state))
    chosen = scope.select(
        request_caller(request), served.forecaster, data.partners, data.families, data.regions
    )
    families = [str(f) for f in (chosen.families or served.forecaster.families)]

    def compute() -> bytes:
        forecaster = served.forecaster
        rows = forecaster.supplier_outlook(chosen.partners, families, data.horizon, data.levels, data.top)
        channels, note = [], CHANNEL_NOTE
        if forecaster.channels is not None and forecaster.channels.status == "ok":
            channels = forecaster.channel_outlook(chosen.partners, data.horizon, data.levels)
        elif forecaster.channels is not None:
            note += " The channel model failed its gates, so no P(FMS) is given."
        body = {"model": served_model(served), "horizon": data.horizon, "levels": data.levels, "rows": rows}
        return msgspec.json.encode(body | {"channels": channels, "channel_note": note})

    key = ("supplier-outlook", data.horizon, tuple(data.levels), data.top, chosen)
    return await cached_answer(request, served, key, compute, cell_count(served, chosen, data.horizon))


def line_risk_body(served: Served, ds) -> dict[str, Any]:
    """A line's risk (Forecaster.line_risk) as the LineRisk body."""
    levels = [float(v) for v in ds["level"].values]
    lower, upper = ds["lower"].values, ds["upper"].values
    rows = [
        {
            "year": int(year),
            **{f"{k}_expected": float(ds[f"{k}_expected"].values[i]) for k in LINE_SOURCES},
            "mean": float(ds["mean"].values[i]),
            "median": float(ds["median"].values[i]),
            "intervals": [
                {"level": lv, "lower": float(lower[j, i]), "upper": float(upper[j, i])}
                for j, lv in enumerate(levels)
            ],
            "p_below_min": float(ds["p_below_min"].values[i]),
            "p_above_max": float(ds["p_above_max"].values[i]),
        }
        for i, year in enumerate(ds["year"].values)
    ]
    return {"model": served_model(served), **ds.attrs, "rows": rows}


@forecast_post("/line-risk")
async def create_line_risk(
    state: State, request: Request, data: Annotated[LineRiskRequest, JSON_BODY]
) -> Response[LineRisk]:
    """A production line's load per production year by source (domestic plan, backlog, firm, pending,
    forecast), with P(load below the minimum sustaining rate) and P(load above the maximum rate). The
    foreign part is the selected partners' only, so a scoped key sees its partners' demand and no other."""
    served = active_model(services_of(state))
    chosen = scope.select(request_caller(request), served.forecaster, data.partners, None, data.regions)
    line = data.line.strip().lower()

    def compute() -> bytes:
        ds = served.forecaster.line_risk(line, chosen.partners, levels=data.levels)
        return msgspec.json.encode(line_risk_body(served, ds))

    key = ("line-risk", line, tuple(data.levels), chosen)
    return await cached_answer(request, served, key, compute, len(chosen.partners) * 2)


router = resource_router(
    "/v1",
    [
        create_forecast,
        create_block_buy,
        ask_question,
        create_system_forecast,
        create_supplier_outlook,
        create_line_risk,
    ],
    tag="forecasts",
)

"""Block buys of named systems and what-if scenarios, answered from the served draws.

``POST /v1/system-block-buys``: per named system, domestic plan + the buyers' firm and pending requests
+ their forecast new requests over a window, with P(combined >= N) and each source's share.

``POST /v1/scenarios``: a what-if (bayes.scenario) put to a line's risk or to such a block buy. The
baseline and the scenario come from the same draws with the same seeded randomness, so the change is
the what-if's and nothing else. Every partner a what-if names (a hypothetical request's, a leaving
one) passes the key's scope like the question's own partners: a scoped key cannot probe others.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.response import Response

from bayes.forecast import LINE_SOURCES, Forecaster, ForecastError
from bayes.scenario import HypotheticalLor, Scenario
from service import auth, scope
from service.bodies import (
    ScenarioAnswer,
    ScenarioRequest,
    SystemBlockBuy,
    SystemBlockBuyRequest,
    WhatIf,
)
from service.guards import request_caller
from service.openapi import resource_router
from service.routes.common import JSON_BODY, cached_answer, forecast_post, served_model
from service.routes.forecasts import line_risk_body
from service.state import Served, active_model, services_of

BUY_SOURCES = tuple(k for k in LINE_SOURCES if k != "backlog")


def _partner_ids(caller: auth.Caller, forecaster: Forecaster, values: list[str], field: str) -> list[str]:
    """The canonical id of each partner a what-if names (in order, repeats kept: two hypothetical
    requests may come from one partner), within the key's scope (403 otherwise)."""
    if not values:
        return []
    try:
        found = {v: scope.select(caller, forecaster, [v]).partners[0] for v in dict.fromkeys(values)}
        return [found[v] for v in values]
    except scope.ScopeError as exc:
        raise scope.ScopeError(f"what_if.{field}: {exc}") from None
    except ForecastError as exc:
        raise ForecastError(f"what_if.{field}: {exc}") from None


def to_scenario(caller: auth.Caller, forecaster: Forecaster, what_if: WhatIf) -> Scenario:
    """The request's what-ifs with canonical partner and system ids."""
    partners = _partner_ids(caller, forecaster, [x.partner for x in what_if.lors], "lors.partner")
    lors = tuple(
        HypotheticalLor(p, x.system.strip().lower(), x.year, float(x.quantity), x.status)
        for p, x in zip(partners, what_if.lors, strict=True)
    )
    return Scenario(
        lors=lors,
        plan_scale=what_if.plan_scale,
        plan_from=what_if.plan_from,
        min_rate=what_if.min_rate,
        max_rate=what_if.max_rate,
        leaving=tuple(
            dict.fromkeys(_partner_ids(caller, forecaster, what_if.leaving, "leaving"))
        ),  # once each
    )


def buy_body(served: Served, ds) -> dict[str, Any]:
    """A system block buy (Forecaster.system_block_buy) as the SystemBlockBuy body."""
    levels = [float(v) for v in ds["level"].values]
    lower, upper = ds["lower"].values, ds["upper"].values
    at_least = ds.attrs["at_least"]
    rows = [
        {
            "system": str(system),
            "family": str(ds["family"].values[i]),
            "mean": float(ds["mean"].values[i]),
            "median": float(ds["median"].values[i]),
            "intervals": [
                {"level": lv, "lower": float(lower[j, i]), "upper": float(upper[j, i])}
                for j, lv in enumerate(levels)
            ],
            "p_at_least": float(ds["p_at_least"].values[i]) if "p_at_least" in ds else None,
            "new_requests_expected": float(ds["new_requests_expected"].values[i]),
            "sources": {k: float(ds[f"{k}_expected"].values[i]) for k in BUY_SOURCES},
            "shares": {k: float(ds[f"{k}_share"].values[i]) for k in BUY_SOURCES},
            "domestic_basis": ds.attrs["domestic_basis"][str(system)],
        }
        for i, system in enumerate(ds["system"].values)
    ]
    return {
        "model": served_model(served),
        "partners": list(ds.attrs["partners"]),
        "first_year": int(ds.attrs["first_year"]),
        "last_year": int(ds.attrs["last_year"]),
        "levels": levels,
        "at_least": None if at_least == "" else int(at_least),
        "data_through": int(ds.attrs["data_through"]),
        "book_as_of": str(ds.attrs["book_as_of"]),
        "timing_basis": str(ds.attrs["timing_basis"]),
        "what_if": list(ds.attrs["what_if"]),
        "rows": rows,
    }


@forecast_post("/system-block-buys")
async def create_system_block_buy(
    state: State, request: Request, data: Annotated[SystemBlockBuyRequest, JSON_BODY]
) -> Response[SystemBlockBuy]:
    """A block buy of named systems, as a line sees it: per system, the domestic plan (its line's DoD
    quantity) + the buyers' firm and pending requests + their forecast new requests over the window,
    summed draw by draw, with P(combined >= at_least) and each source's share."""
    served = active_model(services_of(state))
    chosen = scope.select(request_caller(request), served.forecaster, data.partners, None, data.regions)

    def compute() -> bytes:
        ds = served.forecaster.system_block_buy(
            data.systems, chosen.partners, None, data.first_year, data.last_year, data.levels, data.at_least
        )
        return msgspec.json.encode(buy_body(served, ds))

    systems = tuple(x.strip().lower() for x in data.systems)
    key = ("system-buy", systems, data.first_year, data.last_year, tuple(data.levels), data.at_least, chosen)
    return await cached_answer(request, served, key, compute, len(chosen.partners) * len(systems))


def _line_change(base: dict, new: dict) -> list[dict]:
    return [
        {
            "key": str(b["year"]),
            "mean": n["mean"] - b["mean"],
            "p_below_min": n["p_below_min"] - b["p_below_min"],
            "p_above_max": n["p_above_max"] - b["p_above_max"],
        }
        for b, n in zip(base["rows"], new["rows"], strict=True)
    ]


def _buy_change(base: dict, new: dict) -> list[dict]:
    return [
        {
            "key": b["system"],
            "mean": n["mean"] - b["mean"],
            "p_at_least": None if b["p_at_least"] is None else n["p_at_least"] - b["p_at_least"],
        }
        for b, n in zip(base["rows"], new["rows"], strict=True)
    ]


@forecast_post("/scenarios")
async def run_scenario(
    state: State, request: Request, data: Annotated[ScenarioRequest, JSON_BODY]
) -> Response[ScenarioAnswer]:
    """A what-if put to a production line's risk (``line``) or to a block buy of named systems
    (``systems``): a hypothetical firm or pending request, a domestic plan cut, a change in the line's
    rates, partners leaving the buy. The baseline and the scenario, from the same draws, and the change
    (scenario minus baseline) per year or per system."""
    if (data.line is None) == (data.systems is None):
        raise ForecastError("line or systems: name exactly one (a line's risk, or a block buy of systems)")
    served = active_model(services_of(state))
    caller = request_caller(request)
    f = served.forecaster
    chosen = scope.select(caller, f, data.partners, None, data.regions)
    scenario = to_scenario(caller, f, data.what_if)

    def answer(scenario: Scenario | None) -> dict:
        if data.line is not None:
            ds = f.line_risk(
                data.line.strip().lower(), chosen.partners, levels=data.levels, scenario=scenario
            )
            return line_risk_body(served, ds)
        window = (data.first_year, data.last_year, data.levels, data.at_least)
        return buy_body(
            served, f.system_block_buy(data.systems, chosen.partners, None, *window, scenario=scenario)
        )

    def compute() -> bytes:
        base, new = answer(None), answer(scenario)
        kind, change = ("line", _line_change) if data.line is not None else ("block_buy", _buy_change)
        body = {"kind": kind, "what_if": new["what_if"], "baseline": base, "scenario": new}
        return msgspec.json.encode(body | {"change": change(base, new)})

    target = data.line.strip().lower() if data.line else tuple(x.strip().lower() for x in data.systems or ())
    key = (
        "scenario",
        target,
        data.first_year,
        data.last_year,
        tuple(data.levels),
        data.at_least,
        scenario,
        chosen,
    )
    return await cached_answer(request, served, key, compute, len(chosen.partners) * 4)


router = resource_router("/v1", [create_system_block_buy, run_scenario], tag="forecasts")

"""What the served model knows, for a reader: partners, organisations, families, lines and systems.
A key limited to some partners lists those partners only."""

from __future__ import annotations

from litestar import Request
from litestar.datastructures import State

from evidence.organisations import ORGANISATIONS
from service import scope
from service.bodies import Family, LineInfo, OrganisationInfo, Partner, SystemInfo
from service.guards import request_caller
from service.openapi import resource_router
from service.routes.common import listing
from service.state import active_model, services_of

ORGANISATION_RULE = (
    "pools the members the model knows (the organisation's own rare orders are not forecast); a key limited "
    "to some partners sees the pooled totals only when it sees every one of these members"
)


@listing("/partners")
def list_partners(state: State, request: Request) -> list[Partner]:
    served = active_model(services_of(state))
    c = served.model.coords
    visible = set(scope.visible_partners(request_caller(request), served.forecaster))
    return [
        Partner(str(p), str(n), str(r))
        for p, n, r in zip(
            c["partner"].values, c["partner_name"].values, c["partner_region"].values, strict=True
        )
        if str(p) in visible
    ]


@listing("/organisations")
def list_organisations(state: State, request: Request) -> list[OrganisationInfo]:
    """Multinational buyers a block buy can pool through, with their members that the served model knows.
    A scoped key lists only those whose members it sees, every one (the rule it is held to)."""
    forecaster = active_model(services_of(state)).forecaster
    caller = request_caller(request)
    out = []
    for org in ORGANISATIONS.values():
        known = scope.organisation_members(forecaster, org)
        if not known or not scope.may_pool(caller, known):
            continue
        out.append(OrganisationInfo(org.id, org.name, known, ORGANISATION_RULE))
    return out


@listing("/families")
def list_families(state: State) -> list[Family]:
    c = active_model(services_of(state)).model.coords
    return [
        Family(str(f), str(n), str(k))
        for f, n, k in zip(
            c["family"].values, c["family_name"].values, c["family_category"].values, strict=True
        )
    ]


@listing("/lines")
def list_lines(state: State) -> list[LineInfo]:
    """The production lines (DoD P-21 rates, units a year) and the named systems each builds."""
    forecaster = active_model(services_of(state)).forecaster
    return [
        LineInfo(
            str(line),
            str(row["name"]),
            str(row["service"]),
            float(row["min_sustaining_rate"]),
            float(row["rate_1_8_5"]),
            float(row["max_rate"]),
            int(row["budget_year"]),
            [system for system, _ in forecaster.line_systems(str(line))],
        )
        for line, row in forecaster.lines.iterrows()
    ]


@listing("/systems")
def list_systems(state: State) -> list[SystemInfo]:
    """The named systems the served model answers about: id, name, family, production line, and
    whether its share rests on history or on the stated prior. Empty for a model without systems."""
    forecaster = active_model(services_of(state)).forecaster
    shares = forecaster.shares
    if shares is None:
        return []
    catalogue = forecaster.catalogue
    out = []
    for family in forecaster.families:
        basis = shares.basis(str(family))
        for system in shares.systems(str(family))[1:]:
            entry = catalogue.get(system)
            out.append(
                SystemInfo(
                    system,
                    entry.name if entry else system,
                    str(family),
                    entry.line if entry else None,
                    basis[system],
                )
            )
    return out


router = resource_router(
    "/v1", [list_partners, list_organisations, list_families, list_lines, list_systems], tag="forecasts"
)

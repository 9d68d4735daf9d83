"""What a key may see and write: the one place where a request's filters meet the key's partner scope.

Every endpoint that reads partner data resolves its filters with :func:`select` (forecasts, block buys,
the planner's page and its CSV), and lists partners with :func:`visible_partners`; every write is
checked with :func:`check_rows` or :func:`require_unscoped`. The rules:

- A key without a scope sees every partner; a scoped key sees its partners and nothing else, in every
  cell and every total.
- A filter left out (or ``null``) means everything the key may see. An empty list is refused: it is
  never read as "no filter", which is how a scoped key once saw every partner.
- Ids and regions are matched after trimming whitespace and ignoring case, and a repeated one counts
  once, so no spelling of an id reaches a different partner.
- For a scoped key any partner id outside its scope is a 403, whether or not such a partner exists,
  so the answer says nothing about partners it may not see. New (hypothetical) partners may not carry a
  known partner's id in any spelling; their draws come from the population, not from any partner.
- An organisation (a multinational buyer: NATO, the EU, the African Union, ...) pools its members that the
  served model knows. A scoped key sees an organisation's pooled totals only when its scope holds every one
  of those members; otherwise the request is a 403 that names neither the members nor their number, since
  a pool over members it may not see would show their demand.
- A scoped key writes only rows of its own partners (LORs, evidence, texts). What belongs to no partner
  (domestic plans, fits, activation, keys, whole posterior files) needs a key without a scope, and an
  admin key never has one.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bayes.forecast import Forecaster, ForecastError, NewFamily, NewPartner
from evidence.organisations import Organisation, OrganisationError, members, organisation
from service.auth import Caller
from totaldemand.errors import UserError


class ScopeError(UserError):
    """A request beyond the key's partner scope (HTTP 403); the message names the field."""

    status_code = 403


@dataclass(frozen=True)
class Selection:
    """What one request may read: canonical partner ids (never empty), families (None: all) and the
    hypothetical partners and families it asked for. Hashable: it keys the response cache."""

    partners: tuple[str, ...]
    families: tuple[str, ...] | None = None
    new_partners: tuple[NewPartner, ...] = ()
    new_families: tuple[NewFamily, ...] = ()


def _fold(value: str) -> str:
    return value.strip().casefold()


def _lookup(known: Iterable[str]) -> dict[str, str]:
    """Folded spelling → canonical id, for the spellings that name one id only."""
    folded: dict[str, list[str]] = {}
    for k in known:
        folded.setdefault(_fold(k), []).append(k)
    return {f: ids[0] for f, ids in folded.items() if len(ids) == 1}


class _Names:
    """One id space (partners, families or regions): exact ids and their folded spellings."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = tuple(dict.fromkeys(map(str, ids)))
        self.exact = frozenset(self.ids)
        self.folded = _lookup(self.ids)

    def find(self, value: str) -> str | None:
        value = str(value)
        return value.strip() if value.strip() in self.exact else self.folded.get(_fold(value))

    def canonical(self, values: Sequence[str] | None, field: str) -> tuple[tuple[str, ...] | None, list[str]]:
        """The canonical ids of ``values`` (deduplicated, in order) and the values that name none."""
        if values is None:
            return None, []
        if not values:
            raise ForecastError(f"{field}: an empty list; leave the field out to mean every one")
        found: dict[str, None] = {}
        unknown = []
        for v in values:
            c = self.find(v)
            if c is None:
                unknown.append(str(v))
            else:
                found[c] = None
        return tuple(found), unknown


class _Known:
    """What a served forecaster knows, indexed once (requests are matched against it many times)."""

    def __init__(self, forecaster: Forecaster) -> None:
        self.partners = _Names(forecaster.partners)
        self.families = _Names(forecaster.families)
        self.region_of = dict(zip(self.partners.ids, map(str, forecaster.partner_region), strict=True))
        self.regions = _Names(sorted(set(self.region_of.values())))
        self.order = {p: i for i, p in enumerate(self.partners.ids)}


_known: weakref.WeakKeyDictionary[Forecaster, _Known] = weakref.WeakKeyDictionary()


def _index(forecaster: Forecaster) -> _Known:
    known = _known.get(forecaster)
    if known is None:
        known = _known[forecaster] = _Known(forecaster)
    return known


def outside_scope(caller: Caller, partners: Iterable[str]) -> list[str]:
    """The partners among ``partners`` that ``caller`` may not see, sorted; none for an unscoped key. Every
    scope decision below rests on this one test."""
    if caller.partners is None:
        return []
    return sorted({str(p) for p in partners} - caller.partners)


def visible_partners(caller: Caller, forecaster: Forecaster) -> tuple[str, ...]:
    """The partners ``caller`` may see, in the forecaster's order."""
    ids = _index(forecaster).partners.ids
    hidden = set(outside_scope(caller, ids))
    return tuple(p for p in ids if p not in hidden)


def _outside(field: str, values: Sequence[str]) -> ScopeError:
    return ScopeError(f"{field}: this key is not allowed to see {sorted(set(values))[:20]}")


def select(
    caller: Caller,
    forecaster: Forecaster,
    partners: Sequence[str] | None = None,
    families: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    new_partners: Sequence[NewPartner] = (),
    new_families: Sequence[NewFamily] = (),
) -> Selection:
    """The partners and families one request reads, within the key's scope (module docstring)."""
    known = _index(forecaster)
    chosen, unknown = known.partners.canonical(partners, "partners")
    if caller.partners is not None:
        outside = [*unknown, *outside_scope(caller, chosen or ())]
        if outside:
            raise _outside("partners", outside)
    elif unknown:
        raise ForecastError(f"partners: unknown id(s) {unknown[:10]}; see GET /v1/partners")
    pool = chosen if chosen is not None else visible_partners(caller, forecaster)

    if regions is not None:
        # matched against the regions the key may see: a scoped key learns no other partner's region
        names = known.regions
        if caller.partners is not None:
            names = _Names(sorted({known.region_of[p] for p in visible_partners(caller, forecaster)}))
        wanted, unknown = names.canonical(regions, "regions")
        if unknown:
            raise ForecastError(f"regions: unknown region(s) {unknown[:10]}; known: {list(names.ids)}")
        pool = tuple(p for p in pool if known.region_of[p] in (wanted or ()))
        if not pool:
            raise ForecastError("regions: none of the chosen partners is in the requested regions")
    if not pool:  # a scoped key whose partners the served model does not know
        raise ScopeError("partners: the served model has none of this key's partners")

    fams, unknown = known.families.canonical(families, "families")
    if unknown:
        raise ForecastError(f"families: unknown id(s) {unknown[:10]}; see GET /v1/families")

    news = tuple({_fold(x.id): x for x in new_partners}.values())
    clashes = [x.id for x in news if known.partners.find(x.id) is not None]
    if clashes:
        if outside_scope(caller, (known.partners.find(c) for c in clashes)):
            raise _outside("new_partners", clashes)
        raise ForecastError(f"new_partners: {clashes} are known ids; a new one needs a label of its own")
    new_fams = tuple({_fold(x.id): x for x in new_families}.values())
    clashes = [x.id for x in new_fams if known.families.find(x.id) is not None]
    if clashes:
        raise ForecastError(f"new_families: {clashes} are known ids; a new one needs a label of its own")
    # the forecaster's order, so one set of partners is one cache entry however it was asked for
    if chosen is not None or regions is not None:
        pool = tuple(sorted(pool, key=known.order.__getitem__))
    return Selection(pool, fams, news, new_fams)


def require_unscoped(caller: Caller, what: str) -> None:
    """``what`` belongs to no partner: only a key without a partner scope may do it."""
    if caller.partners is not None:
        raise ScopeError(f"{what} belongs to no partner; a key limited to some partners may not do it")


def check_rows(caller: Caller, table: str, partners: Iterable[str] | None) -> None:
    """Rows about to be written: each must belong to one of the key's partners (``partners`` None: the
    rows belong to no partner, as domestic plans do)."""
    if caller.partners is None:
        return
    if partners is None:
        raise ScopeError(
            f"{table}: these rows belong to no partner; a key limited to some partners may not write them"
        )
    outside = outside_scope(caller, partners)
    if outside:
        raise ScopeError(f"partner: this key may not write {table} rows for {outside[:20]}")


__all__ = [
    "ScopeError",
    "Selection",
    "check_rows",
    "may_pool",
    "organisation_members",
    "outside_scope",
    "require_unscoped",
    "select",
    "select_organisation",
    "visible_partners",
]


def organisation_members(forecaster: Forecaster, org: Organisation) -> list[str]:
    """The organisation's members that the served model knows."""
    return members(org, list(forecaster.partners), forecaster.partner_alliances())


def may_pool(caller: Caller, members: Sequence[str]) -> bool:
    """Whether ``caller`` may see a pool over these members: every one of them within its scope."""
    return not outside_scope(caller, members)


def select_organisation(
    caller: Caller,
    forecaster: Forecaster,
    name: str,
    families: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
) -> tuple[Organisation, Selection]:
    """The members an organisation pools (module docstring: the rule for scoped keys), as a selection."""
    try:
        org = organisation(name)
    except OrganisationError as exc:
        raise ForecastError(str(exc)) from None
    known = organisation_members(forecaster, org)
    if not may_pool(caller, known):
        raise ScopeError(
            f"organisation: {org.id}'s pooled totals are shown only to a key that sees every one of its "
            "members the model knows"
        )
    if not known:
        raise ForecastError(f"organisation: the served model knows none of {org.name}'s members")
    return org, select(caller, forecaster, known, families, regions)

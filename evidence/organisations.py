"""Multinational buyers and their members: who a block buy through an organisation pools.

SIPRI lists organisations among recipients (NATO, the African Union, the United Nations, the Regional
Security System; marked ``**`` in its register), and the dataset keeps them as partners that are not states
(``is_state`` false), with their own, rare orders (NATO 5 from the U.S. since 1950, the UN 8, the African
Union and the RSS one each). The demand model leaves them out of its panel, and forecasts their members.
An organisation here is therefore a way to pool its members' demand, the way a common purchase (NATO's
support agency NSPA buying for several nations) pools it:

- NATO (and NSPA, which buys for its members) and the EU: the partners whose ``alliances`` name them;
- the African Union and the Regional Security System: member states as of 2021, listed below by name and
  mapped to partner ids through the gazetteer;
- the United Nations: every state partner.

Members that the served model does not know (they never ordered from the U.S.) are left out of any pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evidence import gazetteer
from totaldemand.errors import UserError

_AFRICAN_UNION = (
    "Algeria, Angola, Benin, Botswana, Burkina Faso, Burundi, Cameroon, Cape Verde, "
    "Central African Republic, Chad, Comoros, Congo, DR Congo, Djibouti, Egypt, Equatorial Guinea, "
    "Eritrea, Eswatini, Ethiopia, Gabon, Gambia, Ghana, Guinea, Guinea-Bissau, Cote d'Ivoire, Kenya, "
    "Lesotho, Liberia, Libya, Madagascar, Malawi, Mali, Mauritania, Mauritius, Morocco, Mozambique, "
    "Namibia, Niger, Nigeria, Rwanda, Sao Tome and Principe, Senegal, Seychelles, Sierra Leone, Somalia, "
    "South Africa, South Sudan, Sudan, Tanzania, Togo, Tunisia, Uganda, Western Sahara, Zambia, Zimbabwe"
)
_REGIONAL_SECURITY_SYSTEM = (
    "Antigua and Barbuda, Barbados, Dominica, Grenada, Saint Kitts and Nevis, Saint Lucia, "
    "Saint Vincent and the Grenadines"
)


@dataclass(frozen=True)
class Organisation:
    id: str  # the organisation's own partner id, where SIPRI lists it as a recipient
    name: str
    alliance: str | None = None  # members: the partners whose alliances name this
    member_names: tuple[str, ...] = ()  # members: these states (SIPRI spellings)
    every_state: bool = False  # members: every state partner

    def member_ids(self) -> tuple[str, ...]:
        """The listed members' partner ids (empty for an alliance or every state: see :func:`members`)."""
        return tuple(
            gazetteer.partner_for(n).id if gazetteer.is_known(n) else gazetteer.derive_id(n)
            for n in self.member_names
        )


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(","))


ORGANISATIONS: dict[str, Organisation] = {
    o.id: o
    for o in (
        Organisation("nato", "NATO", alliance="NATO"),
        Organisation(
            "nspa", "NATO Support and Procurement Agency (buys for NATO's members)", alliance="NATO"
        ),
        Organisation("eu", "European Union", alliance="EU"),
        Organisation("african_union", "African Union", member_names=_names(_AFRICAN_UNION)),
        Organisation(
            "regional_security_system",
            "Regional Security System (Eastern Caribbean)",
            member_names=_names(_REGIONAL_SECURITY_SYSTEM),
        ),
        Organisation("united_nations", "United Nations", every_state=True),
    )
}


class OrganisationError(UserError):
    """An unknown organisation; the message names it and the known ones."""


def organisation(name: str) -> Organisation:
    """The organisation for an id in any case and spacing."""
    key = name.strip().casefold()
    if key not in ORGANISATIONS:
        raise OrganisationError(f"organisation: unknown {name!r}; known: {sorted(ORGANISATIONS)}")
    return ORGANISATIONS[key]


def members(
    org: Organisation,
    partners: Sequence[str],
    alliances: Sequence[Iterable[str]],
    is_state: Sequence[bool] | None = None,
) -> list[str]:
    """The members of ``org`` among ``partners`` (in their order); ``alliances[i]`` are partner i's
    alliance memberships and ``is_state[i]`` whether it is a state (default: all are)."""
    states = [True] * len(partners) if is_state is None else list(is_state)
    if org.every_state:
        return [p for p, state in zip(partners, states, strict=True) if state]
    if org.alliance is not None:
        return [p for p, a in zip(partners, alliances, strict=True) if org.alliance in set(a)]
    listed = set(org.member_ids())
    return [p for p in partners if p in listed]


__all__ = ["ORGANISATIONS", "Organisation", "OrganisationError", "members", "organisation"]

"""Organisations and their members: alliance tags, listed states, every state."""

from __future__ import annotations

import pytest

from evidence import gazetteer
from evidence.organisations import ORGANISATIONS, OrganisationError, members, organisation


def test_listed_members_map_to_gazetteer_partners() -> None:
    au = ORGANISATIONS["african_union"]
    known = [n for n in au.member_names if gazetteer.is_known(n)]
    # a handful never received a SIPRI-listed weapon and get derived ids; the rest are the gazetteer's
    assert len(au.member_names) == 55 and len(known) >= 52
    assert {"nigeria", "south_africa", "egypt", "morocco"} <= set(au.member_ids())


def test_members_by_alliance_listing_and_every_state() -> None:
    partners = ["norway", "egypt", "nato", "kenya"]
    alliances = [("NATO",), (), (), ()]
    states = [True, True, False, True]
    assert members(organisation("NSPA"), partners, alliances, states) == ["norway"]
    assert members(organisation("african_union"), partners, alliances, states) == ["egypt", "kenya"]
    assert members(organisation("united_nations"), partners, alliances, states) == [
        "norway",
        "egypt",
        "kenya",
    ]


def test_an_unknown_organisation_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(OrganisationError, match=r"unknown 'opec'.*nato"):
        organisation("opec")

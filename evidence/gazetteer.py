"""SIPRI recipient names → stable partners (id, display name, ISO3, region, alliances, state or not).

The table is ``default_data/gazetteer.csv``: one row per SIPRI spelling (``sipri_name``), several
spellings sharing one ``id`` where SIPRI renamed a recipient between exports (``UAE`` in the March 2025
export, ``United Arab Emirates`` in May 2026; ``Libya HoR*`` / ``House of Representatives (Libya)*``;
``PIJ`` / ``Palestinian Islamic Jihad``) or where older or common spellings are likely in other exports
(``Turkey``, ``Czech Republic``, ``Macedonia``, ``Swaziland``, ``Cape Verde``, ``Burma``, ``Zaire``, ...).
Every recipient in both bundled register vintages is listed.

Conventions:

* ``id``: snake_case ASCII of the current SIPRI name with the ``*`` markers dropped; the two Koreas are
  ``korea_south`` / ``korea_north`` to match the examples in :mod:`evidence.records`.
* ``iso3``: ISO 3166-1 alpha-3 where a current code exists; blank for dissolved states (Soviet Union,
  Yugoslavia, Czechoslovakia, East Germany, North/South Yemen, South Vietnam), for entities without an ISO
  code (Kosovo, Northern Cyprus, Biafra, Katanga), for non-state actors and for organisations.
* ``region``: pooling regions: Europe (incl. Russia, Ukraine, Belarus, Moldova), Middle East (incl.
  Turkiye, as SIPRI groups it), North Africa (Maghreb, Egypt, Libya, Mauritania, Western Sahara),
  Sub-Saharan Africa, South Asia (incl. Afghanistan), East Asia, Southeast Asia, Oceania, North America
  (US, Canada), Latin America (incl. Mexico and the Caribbean), Central Asia and Caucasus;
  ``International`` for the UN and ``Unknown`` for unknown recipients. Non-state actors take the region of
  the country they operate in.
* ``alliances``: ``;``-separated among NATO, EU, GCC, MNNA (US major non-NATO ally), AUKUS, FVEY (Five
  Eyes). This is a static, present-day snapshot (as of 2025/2026: NATO with Finland and Sweden; MNNA with
  Colombia and Qatar (2022), Kenya (2024), Saudi Arabia (announced Nov 2025), Afghanistan's status revoked
  (2022), and Taiwan, which US law treats as an MNNA). It is NOT membership at the time of a historical
  order, so it must not be read as a time-varying covariate.
* ``is_state``: false for names ending ``*`` (non-state actors) or ``**`` (organisations) and for unknown
  recipients.

Unknown names (a future export's new recipient or spelling) get a derived id, region ``Unknown`` and a
logged warning; they never raise.
"""

from __future__ import annotations

import csv
import logging
import re
import unicodedata
from functools import cache
from pathlib import Path

from evidence.records import Partner

log = logging.getLogger(__name__)

GAZETTEER_CSV = Path(__file__).resolve().parent / "default_data" / "gazetteer.csv"

REGIONS: tuple[str, ...] = (
    "Europe",
    "Middle East",
    "North Africa",
    "Sub-Saharan Africa",
    "South Asia",
    "East Asia",
    "Southeast Asia",
    "Oceania",
    "North America",
    "Latin America",
    "Central Asia and Caucasus",
    "International",
    "Unknown",
)
ALLIANCES: tuple[str, ...] = ("NATO", "EU", "GCC", "MNNA", "AUKUS", "FVEY")
UNKNOWN_REGION = "Unknown"

# Names already warned about, so a register with hundreds of rows for one new name logs it once.
_reported: set[str] = set()


def strip_markers(sipri_name: str) -> str:
    """Drop SIPRI's trailing ``*``/``**`` markers and surrounding whitespace."""
    return " ".join(str(sipri_name).split()).rstrip("*").strip()


def normalise_name(sipri_name: str) -> str:
    """Lookup key: markers dropped, accents folded, case and punctuation ignored.

    Folding makes ``Türkiye``/``Turkiye``, ``Côte d'Ivoire``/``Cote d'Ivoire`` and ``Bosnia-Herzegovina``/
    ``Bosnia Herzegovina`` the same key without listing each spelling.
    """
    ascii_name = unicodedata.normalize("NFKD", strip_markers(sipri_name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_name.lower()).strip()


def derive_id(sipri_name: str) -> str:
    """The id an unlisted name gets: the normalised key in snake_case."""
    return normalise_name(sipri_name).replace(" ", "_") or "unnamed_recipient"


def is_non_state_name(sipri_name: str) -> bool:
    return str(sipri_name).strip().endswith("*")


@cache
def _table() -> dict[str, Partner]:
    partners: dict[str, Partner] = {}
    by_id: dict[str, Partner] = {}
    with GAZETTEER_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            partner = Partner(
                id=row["id"].strip(),
                name=row["name"].strip(),
                region=row["region"].strip(),
                iso3=row["iso3"].strip() or None,
                alliances=tuple(a for a in row["alliances"].split(";") if a.strip()),
                is_state=row["is_state"].strip().lower() == "true",
            )
            if partner.region not in REGIONS:
                raise ValueError(
                    f"{GAZETTEER_CSV.name}: {row['sipri_name']!r} has unknown region {partner.region!r}"
                )
            # All spellings of one id must describe the same partner; a mismatch is an editing error.
            if by_id.setdefault(partner.id, partner) != partner:
                raise ValueError(f"{GAZETTEER_CSV.name}: rows for id {partner.id!r} disagree")
            key = normalise_name(row["sipri_name"])
            if partners.get(key, partner) != partner:
                raise ValueError(f"{GAZETTEER_CSV.name}: {row['sipri_name']!r} maps to two ids")
            partners[key] = partner
    return partners


def known_partners() -> tuple[Partner, ...]:
    """Every partner in the gazetteer, one per id, sorted by id."""
    return tuple(sorted({p.id: p for p in _table().values()}.values(), key=lambda p: p.id))


def is_known(sipri_name: str) -> bool:
    return normalise_name(sipri_name) in _table()


def partner_for(sipri_name: str) -> Partner:
    """The partner for a SIPRI recipient name; unknown names get a derived partner and a warning."""
    partner = _table().get(normalise_name(sipri_name))
    if partner is not None:
        return partner
    derived = Partner(
        id=derive_id(sipri_name),
        name=strip_markers(sipri_name) or str(sipri_name),
        region=UNKNOWN_REGION,
        iso3=None,
        alliances=(),
        is_state=not is_non_state_name(sipri_name),
    )
    if derived.id not in _reported:
        _reported.add(derived.id)
        log.warning(
            "recipient %r is not in %s; using id %r, region %r",
            sipri_name,
            GAZETTEER_CSV.name,
            derived.id,
            UNKNOWN_REGION,
        )
    return derived

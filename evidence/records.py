"""The records totaldemand reasons about, and the table layout each one has on disk.

Every loader, builder and simulator reads and writes these layouts, so a SIPRI-derived
dataset, a simulated world and an analyst's upload are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class LORStatus(StrEnum):
    """Where a Letter of Request stands.

    ``executed`` is a request that became an order (all historical SIPRI orders are executed);
    ``firm`` is a received request that will be fulfilled; ``pending`` may still convert;
    ``withdrawn`` drops out of demand.
    """

    FIRM = "firm"
    PENDING = "pending"
    WITHDRAWN = "withdrawn"
    EXECUTED = "executed"


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    region: str
    iso3: str | None = None
    alliances: tuple[str, ...] = ()
    is_state: bool = True


@dataclass(frozen=True, slots=True)
class SystemFamily:
    """A family of systems (e.g. ``fighter_aircraft``) inside an armament category (``Aircraft``)."""

    id: str
    name: str
    category: str


@dataclass(frozen=True, slots=True)
class LOR:
    id: str
    partner: str
    family: str
    received: date
    status: LORStatus
    quantity: int | None = None
    designation: str = ""
    estimated_value_usd: float | None = None
    source: str = ""
    year_uncertain: bool = False
    quantity_uncertain: bool = False


@dataclass(frozen=True, slots=True)
class EvidenceSignal:
    """A dated, sourced observation about a partner's demand for a family.

    ``kind`` names what was measured, e.g. ``readiness_fleet_units``, ``readiness_fleet_mean_age``
    or ``nlp_mention``; ``family`` is empty when the signal concerns the partner as a whole.
    """

    partner: str
    family: str
    date: date
    kind: str
    value: float
    source: str = ""


@dataclass(frozen=True, slots=True)
class DomesticPlan:
    family: str
    fiscal_year: int
    quantity: float
    source: str = ""


@dataclass(frozen=True, slots=True)
class LineCapacity:
    family: str
    min_sustaining_rate: float
    max_rate: float
    source: str = ""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table layout: its name, type and whether a value is required."""

    name: str
    kind: str  # "str" | "int" | "float" | "bool" | "date" | "list" | "status"
    required: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    """The on-disk layout of one record type: file stem, record class and columns."""

    name: str
    record: type
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


PARTNERS = Table(
    "partners",
    Partner,
    (
        Column("id", "str", description="stable partner id, e.g. 'korea_south'"),
        Column("name", "str", description="display name (SIPRI recipient name for SIPRI data)"),
        Column("region", "str", description="world region used for partial pooling"),
        Column("iso3", "str", required=False, description="ISO 3166-1 alpha-3 where one exists"),
        Column("alliances", "list", required=False, description="';'-separated memberships, e.g. 'NATO;EU'"),
        Column(
            "is_state", "bool", required=False, description="false for non-state and organisation recipients"
        ),
    ),
    key=("id",),
)

FAMILIES = Table(
    "families",
    SystemFamily,
    (
        Column("id", "str"),
        Column("name", "str"),
        Column("category", "str", description="armament category (SIPRI's categories for SIPRI data)"),
    ),
    key=("id",),
)

LORS = Table(
    "lors",
    LOR,
    (
        Column("id", "str"),
        Column("partner", "str"),
        Column("family", "str"),
        Column("received", "date", description="date the request was received (order year → 1 July)"),
        Column("status", "status"),
        Column("quantity", "int", required=False),
        Column("designation", "str", required=False),
        Column("estimated_value_usd", "float", required=False),
        Column("source", "str", required=False),
        Column("year_uncertain", "bool", required=False),
        Column("quantity_uncertain", "bool", required=False),
    ),
    key=("id",),
)

EVIDENCE = Table(
    "evidence",
    EvidenceSignal,
    (
        Column("partner", "str"),
        Column("family", "str", required=False),
        Column("date", "date"),
        Column("kind", "str"),
        Column("value", "float"),
        Column("source", "str", required=False),
    ),
)

DOMESTIC_PLANS = Table(
    "domestic_plans",
    DomesticPlan,
    (
        Column("family", "str"),
        Column("fiscal_year", "int"),
        Column("quantity", "float"),
        Column("source", "str", required=False),
    ),
    key=("family", "fiscal_year"),
)

LINE_CAPACITIES = Table(
    "line_capacities",
    LineCapacity,
    (
        Column("family", "str"),
        Column("min_sustaining_rate", "float"),
        Column("max_rate", "float"),
        Column("source", "str", required=False),
    ),
    key=("family",),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (PARTNERS, FAMILIES, LORS, EVIDENCE, DOMESTIC_PLANS, LINE_CAPACITIES)
}

# Evidence kinds the SIPRI builder derives; the model issue reads them by these names.
READINESS_FLEET_UNITS = "readiness_fleet_units"
READINESS_FLEET_MEAN_AGE = "readiness_fleet_mean_age"
# Kinds a readiness report adds (evidence.readiness_reports); where a partner × family has a report,
# it replaces the SIPRI proxy from the report's date on.
REPORTED_FLEET_UNITS = "reported_fleet_units"
REPORTED_FLEET_MEAN_AGE = "reported_fleet_mean_age"
REPORTED_MISSION_CAPABLE = "reported_mission_capable_rate"
# The evidence kind the panel reads as the NLP signal (text mentions and notifications, evidence.signals).
NLP_MENTION = "nlp_mention"

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


class LORChannel(StrEnum):
    """How a request is to be met. An LOR opens a Foreign Military Sales case by definition; ``hybrid``
    marks one whose case is paired with commercial (DCS) contracts or co-production. Blank: not stated,
    as for SIPRI's historical orders, which stand in for requests of either channel."""

    FMS = "fms"
    HYBRID = "hybrid"


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
    channel: str = ""  # a LORChannel value, or "" where not stated


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
class SupplierOrders:
    """A partner's orders in one family and year from one supplier: SIPRI's register, every supplier,
    so that a partner turning to another supplier is told from a partner whose demand fell."""

    partner: str
    family: str
    year: int
    supplier: str
    orders: int
    units: int | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class LineCapacity:
    family: str
    min_sustaining_rate: float
    max_rate: float
    source: str = ""


# What a record may hold. A value outside these bounds is a typing or unit error, refused with the row, the
# field and the reason wherever records come in (dataset files and API uploads alike), and stated in the
# API description. They are wide: the largest SIPRI order is 34,000 units and the largest U.S. sale about
# $110 billion.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)
MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 2_000
MAX_QUANTITY = 10_000_000  # units in one request
MAX_VALUE_USD = 1e12
MAX_RATE = 1e8  # units a year: domestic plans and line rates (ammunition lines run to millions)
MAX_EVIDENCE_VALUE = 1e9


def number_text(x: float) -> str:
    """A bound as people write it: 10,000,000 and 0.5, not 1e+07."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:,g}"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table layout: its name, type, whether a value is required and its bounds
    (numbers: ``minimum``..``maximum`` inclusive; text: at most ``max_length`` characters and no
    control characters; dates: ``EARLIEST_DATE``..``LATEST_DATE``)."""

    name: str
    kind: str  # "str" | "int" | "float" | "bool" | "date" | "list" | "status"
    required: bool = True
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None

    @property
    def bounds(self) -> str:
        """The bounds in words, for error messages and the API description."""
        if self.kind == "date":
            return f"a date from {EARLIEST_DATE} to {LATEST_DATE}"
        if self.minimum is not None and self.maximum is not None:
            return f"between {number_text(self.minimum)} and {number_text(self.maximum)}"
        if self.max_length is not None:
            return f"at most {self.max_length:,} characters, no control characters"
        return ""


@dataclass(frozen=True, slots=True)
class Table:
    """The on-disk layout of one record type: file stem, record class and columns."""

    name: str
    record: type
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


# Evidence kinds the SIPRI builder derives; the model issue reads them by these names.
READINESS_FLEET_UNITS = "readiness_fleet_units"
READINESS_FLEET_MEAN_AGE = "readiness_fleet_mean_age"
# Kinds a readiness report adds (sources.readiness_reports); where a partner × family has a report,
# it replaces the SIPRI proxy from the report's date on.
REPORTED_FLEET_UNITS = "reported_fleet_units"
REPORTED_FLEET_MEAN_AGE = "reported_fleet_mean_age"
REPORTED_MISSION_CAPABLE = "reported_mission_capable_rate"
# The evidence kind the panel reads as the NLP signal (text mentions and notifications, nlp.signals).
NLP_MENTION = "nlp_mention"
# Partner-level yearly figures (family blank), one row per partner and year, dated 31 Dec of the year they
# describe. Military expenditure (sources.milex): SIPRI's constant-2023 US$ million and share of GDP (%).
MILEX_CONSTANT_USD_M = "milex_constant_2023_usd_m"
MILEX_SHARE_GDP_PCT = "milex_share_gdp_pct"
# U.S. arms-sales channels (sources.sam), current US$ million per U.S. fiscal year: FMS agreements, DCS
# licences authorized, and the Congressional notifications of each channel (FMS 36(b), DCS 36(c)).
US_FMS_AGREEMENTS_USD_M = "us_fms_agreements_usd_m"
US_DCS_AUTHORIZATIONS_USD_M = "us_dcs_authorizations_usd_m"
US_FMS_NOTIFICATIONS_USD_M = "us_fms_notifications_usd_m"
US_DCS_NOTIFICATIONS_USD_M = "us_dcs_notifications_usd_m"

MAX_FLEET_AGE = 80.0  # years: older than any fleet in service
# US$ million a year: over ten times the largest military budget (the U.S., about $0.9 trillion), so the
# bound refuses a large figure (any above $10 billion) given in dollars rather than millions.
MAX_USD_M = 1e7
# Value bounds of the evidence kinds the model reads (any other kind: EVIDENCE's value bounds).
EVIDENCE_BOUNDS: dict[str, tuple[float, float]] = {
    READINESS_FLEET_UNITS: (0.0, float(MAX_QUANTITY)),
    READINESS_FLEET_MEAN_AGE: (0.0, MAX_FLEET_AGE),
    REPORTED_FLEET_UNITS: (0.0, float(MAX_QUANTITY)),
    REPORTED_FLEET_MEAN_AGE: (0.0, MAX_FLEET_AGE),
    REPORTED_MISSION_CAPABLE: (0.0, 1.0),
    NLP_MENTION: (0.0, 1e6),  # the model reads log(1 + mentions)
    MILEX_CONSTANT_USD_M: (0.0, MAX_USD_M),
    MILEX_SHARE_GDP_PCT: (0.0, 1000.0),  # war years pass 100: Kuwait 1991 spent 117% of its GDP
    US_FMS_AGREEMENTS_USD_M: (0.0, MAX_USD_M),
    US_DCS_AUTHORIZATIONS_USD_M: (0.0, MAX_USD_M),
    US_FMS_NOTIFICATIONS_USD_M: (0.0, MAX_USD_M),
    US_DCS_NOTIFICATIONS_USD_M: (0.0, MAX_USD_M),
}


def _id(name: str, required: bool = True, description: str = "") -> Column:
    return Column(name, "str", required, description, max_length=MAX_ID_LENGTH)


def _text(name: str) -> Column:
    return Column(name, "str", required=False, max_length=MAX_TEXT_LENGTH)


def _number(
    name: str, kind: str, low: float, high: float, required: bool = True, description: str = ""
) -> Column:
    return Column(name, kind, required, description, minimum=low, maximum=high)


PARTNERS = Table(
    "partners",
    Partner,
    (
        _id("id", description="stable partner id, e.g. 'korea_south'"),
        _id("name", description="display name (SIPRI recipient name for SIPRI data)"),
        _id("region", description="world region used for partial pooling"),
        Column("iso3", "str", False, "ISO 3166-1 alpha-3 where one exists", max_length=3),
        Column(
            "alliances",
            "list",
            False,
            "';'-separated memberships, e.g. 'NATO;EU'",
            max_length=MAX_TEXT_LENGTH,
        ),
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
        _id("id"),
        _id("name"),
        _id("category", description="armament category (SIPRI's categories for SIPRI data)"),
    ),
    key=("id",),
)

LORS = Table(
    "lors",
    LOR,
    (
        _id("id"),
        _id("partner"),
        _id("family"),
        Column("received", "date", description="date the request was received (order year → 1 July)"),
        Column("status", "status"),
        _number("quantity", "int", 0, MAX_QUANTITY, required=False),
        Column("designation", "str", required=False, max_length=500),
        _number("estimated_value_usd", "float", 0, MAX_VALUE_USD, required=False),
        _text("source"),
        Column("year_uncertain", "bool", required=False),
        Column("quantity_uncertain", "bool", required=False),
        Column(
            "channel",
            "channel",
            required=False,
            description="'fms', or 'hybrid' for an FMS case paired with commercial contracts or "
            "co-production; blank where not stated (historical orders)",
        ),
    ),
    key=("id",),
)

EVIDENCE = Table(
    "evidence",
    EvidenceSignal,
    (
        _id("partner"),
        _id("family", required=False),
        Column("date", "date"),
        _id("kind"),
        _number(
            "value",
            "float",
            -MAX_EVIDENCE_VALUE,
            MAX_EVIDENCE_VALUE,
            description="the kinds the model reads have narrower bounds: "
            + ", ".join(
                f"{k} {number_text(lo)}..{number_text(hi)}" for k, (lo, hi) in EVIDENCE_BOUNDS.items()
            ),
        ),
        _text("source"),
    ),
)

DOMESTIC_PLANS = Table(
    "domestic_plans",
    DomesticPlan,
    (
        _id("family"),
        _number("fiscal_year", "int", EARLIEST_DATE.year, LATEST_DATE.year),
        _number("quantity", "float", 0, MAX_RATE),
        _text("source"),
    ),
    key=("family", "fiscal_year"),
)

LINE_CAPACITIES = Table(
    "line_capacities",
    LineCapacity,
    (
        _id("family"),
        _number("min_sustaining_rate", "float", 0, MAX_RATE),
        _number("max_rate", "float", 0, MAX_RATE),
        _text("source"),
    ),
    key=("family",),
)

SUPPLIER_ORDERS = Table(
    "supplier_orders",
    SupplierOrders,
    (
        _id("partner"),
        _id("family"),
        _number("year", "int", EARLIEST_DATE.year, LATEST_DATE.year, description="year of order"),
        _id("supplier", description="the supplying state's id, in the partners' id scheme ('united_states')"),
        _number("orders", "int", 1, MAX_QUANTITY, description="orders (register rows) in the year"),
        _number("units", "int", 0, MAX_QUANTITY, False, "units ordered; blank if one is unknown"),
        _text("source"),
    ),
    key=("partner", "family", "year", "supplier"),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (PARTNERS, FAMILIES, LORS, EVIDENCE, DOMESTIC_PLANS, LINE_CAPACITIES, SUPPLIER_ORDERS)
}

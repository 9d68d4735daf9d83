"""Request and response bodies of the HTTP API (msgspec structs: validated on the way in, and the
OpenAPI schema at ``/schema`` is generated from them)."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

import msgspec

from bayes.forecast import MAX_HORIZON

NO_CONTROL = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"  # ids and names hold no control characters
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_CONTROL)]
Filter = Annotated[
    list[Label],
    msgspec.Meta(
        min_length=1,
        max_length=500,
        description="ids matched ignoring case and surrounding spaces; leave the field out for all",
    ),
]
Year = Annotated[int, msgspec.Meta(ge=1900, le=2100)]
AtLeast = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        le=1_000_000_000,
        description="a combined quantity in units: the answer gives P(combined >= at_least)",
    ),
]


class NewPartnerSpec(msgspec.Struct, forbid_unknown_fields=True):
    """A partner never seen; its region and alliances, when known, place it in the hierarchy."""

    id: Label
    region: Label | None = None
    alliances: Annotated[list[Label], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)


class NewFamilySpec(msgspec.Struct, forbid_unknown_fields=True):
    id: Label
    category: Label | None = None


Levels = Annotated[
    list[Annotated[float, msgspec.Meta(gt=0, lt=1)]], msgspec.Meta(min_length=1, max_length=10)
]


class ForecastRequest(msgspec.Struct, forbid_unknown_fields=True):
    """What to forecast. Omitted filters mean all known values."""

    horizon: Annotated[int, msgspec.Meta(ge=1, le=MAX_HORIZON, description="years ahead")] = 3
    levels: Levels = msgspec.field(default_factory=lambda: [0.5, 0.8, 0.95])
    partners: Filter | None = None
    families: Filter | None = None
    regions: Filter | None = None
    new_partners: Annotated[
        list[Label | NewPartnerSpec],
        msgspec.Meta(
            max_length=20,
            description="partners never seen (a label or {id, region, alliances}), drawn from the population",
        ),
    ] = msgspec.field(default_factory=list)
    new_families: Annotated[
        list[Label | NewFamilySpec],
        msgspec.Meta(
            max_length=20,
            description="families never seen (a label, or {id, category}), forecast from the population",
        ),
    ] = msgspec.field(default_factory=list)


class BlockBuyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Cumulative demand of a set of partners over a window of forecast years; ``organisation`` (GET
    /v1/organisations) pools its members instead of naming partners."""

    partners: Filter | None = None
    organisation: Label | None = None
    families: Filter | None = None
    regions: Filter | None = None
    first_year: Year | None = None
    last_year: Year | None = None
    levels: Levels = msgspec.field(default_factory=lambda: [0.5, 0.8, 0.95])
    at_least: AtLeast | None = None


class QuestionRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """P(the partners request at least ``at_least`` units of ``family``, or of one named ``system``
    (GET /v1/systems), within ``within_months`` months of ``from``): one partner, several, a region,
    or (left out) every partner the key may see. Name a family, a system, or both (they must agree)."""

    family: Label | None = None
    system: Label | None = None
    at_least: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000, description="units requested, at least")]
    within_months: Annotated[int, msgspec.Meta(ge=1, le=120, description="the window's length in months")]
    start: Annotated[
        datetime.date | None,
        msgspec.Meta(description="the window's first day (default: 1 January of the first forecast year)"),
    ] = msgspec.field(default=None, name="from")
    partners: Filter | None = None
    regions: Filter | None = None
    levels: Levels = msgspec.field(default_factory=lambda: [0.8])


class Interval(msgspec.Struct):
    level: float
    lower: float
    upper: float


class UnitsSummary(msgspec.Struct):
    mean: float
    median: float
    intervals: list[Interval]


class CellForecast(msgspec.Struct):
    partner: str
    family: str
    year: int
    mean: float
    median: float
    p_any: float
    p_any_within_horizon: float
    intervals: list[Interval]
    units: UnitsSummary


class TotalForecast(msgspec.Struct):
    year: int
    mean: float
    median: float
    p_any: float
    intervals: list[Interval]
    units: UnitsSummary
    family: str | None = None


class TotalDemand(msgspec.Struct):
    """Units per family and year: domestic plan + firm + converted pending + new LORs, and line risk."""

    family: str
    year: int
    domestic: Annotated[
        float | None,
        msgspec.Meta(
            description="expected domestic plan quantity; null: no plan for the family (counted as 0)"
        ),
    ]
    domestic_basis: Annotated[
        Literal["budget", "carried", "none"],
        msgspec.Meta(
            description="'budget': a DoD budget quantity; 'carried': past the family's last budgeted "
            "year, the mean of its last 3 budgeted years carried forward as a mean-one log random walk "
            "whose yearly s.d. is that of the budgets' own year-on-year changes (0.45 on the default data); "
            "'none': no plan"
        ),
    ]
    firm: float
    pending_expected: float
    new_lors_expected: float
    mean: float
    median: float
    intervals: list[Interval]
    min_sustaining_rate: float | None
    max_rate: float | None
    p_below_min: float | None
    p_above_max: float | None


class CombinedSources(msgspec.Struct):
    """Expected units from each source over the window."""

    domestic: float
    firm: float
    pending: float
    new_lors: float


class CombinedBuy(msgspec.Struct):
    """The block buy as a line sees it: domestic plan + the partners' firm and converted pending LORs
    + their forecast new LORs, in units summed over the window, draw by draw."""

    mean: float
    median: float
    intervals: list[Interval]
    sources: CombinedSources
    shares: Annotated[CombinedSources, msgspec.Meta(description="each source's share of the expected total")]
    p_at_least: Annotated[float | None, msgspec.Meta(description="P(combined >= at_least); null without it")]


class BlockBuyRow(msgspec.Struct):
    """New LORs of the partners (count, and units as ``units``), and the combined buy."""

    family: str
    mean: float
    median: float
    p_any: float
    intervals: list[Interval]
    units: UnitsSummary
    combined: CombinedBuy


class BlockBuyResponse(msgspec.Struct):
    organisation: str | None
    partners: list[str]
    first_year: int
    last_year: int
    levels: list[float]
    at_least: int | None
    rows: list[BlockBuyRow]


class QuestionWindow(msgspec.Struct):
    start: str = msgspec.field(name="from")
    to: str
    share_of_each_year: dict[int, float]


class QuestionBasis(msgspec.Struct):
    """What an answer rests on."""

    data_through: int
    book_as_of: str
    timing: str
    counts: str
    draws: int
    system_share: str | None = None


class SystemForecastRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A family's forecast split over its named systems, per system and year, for the selected partners."""

    family: Label
    horizon: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    partners: Filter | None = None
    regions: Filter | None = None
    levels: Levels = msgspec.field(default_factory=lambda: [0.5, 0.8, 0.95])


class SystemYear(msgspec.Struct):
    system: str
    year: int
    mean: float
    median: float
    p_any: float
    intervals: list[Interval]
    units: UnitsSummary
    basis: str


class SystemForecast(msgspec.Struct):
    model: ServedModel
    family: str
    partners: list[str]
    units_split: str
    rows: list[SystemYear]


class SupplierOutlookRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Which supplier the selected partners' next orders are likely to go to, per partner × family
    (left out: every partner the key may see, every family)."""

    partners: Filter | None = None
    families: Filter | None = None
    regions: Filter | None = None
    horizon: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    levels: Levels = msgspec.field(default_factory=lambda: [0.8])
    top: Annotated[int, msgspec.Meta(ge=0, le=20)] = 3


class Probability(msgspec.Struct):
    mean: float
    intervals: list[Interval]


class ShareYear(msgspec.Struct):
    year: int
    mean: float
    intervals: list[Interval]


class SupplierHistory(msgspec.Struct):
    first_year: int
    last_year: int
    orders: int
    us_orders: int
    recent_years: int
    recent_orders: int
    recent_us_orders: int


class Competitor(msgspec.Struct):
    supplier: str
    orders: int
    share: float
    last_year: int


class SupplierCell(msgspec.Struct):
    partner: str
    family: str
    region: str
    basis: str
    p_next_us: Probability
    shares: list[ShareYear]
    change_per_decade: Probability
    history: SupplierHistory
    competitors: list[Competitor]


class ChannelReported(msgspec.Struct):
    year: int
    fms_usd_m: float
    dcs_usd_m: float


class ChannelPartner(msgspec.Struct):
    partner: str
    basis: str
    p_fms: list[ShareYear]
    last_reported: ChannelReported | None


class SupplierOutlook(msgspec.Struct):
    model: ServedModel
    horizon: int
    levels: list[float]
    rows: list[SupplierCell]
    channels: list[ChannelPartner]  # empty where the served file has no channel model
    channel_note: str


class LineRiskRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A production line's load per production year (GET /v1/lines), from the selected partners' demand
    (left out: every partner the key may see) plus the DoD's own quantity."""

    line: Label
    partners: Filter | None = None
    regions: Filter | None = None
    levels: Levels = msgspec.field(default_factory=lambda: [0.8])


class LineYear(msgspec.Struct):
    year: int
    domestic_expected: float
    backlog_expected: float
    firm_expected: float
    pending_expected: float
    forecast_expected: float
    mean: float
    median: float
    intervals: list[Interval]
    p_below_min: Annotated[float, msgspec.Meta(description="P(load < the minimum sustaining rate)")]
    p_above_max: Annotated[float, msgspec.Meta(description="P(load > the maximum rate)")]


class LineRisk(msgspec.Struct):
    model: ServedModel
    line: str
    name: str
    min_sustaining_rate: float
    rate_1_8_5: float
    max_rate: float
    capacity_basis: str
    lead_months: float
    systems: list[str]
    timing_basis: dict[str, str]
    domestic_basis: str
    partners: list[str]
    data_through: int
    rows: list[LineYear]
    what_if: Annotated[list[str], msgspec.Meta(description="the scenario's what-ifs, in words")] = (
        msgspec.field(default_factory=list)
    )


Units = Annotated[float, msgspec.Meta(ge=0, le=1_000_000_000)]


class HypotheticalLorSpec(msgspec.Struct, forbid_unknown_fields=True):
    """A request that has not come (yet): it joins the book, and the forecast of its partner, system's
    family and year is conditioned on it, as a posted request would."""

    partner: Label
    system: Label
    year: Year
    quantity: Annotated[float, msgspec.Meta(gt=0, le=1_000_000_000, description="units")]
    status: Literal["firm", "pending"] = "firm"


class WhatIf(msgspec.Struct, forbid_unknown_fields=True):
    """The what-ifs of a scenario; each left out changes nothing."""

    lors: Annotated[list[HypotheticalLorSpec], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    plan_scale: Annotated[
        float, msgspec.Meta(ge=0, le=10, description="the domestic plan times this (0.7: a 30% cut)")
    ] = 1.0
    plan_from: Annotated[Year | None, msgspec.Meta(description="the cut applies from this year on")] = None
    min_rate: Annotated[
        Units | None, msgspec.Meta(description="the line's minimum sustaining rate instead")
    ] = None
    max_rate: Annotated[Units | None, msgspec.Meta(description="the line's maximum rate instead")] = None
    leaving: Annotated[
        list[Label],
        msgspec.Meta(max_length=500, description="partners leaving the buy (their demand drops out)"),
    ] = msgspec.field(default_factory=list)


class SystemBlockBuyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A block buy of named systems (GET /v1/systems): per system, domestic plan + the buyers' firm and
    pending requests + their forecast new requests, received in the window."""

    systems: Filter
    partners: Filter | None = None
    regions: Filter | None = None
    first_year: Year | None = None
    last_year: Year | None = None
    levels: Levels = msgspec.field(default_factory=lambda: [0.5, 0.8, 0.95])
    at_least: AtLeast | None = None


class SystemSources(msgspec.Struct):
    domestic: float
    firm: float
    pending: float
    forecast: float


class SystemBuyRow(msgspec.Struct):
    system: str
    family: str
    mean: float
    median: float
    intervals: list[Interval]
    p_at_least: Annotated[float | None, msgspec.Meta(description="P(combined >= at_least); null without it")]
    new_requests_expected: float
    sources: Annotated[SystemSources, msgspec.Meta(description="expected units from each source")]
    shares: Annotated[SystemSources, msgspec.Meta(description="each source's share of the expected total")]
    domestic_basis: str


class SystemBlockBuy(msgspec.Struct):
    model: ServedModel
    partners: list[str]
    first_year: int
    last_year: int
    levels: list[float]
    at_least: int | None
    data_through: int
    book_as_of: str
    timing_basis: str
    what_if: list[str]
    rows: list[SystemBuyRow]


class ScenarioRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A what-if put to a production line's risk (``line``) or to a block buy of named systems
    (``systems``): the answer gives the baseline and the scenario from the same draws, and the change."""

    line: Label | None = None
    systems: Filter | None = None
    partners: Filter | None = None
    regions: Filter | None = None
    first_year: Year | None = None
    last_year: Year | None = None
    levels: Levels = msgspec.field(default_factory=lambda: [0.8])
    at_least: AtLeast | None = None
    what_if: WhatIf


class ScenarioChange(msgspec.Struct):
    """Scenario minus baseline, per production year (a line) or per system (a buy)."""

    key: Annotated[str, msgspec.Meta(description="the year (a line) or the system (a buy)")]
    mean: float
    p_below_min: float | None = None
    p_above_max: float | None = None
    p_at_least: float | None = None


class ScenarioAnswer(msgspec.Struct):
    kind: Literal["line", "block_buy"]
    what_if: list[str]
    baseline: dict[str, Any]
    scenario: dict[str, Any]
    change: list[ScenarioChange]


class BasisRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What an answer about ``family`` or one named ``system``, for these partners, is based on."""

    family: Label | None = None
    system: Label | None = None
    partners: Filter | None = None
    regions: Filter | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000, description="at most this many mentions")] = 100


class BookRequest(msgspec.Struct):
    id: str
    partner: str
    family: str
    system: str | None
    status: str
    received: str
    quantity: int | None
    designation: str
    source: str
    channel: str  # fms | hybrid | "" (not stated)


class Span(msgspec.Struct):
    start: int
    end: int


class Relation(msgspec.Struct):
    threat: str | None
    gap: str | None
    system: str | None


class TextMention(msgspec.Struct):
    doc_id: str
    kind: Literal["notification", "document"]
    partner: str
    family: str
    date: str
    designation: str
    quantity: int | None
    span: Annotated[Span | None, msgspec.Meta(description="character offsets of the quote in the text")]
    quote: str
    sentence: str
    urgency: Annotated[float | None, msgspec.Meta(description="the sentence's urgency in (-1, 1)")]
    relation: Annotated[Relation | None, msgspec.Meta(description="threat -> capability gap -> system")]
    source: str


class SignalEffect(msgspec.Struct):
    partner: str
    year: int
    factor: Annotated[float, msgspec.Meta(description="x on the expected requests from the text signal")]


class SignalBasis(msgspec.Struct):
    in_model: bool
    note: str
    effects: list[SignalEffect]


class Basis(msgspec.Struct):
    model: ServedModel
    family: str
    system: str | None
    partners: list[str]
    data_through: int
    book_as_of: str
    history: Annotated[str, msgspec.Meta(description="what the model learned from")]
    requests: Annotated[list[BookRequest], msgspec.Meta(description="the book's requests the answer counts")]
    mentions: list[TextMention]
    signal: SignalBasis


class WhyRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Why the answer to a question (as in POST /v1/questions) moved: ``since`` "fit" compares the
    served model as fitted with the served model now (the requests posted since); a model id compares
    that model, as fitted, with the served one now."""

    family: Label | None = None
    system: Label | None = None
    at_least: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000, description="units requested, at least")]
    within_months: Annotated[int, msgspec.Meta(ge=1, le=120, description="the window's length in months")]
    start: Annotated[datetime.date | None, msgspec.Meta(description="the window's first day")] = (
        msgspec.field(default=None, name="from")
    )
    partners: Filter | None = None
    regions: Filter | None = None
    since: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_CONTROL)] = "fit"


class WhyState(msgspec.Struct):
    model_id: str
    book_as_of: str
    probability: float
    expected_units: float


class WhyPart(msgspec.Struct):
    component: Literal["book", "data", "model_version", "priors", "refit"]
    changed: Annotated[list[str], msgspec.Meta(description="what differs between the two states")]
    probability: Annotated[float, msgspec.Meta(description="this part's change in the probability")]
    expected_units: float
    detail: str


class Why(msgspec.Struct):
    model: ServedModel
    since: str
    before: WhyState
    after: WhyState
    change: Annotated[WhyState, msgspec.Meta(description="after minus before (model_id: the served one)")]
    parts: Annotated[list[WhyPart], msgspec.Meta(description="the change split: the parts add up to it")]


class LineInfo(msgspec.Struct):
    id: str
    name: str
    service: str
    min_sustaining_rate: float
    rate_1_8_5: float
    max_rate: float
    budget_year: int
    systems: list[str]


class LorStatusRequest(msgspec.Struct, forbid_unknown_fields=True):
    status: Annotated[str, msgspec.Meta(pattern="^(firm|pending|withdrawn)$", description="the new status")]


class SystemInfo(msgspec.Struct):
    id: str
    name: str
    family: str
    line: str | None
    basis: str


class QuestionAnswer(msgspec.Struct):
    model: ServedModel
    family: str
    system: str | None
    at_least: int
    within_months: int
    probability: Annotated[float, msgspec.Meta(description="P(units requested in the window >= at_least)")]
    p_any_request: float
    expected_units: float
    expected_requests: float
    median_units: float
    intervals: list[Interval]
    partners: list[str]
    window: QuestionWindow
    rests_on: QuestionBasis


class OrganisationInfo(msgspec.Struct):
    id: str
    name: str
    members: list[str]  # those the served model knows
    rule: str


class Partner(msgspec.Struct):
    id: str
    name: str
    region: str


class Family(msgspec.Struct):
    id: str
    name: str
    category: str


class ServedModel(msgspec.Struct):
    """The model a forecast was answered from."""

    id: str
    status: str
    fitted_at: str
    data_hash: str
    priors_hash: str
    code_version: str
    approximate: bool
    diagnostics: dict[str, Any]


class ForecastResponse(msgspec.Struct):
    model: ServedModel
    horizon: int
    levels: list[float]
    cells: list[CellForecast]
    family_totals: list[TotalForecast]
    year_totals: list[TotalForecast]
    total_demand: Annotated[
        list[TotalDemand],
        msgspec.Meta(description="domestic plan + the selected partners' firm, pending and new LORs"),
    ]


Component = Annotated[str, msgspec.Meta(pattern="^(alliance|readiness|nlp|dynamics)$")]


class FitRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A fit of the stored records; omitted sampler settings take the model's defaults."""

    draws: Annotated[int, msgspec.Meta(ge=50, le=10_000)] | None = None
    tune: Annotated[int, msgspec.Meta(ge=50, le=10_000)] | None = None
    chains: Annotated[int, msgspec.Meta(ge=1, le=8)] | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None
    target_accept: Annotated[float, msgspec.Meta(ge=0.5, le=0.99)] | None = None
    parallel_chains: Annotated[int, msgspec.Meta(ge=1, le=8)] | None = None
    first_year: Annotated[int, msgspec.Meta(ge=1950, le=2100)] = 1990
    zero_inflated: bool = False
    without: Annotated[list[Component], msgspec.Meta(max_length=4)] = msgspec.field(default_factory=list)
    demand_basis: Annotated[
        Literal["us", "every_supplier"],
        msgspec.Meta(
            description="us: fit U.S. requests (the default); every_supplier: fit every supplier's orders "
            "and thin the forecasts to U.S. demand by the U.S. share model (docs/suppliers.md)"
        ),
    ] = "us"
    warm_start: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=32,
                pattern=NO_CONTROL,
                description="a model id, or 'active': start from its sampler state",
            ),
        ]
        | None
    ) = None
    activate: Annotated[bool, msgspec.Meta(description="serve the result if it passes its gates")] = False


class Job(msgspec.Struct):
    id: str
    kind: str
    status: str
    stage: str
    progress: float
    params: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    model_id: str | None
    error: str | None
    log_tail: list[str] = msgspec.field(default_factory=list)


class ModelSummary(msgspec.Struct):
    id: str
    status: str
    active: bool
    created_at: str
    fitted_at: str | None
    data_hash: str | None
    priors_hash: str | None
    code_version: str | None
    approximate: bool
    job_id: str | None
    diagnostics: dict[str, Any]


class Stored(msgspec.Struct):
    """An upload stored whole: its batch id and row count."""

    batch: int
    kind: str
    rows: int
    replaced: int


class RowError(msgspec.Struct):
    row: int | None
    field: str | None
    value: str | None
    reason: str


class KeyRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_CONTROL)]
    role: Annotated[str, msgspec.Meta(pattern="^(reader|analyst|admin)$")]
    partners: (
        Annotated[
            list[Label],
            msgspec.Meta(
                min_length=1,
                max_length=500,
                description="limit a reader or analyst key to these partners (an admin key sees all)",
            ),
        ]
        | None
    ) = None


class Key(msgspec.Struct):
    id: str
    name: str
    role: str
    partners: list[str] | None
    created_at: str
    revoked_at: str | None = None
    token: Annotated[str, msgspec.Meta(description="shown once, at creation")] | None = None


class Health(msgspec.Struct):
    status: str
    model_id: str | None
    model_loaded_at: float | None
    database: str


class ErrorBody(msgspec.Struct):
    """Every 4xx (and the rare 5xx): what went wrong, and for uploads and bodies each bad row or field."""

    status_code: int
    detail: str
    errors: list[RowError] | None = None


class TextIn(msgspec.Struct, forbid_unknown_fields=True):
    """A text to extract from: a notification (sale release) or a dated document about a partner."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NO_CONTROL)]
    text: Annotated[
        str,
        msgspec.Meta(
            min_length=1, max_length=200_000, description="no control characters but tab and line breaks"
        ),
    ]
    kind: Literal["notification", "document"] = "document"
    partner: Label | None = None  # documents: partner id or name
    date: datetime.date | None = None  # documents: when it was written


class TextsUpload(msgspec.Struct, forbid_unknown_fields=True):
    texts: Annotated[list[TextIn], msgspec.Meta(min_length=1, max_length=1000)]


class Extraction(msgspec.Struct):
    """What was read from one notification (see `totaldemand extract`)."""

    id: str
    country: str | None
    date: str | None
    estimated_cost_usd: float | None
    items: list[dict[str, Any]]
    primary_category: str | None
    kind: str | None


class TextsStored(msgspec.Struct):
    """Pending LORs and NLP evidence rows stored from the texts, in one transaction."""

    stored: list[Stored]
    lors: int
    evidence: int
    extractions: list[Extraction]

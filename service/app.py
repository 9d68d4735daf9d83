"""The Litestar application: forecasts served from a stored posterior, OpenAPI at ``/schema``."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.openapi import OpenAPIConfig
from litestar.params import Body

from bayes.fitting import load_forecaster
from bayes.forecast import MAX_HORIZON, Forecaster, ForecastError, NewFamily, NewPartner, records
from bayes.model import DemandModel
from totaldemand import settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


Label = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class NewPartnerSpec(msgspec.Struct, forbid_unknown_fields=True):
    """A partner never seen; its region and alliances, when known, place it in the hierarchy."""

    id: Label
    region: str | None = None
    alliances: Annotated[list[Label], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)


class NewFamilySpec(msgspec.Struct, forbid_unknown_fields=True):
    id: Label
    category: str | None = None


Levels = Annotated[
    list[Annotated[float, msgspec.Meta(gt=0, lt=1)]], msgspec.Meta(min_length=1, max_length=10)
]


class ForecastRequest(msgspec.Struct, forbid_unknown_fields=True):
    """What to forecast. Omitted filters mean all known values."""

    horizon: Annotated[int, msgspec.Meta(ge=1, le=MAX_HORIZON, description="years ahead")] = 3
    levels: Levels = msgspec.field(default_factory=lambda: [0.5, 0.8, 0.95])
    partners: list[str] | None = None
    families: list[str] | None = None
    regions: list[str] | None = None
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
    """Cumulative demand of a set of partners over a window of forecast years."""

    partners: list[str] | None = None
    families: list[str] | None = None
    regions: list[str] | None = None
    first_year: int | None = None
    last_year: int | None = None
    levels: Levels = msgspec.field(default_factory=lambda: [0.5, 0.8, 0.95])


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
    domestic: float | None
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


class BlockBuyRow(msgspec.Struct):
    family: str
    mean: float
    median: float
    p_any: float
    intervals: list[Interval]
    units: UnitsSummary


class BlockBuyResponse(msgspec.Struct):
    partners: list[str]
    first_year: int
    last_year: int
    levels: list[float]
    rows: list[BlockBuyRow]


class ModelInfo(msgspec.Struct):
    path: str
    status: str
    fitted_at: str
    data_hash: str
    priors_hash: str
    code_version: str
    diagnostics: dict[str, Any]


class ForecastResponse(msgspec.Struct):
    model: ModelInfo
    horizon: int
    levels: list[float]
    cells: list[CellForecast]
    family_totals: list[TotalForecast]
    year_totals: list[TotalForecast]
    total_demand: list[TotalDemand]


class Partner(msgspec.Struct):
    id: str
    name: str
    region: str


class Family(msgspec.Struct):
    id: str
    name: str
    category: str


@dataclass
class Served:
    """The active model and its compiled forecaster."""

    path: Path
    model: DemandModel
    forecaster: Forecaster
    loaded_at: float = field(default_factory=time.time)

    @classmethod
    def load(cls, path: Path) -> Served:
        model = DemandModel.load(path)
        return cls(path, model, load_forecaster(model, max_horizon=MAX_HORIZON))

    def info(self) -> ModelInfo:
        import json

        a = self.model.idata.attrs
        return ModelInfo(
            str(self.path),
            str(a["status"]),
            str(a["fitted_at"]),
            str(a["data_hash"]),
            str(a["priors_hash"]),
            str(a["code_version"]),
            json.loads(a["diagnostics"]),
        )


def _served(state: State) -> Served:
    return state.served


@get("/health", sync_to_thread=False)
def health(state: State) -> dict[str, Any]:
    served = _served(state)
    return {"status": "ok", "model_status": served.model.status, "model_loaded_at": served.loaded_at}


@get("/v1/partners", sync_to_thread=False)
def list_partners(state: State) -> list[Partner]:
    c = _served(state).model.coords
    return [
        Partner(str(p), str(n), str(r))
        for p, n, r in zip(
            c["partner"].values, c["partner_name"].values, c["partner_region"].values, strict=True
        )
    ]


@get("/v1/families", sync_to_thread=False)
def list_families(state: State) -> list[Family]:
    c = _served(state).model.coords
    return [
        Family(str(f), str(n), str(k))
        for f, n, k in zip(
            c["family"].values, c["family_name"].values, c["family_category"].values, strict=True
        )
    ]


@post("/v1/forecasts", sync_to_thread=True, status_code=200)
def create_forecast(
    state: State, data: Annotated[ForecastRequest, Body(media_type=RequestEncodingType.JSON)]
) -> ForecastResponse:
    """Posterior forecast per partner × family × year (LOR counts and units), family and yearly
    totals, and total demand per family and year with the risk to each production line."""
    served = _served(state)
    fc = served.forecaster.forecast(
        data.horizon,
        data.levels,
        data.partners,
        data.families,
        data.regions,
        [
            NewPartner(x) if isinstance(x, str) else NewPartner(x.id, x.region, tuple(x.alliances))
            for x in data.new_partners
        ],
        [NewFamily(x) if isinstance(x, str) else NewFamily(x.id, x.category) for x in data.new_families],
    )
    body = fc.to_dict()
    return ForecastResponse(
        served.info(),
        data.horizon,
        list(fc.levels),
        msgspec.convert(body["cells"], list[CellForecast]),
        msgspec.convert(body["family_totals"], list[TotalForecast]),
        msgspec.convert(body["year_totals"], list[TotalForecast]),
        msgspec.convert(body["total_demand"], list[TotalDemand]),
    )


@post("/v1/block-buys", sync_to_thread=True, status_code=200)
def create_block_buy(
    state: State, data: Annotated[BlockBuyRequest, Body(media_type=RequestEncodingType.JSON)]
) -> BlockBuyResponse:
    """Quantiles of cumulative LORs and units of a set of partners over a window (multinational pooling)."""
    ds = _served(state).forecaster.block_buy(
        data.partners, data.families, data.first_year, data.last_year, data.levels, data.regions
    )
    levels = tuple(float(v) for v in ds["level"].values)
    return BlockBuyResponse(
        list(ds.attrs["partners"]),
        int(ds.attrs["first_year"]),
        int(ds.attrs["last_year"]),
        list(levels),
        msgspec.convert(records(ds, ("family",), levels, units=True), list[BlockBuyRow]),
    )


def _bad_request(_: Request, exc: Exception) -> Response:
    """A request the forecaster cannot answer (unknown id, horizon out of range): 400, never 500."""
    return Response({"status_code": 400, "detail": str(exc)}, status_code=400)


def create_app(model_path: Path | str | None = None) -> Litestar:
    """Build the app around one posterior file (``TOTALDEMAND_MODEL`` or the default path)."""
    path = Path(model_path or os.environ.get(settings.MODEL_ENV) or settings.model_path())
    served = Served.load(path)
    if served.model.status != "ok":
        raise RuntimeError(f"{path}: model status {served.model.status!r}; refusing to serve a failed fit")
    log.info(
        "serving %s (data %s, fitted %s)",
        path,
        served.model.idata.attrs.get("data_hash"),
        served.model.idata.attrs.get("fitted_at"),
    )
    return Litestar(
        route_handlers=[health, list_partners, list_families, create_forecast, create_block_buy],
        state=State({"served": served}),
        openapi_config=OpenAPIConfig(title="totaldemand", version="0.1.0", path="/schema"),
        request_max_body_size=MAX_BODY_BYTES,
        exception_handlers={ForecastError: _bad_request},
    )


__all__ = ["ForecastRequest", "ForecastResponse", "create_app"]

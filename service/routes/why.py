"""Why did this move: ``POST /v1/why``.

The change in a planner's question between two states, split into parts that add up to it:

- ``since: "fit"``: the served model as fitted (its fitted book) against the same model now. Only the
  book differs, so the whole change is the book's: the requests posted, changed or withdrawn since.
- ``since: <model id>``: that model as fitted, then that model with today's book (the **book** part),
  then the served model with today's book (the refit). When the priors differ, their part is separated
  without a refit: the served model's draws reweighted to the earlier priors (bayes.prior_weights,
  Pareto-smoothed importance sampling; refused, and said so, when k-hat exceeds 0.7) give the answer
  with today's data and model under the earlier priors, and the rest of the refit is the data's or the
  model version's (code and model config). When both of those differ they are reported jointly, naming
  each difference: separating them needs a fit with one changed at a time, which an answer cannot afford.

Both states answer from stored draws with the same seeds, so nothing in the change is sampling noise
from answering twice.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.response import Response

from bayes.forecast import Forecaster, ForecastError
from service import registry
from service.bodies import Why, WhyRequest
from service.openapi import resource_router
from service.routes.common import JSON_BODY, cached_answer, forecast_post, served_model
from service.routes.forecasts import target
from service.state import Served, active_model, services_of


def _differences(before: Served, after: Served) -> dict[str, list[str]]:
    """What differs between two fits, per component."""
    a, b = before.record, after.record
    config_a, config_b = before.model.model_config, after.model.model_config
    priors_a, priors_b = config_a.get("priors", {}), config_b.get("priors", {})
    priors = sorted(k for k in {*priors_a, *priors_b} if priors_a.get(k) != priors_b.get(k))
    if not priors and a.priors_hash != b.priors_hash:
        priors = [f"priors hash {a.priors_hash} -> {b.priors_hash}"]
    version = [f"code {a.code_version} -> {b.code_version}"] if a.code_version != b.code_version else []
    version += sorted(
        f"model_config.{k}" for k in {*config_a, *config_b} - {"priors"} if config_a.get(k) != config_b.get(k)
    )
    data = [f"data hash {a.data_hash} -> {b.data_hash}"] if a.data_hash != b.data_hash else []
    if before.forecaster.years[0] != after.forecaster.years[0]:
        data.append(
            f"data through {int(before.forecaster.years[0]) - 1} -> {int(after.forecaster.years[0]) - 1}"
        )
    return {"data": data, "model_version": version, "priors": priors}


def _state(model_id: str, answer: dict) -> dict:
    return {
        "model_id": model_id,
        "book_as_of": answer["rests_on"]["book_as_of"],
        "probability": answer["probability"],
        "expected_units": answer["expected_units"],
    }


def _part(component: str, changed: list[str], a: dict, b: dict, detail: str) -> dict:
    return {
        "component": component,
        "changed": changed,
        "probability": b["probability"] - a["probability"],
        "expected_units": b["expected_units"] - a["expected_units"],
        "detail": detail,
    }


@forecast_post("/why")
async def why(state: State, request: Request, data: Annotated[WhyRequest, JSON_BODY]) -> Response[Why]:
    """Why the answer to a planner's question moved, split into parts that add up to the change: the
    book (requests posted since a fit), and between two fits the data, the model version or the priors."""
    services = services_of(state)
    served = active_model(services)
    f = served.forecaster
    system, chosen = target(request, f, data)
    since = data.since.strip()
    if since != "fit":
        registry.get_model(services.engine, since)  # an unknown id is a 404 before anything is loaded

    def ask(forecaster: Forecaster, book: str, weights=None) -> dict:
        return forecaster.question(
            chosen.families[0],
            data.at_least,
            data.within_months,
            data.start,
            chosen.partners,
            system=system,
            book=book,
            weights=weights,
        )

    def compute() -> bytes:
        now = ask(f, "live")
        me = served.record.id
        if since == "fit":
            fitted = ask(f, "fitted")
            before, parts = (
                _state(me, fitted),
                [
                    _part(
                        "book",
                        ["the requests posted, changed or withdrawn since the fit"],
                        fitted,
                        now,
                        "no refit: same draws",
                    )
                ],
            )
            parts += [_part(c, [], now, now, "the same fit") for c in ("data", "model_version", "priors")]
        else:
            other = services.holder.compared(since)
            if int(other.forecaster.years[0]) != int(f.years[0]):
                raise ForecastError(
                    f"since: model {since} forecasts from {int(other.forecaster.years[0])}, the served one "
                    f"from {int(f.years[0])}; a question's window means different years to them"
                )
            fitted, today = ask(other.forecaster, "fitted"), ask(other.forecaster, "live")
            before = _state(since, fitted)
            parts = [
                _part("book", ["the requests posted, changed or withdrawn since its fit"], fitted, today, "")
            ]
            changed = _differences(other, served)
            moved = [c for c, what in changed.items() if what]
            # today's data and model under the earlier priors: the served draws reweighted to them
            end, priors_part = now, None
            if "priors" in moved:
                rw = f.reweighted_to(other.model.priors)
                if rw.usable:
                    end = ask(f, "live", rw.weights)
                    khat = "no tail to smooth" if rw.khat is None else f"k-hat {rw.khat:.2f}"
                    detail = f"the served draws reweighted to the earlier priors (PSIS, {khat})"
                    priors_part = _part("priors", changed["priors"], end, now, detail)
                    moved.remove("priors")
                else:
                    changed["priors"] = [*changed["priors"], f"not separated: {rw.reason}"]
            if len(moved) == 1:
                detail = "the only other difference between the fits"
                parts.append(_part(moved[0], changed[moved[0]], today, end, detail))
            elif moved:
                detail = (
                    f"the fits differ in {', '.join(moved)}: reported jointly (separating them needs a fit "
                )
                detail += "with one changed at a time)"
                parts.append(_part("refit", [x for c in moved for x in changed[c]], today, end, detail))
            else:
                detail = "the fits differ in nothing else recorded: the change is the sampler's (another run)"
                parts.append(_part("refit", [], today, end, detail))
            if priors_part is not None:
                parts.append(priors_part)
        body = {
            "model": served_model(served),
            "since": since,
            "before": before,
            "after": _state(me, now),
            "change": {
                "model_id": me,
                "book_as_of": now["rests_on"]["book_as_of"],
                "probability": now["probability"] - before["probability"],
                "expected_units": now["expected_units"] - before["expected_units"],
            },
            "parts": parts,
        }
        return msgspec.json.encode(body)

    key = ("why", system, data.at_least, data.within_months, data.start, since, chosen)
    return await cached_answer(request, served, key, compute, len(chosen.partners) * 6)


router = resource_router("/v1", [why], tag="forecasts")

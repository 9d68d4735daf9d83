"""Load on the real HTTP server: a mixed request set from 50 concurrent clients, with and without a fit.

Usage: python benchmarks/serve_load.py [--model FILE --data DIR] [--clients 50] [--seconds 20]
       [--miss-rate 0.01] [--no-fit] [--mix forecasts|planner] [--json]

Starts ``totaldemand serve`` in a subprocess on a fresh data directory, creates an admin key with the
CLI, and drives it with closed-loop aiohttp clients (each sends its next request when the last one is
answered) over loopback.

The mixed request set (``mixed_requests``, seeded): 60 distinct requests, 80% ``POST /v1/forecasts`` and
20% ``POST /v1/block-buys``, whose partners are one partner (40%), three partners (20%), a region (20%)
or every partner (20%; then one to three families, since every cell of every family is a 4 MB answer
no dashboard polls); families all or one to three; horizons 1-5; credible levels from three sets.
``--mix planner``: the planner's mix instead (``_planner_request``), over the same partner choices and
the server's listings (GET /v1/systems, /v1/lines; the forecast years read off one line risk): 35%
questions per named system or family, 15% system forecasts, 15% line risks, 15% block buys of one to
three named systems (``POST /v1/system-block-buys``, a window of forecast years, at least N or not) and
20% what-if scenarios (``POST /v1/scenarios``, half on a line's risk, half on a block buy), each with a
what-if drawn from the seeded rng (hypothetical firm or pending requests, a plan cut, partners leaving,
a line's rates), so the 60 are distinct and a scenario answer computes its baseline and the what-if.
After one pass through the 60 (each a cache miss, timed apart), each request under load is one of the
60 (a cache hit) or, with probability ``--miss-rate``, a request never sent before (three partners
drawn afresh: a miss computed from the draws).

Phases, each ``--seconds`` long and measured in the same run: one client with no fit (the reference),
``--clients`` clients with no fit, and ``--clients`` clients while a fit job samples (past compilation).
Printed per phase: requests, throughput, p50/p90/p99/max latency, errors, and cache hits and misses
from the server's own metrics. The target: p99 under 100 ms at 50 clients in both loaded phases.
Without ``--model`` it serves the stored default fit (``var/models/default.nc``, from ``make run``) on
the embedded data, or else fits a small simulated world first (a minute or two).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from service.testing import LiveServer, admin_token

TARGET_P99_MS = 100.0
LEVELS = ([0.5, 0.8, 0.95], [0.8], [0.9, 0.95])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _model_and_data(args: argparse.Namespace, scratch: Path) -> tuple[Path, Path | None, int]:
    if args.model:
        return Path(args.model), Path(args.data) if args.data else None, args.first_year
    default = Path("var/models/default.nc")
    if default.is_file():
        return default, None, 1990
    world, model = scratch / "world", scratch / "sim.nc"
    cli = [sys.executable, "-m", "totaldemand.cli"]
    subprocess.run([*cli, "simulate", "--seed", "11", "--out", str(world)], check=True)
    subprocess.run(
        [*cli, "fit", "--data", str(world), "--out", str(model), "--first-year", "2000", "--seed", "5"],
        check=True,
    )
    return model, world, 2000


def _whose(rng: random.Random, partners: list[dict]) -> dict:
    """Whose demand a request asks about: one partner (40%), three (20%), a region (20%), or every
    partner (20%: no filter)."""
    which = rng.random()
    if which < 0.4:
        return {"partners": [rng.choice(partners)["id"]]}
    if which < 0.6:
        return {"partners": [p["id"] for p in rng.sample(partners, 3)]}
    if which < 0.8:
        return {"regions": [rng.choice(sorted({p["region"] for p in partners}))]}
    return {}


def _request(rng: random.Random, partners: list[dict], families: list[str]) -> tuple[str, dict]:
    """One request of the mixed set (module docstring)."""
    path = "/v1/forecasts" if rng.random() < 0.8 else "/v1/block-buys"
    body: dict = {"levels": rng.choice(LEVELS), **_whose(rng, partners)}
    some_families = rng.sample(families, rng.randint(1, 3))
    if not body.keys() & {"partners", "regions"}:
        body["families"] = some_families
    if "families" not in body and rng.random() < 0.5:
        body["families"] = some_families
    if path == "/v1/forecasts":
        body["horizon"] = rng.randint(1, 5)
    return path, body


def _chosen(body: dict, partners: list[dict]) -> list[str]:
    """The ids of the partners a request asks about: its partners, its region's, or every partner."""
    if "partners" in body:
        return list(body["partners"])
    if "regions" in body:
        return [p["id"] for p in partners if p["region"] in body["regions"]]
    return [p["id"] for p in partners]


def _window(rng: random.Random, years: list[int]) -> dict:
    """A block buy's window: every forecast year (half), or a run of them drawn afresh."""
    if rng.random() < 0.5:
        return {}
    first = rng.randrange(len(years))
    return {"first_year": years[first], "last_year": years[rng.randint(first, len(years) - 1)]}


def _what_if(
    rng: random.Random, chosen: list[str], systems: list[str], years: list[int], line: dict | None
) -> dict:
    """A varied what-if (bayes.scenario), one to three of: hypothetical requests (one or two, from
    distinct partners, firm or pending, of the question's systems in its years), a plan cut from a year
    on, partners leaving (never all), and on a line its rates. Drawn from ``rng``, so most are new to
    the cache."""
    kinds = ["lors", "plan", "leaving"] + (["rates"] if line else [])
    picked = set(rng.sample(kinds, rng.randint(1, 3)))
    if len(chosen) < 2:  # a lone partner cannot leave
        picked.discard("leaving")
    if not picked or not systems:
        picked = {"plan"}
    what_if: dict = {}
    staying = chosen
    if "leaving" in picked:
        leaving = rng.sample(chosen, rng.randint(1, min(2, len(chosen) - 1)))
        what_if["leaving"] = leaving
        staying = [p for p in chosen if p not in leaving]
    if "lors" in picked:
        what_if["lors"] = [
            {
                "partner": partner,
                "system": rng.choice(systems),
                "year": rng.choice(years),
                "quantity": rng.choice([10, 24, 50, 100, 200, 500]),
                "status": rng.choice(["firm", "pending"]),
            }
            for partner in rng.sample(staying, min(rng.randint(1, 2), len(staying)))
        ]
    if "plan" in picked:
        what_if["plan_scale"] = rng.choice([0.5, 0.7, 0.9, 1.2])
        if rng.random() < 0.7:
            what_if["plan_from"] = rng.choice(years)
    if "rates" in picked and line:
        low, high = line["min_sustaining_rate"], line["max_rate"]
        what_if["min_rate"] = round(low * rng.choice([0.8, 1.2]))
        what_if["max_rate"] = max(round(high * rng.choice([0.9, 1.25])), what_if["min_rate"])
    return what_if


def _planner_request(
    rng: random.Random, partners: list[dict], systems: list[dict], lines: list[dict], years: list[int]
) -> tuple[str, dict]:
    """One request of the planner's mix: 35% questions (a named system or its family, one partner, three,
    a region or all; 6-36 months), 15% system forecasts, 15% line risks, 15% block buys of one to three
    named systems (``/v1/system-block-buys``), and 20% what-if scenarios (``/v1/scenarios``), half on a
    line's risk and half on a block buy, each with a what-if drawn afresh (:func:`_what_if`)."""
    which, body = rng.random(), _whose(rng, partners)
    system = rng.choice(systems)
    if which < 0.35:
        named = {"system": system["id"]} if rng.random() < 0.7 else {"family": system["family"]}
        body |= named | {
            "at_least": rng.choice([1, 6, 24, 100]),
            "within_months": rng.choice([6, 12, 18, 36]),
        }
        return "/v1/questions", body
    if which < 0.5:
        return "/v1/system-forecasts", body | {"family": system["family"], "horizon": rng.randint(1, 5)}
    if which < 0.65:
        return "/v1/line-risk", body | {"line": rng.choice(lines)["id"]}
    chosen = _chosen(body, partners)
    if which < 0.8 or rng.random() < 0.5:  # a block buy, or a scenario on one
        named = [x["id"] for x in rng.sample(systems, rng.randint(1, min(3, len(systems))))]
        window = _window(rng, years)
        body |= {"systems": named, "at_least": rng.choice([None, 24, 100, 500]), **window}
        if body["at_least"] is None:
            del body["at_least"]
        if which < 0.8:
            return "/v1/system-block-buys", body
        inside = [
            y for y in years if window.get("first_year", years[0]) <= y <= window.get("last_year", years[-1])
        ]
        return "/v1/scenarios", body | {"what_if": _what_if(rng, chosen, named, inside, None)}
    line = rng.choice(lines)
    return "/v1/scenarios", body | {
        "line": line["id"],
        "what_if": _what_if(rng, chosen, line["systems"], years, line),
    }


def mixed_requests(
    partners: list[dict],
    families: list[str],
    n: int = 60,
    seed: int = 0,
    systems: list[dict] | None = None,
    lines: list[dict] | None = None,
    years: list[int] | None = None,
) -> list[tuple[str, bytes]]:
    """The forecast mix, or with ``systems``, ``lines`` (GET /v1/systems and /v1/lines) and the forecast
    ``years`` the planner's mix (questions, system forecasts, line risks, block buys, scenarios)."""
    rng = random.Random(seed)
    requests: dict[str, tuple[str, bytes]] = {}
    while len(requests) < n:
        if systems:
            path, body = _planner_request(rng, partners, systems, lines or [], years or [])
        else:
            path, body = _request(rng, partners, families)
        encoded = json.dumps(body, sort_keys=True).encode()
        requests[path + encoded.decode()] = (path, encoded)
    return list(requests.values())


def forecast_years(url: str, headers: dict, line: str, partner: str) -> list[int]:
    """The served model's forecast years, read off one line risk (levels no request of the mix asks for,
    so that it leaves none of them in the cache)."""
    body = {"line": line, "partners": [partner], "levels": [0.6]}
    r = httpx.post(f"{url}/v1/line-risk", json=body, headers=headers, timeout=120)
    r.raise_for_status()
    return [int(row["year"]) for row in r.json()["rows"]]


def _cache_counts(url: str, headers: dict) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", headers=headers, timeout=30).text
    return {
        m[1]: float(m[2]) for m in re.finditer(r'totaldemand_forecast_cache\{result="(\w+)"\} (\S+)', text)
    }


async def _drive(
    url: str,
    headers: dict,
    requests: list[tuple[str, bytes]],
    partners: list[str],
    clients: int,
    seconds: float,
    miss_rate: float,
    phase: int,
) -> dict:
    latencies: list[float] = []
    fresh: list[float] = []  # the requests never sent before: each a cache miss
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds
    headers = {**headers, "content-type": "application/json"}

    async def client(session: aiohttp.ClientSession, rng: random.Random) -> None:
        while time.monotonic() < stop:
            new = rng.random() < miss_rate
            if new:  # three partners drawn afresh: a request never answered yet
                body = {"partners": rng.sample(partners, 3), "horizon": 3, "levels": [0.8]}
                path, data = "/v1/forecasts", json.dumps(body).encode()
            else:
                path, data = rng.choice(requests)
            started = time.perf_counter()
            try:
                async with session.post(f"{url}{path}", data=data, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        errors[str(r.status)] = errors.get(str(r.status), 0) + 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            latencies.append(time.perf_counter() - started)
            if new:
                fresh.append(latencies[-1])

    before = _cache_counts(url, headers)
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=clients)
    # The clients take gzip as any HTTP client does, but leave the bodies packed: on a shared box, inflating
    # them would charge the server's latency with the client's work.
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        # seeded per phase and client: no phase replays another's fresh requests (they would be hits)
        await asyncio.gather(*(client(session, random.Random(1000 * phase + i)) for i in range(clients)))
    wall = time.perf_counter() - started
    after = _cache_counts(url, headers)
    return {
        "clients": clients,
        "requests": len(latencies),
        "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * _percentile(latencies, 0.50), 1),
        "p90_ms": round(1000 * _percentile(latencies, 0.90), 1),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies), 1),
        "mean_ms": round(1000 * statistics.fmean(latencies), 2),
        "errors": errors,
        "fresh_requests": len(fresh),
        "fresh_p50_ms": round(1000 * _percentile(fresh, 0.5), 1) if fresh else None,
        "fresh_p99_ms": round(1000 * _percentile(fresh, 0.99), 1) if fresh else None,
        "cache_hits": int(after.get("hit", 0) - before.get("hit", 0)),
        "cache_misses": int(after.get("miss", 0) - before.get("miss", 0)),
    }


def _start_fit(url: str, headers: dict, first_year: int) -> dict:
    fit = {"draws": 1000, "tune": 500, "chains": 2, "first_year": first_year, "parallel_chains": 2}
    job = httpx.post(f"{url}/v1/models", json=fit, headers=headers, timeout=30).json()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/v1/jobs/{job['id']}", headers=headers).json()
        if job["progress"] > 0.1 or job["status"] not in ("running", "queued"):  # sampling, compiled
            break
        time.sleep(1)
    return job


def _line(name: str, r: dict) -> str:
    return (
        f"  {name:<28} {r['requests']:>7} req {r['throughput_rps']:>8} req/s  p50 {r['p50_ms']:>6} ms  "
        f"p90 {r['p90_ms']:>6} ms  p99 {r['p99_ms']:>6} ms  max {r['max_ms']:>7} ms  "
        f"errors {r['errors'] or 0}\n{'':30} of which {r['fresh_requests']} never sent before (misses): "
        f"p50 {r['fresh_p50_ms']} ms, p99 {r['fresh_p99_ms']} ms; the server counted {r['cache_hits']} hits "
        f"and {r['cache_misses']} misses"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="posterior file to serve")
    parser.add_argument("--data", help="dataset the database is seeded from (default: the embedded one)")
    parser.add_argument("--first-year", type=int, default=1990)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--miss-rate", type=float, default=0.01, help="share of requests never sent before")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--no-fit", action="store_true", help="skip the phase with a fit running")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--mix", choices=("forecasts", "planner"), default="forecasts", help="forecasts or the planner's mix"
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="serve-load-"))
    model, data, first_year = _model_and_data(args, scratch)
    server = LiveServer(scratch / "home", data, model, workers=args.workers).start(timeout=900)
    try:
        headers = {"authorization": f"Bearer {admin_token(server)}"}
        partners = httpx.get(f"{server.url}/v1/partners", headers=headers).json()
        families = [f["id"] for f in httpx.get(f"{server.url}/v1/families", headers=headers).json()]
        if args.mix == "planner":
            systems = httpx.get(f"{server.url}/v1/systems", headers=headers).json()
            lines = [x for x in httpx.get(f"{server.url}/v1/lines", headers=headers).json() if x["systems"]]
            years = forecast_years(server.url, headers, lines[0]["id"], partners[0]["id"])
            requests = mixed_requests(partners, families, systems=systems, lines=lines, years=years)
        else:
            requests = mixed_requests(partners, families)
        ids = [p["id"] for p in partners]

        misses = []  # the first pass: each request computed from the draws, one at a time
        for path, body in requests:
            started = time.perf_counter()
            r = httpx.post(
                f"{server.url}{path}", content=body, headers={**headers, "content-type": "application/json"}
            )
            misses.append(time.perf_counter() - started)
            r.raise_for_status()
        phases = {
            "first pass (each a miss)": {
                "requests": len(misses),
                "p50_ms": round(1000 * _percentile(misses, 0.5), 1),
                "p99_ms": round(1000 * _percentile(misses, 0.99), 1),
                "max_ms": round(1000 * max(misses), 1),
            }
        }
        drive = (server.url, headers, requests, ids)
        phases["1 client, no fit"] = asyncio.run(_drive(*drive, 1, args.seconds, args.miss_rate, 1))
        phases[f"{args.clients} clients, no fit"] = asyncio.run(
            _drive(*drive, args.clients, args.seconds, args.miss_rate, 2)
        )
        if not args.no_fit:
            job = _start_fit(server.url, headers, first_year)
            phases[f"{args.clients} clients, fit running"] = asyncio.run(
                _drive(*drive, args.clients, args.seconds, args.miss_rate, 3)
            )
            after = httpx.get(f"{server.url}/v1/jobs/{job['id']}", headers=headers).json()
            phases["fit job"] = {
                "before": f"{job['stage']} {job['progress']:.0%}",
                "after": f"{after['stage']} {after['progress']:.0%}",
                "status": after["status"],
            }
    finally:
        server.stop()
    result = {"model": str(model), "partners": len(partners), "miss_rate": args.miss_rate, "phases": phases}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    first = phases.pop("first pass (each a miss)")
    fit = phases.pop("fit job", None)
    print(
        f"serve_load: {model}, {len(partners)} partners; 60 distinct requests, miss rate {args.miss_rate:.0%}"
    )
    print(
        f"  first pass, each a miss: p50 {first['p50_ms']} ms, p99 {first['p99_ms']} ms, "
        f"max {first['max_ms']} ms"
    )
    for name, r in phases.items():
        print(_line(name, r))
    if fit:
        print(f"  fit job during load: {fit}")
    reference = phases["1 client, no fit"]["p99_ms"]
    loaded = [(n, r) for n, r in phases.items() if not n.startswith("1 client")]
    for name, r in loaded:
        met = r["p99_ms"] < TARGET_P99_MS and not r["errors"]
        print(
            f"  {name}: p99 {r['p99_ms']} ms = {r['p99_ms'] / max(reference, 1e-9):.1f}x the 1-client p99; "
            f"target p99 < {TARGET_P99_MS:.0f} ms with 0 errors: {'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()

"""Load on the real HTTP server: 50 concurrent clients over loopback while a fit job runs.

Usage: python benchmarks/serve_load.py [--model FILE --data DIR] [--clients 50] [--seconds 30] [--json]

Starts ``totaldemand serve`` in a subprocess on a fresh data directory, creates an admin key with
the CLI, starts a fit job through the API, and once it samples (past compilation) drives
``POST /v1/forecasts`` with a typical request (one partner, every family, 3 years, three credible
levels; the partner drawn at random per request) from ``--clients`` concurrent aiohttp clients for
``--seconds``. Repeated requests are answered from the served model's response cache; the first
request for each partner (computed from the draws) is timed separately. Printed: throughput,
p50/p90/p99/max latency, errors, the fit job's state before and after; and, as the reference
measured in the same run, the same request from one client with no fit running. Without ``--model``
it serves the stored default fit (``var/models/default.nc``, from ``make run``) on the embedded
data, or else fits a small simulated world first (a minute or two).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from service.testing import LiveServer, admin_token


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


async def _drive(url: str, headers: dict, bodies: list[bytes], clients: int, seconds: float) -> dict:
    """``clients`` closed-loop clients (each sends its next request when the last one is answered)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds
    headers = {**headers, "content-type": "application/json"}

    async def client(session: aiohttp.ClientSession, rng: random.Random) -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                async with session.post(f"{url}/v1/forecasts", data=rng.choice(bodies), headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        errors[str(r.status)] = errors.get(str(r.status), 0) + 1
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(client(session, random.Random(i)) for i in range(clients)))
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * _percentile(latencies, 0.50), 1),
        "p90_ms": round(1000 * _percentile(latencies, 0.90), 1),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies), 1),
        "mean_ms": round(1000 * statistics.fmean(latencies), 1),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="posterior file to serve")
    parser.add_argument("--data", help="dataset the database is seeded from (default: the embedded one)")
    parser.add_argument("--first-year", type=int, default=1990)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="serve-load-"))
    model, data, first_year = _model_and_data(args, scratch)
    server = LiveServer(scratch / "home", data, model).start(timeout=600)
    try:
        headers = {"authorization": f"Bearer {admin_token(server)}"}
        partners = [p["id"] for p in httpx.get(f"{server.url}/v1/partners", headers=headers).json()]
        bodies = [
            json.dumps({"horizon": 3, "partners": [p], "levels": [0.5, 0.8, 0.95]}).encode() for p in partners
        ]

        # each request once, one at a time: computed from the draws (cache misses), then cached
        misses = []
        json_headers = {**headers, "content-type": "application/json"}
        for body in bodies:
            started = time.perf_counter()
            httpx.post(f"{server.url}/v1/forecasts", content=body, headers=json_headers, timeout=30)
            misses.append(time.perf_counter() - started)
        first = {
            "requests": len(misses),
            "p50_ms": round(1000 * _percentile(misses, 0.5), 1),
            "p99_ms": round(1000 * _percentile(misses, 0.99), 1),
        }
        # reference: one client, nothing else running
        reference = asyncio.run(_drive(server.url, headers, bodies, 1, min(10.0, args.seconds)))

        fit = {"draws": 1000, "tune": 500, "chains": 2, "first_year": first_year, "parallel_chains": 2}
        job = httpx.post(f"{server.url}/v1/models", json=fit, headers=headers, timeout=30).json()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            job = httpx.get(f"{server.url}/v1/jobs/{job['id']}", headers=headers).json()
            # past compilation: the sampler's progress bar has started moving
            if job["progress"] > 0.1 or job["status"] not in ("running", "queued"):
                break
            time.sleep(1)
        before = {"status": job["status"], "stage": job["stage"], "progress": job["progress"]}
        loaded = asyncio.run(_drive(server.url, headers, bodies, args.clients, args.seconds))
        job = httpx.get(f"{server.url}/v1/jobs/{job['id']}", headers=headers).json()
        after = {"status": job["status"], "stage": job["stage"], "progress": job["progress"]}
        result = {
            "model": str(model),
            "partners": len(partners),
            "clients": args.clients,
            "seconds": args.seconds,
            "under_load_with_fit": loaded,
            "fit_job_before": before,
            "fit_job_after": after,
            "reference_one_client_no_fit": reference,
            "first_request_each_uncached_no_fit": first,
            "p99_ratio_to_reference_p99": round(loaded["p99_ms"] / max(reference["p99_ms"], 1e-9), 1),
        }
    finally:
        server.stop()
    if args.json:
        print(json.dumps(result, indent=1))
        return
    r, ref = result["under_load_with_fit"], result["reference_one_client_no_fit"]
    print(
        f"serve_load: {args.clients} clients x {args.seconds:.0f}s, "
        "POST /v1/forecasts (1 partner, all families, 3 years)"
    )
    print(f"  fit job during load: before {before}, after {after}")
    print(
        f"  under load: {r['requests']} requests, {r['throughput_rps']} req/s, p50 {r['p50_ms']} ms, "
        f"p90 {r['p90_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms, errors {r['errors'] or 0}"
    )
    print(
        f"  reference (1 client, no fit): {ref['throughput_rps']} req/s, p50 {ref['p50_ms']} ms, "
        f"p99 {ref['p99_ms']} ms; p99 ratio {result['p99_ratio_to_reference_p99']}x"
    )
    print(
        f"  first request per partner (computed from the draws, uncached): p50 {first['p50_ms']} ms, "
        f"p99 {first['p99_ms']} ms"
    )
    print(
        "  target p99 < 100 ms with 0 errors: "
        + ("met" if r["p99_ms"] < 100 and not r["errors"] else "NOT met")
    )


if __name__ == "__main__":
    main()

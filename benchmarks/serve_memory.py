"""Resident memory of the server serving the default model, after `make run` and under `totaldemand serve`.

Usage: python benchmarks/serve_memory.py [--home DIR] [--json]

Starts ``totaldemand up`` (what ``make run`` runs: the default model made current, fitted first where no
valid one is stored in ``DIR/models``, then served) and afterwards ``totaldemand serve`` on the same
home, each in a subprocess. Each gets the same traffic once it answers: the planner's 60 requests and the
forecast mix's 60 (``serve_load.mixed_requests``: questions, system forecasts, line risks, block buys,
what-ifs, forecasts of one partner to every partner), one at a time, then the planner page and a download
of the posterior file. Then it reads the server process's
resident memory now (VmRSS) and at its peak (VmHWM) from /proc. A fit ``up`` runs happens in a child
process of its own and is not the server's memory. Target: under 1.5 GB resident for both.

Pass ``--home`` to reuse a home whose default model is already fitted (``var/`` after ``make run``): the
first run on a fresh home fits it (15-20 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx
from serve_load import forecast_years, mixed_requests

from service.testing import LiveServer, admin_token

TARGET_BYTES = 1.5 * 2**30


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid``, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def _traffic(server: LiveServer) -> tuple[int, float]:
    """The planner's and the forecast mix's requests, once each; (requests, seconds)."""
    headers = {"authorization": f"Bearer {admin_token(server)}"}
    get = lambda path: httpx.get(f"{server.url}{path}", headers=headers, timeout=120).json()  # noqa: E731
    partners, families = get("/v1/partners"), [f["id"] for f in get("/v1/families")]
    lines = [x for x in get("/v1/lines") if x["systems"]]
    years = forecast_years(server.url, headers, lines[0]["id"], partners[0]["id"])
    planner = mixed_requests(partners, families, systems=get("/v1/systems"), lines=lines, years=years)
    started = time.perf_counter()
    for path, body in planner + mixed_requests(partners, families):
        r = httpx.post(
            f"{server.url}{path}",
            content=body,
            headers={**headers, "content-type": "application/json"},
            timeout=300,
        )
        r.raise_for_status()
    page = httpx.get(f"{server.url}/planner", headers=headers, timeout=60)
    page.raise_for_status()
    # the posterior file, read in chunks as an analyst's client would: a server that buffered it whole
    # would hold the file's size on top of the model it serves
    active = next(m for m in get("/v1/models") if m["active"])
    with httpx.stream(
        "GET", f"{server.url}/v1/models/{active['id']}/posterior.nc", headers=headers, timeout=300
    ) as r:
        r.raise_for_status()
        size = sum(len(chunk) for chunk in r.iter_bytes())
    assert size > 0
    return len(planner) * 2 + 2, time.perf_counter() - started


def measure(home: Path, command: str) -> dict:
    server = LiveServer(home, command=command)
    started = time.perf_counter()
    server.start(timeout=3600)  # `up` on a fresh home fits the default model first
    up_seconds = time.perf_counter() - started
    try:
        assert server.process is not None
        at_start = _status(server.process.pid)
        requests, seconds = _traffic(server)
        after = _status(server.process.pid)
    finally:
        server.stop()
    return {
        "command": f"totaldemand {command}",
        "start_seconds": round(up_seconds, 1),
        "rss_at_start_mb": round(at_start["VmRSS"] / 2**20),
        "rss_after_traffic_mb": round(after["VmRSS"] / 2**20),
        "peak_rss_mb": round(after["VmHWM"] / 2**20),
        "requests": requests,
        "traffic_seconds": round(seconds, 1),
        "under_target": after["VmHWM"] < TARGET_BYTES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, help="TOTALDEMAND_HOME (default: a fresh one: `up` fits first)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="serve-memory-"))
    rows = [measure(home, "up"), measure(home, "serve")]
    model = home / "models" / "default.nc"
    size_mb = round(model.stat().st_size / 2**20, 1) if model.is_file() else None
    if args.json:
        print(json.dumps({"model": str(model), "model_mb": size_mb, "rows": rows}, indent=1))
        return
    print(f"serve_memory: {model} ({size_mb} MB); target: peak resident < {TARGET_BYTES / 2**30:.1f} GB")
    for r in rows:
        print(
            f"  {r['command']:<17} started in {r['start_seconds']:>7.1f} s;"
            f" resident {r['rss_at_start_mb']} MB"
            f" at start, {r['rss_after_traffic_mb']} MB after {r['requests']} requests"
            f" ({r['traffic_seconds']} s), peak {r['peak_rss_mb']} MB:"
            f" {'met' if r['under_target'] else 'NOT met'}"
        )
    base = rows[1]["peak_rss_mb"]
    print(f"  peak of `up` / peak of `serve`: {rows[0]['peak_rss_mb'] / max(base, 1):.2f}")


if __name__ == "__main__":
    main()

"""The time from a posted LOR to a changed answer, on the real HTTP server (no refit).

Usage: python benchmarks/book_speed.py [--model var/models/default.nc] [--repeat 5]

Starts ``totaldemand serve`` on a fresh data directory with the model, asks for a partner's block buy
of a family (the reference: a cached answer's round trip), then, ``--repeat`` times, posts a firm request
of 24 units for that partner and family and times the POST and the first answer whose firm units moved by
24 after it. Then withdraws each and times the answer's return. Target: under 1 s from POST to answer.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from service.testing import LiveServer, admin_token


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="var/models/default.nc")
    parser.add_argument("--partner", default="poland")
    parser.add_argument("--family", default="sam")
    parser.add_argument("--year", type=int, default=2022)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="book-speed-"))
    server = LiveServer(scratch / "home", None, Path(args.model)).start(timeout=900)
    try:
        h = {"authorization": f"Bearer {admin_token(server)}"}
        block = {"partners": [args.partner], "families": [args.family], "at_least": 10}

        def asked() -> tuple[float, float]:
            r = httpx.post(f"{server.url}/v1/block-buys", json=block, headers=h, timeout=60)
            r.raise_for_status()
            return r.json()["rows"][0]["combined"]["sources"]["firm"], r.elapsed.total_seconds()

        asked()
        reference = statistics.median(asked()[1] for _ in range(20))
        post, change, withdraw = [], [], []
        for i in range(args.repeat):
            before, _ = asked()
            row = {
                "id": f"bench-{i}",
                "partner": args.partner,
                "family": args.family,
                "received": f"{args.year}-03-01",
                "status": "firm",
                "quantity": 24,
            }
            started = time.perf_counter()
            httpx.post(
                f"{server.url}/v1/lors", json={"rows": [row]}, headers=h, timeout=60
            ).raise_for_status()
            post.append(time.perf_counter() - started)
            after, _ = asked()
            change.append(time.perf_counter() - started)
            assert after == before + 24, (before, after)
            started = time.perf_counter()
            httpx.post(
                f"{server.url}/v1/lors/bench-{i}/status", json={"status": "withdrawn"}, headers=h, timeout=60
            ).raise_for_status()
            assert asked()[0] == before
            withdraw.append(time.perf_counter() - started)
    finally:
        server.stop()
    ms = lambda xs: f"median {1000 * statistics.median(xs):.0f} ms, max {1000 * max(xs):.0f} ms"  # noqa: E731
    print(f"reference: a cached block buy's round trip, median {1000 * reference:.1f} ms")
    print(f"POST /v1/lors (stored, book refreshed): {ms(post)}")
    print(
        f"POST to a changed answer: {ms(change)} ({statistics.median(change) / reference:.0f}x the reference)"
    )
    print(f"withdrawal to the answer restored: {ms(withdraw)}; target under 1 s")


if __name__ == "__main__":
    main()

"""Prometheus metrics: request counts and latencies per route, fit jobs by status, and the age of the
served model. Each server process keeps its own counters (scrape each worker, or run one)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import datetime

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _StateCollector(Collector):
    """Read at scrape time: jobs by status and the served model's age."""

    def __init__(
        self,
        jobs_by_status: Callable[[], dict[str, int]],
        model_fitted_at: Callable[[], str | None],
        model_loaded_at: Callable[[], float | None],
        cache_counts: Callable[[], tuple[int, int]],
    ) -> None:
        self.jobs_by_status = jobs_by_status
        self.model_fitted_at = model_fitted_at
        self.model_loaded_at = model_loaded_at
        self.cache_counts = cache_counts

    def collect(self):
        jobs = GaugeMetricFamily("totaldemand_fit_jobs", "Fit jobs by status.", labels=["status"])
        counts = self.jobs_by_status()
        for status in ("queued", "running", "succeeded", "failed"):
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        fitted = self.model_fitted_at()
        if fitted:
            age = time.time() - datetime.fromisoformat(fitted).timestamp()
            yield GaugeMetricFamily(
                "totaldemand_model_age_seconds", "Seconds since the served model was fitted.", value=age
            )
        hits, misses = self.cache_counts()
        cache = GaugeMetricFamily(
            "totaldemand_forecast_cache",
            "Forecast responses from the served model's cache.",
            labels=["result"],
        )
        cache.add_metric(["hit"], hits)
        cache.add_metric(["miss"], misses)
        yield cache
        loaded = self.model_loaded_at()
        if loaded:
            yield GaugeMetricFamily(
                "totaldemand_model_loaded_timestamp_seconds",
                "When this process loaded the served model.",
                value=loaded,
            )


class Metrics:
    def __init__(self, **state: Callable) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "totaldemand_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "totaldemand_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.gc_pauses = Histogram(
            "totaldemand_gc_pause_seconds",
            "Garbage-collector pauses by generation (every thread of the process stops for them).",
            ["generation"],
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.registry.register(_StateCollector(**state))
        self._gc_started = 0.0

    def _gc_phase(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.labels(str(info["generation"])).observe(time.perf_counter() - self._gc_started)

    def watch_gc(self) -> None:
        """Time every collection: a full one over a large heap is the classic cause of a p99 stall."""
        if self._gc_phase not in gc.callbacks:
            gc.callbacks.append(self._gc_phase)

    def unwatch_gc(self) -> None:
        if self._gc_phase in gc.callbacks:
            gc.callbacks.remove(self._gc_phase)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = {"code": 500}

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                route = scope.get("path_template") or "unmatched"
                self.requests.labels(scope["method"], route, str(status["code"])).inc()
                self.latency.labels(scope["method"], route).observe(time.perf_counter() - started)

        return measured

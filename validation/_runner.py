"""Where backtest fits run: in this process, in worker processes, or on a Dask cluster.

Every (origin, contender) fit is independent, so they are farmed out as they are and the results come
back in whatever order they finish; the caller scores them and sorts the rows. Worker processes are
spawned (not forked): JAX and fork do not mix. A cluster address is a Dask scheduler
(``tcp://host:8786``) whose workers can import this package.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Task:
    """One call ``fn(shared, *args)``; ``shared`` (the dataset) is sent to each worker once where possible."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]


def execute(
    tasks: Sequence[Task], shared: Any, workers: int = 1, cluster: str | None = None
) -> Iterator[tuple[int, Any]]:
    """Yield ``(task index, result)`` as tasks finish."""
    if not tasks:
        return
    if cluster:
        yield from _on_cluster(tasks, shared, cluster)
    elif workers > 1 and len(tasks) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=context) as pool:
            futures = {pool.submit(t.fn, shared, *t.args): i for i, t in enumerate(tasks)}
            for future in as_completed(futures):
                yield futures[future], future.result()
    else:
        for i, task in enumerate(tasks):
            yield i, task.fn(shared, *task.args)


def _on_cluster(tasks: Sequence[Task], shared: Any, address: str) -> Iterator[tuple[int, Any]]:
    try:
        from distributed import Client
        from distributed import as_completed as completed
    except ImportError as exc:  # an optional extra: say how to get it
        raise RuntimeError("a Dask cluster needs Dask: pip install 'totaldemand[cluster]'") from exc
    with Client(address, timeout="30s") as client:
        data = client.scatter(shared, broadcast=True)
        futures = {client.submit(t.fn, data, *t.args, pure=False): i for i, t in enumerate(tasks)}
        for future in completed(futures):
            yield futures[future], future.result()

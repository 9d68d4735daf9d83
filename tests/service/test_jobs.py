"""Fit workers: what the job runner does to the process a fit runs in."""

from __future__ import annotations

import multiprocessing
import os
import sys

import pytest

from service.jobs import yield_cpu
from totaldemand.settings import Settings


def _priority_after_yield(settings: Settings, queue: multiprocessing.Queue) -> None:
    yield_cpu(settings)
    queue.put((os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0)))


def _child_priority(settings: Settings) -> tuple[int, int]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_priority_after_yield, args=(settings, queue))
    child.start()
    result = queue.get(timeout=60)
    child.join(timeout=60)
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the idle scheduling class is Linux's")
@pytest.mark.integration  # a worker process
def test_a_fit_worker_runs_at_the_niceness_and_in_the_scheduling_class_set() -> None:
    nice, policy = _child_priority(Settings(fit_nice=19, fit_idle=True))
    assert (nice, policy) == (19, os.SCHED_IDLE)
    nice, policy = _child_priority(Settings(fit_nice=5, fit_idle=False))
    assert (nice, policy) == (os.getpriority(os.PRIO_PROCESS, 0) + 5, os.SCHED_OTHER)

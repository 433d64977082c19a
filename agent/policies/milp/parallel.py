"""Running the domains of one level side by side in worker processes.

A ``ProcessPoolExecutor`` made with the ``spawn`` start method (HiGHS keeps threads, and
forking a process with threads can deadlock); ``warm_up`` starts every worker before
anything is timed. Ray tasks are the other engine: see ``agent solve --ray-address``,
which hands the same ``solve_domain`` to ``agent.train.parallel.run_tasks``.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager

from agent.policies.milp.coordinate import (
    Clock,
    DomainResult,
    DomainTask,
    Runner,
    no_clock,
    serial_runner,
    solve_domain,
)


def pool_runner(executor: Executor, clock: Clock = no_clock) -> Runner:
    """Each task submitted to a worker."""

    def run(task: DomainTask) -> Future[DomainResult]:
        return executor.submit(solve_domain, task, clock)

    return run


def _ready() -> bool:
    from agent.policies.milp import solve  # noqa: F401  (import the solver in the worker)

    return True


def warm_up(executor: Executor, workers: int) -> None:
    """Start every worker process and import the solver there."""
    for future in [executor.submit(_ready) for _ in range(workers * 2)]:
        future.result()


@contextmanager
def local_runner(workers: int, clock: Clock = no_clock) -> Iterator[Runner]:
    """A process pool of ``workers`` (started and warmed up), or serial for 1."""
    if workers <= 1:
        yield serial_runner(clock)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
        warm_up(executor, workers)
        yield pool_runner(executor, clock)

"""Running independent jobs in parallel: processes of this machine, or Ray tasks.

A job is a module-level function and its arguments (a tuple); ``run_tasks`` returns the
results in the jobs' order whatever order they finish in, so a caller that merges them gets
what a serial run gives. With ``workers`` <= 1 and no address the jobs run here, one after
the other. With ``workers`` > 1 and no address they run in a pool of ``workers`` processes
of this machine, started for the call (no Ray needed: cheaper to start than a local Ray
instance, whose start, stop and daemons cost about 5 s of a 2-core machine per call).
On Ray: an instance already started in this process (reused, left running), or an
existing cluster at ``address`` (``ray start --head`` prints it, e.g.
``192.168.1.10:6379``; ``auto`` finds the one started on this machine), where ``workers``
caps the tasks in flight. Every task takes one CPU. Ray is an optional extra: without it
an ``address`` runs the jobs serially and ``note`` hears one line saying so.

On a cluster, every node needs this project installed (the same version) and the input
files and output directory at the same paths (a shared file system): tasks read their
inputs and write their run directories themselves."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

R = TypeVar("R")
RAY_MISSING = (
    "note: Ray is not installed (pip install 'sdn-coordination-agent[ray]'): running serially"
)


def ray_module() -> ModuleType | None:
    """The ``ray`` package, or None when it is not installed."""
    try:
        import ray
    except ImportError:
        return None
    return ray


def run_tasks(
    function: Callable[..., R],
    jobs: Sequence[tuple[Any, ...]],
    workers: int,
    address: str | None = None,
    on_result: Callable[[int, R], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> list[R]:
    """``[function(*job) for job in jobs]``, as Ray tasks when ``workers`` > 1 or an
    ``address`` is given; ``on_result(index, result)`` as each one finishes."""
    if workers <= 1 and not address:
        return _serial(function, jobs, on_result)
    if not address and not _ray_running():
        return _local_pool(function, jobs, workers, on_result)
    ray = ray_module()
    if ray is None:
        if note is not None:
            note(RAY_MISSING)
        return _serial(function, jobs, on_result)
    with ray_session(ray, workers, address):
        return _on_ray(ray, function, jobs, max(1, workers), on_result)


def _serial(
    function: Callable[..., R],
    jobs: Sequence[tuple[Any, ...]],
    on_result: Callable[[int, R], None] | None,
) -> list[R]:
    results = []
    for index, job in enumerate(jobs):
        results.append(function(*job))
        if on_result is not None:
            on_result(index, results[-1])
    return results


@contextmanager
def ray_session(ray: ModuleType, workers: int, address: str | None) -> Iterator[None]:
    """Ray for the duration: reused when already started, else started (a local instance
    of ``workers`` CPUs, or connected to ``address``) and shut down afterwards."""
    if ray.is_initialized():
        yield
        return
    if address:
        ray.init(address=address, log_to_driver=True)
    else:
        ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=True)
    try:
        yield
    finally:
        ray.shutdown()


def _on_ray(
    ray: ModuleType,
    function: Callable[..., R],
    jobs: Sequence[tuple[Any, ...]],
    workers: int,
    on_result: Callable[[int, R], None] | None,
) -> list[R]:
    """At most ``workers`` tasks in flight; results by job index."""
    remote = ray.remote(num_cpus=1, max_retries=0)(function)
    results: dict[int, R] = {}
    pending: dict[Any, int] = {}
    queue = list(enumerate(jobs))
    while queue or pending:
        while queue and len(pending) < workers:
            index, job = queue.pop(0)
            pending[remote.remote(*job)] = index
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            index = pending.pop(ref)
            results[index] = _get(ray, ref)
            if on_result is not None:
                on_result(index, results[index])
    return [results[k] for k in range(len(jobs))]


def _get(ray: ModuleType, ref: Any) -> Any:
    """The task's result; a task's own exception is raised as itself, not Ray's wrapper."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise


def _ray_running() -> bool:
    """Whether this process already has a Ray session (started by its caller)."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


def _local_pool(
    function: Callable[..., R],
    jobs: Sequence[tuple[Any, ...]],
    workers: int,
    on_result: Callable[[int, R], None] | None,
) -> list[R]:
    """At most ``workers`` processes of this machine, started fresh (``spawn``) for the
    call; jobs and results cross as cloudpickle (scenarios hold compiled functions)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import cloudpickle

    context = multiprocessing.get_context("spawn")
    results: dict[int, R] = {}
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = {
            pool.submit(_run_pickled, cloudpickle.dumps((function, job))): index
            for index, job in enumerate(jobs)
        }
        for future in as_completed(futures):
            index = futures[future]
            results[index] = cloudpickle.loads(future.result())
            if on_result is not None:
                on_result(index, results[index])
    return [results[k] for k in range(len(jobs))]


def _run_pickled(blob: bytes) -> bytes:
    """In a pool process: the job, from and to cloudpickle."""
    import cloudpickle

    function, job = cloudpickle.loads(blob)
    return bytes(cloudpickle.dumps(function(*job)))

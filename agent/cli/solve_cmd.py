"""``agent solve``: the coordination MILP, centralised or over a domain hierarchy.

SCENARIO is a directory of hierarchical-coordination inputs, a MILP scenario YAML or the
project's own scenario YAML (see ``agent.model.hvc_scenario``). ``--levels 1`` (or no
hierarchy at all) solves one MILP; ``--levels K`` or ``--domains`` builds a hierarchy by
k-means on the node coordinates, ``--hierarchy FILE`` reads one. The domains of a level
are solved side by side in ``--workers`` processes, or as Ray tasks on ``--ray-address``.
``--out DIR`` writes the solution as the project's Decision (``decision.json``: placement
and schedule) and the summary (``summary.json``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agent.cli.common import fail, format_option, input_errors, out_option

if TYPE_CHECKING:
    from agent.policies.milp.coordinate import Runner


def _domains(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        fail(f"--domains: expected counts like 6,2, got {text!r}")
    if any(count < 1 for count in counts):
        fail("--domains: counts must be positive")
    return counts


def _slacks(text: str | None) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        slacks = tuple(float(part) for part in text.split(","))
    except ValueError:
        fail(f"--corridor: expected slacks like 0,0.5, got {text!r}")
    if any(not slack >= 0.0 for slack in slacks):
        fail("--corridor: slacks must be at least 0")
    return slacks


@click.command("solve")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--hierarchy",
    "hierarchy_file",
    type=click.Path(path_type=Path),
    help="hierarchy.yaml: nested coordinators with their nodes",
)
@click.option(
    "--levels",
    type=click.IntRange(min=1),
    show_default="the scenario's hierarchy, else 1",
    help="levels of a k-means hierarchy (1: centralised)",
)
@click.option(
    "--domains",
    "domains_text",
    metavar="N[,M...]",
    help="domains per level, leaves first (6,2: six leaf domains in two groups)",
)
@click.option("--kmeans-seed", type=int, default=0, help="seed of the k-means clustering")
@click.option(
    "--advertise",
    type=click.Choice(["full", "1", "2"]),
    default="full",
    help="paths each domain advertises per pair of border groups",
)
@click.option(
    "--placement",
    type=click.Choice(["border", "paths"]),
    default="border",
    help="where parents place VNFs: at border nodes (the domain's CPU), or on "
    "advertised paths as hvc does",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.01),
    default=600.0,
    help="seconds per MILP (its stages share them)",
)
@click.option(
    "--mip-gap",
    type=click.FloatRange(min=0.0),
    default=1e-4,
    help="relative MIP gap at which a MILP counts as solved",
)
@click.option(
    "--corridor",
    "corridor_text",
    metavar="SLACK[,SLACK...]",
    help="a heuristic: a request may use only links on routes at most (1 + SLACK) times "
    "its shortest; where that leaves no solution, the next SLACK, then all links (0,0.5)",
)
@click.option(
    "--first-objective",
    is_flag=True,
    help="solve for instances + delay only, without the delay and link-count tie-breaks",
)
@click.option("--threads", type=click.IntRange(min=1), default=1, help="solver threads")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    help="processes solving the domains of a level side by side",
)
@click.option(
    "--ray-address", help="solve the domains as Ray tasks on this cluster (HOST:PORT, or auto)"
)
@format_option()
@out_option("write decision.json and summary.json into this directory")
def solve_command(
    scenario: Path,
    hierarchy_file: Path | None,
    levels: int | None,
    domains_text: str | None,
    kmeans_seed: int,
    advertise: str,
    placement: str,
    time_limit: float,
    mip_gap: float,
    corridor_text: str | None,
    first_objective: bool,
    threads: int,
    workers: int,
    ray_address: str | None,
    fmt: str,
    out: Path | None,
) -> None:
    """Solve the coordination MILP of SCENARIO, centralised or over a domain hierarchy.

    Prints status, objective, instances, total delay, runtime (the critical path: per
    level the slowest domain) and one entry per domain."""
    if hierarchy_file is not None and (levels is not None or domains_text):
        fail("give either --hierarchy or --levels/--domains, not both")
    from agent.model.hvc_scenario import load_milp_inputs
    from agent.model.hvc_topology import read_hierarchy
    from agent.policies.milp.advertise import Advertise, Placement
    from agent.policies.milp.api import SolveSettings, decision_for, solve_inputs, summary
    from agent.policies.milp.decision import decision_as_dict
    from agent.policies.milp.lp import SolverOptions
    from agent.policies.milp.solve import MilpOptions

    with input_errors():
        inputs = load_milp_inputs(scenario)
        nodes = inputs.substrate.nodes if inputs.substrate is not None else None
        given = read_hierarchy(hierarchy_file, nodes) if hierarchy_file is not None else None
        solver = SolverOptions(time_limit_s=time_limit, mip_gap=mip_gap, threads=threads)
        settings = SolveSettings(
            hierarchy=given,
            levels=levels,
            domains=_domains(domains_text),
            kmeans_seed=kmeans_seed,
            advertise=Advertise(advertise),
            placement=Placement(placement),
            milp=MilpOptions(solver, not first_objective, _slacks(corridor_text)),
        )
        started = time.perf_counter()
        with _runner(workers, ray_address) as runner:
            result = solve_inputs(inputs, settings, runner)
        wall = time.perf_counter() - started
    report = summary(result, wall)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        decision = decision_as_dict(decision_for(inputs, result))
        (out / "decision.json").write_text(json.dumps(decision, indent=2) + "\n")
        (out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
    if fmt == "json":
        click.echo(json.dumps(report))
    else:
        _print_table(report)


@contextmanager
def _runner(workers: int, ray_address: str | None) -> Iterator[Runner]:
    from agent.policies.milp.parallel import local_runner

    if ray_address is None:
        with local_runner(workers, time.perf_counter) as runner:
            yield runner
        return
    from agent.policies.milp.coordinate import DomainResult, DomainTask, solve_domain
    from agent.train.parallel import ray_module, ray_session

    ray = ray_module()
    if ray is None:
        fail("--ray-address needs Ray (pip install 'sdn-coordination-agent[ray]')")
    with ray_session(ray, workers, ray_address):
        remote = ray.remote(num_cpus=1, max_retries=0)(solve_domain)

        def run(task: DomainTask) -> Future[DomainResult]:
            future: Future[DomainResult] = remote.remote(task, time.perf_counter).future()
            return future

        yield run


def _print_table(report: dict[str, object]) -> None:
    rows: list[tuple[str, object]] = [
        ("status", report["status"]),
        ("objective", report["objective"]),
        ("instances", report["instances"]),
        ("total delay", f"{report['total_delay_ms']} ms"),
        ("runtime", f"{report['runtime_s']} s (critical path)"),
        ("wall time", f"{report.get('wall_s')} s"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label:<{width}}  {value}")
    domains = report["domains"]
    assert isinstance(domains, list)
    for domain in domains:
        line = (
            f"  {domain['name']} (level {domain['level']}): {domain['status']}, "
            f"{domain['requests']} requests, {domain['runtime_s']} s"
        )
        if "problem" in domain:
            line += f", {domain['problem']}"
        click.echo(line)

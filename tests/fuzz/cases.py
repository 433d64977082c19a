"""One fuzz case: a bundle, one to three mutations of its files, and the commands a
user would run on the result: ``agent check-config`` on the mutated files and the
scenario, and a short ``agent sim`` (``SIM_STEPS`` control steps) of the scenario."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from tests.fuzz.bundles import BUNDLES, TOPOLOGIES, Bundle
from tests.fuzz.mutations import Mutation, apply, mutation_strategy
from tests.fuzz.runner import ForkWorker, RunResult

SIM_STEPS = 2


@dataclass(frozen=True)
class Case:
    bundle: Bundle
    mutations: tuple[Mutation, ...]

    def __str__(self) -> str:
        return f"{self.bundle.name}: " + "; ".join(str(m) for m in self.mutations)

    def commands(self, paths: dict[str, Path]) -> list[list[str]]:
        touched = sorted({str(paths[m.role]) for m in self.mutations if m.role != "scenario"})
        scenario = str(paths["scenario"])
        return [
            ["check-config", *touched, scenario],
            ["sim", scenario, "--steps", str(SIM_STEPS), "--format", "json"],
        ]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    bundle = draw(st.sampled_from(BUNDLES))
    roles = st.sampled_from(bundle.roles)
    mutations = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        role = draw(roles)
        path = TOPOLOGIES / bundle.files[role]
        mutations.append(draw(mutation_strategy(role, path)))
    return Case(bundle, tuple(mutations))


@contextmanager
def prepared(case: Case) -> Iterator[tuple[Path, dict[str, Path]]]:
    """A temporary folder holding the case's files, mutated."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        paths = case.bundle.materialize(folder)
        for mutation in case.mutations:
            apply(mutation, paths[mutation.role])
        yield folder, paths
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_case(worker: ForkWorker, case: Case) -> list[tuple[RunResult, str]]:
    """Run the case's commands; returns the runs that broke the promise, with why."""
    failures = []
    with prepared(case) as (folder, paths):
        for argv in case.commands(paths):
            result = worker.run(argv, folder)
            problem = result.problem()
            if problem is not None:
                failures.append((result, problem))
    return failures

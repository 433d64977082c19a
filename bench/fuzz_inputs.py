"""Fuzz the input files for a while: mutate the bundled scenario, network, service,
traffic and trace files (hypothesis draws the mutations, see tests/fuzz/) and run
``agent check-config`` and a two-step ``agent sim`` on each case the way a user would.

Every run must either succeed or print one ``error:`` line and exit with status 2,
within 5 s and 1 GiB. Runs go through a fork worker that holds the imported command
line (the command line's own code, a child process per run, its own peak memory);
every ``--sample-every``-th case also runs through the installed ``agent`` script,
whose outcome must agree (its time limit adds the start-up measured at the beginning).

    python bench/fuzz_inputs.py [--minutes 10] [--sample-every 25] [--save DIR]

Prints how many cases it tried and every failure (the case and what went wrong).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.bundles import BUNDLES
from tests.fuzz.cases import Case, cases, prepared, run_case
from tests.fuzz.runner import TIME_LIMIT_S, ForkWorker, run_subprocess

BATCH = 20  # cases per hypothesis run; runs repeat until the time is up


class Fuzzer:
    def __init__(self, worker: ForkWorker, sample_every: int, save: Path | None) -> None:
        self.worker, self.sample_every, self.save = worker, sample_every, save
        self.cases = self.runs = self.samples = 0
        self.failures: list[str] = []
        self.startup_s = self._startup()

    def _startup(self) -> float:
        """Seconds the installed script needs beyond the fork worker's run."""
        case = Case(BUNDLES[0], ())
        with prepared(case) as (folder, paths):
            argv = case.commands(paths)[1]
            forked = self.worker.run(argv, folder)
            started = run_subprocess(argv, folder, timeout=60)
        return max(0.0, started.wall_s - forked.wall_s)

    def run(self, case: Case) -> None:
        self.cases += 1
        self.runs += 2
        for result, problem in run_case(self.worker, case):
            self._fail(case, " ".join(result.argv), problem)
        if self.sample_every and self.cases % self.sample_every == 0:
            self._sample(case)

    def _sample(self, case: Case) -> None:
        self.samples += 1
        limit = TIME_LIMIT_S + self.startup_s
        with prepared(case) as (folder, paths):
            for argv in case.commands(paths):
                forked = self.worker.run(argv, folder)
                real = run_subprocess(argv, folder, timeout=2 * limit)
                problem = real.problem(time_limit_s=limit)
                if problem is None and real.outcome != forked.outcome:
                    problem = f"script says {real.outcome}, fork worker {forked.outcome}"
                if problem is not None:
                    self._fail(case, "agent " + " ".join(argv) + " (script)", problem)

    def _fail(self, case: Case, command: str, problem: str) -> None:
        self.failures.append(f"{case}\n    {command}\n    {problem}")
        print(f"FAIL {case}: {problem}", flush=True)
        if self.save is not None:
            target = self.save / f"case-{len(self.failures):03d}"
            with prepared(case) as (folder, _paths):
                shutil.copytree(folder, target, dirs_exist_ok=True)
            (target / "CASE.txt").write_text(f"{case}\n{command}\n{problem}\n")


def fuzz(fuzzer: Fuzzer, seconds: float) -> None:
    deadline = time.monotonic() + seconds

    @settings(
        max_examples=BATCH,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def batch(case: Case) -> None:
        if time.monotonic() < deadline:
            fuzzer.run(case)

    while time.monotonic() < deadline:
        batch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sample-every", type=int, default=25, help="0: no script runs")
    parser.add_argument("--save", type=Path, help="copy the files of failing cases here")
    args = parser.parse_args()
    started = time.monotonic()
    with ForkWorker() as worker:
        fuzzer = Fuzzer(worker, args.sample_every, args.save)
        fuzz(fuzzer, args.minutes * 60)
    elapsed = time.monotonic() - started
    print(
        f"\n{fuzzer.cases} cases in {elapsed / 60:.1f} min: {fuzzer.runs} runs through the "
        f"fork worker, {fuzzer.samples} cases also through the agent script "
        f"(start-up allowance {fuzzer.startup_s:.1f} s); {len(fuzzer.failures)} failures"
    )
    for failure in fuzzer.failures:
        print(f"- {failure}")
    sys.exit(1 if fuzzer.failures else 0)


if __name__ == "__main__":
    main()

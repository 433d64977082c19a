"""The input-file fuzzer, bounded for CI (about 20 s): mutated bundled files never make
``agent check-config`` or ``agent sim`` print a traceback, run over 5 s or use over
1 GiB. ``bench/fuzz_inputs.py`` runs the same cases for as long as one likes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.bundles import BUNDLES, Bundle
from tests.fuzz.cases import Case, cases, prepared, run_case
from tests.fuzz.runner import ForkWorker, RunResult, run_subprocess

CI_EXAMPLES = 40


@pytest.fixture(scope="module")
def worker() -> Iterator[ForkWorker]:
    with ForkWorker() as running:
        yield running


@settings(
    max_examples=CI_EXAMPLES,
    derandomize=True,  # the same cases on every CI run; the bench explores
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_mutated_inputs_fail_cleanly(worker: ForkWorker, case: Case) -> None:
    failures = run_case(worker, case)
    assert not failures, "\n".join(f"{' '.join(r.argv)}: {why}" for r, why in failures)


TRIANGLE = BUNDLES[0]
TRACE = BUNDLES[3]
RESOURCE = (
    b"sfc_list: {sfc_1: [a, b]}\nsf_list:\n  a: {resource_function: (-load) ** 0.5}\n  b: {}\n"
)
REVIEWER_CASES: dict[str, tuple[Bundle, str, Callable[[bytes], bytes]]] = {
    # the reviewer's inputs, as the files would be written by hand
    "flow_dr_mean 0": (
        TRIANGLE,
        "traffic",
        lambda t: t.replace(b"flow_dr_mean: 1.0", b"flow_dr_mean: 0"),
    ),
    "inter_arrival_mean 1e-9": (TRIANGLE, "traffic", lambda t: t.replace(b"10.0", b"1e-9", 1)),
    "trace row 1e-9": (TRACE, "trace", lambda t: t + b"500,pop1,1e-9\n"),
    "nested 10,000 deep": (
        TRIANGLE,
        "scenario",
        lambda t: t + b"x: " + b"[" * 10_000 + b"]" * 10_000,
    ),
    "trace not UTF-8": (TRACE, "trace", lambda t: t + b"600,pop\xff\xfe,3\n"),
    "(-load) ** 0.5": (TRIANGLE, "service", lambda t: RESOURCE),
}


@pytest.mark.parametrize("name", list(REVIEWER_CASES))
def test_reviewer_cases_through_the_installed_script(worker: ForkWorker, name: str) -> None:
    """The same outcome from the real ``agent`` process: one error line, exit status 2."""
    bundle, role, change = REVIEWER_CASES[name]
    case = Case(bundle, ())
    with prepared(case) as (folder, paths):
        paths[role].write_bytes(change(paths[role].read_bytes()))
        checked = paths["traffic" if role == "trace" else role]  # the file naming the trace
        for argv in (["check-config", str(checked)], case.commands(paths)[1]):
            real = run_subprocess(argv, folder, timeout=60)
            assert real.problem(time_limit_s=30) is None, real.stderr
            assert real.code == 2 and real.stderr.startswith("error: "), real.stderr
            assert worker.run(argv, folder).stderr == real.stderr


def test_pristine_bundles_succeed(worker: ForkWorker) -> None:
    for bundle in BUNDLES:
        case = Case(bundle, ())
        with prepared(case) as (folder, paths):
            for argv in case.commands(paths):
                result = worker.run(argv, folder)
                assert result.code == 0 and result.problem() is None, result.stderr


@pytest.mark.parametrize(
    ("code", "stderr", "wall", "rss", "verdict"),
    [
        (0, "", 0.1, 10, None),
        (0, "warning: a.graphml:3: edge (1, 1): a self-loop\n", 0.1, 10, None),
        (2, "warning: w\nerror: a.yaml:1: x: bad\n", 0.1, 10, None),
        (2, "error: one\nerror: two\n", 0.1, 10, "exit status 2"),
        (1, "Traceback (most recent call last):\nValueError: no\n", 0.1, 10, "traceback"),
        (2, "Usage: agent\nError: no such option\n", 0.1, 10, "exit status 2"),
        (0, "", 6.0, 10, "ran 6.0 s"),
        (0, "", 0.1, 2**21, "peak memory 2.00 GiB"),
    ],
)  # fmt: skip
def test_the_judge(code: int, stderr: str, wall: float, rss: int, verdict: str | None) -> None:
    result = RunResult(("sim",), code, False, wall, rss, "", stderr)
    problem = result.problem()
    assert (problem is None) if verdict is None else (problem or "").startswith(verdict)


def test_worker_reports_a_crash_as_a_traceback(worker: ForkWorker, tmp_path: Path) -> None:
    """An exception that escapes in the child is printed as the interpreter would and
    judged a failure (here: the child cannot even enter its working folder)."""
    result = worker.run(["check-config", "x.yaml"], tmp_path / "missing-folder")
    assert result.code == 1 and "FileNotFoundError" in result.stderr
    assert (result.problem() or "").startswith("traceback")

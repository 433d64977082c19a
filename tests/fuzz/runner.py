"""Running ``agent`` on fuzzed inputs and judging what happened.

A run passes when it either succeeds (exit status 0, stderr only ``warning:`` lines) or
rejects the input the way the project promises (exit status 2, stderr one ``error:``
line after any ``warning:`` lines), within ``TIME_LIMIT_S`` and ``MEMORY_LIMIT_KB``.
Runs go through the fork worker (``tests/fuzz/worker.py``: the command line's own code
in a child process per run) or, as a sample, through the installed ``agent`` script.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
TIME_LIMIT_S = 5.0
MEMORY_LIMIT_KB = 2**20  # 1 GiB
SUBPROCESS_MEMORY_BYTES = 8 * 2**30  # address-space safety net for sampled processes


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    code: int
    timed_out: bool
    wall_s: float
    maxrss_kb: int
    stdout: str
    stderr: str

    def problem(self, time_limit_s: float = TIME_LIMIT_S) -> str | None:
        """Why this run breaks the promise, or None."""
        if self.timed_out or self.wall_s > time_limit_s:
            return f"ran {self.wall_s:.1f} s (limit {time_limit_s:g} s)"
        if self.maxrss_kb > MEMORY_LIMIT_KB:
            return f"peak memory {self.maxrss_kb / 2**20:.2f} GiB (limit 1 GiB)"
        if "Traceback" in self.stderr or "Traceback" in self.stdout:
            return "traceback: " + self.stderr.strip().splitlines()[-1][:300]
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        others = [line for line in lines if not line.startswith("warning: ")]
        if self.code == 0 and not others:
            return None
        one_error = len(others) == 1 and others[0] == lines[-1]
        if self.code == 2 and one_error and others[0].startswith("error: "):
            return None
        return f"exit status {self.code}, stderr {self.stderr.strip()[:300]!r}"

    @property
    def outcome(self) -> str:
        """'ok' or 'error', for comparing a fork run with a subprocess run."""
        return "ok" if self.code == 0 else "error" if self.code == 2 else f"exit {self.code}"


class ForkWorker:
    """A running ``tests.fuzz.worker``; one request at a time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.worker"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._read()  # {"ready": true} once the command line is imported

    def run(self, argv: list[str], cwd: Path, timeout: float = 2 * TIME_LIMIT_S) -> RunResult:
        request = {"argv": argv, "cwd": str(cwd), "timeout": timeout}
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        reply = self._read()
        return RunResult(tuple(argv), **reply)

    def _read(self) -> dict[str, Any]:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError("the fuzz worker exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> ForkWorker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def run_subprocess(argv: list[str], cwd: Path, timeout: float) -> RunResult:
    """``agent ARGV`` as a user runs it, with its own peak memory (wait4)."""
    agent = Path(sys.executable).with_name("agent")
    out, err = cwd / ".sub-stdout", cwd / ".sub-stderr"
    started = time.perf_counter()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [str(agent), *argv],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=_limit_memory,
        )
    pidfd = os.pidfd_open(process.pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        if not ready:
            os.kill(process.pid, signal.SIGKILL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        os.close(pidfd)
    wall = time.perf_counter() - started
    text = [path.read_bytes().decode("utf-8", errors="replace") for path in (out, err)]
    return RunResult(
        tuple(argv), process.returncode, not ready, wall, usage.ru_maxrss, text[0], text[1]
    )


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_MEMORY_BYTES, SUBPROCESS_MEMORY_BYTES))

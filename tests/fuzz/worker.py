"""A process that runs ``agent`` commands the way the console script does, without
paying Python's start-up and imports for every run: it imports the command line once,
then forks a child per request. The child runs ``agent.cli.main.cli`` exactly as the
installed ``agent`` script does (its own stdout and stderr files, its exit status,
Python's default traceback printing for anything that escapes), so a traceback, an
exit status or a line of output looks the same as from a fresh process.

Protocol: one JSON request per line on stdin, ``{"argv": [...], "cwd": "...",
"timeout": 5.0}``; one JSON reply per line on stdout with the exit status, whether it
timed out, its wall time, its peak resident memory (``ru_maxrss`` of that child), and
its stdout and stderr (the first 20,000 characters).

    python -m tests.fuzz.worker
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

OUTPUT = Path(tempfile.mkdtemp(prefix="fuzz-worker-"))  # the children's stdout and stderr
MEMORY_HEADROOM = 4 * 2**30  # address space a child may add: a safety net only
OUTPUT_CHARS = 20_000


def _preload() -> None:
    """Import what the commands import, so that children start at once."""
    import agent.cli.check_config
    import agent.cli.main
    import agent.cli.sim_cmd  # noqa: F401


def _child(argv: list[str], cwd: str, out: Path, err: Path) -> None:
    """In the forked child: become ``agent ARGV`` and exit; never returns."""
    code = 0
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # the requests stay the worker's
        os.close(null)
        for fd, path in ((1, out), (2, err)):
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(handle, fd)
            os.close(handle)
        os.chdir(cwd)
        _limit_address_space()
        from agent.cli.main import cli

        sys.argv = ["agent", *argv]
        cli.main(args=argv, prog_name="agent", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what the interpreter would print for an uncaught error
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _limit_address_space() -> None:
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    current = pages * os.sysconf("SC_PAGE_SIZE")
    limit = current + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run(request: dict[str, Any]) -> dict[str, Any]:
    argv, cwd, timeout = request["argv"], request["cwd"], float(request["timeout"])
    out, err = OUTPUT / "stdout", OUTPUT / "stderr"
    sys.stdout.flush()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        _child(argv, cwd, out, err)
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        timed_out = not ready
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
    finally:
        os.close(pidfd)
    wall = time.perf_counter() - started
    return {
        "code": os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "wall_s": round(wall, 3),
        "maxrss_kb": usage.ru_maxrss,
        "stdout": _read(out),
        "stderr": _read(err),
    }


def _read(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(OUTPUT_CHARS * 4)
        path.unlink()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")[:OUTPUT_CHARS]


def main() -> None:
    _preload()
    print(json.dumps({"ready": True}), flush=True)
    try:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(run(json.loads(line))), flush=True)
    finally:
        shutil.rmtree(OUTPUT, ignore_errors=True)


if __name__ == "__main__":
    main()

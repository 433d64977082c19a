"""Processes the switch tests start: each in its own process group, stopped by PID.

``spawn`` starts a command as the leader of a new process group (its output to a log
file); ``stop_group`` sends SIGTERM to that group, waits, then SIGKILLs whatever is
left of it, so helpers a process started go with it. ``start_controller`` runs the
os-ken app (``python -m controllers``) on a Unix socket and a free OpenFlow port.

Waits use ``DEADLINE``: generous for a busy 2-core machine, and every wait returns as
soon as its condition holds, so the deadline only matters when something is broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agent.southbound.controller_client import ControllerClient
from mininet_labs.lab import wait_for

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # seconds any one condition may take to hold under load
POLL_EVERY = 0.2  # seconds between probes: polling must not add load of its own
T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], what: str, timeout: float = DEADLINE) -> T:
    """Poll ``probe`` until it returns something truthy (returned); TimeoutError naming
    ``what`` after ``timeout`` seconds."""
    return wait_for(probe, timeout, what, every=POLL_EVERY)


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(make())


def spawn(cmd: list[str], log: Path, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    """Start ``cmd`` as the leader of its own process group, output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _exits_within(proc: subprocess.Popen[Any], timeout: float) -> bool:
    """Whether ``proc`` exits within ``timeout`` s; it is left unreaped (a zombie keeps
    its PID, and so the group's id, from being given to another process)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                return True
        except ChildProcessError:  # already reaped
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def stop_group(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """SIGTERM the process group ``proc`` leads and wait up to ``timeout`` s for ``proc``
    to exit, then SIGKILL whatever is left of the group; ``proc``'s exit status
    (negative: the signal that ended it). A process already reaped is not signalled."""
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGTERM)
        _exits_within(proc, timeout)
        _signal_group(proc.pid, signal.SIGKILL)  # a leader that ignored SIGTERM, stragglers
        proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    return proc.returncode


def log_tail(path: Path, lines: int = 30, skip: str = '"event": "monitor') -> str:
    """The last ``lines`` lines of a log (without lines containing ``skip``)."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"({path}: {exc})"
    kept = [line for line in text.splitlines() if skip not in line]
    return "\n".join(kept[-lines:])


@dataclass
class ControllerProcess:
    proc: subprocess.Popen[bytes]
    address: str
    of_port: int
    log: Path

    def client(self, name: str = "test") -> ControllerClient:
        return ControllerClient(self.address, agent=name, timeout=30)

    def datapaths(self) -> list[int]:
        async def hello() -> list[int]:
            async with self.client() as ctl:
                return list((await ctl.hello()).datapaths)

        return run_async(hello)

    def stop(self) -> int:
        """SIGTERM (the app closes its socket and exits 0), SIGKILL after 10 s."""
        return stop_group(self.proc)


def start_controller(
    tmp: Path,
    poll_interval: float = 0.5,
    address: str | None = None,
    of_port: int | None = None,
    log_name: str = "controller.log",
) -> ControllerProcess:
    """The controller on ``address`` (default: a socket in ``tmp``), OpenFlow on
    127.0.0.1:``of_port`` (default: a free port); returns once its socket exists."""
    address = address or f"unix:{tmp / 'controller.sock'}"
    sock = Path(address.removeprefix("unix:"))
    port = of_port or free_tcp_port()
    cmd = [sys.executable, "-m", "controllers", "--listen", address, "--of-port", str(port),
           "--of-host", "127.0.0.1", "--poll-interval", str(poll_interval)]  # fmt: skip
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()  # left by a controller that was killed: not a sign of readiness
    ctl = ControllerProcess(spawn(cmd, tmp / log_name), address, port, tmp / log_name)
    try:
        wait_until(lambda: sock.exists() or ctl.proc.poll() is not None, "the controller socket")
        if ctl.proc.poll() is not None:
            raise RuntimeError(f"controller exited: {log_tail(ctl.log)}")
    except BaseException:
        ctl.stop()
        raise
    return ctl

"""The daemon as a process under faults: a policy that hangs in its worker, signals
while it starts, a port that is taken, a reload that fails in unexpected ways, a
rotated token, overrides that outlive a restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from agent.runtime.service import EarlySignals
from tests.cli.test_run import AGENT, Agent, get
from tests.conftest import ROOT

# `agent run` whose shortest-path policy (the configuration's policy and fallback) blocks
# forever once the file named first exists: a stuck native call in a worker thread, as
# far as the daemon sees.
HANGING_AGENT = """
import sys, threading, pathlib
from agent.policies import shortest_path
trigger = pathlib.Path(sys.argv.pop(1))
decide = shortest_path.ShortestPathPolicy.predict
def predict(self, observation):
    if trigger.exists():
        threading.Event().wait()
    return decide(self, observation)
shortest_path.ShortestPathPolicy.predict = predict
from agent.cli.main import main
sys.argv[0] = "agent"
main()
"""
TOKEN_A = "first-token-0123456789"
TOKEN_B = "second-token-0123456789"


def write_config(tmp: Path, **changes: Any) -> Path:
    config = yaml.safe_load((ROOT / "systemd/agent.yaml").read_text())
    config["scenario"] = str(ROOT / "topologies/scenarios/abilene-in3.yaml")
    config["policy"] = "shortest-path"  # what HANGING_AGENT makes hang
    config.update(changes)
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> float:
    """Seconds until ``condition`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - start


def send(port: int, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_hung_policy_turns_readiness_off_and_sigterm_still_stops(tmp_path: Path) -> None:
    trigger = tmp_path / "hang-now"
    config = write_config(tmp_path, decision_interval=0.5, policy_timeout=0.3)
    command = (sys.executable, "-c", HANGING_AGENT, str(trigger))
    agent = Agent(tmp_path, config, command=command)
    try:
        agent.wait_for("READY=1")
        wait_until(lambda: get(agent.port, "/readyz")[0] == 200, what="ready")
        trigger.touch()  # policy and fallback now hang in their workers
        took = wait_until(lambda: get(agent.port, "/readyz")[0] == 503, what="503")
        assert took <= 3 * 0.5 + 1.5, took  # three intervals, and polling slack
        status, body = get(agent.port, "/readyz")
        assert status == 503 and any("decision cycle stuck" in f for f in body["failing"])
        counters = get(agent.port, "/status")[1]["counters"]
        assert counters["cycle_failures"] >= 1
        started = time.monotonic()
        agent.proc.send_signal(signal.SIGTERM)
        code = agent.proc.wait(timeout=30)
        assert time.monotonic() - started < 5.0 and code == 0
        assert "exiting past stuck worker threads" in agent.output()
    finally:
        agent.stop()


def catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (SigCgt in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def test_signals_during_start_up_are_held() -> None:
    early = EarlySignals()
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    try:
        early.install()
        os.kill(os.getpid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(lambda: len(early.held) == 2, 10, "both signals")
        assert early.take() == {signal.SIGHUP, signal.SIGTERM} and early.take() == set()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_a_sighup_while_starting_is_held_until_running(tmp_path: Path) -> None:
    agent = Agent(tmp_path, write_config(tmp_path))
    try:
        # as soon as it catches SIGHUP: it is then loading the scenario and policies,
        # before its event loop runs (unless the start-up is quicker than this poll)
        wait_until(lambda: catches(agent.proc.pid, signal.SIGHUP), what="a SIGHUP handler")
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for("READY=1")
        assert agent.proc.poll() is None
        agent.wait_for("STATUS=reloaded")  # the held SIGHUP, acted on once running
    finally:
        assert agent.stop() == 0


def run_agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, "run", *args], capture_output=True, text=True, timeout=120)


def test_addresses_that_cannot_be_bound_are_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = run_agent("--config", str(config), "--api", f"127.0.0.1:{port}")
        config.write_text(config.read_text().replace("127.0.0.1:8780", f"127.0.0.1:{port}"))
        in_file = run_agent("--config", str(config))
    foreign = run_agent("--config", str(config), "--api", "192.0.2.1:8780")
    expected = [
        (in_use, f"error: <input>: --api: 127.0.0.1:{port}: address already in use"),
        (in_file, f"error: {config}: api.listen: 127.0.0.1:{port}: address already in use"),
        (foreign, "error: <input>: --api: 192.0.2.1:8780: cannot assign requested address"),
    ]
    for proc, line in expected:
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == line
        assert "Traceback" not in proc.stderr


def test_reload_rotates_the_token_and_survives_any_error(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN_A)
    token.chmod(0o600)
    config = write_config(tmp_path, api={"listen": "127.0.0.1:8780", "token_file": str(token)})
    agent = Agent(tmp_path, config)
    try:
        agent.wait_for("READY=1")
        status, rules = get(agent.port, "/rules?kind=group&limit=5")  # parsed in the API process
        assert status == 200 and rules["total"] > 0 and len(rules["rules"]) == 5
        assert {rule["kind"] for rule in rules["rules"]} == {"group"}
        pin = {"override": {"kind": "freeze"}}
        assert send(agent.port, "POST", "/overrides", pin, TOKEN_A)[0] == 201
        token.write_text(TOKEN_B)
        agent.proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: send(agent.port, "DELETE", "/overrides", token=TOKEN_B)[0] == 200, 30, "B"
        )
        assert send(agent.port, "DELETE", "/overrides", token=TOKEN_A)[0] == 401
        # a reload that fails with something other than a bad file: still READY=1 after
        before = get(agent.port, "/status")[1]["counters"]["config_errors"]
        config.write_text("[" * 5000 + "]" * 5000)
        agent.messages.clear()
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for("READY=1")
        wait_until(
            lambda: get(agent.port, "/status")[1]["counters"]["config_errors"] == before + 1,
            what="the refused reload counted",
        )
        assert agent.proc.poll() is None
    finally:
        assert agent.stop() == 0


def test_overrides_outlive_a_restart(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN_A)
    token.chmod(0o600)
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(
        tmp_path,
        state_dir=str(state),
        api={"listen": "127.0.0.1:8780", "token_file": str(token)},
    )
    agent = Agent(tmp_path, config)
    try:
        agent.wait_for("READY=1")
        assert (
            send(agent.port, "POST", "/overrides", {"override": {"kind": "freeze"}}, TOKEN_A)[0]
            == 201
        )
    finally:
        assert agent.stop() == 0
    again = Agent(tmp_path, config)
    try:
        again.wait_for("READY=1")
        listing = get(again.port, "/overrides")[1]["overrides"]
        assert [o["kind"] for o in listing] == ["freeze"]
        assert get(again.port, "/decisions/latest")[0] == 200
    finally:
        assert again.stop() == 0

"""`agent run` as a process: bundled configuration, systemd notifications, the API,
reload on SIGHUP (a bad file keeps the running configuration), clean SIGTERM, and a
schemathesis fuzz run of the API that must find no server error."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
import yaml

from tests.conftest import ROOT

AGENT = str(Path(sys.executable).with_name("agent"))
TOKEN = "fuzz-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Agent:
    """``agent run`` as a process (or ``command``, a script that ends in the same
    ``main``), with a notify socket and the API on a free port."""

    def __init__(
        self,
        tmp: Path,
        config: Path | None = None,
        extra: tuple[str, ...] = (),
        command: tuple[str, ...] = (AGENT,),
    ) -> None:
        self.port = free_port()
        self.notify_path = tmp / f"notify-{self.port}"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.notify.settimeout(0.2)
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify_path), "WATCHDOG_USEC": "400000"}
        args = [*command, "run", "--api", f"127.0.0.1:{self.port}", *extra]
        if config is not None:
            args += ["--config", str(config)]
        self.log = (tmp / f"agent-{self.port}.log").open("w+")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.messages: list[str] = []

    def wait_for(self, message: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(message in m for m in self.messages):
                return
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except TimeoutError:
                assert self.proc.poll() is None, self.output()
        raise AssertionError(f"no {message!r} in {self.messages}; log: {self.output()}")

    def drain(self) -> None:
        """Read what is left on the notify socket (STOPPING=1 comes last)."""
        self.notify.setblocking(False)
        while True:
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except (BlockingIOError, OSError):
                return

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int:
        """SIGTERM and the exit status; a process that ignores it is killed, and fails."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"agent ignored SIGTERM; log: {self.output()}") from None
        finally:
            self.drain()
            self.notify.close()
            self.log.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    tmp = tmp_path_factory.mktemp("agent")
    token = tmp / "token"
    token.write_text(TOKEN)
    config = yaml.safe_load((ROOT / "systemd/agent.yaml").read_text())
    config["scenario"] = str(ROOT / "topologies/scenarios/abilene-in3.yaml")
    config["api"]["token_file"] = str(token)
    config["decision_interval"] = 0.2
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    agent = Agent(tmp, path)
    agent.wait_for("READY=1")
    yield agent
    agent.stop()


def test_no_arguments_starts_on_the_sim_backend_and_turns_ready(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    try:
        agent.wait_for("READY=1")
        agent.wait_for("WATCHDOG=1")
        status, body = get(agent.port, "/status")
        assert status == 200 and body["backend"] == "sim" and body["ready"]
        first = body["counters"]["cycles"]
        time.sleep(1.5)
        body = get(agent.port, "/status")[1]
        assert body["counters"]["cycles"] > first  # decisions keep being made
        assert body["backend_stats"]["sim_flows_generated"] > 0
        assert body["config"]["source"].endswith("systemd/agent.yaml")
    finally:
        assert agent.stop() == 0
    assert any("STOPPING=1" in m for m in agent.messages)


def test_sighup_with_a_bad_file_keeps_the_running_configuration(
    running: Agent, tmp_path: Path
) -> None:
    args = running.proc.args
    assert isinstance(args, list)
    config_path = Path(str(args[-1]))
    good = config_path.read_text()
    policy = yaml.safe_load(good)["policy"]  # the bundled example's
    assert policy != "greedy"
    try:
        config_path.write_text("policy: [unclosed\n")
        running.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30  # both reloads, on a busy machine
        while get(running.port, "/status")[1]["counters"]["config_errors"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert get(running.port, "/status")[1]["policy"] == policy
        config_path.write_text(yaml.safe_dump({**yaml.safe_load(good), "policy": "greedy"}))
        running.proc.send_signal(signal.SIGHUP)
        while get(running.port, "/status")[1]["policy"] != "greedy":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        config_path.write_text(good)
        running.proc.send_signal(signal.SIGHUP)


def test_bad_configuration_fails_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "agent.yaml"
    bad.write_text("backend: sim\nbakcend: controller\n")
    proc = subprocess.run(
        [AGENT, "run", "--config", str(bad)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {bad}:2: bakcend: unknown key"
    assert shutil.which(AGENT) or Path(AGENT).exists()


def test_fuzz_api_finds_no_server_error(running: Agent) -> None:
    """schemathesis generates requests for every operation of /openapi.json (with the
    token on writes); no response may be a 5xx, and errors keep the JSON shape."""
    spec = get(running.port, "/openapi.json")[1]
    spec["servers"] = [{"url": f"http://127.0.0.1:{running.port}"}]
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 11
    seen: list[int] = []

    for operation in operations:

        @hypothesis.settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            if case.method.upper() in {"POST", "DELETE"}:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
            response = case.call(base_url=f"http://127.0.0.1:{running.port}")
            seen.append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, response.text)
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"}
                assert body["error"]["status"] == response.status_code

        exercise()
    assert len(seen) > 50 and any(code == 400 for code in seen)


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        ({"scenario": "no/such/scenario.yaml"}, (), "no/such/scenario.yaml"),
        ({"policy": "no-such-policy"}, (), "policy: unknown policy 'no-such-policy'"),
        ({"fallback": "no-such-fallback"}, (), "fallback: unknown policy 'no-such-fallback'"),
        ({"recovery_policy": "oracle"}, (), "recovery_policy: unknown recovery policy 'oracle'"),
        ({"policy": "./no/such/dir"}, (), "not found"),
        ({"api": {"token_file": "short-token"}}, (), "at least 16 characters"),
        ({}, ("--api", "127.0.0.1"), "--api"),
        ({}, ("--api", "127.0.0.1:99999"), "--api"),
    ],
)
def test_check_and_run_refuse_the_same_configurations_alike(
    tmp_path: Path, change: dict[str, Any], extra: tuple[str, ...], message: str
) -> None:
    (tmp_path / "short-token").write_text("too-short")
    config = yaml.safe_load((ROOT / "systemd/agent.yaml").read_text())
    config["scenario"] = str(ROOT / "topologies/scenarios/abilene-in3.yaml")
    for key, value in change.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    outputs = []
    for check in (("--check",), ()):
        proc = subprocess.run(
            [AGENT, "run", "--config", str(path), *extra, *check],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
        outputs.append(lines[0])
    assert outputs[0] == outputs[1]  # --check says what run says


def test_a_policy_path_is_relative_to_the_configuration(tmp_path: Path) -> None:
    shipped = ROOT / "topologies/policies/coordination/abilene-in3-rand-cap0-2"
    shutil.copytree(shipped, tmp_path / "policies" / "mine")
    config = yaml.safe_load((ROOT / "systemd/agent.yaml").read_text())
    config["scenario"] = str(ROOT / "topologies/scenarios/abilene-in3.yaml")
    config["policy"] = "policies/mine"
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [AGENT, "run", "--check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    assert f"policy {tmp_path / 'policies' / 'mine'}" in proc.stdout

"""The live page in a real browser: ``agent run`` on the simulator backend (ChinaNet,
42 nodes, one node failing part-way in) as a process, and headless Chromium driven by
Selenium through Debian's chromedriver. One daemon and one browser per module; both are
stopped whatever happens. Without Chromium or its driver the tests skip, saying so."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.support.processes import free_tcp_port, log_tail, spawn, stop_group, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AGENT = str(Path(sys.executable).with_name("agent"))
SCENARIO = Path(__file__).parent / "data" / "chinanet-in4.yaml"
TOKEN = "browser-test-token-0123456789"
INTERVAL_S = 1.0  # the daemon's decision interval in these tests (its default)
FAILING_NODE = "pop20"  # fails at 20 s of simulated time (the scenario's failures)


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and shutil.which(Path(path).name) is None:
            return (
                f"{Path(path).name} is not installed (Debian: apt-get install chromium "
                "chromium-driver, as `make system-deps` does)"
            )
    return None


@dataclass
class LiveAgent:
    """``agent run`` as a process, its API on ``port``."""

    port: int
    log: Path
    proc: Any

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=10) as response:
            return json.loads(response.read())

    def send(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path.lstrip("/"),
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def ready(self) -> bool:
        assert self.proc.poll() is None, f"agent run exited: {log_tail(self.log)}"
        try:
            with urllib.request.urlopen(self.url + "readyz", timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False


def agent_config(tmp: Path, scenario: Path = SCENARIO, interval: float = INTERVAL_S) -> Path:
    config = yaml.safe_load((ROOT / "systemd/agent.yaml").read_text())
    token = tmp / "token"
    token.write_text(TOKEN)
    config.update(scenario=str(scenario), decision_interval=interval, state_dir=None)
    config.update(policy="shortest-path")  # the shipped trained policy is for Abilene only
    config["api"]["token_file"] = str(token)
    config["log"] = {"format": "json", "level": "info"}
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_agent(config: Path, log: Path) -> LiveAgent:
    """``agent run`` on a free port, returned once its API reports ready."""
    port = free_tcp_port()
    cmd = [AGENT, "run", "--config", str(config), "--api", f"127.0.0.1:{port}"]
    agent = LiveAgent(port, log, spawn(cmd, log))
    try:
        wait_until(agent.ready, "the agent's API to report ready")
    except BaseException:
        stop_group(agent.proc)
        raise
    return agent


def start_chromium(profile: Path, size: str = "1400,1000") -> Any:
    """Headless Chromium through Debian's chromedriver (no driver download), the
    browser's console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    for argument in (
        "--headless=new",
        "--no-sandbox",  # as root in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--hide-scrollbars",
        f"--window-size={size}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else str(shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="module")
def live_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAgent]:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("live-agent")
    agent = start_agent(agent_config(tmp), tmp / "agent.log")
    try:
        yield agent
    finally:
        stop_group(agent.proc)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots and measured figures go (kept with pytest's temporary files)."""
    return tmp_path_factory.mktemp("live-page-artifacts")


@pytest.fixture(scope="module")
def browser(live_agent: LiveAgent, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()

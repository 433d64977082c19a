"""The API's fixtures: a daemon on the embedded simulator backend and the real aiohttp
test client over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from agent.api.app import make_app
from agent.model.scenario import load_scenario
from agent.runtime.config import AgentConfig
from agent.runtime.cycle import DecisionCycle
from agent.runtime.view import RunningDaemon
from tests.conftest import TOPOLOGIES

Client = TestClient[web.Request, web.Application]
TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def daemon() -> AsyncIterator[DecisionCycle]:
    from agent.southbound.sim_backend import SimBackend

    scenario = load_scenario(TOPOLOGIES / "scenarios/abilene-in3.yaml")
    backend = SimBackend(scenario, time_scale=1e-3, seed=2)
    daemon = DecisionCycle(AgentConfig(), scenario, backend)
    await backend.start()
    yield daemon
    await backend.stop()
    daemon.executor.shutdown(wait=False)


@pytest.fixture
async def client(aiohttp_client: Any, daemon: DecisionCycle) -> Client:
    made: Client = await aiohttp_client(make_app(RunningDaemon(daemon, "test"), TOKEN))
    return made

"""The Grafana dashboard shipped in systemd/ asks only for metrics the daemon exports."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Client
from tests.conftest import ROOT

SUFFIXES = ("_bucket", "_sum", "_count", "_total")


def queried_metrics(dashboard: dict[str, Any]) -> set[str]:
    names = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names |= set(re.findall(r"\bagent_[a-z_]+", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        names |= set(re.findall(r"\bagent_[a-z_]+", str(variable.get("query", ""))))
    return names


def exported(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {sample.name for sample in family.samples}
        names.add(family.name)
    return names


async def test_every_dashboard_query_names_an_exported_metric(client: Client) -> None:
    dashboard = json.loads((ROOT / "systemd/grafana-dashboard.json").read_text())
    text = await (await client.get("/metrics")).text()
    names = exported(text)
    queried = queried_metrics(dashboard)
    assert len(queried) >= 10
    missing = sorted(n for n in queried if n not in names)
    assert not missing, missing
    assert all(panel["targets"] for panel in dashboard["panels"])
    assert any(n.endswith(SUFFIXES[0]) for n in queried)  # latencies read as histograms

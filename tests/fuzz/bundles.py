"""The bundled inputs the fuzzer starts from: a scenario and the network, service,
traffic (and trace) files it names, copied into a fresh folder per case with the
layout of ``topologies/`` so that relative paths resolve as they do there."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
RES = "deepcoord/res"
RAND_ARRIVAL = f"{RES}/config/simulator/rand-arrival10_det-size001_duration100.yaml"
TRACE_CONFIG = (
    f"{RES}/config/simulator/"
    "rand-arrival10_det-size001_duration100_trace_0_100_inall_chrate2_scale00005.yaml"
)
TRACE_SCENARIO = f"""name: abilene-trace
network: ../{RES}/networks/abilene/abilene-in5-rand-cap0-2.graphml
service: ../{RES}/service_functions/abc.yaml
traffic: ../{TRACE_CONFIG}
steps: 20
"""


@dataclass(frozen=True)
class Bundle:
    """Files of one experiment by role (scenario, network, service, traffic, trace),
    as paths relative to ``topologies/``; ``scenario_text`` replaces the scenario
    file's content where the project ships no scenario for the combination."""

    name: str
    files: dict[str, str]
    scenario_text: str | None = field(default=None, compare=False)

    @property
    def roles(self) -> list[str]:
        return sorted(self.files)

    def materialize(self, folder: Path) -> dict[str, Path]:
        """Copy the files into ``folder``; returns role -> copied path."""
        paths = {}
        for role, relative in self.files.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if role == "scenario" and self.scenario_text is not None:
                target.write_text(self.scenario_text)
            else:
                shutil.copyfile(TOPOLOGIES / relative, target)
            paths[role] = target
        return paths


BUNDLES = (
    Bundle(
        "triangle",
        {
            "scenario": "scenarios/triangle.yaml",
            "network": f"{RES}/networks/triangle/triangle-in1-cap2-delay10.graphml",
            "service": f"{RES}/service_functions/ab.yaml",
            "traffic": RAND_ARRIVAL,
        },
    ),
    Bundle(
        "abilene-in3-degraded",
        {
            "scenario": "scenarios/abilene-in3-degraded.yaml",
            "network": f"{RES}/networks/abilene/abilene-in3-rand-cap0-2.graphml",
            "service": f"{RES}/service_functions/abc.yaml",
            "traffic": RAND_ARRIVAL,
        },
    ),
    Bundle(
        "ibm-zoo",
        {
            "scenario": "scenarios/ibm-zoo.yaml",
            "network": "zoo/Ibm.gml",
            "service": f"{RES}/service_functions/abc.yaml",
            "traffic": f"{RES}/config/simulator/rand-mmp-arrival12-8_det-size001_dur100.yaml",
        },
    ),
    Bundle(
        "abilene-trace",
        {
            "scenario": "scenarios/abilene-trace.yaml",
            "network": f"{RES}/networks/abilene/abilene-in5-rand-cap0-2.graphml",
            "service": f"{RES}/service_functions/abc.yaml",
            "traffic": TRACE_CONFIG,
            "trace": f"{RES}/traces/trace_0_100_inall_chrate2_scale00005.csv",
        },
        scenario_text=TRACE_SCENARIO,
    ),
)

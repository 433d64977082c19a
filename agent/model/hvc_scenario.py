"""One path names a whole coordination problem for the MILP (``agent solve SCENARIO``).

SCENARIO is one of:

- a directory in hvc's layout: ``network_description.yaml`` (an overlay, with
  ``advertised_restrictions.yaml`` where present, paths and edges made usable in both
  directions unless a scenario file says otherwise), or exactly one ``.gml`` substrate;
  plus ``chains.yaml``, ``vnf_descriptions.yaml``, ``vnf_requests.yaml`` and optionally
  ``hierarchy.yaml``;
- a MILP scenario YAML naming those files (keys below, paths relative to it);
- the project's own scenario YAML (coord-sim network, service and traffic), converted
  by agent.model.hvc_convert: one request per ingress at its mean arrival rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent.model.errors import InputError
from agent.model.hvc import Overlay, Problem, Request, Substrate, Vnf, with_backward
from agent.model.hvc_io import (
    check_request_vnfs,
    read_advertised_restrictions,
    read_chains,
    read_network_description,
    read_requests,
    read_vnf_descriptions,
)
from agent.model.hvc_topology import DomainSpec, read_hierarchy, read_hvc_gml
from agent.model.yamlfile import YamlDocument, load_yaml, require_mapping


class MilpScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    network: str | None = None  # a GML substrate
    overlay: str | None = None  # a network_description.yaml
    advertised: str | None = None  # advertised_restrictions.yaml, with an overlay
    backward: bool = True  # overlay paths and edges usable in both directions
    chains: str
    vnfs: str
    requests: str
    hierarchy: str | None = None


@dataclass(frozen=True)
class MilpInputs:
    """A problem on a substrate (with an optional hierarchy) or on a given overlay."""

    name: str
    vnfs: dict[str, Vnf]
    requests: dict[str, Request]
    substrate: Substrate | None = None
    overlay: Overlay | None = None
    hierarchy: DomainSpec | None = None
    source: str = ""

    def flat_problem(self) -> Problem:
        from agent.model.hvc import lowest_level_overlay

        overlay = self.overlay
        if overlay is None:
            assert self.substrate is not None
            overlay = lowest_level_overlay(self.substrate)
        return Problem(overlay, self.vnfs, self.requests, self.name)


def load_milp_inputs(path: str | Path) -> MilpInputs:
    """Load SCENARIO (see the module text); every problem is an InputError."""
    file = Path(path)
    if file.is_dir():
        return _from_directory(file)
    if not file.is_file():
        raise InputError(file, "", "scenario not found (a directory or a YAML file)")
    doc = load_yaml(file, "scenario file")
    data = require_mapping(doc, "a scenario file")
    if "service" in data or "traffic" in data:
        from agent.model.hvc_convert import inputs_from_scenario
        from agent.model.scenario import load_scenario

        return inputs_from_scenario(load_scenario(file))
    spec = doc.validate(MilpScenarioFile, data)
    return _from_spec(doc, spec)


def _from_directory(folder: Path) -> MilpInputs:
    overlay_file = folder / "network_description.yaml"
    gml = sorted(folder.glob("*.gml"))
    if not overlay_file.is_file() and len(gml) != 1:
        found = f"{len(gml)} .gml files" if gml else "no network"
        raise InputError(
            folder,
            "",
            f"expected network_description.yaml or one .gml file, "
            f"found {found} (name it in a scenario file)",
        )
    advertised = folder / "advertised_restrictions.yaml"
    hierarchy = folder / "hierarchy.yaml"
    spec = MilpScenarioFile(
        name=folder.name,
        overlay=overlay_file.name if overlay_file.is_file() else None,
        network=None if overlay_file.is_file() else gml[0].name,
        advertised=advertised.name if advertised.is_file() else None,
        chains="chains.yaml",
        vnfs="vnf_descriptions.yaml",
        requests="vnf_requests.yaml",
        hierarchy=hierarchy.name if hierarchy.is_file() and not overlay_file.is_file() else None,
    )
    return _from_spec(None, spec, folder)


def _from_spec(
    doc: YamlDocument | None, spec: MilpScenarioFile, base: Path | None = None
) -> MilpInputs:
    root = base if base is not None else doc.path.parent if doc is not None else Path()

    def file(name: str, key: str) -> Path:
        path = Path(name) if Path(name).is_absolute() else root / name
        if not path.is_file():
            if doc is not None:
                raise doc.error([key], f"file {name!r} not found (relative to {root})")
            raise InputError(path, "", "file not found")
        return path

    if (spec.network is None) == (spec.overlay is None):
        where = doc.path if doc is not None else root
        raise InputError(where, "network", "give exactly one of network (GML) or overlay")
    substrate = read_hvc_gml(file(spec.network, "network")) if spec.network else None
    overlay = None
    if spec.overlay is not None:
        overlay = read_network_description(file(spec.overlay, "overlay"))
        if spec.advertised is not None:
            overlay = read_advertised_restrictions(file(spec.advertised, "advertised"), overlay)
        overlay = with_backward(overlay) if spec.backward else overlay
    nodes = set(substrate.nodes if substrate is not None else overlay.nodes if overlay else [])
    chains = read_chains(file(spec.chains, "chains"))
    vnfs = read_vnf_descriptions(file(spec.vnfs, "vnfs"))
    requests_file = file(spec.requests, "requests")
    requests = read_requests(requests_file, chains, nodes)
    check_request_vnfs(requests, vnfs, requests_file)
    hierarchy = None
    if spec.hierarchy is not None:
        if substrate is None:
            raise InputError(root, "hierarchy", "a hierarchy needs a GML network")
        hierarchy = read_hierarchy(file(spec.hierarchy, "hierarchy"), substrate.nodes)
    name = spec.name or (doc.path.stem if doc is not None else root.name)
    source = str(doc.path if doc is not None else root)
    return MilpInputs(name, vnfs, requests, substrate, overlay, hierarchy, source)

"""Readers for the hierarchical-coordination (hvc) YAML inputs, with located errors.

``chains.yaml`` (arcs as ``!!python/tuple`` pairs), ``vnf_descriptions.yaml`` (linear
lambda strings, never evaluated), ``vnf_requests.yaml``, ``network_description.yaml``
(an overlay: domains, intra-domain paths, inter-domain edges) and
``advertised_restrictions.yaml`` (shared CPU and rate pools). Every problem is an
InputError naming the file, the key path, the line and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.model.errors import InputError
from agent.model.expr import ExpressionError
from agent.model.hvc import (
    DST,
    SRC,
    Overlay,
    OverlayEdge,
    OverlayPath,
    Request,
    SharedPool,
    Vnf,
)
from agent.model.hvc_expr import Linear, parse_linear
from agent.model.hvc_yaml import load_hvc_yaml
from agent.model.network_io import MAX_VALUE
from agent.model.yamlfile import KeyPath, YamlDocument

Chains = dict[str, tuple[str, ...]]


def _mapping(doc: YamlDocument, value: Any, key: KeyPath, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(key, f"{what} must be a mapping")
    for name in value:
        if not isinstance(name, str | int) or isinstance(name, bool):
            raise doc.error(key, f"names must be strings, got {name!r}")
    return {str(k): v for k, v in value.items()}


def _top(doc: YamlDocument, what: str) -> dict[str, Any]:
    if not isinstance(doc.data, dict):
        raise InputError(doc.path, "", f"{what} must be a YAML mapping at the top level", 1)
    return _mapping(doc, doc.data, [], what)


def _name(doc: YamlDocument, value: Any, key: KeyPath) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise doc.error(key, f"expected a name, got {value!r:.60}")
    return str(value)


def number(doc: YamlDocument, value: Any, key: KeyPath, positive: bool = False) -> float:
    """A finite non-negative number (positive if asked), located where it is not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise doc.error(key, f"expected a number, got {value!r:.60}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or number > MAX_VALUE:
        raise doc.error(key, f"expected a non-negative number of at most {MAX_VALUE:g}")
    if positive and number == 0:
        raise doc.error(key, "expected a positive number")
    return number


def _keys(doc: YamlDocument, block: dict[str, Any], key: KeyPath, required: set[str]) -> None:
    missing = sorted(required - set(block))
    if missing:
        raise doc.error(key, f"required key {missing[0]!r} is missing")


# ---------------------------------------------------------------- chains


def read_chains(path: str | Path) -> Chains:
    """chain name -> the VNFs between SRC and DST."""
    doc = load_hvc_yaml(path, "chain file")
    chains: Chains = {}
    for name, arcs in _top(doc, "a chain file").items():
        if not isinstance(arcs, list) or not arcs:
            raise doc.error([name], "a chain is a non-empty list of (from, to) pairs")
        chains[name] = _chain(doc, name, arcs)
    return chains


def _chain(doc: YamlDocument, name: str, arcs: list[Any]) -> tuple[str, ...]:
    sequence: list[str] = []
    for i, arc in enumerate(arcs):
        if not isinstance(arc, tuple | list) or len(arc) != 2:
            raise doc.error([name, i], "an arc is a pair (from, to), as !!python/tuple")
        first, second = _name(doc, arc[0], [name, i, 0]), _name(doc, arc[1], [name, i, 1])
        if i == 0 and first != SRC:
            raise doc.error([name, i, 0], f"a chain starts at {SRC}, got {first!r}")
        if i > 0 and first != sequence[-1]:
            raise doc.error(
                [name, i, 0], f"arc starts at {first!r}, the previous ended at {sequence[-1]!r}"
            )
        sequence.extend([first] if i == 0 else [])
        sequence.append(second)
    if sequence[-1] != DST:
        raise doc.error([name, len(arcs) - 1, 1], f"a chain ends at {DST}, got {sequence[-1]!r}")
    inner = tuple(sequence[1:-1])
    for i, vnf in enumerate(inner):
        if vnf in {SRC, DST}:
            raise doc.error([name, i], f"{vnf} can only start or end a chain")
    return inner


# ---------------------------------------------------------------- VNFs


def read_vnf_descriptions(path: str | Path) -> dict[str, Vnf]:
    """VNF name -> its CPU and outgoing-rate functions (SRC and DST included)."""
    doc = load_hvc_yaml(path, "VNF description file")
    top = _top(doc, "a VNF description file")
    _keys(doc, top, [], {"vnfs", "cpu_consumption", "outgoing_rate"})
    names = top["vnfs"]
    if not isinstance(names, list):
        raise doc.error(["vnfs"], "expected a list of VNF names")
    cpu = _mapping(doc, top["cpu_consumption"], ["cpu_consumption"], "cpu_consumption")
    out = _mapping(doc, top["outgoing_rate"], ["outgoing_rate"], "outgoing_rate")
    vnfs: dict[str, Vnf] = {}
    for i, raw in enumerate(names):
        name = _name(doc, raw, ["vnfs", i])
        cpu_fn = _function(doc, cpu, "cpu_consumption", name)
        out_fn = _function(doc, out, "outgoing_rate", name)
        if not out_fn.is_proportional and name not in {SRC, DST}:
            raise doc.error(
                ["outgoing_rate", name],
                "the outgoing rate must be proportional to in_rate (no constant term)",
            )
        vnfs[name] = Vnf(name, cpu_fn, out_fn)
    for table, key in ((cpu, "cpu_consumption"), (out, "outgoing_rate")):
        for name in table:
            if name not in vnfs:
                raise doc.error([key, name], f"VNF {name!r} is not listed under vnfs")
    return vnfs


def _function(doc: YamlDocument, table: dict[str, Any], key: str, name: str) -> Linear:
    if name not in table:
        if name in {SRC, DST}:
            return Linear(1.0 if key == "outgoing_rate" else 0.0, 0.0, "in_rate")
        raise doc.error([key], f"no entry for VNF {name!r}")
    try:
        fn = parse_linear(table[name])
    except ExpressionError as exc:
        raise doc.error([key, name], f"invalid rate function: {exc}") from None
    if fn.slope < 0 or fn.intercept < 0:
        raise doc.error([key, name], "coefficients must not be negative")
    return fn


# ---------------------------------------------------------------- requests

_REQUEST_KEYS = {"ingress", "egress", "initial_rate", "vnf_chain"}
_REQUEST_OPTIONAL = {"ingress_domain", "egress_domain", "max_delay"}


def read_requests(
    path: str | Path, chains: Mapping[str, tuple[str, ...]], nodes: set[str] | None = None
) -> dict[str, Request]:
    """Request name -> Request; chains and (given ``nodes``) nodes must exist."""
    doc = load_hvc_yaml(path, "VNF request file")
    requests: dict[str, Request] = {}
    for name, block in _top(doc, "a VNF request file").items():
        block = _mapping(doc, block, [name], "a request")
        _keys(doc, block, [name], _REQUEST_KEYS)
        unknown = sorted(set(block) - _REQUEST_KEYS - _REQUEST_OPTIONAL)
        if unknown:
            raise doc.error([name, unknown[0]], "unknown key")
        chain = _name(doc, block["vnf_chain"], [name, "vnf_chain"])
        if chain not in chains:
            raise doc.error([name, "vnf_chain"], f"unknown chain {chain!r}")
        ends = {k: _name(doc, block[k], [name, k]) for k in ("ingress", "egress")}
        for key, node in ends.items():
            if nodes is not None and node not in nodes:
                raise doc.error([name, key], f"unknown node {node!r}")
        rate = number(doc, block["initial_rate"], [name, "initial_rate"], positive=True)
        requests[name] = Request(name, ends["ingress"], ends["egress"], rate, chains[chain], chain)
    return requests


def check_request_vnfs(
    requests: dict[str, Request], vnfs: dict[str, Vnf], source: str | Path
) -> None:
    """Every VNF a request's chain names is described."""
    for request in requests.values():
        for vnf in request.chain:
            if vnf not in vnfs:
                problem = f"chain {request.chain_name!r} uses VNF {vnf!r}, which is not described"
                raise InputError(source, request.name, problem)


# ---------------------------------------------------------------- overlays


def read_network_description(path: str | Path) -> Overlay:
    doc = load_hvc_yaml(path, "network description")
    top = _top(doc, "a network description")
    _keys(doc, top, [], {"domain_nodes"})
    domains: dict[str, tuple[str, ...]] = {}
    for domain, members in _mapping(doc, top["domain_nodes"], ["domain_nodes"], "").items():
        if not isinstance(members, list):
            raise doc.error(["domain_nodes", domain], "expected a list of nodes")
        names = (_name(doc, m, ["domain_nodes", domain, i]) for i, m in enumerate(members))
        domains[domain] = tuple(dict.fromkeys(names))
    known = {node for members in domains.values() for node in members}
    edges = {
        key: OverlayEdge(key, *_link(doc, block, ["inter_domain_edges", key], known))
        for key, block in _mapping(
            doc, top.get("inter_domain_edges"), ["inter_domain_edges"], ""
        ).items()
    }
    paths: dict[str, OverlayPath] = {}
    for key, block in _mapping(
        doc, top.get("intra_domain_paths"), ["intra_domain_paths"], ""
    ).items():
        where: KeyPath = ["intra_domain_paths", key]
        src, dst, delay, rate = _link(doc, block, where, known)
        _keys(doc, block, where, {"cpu", "domain"})
        domain = _name(doc, block["domain"], [*where, "domain"])
        if domain not in domains:
            raise doc.error([*where, "domain"], f"unknown domain {domain!r}")
        cpu = number(doc, block["cpu"], [*where, "cpu"])
        paths[key] = OverlayPath(key, src, dst, domain, cpu, delay, rate)
    return Overlay(domains, paths, edges)


def _link(
    doc: YamlDocument, block: Any, where: KeyPath, known: set[str]
) -> tuple[str, str, float, float]:
    block = _mapping(doc, block, where, "a link")
    _keys(doc, block, where, {"src", "dst", "delay", "max_rate"})
    ends = [_name(doc, block[k], [*where, k]) for k in ("src", "dst")]
    for key, node in zip(("src", "dst"), ends, strict=True):
        if node not in known:
            raise doc.error([*where, key], f"node {node!r} is in no domain")
    delay = number(doc, block["delay"], [*where, "delay"])
    rate = number(doc, block["max_rate"], [*where, "max_rate"])
    return ends[0], ends[1], delay, rate


def read_advertised_restrictions(path: str | Path, overlay: Overlay) -> Overlay:
    """The overlay with the shared CPU and rate pools of the file added."""
    doc = load_hvc_yaml(path, "advertised restriction file")
    top = _top(doc, "an advertised restriction file") if doc.data is not None else {}
    cpu = _pools(doc, top, "cpu_restrictions", "shared_cpu", overlay)
    rate = _pools(doc, top, "routing_restrictions", "shared_bottleneck", overlay)
    return Overlay(
        overlay.domains,
        overlay.paths,
        overlay.edges,
        overlay.shared_cpu + cpu,
        overlay.shared_path_rate + rate,
        overlay.shared_edge_rate,
    )


def _pools(
    doc: YamlDocument, top: dict[str, Any], key: str, amount_key: str, overlay: Overlay
) -> tuple[SharedPool, ...]:
    pools: list[SharedPool] = []
    for name, block in _mapping(doc, top.get(key), [key], key).items():
        where: KeyPath = [key, name]
        block = _mapping(doc, block, where, "a restriction")
        _keys(doc, block, where, {"paths", amount_key})
        members = block["paths"]
        if not isinstance(members, list):
            raise doc.error([*where, "paths"], "expected a list of path names")
        names = tuple(_name(doc, m, [*where, "paths", i]) for i, m in enumerate(members))
        for i, member in enumerate(names):
            if member not in overlay.paths:
                raise doc.error([*where, "paths", i], f"unknown path {member!r}")
        amount = number(doc, block[amount_key], [*where, amount_key])
        domain = str(block.get("domain", ""))
        pools.append(SharedPool(name, names, amount, domain))
    return tuple(pools)

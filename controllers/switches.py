"""What the controller knows about its switches: connection and ports."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from agent.protocol import Datapath, Port, Topology
from controllers.ofconv import is_physical, port_desc


@dataclass
class Switch:
    dpid: int
    datapath: Any
    connected: bool = True
    ports: dict[int, Port] = field(default_factory=dict)


class SwitchTable:
    """Thread-safe: written by the os-ken event thread, read by request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._switches: dict[int, Switch] = {}

    def up(self, datapath: Any) -> None:
        ports = {
            no: port_desc(p)
            for no, p in (getattr(datapath, "ports", None) or {}).items()
            if is_physical(no)  # leave out LOCAL and other reserved ports
        }
        with self._lock:
            self._switches[datapath.id] = Switch(datapath.id, datapath, True, ports)

    def down(self, datapath: Any) -> bool:
        """Mark the switch disconnected if ``datapath`` is its current connection."""
        with self._lock:
            switch = self._switches.get(datapath.id)
            if switch is None or switch.datapath is not datapath or not switch.connected:
                return False
            switch.connected = False
            return True

    def port(self, datapath: Any, desc: Any, deleted: bool) -> Port:
        entry = port_desc(desc)
        with self._lock:
            switch = self._switches.get(datapath.id)
            if switch is not None and switch.datapath is datapath:
                if deleted:
                    switch.ports.pop(entry.port_no, None)
                elif is_physical(entry.port_no):
                    switch.ports[entry.port_no] = entry
        return entry

    def connected(self) -> dict[int, Any]:
        """dpid -> datapath, for every connected switch."""
        with self._lock:
            return {d: s.datapath for d, s in self._switches.items() if s.connected}

    def datapath(self, dpid: int) -> Any | None:
        with self._lock:
            switch = self._switches.get(dpid)
            return switch.datapath if switch is not None and switch.connected else None

    def topology(self) -> Topology:
        """Every switch seen, with its ports; no links (there is no link discovery)."""
        with self._lock:
            return Topology(
                {
                    dpid: Datapath(dpid, s.connected, tuple(s.ports[no] for no in sorted(s.ports)))
                    for dpid, s in sorted(self._switches.items())
                }
            )

"""What the protocol's requests do on the switches: apply, dump, poll.

Runs in server and poller threads. Messages go out through ``send`` (which assigns
our own xids, so replies and errors can be matched); replies come back through the
``ReplyRouter`` that the os-ken event handlers feed.
"""

from __future__ import annotations

import time
from typing import Any

from agent import __version__
from agent.rules.intents import (
    COOKIE,
    COOKIE_MASK,
    GROUP_BASE,
    METER_BASE,
    IntentError,
    from_json,
)
from controllers import ofconv
from controllers.compat import OFP, PARSER, framework_version
from controllers.exchange import Exchange, ReplyRouter
from controllers.switches import SwitchTable

# controller-side errors carry type -1 (docs/controller-protocol.md); the code says why
CODE_TIMEOUT = 0
CODE_DISCONNECTED = 1
CODE_INVALID = 2


def _error_text(type_: int, code: int) -> str:
    try:
        return f"{OFP.ofp_error_type_to_str(type_)}: {OFP.ofp_error_code_to_str(type_, code)}"
    except Exception:  # an experimenter or unknown type
        return f"OpenFlow error type {type_} code {code}"


class Operations:
    """The ``RequestHandler`` of the protocol server, plus statistics polling."""

    def __init__(
        self, switches: SwitchTable, router: ReplyRouter, apply_timeout: float = 5.0
    ) -> None:
        self.switches = switches
        self.router = router
        self.apply_timeout = apply_timeout

    def send(self, exchange: Exchange, dp: Any, msg: Any, tag: Any, answered: bool) -> bool:
        xid = self.router.next_xid()
        msg.xid = xid
        self.router.register(exchange, dp.id, xid, tag, answered)
        if dp.send_msg(msg):
            return True
        exchange.fail((dp.id, xid), -1, CODE_DISCONNECTED, f"switch {dp.id} disconnected")
        return False

    # ------------------------------------------------------------ hello, topology

    def hello(self, agent: str) -> dict[str, Any]:
        return {
            "protocol": 1,
            "controller": f"sdn-coordination controllers {__version__} on {framework_version()}",
            "datapaths": sorted(self.switches.connected()),
        }

    def topology(self) -> dict[str, Any]:
        # link discovery (LLDP) is off: the agent learns links from its topology files
        return {"datapaths": self.switches.snapshot(), "links": []}

    # ------------------------------------------------------------ apply

    def apply(self, batch: list[Any]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        exchange = Exchange()
        sent: dict[int, list[int]] = {}  # dpid -> batch indexes sent there
        try:
            for index, entry in enumerate(batch):
                problem = self._send_entry(exchange, index, entry, sent)
                if problem is not None:
                    errors.append(problem)
            for dpid in sent:
                dp = self.switches.datapath(dpid)
                if dp is not None:
                    self.send(exchange, dp, PARSER.OFPBarrierRequest(dp), ("barrier", dpid), True)
            exchange.wait(self.apply_timeout)
            errors.extend(self._apply_failures(exchange, sent))
        finally:
            self.router.release(exchange)
        errors.sort(key=lambda e: (e["index"] is None, e["index"] or 0))
        return {"errors": errors}

    def _send_entry(
        self, exchange: Exchange, index: int, entry: Any, sent: dict[int, list[int]]
    ) -> dict[str, Any] | None:
        dpid = entry.get("intent", {}).get("dpid") if isinstance(entry, dict) else None
        try:
            if not isinstance(entry, dict) or not isinstance(entry.get("intent"), dict):
                raise IntentError("a batch entry is {op, intent}")
            intent = from_json(entry["intent"])
            dp = self.switches.datapath(intent.dpid)
            if dp is None:
                return _local_error(index, dpid, CODE_DISCONNECTED, "switch not connected")
            msg = ofconv.to_message(dp, str(entry.get("op")), intent)
        except (IntentError, ofconv.ConversionError) as exc:
            return _local_error(index, dpid, CODE_INVALID, str(exc))
        sent.setdefault(intent.dpid, []).append(index)
        self.send(exchange, dp, msg, index, False)
        return None

    def _apply_failures(
        self, exchange: Exchange, sent: dict[int, list[int]]
    ) -> list[dict[str, Any]]:
        errors = []
        failed_barriers = set()
        for f in exchange.failures:
            if isinstance(f.tag, tuple):  # the barrier itself failed: the switch went away
                failed_barriers.add(f.dpid)
                continue
            message = f.message or _error_text(f.type, f.code)
            errors.append(_error(f.tag, f.dpid, f.type, f.code, message))
        reported = {e["index"] for e in errors}
        for dpid, _xid in exchange.unanswered() | {(d, 0) for d in failed_barriers}:
            code, why = (
                (CODE_DISCONNECTED, "switch disconnected before the barrier reply")
                if dpid in failed_barriers
                else (CODE_TIMEOUT, f"no barrier reply within {self.apply_timeout} s")
            )
            for index in sent.get(dpid, []):
                if index not in reported:
                    errors.append(_error(index, dpid, -1, code, why))
        return errors

    # ------------------------------------------------------------ dump

    def dump(self, request: dict[str, Any]) -> dict[str, Any]:
        cookie = int(request.get("cookie", COOKIE))
        cookie_mask = int(request.get("cookie_mask", COOKIE_MASK))
        groups = _range(request, "group", GROUP_BASE, GROUP_BASE + 0xFFFFFF)
        meters = _range(request, "meter", METER_BASE, METER_BASE + 0xFF)
        exchange = Exchange()
        datapaths = self.switches.connected()
        if isinstance(request.get("dpids"), list):  # only these switches
            wanted = {int(d) for d in request["dpids"]}
            datapaths = {dpid: dp for dpid, dp in datapaths.items() if dpid in wanted}
        try:
            for dp in datapaths.values():
                flows = PARSER.OFPFlowStatsRequest(dp, cookie=cookie, cookie_mask=cookie_mask)
                self.send(exchange, dp, flows, "flows", True)
                self.send(exchange, dp, PARSER.OFPGroupDescStatsRequest(dp), "groups", True)
                self.send(exchange, dp, PARSER.OFPMeterConfigStatsRequest(dp), "meters", True)
            if not exchange.wait(self.apply_timeout):
                late = sorted({dpid for dpid, _ in exchange.unanswered()})
                raise TimeoutError(f"switches {late} did not answer the dump in time")
            rules: list[dict[str, Any]] = []
            for (dpid, xid), tag in sorted(exchange.tags.items()):
                for stat in exchange.body((dpid, xid)):
                    rules.extend(_dump_rule(dpid, tag, stat, groups, meters))
        finally:
            self.router.release(exchange)
        return {"rules": rules}

    # ------------------------------------------------------------ statistics polling

    def poll(self, timeout: float) -> list[dict[str, Any]]:
        """One statistics round over every connected switch: the monitor records."""
        exchanges: dict[int, Exchange] = {}
        for dpid, dp in self.switches.connected().items():
            exchange = exchanges[dpid] = Exchange()
            self.send(exchange, dp, PARSER.OFPPortStatsRequest(dp), "ports", True)
            self.send(exchange, dp, PARSER.OFPFlowStatsRequest(dp), "flows", True)
            self.send(exchange, dp, PARSER.OFPGroupStatsRequest(dp), "groups", True)
            self.send(exchange, dp, PARSER.OFPMeterStatsRequest(dp), "meters", True)
        deadline = time.monotonic() + timeout
        records = []
        for dpid, exchange in exchanges.items():
            try:
                complete = exchange.wait(max(0.0, deadline - time.monotonic()))
                if complete and not any(f.type == -1 for f in exchange.failures):
                    records.append(_monitor_record(dpid, exchange))
            finally:
                self.router.release(exchange)
        return records


def _range(request: dict[str, Any], name: str, low: int, high: int) -> tuple[int, int]:
    return int(request.get(f"{name}_min", low)), int(request.get(f"{name}_max", high))


def _dump_rule(
    dpid: int, tag: str, stat: Any, groups: tuple[int, int], meters: tuple[int, int]
) -> list[dict[str, Any]]:
    if tag == "flows":
        return [ofconv.flow_from_stats(dpid, stat)]
    if tag == "groups" and groups[0] <= stat.group_id <= groups[1]:
        return [ofconv.group_from_stats(dpid, stat)]
    if tag == "meters" and meters[0] <= stat.meter_id <= meters[1]:
        return [ofconv.meter_from_stats(dpid, stat)]
    return []


def _monitor_record(dpid: int, exchange: Exchange) -> dict[str, Any]:
    record: dict[str, Any] = {"ts": exchange.finished_at or time.time(), "dpid": dpid}
    convert = {
        "ports": ofconv.monitor_port,
        "flows": ofconv.monitor_flow,
        "groups": ofconv.monitor_group,
        "meters": ofconv.monitor_meter,
    }
    for key, tag in exchange.tags.items():
        entries = [convert[tag](stat) for stat in exchange.body(key)]
        if tag == "ports":
            entries = [p for p in entries if p["port_no"] <= 0xFFFFFF00]
        record[tag] = entries
    return record


def _error(index: Any, dpid: Any, type_: int, code: int, message: str) -> dict[str, Any]:
    return {"index": index, "dpid": dpid, "type": type_, "code": code, "message": message}


def _local_error(index: int, dpid: Any, code: int, message: str) -> dict[str, Any]:
    return _error(index, dpid, -1, code, message)

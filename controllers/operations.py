"""What the protocol's requests do on the switches: apply, dump, poll.

Runs in server and poller threads. Messages go out through ``send`` (which assigns
our own xids, so replies and errors can be matched); replies come back through the
``ReplyRouter`` that the os-ken event handlers feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from agent import __version__
from agent.protocol import (
    CODE_DISCONNECTED,
    CODE_INVALID,
    CODE_TIMEOUT,
    LOCAL_ERROR_TYPE,
    ApplyResult,
    BatchEntry,
    BatchError,
    DumpReply,
    DumpRequest,
    Hello,
    Monitor,
    Section,
    Topology,
    WireError,
)
from agent.rules.intents import Intent
from controllers import ofconv
from controllers.compat import OFP, PARSER, framework_version
from controllers.exchange import Exchange, ReplyRouter
from controllers.switches import SwitchTable

# the statistics request of each monitor section, and how its entries convert
_POLLS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "ports": (PARSER.OFPPortStatsRequest, ofconv.monitor_port),
    "flows": (PARSER.OFPFlowStatsRequest, ofconv.monitor_flow),
    "groups": (PARSER.OFPGroupStatsRequest, ofconv.monitor_group),
    "meters": (PARSER.OFPMeterStatsRequest, ofconv.monitor_meter),
}


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
        why = f"switch {dp.id} disconnected"
        exchange.fail((dp.id, xid), LOCAL_ERROR_TYPE, CODE_DISCONNECTED, why)
        return False

    # ------------------------------------------------------------ hello, topology

    def hello(self, agent: str) -> Hello:
        return Hello(
            f"sdn-coordination controllers {__version__} on {framework_version()}",
            tuple(sorted(self.switches.connected())),
        )

    def topology(self) -> Topology:
        # link discovery (LLDP) is off: the agent learns links from its topology files
        return self.switches.topology()

    # ------------------------------------------------------------ apply

    def apply(self, batch: Sequence[Any]) -> ApplyResult:
        """Send every entry in batch order, then a barrier to each switch involved;
        errors by batch index (malformed entries are errors too, not the whole batch)."""
        errors: list[BatchError] = []
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
        return ApplyResult.sorted(errors)

    def _send_entry(
        self, exchange: Exchange, index: int, raw: Any, sent: dict[int, list[int]]
    ) -> BatchError | None:
        try:
            entry = BatchEntry.from_wire(raw, f"batch[{index}]")
        except WireError as exc:
            return BatchError.local(index, _named_dpid(raw), CODE_INVALID, str(exc))
        dpid = entry.intent.dpid
        dp = self.switches.datapath(dpid)
        if dp is None:
            return BatchError.local(index, dpid, CODE_DISCONNECTED, "switch not connected")
        try:
            msg = ofconv.encoded(ofconv.to_message(dp, entry.op, entry.intent))
        except ofconv.ConversionError as exc:
            return BatchError.local(index, dpid, CODE_INVALID, str(exc))
        sent.setdefault(dpid, []).append(index)
        self.send(exchange, dp, msg, index, False)
        return None

    def _apply_failures(self, exchange: Exchange, sent: dict[int, list[int]]) -> list[BatchError]:
        errors = []
        failed_barriers = set()
        for f in exchange.failures:
            if isinstance(f.tag, tuple):  # the barrier itself failed: the switch went away
                failed_barriers.add(f.dpid)
                continue
            message = f.message or _error_text(f.type, f.code)
            errors.append(BatchError(f.tag, f.dpid, f.type, f.code, message))
        reported = {e.index for e in errors}
        for dpid, _xid in exchange.unanswered() | {(d, 0) for d in failed_barriers}:
            code, why = (
                (CODE_DISCONNECTED, "switch disconnected before the barrier reply")
                if dpid in failed_barriers
                else (CODE_TIMEOUT, f"no barrier reply within {self.apply_timeout} s")
            )
            for index in sent.get(dpid, []):
                if index not in reported:
                    errors.append(BatchError.local(index, dpid, code, why))
        return errors

    # ------------------------------------------------------------ dump

    def dump(self, request: DumpRequest) -> DumpReply:
        """Our rules on every connected switch (or those of ``request.dpids``);
        TimeoutError if one does not answer in time (never a partial list)."""
        exchange = Exchange()
        datapaths = self.switches.connected()
        if request.dpids is not None:
            datapaths = {d: dp for d, dp in datapaths.items() if d in request.dpids}
        try:
            for dp in datapaths.values():
                flows = PARSER.OFPFlowStatsRequest(
                    dp, cookie=request.cookie, cookie_mask=request.cookie_mask
                )
                self.send(exchange, dp, flows, "flows", True)
                self.send(exchange, dp, PARSER.OFPGroupDescStatsRequest(dp), "groups", True)
                self.send(exchange, dp, PARSER.OFPMeterConfigStatsRequest(dp), "meters", True)
            answered = exchange.wait(self.apply_timeout)
            if not answered or exchange.failures:  # never a partial list
                late = {dpid for dpid, _ in exchange.unanswered()}
                late |= {f.dpid for f in exchange.failures}
                raise TimeoutError(
                    f"switches {sorted(late)} failed or did not answer the dump in time"
                )
            rules: list[Intent] = []
            for (dpid, xid), tag in sorted(exchange.tags.items()):
                for stat in exchange.body((dpid, xid)):
                    rules.extend(_dump_rule(dpid, tag, stat, request))
        finally:
            self.router.release(exchange)
        return DumpReply(tuple(rules))

    # ------------------------------------------------------------ statistics polling

    def poll(self, timeout: float, sections: Iterable[Section] = ("ports",)) -> list[Monitor]:
        """One statistics round over every connected switch, asking only for
        ``sections``: one monitor record per switch that answered in time."""
        wanted = [s for s in _POLLS if s in set(sections)]
        exchanges: dict[int, Exchange] = {}
        for dpid, dp in self.switches.connected().items():
            exchange = exchanges[dpid] = Exchange()
            for section in wanted:
                self.send(exchange, dp, _POLLS[section][0](dp), section, True)
        deadline = time.monotonic() + timeout
        records = []
        for dpid, exchange in exchanges.items():
            try:
                complete = exchange.wait(max(0.0, deadline - time.monotonic()))
                if complete and not any(f.type == LOCAL_ERROR_TYPE for f in exchange.failures):
                    records.append(_monitor_record(dpid, exchange))
            finally:
                self.router.release(exchange)
        return records


def _named_dpid(raw: Any) -> int | None:
    """The switch a malformed batch entry names, if it names one."""
    intent = raw.get("intent") if isinstance(raw, dict) else None
    dpid = intent.get("dpid") if isinstance(intent, dict) else None
    return dpid if isinstance(dpid, int) and not isinstance(dpid, bool) else None


def _dump_rule(dpid: int, tag: str, stat: Any, request: DumpRequest) -> list[Intent]:
    groups, meters = request.group_range, request.meter_range
    if tag == "flows":
        return [ofconv.flow_from_stats(dpid, stat)]
    if tag == "groups" and groups[0] <= stat.group_id <= groups[1]:
        return [ofconv.group_from_stats(dpid, stat)]
    if tag == "meters" and meters[0] <= stat.meter_id <= meters[1]:
        return [ofconv.meter_from_stats(dpid, stat)]
    return []


def _monitor_record(dpid: int, exchange: Exchange) -> Monitor:
    sections: dict[str, tuple[Any, ...]] = {}
    for key, tag in exchange.tags.items():
        entries = [_POLLS[tag][1](stat) for stat in exchange.body(key)]
        if tag == "ports":
            entries = [p for p in entries if ofconv.is_physical(p.port_no)]
        sections[tag] = tuple(entries)
    return Monitor(dpid, exchange.finished_at or time.time(), **sections)

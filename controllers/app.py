"""The os-ken application: a thin shell that reports what switches say and applies
what it is told (docs/controller-protocol.md). No policy lives here.

Configuration comes from os-ken's CONF (set by ``python -m controllers``, or by
``ryu-manager controllers.app --coord-listen ...`` on legacy installations).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, ClassVar

from agent.protocol import Event, PortReason
from controllers.compat import (
    CONF,
    CONFIG_DISPATCHER,
    DEAD_DISPATCHER,
    MAIN_DISPATCHER,
    OFP,
    BaseApp,
    cfg,
    ofp_event,
    set_ev_cls,
)
from controllers.exchange import ReplyRouter
from controllers.operations import Operations
from controllers.server import ProtocolServer
from controllers.switches import SwitchTable

HANDSHAKE_DISPATCHER = "handshake"  # os-ken's name; errors may arrive before features
LOG = logging.getLogger("controllers.app")

CONF.register_opts(
    [
        cfg.StrOpt("coord-listen", default="unix:/run/sdn-agent/controller.sock",
                   help="where the agent protocol is served: unix:PATH or tcp:HOST:PORT"),
        cfg.FloatOpt("coord-poll-interval", default=1.0,
                     help="seconds between statistics polls (the minimum an agent gets)"),
        cfg.FloatOpt("coord-apply-timeout", default=5.0,
                     help="seconds to wait for barrier and statistics replies"),
    ]
)  # fmt: skip

_PORT_REASONS: dict[int, PortReason] = {
    OFP.OFPPR_ADD: "add",
    OFP.OFPPR_DELETE: "delete",
    OFP.OFPPR_MODIFY: "modify",
}
_STATS_REPLIES = [
    ofp_event.EventOFPPortStatsReply,
    ofp_event.EventOFPFlowStatsReply,
    ofp_event.EventOFPGroupStatsReply,
    ofp_event.EventOFPMeterStatsReply,
    ofp_event.EventOFPGroupDescStatsReply,
    ofp_event.EventOFPMeterConfigStatsReply,
]


class CoordinationShell(BaseApp):  # type: ignore[misc]
    OFP_VERSIONS: ClassVar[list[int]] = [OFP.OFP_VERSION]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.switches = SwitchTable()
        self.router = ReplyRouter()
        self.operations = Operations(self.switches, self.router, CONF.coord_apply_timeout)
        self.poll_interval = max(0.1, float(CONF.coord_poll_interval))
        self.server = ProtocolServer(CONF.coord_listen, self.operations, self.poll_interval)
        self._stop = threading.Event()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Any:
        thread = super().start()
        self.server.start()
        threading.Thread(target=self._poll_loop, name="ctl-poll", daemon=True).start()
        return thread

    def close(self) -> None:
        self._stop.set()
        self.server.stop()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_interval):
            if not self.server.has_subscribers():
                continue
            try:
                sections = self.server.wanted_sections()
                for record in self.operations.poll(self.poll_interval, sections):
                    self.server.publish_monitor(record)
            except Exception:  # keep polling whatever one round did
                LOG.exception("statistics poll failed")

    # ------------------------------------------------------------ switch events

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _state_change(self, ev: Any) -> None:
        dp = ev.datapath
        if dp.id is None:
            return
        if ev.state == MAIN_DISPATCHER:
            self.switches.up(dp)
            LOG.info("switch %d up", dp.id)
            self.server.publish_event(Event.switch(True, dp.id, time.time()))
        elif ev.state == DEAD_DISPATCHER and self.switches.down(dp):
            LOG.info("switch %d down", dp.id)
            self.router.switch_lost(dp.id)
            self.server.publish_event(Event.switch(False, dp.id, time.time()))

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status(self, ev: Any) -> None:
        msg = ev.msg
        reason = _PORT_REASONS.get(msg.reason, "modify")
        port = self.switches.port(msg.datapath, msg.desc, reason == "delete")
        up = port.up and reason != "delete"
        self.server.publish_event(
            Event.port_status(msg.datapath.id, port.port_no, up, reason, time.time())
        )

    # ------------------------------------------------------------ replies

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [HANDSHAKE_DISPATCHER, CONFIG_DISPATCHER,
                                             MAIN_DISPATCHER])  # fmt: skip
    def _error(self, ev: Any) -> None:
        msg = ev.msg
        if not self.router.error(msg.datapath.id, msg.xid, msg.type, msg.code, ""):
            LOG.warning("switch %s: error type %s code %s for xid %s nobody waits for",
                        msg.datapath.id, msg.type, msg.code, msg.xid)  # fmt: skip

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev: Any) -> None:
        self.router.reply(ev.msg.datapath.id, ev.msg.xid, ev.msg)

    @set_ev_cls(_STATS_REPLIES, MAIN_DISPATCHER)
    def _stats_reply(self, ev: Any) -> None:
        msg = ev.msg
        final = not msg.flags & OFP.OFPMPF_REPLY_MORE
        self.router.reply(msg.datapath.id, msg.xid, msg, final)

"""The versioned JSON-lines protocol server (docs/controller-protocol.md).

One listening socket (Unix or loopback TCP), one reader and one writer thread per
connected agent, a small pool for requests that wait on switches (``apply``,
``dump``). Notifications go through each connection's bounded outbound queue, so a
slow agent never blocks the os-ken event thread; one that falls too far behind is
disconnected (it reconnects and re-reads the state). A disconnecting agent changes
nothing on the switches.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import stat
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from agent.protocol import (
    DEFAULT_SECTIONS,
    PROTOCOL_VERSION,
    SLOW_OPS,
    ApplyResult,
    DumpReply,
    DumpRequest,
    Event,
    Hello,
    Monitor,
    Op,
    Section,
    Subscription,
    Topology,
    WireError,
    decode,
    encode,
    response,
)

OUTBOUND_LIMIT = 10_000
LOG = logging.getLogger("controllers.server")


class RequestHandler(Protocol):
    def hello(self, agent: str) -> Hello: ...

    def topology(self) -> Topology: ...

    def apply(self, batch: Sequence[Any]) -> ApplyResult: ...

    def dump(self, request: DumpRequest) -> DumpReply: ...


class ProtocolError(ValueError):
    """A request we answer with ok=false."""


def parse_listen(spec: str) -> tuple[int, Any]:
    """'unix:PATH' or 'tcp:HOST:PORT' -> (address family, address)."""
    kind, _, rest = spec.partition(":")
    if kind == "unix" and rest:
        return socket.AF_UNIX, rest
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit():
            return socket.AF_INET, (host, int(port))
    raise ValueError(f"listen address must be unix:PATH or tcp:HOST:PORT, not {spec!r}")


def _bind_unix(sock: socket.socket, path: str) -> None:
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise OSError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # stale socket of a controller that died
        else:
            raise OSError(f"another controller is listening on {path}")
        finally:
            probe.close()
    sock.bind(path)


class Connection:
    """One connected agent: its outbound queue and subscription."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self.sock = sock
        self.name = name
        self.outbound: queue.Queue[bytes | None] = queue.Queue(OUTBOUND_LIMIT)
        self.subscribed = False
        self.interval = 0.0
        self.sections: frozenset[Section] = DEFAULT_SECTIONS
        self.last_monitor: dict[int, float] = {}
        self.closed = threading.Event()

    def send(self, message: dict[str, Any]) -> None:
        if self.closed.is_set():
            return
        line = encode(message)
        try:
            self.outbound.put_nowait(line)
        except queue.Full:
            LOG.warning("agent %s is not reading; disconnecting it", self.name)
            self.close()

    def write_loop(self) -> None:
        try:
            while True:
                line = self.outbound.get()
                if line is None or self.closed.is_set():
                    break
                self.sock.sendall(line)
        except OSError:
            pass
        finally:
            self.close()

    def wants_monitor(self, dpid: int, now: float) -> bool:
        if not self.subscribed:
            return False
        # 5 % slack so that a poll that ran a little early is not skipped
        if now - self.last_monitor.get(dpid, 0.0) < self.interval * 0.95:
            return False
        self.last_monitor[dpid] = now
        return True

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        with contextlib.suppress(queue.Full):
            self.outbound.put_nowait(None)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


class ProtocolServer:
    """Accepts agents and answers their requests through a ``RequestHandler``."""

    def __init__(self, listen: str, handler: RequestHandler, min_interval: float) -> None:
        self.family, self.address = parse_listen(listen)
        self.handler = handler
        self.min_interval = min_interval
        self._listener: socket.socket | None = None
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ctl-request")
        self._stopping = threading.Event()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        if self.family == socket.AF_UNIX:
            _bind_unix(sock, self.address)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(self.address)
        sock.listen(16)
        self._listener = sock
        threading.Thread(target=self._accept_loop, name="ctl-accept", daemon=True).start()
        LOG.info("protocol server listening on %s", self.address)

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            if self.family == socket.AF_UNIX:
                with contextlib.suppress(OSError):
                    os.unlink(self.address)
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            conn.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, addr = self._listener.accept()
            except OSError:
                return
            conn = Connection(sock, str(addr) or "unix")
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=conn.write_loop, daemon=True).start()
            threading.Thread(target=self._read_loop, args=(conn,), daemon=True).start()

    def _read_loop(self, conn: Connection) -> None:
        try:
            with conn.sock.makefile("rb") as stream:
                for raw in stream:
                    self._on_line(conn, raw)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()
            with self._lock:
                self._connections.discard(conn)

    # ------------------------------------------------------------ notifications

    def has_subscribers(self) -> bool:
        with self._lock:
            return any(c.subscribed for c in self._connections)

    def wanted_sections(self) -> frozenset[Section]:
        """The statistics some subscriber asked for (nothing else is polled)."""
        return frozenset(s for c in self._subscribers() for s in c.sections)

    def _subscribers(self) -> list[Connection]:
        with self._lock:
            return [c for c in self._connections if c.subscribed]

    def publish_event(self, event: Event) -> None:
        message = event.to_wire()
        for conn in self._subscribers():
            conn.send(message)

    def publish_monitor(self, record: Monitor) -> None:
        now = time.monotonic()
        for conn in self._subscribers():
            if conn.wants_monitor(record.dpid, now):
                conn.send(record.only(conn.sections).to_wire())

    # ------------------------------------------------------------ requests

    def _on_line(self, conn: Connection, raw: bytes) -> None:
        try:
            request = decode(raw)
        except WireError as exc:
            conn.send(response(None, error=str(exc)))
            return
        if not isinstance(request.get("id"), int) or isinstance(request.get("id"), bool):
            conn.send(response(None, error="a request is a JSON object with an integer id"))
            return
        op = request.get("op")
        if isinstance(op, str) and op in SLOW_OPS:
            self._pool.submit(self._answer, conn, request)
        else:
            self._answer(conn, request)

    def _answer(self, conn: Connection, request: dict[str, Any]) -> None:
        try:
            body = self._dispatch(conn, request)
        except (ProtocolError, WireError) as exc:
            conn.send(response(request["id"], error=str(exc)))
        except Exception as exc:  # answer every request, whatever went wrong
            LOG.exception("request %r failed", request.get("op"))
            conn.send(response(request["id"], error=f"internal error: {exc!r}"))
        else:
            conn.send(response(request["id"], body))

    def _dispatch(self, conn: Connection, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("v") != PROTOCOL_VERSION:
            raise ProtocolError(f"unsupported protocol version {request.get('v')!r}")
        op = request.get("op")
        if op == Op.HELLO:
            conn.name = str(request.get("agent", conn.name))
            return self.handler.hello(conn.name).to_wire()
        if op == Op.TOPOLOGY:
            return self.handler.topology().to_wire()
        if op == Op.SUBSCRIBE:
            wanted = Subscription.from_wire(request, self.min_interval)
            conn.interval = max(wanted.interval, self.min_interval)
            conn.sections = wanted.sections
            conn.last_monitor.clear()
            conn.subscribed = True
            return Subscription(conn.interval, conn.sections).to_wire()
        if op == Op.UNSUBSCRIBE:
            conn.subscribed = False
            return {}
        if op == Op.APPLY:
            batch = request.get("batch")
            if not isinstance(batch, list):
                raise ProtocolError("apply needs a batch list")
            return self.handler.apply(batch).to_wire()
        if op == Op.DUMP:
            return self.handler.dump(DumpRequest.from_wire(request)).to_wire()
        raise ProtocolError(f"unknown op {op!r}")

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
import json
import logging
import os
import queue
import socket
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

PROTOCOL_VERSION = 1
SLOW_OPS = frozenset({"apply", "dump"})
OUTBOUND_LIMIT = 10_000
LOG = logging.getLogger("controllers.server")


class RequestHandler(Protocol):
    def hello(self, agent: str) -> dict[str, Any]: ...

    def topology(self) -> dict[str, Any]: ...

    def apply(self, batch: list[Any]) -> dict[str, Any]: ...

    def dump(self, request: dict[str, Any]) -> dict[str, Any]: ...


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
        self.last_monitor: dict[int, float] = {}
        self.closed = threading.Event()

    def send(self, message: dict[str, Any]) -> None:
        if self.closed.is_set():
            return
        line = (json.dumps(message, separators=(",", ":")) + "\n").encode()
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

    def _subscribers(self) -> list[Connection]:
        with self._lock:
            return [c for c in self._connections if c.subscribed]

    def publish_event(self, event: str, **fields: Any) -> None:
        message = {"v": PROTOCOL_VERSION, "type": "event", "event": event, **fields}
        message.setdefault("ts", time.time())
        for conn in self._subscribers():
            conn.send(message)

    def publish_monitor(self, record: dict[str, Any]) -> None:
        message = {"v": PROTOCOL_VERSION, "type": "monitor", **record}
        now = time.monotonic()
        for conn in self._subscribers():
            if conn.wants_monitor(int(record["dpid"]), now):
                conn.send(message)

    # ------------------------------------------------------------ requests

    def _on_line(self, conn: Connection, raw: bytes) -> None:
        try:
            request = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            conn.send({"v": PROTOCOL_VERSION, "id": None, "ok": False, "error": f"bad JSON: {exc}"})
            return
        if not isinstance(request, dict) or not isinstance(request.get("id"), int):
            error = "a request is a JSON object with an integer id"
            conn.send({"v": PROTOCOL_VERSION, "id": None, "ok": False, "error": error})
            return
        if request.get("op") in SLOW_OPS:
            self._pool.submit(self._answer, conn, request)
        else:
            self._answer(conn, request)

    def _answer(self, conn: Connection, request: dict[str, Any]) -> None:
        response: dict[str, Any] = {"v": PROTOCOL_VERSION, "id": request["id"]}
        try:
            body = self._dispatch(conn, request)
        except ProtocolError as exc:
            response.update(ok=False, error=str(exc))
        except Exception as exc:  # answer every request, whatever went wrong
            LOG.exception("request %r failed", request.get("op"))
            response.update(ok=False, error=f"internal error: {exc!r}")
        else:
            response["ok"] = not body.get("errors")
            response.update(body)
        conn.send(response)

    def _dispatch(self, conn: Connection, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("v") != PROTOCOL_VERSION:
            raise ProtocolError(f"unsupported protocol version {request.get('v')!r}")
        op = request.get("op")
        if op == "hello":
            conn.name = str(request.get("agent", conn.name))
            return self.handler.hello(conn.name)
        if op == "topology":
            return self.handler.topology()
        if op == "subscribe":
            interval = request.get("interval", self.min_interval)
            if not isinstance(interval, int | float) or interval <= 0:
                raise ProtocolError("interval must be a positive number of seconds")
            conn.interval = max(float(interval), self.min_interval)
            conn.last_monitor.clear()
            conn.subscribed = True
            return {"interval": conn.interval}
        if op == "unsubscribe":
            conn.subscribed = False
            return {}
        if op == "apply":
            batch = request.get("batch")
            if not isinstance(batch, list):
                raise ProtocolError("apply needs a batch list")
            return self.handler.apply(batch)
        if op == "dump":
            return self.handler.dump(request)
        raise ProtocolError(f"unknown op {op!r}")

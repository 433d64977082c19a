"""Matching switch replies to the requests that caused them, by (dpid, xid).

A server thread builds an ``Exchange``, registers the xids it sends, and waits; the
os-ken event thread feeds replies and errors in through the ``ReplyRouter``. The
switch answers in order, so an error for a message always arrives before the reply
to a barrier sent after it.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from agent.protocol import CODE_DISCONNECTED, LOCAL_ERROR_TYPE

MAX_XID = 0xFFFFFFFF


@dataclass
class Failure:
    """A message that failed: the switch's error, or it was lost with the switch."""

    dpid: int
    tag: Any
    type: int
    code: int
    message: str


@dataclass
class Exchange:
    """Replies and errors for a group of messages sent together."""

    tags: dict[tuple[int, int], Any] = field(default_factory=dict)
    open: set[tuple[int, int]] = field(default_factory=set)
    replies: dict[tuple[int, int], list[Any]] = field(default_factory=lambda: defaultdict(list))
    failures: list[Failure] = field(default_factory=list)
    finished_at: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, dpid: int, xid: int, tag: Any, answered: bool) -> None:
        """Register a sent message; ``answered`` ones keep the exchange open until replied."""
        with self.lock:
            self.tags[(dpid, xid)] = tag
            if answered:
                self.open.add((dpid, xid))
                self.done.clear()

    def _close(self, key: tuple[int, int]) -> None:
        self.open.discard(key)
        if not self.open:
            self.finished_at = time.time()
            self.done.set()

    def reply(self, key: tuple[int, int], msg: Any, final: bool) -> None:
        with self.lock:
            self.replies[key].append(msg)
            if final:
                self._close(key)

    def fail(self, key: tuple[int, int], type_: int, code: int, message: str) -> None:
        with self.lock:
            self.failures.append(Failure(key[0], self.tags.get(key), type_, code, message))
            self._close(key)

    def wait(self, timeout: float) -> bool:
        with self.lock:
            if not self.open:
                return True
        return self.done.wait(timeout)

    def unanswered(self) -> set[tuple[int, int]]:
        with self.lock:
            return set(self.open)

    def body(self, key: tuple[int, int]) -> list[Any]:
        """All entries of a (possibly multipart) statistics reply."""
        with self.lock:
            return [entry for msg in self.replies.get(key, []) for entry in msg.body]


class ReplyRouter:
    """Hands each reply or error to the exchange that registered its xid."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[tuple[int, int], Exchange] = {}
        self._xids = itertools.count(random.randint(1, MAX_XID // 2))

    def next_xid(self) -> int:
        with self._lock:
            return next(self._xids) & MAX_XID or 1

    def register(self, exchange: Exchange, dpid: int, xid: int, tag: Any, answered: bool) -> None:
        exchange.expect(dpid, xid, tag, answered)
        with self._lock:
            self._waiting[(dpid, xid)] = exchange

    def release(self, exchange: Exchange) -> None:
        with self._lock:
            for key in exchange.tags:
                if self._waiting.get(key) is exchange:
                    del self._waiting[key]

    def _find(self, key: tuple[int, int]) -> Exchange | None:
        with self._lock:
            return self._waiting.get(key)

    def reply(self, dpid: int, xid: int, msg: Any, final: bool = True) -> bool:
        exchange = self._find((dpid, xid))
        if exchange is None:
            return False
        exchange.reply((dpid, xid), msg, final)
        return True

    def error(self, dpid: int, xid: int, type_: int, code: int, message: str) -> bool:
        exchange = self._find((dpid, xid))
        if exchange is None:
            return False
        exchange.fail((dpid, xid), type_, code, message)
        return True

    def switch_lost(self, dpid: int) -> None:
        """The switch disconnected: nothing it owed will come; end those waits now."""
        with self._lock:
            lost = [(key, ex) for key, ex in self._waiting.items() if key[0] == dpid]
        for key, exchange in lost:
            if key in exchange.unanswered():
                exchange.fail(
                    key, LOCAL_ERROR_TYPE, CODE_DISCONNECTED, f"switch {dpid} disconnected"
                )

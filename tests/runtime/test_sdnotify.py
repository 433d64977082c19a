from __future__ import annotations

import socket
from pathlib import Path

from agent.runtime.sdnotify import Notifier


def test_messages_reach_the_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)
        notifier = Notifier(str(path))
        assert notifier.ready("deciding")
        assert server.recv(1024) == b"READY=1\nSTATUS=deciding"
        assert notifier.watchdog() and server.recv(1024) == b"WATCHDOG=1"
        assert notifier.reloading() and server.recv(1024).startswith(
            b"RELOADING=1\nMONOTONIC_USEC="
        )
        assert notifier.stopping() and server.recv(1024) == b"STOPPING=1"


def test_without_systemd_nothing_is_sent() -> None:
    notifier = Notifier("")
    assert not notifier.enabled and not notifier.ready()

"""Service-function stand-in: send every received frame back out the same interface.

Run inside an SF namespace: ``python reflector.py eth0``. Prints ``ready`` once the
raw socket is bound. Frames this socket sent itself (PACKET_OUTGOING) are skipped.
"""

from __future__ import annotations

import socket
import sys

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def main(ifname: str) -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((ifname, 0))
    print("ready", flush=True)
    while True:
        frame, address = sock.recvfrom(65535)
        if address[2] == PACKET_OUTGOING:
            continue
        try:
            sock.send(frame)
        except OSError:  # a frame too large for the link: drop it, keep reflecting
            continue


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "eth0")

"""Start the controller: ``python -m controllers --listen unix:PATH --of-port 6653``.

os-ken 4 has no ``osken-manager``; this parses os-ken's configuration, sets the echo
options that make switch disconnects visible within about 2 s, and runs the app.
os-ken's threads are not daemon threads, so SIGTERM and SIGINT end the process
explicitly after closing the agent socket.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

from controllers.compat import CONF, FRAMEWORK, app_manager

APP = "controllers.app"
LOG = logging.getLogger("controllers")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m controllers", description=__doc__)
    parser.add_argument(
        "--listen",
        default="unix:/run/sdn-agent/controller.sock",
        help="agent protocol address: unix:PATH or tcp:127.0.0.1:PORT",
    )
    parser.add_argument("--of-port", type=int, default=6653, help="OpenFlow TCP port")
    parser.add_argument(
        "--of-host", default="", help="OpenFlow listen address (default: all addresses)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="seconds between statistics polls"
    )
    parser.add_argument(
        "--apply-timeout",
        type=float,
        default=5.0,
        help="seconds to wait for barrier and statistics replies",
    )
    parser.add_argument(
        "--echo-interval", type=float, default=1.0, help="seconds between OpenFlow echo requests"
    )
    parser.add_argument(
        "--echo-misses",
        type=int,
        default=2,
        help="unanswered echo requests before a switch counts as down",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)  # fmt: skip


def configure(args: argparse.Namespace) -> None:
    CONF(args=[], project=FRAMEWORK.replace("-", "_"))
    overrides = {
        "ofp_tcp_listen_port": args.of_port,
        "ofp_listen_host": args.of_host,
        "echo_request_interval": args.echo_interval,
        "maximum_unreplied_echo_requests": args.echo_misses,
        "coord_listen": args.listen,
        "coord_poll_interval": args.poll_interval,
        "coord_apply_timeout": args.apply_timeout,
    }
    for name, value in overrides.items():
        CONF.set_override(name, value)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    LOG.info("signal %d: closing", signum)
    try:
        for app in list(app_manager.AppManager.get_instance().applications.values()):
            close = getattr(app, "close", None)
            if callable(close):
                close()
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        # os-ken's threads are non-daemon and cannot be stopped: leave without them
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    import controllers.app  # noqa: F401  (registers the coord-* options before parsing)

    configure(args)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    LOG.info("controller starting: OpenFlow port %d, agents on %s", args.of_port, args.listen)
    try:
        app_manager.AppManager.run_apps([APP])
    finally:
        os._exit(1)  # run_apps only returns on failure; its threads would keep us alive


if __name__ == "__main__":
    main()

"""``python -m mininet_labs run SCENARIO --policy NAME --duration S [--time-scale K]
[--out DIR] [--fail NODE@T] [--fail A-B@T] [--restore ...]`` and
``python -m mininet_labs compare SCENARIO --policies a,b,c [--out DIR]``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from mininet_labs.lab import Fault, LabConfig, LabRun, LabUnavailable


def _run_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="one policy in the lab")
    p.add_argument("scenario", type=Path)
    p.add_argument("--policy", default="shortest-path", help="a name the policy registry knows")
    p.add_argument("--duration", type=float, default=30.0, help="wall seconds of traffic")
    p.add_argument("--time-scale", type=float, default=10.0, help="wall ms per scenario ms")
    p.add_argument("--packets-per-flow", type=int, default=4)
    p.add_argument("--out", type=Path, default=Path("lab-out"))
    p.add_argument("--fail", action="append", default=[], metavar="NODE@T|A-B@T")
    p.add_argument("--restore", action="append", default=[], metavar="NODE@T|A-B@T")
    p.add_argument("--bin", type=float, default=1.0, help="seconds per timeline bin")


def _compare_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="policies in the lab and in the simulator")
    p.add_argument("scenario", type=Path, nargs="+")
    p.add_argument("--policies", default="shortest-path,load-balance,greedy")
    p.add_argument("--duration", type=float, default=40.0)
    p.add_argument("--time-scale", type=float, default=10.0)
    p.add_argument("--packets-per-flow", type=int, default=4)
    p.add_argument("--out", type=Path, default=Path("mininet_labs/reports"))
    p.add_argument("--name", default=None, help="report file stem (default: scenario names)")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mininet_labs")
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    _compare_parser(sub)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # tear the lab down as on Ctrl-C
    try:
        if args.command == "run":
            faults = [Fault.parse("fail", f) for f in args.fail]
            faults += [Fault.parse("restore", f) for f in args.restore]
            config = LabConfig(
                args.scenario,
                args.policy,
                args.duration,
                args.time_scale,
                args.out,
                args.packets_per_flow,
                faults=faults,
                bin_s=args.bin,
            )
            metrics = LabRun(config).run()
            metrics.write(args.out)
            if faults:
                from mininet_labs.report import fault_report

                fault_report(args.out, metrics, " ".join(["python -m mininet_labs", *sys.argv[1:]]))
            brief = {
                k: metrics.summary[k]
                for k in (
                    "success_ratio",
                    "generated",
                    "successful",
                    "drops",
                    "delay_ms",
                    "chain_order",
                )
            }
            print(json.dumps(brief))
            return 0
        from mininet_labs.report import compare

        compare(args, " ".join(["python -m mininet_labs", *(argv or sys.argv[1:])]))
        return 0
    except KeyboardInterrupt:
        print("interrupted: what the lab started is stopped", file=sys.stderr)
        return 130
    except LabUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

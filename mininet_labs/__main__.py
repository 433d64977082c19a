"""``python -m mininet_labs run SCENARIO --policy NAME --duration S [--time-scale K]
[--out DIR] [--fail NODE@T] [--fail A-B@T] [--restore ...]`` and
``python -m mininet_labs compare SCENARIO --policies a,b,c [--out DIR]`` and
``python -m mininet_labs slicing [--out DIR] [--duration S] [--interval S]``.

Both check their arguments (scenario files, policy names, fault targets and times) before
they start anything. Results go under ``results/labs/`` unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from agent.model.errors import InputError
from agent.model.scenario import Scenario, load_scenario
from mininet_labs.lab import Fault, LabConfig, LabFailed, LabRun, LabUnavailable
from mininet_labs.reportfile import LabReportError
from mininet_labs.slicing import SlicingLabConfig, slicing_command

RESULTS = Path("results/labs")
FAULT_HELP = (
    "{what} switch NODE, or the link A-B, T wall seconds after traffic starts (T = 0 is "
    "scenario time 0; scenario ms = T x 1000 / K); repeatable"
)


def positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not above 0")
        return value

    parse.__name__ = kind.__name__
    return parse


def _run_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="one policy in the lab")
    p.add_argument("scenario", type=Path, help="scenario YAML (topologies/scenarios/)")
    p.add_argument(
        "--policy",
        default="shortest-path",
        metavar="NAME|DIR",
        help="a baseline, a shipped policy or a policy directory (default: %(default)s)",
    )
    _traffic_options(p, duration=30.0)
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=f"output directory (default: {RESULTS}/<scenario>-<policy>)",
    )
    p.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="NODE@T|A-B@T",
        help=FAULT_HELP.format(what="fail"),
    )
    p.add_argument(
        "--restore",
        action="append",
        default=[],
        metavar="NODE@T|A-B@T",
        help=FAULT_HELP.format(what="bring back"),
    )
    p.add_argument(
        "--bin",
        type=positive(float),
        metavar="SECONDS",
        default=1.0,
        help="wall seconds per bin of the success-ratio timeline (default: %(default)s)",
    )


def _compare_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="policies in the lab and in the simulator")
    p.add_argument("scenario", type=Path, nargs="+", help="scenario YAML files")
    p.add_argument(
        "--policies",
        default="shortest-path,load-balance,greedy",
        metavar="A,B,...",
        help="comma-separated baselines, shipped policies or policy directories "
        "(default: %(default)s)",
    )
    _traffic_options(p, duration=40.0)
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=RESULTS / "compare",
        help="report directory; each run's files go to OUT/runs/ (default: %(default)s)",
    )
    p.add_argument("--name", default=None, help="report file stem (default: compare-<scenarios>)")


def _traffic_options(p: argparse.ArgumentParser, duration: float) -> None:
    p.add_argument(
        "--duration",
        type=positive(float),
        metavar="SECONDS",
        default=duration,
        help="wall seconds of traffic per run (default: %(default)s)",
    )
    p.add_argument(
        "--time-scale",
        type=positive(float),
        default=10.0,
        metavar="K",
        help="wall milliseconds per scenario millisecond (default: %(default)s)",
    )
    p.add_argument(
        "--packets-per-flow",
        type=positive(int),
        metavar="N",
        default=4,
        help="packets of a flow of the mean rate and nominal size; other flows in proportion "
        "to their volume, 1 to 64 (default: %(default)s)",
    )


def check_policy(name: str, scenario: Scenario, option: str = "--policy") -> str:
    """The policy as the daemon and the simulator should be given it (a known name as is, a
    directory as an absolute path), once it has loaded for ``scenario``; ValueError for an
    unknown name or a policy that does not fit the scenario."""
    from agent.policies.base import PolicyContext
    from agent.policies.registry import known_policies, make_policy

    known = known_policies()
    if name not in known and not Path(name).is_dir():
        raise ValueError(
            f"{option} {name!r}: neither a known policy ({', '.join(known)}) nor a policy directory"
        )
    given = name if name in known else str(Path(name).resolve())
    context = PolicyContext(scenario.network, scenario.services, scenario.routing, scenario.seed)
    try:
        make_policy(given, context)
    except (ValueError, InputError) as exc:
        raise ValueError(f"{option} {name!r} on {scenario.name}: {exc}") from None
    return given


def check_faults(faults: list[Fault], scenario: Scenario, duration: float) -> None:
    nodes = set(scenario.network.node_ids)
    links = {frozenset((link.a, link.b)) for link in scenario.network.links}
    for fault in faults:
        text = fault.node or "-".join(fault.link or ())
        if fault.node is not None and fault.node not in nodes:
            raise ValueError(f"--{fault.action} {text}: no node {fault.node!r} in {scenario.name}")
        if fault.link is not None and frozenset(fault.link) not in links:
            raise ValueError(f"--{fault.action} {text}: no link {text!r} in {scenario.name}")
        if not 0.0 <= fault.at <= duration:
            raise ValueError(
                f"--{fault.action} {text}@{fault.at:g}: T must lie within the "
                f"{duration:g} s of traffic (--duration)"
            )


def default_run_out(scenario: Scenario, policy: str) -> Path:
    return RESULTS / f"{scenario.name}-{Path(policy).name}"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_command(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    policy = check_policy(args.policy, scenario)
    faults = [Fault.parse("fail", f) for f in args.fail]
    faults += [Fault.parse("restore", f) for f in args.restore]
    check_faults(faults, scenario, args.duration)
    out = args.out or default_run_out(scenario, args.policy)
    config = LabConfig(
        args.scenario,
        policy,
        args.duration,
        args.time_scale,
        out,
        args.packets_per_flow,
        faults=faults,
        bin_s=args.bin,
    )
    metrics = LabRun(config).run()
    metrics.write(out)
    if faults:
        from mininet_labs.report import fault_report

        fault_report(out, metrics, " ".join(["python -m mininet_labs", *sys.argv[1:]]))
    keys = ("success_ratio", "generated", "successful", "drops", "delay_ms", "chain_order")
    print(json.dumps({"out": str(out), **{k: metrics.summary[k] for k in keys}}))
    return 0


def compare_command(args: argparse.Namespace, argv: list[str] | None) -> int:
    from mininet_labs.report import compare

    scenarios = [load_scenario(path) for path in args.scenario]
    names = [p.strip() for p in args.policies.split(",") if p.strip()]
    if not names:
        raise ValueError("--policies: give at least one policy")
    policies = {}
    for name in dict.fromkeys(names):
        for scenario in scenarios:
            policies[name] = check_policy(name, scenario, "--policies")
    compare(args, " ".join(["python -m mininet_labs", *(argv or sys.argv[1:])]), policies)
    return 0


def _slicing_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("slicing", help="slicing from measured demand, with meters on switches")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=SlicingLabConfig.out,
        help="report directory (default: %(default)s)",
    )
    p.add_argument(
        "--duration",
        type=positive(float),
        metavar="SECONDS",
        default=SlicingLabConfig.duration,
        help="wall seconds of traffic (default: %(default)s)",
    )
    p.add_argument(
        "--interval",
        type=positive(float),
        metavar="SECONDS",
        default=SlicingLabConfig.decision_interval,
        help="the daemon's decision interval (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mininet_labs")
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    _compare_parser(sub)
    _slicing_parser(sub)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # tear the lab down as on Ctrl-C
    try:
        if args.command == "run":
            return run_command(args)
        if args.command == "slicing":
            return slicing_command(args, argv)
        return compare_command(args, argv)
    except KeyboardInterrupt:
        print("interrupted: what the lab started is stopped", file=sys.stderr)
        return 130
    except InputError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    except (LabUnavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LabReportError as exc:
        print(f"error: the lab's figures cannot be trusted: {exc}", file=sys.stderr)
        return 1
    except LabFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

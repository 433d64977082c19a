"""Shared pieces of the command line: loading scenarios, reporting input errors.

Bad input (an input file, a policy name or directory) ends the command with one line,
``error: ...``, on stderr and exit status 2; never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from agent.model.errors import InputError
from agent.model.scenario import Scenario, load_scenario, scenario_from_files
from agent.policies.errors import PolicyError
from agent.sim.schedule import DecisionError

EXIT_INPUT = 2

FC = TypeVar("FC", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_INPUT)


@contextmanager
def input_errors() -> Iterator[None]:
    """Turn bad input into one line on stderr and exit status 2, no traceback."""
    try:
        yield
    except InputError as exc:
        fail(exc.one_line())
    except PolicyError as exc:  # unknown name, or trained for another network
        fail(str(exc))
    except DecisionError as exc:
        fail(f"policy produced an invalid decision: {exc}")


def resolve_scenario(
    scenario: str | None, network: str | None, service: str | None, traffic: str | None
) -> Scenario:
    """The scenario from its file or coord-sim's three; what loads but cannot work as
    meant (a stranded ingress node, a self-loop) is printed as ``warning:`` lines."""
    loaded = _load(scenario, network, service, traffic)
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    return loaded


def _load(
    scenario: str | None, network: str | None, service: str | None, traffic: str | None
) -> Scenario:
    triple = (network, service, traffic)
    if scenario is not None:
        if any(triple):
            fail("give either a SCENARIO file or --network/--service/--traffic, not both")
        return load_scenario(scenario)
    if not all(triple):
        fail("give a SCENARIO file, or all three of --network, --service and --traffic")
    assert network is not None and service is not None and traffic is not None
    for option, path in (("--network", network), ("--service", service), ("--traffic", traffic)):
        if not Path(path).exists():
            raise InputError(path, "", f"file given with {option} not found")
    return scenario_from_files(network, service, traffic)


def scenario_options(command: Callable[..., object]) -> Callable[..., object]:
    """SCENARIO argument or coord-sim's three files."""
    for decorator in reversed(
        [
            click.argument("scenario", required=False),
            click.option(
                "--network",
                help="coord-sim network (GraphML/GML), with --service and --traffic",
            ),
            click.option(
                "--service",
                help="coord-sim service YAML, with --network and --traffic",
            ),
            click.option(
                "--traffic",
                "--config",
                "traffic",
                help="coord-sim simulator config YAML, with --network and --service",
            ),
        ]
    ):
        command = decorator(command)
    return command


def format_option(shows: str = "a table or one JSON object") -> Callable[[FC], FC]:
    """``--format table|json`` (the parameter ``fmt``): what stdout shows."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json"]),
        default="table",
        help=f"what stdout shows: {shows}",
    )


def out_option(writes: str) -> Callable[[FC], FC]:
    """``--out DIR`` (a ``Path``, none by default): ``writes`` says what goes there."""
    return click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        show_default="no files",
        help=writes,
    )

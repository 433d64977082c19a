"""Starting the ``agent`` command: what it imports, how long it takes, what its help says."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from agent.cli.main import LazyGroup, cli
from tests.conftest import TOPOLOGIES

HEAVY = ("torch", "safetensors", "matplotlib", "gymnasium", "scipy", "aiohttp")
TRIANGLE = str(TOPOLOGIES / "scenarios/triangle.yaml")

# runs the command in a fresh interpreter, then prints which heavy modules it imported
PROBE = """
import json, sys
from agent.cli.main import cli
try:
    cli(sys.argv[1:], prog_name="agent")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def probe(*args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    report: dict[str, object] = json.loads(proc.stderr.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["sim", "--help"],
        ["run", "--help"],
        ["train", "--help"],
        ["eval", "--help"],
        ["train", "coordination", "--help"],
        ["eval", "coordination", "--help"],
        ["train", "recovery", "--help"],
        ["eval", "recovery", "--help"],
        ["check-config", TRIANGLE],
        ["sim", TRIANGLE, "--policy", "shortest-path", "--steps", "3"],
        ["sim", TRIANGLE, "--policy", "abilene-in1-rand-cap0-2", "--steps", "3"],
        ["sim", TRIANGLE, "--policy", "./no/such/dir"],
    ],
)
def test_light_commands_import_no_heavy_module(args: list[str]) -> None:
    report = probe(*args)
    assert report["code"] in (0, 2, None), report
    assert report["heavy"] == [], report


def test_a_trained_policy_runs_without_torch(tmp_path: Path) -> None:
    """The shipped actor runs in numpy: simulating it imports no torch, while exporting
    it (which builds the torch network) does, so the probe does see imports."""
    scenario = str(TOPOLOGIES / "scenarios/abilene-in1.yaml")
    report = probe("sim", scenario, "--policy", "abilene-in1-rand-cap0-2", "--steps", "2")
    assert report["code"] in (0, None), report
    assert "torch" not in report["heavy"], report  # type: ignore[operator]
    out = str(tmp_path / "actor.onnx")
    report = probe("export", "abilene-in1-rand-cap0-2", "--format", "onnx", "--out", out)
    assert report["code"] in (0, None), report
    assert "torch" in report["heavy"], report  # type: ignore[operator]


def test_version_takes_under_half_a_second_of_cpu() -> None:
    exe = Path(sys.executable).with_name("agent")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert proc.stdout.startswith("agent, version ")
    assert cpu < 0.5, f"agent --version used {cpu:.2f} s of CPU"


def walk(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    yield command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from walk(sub, click.Context(sub, parent=ctx, info_name=name))


def every_command() -> list[tuple[click.Command, click.Context]]:
    root = click.Context(cli, info_name="agent", **cli.context_settings)
    return list(walk(cli, root))


def has_default(option: click.Option, ctx: click.Context) -> bool:
    value = option.get_default(ctx, call=False)
    return value not in (None, False, ()) and type(value).__name__ != "Sentinel"  # click's UNSET


def test_every_option_has_a_description_and_shows_its_default() -> None:
    for command, ctx in every_command():
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden or not param.expose_value:
                continue  # --help and --version
            record = param.get_help_record(ctx)
            assert record is not None
            where = f"{ctx.command_path} {param.opts[0]}"
            text = record[1]
            assert text and not text.startswith("["), f"{where} has no description"
            if param.required:
                assert "required]" in text, where
            elif has_default(param, ctx):
                assert "default:" in text, f"{where} does not show its default: {text}"
            if param.multiple:
                assert "repeat" in text, f"{where} is repeatable and does not say so"


def test_top_level_help_shows_whole_descriptions() -> None:
    out = CliRunner().invoke(cli, ["--help"], terminal_width=80).output
    commands = out[out.index("Commands:") :]
    assert "..." not in commands
    flat = " ".join(out.split())
    for name, lazy in cli.lazy.items():
        assert f"{name} {lazy.summary}" in flat


@pytest.mark.parametrize("group", [cli, cli.commands["train"], cli.commands["eval"]])
def test_lazy_summaries_are_the_commands_own(group: click.Command) -> None:
    """The line ``--help`` shows without importing a command is that command's first
    sentence: change one, change the other (agent/cli/main.py)."""
    assert isinstance(group, LazyGroup)
    for name, lazy in group.lazy.items():
        assert lazy.load().get_short_help_str(limit=1000) == lazy.summary, name

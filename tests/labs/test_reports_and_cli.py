"""The lab's reports and command line, without root: reports are read only once their
process has exited and never taken as empty when unreadable; rankings say "tied"; the
command rejects bad arguments before it starts anything and writes under results/ by
default."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.model.scenario import load_scenario
from mininet_labs.__main__ import RESULTS, default_run_out, main
from mininet_labs.instances import LabInstanceManager, NodeProcessLink
from mininet_labs.lab import LabConfig, LabRun
from mininet_labs.metrics import lab_metrics
from mininet_labs.report import order_verdict, ranking_text
from mininet_labs.reportfile import LabReportError, read_report, write_report

SCENARIOS = Path(__file__).resolve().parents[2] / "topologies" / "scenarios"
TRIANGLE = SCENARIOS / "triangle.yaml"

# An SF process that, told to quit, answers at once and writes its report only later.
SLOW_SF = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from mininet_labs.reportfile import write_report
    for line in sys.stdin:
        print(json.dumps({"ok": True, "running": []}), flush=True)
        if line.strip() == "quit":
            time.sleep(0.5)
            write_report(Path(sys.argv[1]), {"node": "pop1", "firsts": [[1, 0, 0, 0, 1.0]]})
            break
    """
)


def test_instances_are_stopped_before_their_reports_are_read(tmp_path: Path) -> None:
    run = LabRun(LabConfig(TRIANGLE, out=tmp_path))
    report = tmp_path / "sf-pop1.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SF, str(report)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdin is not None and proc.stdout is not None
    run.sf_procs["pop1"] = proc
    manager = LabInstanceManager({"pop1": NodeProcessLink(proc.stdin, proc.stdout)})
    try:
        run._stop_instances(manager)
        assert proc.returncode == 0
        assert read_report(report)["firsts"] == [[1, 0, 0, 0, 1.0]]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def test_reports_are_whole_or_an_error_naming_the_file(tmp_path: Path) -> None:
    write_report(tmp_path / "sink-pop0.json", {"0/1": [4, 4, 1.0, 1.1]})
    assert [p.name for p in tmp_path.iterdir()] == ["sink-pop0.json"]  # no temporary left
    (tmp_path / "sf-pop1.json").write_text('{"node": "pop1", "firsts": [[1, 0')
    with pytest.raises(LabReportError, match=r"sf-pop1\.json:1: not JSON"):
        read_report(tmp_path / "sf-pop1.json")
    with pytest.raises(LabReportError, match=r"sf-pop2\.json: no report"):
        read_report(tmp_path / "sf-pop2.json")


def test_metrics_refuse_a_missing_or_half_written_report(tmp_path: Path) -> None:
    scenario = load_scenario(TRIANGLE)
    write_report(tmp_path / "flows.json", [])
    write_report(tmp_path / "sink-pop0.json", {})
    with pytest.raises(LabReportError, match=r"sf-pop1\.json: no report"):
        lab_metrics(tmp_path, scenario, 10.0, 0.0, 1.0, ["sink-pop0.json", "sf-pop1.json"])
    (tmp_path / "sf-pop1.json").write_text('{"node": "pop1", "rejected": [[3, 0, 0')
    with pytest.raises(LabReportError, match=r"sf-pop1\.json:1: not JSON"):
        lab_metrics(tmp_path, scenario, 10.0, 0.0, 1.0, ["sf-pop1.json"])


def test_ranking_says_tied_at_the_shown_precision() -> None:
    values = {"greedy": 0.882, "shortest-path": 0.5861, "load-balance": 0.5859}
    assert ranking_text(values) == ("greedy 0.882 > shortest-path = load-balance 0.586 (tied)")
    assert ranking_text({"a": 0.5, "b": 0.4}) == "a 0.500 > b 0.400"


def test_order_verdict_names_the_pairs_it_counts_as_tied() -> None:
    lab = {"a": 0.70, "b": 0.60, "c": 0.50}
    assert order_verdict(lab, {"a": 0.71, "b": 0.61, "c": 0.40}) == (True, "same order")
    agree, text = order_verdict(lab, {"a": 0.605, "b": 0.61, "c": 0.40})
    assert agree and text == "same order, counting a and b as tied (within 1 pp in the simulator)"
    agree, text = order_verdict(lab, {"a": 0.50, "b": 0.61, "c": 0.40})
    assert not agree and "a above b in the lab, below it in the simulator" in text
    # tied in the lab as shown: no order to contradict
    assert order_verdict({"a": 0.5861, "b": 0.5859}, {"a": 0.40, "b": 0.60})[0]


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_bad_arguments_are_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, err = run_main(capsys, "run", str(TRIANGLE), "--policy", "nope", "--out", str(out))
    assert code == 2 and "--policy 'nope': neither a known policy (shortest-path" in err
    code, err = run_main(capsys, "run", str(TRIANGLE), "--fail", "pop7@2", "--out", str(out))
    assert code == 2 and "no node 'pop7' in triangle" in err
    code, err = run_main(capsys, "run", str(TRIANGLE), "--fail", "pop1@99", "--out", str(out))
    assert code == 2 and "within the 30 s of traffic" in err
    code, err = run_main(
        capsys,
        "compare",
        str(TRIANGLE),
        "--policies",
        "greedy,abilene-in1-rand-cap0-2",
        "--out",
        str(out),
    )
    assert code == 2 and "--policies 'abilene-in1-rand-cap0-2' on triangle" in err
    assert not out.exists()


def test_help_gives_defaults_units_and_an_ignored_output_folder(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "wall seconds after traffic starts" in text and "(default: 30.0)" in text
    assert "wall milliseconds per scenario millisecond (default: 10.0)" in text
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {RESULTS / 'compare'})" in text
    out = default_run_out(load_scenario(TRIANGLE), "shortest-path")
    assert out == Path("results/labs/triangle-shortest-path")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(out)], cwd=Path(__file__).resolve().parents[2]
    )
    assert ignored.returncode == 0  # results/ is ignored: a run never lands in the repository

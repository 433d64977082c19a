"""The JSON reports the lab's processes leave (SF instances, sinks, sources): written
whole or not at all, read strictly.

A process writes its report when it stops; the lab reads it only after the process has
exited. ``write_report`` writes a temporary file and renames it, so a reader never sees
half a report; ``read_report`` raises ``LabReportError`` naming the file for a report that
is missing or not JSON, instead of counting it as empty.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class LabReportError(RuntimeError):
    """A lab process left no readable report: the run's figures would be wrong."""


def write_report(path: Path, data: object) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def read_report(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LabReportError(f"{path}: no report (its process did not write one)") from None
    except OSError as exc:
        raise LabReportError(f"{path}: cannot read the report: {exc.strerror}") from None
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise LabReportError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except ValueError as exc:  # not UTF-8
        raise LabReportError(f"{path}: not JSON: {exc}") from None

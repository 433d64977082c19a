"""A training run's records: learning curves (CSV, PNG, TensorBoard when installed) and
checkpoints (tensors only, loadable with ``weights_only=True``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import torch

from agent.model.errors import InputError


class CurveLog:
    """Learning curves: ``curves.csv`` (rewritten at each ``flush``, and with ``curves.png``
    at ``close``) and TensorBoard events under ``tensorboard/`` (when tensorboard is
    installed), one row per episode or evaluation. A run resumed at step ``start`` in the
    same directory keeps the rows up to ``start`` and drops the events after it."""

    def __init__(self, run: Path | None, start: int = 0) -> None:
        self.rows: list[dict[str, float]] = _rows_until(run, start) if start else []
        self.run = run
        self.writer: Any = None
        if run is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                purge = start if start else None
                self.writer = SummaryWriter(str(run / "tensorboard"), purge_step=purge)
            except ImportError:
                self.writer = None

    def add(self, row: dict[str, float]) -> None:
        self.rows.append(row)
        if self.writer is not None:
            for key, value in row.items():
                if key != "step":
                    self.writer.add_scalar(key, value, int(row["step"]))

    def flush(self) -> None:
        """Write ``curves.csv`` (and the events) as they stand."""
        if self.run is None:
            return
        keys = sorted({k for row in self.rows for k in row}, key=lambda k: (k != "step", k))
        with (self.run / "curves.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.run is None:
            return
        self.flush()
        plot_curves(self.rows, self.run / "curves.png")
        if self.writer is not None:
            self.writer.close()


def _rows_until(run: Path | None, start: int) -> list[dict[str, float]]:
    """The rows of the run's ``curves.csv`` up to step ``start`` (none without one)."""
    path = None if run is None else run / "curves.csv"
    if path is None or not path.is_file():
        return []
    with path.open(newline="") as handle:
        rows = [
            {k: float(v) for k, v in row.items() if v not in ("", None)}
            for row in csv.DictReader(handle)
        ]
    return [row for row in rows if row.get("step", 0.0) <= start]


def plot_curves(rows: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, key, label in (
        (axes[0], "episode_reward", "episode reward"),
        (axes[1], "success_ratio", "success ratio"),
    ):
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            ax.plot(*zip(*points, strict=True), marker=".")
        ax.set_xlabel("training step")
        ax.set_title(label)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_checkpoint(
    path: Path, modules: dict[str, Any], step: int, extra: dict[str, Any] | None = None
) -> None:
    """Tensors and plain values only (state dicts, the step, ``extra``), loadable with
    ``weights_only=True``."""
    state = {name: module.state_dict() for name, module in modules.items()}
    torch.save({"modules": state, "step": step, "extra": extra or {}}, path)


def load_checkpoint(path: Path, modules: dict[str, Any]) -> tuple[int, list[str], dict[str, Any]]:
    """Load every module the checkpoint has; returns its step, the modules it lacks and
    its extra values."""
    try:
        state = torch.load(path, weights_only=True)
        missing = [name for name in modules if name not in state["modules"]]
        for name, module in modules.items():
            if name not in missing:
                module.load_state_dict(state["modules"][name])
        return int(state["step"]), missing, dict(state.get("extra", {}))
    except Exception as exc:  # torch raises several kinds for a file that is not one
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(path, "", f"not a checkpoint of this run's networks: {problem}") from None

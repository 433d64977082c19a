"""A training run's records: learning curves (CSV, PNG, TensorBoard when installed) and
checkpoints (tensors only, loadable with ``weights_only=True``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import torch


class CurveLog:
    """Learning curves: CSV (always, when there is a run directory) and TensorBoard (when
    installed), one row per episode or evaluation."""

    def __init__(self, run: Path | None) -> None:
        self.rows: list[dict[str, float]] = []
        self.run = run
        self.writer: Any = None
        if run is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(run / "tensorboard"))
            except ImportError:
                self.writer = None

    def add(self, row: dict[str, float]) -> None:
        self.rows.append(row)
        if self.writer is not None:
            for key, value in row.items():
                if key != "step":
                    self.writer.add_scalar(key, value, int(row["step"]))

    def close(self) -> None:
        if self.run is None:
            return
        keys = sorted({k for row in self.rows for k in row}, key=lambda k: (k != "step", k))
        with (self.run / "curves.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        plot_curves(self.rows, self.run / "curves.png")
        if self.writer is not None:
            self.writer.close()


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


def save_checkpoint(path: Path, modules: dict[str, Any], step: int) -> None:
    """Tensors only (state dicts and the step), loadable with ``weights_only=True``."""
    state = {name: module.state_dict() for name, module in modules.items()}
    torch.save({"modules": state, "step": step}, path)


def load_checkpoint(path: Path, modules: dict[str, Any]) -> int:
    state = torch.load(path, weights_only=True)
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    return int(state["step"])

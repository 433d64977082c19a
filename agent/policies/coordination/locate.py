"""Where a coordination policy lives: shipped names, policy directories, training runs.

A name is a shipped policy (the stem of the network it was trained for) or a path: a policy
directory, its ``card.json`` or ``actor.safetensors``, or a training run directory, whose
policy is ``best/``. Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path

from agent.policies.coordination.card import CARD_FILE, WEIGHTS_FILE
from agent.policies.errors import PolicyFileError

SHIPPED = Path(__file__).resolve().parents[3] / "topologies" / "policies" / "coordination"
RUN_BEST = "best"  # a training run keeps its policy here
RUN_MARKERS = ("config.json", "checkpoints", "curves.csv")


def shipped_names(root: Path = SHIPPED) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CARD_FILE).is_file())


def looks_like_path(name: str) -> bool:
    """A name the user meant as a path (as the daemon's configuration reads it)."""
    return "/" in name or name.startswith(".")


def shipped_directory(name: str, root: Path = SHIPPED) -> Path | None:
    if looks_like_path(name) or not name or not (root / name / CARD_FILE).is_file():
        return None
    return root / name


def policy_directory(given: str | Path) -> Path:
    """The policy directory ``given`` stands for; PolicyFileError saying what is there
    instead."""
    path = Path(given)
    if not path.exists():
        raise PolicyFileError(str(given), "", "policy directory not found")
    if path.is_file():
        if path.name not in (CARD_FILE, WEIGHTS_FILE):
            raise PolicyFileError(path, "", f"not a policy: give the directory of {CARD_FILE}")
        path = path.parent
    if (path / CARD_FILE).is_file():
        return path
    if (path / RUN_BEST / CARD_FILE).is_file():
        return path / RUN_BEST  # a training run: its best policy
    if any((path / marker).exists() for marker in RUN_MARKERS):
        raise PolicyFileError(
            path, "", f"a training run directory without {RUN_BEST}/{CARD_FILE} (did it finish?)"
        )
    raise PolicyFileError(
        path, "", f"no {CARD_FILE} here (a policy directory holds {CARD_FILE} and {WEIGHTS_FILE})"
    )


def find_policy(name: str, root: Path = SHIPPED) -> Path:
    """The directory of the coordination policy ``name`` (shipped name first, then a path);
    PolicyFileError when there is none."""
    shipped = shipped_directory(name, root)
    if shipped is not None:
        return shipped
    if looks_like_path(name) or Path(name).exists():
        return policy_directory(name)
    known = ", ".join(shipped_names(root)) or "none"
    raise PolicyFileError(None, "", f"no coordination policy named {name!r} (shipped: {known})")

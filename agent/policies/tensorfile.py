"""A safetensors file's header, read and checked without torch.

A policy's card says which tensors its network has and their shapes. Before anything is
allocated, the weights file's header (8 bytes of length, then JSON) is checked against that
list: names, dtype, shapes, and offsets that tile the data exactly up to the end of the file.
A truncated, padded or tampered file is refused here, with one line.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.policies.errors import PolicyFileError

MAX_HEADER_BYTES = 1 << 20  # a policy's header lists a handful of tensors: a few hundred bytes
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1}
Shape = tuple[int, ...]


@dataclass(frozen=True)
class TensorEntry:
    dtype: str
    shape: Shape
    start: int
    end: int


def read_header(path: Path) -> dict[str, TensorEntry]:
    """The tensors a safetensors file declares; PolicyFileError if the header is malformed."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise PolicyFileError(path, "", "not a safetensors file (shorter than 8 bytes)")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(MAX_HEADER_BYTES, size - 8):
                raise PolicyFileError(
                    path, "", f"not a safetensors file (header length {length} out of range)"
                )
            raw = handle.read(length)
    except OSError as exc:
        raise PolicyFileError(path, "", f"cannot read the weights: {exc.strerror}") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PolicyFileError(path, "", "not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise PolicyFileError(path, "", "not a safetensors file (header is not a JSON object)")
    header.pop("__metadata__", None)
    entries = {name: _entry(path, name, value) for name, value in header.items()}
    _check_tiling(path, entries, size - 8 - length)
    return entries


def _entry(path: Path, name: str, value: Any) -> TensorEntry:
    where = f"tensor {name!r}"
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data_offsets"}:
        raise PolicyFileError(path, where, "expected dtype, shape and data_offsets")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if dtype not in DTYPE_BYTES:
        raise PolicyFileError(path, where, f"unsupported dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_count(d) for d in shape):
        raise PolicyFileError(path, where, f"shape {shape!r} is not a list of sizes")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_count(o) for o in offsets):
        raise PolicyFileError(path, where, f"data_offsets {offsets!r} is not [start, end]")
    start, end = offsets
    if end - start != math.prod(shape) * DTYPE_BYTES[dtype]:
        raise PolicyFileError(path, where, f"data_offsets {offsets} do not fit shape {shape}")
    return TensorEntry(dtype, tuple(shape), start, end)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_tiling(path: Path, entries: Mapping[str, TensorEntry], data_bytes: int) -> None:
    """The tensors' bytes follow one another from 0 to the end of the file, no gap, no
    overlap: a truncated or padded file is caught here."""
    position = 0
    for name, entry in sorted(entries.items(), key=lambda item: item[1].start):
        if entry.start != position:
            raise PolicyFileError(path, f"tensor {name!r}", "data overlaps or leaves a gap")
        position = entry.end
    if position != data_bytes:
        raise PolicyFileError(
            path, "", f"file holds {data_bytes} bytes of tensor data, the header {position}"
        )


def check_tensors(path: Path, expected: Mapping[str, Shape], dtype: str = "F32") -> None:
    """The weights file at ``path`` holds exactly the tensors ``expected`` (name -> shape), of
    ``dtype``; PolicyFileError naming the first difference."""
    if not path.is_file():
        raise PolicyFileError(path, "", "weights file not found")
    entries = read_header(path)
    missing = [name for name in expected if name not in entries]
    if missing:
        raise PolicyFileError(path, "", f"tensor(s) {', '.join(missing)} missing")
    extra = [name for name in entries if name not in expected]
    if extra:
        raise PolicyFileError(path, "", f"unexpected tensor(s) {', '.join(extra)}")
    for name, shape in expected.items():
        entry = entries[name]
        if entry.shape != tuple(shape):
            raise PolicyFileError(
                path,
                f"tensor {name!r}",
                f"shape {list(entry.shape)}, the card's layout needs {list(shape)}",
            )
        if entry.dtype != dtype:
            raise PolicyFileError(
                path, f"tensor {name!r}", f"dtype {entry.dtype}, expected {dtype}"
            )


def linear(name: str, inputs: int, outputs: int) -> dict[str, Shape]:
    """The tensors of ``nn.Linear(inputs, outputs)`` named ``name``."""
    return {f"{name}.weight": (outputs, inputs), f"{name}.bias": (outputs,)}


def linear_shapes(prefix: str, sizes: list[int]) -> dict[str, Shape]:
    """The tensors of linear layers ``sizes[0] -> sizes[1] -> ...`` inside an
    ``nn.Sequential`` named ``prefix``, an activation between each two (modules 0, 2, 4...)."""
    out: dict[str, Shape] = {}
    for i in range(len(sizes) - 1):
        out.update(linear(f"{prefix}.{2 * i}", sizes[i], sizes[i + 1]))
    return out


def parameter_count(shapes: Mapping[str, Shape]) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def match_mode(path: Path, like: Path) -> None:
    """Give ``path`` the permissions of ``like`` (the safetensors writer makes its files
    private; a policy's files are read by whoever runs it, as the rest of the run)."""
    path.chmod(like.stat().st_mode & 0o777)

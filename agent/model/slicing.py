"""Network slicing scenarios: slices of users sharing one capacity, as DeepSlicing (Liu, Han,
Zhang, Wang, GLOBECOM 2020) and its three-service follow-up pose the problem.

A scenario file (YAML) gives the capacity, the episode length, the utility form, the ADMM
parameters, the QoS floors and the slices, either listed (``slices``) or drawn the way the
paper's published code draws them (``generate``: one instance per seed, from
``numpy.random.seed``, so that seed 12345678 reproduces the published instance). Demand is
``saturated`` (every user takes what it gets, the paper's setting), ``diurnal-bursty``
(a seedable generator) or ``trace`` (a CSV file ``step,slice,user,demand``).

Utility forms (per user and step, before weights):

- ``alpha-fair``: ``x^a / a`` with a per-user ``a`` in (0, 1);
- ``log-demand``: ``log(1 + min(demand, x))``.

A user meets its QoS in a step when its utility reaches the slice's ``qos_floor``, or when it
receives its whole demand (a floor above what the demand can yield asks for nothing more).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.model.errors import InputError
from agent.model.yamlfile import YamlDocument, load_yaml, read_text_file, require_mapping

Array = npt.NDArray[np.float64]
MAX_CAPACITY = 1e12
MAX_SLICES = 1_000
MAX_USERS = 10_000  # per slice
MAX_EPISODE_STEPS = 100_000
MAX_TRACE_BYTES = 64 * 2**20
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
Positive = Annotated[float, Field(gt=0.0, le=MAX_CAPACITY)]
NonNegative = Annotated[float, Field(ge=0.0, le=MAX_CAPACITY)]
Exponent = Annotated[float, Field(gt=0.0, lt=1.0)]


class UtilityForm(StrEnum):
    ALPHA_FAIR = "alpha-fair"
    LOG_DEMAND = "log-demand"


class AdmmSpec(BaseModel):
    model_config = _STRICT
    rho: Positive = 10.0
    iterations: int = Field(default=10, ge=1, le=10_000)


class SliceSpec(BaseModel):
    """One slice as written: its users' exponents and weights, its floor, its demand."""

    model_config = _STRICT
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    users: int = Field(ge=1, le=MAX_USERS)
    weight: NonNegative = 1.0
    user_weights: list[NonNegative] | None = None
    alpha: Exponent | list[Exponent] = 0.5
    qos_floor: float = Field(default=0.0, ge=0.0, le=1e6)
    demand_mean: NonNegative = 0.0  # per user and step, for diurnal-bursty demand

    @model_validator(mode="after")
    def _lengths(self) -> SliceSpec:
        for key in ("user_weights", "alpha"):
            value = getattr(self, key)
            if isinstance(value, list) and len(value) != self.users:
                raise ValueError(f"{key} lists {len(value)} values for {self.users} users")
        return self


class GenerateSpec(BaseModel):
    """Instances drawn as the published DeepSlicing code draws them."""

    model_config = _STRICT
    seed: int = Field(default=12345678, ge=0, le=2**32 - 5)
    slices: int = Field(default=3, ge=1, le=MAX_SLICES)
    users: int = Field(default=5, ge=1, le=MAX_USERS)
    alpha: tuple[Exponent, Exponent] = (0.1, 0.9)
    user_weight: tuple[NonNegative, NonNegative] = (0.1, 0.9)
    slice_weight: tuple[NonNegative, NonNegative] = (0.1, 0.9)
    qos_floor: float = Field(default=2.0, ge=0.0, le=1e6)
    per_episode: bool = True  # episode k of a run seeded S plays the instance of seed S + k


class DemandSpec(BaseModel):
    model_config = _STRICT
    kind: Literal["saturated", "diurnal-bursty", "trace"] = "saturated"
    period: int = Field(default=24, ge=1, le=MAX_EPISODE_STEPS)
    amplitude: float = Field(default=0.4, ge=0.0, le=1.0)
    noise: float = Field(default=0.1, ge=0.0, le=2.0)
    user_spread: float = Field(default=0.5, ge=0.0, le=1.0)
    burst_probability: float = Field(default=0.05, ge=0.0, le=1.0)
    burst_factor: float = Field(default=2.5, ge=1.0, le=1e3)
    burst_length: int = Field(default=3, ge=1, le=MAX_EPISODE_STEPS)
    trace: str | None = None

    @model_validator(mode="after")
    def _trace_named(self) -> DemandSpec:
        if (self.kind == "trace") != (self.trace is not None):
            raise ValueError("a trace file is given exactly when kind is trace")
        return self


class SlicingFile(BaseModel):
    model_config = _STRICT
    name: str | None = None
    description: str | None = None
    capacity: Positive
    steps: int = Field(default=20, ge=1, le=MAX_EPISODE_STEPS)
    utility: UtilityForm = UtilityForm.ALPHA_FAIR
    admm: AdmmSpec = Field(default_factory=AdmmSpec)
    qos_penalty: NonNegative = 20.0
    slices: list[SliceSpec] | None = Field(default=None, min_length=1, max_length=MAX_SLICES)
    generate: GenerateSpec | None = None
    demand: DemandSpec = Field(default_factory=DemandSpec)

    @model_validator(mode="after")
    def _one_source(self) -> SlicingFile:
        if (self.slices is None) == (self.generate is None):
            raise ValueError("give exactly one of slices or generate")
        if self.slices is not None:
            names = [s.name for s in self.slices]
            if len(set(names)) != len(names):
                raise ValueError("slice names must be unique")
        return self


@dataclass(frozen=True)
class SliceInstance:
    """A slice in numbers: per-user exponent and weight (slice weight x user weight)."""

    name: str
    alpha: Array
    weight: Array
    qos_floor: float
    demand_mean: float = 0.0

    @property
    def users(self) -> int:
        return int(self.alpha.size)


@dataclass(frozen=True)
class SlicingProblem:
    """What every method sees: capacity, utility form, ADMM parameters and the slices."""

    capacity: float
    utility: UtilityForm
    slices: tuple[SliceInstance, ...]
    rho: float = 10.0
    iterations: int = 10
    qos_penalty: float = 20.0

    @property
    def users(self) -> int:
        return sum(s.users for s in self.slices)


@dataclass(frozen=True)
class SlicingScenario:
    name: str
    spec: SlicingFile
    trace: Array | None = None  # steps x users (users in slice order)
    source: str | None = None

    @property
    def steps(self) -> int:
        return self.spec.steps

    def problem(self, seed: int | None = None) -> SlicingProblem:
        """The instance of episode seed ``seed`` (generated scenarios) or the listed slices."""
        spec = self.spec
        if spec.generate is not None:
            gen = spec.generate
            slices = generate_slices(gen, gen.seed if seed is None or not gen.per_episode else seed)
        else:
            assert spec.slices is not None
            slices = tuple(_listed(s) for s in spec.slices)
        return SlicingProblem(
            spec.capacity,
            spec.utility,
            slices,
            spec.admm.rho,
            spec.admm.iterations,
            spec.qos_penalty,
        )

    def demand(self, problem: SlicingProblem, seed: int) -> Array:
        """Demand per step and user (steps x users, slice order) of the episode ``seed``; a
        trace's episode seeded S starts at its row S mod (rows - steps + 1)."""
        kind = self.spec.demand.kind
        if kind == "saturated":
            return np.full((self.steps, problem.users), problem.capacity)
        if kind == "trace":
            assert self.trace is not None
            start = seed % (self.trace.shape[0] - self.steps + 1)
            window: Array = self.trace[start : start + self.steps]
            return window
        return diurnal_bursty(self.spec.demand, problem, self.steps, seed)


def _listed(spec: SliceSpec) -> SliceInstance:
    alpha = np.broadcast_to(np.asarray(spec.alpha, dtype=np.float64), (spec.users,)).copy()
    user_weights = np.asarray(spec.user_weights or [1.0] * spec.users, dtype=np.float64)
    return SliceInstance(
        spec.name, alpha, spec.weight * user_weights, spec.qos_floor, spec.demand_mean
    )


def generate_slices(gen: GenerateSpec, seed: int) -> tuple[SliceInstance, ...]:
    """The published code's draws: exponents (slices x 1 x users) from seed + 1, user
    weights from seed + 2, slice weights from seed + 3, each after ``numpy.random.seed``."""
    shape = (gen.slices, 1, gen.users)
    alpha = np.random.RandomState(seed + 1).uniform(*gen.alpha, shape)[:, 0, :]
    user_weight = np.random.RandomState(seed + 2).uniform(*gen.user_weight, shape[::2])
    slice_weight = np.random.RandomState(seed + 3).uniform(*gen.slice_weight, gen.slices)
    return tuple(
        SliceInstance(f"slice{i}", alpha[i], slice_weight[i] * user_weight[i], gen.qos_floor)
        for i in range(gen.slices)
    )


def diurnal_bursty(spec: DemandSpec, problem: SlicingProblem, steps: int, seed: int) -> Array:
    """Per-user demand: the slice's mean x a per-user factor x a diurnal wave (random phase)
    x log-normal noise, multiplied by ``burst_factor`` while the slice is in a burst (a burst
    starts with ``burst_probability`` per step and lasts ``burst_length`` steps)."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0.0, spec.period)
    t = np.arange(steps)[:, None]
    wave = 1.0 + spec.amplitude * np.sin(2 * math.pi * (t + phase) / spec.period)
    columns = []
    for s in problem.slices:
        factor = rng.uniform(1 - spec.user_spread, 1 + spec.user_spread, s.users)
        burst = np.ones(steps)
        for start in np.flatnonzero(rng.random(steps) < spec.burst_probability):
            burst[start : start + spec.burst_length] = spec.burst_factor
        noise = rng.lognormal(-0.5 * spec.noise**2, spec.noise, (steps, s.users))
        columns.append(s.demand_mean * factor[None, :] * burst[:, None] * noise)
    return np.concatenate(columns, axis=1) * wave


def load_slicing_scenario(path: str | Path) -> SlicingScenario:
    """Load and check a slicing scenario file; an InputError names file, key path, line."""
    doc = load_yaml(path, "slicing scenario")
    spec = doc.validate(SlicingFile, require_mapping(doc, "a slicing scenario"))
    _check_floors(doc, spec)
    trace = None
    if spec.demand.kind == "trace":
        assert spec.demand.trace is not None
        file = Path(spec.demand.trace)
        file = file if file.is_absolute() else doc.path.parent / file
        trace = load_demand_trace(file, spec)
    elif spec.demand.kind == "diurnal-bursty" and spec.slices is None:
        raise doc.error(["demand", "kind"], "diurnal-bursty demand needs listed slices")
    return SlicingScenario(spec.name or doc.path.stem, spec, trace, str(doc.path))


def _check_floors(doc: YamlDocument, spec: SlicingFile) -> None:
    """Each slice's floor must be reachable by its users at all with the whole capacity."""
    if spec.slices is None:
        return
    for i, s in enumerate(spec.slices):
        alphas = np.broadcast_to(np.asarray(s.alpha, dtype=np.float64), (s.users,))
        need = float(np.sum(floor_allocation(spec.utility, alphas, s.qos_floor)))
        if spec.demand.kind == "saturated" and need > spec.capacity:
            problem = f"the floor needs {need:.4g} for {s.users} users, above the capacity"
            raise doc.error(["slices", i, "qos_floor"], problem)


def floor_allocation(form: UtilityForm, alpha: Array, floor: float) -> Array:
    """The allocation at which a user's (unweighted) utility reaches ``floor``, demand aside."""
    if form is UtilityForm.ALPHA_FAIR:
        result: Array = (floor * alpha) ** (1.0 / alpha)
        return result
    return np.full(alpha.shape, math.expm1(floor))


def load_demand_trace(path: Path, spec: SlicingFile) -> Array:
    """A CSV ``step,slice,user,demand`` (header first) as steps x users; every (slice, user)
    needs a row for every step from 0 to the last step named."""
    assert spec.slices is not None
    text = read_text_file(path, "demand trace", MAX_TRACE_BYTES)
    offsets, total = {}, 0
    for s in spec.slices:
        offsets[s.name] = (total, s.users)
        total += s.users
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or [h.strip() for h in header] != ["step", "slice", "user", "demand"]:
        raise InputError(path, "header", "expected the columns step,slice,user,demand", 1)
    cells: dict[tuple[int, int], float] = {}
    for line, row in enumerate(rows, start=2):
        step, column, value = _trace_row(path, line, row, offsets)
        cells[(step, column)] = value
    steps = 1 + max((step for step, _ in cells), default=-1)
    if steps < spec.steps:
        problem = f"{steps} steps of demand, the episode needs {spec.steps}"
        raise InputError(path, "", problem)
    trace = np.zeros((steps, total))
    for (step, column), value in cells.items():
        trace[step, column] = value
    if len(cells) != steps * total:
        missing = next((t, c) for t in range(steps) for c in range(total) if (t, c) not in cells)
        raise InputError(path, f"step {missing[0]}", f"no demand for user column {missing[1]}")
    return trace


def _trace_row(
    path: Path, line: int, row: list[str], offsets: dict[str, tuple[int, int]]
) -> tuple[int, int, float]:
    if len(row) != 4:
        raise InputError(path, "", f"expected 4 values, found {len(row)}", line)
    try:
        step, user, value = int(row[0]), int(row[2]), float(row[3])
    except ValueError:
        raise InputError(
            path, "", "step and user must be integers, demand a number", line
        ) from None
    name = row[1].strip()
    if name not in offsets:
        raise InputError(path, "slice", f"unknown slice {name!r}", line)
    first, users = offsets[name]
    if not 0 <= user < users:
        raise InputError(path, "user", f"slice {name!r} has users 0 to {users - 1}", line)
    if not 0 <= step < MAX_EPISODE_STEPS:
        raise InputError(path, "step", f"must be in 0..{MAX_EPISODE_STEPS - 1}", line)
    if not (math.isfinite(value) and 0 <= value <= MAX_CAPACITY):
        raise InputError(path, "demand", f"must be a finite number >= 0 (got {row[3]})", line)
    return step, first + user, value

"""Traffic: coord-sim's simulator configuration (arrival process, flow sizes and rates,
control-step length, TTLs, the two-state MMPP) and trace files."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.model.errors import InputError
from agent.model.limits import (
    MAX_FLOWS_PER_STEP,
    MAX_TIME_MS,
    MAX_TRACE_ROWS,
    MeanSource,
    flows_per_window,
)
from agent.model.yamlfile import YamlDocument, load_yaml, read_text_file, require_mapping

MAX_TRACE_BYTES = 64 * 2**20

Duration = Annotated[float, Field(gt=0.0, le=MAX_TIME_MS)]
# Pareto(shape) draws u ** (-1 / shape) overflow a float below this shape (u >= 2**-53)
PARETO_FINITE_SHAPE = 53 / 1024

_DEFAULT_CLASSES = {
    "flow_generator_class": "DefaultFlowGenerator",
    "flow_forwarder_class": "DefaultFlowForwarder",
    "flow_processor_class": "DefaultFlowProcessor",
    "decision_maker_class": "DefaultDecisionMaker",
    "controller_class": "DurationController",
}


class MmppState(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    inter_arr_mean: Duration
    switch_p: float = Field(ge=0.0, le=1.0)


class TrafficConfig(BaseModel):
    """coord-sim's simulator YAML. Keys coord-sim knows but that only steer its own
    output files are accepted and ignored; any other key is an error."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    inter_arrival_mean: Duration = 10.0
    deterministic_arrival: bool | None = None
    deterministic_size: bool | None = None
    deterministic: bool | None = None
    # rates are redrawn until positive: a mean of 0 or less would never give one
    flow_dr_mean: float = Field(default=1.0, gt=0.0)
    flow_dr_stdev: float = Field(default=0.0, ge=0.0)
    flow_size_shape: float = Field(default=0.001, gt=0.0)
    run_duration: Duration = 100.0
    ttl_choices: list[Duration] = Field(min_length=1)
    trace_path: str | None = None
    use_states: bool = False
    init_state: str | None = None
    rand_init_state: bool = False
    states: dict[str, MmppState] | None = None
    vnf_timeout: float = Field(default=100.0, ge=0.0, le=MAX_TIME_MS)
    # Accepted for compatibility; they only control coord-sim's own writers/predictor.
    write_schedule: bool = False
    write_flow_actions: bool = False
    future_traffic: bool = False
    flow_generator_class: Literal["DefaultFlowGenerator"] | None = None
    flow_forwarder_class: Literal["DefaultFlowForwarder"] | None = None
    flow_processor_class: Literal["DefaultFlowProcessor"] | None = None
    decision_maker_class: Literal["DefaultDecisionMaker"] | None = None
    controller_class: Literal["DurationController"] | None = None

    @field_validator("flow_dr_mean", "flow_dr_stdev", "flow_size_shape")
    @classmethod
    def _not_huge(cls, value: float) -> float:
        if value > 1e100:
            raise ValueError("must be at most 1e100")
        return value

    @model_validator(mode="after")
    def _check(self) -> TrafficConfig:
        if self.deterministic_arrival is None:
            self.deterministic_arrival = self.deterministic
        if self.deterministic_size is None:
            self.deterministic_size = self.deterministic
        if self.deterministic_arrival is None or self.deterministic_size is None:
            raise ValueError("set deterministic_arrival and deterministic_size (or deterministic)")
        if self.use_states:
            if not self.states or len(self.states) != 2:
                raise ValueError("use_states needs exactly two states under 'states'")
            if not self.rand_init_state and self.init_state not in self.states:
                raise ValueError(f"init_state must name one of {sorted(self.states)}")
        return self

    @property
    def arrivals_deterministic(self) -> bool:
        return bool(self.deterministic_arrival)

    @property
    def sizes_deterministic(self) -> bool:
        return bool(self.deterministic_size)

    @property
    def typical_flow_duration_ms(self) -> float:
        """Mean flow size over mean data rate, in ms: the steady-state factor between the
        rate of flows in progress and the rate of flows arriving. The size is the fixed
        one, or the mean of Pareto(shape) with scale 1 (its median where the mean is
        infinite, shape <= 1; infinite where even that overflows)."""
        shape = self.flow_size_shape
        if self.sizes_deterministic:
            size = shape
        elif shape > 1.0:
            size = shape / (shape - 1.0)
        else:
            size = 2.0 ** (1.0 / shape) if 1.0 / shape < 1000.0 else math.inf
        return size / self.flow_dr_mean * 1000.0 if self.flow_dr_mean > 0 else 0.0


@dataclass(frozen=True)
class TraceRow:
    """From ``time`` (ms) on, ``node`` (or every ingress) uses ``inter_arrival_mean``
    (``None`` stops its arrivals); ``cap`` optionally changes the node's capacity.
    ``line`` is the row's line in the trace file."""

    time: float
    node: str | None
    inter_arrival_mean: float | None
    cap: float | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Traffic:
    config: TrafficConfig
    trace: tuple[TraceRow, ...] = ()
    source: str | None = None
    trace_source: str | None = None
    key_lines: dict[str, int | None] = field(default_factory=dict, compare=False)

    @property
    def warnings(self) -> tuple[str, ...]:
        cfg = self.config
        if cfg.sizes_deterministic or cfg.flow_size_shape >= PARETO_FINITE_SHAPE:
            return ()
        line = self.key_lines.get("flow_size_shape")
        where = f"{self.source or '<input>'}{f':{line}' if line else ''}: flow_size_shape"
        return (
            f"{where}: random (Pareto) sizes with shape {cfg.flow_size_shape:g} overflow to "
            "infinity for most flows, which then never end",
        )

    def smallest_means(self, ingress: Sequence[str]) -> dict[str, MeanSource]:
        """Per ingress node, the smallest mean inter-arrival time it can have."""
        cfg, lines = self.config, self.key_lines
        default = MeanSource(
            cfg.inter_arrival_mean,
            self.source,
            "inter_arrival_mean",
            lines.get("inter_arrival_mean"),
        )
        if cfg.use_states and cfg.states and not self.trace:
            default = min(
                (
                    MeanSource(state.inter_arr_mean, self.source, key, lines.get(key))
                    for name, state in cfg.states.items()
                    for key in [f"states.{name}.inter_arr_mean"]
                ),
                key=lambda source: source.mean,
            )
        per_node = dict.fromkeys(ingress, default)
        for i, row in enumerate(self.trace):
            if row.inter_arrival_mean is None:
                continue
            targets = ingress if row.node is None else [row.node] if row.node in per_node else []
            source = MeanSource(row.inter_arrival_mean, self.trace_source, f"row {i + 1}", row.line)
            for node in targets:
                if source.mean < per_node[node].mean:
                    per_node[node] = source
        return per_node

    def check_flow_budget(self, ingress: Sequence[str] | None = None) -> None:
        """InputError where the ingress nodes would draw more than MAX_FLOWS_PER_STEP
        flows at once (see agent.model.limits). Without ``ingress`` (a simulator config
        checked alone), the bound applies to any one node."""
        cfg = self.config
        window = cfg.run_duration + max(cfg.ttl_choices) + 1.0
        if ingress is None:
            nodes = ["", *sorted({row.node for row in self.trace if row.node is not None})]
            means = self.smallest_means(nodes)
            worst_node = min(nodes, key=lambda node: means[node].mean)
            total, worst = flows_per_window(window, [worst_node], means)
            nodes_text = "one ingress node"
        else:
            total, worst = flows_per_window(window, ingress, self.smallest_means(ingress))
            nodes_text = f"{len(ingress)} ingress node{'s' if len(ingress) != 1 else ''}"
        if worst is None or total <= MAX_FLOWS_PER_STEP:
            return
        cause = f"mean inter-arrival time {worst.mean:g} ms"
        without_ttl = total * (cfg.run_duration + 1.0) / window
        if without_ttl <= MAX_FLOWS_PER_STEP:  # the TTL look-ahead is what is too long
            cause = f"the longest TTL {max(cfg.ttl_choices):g} ms"
            worst = MeanSource(
                worst.mean, self.source, "ttl_choices", self.key_lines.get("ttl_choices")
            )
        raise InputError(
            worst.path,
            worst.where,
            f"{cause} asks for about {total:.3g} flows per control step ({nodes_text}, "
            f"run_duration plus the longest TTL: {window:g} ms, smallest mean inter-arrival "
            f"time {worst.mean:g} ms); the simulator accepts at most {MAX_FLOWS_PER_STEP:,}",
            worst.line,
        )

    def check_trace_nodes(self, known: set[str]) -> None:
        """Every trace row names a node of the network (or none: every ingress)."""
        for i, row in enumerate(self.trace):
            if row.node is not None and row.node not in known:
                raise InputError(
                    self.trace_source, f"row {i + 1}", f"unknown node {row.node!r}", row.line
                )


_KEYS_WITH_LINES = ("inter_arrival_mean", "run_duration", "ttl_choices", "flow_size_shape")


def load_traffic(path: str | Path) -> Traffic:
    doc = load_yaml(path, "simulator config")
    config = parse_traffic(doc)
    trace: tuple[TraceRow, ...] = ()
    trace_file = None
    if config.trace_path:
        trace_file = _resolve_trace(doc, config.trace_path)
        trace = load_trace(trace_file)
    keys = [*_KEYS_WITH_LINES, *(f"states.{name}.inter_arr_mean" for name in config.states or {})]
    lines = {key: doc.line_of(key.split(".")) for key in keys}
    traffic = Traffic(config, trace, str(doc.path), str(trace_file) if trace_file else None, lines)
    traffic.check_flow_budget()
    return traffic


def parse_traffic(doc: YamlDocument) -> TrafficConfig:
    return doc.validate(TrafficConfig, require_mapping(doc, "a simulator config"))


def _resolve_trace(doc: YamlDocument, trace_path: str) -> Path:
    """coord-sim resolves traces against the working directory, configs usually sit
    deeper (``res/config/simulator``); try the config's folder and its parents."""
    relative = Path(trace_path)
    candidates = [relative] if relative.is_absolute() else []
    base = doc.path.resolve().parent
    candidates += [parent / relative for parent in (base, *base.parents)]
    candidates.append(Path.cwd() / relative)
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # a name too long for the file system, say
            continue
    raise doc.error(["trace_path"], f"trace file {trace_path!r} not found")


def load_trace(path: Path) -> tuple[TraceRow, ...]:
    """Rows of a trace CSV (columns time, inter_arrival_mean, optional node and cap)."""
    text = read_text_file(path, "trace file", MAX_TRACE_BYTES)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[TraceRow] = []
    try:
        fields = set(reader.fieldnames or ())
        if not {"time", "inter_arrival_mean"} <= fields:
            raise InputError(path, "header", "needs columns time,inter_arrival_mean", 1)
        for row in reader:
            if len(rows) >= MAX_TRACE_ROWS:
                raise InputError(path, "", f"more than {MAX_TRACE_ROWS:,} rows", reader.line_num)
            rows.append(_trace_row(path, len(rows) + 1, reader.line_num, row))
    except csv.Error as exc:
        raise InputError(path, "", f"not a valid CSV file: {exc}", reader.line_num) from None
    return tuple(rows)


def _trace_row(path: Path, index: int, line: int, row: dict[str | None, str | None]) -> TraceRow:
    where = f"row {index}"

    def number(column: str, low: float, high: float, strict: bool = False) -> float | None:
        text = (row.get(column) or "").strip()
        if column == "inter_arrival_mean" and text == "None":
            return None
        if not text and column == "cap":
            return None
        try:
            value = float(text)
        except ValueError:
            raise InputError(path, where, f"{column} is not a number", line) from None
        if not (low < value if strict else low <= value) or not value <= high:
            bound = f"greater than {low:g}" if strict else f"at least {low:g}"
            raise InputError(
                path, where, f"{column} must be {bound} and at most {high:g}, got {text[:30]}", line
            )
        return value

    time = number("time", 0.0, MAX_TIME_MS)
    assert time is not None
    mean = number("inter_arrival_mean", 0.0, MAX_TIME_MS, strict=True)
    cap = number("cap", 0.0, 1e100)
    node = (row.get("node") or "").strip() or None
    return TraceRow(time, node, mean, cap, line)

"""Traffic: coord-sim's simulator configuration (arrival process, flow sizes and rates,
control-step length, TTLs, the two-state MMPP) and trace files."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator

from agent.model.errors import InputError
from agent.model.yamlfile import YamlDocument, load_yaml, require_mapping

_DEFAULT_CLASSES = {
    "flow_generator_class": "DefaultFlowGenerator",
    "flow_forwarder_class": "DefaultFlowForwarder",
    "flow_processor_class": "DefaultFlowProcessor",
    "decision_maker_class": "DefaultDecisionMaker",
    "controller_class": "DurationController",
}


class MmppState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inter_arr_mean: PositiveFloat
    switch_p: float = Field(ge=0.0, le=1.0)


class TrafficConfig(BaseModel):
    """coord-sim's simulator YAML. Keys coord-sim knows but that only steer its own
    output files are accepted and ignored; any other key is an error."""

    model_config = ConfigDict(extra="forbid")

    inter_arrival_mean: PositiveFloat = 10.0
    deterministic_arrival: bool | None = None
    deterministic_size: bool | None = None
    deterministic: bool | None = None
    flow_dr_mean: float = Field(default=1.0, ge=0.0)
    flow_dr_stdev: float = Field(default=0.0, ge=0.0)
    flow_size_shape: PositiveFloat = 0.001
    run_duration: PositiveFloat = 100.0
    ttl_choices: list[PositiveFloat] = Field(min_length=1)
    trace_path: str | None = None
    use_states: bool = False
    init_state: str | None = None
    rand_init_state: bool = False
    states: dict[str, MmppState] | None = None
    vnf_timeout: float = Field(default=100.0, ge=0.0)
    # Accepted for compatibility; they only control coord-sim's own writers/predictor.
    write_schedule: bool = False
    write_flow_actions: bool = False
    future_traffic: bool = False
    flow_generator_class: Literal["DefaultFlowGenerator"] | None = None
    flow_forwarder_class: Literal["DefaultFlowForwarder"] | None = None
    flow_processor_class: Literal["DefaultFlowProcessor"] | None = None
    decision_maker_class: Literal["DefaultDecisionMaker"] | None = None
    controller_class: Literal["DurationController"] | None = None

    @field_validator("inter_arrival_mean", "flow_size_shape", "run_duration")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
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
    (``None`` stops its arrivals); ``cap`` optionally changes the node's capacity."""

    time: float
    node: str | None
    inter_arrival_mean: float | None
    cap: float | None = None


@dataclass(frozen=True)
class Traffic:
    config: TrafficConfig
    trace: tuple[TraceRow, ...] = ()
    source: str | None = None
    trace_source: str | None = None


def load_traffic(path: str | Path) -> Traffic:
    doc = load_yaml(path, "simulator config")
    config = parse_traffic(doc)
    trace: tuple[TraceRow, ...] = ()
    trace_file = None
    if config.trace_path:
        trace_file = _resolve_trace(doc, config.trace_path)
        trace = load_trace(trace_file)
    return Traffic(config, trace, str(doc.path), str(trace_file) if trace_file else None)


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
        if candidate.is_file():
            return candidate
    raise doc.error(["trace_path"], f"trace file {trace_path!r} not found")


def load_trace(path: Path) -> tuple[TraceRow, ...]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields = set(reader.fieldnames or ())
            if not {"time", "inter_arrival_mean"} <= fields:
                raise InputError(path, "header", "needs columns time,inter_arrival_mean", 1)
            return tuple(_trace_row(path, line, row) for line, row in enumerate(reader, start=2))
    except OSError as exc:
        raise InputError(path, "", f"cannot read trace: {exc}") from None


def _trace_row(path: Path, line: int, row: dict[str, str]) -> TraceRow:
    try:
        time = float(row["time"])
        mean_text = (row.get("inter_arrival_mean") or "").strip()
        mean = None if mean_text == "None" else float(mean_text)
        cap_text = (row.get("cap") or "").strip()
        cap = float(cap_text) if cap_text else None
    except ValueError as exc:
        raise InputError(path, f"row {line - 1}", f"not a number: {exc}", line) from None
    if mean is not None and mean <= 0:
        raise InputError(path, f"row {line - 1}", "inter_arrival_mean must be positive", line)
    node = (row.get("node") or "").strip() or None
    return TraceRow(time, node, mean, cap)

"""Services: chains of service functions (coord-sim's service YAML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from agent.model.expr import IDENTITY, ExpressionError, ResourceFunction, parse_resource_function
from agent.model.limits import MAX_CHAIN_LENGTH, MAX_TIME_MS
from agent.model.yamlfile import YamlDocument, load_yaml, require_mapping


class SfSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    processing_delay_mean: float = Field(default=1.0, ge=0.0, le=MAX_TIME_MS)
    processing_delay_stdev: float = Field(default=1.0, ge=0.0, le=MAX_TIME_MS)
    startup_delay: float = Field(default=0.0, ge=0.0, le=MAX_TIME_MS)
    # coord-sim names a Python module here; we never load code, see resource_function.
    resource_function_id: str | None = None
    resource_function: str | float | None = None


class ServiceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sfc_list: dict[str, Annotated[list[str], Field(max_length=MAX_CHAIN_LENGTH)]] = Field(
        min_length=1
    )
    sf_list: dict[str, SfSpec | None] = Field(min_length=1)
    resource_functions: dict[str, str | float] = Field(default_factory=dict)


@dataclass(frozen=True)
class ServiceFunction:
    name: str
    processing_delay_mean: float
    processing_delay_stdev: float
    startup_delay: float
    resource: ResourceFunction = IDENTITY


@dataclass(frozen=True)
class Services:
    """Chains (ordered SF names) and the service functions they use."""

    chains: dict[str, tuple[str, ...]]
    functions: dict[str, ServiceFunction]
    source: str | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def sf_names(self) -> list[str]:
        return list(self.functions)


def load_services(path: str | Path, resource_functions: dict[str, str] | None = None) -> Services:
    """Load a service YAML. ``resource_functions`` maps coord-sim ``resource_function_id``
    names to safe expressions (coord-sim would import a Python module of that name)."""
    doc = load_yaml(path, "service file")
    return parse_services(doc, resource_functions or {})


def parse_services(doc: YamlDocument, resource_functions: dict[str, str]) -> Services:
    spec = doc.validate(ServiceFile, require_mapping(doc, "a service file"))
    known = dict(spec.resource_functions) | resource_functions
    functions: dict[str, ServiceFunction] = {}
    warnings: list[str] = []
    for name, sf in spec.sf_list.items():
        sf = sf or SfSpec()
        resource, warning = _resource(doc, name, sf, known)
        if warning:
            warnings.append(warning)
        functions[name] = ServiceFunction(
            name, sf.processing_delay_mean, sf.processing_delay_stdev, sf.startup_delay, resource
        )
    chains: dict[str, tuple[str, ...]] = {}
    for chain, sfs in spec.sfc_list.items():
        if not sfs:
            raise doc.error(["sfc_list", chain], "a chain needs at least one service function")
        for i, sf_name in enumerate(sfs):
            if sf_name not in functions:
                raise doc.error(
                    ["sfc_list", chain, i],
                    f"unknown service function {sf_name!r} (sf_list has {sorted(functions)})",
                )
        chains[chain] = tuple(sfs)
    return Services(chains, functions, str(doc.path), tuple(warnings))


def _resource(
    doc: YamlDocument, name: str, sf: SfSpec, known: dict[str, Any]
) -> tuple[ResourceFunction, str | None]:
    text: Any = sf.resource_function
    key: list[str | int] = ["sf_list", name, "resource_function"]
    warning = None
    if text is None and sf.resource_function_id is not None:
        text = known.get(sf.resource_function_id)
        key = ["sf_list", name, "resource_function_id"]
        if text is None:
            warning = (
                f"{doc.path}: sf_list.{name}.resource_function_id {sf.resource_function_id!r} "
                "has no expression (add resource_functions: {id: expression}); using f(load) = load"
                " as coord-sim does when the module is missing"
            )
    if text is None:
        return IDENTITY, warning
    try:
        return parse_resource_function(text), warning
    except ExpressionError as exc:
        raise doc.error(key, f"invalid resource function: {exc}") from None

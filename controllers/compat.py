"""os-ken imports in one place, with Ryu's names as a fallback.

os-ken (Ryu's maintained fork) is what we test on; Ryu 4.34 keeps the same module
layout under ``ryu.*``, so an installation that only has Ryu still loads the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

try:
    from os_ken import cfg as _cfg
    from os_ken.base import app_manager
    from os_ken.controller import ofp_event
    from os_ken.controller.handler import (
        CONFIG_DISPATCHER,
        DEAD_DISPATCHER,
        MAIN_DISPATCHER,
    )
    from os_ken.controller.handler import (
        set_ev_cls as _set_ev_cls,
    )
    from os_ken.lib import hub
    from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser

    FRAMEWORK = "os-ken"
except ImportError:  # pragma: no cover - legacy installations only
    from ryu import cfg as _cfg
    from ryu.base import app_manager
    from ryu.controller import ofp_event
    from ryu.controller.handler import (
        CONFIG_DISPATCHER,
        DEAD_DISPATCHER,
        MAIN_DISPATCHER,
    )
    from ryu.controller.handler import (
        set_ev_cls as _set_ev_cls,
    )
    from ryu.lib import hub
    from ryu.ofproto import ofproto_v1_3, ofproto_v1_3_parser

    FRAMEWORK = "ryu"

CONF: Any = _cfg.CONF
cfg: Any = _cfg
OFP: Any = ofproto_v1_3
PARSER: Any = ofproto_v1_3_parser
# the application base class: OSKenApp in os-ken, RyuApp in Ryu
BaseApp: Any = getattr(app_manager, "OSKenApp", None) or app_manager.RyuApp

F = TypeVar("F", bound=Callable[..., Any])


def set_ev_cls(ev_cls: Any, dispatchers: Any = None) -> Callable[[F], F]:
    """os-ken's handler decorator, typed (it returns the function it marks)."""
    return cast(Callable[[F], F], _set_ev_cls(ev_cls, dispatchers))


def framework_version() -> str:
    """'os-ken 4.2.2' (or 'ryu 4.34'), for the hello answer."""
    from importlib import metadata

    try:
        return f"{FRAMEWORK} {metadata.version(FRAMEWORK)}"
    except metadata.PackageNotFoundError:
        return FRAMEWORK


__all__ = [
    "CONF",
    "CONFIG_DISPATCHER",
    "DEAD_DISPATCHER",
    "MAIN_DISPATCHER",
    "OFP",
    "PARSER",
    "BaseApp",
    "app_manager",
    "cfg",
    "hub",
    "ofp_event",
    "set_ev_cls",
]

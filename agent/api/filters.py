"""Query filters for the large answers: ``/rules?switch=&table=&cookie=&kind=&offset=
&limit=`` and ``/decisions/latest?node=&chain=&sf=``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RULE_FILTERS = ("switch", "table", "cookie", "kind", "offset", "limit")
DECISION_FILTERS = ("node", "chain", "sf")
MAX_LIMIT = 10_000
KINDS = ("flow", "group", "meter")


class FilterError(ValueError):
    """A query parameter the filter cannot use (the message names it)."""


def _integer(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw, 0)  # decimal, or 0x... for cookies and dpids
    except ValueError:
        raise FilterError(f"{name}: {raw!r} is not an integer") from None
    if value < 0:
        raise FilterError(f"{name}: must not be negative")
    return value


def check_known(query: Mapping[str, str], known: tuple[str, ...]) -> None:
    unknown = sorted(set(query) - set(known))
    if unknown:
        raise FilterError(f"unknown parameter {unknown[0]!r} (known: {', '.join(known)})")


def filter_rules(rules: list[dict[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """``{"rules", "total", "offset", "limit"}``: the matching rules, one page of them."""
    check_known(query, RULE_FILTERS)
    switch, table, cookie = (_integer(query, k) for k in ("switch", "table", "cookie"))
    kind = query.get("kind")
    if kind is not None and kind not in KINDS:
        raise FilterError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    offset = _integer(query, "offset") or 0
    limit = _integer(query, "limit")
    limit = MAX_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise FilterError(f"limit: from 1 to {MAX_LIMIT}")
    matching = [
        rule
        for rule in rules
        if (switch is None or rule["dpid"] == switch)
        and (kind is None or rule["kind"] == kind)
        and (table is None or rule.get("table") == table)
        and (cookie is None or rule.get("cookie") == cookie)
    ]
    page = matching[offset : offset + limit]
    return {"rules": page, "total": len(matching), "offset": offset, "limit": limit}


def filter_decision(decision: dict[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    """The decision with its schedule (and placement, by node) narrowed to the query."""
    check_known(query, DECISION_FILTERS)
    node, chain, sf = (query.get(k) for k in DECISION_FILTERS)
    schedule = {
        n: {
            c: {f: weights for f, weights in per_sf.items() if sf is None or f == sf}
            for c, per_sf in per_chain.items()
            if chain is None or c == chain
        }
        for n, per_chain in decision["schedule"].items()
        if node is None or n == node
    }
    placement = {n: sfs for n, sfs in decision["placement"].items() if node is None or n == node}
    return {**decision, "schedule": schedule, "placement": placement}

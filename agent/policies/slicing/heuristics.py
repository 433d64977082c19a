"""The allocation baselines: static, proportional and dynamic (QoS floors first).

Each maps the demand of one step (per user, slice order) to a per-user allocation that
fits the capacity. In the paper's setting every user demands the whole capacity, so
proportional means proportional to the number of users.
"""

from __future__ import annotations

import numpy as np

from agent.model.slicing import Array
from agent.model.slicing_utility import Layout


def static(layout: Layout, demand: Array) -> Array:
    """Equal shares: capacity / slices for each slice, equal among its users."""
    sizes = np.diff(layout.starts)
    share = layout.problem.capacity / layout.n_slices / sizes
    result: Array = share[layout.slice_of].astype(np.float64)
    return result


def proportional(layout: Layout, demand: Array) -> Array:
    """Shares proportional to demand (slice totals, then users within a slice)."""
    total = float(demand.sum())
    if total <= 0:
        return static(layout, demand)
    result: Array = demand * (layout.problem.capacity / total)
    return result


def dynamic(layout: Layout, demand: Array) -> Array:
    """QoS floors first, then the rest in proportion to the demand still unserved; capacity
    left once every demand is served is spread evenly as headroom."""
    capacity = layout.problem.capacity
    floors = layout.floors(demand)
    if floors.sum() >= capacity:
        result: Array = floors * (capacity / floors.sum())
        return result
    rest = capacity - floors.sum()
    unserved = np.clip(demand - floors, 0.0, None)
    if unserved.sum() <= rest:
        sated: Array = floors + unserved + (rest - unserved.sum()) / floors.size
        return sated
    shared: Array = floors + unserved * (rest / unserved.sum())
    return shared

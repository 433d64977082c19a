"""Network slicing: utilities, ADMM (DeepSlicing), baselines and the learned slave."""

from agent.policies.slicing.methods import (
    METHODS,
    SliceAllocation,
    SlicingPolicy,
    make_method,
)

__all__ = ["METHODS", "SliceAllocation", "SlicingPolicy", "make_method"]

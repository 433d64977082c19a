"""A small sparse model builder and its solve with HiGHS (highspy).

Columns and rows are collected in plain lists and handed to HiGHS in one ``passModel``
(row-wise matrix), which is far faster than building expressions one by one in Python.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

INF = math.inf


class Status(StrEnum):
    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"  # stopped with a feasible solution and a gap
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no_solution"  # stopped before any feasible solution was found
    ERROR = "error"


@dataclass(frozen=True)
class SolverOptions:
    time_limit_s: float = 600.0
    mip_gap: float = 1e-4  # relative
    threads: int = 1
    seed: int = 0


@dataclass
class LpBuilder:
    cost: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)
    starts: list[int] = field(default_factory=lambda: [0])
    index: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    @property
    def n_cols(self) -> int:
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        return len(self.row_lower)

    def var(self, lb: float = 0.0, ub: float = INF, integer: bool = False) -> int:
        self.cost.append(0.0)
        self.lower.append(lb)
        self.upper.append(ub)
        self.integer.append(integer)
        return len(self.cost) - 1

    def binary(self) -> int:
        return self.var(0.0, 1.0, integer=True)

    def row(self, terms: Iterable[tuple[int, float]], lb: float = -INF, ub: float = INF) -> int:
        merged: dict[int, float] = {}
        for col, coef in terms:
            merged[col] = merged.get(col, 0.0) + coef
        for col, coef in merged.items():
            if coef != 0.0:
                self.index.append(col)
                self.value.append(coef)
        self.starts.append(len(self.index))
        self.row_lower.append(lb)
        self.row_upper.append(ub)
        return len(self.row_lower) - 1

    def set_costs(self, terms: Iterable[tuple[int, float]]) -> None:
        self.cost = [0.0] * self.n_cols
        for col, coef in terms:
            self.cost[col] += coef


@dataclass(frozen=True)
class LpResult:
    status: Status
    values: Sequence[float]
    objective: float
    bound: float
    gap: float
    runtime_s: float

    @property
    def has_solution(self) -> bool:
        return self.status in {Status.OPTIMAL, Status.TIME_LIMIT}


_BANNER_SHOWN = False


def new_highs() -> Any:
    """A silent HiGHS instance. The first one of a process prints a banner on the C
    stdout before any option can silence it: it is sent to stderr instead, so that
    stdout stays machine-readable."""
    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        highs = highspy.Highs()  # type: ignore[no-untyped-call]
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            highs = highspy.Highs()  # type: ignore[no-untyped-call]
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    highs.setOptionValue("output_flag", False)
    return highs


def solve_lp(
    builder: LpBuilder, options: SolverOptions, start: Sequence[float] | None = None
) -> LpResult:
    """Solve the model as a MIP (or LP without integer columns), minimising."""
    import highspy
    import numpy as np

    highs = new_highs()
    highs.setOptionValue("time_limit", max(float(options.time_limit_s), 0.01))
    highs.setOptionValue("mip_rel_gap", float(options.mip_gap))
    highs.setOptionValue("threads", int(options.threads))
    highs.setOptionValue("random_seed", int(options.seed))
    lp = highspy.HighsLp()
    lp.num_col_ = builder.n_cols
    lp.num_row_ = builder.n_rows
    lp.col_cost_ = np.asarray(builder.cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(builder.lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(builder.upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(builder.row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(builder.row_upper, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = builder.n_cols
    lp.a_matrix_.num_row_ = builder.n_rows
    lp.a_matrix_.start_ = np.asarray(builder.starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.asarray(builder.index, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(builder.value, dtype=np.float64)
    if any(builder.integer):
        kinds = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
            for i in builder.integer
        ]
        lp.integrality_ = kinds
    highs.passModel(lp)
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = [
            float(round(v)) if integer else v
            for v, integer in zip(start, builder.integer, strict=True)
        ]
        solution.value_valid = True
        highs.setSolution(solution)
    # a fresh task scheduler for every solve: without it, a process's first solve and
    # the later ones can return different (equally good) solutions. It is global to the
    # process: one solve at a time per process (worker processes, not threads).
    highs.resetGlobalScheduler(True)
    highs.run()
    return _result(highs, builder)


def _result(highs: Any, builder: LpBuilder) -> LpResult:
    import highspy

    model_status = highs.getModelStatus()
    info = highs.getInfo()
    runtime = float(highs.getRunTime())
    has_primal = info.primal_solution_status == 2  # kSolutionStatusFeasible
    values: Sequence[float] = list(highs.getSolution().col_value) if has_primal else []
    objective = float(info.objective_function_value) if has_primal else INF
    integral = any(builder.integer)
    bound = float(info.mip_dual_bound) if integral else objective
    gap = float(info.mip_gap) if integral and has_primal else (0.0 if has_primal else INF)
    codes = highspy.HighsModelStatus
    if model_status == codes.kOptimal:
        status = Status.OPTIMAL
    elif model_status in {codes.kInfeasible, codes.kUnboundedOrInfeasible}:
        status = Status.INFEASIBLE
    elif has_primal:
        status = Status.TIME_LIMIT
    elif model_status in {codes.kTimeLimit, codes.kIterationLimit, codes.kInterrupt}:
        status = Status.NO_SOLUTION
    else:
        status = Status.ERROR
    if status is Status.OPTIMAL:
        gap = max(0.0, gap) if integral else 0.0
    return LpResult(status, values, objective, bound, gap, runtime)

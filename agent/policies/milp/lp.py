"""A small sparse model builder and its solve with HiGHS (highspy).

Columns and rows are collected in plain lists (the linked flow/binary pairs, most of a
coordination MILP, in bulk), the matrix merged once with numpy and handed to HiGHS in one
``passModel`` (row-wise arrays), far faster than building expressions one by one.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

INF = math.inf
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]


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
    """Columns and rows as plain lists; the matrix is kept as the raw terms of each row
    and merged (repeated columns summed, zeros dropped) once, in ``matrix``."""

    cost: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)  # raw terms per row
    index: list[int] = field(default_factory=list)  # raw terms: column
    value: list[float] = field(default_factory=list)  # raw terms: coefficient

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

    def linked(self, bounds: Sequence[float]) -> tuple[range, range]:
        """Per bound a continuous column in [0, bound] and a binary after it, with the row
        ``continuous - bound * binary <= 0`` each: the continuous one only where the binary
        is set. Returns both ranges of columns."""
        first, n = len(self.cost), len(bounds)
        self.cost.extend([0.0] * (2 * n))
        self.lower.extend([0.0] * (2 * n))
        self.upper.extend(v for bound in bounds for v in (bound, 1.0))
        self.integer.extend([False, True] * n)
        for k, bound in enumerate(bounds):
            self.index.extend((first + 2 * k, first + 2 * k + 1))
            self.value.extend((1.0, -bound))
        self.lengths.extend([2] * n)
        self.row_lower.extend([-INF] * n)
        self.row_upper.extend([0.0] * n)
        return range(first, first + 2 * n, 2), range(first + 1, first + 2 * n, 2)

    def row(self, terms: Iterable[tuple[int, float]], lb: float = -INF, ub: float = INF) -> int:
        pairs = list(terms)
        if pairs:
            cols, coefs = zip(*pairs, strict=True)
            self.index.extend(cols)
            self.value.extend(coefs)
        self.lengths.append(len(pairs))
        self.row_lower.append(lb)
        self.row_upper.append(ub)
        return len(self.row_lower) - 1

    def matrix(self) -> tuple[FloatArray, IntArray, IntArray]:
        """Row-wise (values, column indices, row starts): per row each column once, in
        the order of its first term, its coefficients summed in order; zeros left out."""
        rows = np.repeat(np.arange(self.n_rows, dtype=np.int64), self.lengths)
        cols = np.asarray(self.index, dtype=np.int64)
        values = np.asarray(self.value, dtype=np.float64)
        order = np.lexsort((cols, rows))  # stable: repeated terms stay in order
        first = np.ones(len(order), dtype=bool)
        first[1:] = (rows[order][1:] != rows[order][:-1]) | (cols[order][1:] != cols[order][:-1])
        summed = np.bincount(np.cumsum(first) - 1, weights=values[order])
        keep = np.argsort(order[first], kind="stable")  # back to the order of first terms
        summed, at = summed[keep], order[first][keep]
        nonzero = summed != 0.0
        counts = np.bincount(rows[at][nonzero], minlength=self.n_rows)
        starts = np.concatenate(([0], np.cumsum(counts)))
        return summed[nonzero], cols[at][nonzero].astype(np.int32), starts.astype(np.int32)

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
    values, columns, starts = builder.matrix()
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = columns
    lp.a_matrix_.value_ = values
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

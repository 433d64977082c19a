"""The rate functions of the hierarchical-coordination inputs, read as linear functions.

Its ``vnf_descriptions.yaml`` writes each VNF's CPU demand and outgoing data rate as a
Python lambda string (``'lambda in_rate: 0.5 * in_rate'``) that the original code hands
to ``eval``. Here the text is parsed with :mod:`ast` and reduced to ``slope * x +
intercept``; nothing is evaluated. Accepted: numbers, the lambda's one parameter, ``+``,
``-``, ``*`` and ``/`` where the result stays linear (a product needs one constant factor,
a divisor must be a non-zero constant), unary signs and parentheses. Calls, attributes,
powers, comparisons and every other construct are errors naming the construct.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

from agent.model.expr import MAX_DEPTH, MAX_LENGTH, ExpressionError


@dataclass(frozen=True)
class Linear:
    """``f(x) = slope * x + intercept`` and the text it was read from."""

    slope: float
    intercept: float
    text: str = ""

    def __call__(self, x: float) -> float:
        return self.slope * x + self.intercept

    @property
    def is_proportional(self) -> bool:
        return self.intercept == 0.0


def parse_linear(text: str | int | float, variable: str = "in_rate") -> Linear:
    """A lambda string, a bare expression in ``variable`` or a number; raises
    ExpressionError for anything that is not a linear function of one variable."""
    if isinstance(text, bool):
        raise ExpressionError("expected a lambda or a number, got a boolean")
    if isinstance(text, int | float):
        return Linear(0.0, _finite(float(text)), str(text))
    source = text.strip()
    if not source:
        raise ExpressionError("empty expression")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"not an arithmetic expression: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels") from None
    if isinstance(tree, ast.Lambda):
        args = tree.args
        plain = not (args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs)
        if len(args.args) != 1 or not plain or args.defaults:
            raise ExpressionError("a lambda must take exactly one argument (the input rate)")
        variable, tree = args.args[0].arg, tree.body
    slope, intercept = _linear(tree, variable, 0)
    return Linear(_finite(slope), _finite(intercept), source)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ExpressionError(f"gives {value}: coefficients must be finite")
    return value


def _linear(node: ast.expr, variable: str, depth: int) -> tuple[float, float]:
    """(slope, intercept) of the expression tree."""
    if depth > MAX_DEPTH:
        raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels")
    depth += 1
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExpressionError(f"constant {type(value).__name__} is not allowed")
        try:
            return 0.0, float(value)
        except OverflowError:
            raise ExpressionError("a number is too large") from None
    if isinstance(node, ast.Name):
        if node.id != variable:
            raise ExpressionError(f"unknown name {node.id!r} (the variable is {variable!r})")
        return 1.0, 0.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        slope, intercept = _linear(node.operand, variable, depth)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return sign * slope, sign * intercept
    if isinstance(node, ast.BinOp):
        return _binary(node, variable, depth)
    raise ExpressionError(f"{type(node).__name__} is not allowed in a linear rate function")


def _binary(node: ast.BinOp, variable: str, depth: int) -> tuple[float, float]:
    a1, b1 = _linear(node.left, variable, depth)
    a2, b2 = _linear(node.right, variable, depth)
    op = node.op
    if isinstance(op, ast.Add):
        return a1 + a2, b1 + b2
    if isinstance(op, ast.Sub):
        return a1 - a2, b1 - b2
    if isinstance(op, ast.Mult):
        if a1 != 0.0 and a2 != 0.0:
            raise ExpressionError("a product of two terms in the rate is not linear")
        return a1 * b2 + a2 * b1, b1 * b2
    if isinstance(op, ast.Div):
        if a2 != 0.0:
            raise ExpressionError("dividing by the rate is not linear")
        if b2 == 0.0:
            raise ExpressionError("division by zero")
        return a1 / b2, b1 / b2
    raise ExpressionError(f"operator {type(op).__name__} is not allowed in a linear rate function")

"""Resource functions as safe arithmetic expressions, parsed without executing anything.

Accepted: numbers, one variable (``load`` by default, or the parameter of a
``lambda x: ...`` form as used by the hierarchical-coordination inputs), ``+ - * / ** %``,
unary minus, parentheses and the functions ``min max abs sqrt log exp ceil floor``.
The text is parsed with :mod:`ast` and turned into a tree of closures; it is never
handed to ``eval``/``exec``.

A resource function must give a finite, non-negative amount of resources for every
load. Parsing checks that at the loads ``SAMPLE_LOADS`` (0 to 100). Where a load
outside those still gives no such number in a run (``10 / (load - 200)`` at 200), the
function reports infinite use: the node counts as full and the flow is dropped
(NODE_CAP), instead of the simulator failing.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

Fn = Callable[[float], float]

MAX_LENGTH = 1000  # characters of an expression
MAX_DEPTH = 50  # nesting of operations in an expression
SAMPLE_LOADS = (0.0, 0.001, 0.1, *(i / 4 for i in range(1, 401)))

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: math.pow,  # real results only: (-1) ** 0.5 is an error, not a complex number
    ast.Mod: operator.mod,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "ceil": math.ceil,
    "floor": math.floor,
}
_FAILURES = (ArithmeticError, ValueError, TypeError)


class ExpressionError(ValueError):
    """The text is not an allowed resource expression."""


@dataclass(frozen=True)
class ResourceFunction:
    """A parsed resource function ``f(load) -> resource use`` (never negative, never
    NaN; infinite where the expression cannot be evaluated)."""

    text: str
    fn: Fn

    def __call__(self, load: float) -> float:
        return self.fn(load)

    @property
    def is_identity(self) -> bool:
        return self.text.strip() in {"load", "x"}


IDENTITY = ResourceFunction("load", lambda load: load)


def parse_resource_function(text: str | float | int, variable: str = "load") -> ResourceFunction:
    """Parse ``text`` (or a constant) into a callable; raises ExpressionError."""
    if isinstance(text, bool):
        raise ExpressionError("expected an expression or a number, got a boolean")
    if isinstance(text, int | float):
        value = float(text)
        _check_samples(lambda _load: value)
        return ResourceFunction(str(text), lambda _load: value)
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
        if len(args.args) != 1 or args.vararg or args.kwarg or args.kwonlyargs:
            raise ExpressionError("a lambda must take exactly one argument (the load)")
        variable, tree = args.args[0].arg, tree.body
    fn = _compile(tree, variable, 0)
    _check_samples(fn)
    return ResourceFunction(source, _guarded(fn))


def _check_samples(fn: Fn) -> None:
    for load in SAMPLE_LOADS:
        try:
            value = fn(load)
        except _FAILURES as exc:
            raise ExpressionError(f"cannot evaluate at load {load:g}: {exc}") from None
        if not math.isfinite(value):
            raise ExpressionError(f"gives {value} at load {load:g}: must be finite")
        if value < 0:
            raise ExpressionError(
                f"gives {value:g} at load {load:g}: resource use cannot be negative"
            )


def _guarded(fn: Fn) -> Fn:
    def guarded(load: float) -> float:
        try:
            value = fn(load)
        except _FAILURES:
            return math.inf
        return value if value >= 0.0 else math.inf  # NaN compares false: infinite too

    return guarded


def _compile(node: ast.expr, variable: str, depth: int) -> Fn:
    if depth > MAX_DEPTH:
        raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels")
    depth += 1
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ExpressionError("booleans are not allowed")
        try:
            value = float(node.value)
        except OverflowError:
            raise ExpressionError("a number is too large") from None
        return lambda _x: value
    if isinstance(node, ast.Name):
        if node.id != variable:
            raise ExpressionError(f"unknown name {node.id!r} (the variable is {variable!r})")
        return lambda x: x
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op = _BINARY[type(node.op)]
        left, right = _compile(node.left, variable, depth), _compile(node.right, variable, depth)
        return lambda x: op(left(x), right(x))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _compile(node.operand, variable, depth)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return lambda x: sign * inner(x)
    if isinstance(node, ast.Call):
        return _compile_call(node, variable, depth)
    raise ExpressionError(f"{type(node).__name__} is not allowed in a resource expression")


def _compile_call(node: ast.Call, variable: str, depth: int) -> Fn:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
        raise ExpressionError(f"only the functions {', '.join(sorted(_FUNCTIONS))} are allowed")
    func = _FUNCTIONS[node.func.id]
    args = [_compile(arg, variable, depth) for arg in node.args]
    if not args:
        raise ExpressionError(f"{node.func.id}() needs an argument")
    return lambda x: float(func(*(arg(x) for arg in args)))

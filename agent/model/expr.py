"""Resource functions as safe arithmetic expressions, parsed without executing anything.

Accepted: numbers, one variable (``load`` by default, or the parameter of a
``lambda x: ...`` form as used by the hierarchical-coordination inputs), ``+ - * / ** %``,
unary minus, parentheses and the functions ``min max abs sqrt log exp ceil floor``.
The text is parsed with :mod:`ast` and turned into a tree of closures; it is never
handed to ``eval``/``exec``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

Fn = Callable[[float], float]

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
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


class ExpressionError(ValueError):
    """The text is not an allowed resource expression."""


@dataclass(frozen=True)
class ResourceFunction:
    """A parsed resource function ``f(load) -> resource use``."""

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
        return ResourceFunction(str(text), lambda _load: value)
    source = text.strip()
    if not source:
        raise ExpressionError("empty expression")
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"not an arithmetic expression: {exc.msg}") from None
    if isinstance(tree, ast.Lambda):
        args = tree.args
        if len(args.args) != 1 or args.vararg or args.kwarg or args.kwonlyargs:
            raise ExpressionError("a lambda must take exactly one argument (the load)")
        variable, tree = args.args[0].arg, tree.body
    fn = _compile(tree, variable)
    try:
        fn(1.0)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ExpressionError(f"cannot evaluate at load 1: {exc}") from None
    return ResourceFunction(source, fn)


def _compile(node: ast.expr, variable: str) -> Fn:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ExpressionError("booleans are not allowed")
        value = float(node.value)
        return lambda _x: value
    if isinstance(node, ast.Name):
        if node.id != variable:
            raise ExpressionError(f"unknown name {node.id!r} (the variable is {variable!r})")
        return lambda x: x
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op = _BINARY[type(node.op)]
        left, right = _compile(node.left, variable), _compile(node.right, variable)
        return lambda x: op(left(x), right(x))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _compile(node.operand, variable)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return lambda x: sign * inner(x)
    if isinstance(node, ast.Call):
        return _compile_call(node, variable)
    raise ExpressionError(f"{type(node).__name__} is not allowed in a resource expression")


def _compile_call(node: ast.Call, variable: str) -> Fn:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
        raise ExpressionError(f"only the functions {', '.join(sorted(_FUNCTIONS))} are allowed")
    func = _FUNCTIONS[node.func.id]
    args = [_compile(arg, variable) for arg in node.args]
    if not args:
        raise ExpressionError(f"{node.func.id}() needs an argument")
    return lambda x: float(func(*(arg(x) for arg in args)))

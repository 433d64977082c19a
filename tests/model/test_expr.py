from __future__ import annotations

import pytest

from agent.model.expr import ExpressionError, parse_resource_function


@pytest.mark.parametrize(
    ("text", "load", "expected"),
    [
        ("load", 3.0, 3.0),
        ("2 * load + 1", 3.0, 7.0),
        ("load ** 2 / 4", 4.0, 4.0),
        ("max(load, 1.5)", 1.0, 1.5),
        ("sqrt(load)", 9.0, 3.0),
        ("lambda in_rate: 0.5 * in_rate", 4.0, 2.0),
        ("abs(-load + 10)", 4.0, 6.0),
        ("max(10 - load, 0) + 1", 12.0, 1.0),
        (2, 100.0, 2.0),
    ],
)
def test_allowed_expressions(text: str | int, load: float, expected: float) -> None:
    assert parse_resource_function(text)(load) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "only the functions"),
        ("load.real", "Attribute is not allowed"),
        ("open('x')", "only the functions"),
        ("[load]", "List is not allowed"),
        ("x * 2", "unknown name 'x'"),
        ("lambda a, b: a", "exactly one argument"),
        ("load +", "not an arithmetic expression"),
        ("1 / (load - 1) ** 2", "cannot evaluate at load 1:"),
        ("-load + 10", "cannot be negative"),
        ("(-load) ** 0.5", "cannot evaluate at load 0.001"),
        ("log(load)", "cannot evaluate at load 0"),
        ("exp(load) ** 100", "cannot evaluate"),
        (-2, "cannot be negative"),
        ("abs(" * 60 + "load" + ")" * 60, "nested"),
        ("+".join(["load"] * 400), "longer than"),
        ("", "empty"),
        ("True", "booleans"),
    ],
)
def test_rejected_expressions(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse_resource_function(text)

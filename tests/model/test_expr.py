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
        ("-load + 10", 4.0, 6.0),
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
        ("1 / (load - 1)", "cannot evaluate"),
        ("", "empty"),
        ("True", "booleans"),
    ],
)
def test_rejected_expressions(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse_resource_function(text)

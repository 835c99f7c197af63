"""gradcheck: passes correct derivatives to any order, fails planted wrong rules and engine bugs, and
rejects bad input with a clear error."""

from __future__ import annotations

import math
import re

import pytest

import autograd
from autograd import OPS, GradcheckError, Value, gradcheck
from autograd.testing import VALUE_OPS, planted_rule


def test_gradcheck_error_is_an_assertion_error_exported_from_autograd() -> None:
    assert issubclass(GradcheckError, AssertionError)
    assert autograd.GradcheckError is GradcheckError and autograd.gradcheck is gradcheck
    assert "gradcheck" in autograd.__all__ and "GradcheckError" in autograd.__all__


@pytest.mark.parametrize(
    "f, point",
    [
        (lambda x: x * x * x, (1.5,)),
        (lambda x, y: x.sin() * y, (0.5, 2.0)),
        (lambda x, y: (x * y).tanh() + x.log(), (0.5, -2.0)),
        (lambda x, y, z: (x / y).exp() - z.sigmoid() * x ** 3, (0.3, 1.7, -0.4)),
        (lambda x: 2**x + x**x, (0.8,)),
    ],
)
@pytest.mark.parametrize("order", [1, 2, 3])
def test_correct_functions_pass_to_third_order(f, point, order) -> None:
    assert gradcheck(f, *point, order=order) is True


def apply_op(name: str, x: Value, y: Value) -> Value:
    """Op ``name`` on x (and y when it is binary), with a fixed argument where the op takes one."""
    apply = VALUE_OPS[name]
    if OPS[name].arity == 2:
        return apply(x, y)
    if OPS[name].arity is None:  # linear: w = (x, y), inputs (y, 0.5), bias x
        return apply(x, y, y, 0.5, x)
    if name == "pow":
        return apply(x, 2.5)
    if name == "rpow":
        return apply(x, 2.0)
    if name == "leaky_relu":
        return apply(x, 0.1)
    return apply(x)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("x", [0.7, -0.6])
def test_every_op_passes_to_third_order(name: str, x: float) -> None:
    # Each op on its own, inside its domain and away from kinks; binary ops in both arguments and with a
    # constant on each side.
    if name in ("log", "sqrt", "pow", "vpow"):
        x = abs(x)
    assert gradcheck(lambda x, y: apply_op(name, x, y), x, 1.3, order=3)
    if OPS[name].arity == 2:
        left = 1.1 if name == "vpow" else -1.1  # a negative base needs an integer exponent
        assert gradcheck(lambda x: VALUE_OPS[name](x, 1.3) + VALUE_OPS[name](left, x), x, order=3)


@pytest.mark.parametrize("c", [0.5, 2.0, 3.0, -1.0, -1.5])
def test_pow_passes_to_third_order_for_several_exponents(c: float) -> None:
    assert gradcheck(lambda x: x**c, 0.7, order=3)


def test_a_constant_function_and_an_unused_argument_pass() -> None:
    assert gradcheck(lambda x: 3.0, 1.0, order=2)
    assert gradcheck(lambda x, y: x * 2, 1.0, 5.0, order=2)
    assert gradcheck(lambda x: Value(4.0), 1.0)


def test_a_kink_fails_honestly() -> None:
    # At 0, relu's derivative is 0 by convention while central differences see 1/2: gradcheck does not
    # paper over points where f is not differentiable.
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: x.relu(), 0.0)
    assert gradcheck(lambda x: x.relu(), 0.1)


def sin_times(x: Value, y: Value) -> Value:
    return x.sin() * y


def test_a_planted_wrong_first_order_rule_fails_with_a_message_naming_everything() -> None:
    assert gradcheck(sin_times, 0.5, 2.0)
    with planted_rule("sin", lambda out, x: (out,)):  # wrong: d sin = sin
        with pytest.raises(GradcheckError) as caught:
            gradcheck(sin_times, 0.5, 2.0)
    message = str(caught.value)
    analytic = 2.0 * math.sin(0.5)
    numeric = 2.0 * math.cos(0.5)
    assert "sin_times" in message  # the function
    assert "(0.5, 2.0)" in message  # the point
    assert "∂f/∂x0 (argument 0)" in message  # the argument index
    assert "∂f/∂x1" not in message  # d/dy = sin x is still right
    assert f"analytic {analytic!r}" in message
    shown = re.search(r"numeric (\S+),", message)
    assert shown and math.isclose(float(shown.group(1)), numeric, rel_tol=1e-8)  # finite difference
    assert "tolerance" in message and "order 1" in message
    assert gradcheck(sin_times, 0.5, 2.0)  # the rule is restored after the block


def test_a_rule_written_with_math_passes_order_one_and_fails_order_two() -> None:
    # math.cos turns a Value into a float, so the rule's own dependence on x is lost: first derivatives
    # are right, second derivatives miss -sin(x).
    with planted_rule("sin", lambda out, x: (math.cos(x),)):
        assert gradcheck(sin_times, 0.5, 2.0, order=1)
        with pytest.raises(GradcheckError) as caught:
            gradcheck(sin_times, 0.5, 2.0, order=2)
    message = str(caught.value)
    assert "order 2" in message
    assert "∂²f/∂x0∂x0 (arguments 0, 0)" in message
    assert "∂²f/∂x0∂x1" not in message  # d²/dxdy = cos x is still right


@pytest.mark.parametrize("name", sorted(OPS))
def test_a_planted_wrong_rule_for_every_op_fails(name: str) -> None:
    # Every rule scaled by 1.5: each op is checked where its derivative is not 0.
    f = lambda x, y: apply_op(name, x, y)
    rule = OPS[name].derivatives
    with planted_rule(name, lambda *a: tuple(1.5 * d for d in rule(*a))) as old:
        assert old.derivatives is rule and OPS[name].derivatives is not rule
        with pytest.raises(GradcheckError):
            gradcheck(f, 0.7, 1.3)
    assert gradcheck(f, 0.7, 1.3)


@pytest.mark.parametrize(
    "f, args, kwargs, error, match",
    [
        (42, (1.0,), {}, TypeError, "needs a callable"),
        (lambda x: "x", (1.0,), {}, TypeError, "must return a Value or a number, got str"),
        (lambda x: [x], (1.0,), {}, TypeError, "must return a Value or a number, got list"),
        (lambda x: x, (math.nan,), {}, ValueError, "argument 0 is nan"),
        (lambda x, y: x, (1.0, math.inf), {}, ValueError, "argument 1 is inf"),
        (lambda x: x, ("1.0",), {}, TypeError, "argument 0 must be an int or float"),
        (lambda x: x, (True,), {}, TypeError, "argument 0 must be an int or float"),
        (lambda x: x, (Value(1.0),), {}, TypeError, "argument 0 must be an int or float"),
        (lambda: Value(1.0), (), {}, ValueError, "pass the point"),
        (lambda x: x, (1.0,), {"eps": 0.0}, ValueError, "eps must be > 0"),
        (lambda x: x, (1.0,), {"eps": -1e-6}, ValueError, "eps must be > 0"),
        (lambda x: x, (1.0,), {"eps": math.nan}, ValueError, "eps must be finite"),
        (lambda x: x, (1.0,), {"atol": "1e-5"}, TypeError, "atol must be a number"),
        (lambda x: x, (1.0,), {"order": 0}, ValueError, "order must be an int >= 1"),
        (lambda x: x, (1.0,), {"order": 1.0}, ValueError, "order must be an int >= 1"),
        (lambda x: x, (1.0,), {"atol": -1.0}, ValueError, "atol and rtol must be >= 0"),
    ],
)
def test_bad_input_raises_a_clear_error(f, args, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        gradcheck(f, *args, **kwargs)


def test_integer_arguments_are_accepted() -> None:
    assert gradcheck(lambda x, y: x * y, 2, 3)

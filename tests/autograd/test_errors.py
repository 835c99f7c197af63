"""Bad input and numeric faults: the matching Python exception, a message naming the op and the
operands, and the graph built so far left intact."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from autograd import Value, grad, gradients, hessian, toposort, value_and_grad


@pytest.mark.parametrize(
    "data, type_name",
    [(True, "bool"), (False, "bool"), (None, "NoneType"), ("1", "str"), (1j, "complex"), ([], "list"),
     (Decimal("1"), "Decimal"), ((1.0,), "tuple")],
)
def test_value_rejects_non_real_data_naming_the_type(data: Any, type_name: str) -> None:
    with pytest.raises(TypeError, match=type_name):
        Value(data)


def test_value_of_a_value_is_rejected() -> None:
    with pytest.raises(TypeError, match="Value"):
        Value(Value(1.0))  # type: ignore[arg-type]


def test_label_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)  # type: ignore[arg-type]


# -- domain errors, division by zero, overflow -------------------------------------------------------


ERRORS: list[tuple[str, float, Callable[[Value], Any], type[Exception], tuple[str, ...]]] = [
    ("log-negative", -1.0, lambda x: x.log(), ValueError, ("log", "-1.0")),
    ("log-zero", 0.0, lambda x: x.log(), ValueError, ("log", "0.0")),
    ("sqrt-negative", -4.0, lambda x: x.sqrt(), ValueError, ("sqrt", "-4.0")),
    ("zero-to-negative", 0.0, lambda x: x**-1, ZeroDivisionError, ("pow", "0.0", "-1.0")),
    ("zero-to-negative-half", 0.0, lambda x: x**-0.5, ZeroDivisionError, ("pow", "-0.5")),
    ("zero-to-negative-value", 0.0, lambda x: x ** Value(-2.0), ZeroDivisionError, ("pow", "-2.0")),
    ("const-zero-to-negative-value", -2.0, lambda x: 0 ** x, ZeroDivisionError, ("pow", "-2.0")),
    ("negative-to-fraction", -8.0, lambda x: x ** (1 / 3), ValueError, ("pow", "-8.0")),
    ("negative-to-value", -2.0, lambda x: x ** Value(0.5), ValueError, ("pow", "-2.0", "0.5")),
    ("negative-const-to-value", 0.5, lambda x: (-2) ** x, ValueError, ("pow", "-2.0", "0.5")),
    ("div-by-zero", 1.0, lambda x: x / 0, ZeroDivisionError, ("div", "1.0", "0.0")),
    ("div-by-zero-value", 1.0, lambda x: x / Value(0.0), ZeroDivisionError, ("div", "1.0", "0.0")),
    ("reciprocal-of-zero", 0.0, lambda x: 1 / x, ZeroDivisionError, ("div", "1.0", "0.0")),
    ("exp-overflow", 1000.0, lambda x: x.exp(), OverflowError, ("exp", "1000.0")),
    ("pow-overflow", 10.0, lambda x: x**400, OverflowError, ("pow", "10.0", "400")),
    ("const-base-overflow", 2000.0, lambda x: 2**x, OverflowError, ("pow", "2.0", "2000.0")),
    ("value-pow-overflow", 10.0, lambda x: x ** Value(400.0), OverflowError, ("pow", "10.0", "400.0")),
    ("mul-overflow", 1e308, lambda x: x * 10, OverflowError, ("mul", "1e+308", "10.0")),
    ("add-overflow", 1e308, lambda x: x + 1e308, OverflowError, ("add", "1e+308")),
    ("sub-overflow", -1e308, lambda x: x - 1e308, OverflowError, ("sub", "-1e+308")),
    ("div-overflow", 1.0, lambda x: x / 1e-320, OverflowError, ("div", "1.0", "1e-320")),
    ("sin-inf", math.inf, lambda x: x.sin(), ValueError, ("sin", "inf")),
    ("cos-inf", -math.inf, lambda x: x.cos(), ValueError, ("cos", "inf")),
]


@pytest.mark.parametrize(
    "x0, build, error, words", [pytest.param(*e[1:], id=e[0]) for e in ERRORS]
)
def test_fault_raises_the_matching_exception_naming_op_and_operands(
    x0: float, build: Callable[[Value], Any], error: type[Exception], words: tuple[str, ...]
) -> None:
    with pytest.raises(error) as info:
        build(Value(x0))
    message = str(info.value)
    assert all(w in message for w in words), message
    assert "cannot be raised to a negative power" not in message  # micrograd's message for 1 / 0
    assert "math domain error" not in message


@pytest.mark.parametrize(
    "x0, build, error, words", [pytest.param(*e[1:], id=e[0]) for e in ERRORS]
)
def test_the_graph_built_so_far_is_left_intact(
    x0: float, build: Callable[[Value], Any], error: type[Exception], words: tuple[str, ...]
) -> None:
    x = Value(1.0, label="x")
    h = (x * x0) * 1  # h.data == x0; d h / dx = x0
    h.label = "h"
    before = [(n, n.data, n.op, n.parents, n.local_grads) for n in toposort(h)]
    with pytest.raises(error):
        build(h)
    assert [(n, n.data, n.op, n.parents, n.local_grads) for n in toposort(h)] == before
    assert x.grad == 0.0 and h.grad == 0.0
    h.backward()
    assert x.grad == x0


def test_division_by_zero_message_is_not_micrographs() -> None:
    with pytest.raises(ZeroDivisionError) as info:
        Value(1.0) / 0
    assert str(info.value) != "0.0 cannot be raised to a negative power"
    assert "division by zero" in str(info.value)


# -- unsupported operand types -----------------------------------------------------------------------


UNSUPPORTED = ["1", None, [1.0], (1.0,), 1j, True, Decimal("1"), {1: 2}, object()]


@pytest.mark.parametrize("other", UNSUPPORTED, ids=lambda o: type(o).__name__)
@pytest.mark.parametrize(
    "op",
    [
        lambda v, o: v + o, lambda v, o: o + v, lambda v, o: v - o, lambda v, o: o - v,
        lambda v, o: v * o, lambda v, o: o * v, lambda v, o: v / o, lambda v, o: o / v,
        lambda v, o: v**o, lambda v, o: o**v,
    ],
    ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv", "pow", "rpow"],
)
def test_mixing_with_an_unsupported_type_raises_type_error(op: Callable[[Any, Any], Any], other: Any) -> None:
    v = Value(2.0)
    with pytest.raises(TypeError):
        op(v, other)
    assert v.grad == 0.0


@pytest.mark.parametrize("other", ["1", None, 1j, [1.0]], ids=lambda o: type(o).__name__)
def test_ordering_with_an_unsupported_type_raises_type_error(other: Any) -> None:
    v = Value(2.0)
    for compare in (lambda: v < other, lambda: v <= other, lambda: v > other, lambda: v >= other):
        with pytest.raises(TypeError):
            compare()


# -- misuse of the functional API -------------------------------------------------------------------


def test_gradients_rejects_non_values() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match="root"):
        gradients(1.0, [x])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"inputs\[1\].*float"):
        gradients(x * x, [x, 2.0])  # type: ignore[list-item]


def test_grad_rejects_a_non_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        grad(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        value_and_grad(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        hessian("f")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["2.0", None, [2.0], True, 1j], ids=lambda o: type(o).__name__)
def test_grad_rejects_an_argument_it_cannot_differentiate(bad: Any) -> None:
    with pytest.raises(TypeError, match=type(bad).__name__):
        grad(lambda x: x * x)(bad)


def test_grad_rejects_argnums_that_do_not_fit_the_call() -> None:
    f = lambda x, y: x * y
    for argnums in (2, -3, (0, 5)):
        with pytest.raises(ValueError, match="argnums"):
            grad(f, argnums=argnums)(1.0, 2.0)


def test_grad_rejects_a_function_that_returns_a_non_scalar() -> None:
    with pytest.raises(TypeError, match="list"):
        grad(lambda x: [x, x])(1.0)
    with pytest.raises(TypeError, match="str"):
        grad(lambda x: "x")(1.0)


def test_hessian_needs_an_argument() -> None:
    with pytest.raises(ValueError, match="at least one"):
        hessian(lambda: Value(1.0))()


def test_an_error_inside_f_leaves_grad_usable() -> None:
    with pytest.raises(ValueError, match="log"):
        grad(lambda x: (x - 5).log())(1.0)
    with pytest.raises(ZeroDivisionError):
        grad(grad(lambda x: 1 / (x - 1)))(1.0)
    assert grad(grad(lambda x: x**3))(1.0) == 6.0
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(2.0) == 1.0


def test_arithmetic_on_an_inf_the_caller_passed_is_not_an_overflow() -> None:
    # inf in, inf (or nan) out: IEEE arithmetic, as PyTorch does; only finite -> inf is an overflow.
    inf = float("inf")
    assert (Value(inf) * 2).data == inf
    assert math.isnan((Value(inf) - inf).data)


def test_gradients_with_one_bare_value_says_to_pass_a_list() -> None:
    x = Value(2.0)
    with pytest.raises(TypeError, match=r"gradients\(root, \[x\]\)"):
        gradients(x * x, x)  # type: ignore[arg-type]

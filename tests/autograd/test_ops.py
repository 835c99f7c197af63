"""The op table against hand-derived values: forward value, local derivatives, and second and third
derivatives through nested ``grad``, for every op in ``OPS`` (a new op without a row here fails)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import pytest

from autograd import OPS, Constant, Value, grad, gradients, hessian
from autograd.testing import VALUE_OPS

SQRT3 = math.sqrt(3.0)


class Case(NamedTuple):
    """One op at one point, every number derived by hand (comments give the formula)."""

    name: str
    inputs: tuple[float, ...]
    arg: float | None  # the op's constant (pow exponent, leaky_relu slope); None when it has none
    value: float
    local: tuple[float, ...]  # ∂out/∂input, one per input
    second: Any  # unary: d²out/dx²; binary: the 2×2 Hessian over (x, y)
    third: float | None  # unary: d³out/dx³ (None for binary ops)
    id: str


# How each op is reached from the public API: the same table the property tests use.
APPLY = VALUE_OPS

ATANH_HALF = math.atanh(0.5)  # tanh of it is 0.5
LOG3 = math.log(3.0)  # sigmoid of it is 0.75

CASES = [
    # binary: second is the Hessian [[f_xx, f_xy], [f_yx, f_yy]]
    Case("add", (2.0, 5.0), None, 7.0, (1.0, 1.0), [[0.0, 0.0], [0.0, 0.0]], None, "add"),
    Case("sub", (2.0, 5.0), None, -3.0, (1.0, -1.0), [[0.0, 0.0], [0.0, 0.0]], None, "sub"),
    Case("mul", (2.0, 5.0), None, 10.0, (5.0, 2.0), [[0.0, 1.0], [1.0, 0.0]], None, "mul"),
    # x/y: (1/y, -x/y²); f_xy = -1/y², f_yy = 2x/y³
    Case("div", (3.0, 2.0), None, 1.5, (0.5, -0.75), [[0.0, -0.25], [-0.25, 0.75]], None, "div"),
    Case("div", (-1.0, -4.0), None, 0.25, (-0.25, 1 / 16), [[0.0, -1 / 16], [-1 / 16, 2 / 64]], None,
         "div-negative"),
    # unary
    Case("neg", (3.0,), None, -3.0, (-1.0,), 0.0, 0.0, "neg"),
    # c x^(c-1), c(c-1) x^(c-2), c(c-1)(c-2) x^(c-3)
    Case("pow", (2.0,), 3.0, 8.0, (12.0,), 12.0, 6.0, "pow-cube"),
    Case("pow", (-2.0,), 3.0, -8.0, (12.0,), -12.0, 6.0, "pow-cube-negative-base"),
    Case("pow", (4.0,), 0.5, 2.0, (0.25,), -1 / 32, 3 / 256, "pow-sqrt"),
    Case("pow", (2.0,), -1.0, 0.5, (-0.25,), 0.25, -0.375, "pow-reciprocal"),
    Case("pow", (3.0,), 0.0, 1.0, (0.0,), 0.0, 0.0, "pow-zero"),
    Case("pow", (0.0,), 0.0, 1.0, (0.0,), 0.0, 0.0, "pow-zero-at-zero"),  # x**0 is constant, even at 0
    Case("pow", (0.0,), 2.0, 0.0, (0.0,), 2.0, 0.0, "pow-square-at-zero"),
    Case("pow", (5.0,), 1.0, 5.0, (1.0,), 0.0, 0.0, "pow-one"),
    # d|x| = sign(x), 0 at 0 (as PyTorch)
    Case("abs", (-3.0,), None, 3.0, (-1.0,), 0.0, 0.0, "abs-negative"),
    Case("abs", (2.0,), None, 2.0, (1.0,), 0.0, 0.0, "abs-positive"),
    Case("abs", (0.0,), None, 0.0, (0.0,), 0.0, 0.0, "abs-zero"),
    Case("exp", (math.log(2.0),), None, 2.0, (2.0,), 2.0, 2.0, "exp"),
    Case("exp", (0.0,), None, 1.0, (1.0,), 1.0, 1.0, "exp-zero"),
    # 1/x, -1/x², 2/x³
    Case("log", (2.0,), None, math.log(2.0), (0.5,), -0.25, 0.25, "log"),
    Case("log", (1.0,), None, 0.0, (1.0,), -1.0, 2.0, "log-one"),
    # 1/(2 sqrt x), -1/4 x^-3/2, 3/8 x^-5/2
    Case("sqrt", (4.0,), None, 2.0, (0.25,), -1 / 32, 3 / 256, "sqrt"),
    # t = tanh x: 1 - t², -2t(1 - t²), -2(1 - t²)(1 - 3t²)
    Case("tanh", (ATANH_HALF,), None, 0.5, (0.75,), -0.75, -0.375, "tanh"),
    Case("tanh", (0.0,), None, 0.0, (1.0,), 0.0, -2.0, "tanh-zero"),
    # s = sigmoid x: s(1-s), s(1-s)(1-2s), s(1-s)(1-6s+6s²)
    Case("sigmoid", (LOG3,), None, 0.75, (0.1875,), -0.09375, -0.0234375, "sigmoid"),
    Case("sigmoid", (0.0,), None, 0.5, (0.25,), 0.0, -0.125, "sigmoid-zero"),
    Case("sigmoid", (-LOG3,), None, 0.25, (0.1875,), 0.09375, -0.0234375, "sigmoid-negative"),
    Case("relu", (2.0,), None, 2.0, (1.0,), 0.0, 0.0, "relu-positive"),
    Case("relu", (-1.0,), None, 0.0, (0.0,), 0.0, 0.0, "relu-negative"),
    Case("relu", (0.0,), None, 0.0, (0.0,), 0.0, 0.0, "relu-zero"),  # PyTorch: 0 at the kink
    Case("leaky_relu", (3.0,), 0.1, 3.0, (1.0,), 0.0, 0.0, "leaky_relu-positive"),
    Case("leaky_relu", (-2.0,), 0.1, -0.2, (0.1,), 0.0, 0.0, "leaky_relu-negative"),
    Case("leaky_relu", (0.0,), 0.1, 0.0, (0.1,), 0.0, 0.0, "leaky_relu-zero"),  # PyTorch: slope at 0
    # log(1 + e^x): sigmoid x, s(1-s), s(1-s)(1-2s)
    Case("softplus", (LOG3,), None, math.log(4.0), (0.75,), 0.1875, -0.09375, "softplus"),
    Case("softplus", (0.0,), None, math.log(2.0), (0.5,), 0.25, 0.0, "softplus-zero"),
    Case("softplus", (-LOG3,), None, math.log(4.0 / 3.0), (0.25,), 0.1875, 0.09375, "softplus-negative"),
    Case("sin", (math.pi / 6,), None, 0.5, (SQRT3 / 2,), -0.5, -SQRT3 / 2, "sin"),
    Case("sin", (0.0,), None, 0.0, (1.0,), 0.0, -1.0, "sin-zero"),
    Case("cos", (math.pi / 3,), None, 0.5, (-SQRT3 / 2,), -0.5, SQRT3 / 2, "cos"),
    Case("cos", (math.pi,), None, -1.0, (0.0,), 1.0, 0.0, "cos-pi"),
]

CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES]
UNARY_PARAMS = [pytest.param(c, id=c.id) for c in CASES if len(c.inputs) == 1]
BINARY_PARAMS = [pytest.param(c, id=c.id) for c in CASES if len(c.inputs) == 2]


def close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=1e-12, abs=1e-15)


def apply(case: Case, *xs: Any) -> Any:
    extra = () if case.arg is None else (case.arg,)
    return APPLY[case.name](*xs, *extra)


def test_every_op_has_a_hand_derived_case() -> None:
    assert set(APPLY) == set(OPS)
    assert {c.name for c in CASES} == set(OPS)


def test_default_leaky_relu_slope_is_0_01() -> None:
    y = Value(-3.0).leaky_relu()
    assert y.arg == 0.01
    assert close(y.data, -0.03)
    assert y.local_grads == (0.01,)


@pytest.mark.parametrize("name", sorted(OPS))
def test_table_entries_are_well_formed(name: str) -> None:
    op = OPS[name]
    assert op.name == name
    assert op.arity in (1, 2)
    assert isinstance(op.symbol, str) and op.symbol
    assert all(len(c.inputs) == op.arity for c in CASES if c.name == name)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_node_value_and_local_derivatives(case: Case) -> None:
    xs = [Value(x) for x in case.inputs]
    out = apply(case, *xs)
    assert out.op == case.name
    assert out.arg == case.arg
    assert len(out.parents) == len(xs)
    assert all(p is x for p, x in zip(out.parents, xs))
    assert close(out.data, case.value)
    assert len(out.local_grads) == len(case.local)
    assert all(type(g) is float for g in out.local_grads)
    assert all(close(g, e) for g, e in zip(out.local_grads, case.local))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_table_rules_on_floats(case: Case) -> None:
    op = OPS[case.name]
    extra = () if case.arg is None else (case.arg,)
    out = op.forward(*case.inputs, *extra)
    assert close(out, case.value)
    local = op.local(out, *case.inputs, *extra)
    assert len(local) == op.arity
    assert all(close(float(g), e) for g, e in zip(local, case.local))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_backward_reaches_inputs_with_the_local_derivatives(case: Case) -> None:
    xs = [Value(x) for x in case.inputs]
    apply(case, *xs).backward()
    assert all(close(x.grad, e) for x, e in zip(xs, case.local))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_rule_on_values_gives_the_same_local_derivatives(case: Case) -> None:
    # create_graph runs each rule on Values; its first-order numbers must match the float rule.
    xs = [Value(x) for x in case.inputs]
    out = apply(case, *xs)
    firsts = gradients(out, xs, create_graph=True)
    assert all(isinstance(g, Value) for g in firsts)
    assert all(close(g.data, e) for g, e in zip(firsts, case.local))


@pytest.mark.parametrize("case", UNARY_PARAMS)
def test_unary_second_derivative_via_nested_grad(case: Case) -> None:
    f = lambda x: apply(case, x)
    assert close(grad(grad(f))(case.inputs[0]), case.second)


@pytest.mark.parametrize("case", UNARY_PARAMS)
def test_unary_third_derivative_via_nested_grad(case: Case) -> None:
    assert case.third is not None
    f = lambda x: apply(case, x)
    assert close(grad(grad(grad(f)))(case.inputs[0]), case.third)


@pytest.mark.parametrize("case", BINARY_PARAMS)
def test_binary_second_derivatives_via_hessian(case: Case) -> None:
    h = hessian(lambda x, y: apply(case, x, y))(*case.inputs)
    assert all(close(h[i][j], case.second[i][j]) for i in range(2) for j in range(2)), h


@pytest.mark.parametrize("case", BINARY_PARAMS)
def test_binary_mixed_partial_via_nested_grad(case: Case) -> None:
    x0, y0 = case.inputs
    f = lambda x, y: apply(case, x, y)
    dxdy = grad(lambda y: grad(f, argnums=0)(x0, y))(y0)
    assert close(dxdy, case.second[0][1])


def test_div_third_derivatives() -> None:
    # x/y: ∂³/∂y³ = -6x/y⁴, ∂³/∂x∂y² = 2/y³
    assert close(grad(grad(grad(lambda y: 3.0 / y)))(2.0), -6 * 3.0 / 16)
    f_xyy = grad(lambda x: grad(grad(lambda y: x / y))(2.0))(3.0)
    assert close(f_xyy, 2 / 8)


@pytest.mark.parametrize(
    "x, c, expected",
    [
        (0.0, 0.5, math.inf),  # d sqrt-like power at 0
        (1e-200, -1.0, -math.inf),  # -x^-2 overflows
        (-1e-200, -1.0, -math.inf),  # -x^-2 < 0 whatever the sign of x
        (-1e-103, -2.0, math.inf),  # x^-2 fits a float, -2 x^-3 overflows: > 0 for x < 0
        (1e-103, -2.0, -math.inf),
    ],
)
def test_pow_singular_local_derivative_is_a_signed_infinity(x: float, c: float, expected: float) -> None:
    assert (Value(x) ** c).local_grads == (expected,)


def test_sqrt_local_derivative_at_zero_is_inf() -> None:
    y = Value(0.0).sqrt()
    assert y.data == 0.0
    assert y.local_grads == (math.inf,)


def test_value_exponent_composes_exp_and_log() -> None:
    # x ** y = e^(y log x): ∂/∂x = y x^(y-1), ∂/∂y = x^y log x
    x, y = Value(2.0), Value(3.0)
    z = x**y
    assert z.op == "exp"
    assert close(z.data, 8.0)
    z.backward()
    assert close(x.grad, 12.0)
    assert close(y.grad, 8.0 * math.log(2.0))


def test_constant_base_composes_exp_with_a_labelled_log_constant() -> None:
    x = Value(3.0)
    z = 2**x
    assert z.op == "exp"
    assert close(z.data, 8.0)
    (mul,) = z.parents
    assert mul.op == "mul"
    assert mul.parents[0] is x
    c = mul.parents[1]
    assert type(c) is Constant
    assert c.data == math.log(2.0)
    assert c.label == "log(2)"
    z.backward()
    assert close(x.grad, 8.0 * math.log(2.0))
    assert c.grad == 0.0

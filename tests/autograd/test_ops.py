"""The op table against hand-derived values: forward value, local derivatives, and second and third
derivatives through nested ``grad``, for every op in ``OPS`` (a new op without a row here fails)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import pytest

from autograd import OPS, Constant, Value, grad, gradients, hessian, toposort
from autograd.testing import VALUE_OPS

SQRT3 = math.sqrt(3.0)


class Case(NamedTuple):
    """One op at one point, every number derived by hand (comments give the formula)."""

    name: str
    inputs: tuple[float, ...]
    arg: float | None  # the op's constant (pow exponent, leaky_relu slope); None when it has none
    value: float
    local: tuple[float, ...]  # ∂out/∂input, one per input
    second: Any  # unary: d²out/dx²; otherwise the Hessian over the inputs (2×2 for (x, y))
    third: float | None  # unary: d³out/dx³ (None for the others)
    id: str


# How each op is reached from the public API: the same table the property tests use.
APPLY = VALUE_OPS

LN2 = math.log(2.0)
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
    # x^y: (y x^(y-1), x^y ln x); f_xx = y(y-1) x^(y-2), f_xy = x^(y-1) (1 + y ln x), f_yy = x^y ln² x
    Case("vpow", (2.0, 3.0), None, 8.0, (12.0, 8 * LN2), [[12.0, 4 + 12 * LN2], [4 + 12 * LN2, 8 * LN2**2]],
         None, "vpow"),
    Case("vpow", (0.5, -1.0), None, 2.0, (-4.0, -2 * LN2),
         [[16.0, 4 * (1 + LN2)], [4 * (1 + LN2), 2 * LN2**2]], None, "vpow-reciprocal"),
    # b + w0 x0 + w1 x1 over (w0, w1, x0, x1, b): (x0, x1, w0, w1, 1); f_{wi xi} = 1, all else 0
    Case("linear", (2.0, -1.0, 3.0, 4.0, 0.5), None, 2.5, (3.0, 4.0, 2.0, -1.0, 1.0),
         [[1.0 if {i, j} in ({0, 2}, {1, 3}) else 0.0 for j in range(5)] for i in range(5)], None, "linear"),
    # unary
    Case("neg", (3.0,), None, -3.0, (-1.0,), 0.0, 0.0, "neg"),
    # c^x: c^x ln c, c^x ln² c, c^x ln³ c
    Case("rpow", (3.0,), 2.0, 8.0, (8 * LN2,), 8 * LN2**2, 8 * LN2**3, "rpow"),
    Case("rpow", (-1.0,), 0.5, 2.0, (-2 * LN2,), 2 * LN2**2, -2 * LN2**3, "rpow-half"),
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
SEVERAL_PARAMS = [pytest.param(c, id=c.id) for c in CASES if len(c.inputs) >= 2]


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
    assert op.arity in (1, 2, None)  # None: any number of parents (linear)
    assert isinstance(op.symbol, str) and op.symbol
    assert all(len(c.inputs) == op.arity for c in CASES if c.name == name and op.arity is not None)


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
    local = op.derivatives(out, *case.inputs, *extra)
    assert len(local) == len(case.inputs)
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


@pytest.mark.parametrize("case", SEVERAL_PARAMS)
def test_second_derivatives_via_hessian(case: Case) -> None:
    n = len(case.inputs)
    h = hessian(lambda *xs: apply(case, *xs))(*case.inputs)
    assert all(close(h[i][j], case.second[i][j]) for i in range(n) for j in range(n)), h


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


def test_value_exponent_is_one_pow_node() -> None:
    # x ** y of two Values: one vpow node with parents (x, y), as the learner wrote one op
    x, y = Value(2.0), Value(3.0)
    z = x**y
    assert (z.op, z.parents, z.arg) == ("vpow", (x, y), None)
    assert close(z.data, 8.0)
    z.backward()
    assert close(x.grad, 12.0)
    assert close(y.grad, 8.0 * math.log(2.0))


def test_constant_base_is_one_node_with_the_base_as_its_argument() -> None:
    x = Value(3.0)
    z = 2**x
    assert (z.op, z.parents, z.arg) == ("rpow", (x,), 2.0)
    assert close(z.data, 8.0)
    z.backward()
    assert close(x.grad, 8.0 * math.log(2.0))


def test_negative_base_with_an_integer_value_exponent() -> None:
    # (-2)^3 = -8; d/dx = 3 (-2)^2 = 12; d/dy is nan (x^y has no real slope in y there), as torch.pow
    x, y = Value(-2.0), Value(3.0)
    z = x**y
    assert z.data == -8.0
    assert z.local_derivatives[0] == 12.0 and math.isnan(z.local_derivatives[1])
    assert ((-2) ** Value(2.0)).data == 4.0


@pytest.mark.parametrize("x, y, dx, dy", [
    (0.0, 2.0, 0.0, 0.0), (0.0, 1.0, 1.0, 0.0), (0.0, 0.5, math.inf, 0.0), (0.0, 0.0, 0.0, 0.0),
    (-0.0, 3.0, 0.0, 0.0),
])
def test_zero_base_follows_torch(x: float, y: float, dx: float, dy: float) -> None:
    # torch.pow(0, y) for y >= 0: d/dx = y 0^(y-1) (0 at y = 0, inf for 0 < y < 1), d/dy = 0
    assert (Value(x) ** Value(y)).local_derivatives == (dx, dy)


@pytest.mark.parametrize("c, x, d", [(0.0, 2.0, 0.0), (0.0, 0.0, 0.0), (1.0, 5.0, 0.0)])
def test_constant_zero_or_one_base_has_slope_zero(c: float, x: float, d: float) -> None:
    assert (c ** Value(x)).local_derivatives == (d,)


def test_nan_exponents_propagate_instead_of_raising() -> None:
    assert math.isnan((Value(-2.0) ** math.nan).data)
    assert math.isnan((Value(-2.0) ** Value(math.nan)).data)
    assert math.isnan((Value(2.0) ** Value(math.nan)).data)


def test_relu_passes_nan_through_with_slope_one() -> None:
    # torch: relu(nan) = nan, and its grad is 1 (the nan is not masked)
    y = Value(math.nan).relu()
    assert math.isnan(y.data) and y.local_derivatives == (1.0,)


def test_sqrt_at_negative_zero_has_slope_minus_inf() -> None:
    y = Value(-0.0).sqrt()
    assert math.copysign(1.0, y.data) == -1.0 and y.local_derivatives == (-math.inf,)


def test_linear_is_one_node_and_the_same_float_as_a_chain_of_products() -> None:
    from autograd import linear

    ws = [Value(0.1 * i - 0.37) for i in range(7)]
    xs = [Value(1.3 - 0.29 * i) for i in range(7)]
    b = Value(0.123)
    z = linear(ws, xs, b)
    chain = ws[0] * xs[0]
    for w, x in zip(ws[1:], xs[1:]):
        chain = chain + w * x
    chain = chain + b
    assert z.data == chain.data  # bit-identical: the same float operations in the same order
    assert z.op == "linear" and z.parents == (*ws, *xs, b)
    assert len(toposort(z)) == 16  # 15 leaves and one node, where the chain has 15 + 14 nodes
    z.backward()
    assert [w.grad for w in ws] == [x.data for x in xs]
    assert [x.grad for x in xs] == [w.data for w in ws]
    assert b.grad == 1.0


def test_linear_takes_numbers_as_constants_and_checks_its_arguments() -> None:
    from autograd import linear

    w = Value(2.0)
    z = linear([w], [3.0], 1.0)
    assert z.data == 7.0 and type(z.parents[1]) is Constant
    with pytest.raises(ValueError, match="2 weights for 1 inputs"):
        linear([w, w], [1.0])
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a Value or a number"):
        linear([w], ["x"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of Values"):
        linear(w, [1.0])  # type: ignore[arg-type]
    with pytest.raises(OverflowError, match="linear"):
        linear([Value(1e308), Value(1e308)], [10.0, 10.0])
    with pytest.raises(TypeError, match="bias must be a Value or a number, got str"):
        linear([w], [1.0], "b")  # type: ignore[arg-type]

    class Foreign:  # another engine's node: it has a .data, but it is no Value of this engine
        data = 1.0

    with pytest.raises(TypeError, match=r"weights\[1\] must be a Value or a number, got Foreign"):
        linear([w, Foreign()], [1.0, 2.0])  # type: ignore[list-item]
    # tuples and generators work as lists do; an empty sum is the constant 0 (or the bias)
    assert linear((w, w), (Value(1.0), 2.0)).data == 6.0
    assert linear((v for v in [w]), iter([4.0]), w).data == 10.0
    assert linear([], [], 0.5).data == 0.5 and linear([], []).data == 0.0


def test_linear_keeps_the_sign_of_zero_as_the_chain_does() -> None:
    from autograd import linear

    # -0.0 * 1.0 + -0.0 is -0.0; a sum started from +0.0 would give +0.0
    z = linear([Value(-0.0)], [Value(1.0)], Value(-0.0))
    assert math.copysign(1.0, z.data) == -1.0
    assert math.copysign(1.0, linear([Value(-0.0)], [Value(1.0)]).data) == -1.0

"""grad, value_and_grad and hessian: first derivatives, argnums, nesting to third order and beyond,
perturbation confusion, and the Hessian, all against hand-derived values."""

from __future__ import annotations

import math

import pytest

from autograd import Value, grad, hessian, no_grad, value_and_grad


def close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=1e-12, abs=1e-15)


# -- grad --------------------------------------------------------------------------------------------


def test_grad_returns_a_float_at_the_top_level() -> None:
    g = grad(lambda x: x**3)(2.0)
    assert type(g) is float
    assert g == 12.0
    assert grad(lambda x: x * x)(3) == 6.0  # an int argument is fine


def test_grad_of_a_composite_against_its_hand_derivative() -> None:
    # f = sin(x) e^x / (1 + x²); f' = [(cos x + sin x) e^x (1 + x²) - 2x sin(x) e^x] / (1 + x²)²
    f = lambda x: x.sin() * x.exp() / (1 + x * x)
    x = 0.8
    expected = ((math.cos(x) + math.sin(x)) * math.exp(x) * (1 + x * x)
                - 2 * x * math.sin(x) * math.exp(x)) / (1 + x * x) ** 2
    assert close(grad(f)(x), expected)


def test_grad_of_a_function_that_ignores_its_input_is_zero() -> None:
    assert grad(lambda x: Value(5.0))(1.0) == 0.0
    assert grad(lambda x: 7)(1.0) == 0.0


def test_grad_does_not_touch_the_callers_values() -> None:
    w = Value(2.0)
    assert grad(lambda x: x * w)(3.0) == 2.0
    assert w.grad == 0.0


def test_grad_keeps_the_function_name() -> None:
    def cube(x: Value) -> Value:
        return x**3

    assert grad(cube).__name__ == "cube"


# -- argnums ----------------------------------------------------------------------------------------------


def test_argnums_int_selects_one_argument() -> None:
    f = lambda x, y, z: x * y * y + z * z
    assert grad(f)(2.0, 3.0, 0.5) == 9.0
    assert grad(f, argnums=1)(2.0, 3.0, 0.5) == 12.0
    assert grad(f, argnums=2)(2.0, 3.0, 0.5) == 1.0
    assert grad(f, argnums=-1)(2.0, 3.0, 0.5) == 1.0


def test_argnums_tuple_returns_a_tuple_in_the_order_asked() -> None:
    f = lambda x, y, z: x * y * y + z * z
    assert grad(f, argnums=(0, 1, 2))(2.0, 3.0, 0.5) == (9.0, 12.0, 1.0)
    assert grad(f, argnums=(2, 0))(2.0, 3.0, 0.5) == (1.0, 9.0)
    assert grad(f, argnums=(1,))(2.0, 3.0, 0.5) == (12.0,)
    assert grad(f, argnums=[0, 1])(2.0, 3.0, 0.5) == (9.0, 12.0)


def test_arguments_not_differentiated_pass_through_untouched() -> None:
    f = lambda x, n, scale: scale[0] * x**n
    assert grad(f)(2.0, 3, [10.0]) == 120.0


# -- value_and_grad ---------------------------------------------------------------------------------------


def test_value_and_grad_returns_floats() -> None:
    value, g = value_and_grad(lambda x: x * x)(3.0)
    assert (value, g) == (9.0, 6.0)
    assert type(value) is float and type(g) is float


def test_value_and_grad_with_argnums_tuple() -> None:
    value, (gx, gy) = value_and_grad(lambda x, y: x * y + y.log(), argnums=(0, 1))(2.0, 4.0)
    assert close(value, 8.0 + math.log(4.0))
    assert (gx, gy) == (4.0, 2.25)


def test_value_and_grad_evaluates_f_once() -> None:
    calls = []

    def f(x: Value) -> Value:
        calls.append(1)
        return x.sin()

    value, g = value_and_grad(f)(0.3)
    assert calls == [1]
    assert close(value, math.sin(0.3)) and close(g, math.cos(0.3))


def test_value_and_grad_nests() -> None:
    # d/dx of (x³)'s value times its derivative: d(x³ * 3x²)/dx = 15x⁴
    def h(x: Value) -> Value:
        v, d = value_and_grad(lambda t: t**3)(x)
        return v * d

    assert close(grad(h)(2.0), 15 * 16)


# -- nesting ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f, derivatives, x",
    [
        (lambda x: x**3, (12.0, 12.0, 6.0, 0.0), 2.0),
        (lambda x: x * x * x, (12.0, 12.0, 6.0, 0.0), 2.0),  # through reuse instead of pow
        (lambda x: x.sin(), (math.cos(0.5), -math.sin(0.5), -math.cos(0.5), math.sin(0.5)), 0.5),
        (lambda x: x.exp(), (math.e, math.e, math.e, math.e), 1.0),
        (lambda x: x.log(), (0.5, -0.25, 0.25, -6 / 16), 2.0),  # 1/x, -1/x², 2/x³, -6/x⁴
        (lambda x: 1 / x, (-0.25, 0.25, -6 / 16, 24 / 32), 2.0),  # -1/x², 2/x³, -6/x⁴, 24/x⁵
        # x e^(x²): (1 + 2x²) e^(x²), (6x + 4x³) e^(x²), (6 + 24x² + 8x⁴) e^(x²)
        (lambda x: x * (x * x).exp(), (3 * math.e, 10 * math.e, 38 * math.e, None), 1.0),
    ],
    ids=["pow", "mul-reuse", "sin", "exp", "log", "reciprocal", "x*exp(x^2)"],
)
def test_nested_grad_to_third_and_fourth_order(f, derivatives, x) -> None:  # type: ignore[no-untyped-def]
    d1, d2, d3, d4 = derivatives
    g1 = grad(f)
    g2 = grad(g1)
    g3 = grad(g2)
    assert close(g1(x), d1)
    assert close(g2(x), d2)
    assert close(g3(x), d3)
    if d4 is not None:
        assert close(grad(g3)(x), d4)


def test_nested_grad_returns_floats_at_the_top_level_only() -> None:
    inner_types = []

    def first(x: Value) -> Value:
        d = grad(lambda t: t**3)(x)
        inner_types.append(type(d))
        return d

    assert type(grad(first)(2.0)) is float
    assert inner_types == [Value]


def test_no_perturbation_confusion() -> None:
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1; confusing the two perturbations gives 2.
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(2.0) == 1.0


def test_inner_derivative_that_depends_on_the_outer_variable() -> None:
    # d/dy (x y) = x, so the outer function is x * x and its derivative 2x = 6.
    assert grad(lambda x: grad(lambda y: x * y)(1.0) * x)(3.0) == 6.0


def test_inner_grad_at_the_outer_variable() -> None:
    # inner: d/dy (x y) at y = x is x; outer: d/dx x = 1 (not 2, which counts x twice)
    assert grad(lambda x: grad(lambda y: x * y)(x))(3.0) == 1.0
    # inner: d/dy y² at y = x is 2x; outer: 2
    assert grad(lambda x: grad(lambda y: y * y)(x))(3.0) == 2.0


def test_mixed_partial_by_nesting_with_argnums() -> None:
    # f = x² y³: ∂²f/∂x∂y = 6 x y² = 12 at (2, 1)
    f = lambda x, y: x * x * y**3
    assert grad(lambda x: grad(f, argnums=1)(x, 1.0))(2.0) == 12.0
    assert grad(lambda y: grad(f, argnums=0)(2.0, y))(1.0) == 12.0


def test_grad_inside_no_grad_raises_instead_of_returning_zero() -> None:
    with no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        grad(lambda x: x * x)(3.0)
    with no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        value_and_grad(lambda x: x * x)(3.0)
    with no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        hessian(lambda x: x * x)(3.0)
    assert grad(lambda x: x * x)(3.0) == 6.0


# -- hessian -------------------------------------------------------------------------------------------


def test_hessian_of_a_product() -> None:
    # f = x² y: H = [[2y, 2x], [2x, 0]]
    assert hessian(lambda x, y: x * x * y)(3.0, 2.0) == [[4.0, 6.0], [6.0, 0.0]]


def test_hessian_of_three_variables_is_symmetric_and_hand_derived() -> None:
    # f = x y z + x² + sin(y): H = [[2, z, y], [z, -sin y, x], [y, x, 0]]
    f = lambda x, y, z: x * y * z + x * x + y.sin()
    h = hessian(f)(1.0, 2.0, 3.0)
    expected = [[2.0, 3.0, 2.0], [3.0, -math.sin(2.0), 1.0], [2.0, 1.0, 0.0]]
    assert len(h) == 3 and all(len(row) == 3 for row in h)
    assert all(type(v) is float for row in h for v in row)
    assert all(close(h[i][j], expected[i][j]) for i in range(3) for j in range(3))
    assert all(h[i][j] == h[j][i] for i in range(3) for j in range(3))


def test_hessian_of_one_argument_is_a_1x1_matrix() -> None:
    assert hessian(lambda x: x**4)(2.0) == [[48.0]]


def test_hessian_of_an_argument_that_appears_only_linearly_has_zero_rows() -> None:
    assert hessian(lambda x, y: x * x + y)(1.0, 5.0) == [[2.0, 0.0], [0.0, 0.0]]


def test_hessian_nests_to_third_order() -> None:
    # d/dx of ∂²(x⁴ y)/∂x² = d/dx 12x² y = 24 x y = 96 at (2, 2)
    third = grad(lambda x: hessian(lambda a, b: a**4 * b)(x, 2.0)[0][0])(2.0)
    assert third == 96.0

"""x ** y against torch.pow in float64 over its whole domain, to second order: positive, zero and negative
bases (negative with integer exponents), zero and negative exponents, a constant on either side. Where
the engine refuses (a negative base to a fractional power, 0 to a negative power, second derivatives at a
zero base that are infinite or undefined), torch gives nan or inf and the engine's error names pow and
both operands."""

from __future__ import annotations

import itertools
import math
import re

import pytest

from autograd import Value, gradients

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: the float64 oracle tests need the CPU build"
)

BASES = [-3.0, -2.0, -1.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.5]
EXPONENTS = [-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0]
GRID = list(itertools.product(BASES, EXPONENTS))


def same(a: float, b: float) -> bool:
    """Equal to 1e-12 relative, both nan, or the same infinity."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)


def torch_pow(x: float, y: float) -> tuple[float, list[float], list[list[float]]]:
    """torch.pow's value, gradient over (x, y) and Hessian, in float64."""
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(y, dtype=torch.float64, requires_grad=True)
    out = torch.pow(tx, ty)
    gx, gy = torch.autograd.grad(out, (tx, ty), create_graph=True)
    hessian = [[float(h) for h in torch.autograd.grad(g, (tx, ty), retain_graph=True, allow_unused=True)]
               for g in (gx, gy)]
    return out.item(), [gx.item(), gy.item()], hessian


def refused(x: float, y: float) -> bool:
    return (x < 0 and not y.is_integer()) or (x == 0 and y < 0)


@pytest.mark.parametrize("x, y", GRID)
def test_value_and_first_derivatives_match_torch(x: float, y: float) -> None:
    t_out, (t_dx, t_dy), _ = torch_pow(x, y)
    if refused(x, y):
        assert math.isnan(t_out) or math.isinf(t_out)  # torch has no finite answer here either
        with pytest.raises((ValueError, ZeroDivisionError), match=r"pow.*" + re.escape(repr(x))):
            Value(x) ** Value(y)
        return
    a, b = Value(x), Value(y)
    z = a**b
    assert z.op == "vpow" and z.parents == (a, b)  # one node, the learner's one op
    assert same(z.data, t_out) and math.copysign(1, z.data) == math.copysign(1, t_out)
    z.backward()
    assert same(a.grad, t_dx), (a.grad, t_dx)
    assert same(b.grad, t_dy), (b.grad, t_dy)


def hand_hessian(x: float, y: float) -> list[list[float]]:
    """The Hessian of x^y over (x, y), derived by hand: f_xx = y (y-1) x^(y-2), f_xy = x^(y-1) (1 + y ln x),
    f_yy = x^y ln² x. A negative base has no slope in y (x^y exists only at integer y): nan. At a zero
    base (y > 1, where the second derivatives exist from the right) f_xy and f_yy tend to 0."""
    fxx = y * (y - 1) * (x ** (y - 2) if x != 0 or y >= 2 else math.inf)
    if x > 0:
        fxy, fyy = x ** (y - 1) * (1 + y * math.log(x)), x**y * math.log(x) ** 2
    elif x < 0:
        fxy = fyy = math.nan
    else:
        fxy = fyy = 0.0
    return [[fxx, fxy], [fxy, fyy]]


@pytest.mark.parametrize("x, y", GRID)
def test_second_derivatives_match_hand_values_and_torch(x: float, y: float) -> None:
    if refused(x, y):
        return  # no value at all (the test above)
    _, _, t_h = torch_pow(x, y)
    a, b = Value(x), Value(y)
    if x == 0 and y <= 1:
        # d²/dx² = y (y-1) 0^(y-2): infinite or undefined; torch says nan or inf too
        assert not all(math.isfinite(h) for row in t_h for h in row)
        with pytest.raises(ZeroDivisionError, match="vpow"):
            gradients(a**b, [a, b], create_graph=True)
        return
    dx, dy = gradients(a**b, [a, b], create_graph=True)
    h = [list(gradients(g, [a, b])) if isinstance(g, Value) else [0.0, 0.0] for g in (dx, dy)]
    expected = hand_hessian(x, y)
    assert all(same(h[i][j], expected[i][j]) for i in range(2) for j in range(2)), (h, expected)
    # NOTE: torch.pow masks its local derivatives with where(y == 0, 0, ...) and where(x == 0, 0, ...),
    # and differentiating a where() gives 0 or nan for the masked branch: at y = 0 or a zero base its
    # Hessian is not symmetric (at x = 0.5, y = 0: f_xy 0.0 but f_yx 2.0). Where torch agrees with
    # itself, it is the oracle; where it does not, the hand values above are.
    if all(same(t_h[i][j], t_h[j][i]) for i in range(2) for j in range(2)):
        assert all(same(h[i][j], t_h[i][j]) for i in range(2) for j in range(2)), (h, t_h)
    else:
        assert y == 0 or x == 0  # the only places torch's masks reach


NUMBER_BASES = list(itertools.product([0.0, 0.5, 1.0, 2.0, 3.0], [-2.0, -0.5, 0.0, 1.5, 3.0]))


@pytest.mark.parametrize("c, x", NUMBER_BASES)
def test_number_base_is_one_node_matching_torch(c: float, x: float) -> None:
    if c == 0 and x < 0:
        with pytest.raises(ZeroDivisionError, match="pow"):
            c ** Value(x)
        return
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = torch.pow(torch.tensor(c, dtype=torch.float64), tx)
    (t_dx,) = torch.autograd.grad(out, tx, create_graph=True)
    (t_dxx,) = torch.autograd.grad(t_dx, tx, allow_unused=True) if t_dx.requires_grad else (None,)
    a = Value(x)
    z = c**a
    assert (z.op, z.parents, z.arg) == ("rpow", (a,), c)
    assert same(z.data, out.item())
    (dx,) = gradients(z, [a], create_graph=True)
    (dxx,) = gradients(dx, [a]) if isinstance(dx, Value) else (0.0,)
    log_c = math.log(c) if c > 0 else 0.0  # d c^x = c^x ln c; 0^x is flat (torch's choice at x = 0 too)
    assert same(float(dx), c**x * log_c) and same(float(dx), t_dx.item())
    assert same(dxx, c**x * log_c**2)
    # NOTE: at c = 0 torch's second derivative is nan, from differentiating its where(c == 0, 0, ...)
    # mask (0 * log 0); the function is 0 for x > 0, so every derivative is 0 there
    if c != 0:
        assert same(dxx, 0.0 if t_dxx is None else t_dxx.item())


def test_overflow_names_pow_and_its_operands() -> None:
    with pytest.raises(OverflowError, match=r"pow\(2.0, 5000.0\)"):
        2 ** Value(5000.0)
    with pytest.raises(OverflowError, match=r"pow\(10.0, 400.0\)"):
        Value(10.0) ** Value(400.0)


def test_negative_base_to_a_fraction_names_pow_and_both_operands() -> None:
    with pytest.raises(ValueError, match=r"pow\(-2.0, 0.5\): a negative base needs an integer exponent"):
        Value(-2.0) ** Value(0.5)

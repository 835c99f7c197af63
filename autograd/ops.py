"""The op table: each primitive's forward rule, local-derivative rule and graph label, written once.

A derivative rule takes ``(out, *inputs, *args)`` and returns ∂out/∂input for each input. Rules use only
arithmetic, comparisons and the generic functions below, so the same rule runs on floats (first order)
and on Values (higher order). This module imports nothing from the package.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


# A frozen dataclass with slots, not a NamedTuple: reading op.forward is a slot read, not a tuple
# getter (3 reads per op built: 62 -> 40 ns).
@dataclass(frozen=True, slots=True)
class Op:
    """One primitive: ``forward`` on floats, ``derivatives`` ∂out/∂input from (out, *inputs, *args)."""

    name: str
    # number of parents (Value operands), None for any number; a constant (the 3 of x ** 3) is an arg
    arity: int | None
    forward: Callable[..., float]
    derivatives: Callable[..., tuple[Any, ...]]
    symbol: str  # how a graph labels the op node

    @property
    def local(self) -> Callable[..., tuple[Any, ...]]:
        """The old name of ``derivatives``."""
        return self.derivatives


# Generic math that works on floats and on anything with the method of the same name (a Value), so a
# rule such as d sin = cos x can be differentiated again.
def log(x: Any) -> Any:
    """log(x) of a float, or of a Value through its method."""
    return math.log(x) if isinstance(x, (int, float)) else x.log()


def cos(x: Any) -> Any:
    """cos(x) of a float, or of a Value through its method."""
    return math.cos(x) if isinstance(x, (int, float)) else x.cos()


def sin(x: Any) -> Any:
    """sin(x) of a float, or of a Value through its method."""
    return math.sin(x) if isinstance(x, (int, float)) else x.sin()


def sigmoid(x: Any) -> Any:
    """sigmoid(x) of a float, or of a Value through its method."""
    return _sigmoid(x) if isinstance(x, (int, float)) else x.sigmoid()


def _number(x: Any) -> float:
    """The number in x: x itself, or a Value's data (for a rule's branch that must not record a guard)."""
    return x if isinstance(x, (int, float)) else x.data


# Forward rules. Each one raises the matching Python exception with a message naming the op and its
# operands, instead of the bare "math domain error" that math.* gives.
def _domain(op: str, why: str, *operands: float) -> ValueError:
    shown = ", ".join(repr(x) for x in operands)
    return ValueError(f"{op}({shown}): {why}")


def _overflow(op: str, *operands: float) -> OverflowError:
    shown = ", ".join(repr(x) for x in operands)
    return OverflowError(
        f"{op}({shown}) overflows a float; rescale the inputs (e.g. normalize data, lower lr)"
    )


_MAX = sys.float_info.max
_MIN = -_MAX  # a constant, not -_MAX on every call: ~11 ns per op on the mlp_step graph


def _overflowed(name: str, symbol: str, x: float, y: float, out: float) -> float:
    # The result is inf or nan: an overflow if both operands were finite, else plain IEEE arithmetic
    # on an inf or nan the caller passed in.
    if math.isfinite(x) and math.isfinite(y):
        raise OverflowError(
            f"{name}: {x!r} {symbol} {y!r} overflows a float; "
            "rescale the inputs (e.g. normalize data, lower lr)"
        )
    return out


# NOTE: Python's float + - * / give inf silently on overflow; the range check (one chained comparison)
# makes them raise like exp and pow do, instead of letting an inf spread through the graph.
def _add(x: float, y: float) -> float:
    out = x + y
    return out if _MIN <= out <= _MAX else _overflowed("add", "+", x, y, out)


def _sub(x: float, y: float) -> float:
    out = x - y
    return out if _MIN <= out <= _MAX else _overflowed("sub", "-", x, y, out)


def _mul(x: float, y: float) -> float:
    out = x * y
    return out if _MIN <= out <= _MAX else _overflowed("mul", "*", x, y, out)


def _div(x: float, y: float) -> float:
    if y == 0:
        raise ZeroDivisionError(f"div: division by zero in {x!r} / {y!r}")
    out = x / y
    return out if _MIN <= out <= _MAX else _overflowed("div", "/", x, y, out)


def power(x: float, y: float) -> float:
    """x ** y on floats, with the errors named: the forward of pow, rpow and vpow.

    A negative base needs an integer exponent (a nan or infinite one gives what IEEE gives, as torch.pow
    does); 0 to a negative power is a division by zero.
    """
    if x == 0 and y < 0:
        raise ZeroDivisionError(f"pow: {x!r} ** {y!r} is a division by zero (base {x!r}, exponent {y!r})")
    if x < 0 and math.isfinite(y) and not float(y).is_integer():
        raise _domain("pow", "a negative base needs an integer exponent", x, y)
    try:
        return x**y
    except OverflowError:
        raise _overflow("pow", x, y) from None


def _rpow(x: float, c: float) -> float:
    return power(c, x)  # c ** x: the constant is the base


def _pow_derivatives(out: Any, x: Any, c: float) -> tuple[Any]:
    # d x^c = c x^(c-1). NOTE: x ** 0 is the constant 1; without the guard the rule computes 0 * 0 ** -1
    # at x = 0 and reports an infinite slope (or raises at higher order).
    return (c * x ** (c - 1) if c != 0 else 0.0,)


def _rpow_derivatives(out: Any, x: Any, c: float) -> tuple[Any]:
    # d c^x = c^x log c. c is a number (the node's argument), never a Value, so math.log is safe here.
    # At c = 0 the slope is 0 (0^x is flat where it is defined), and nan for c < 0, as torch.pow gives.
    if c == 0:
        return (0.0,)
    return (out * (math.log(c) if c > 0 else math.nan),)


def _vpow_derivatives(out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    # d x^y/dx = y x^(y-1) and d x^y/dy = x^y log x, with torch.pow's choices where these are undefined:
    # d/dx is 0 at x = y = 0; d/dy is 0 at x = 0 (for y >= 0, the only exponents a zero base allows)
    # and nan for a negative base (x^y exists only at integer y, so it has no slope in y).
    # NOTE: d/dx is 0 only where x is 0 too: y x^(y-1) is 0 at any y = 0, but its own derivative in y
    # (x^(y-1) there) is not, and grad-of-grad must see it.
    xn, yn = _number(x), _number(y)
    if xn == 0 and yn <= 1 and not isinstance(x, (int, float)):
        # NOTE: rules run on Values only to differentiate again; at a zero base with y <= 1 the second
        # derivatives are infinite or undefined (torch gives nan), where the masks below would say 0.
        raise ZeroDivisionError(f"vpow: {xn!r} ** {yn!r} has infinite or undefined second derivatives")
    return (0.0 if xn == 0 and yn == 0 else y * x ** (y - 1)), _vpow_dy(out, x)


def _vpow_dy(out: Any, x: Any) -> Any:
    xn = _number(x)
    if xn > 0 or xn != xn:  # a nan base propagates
        return out * log(x)
    # out * nan, not a bare nan: differentiated again, the slope in y of a negative base is still nan
    return 0.0 if xn == 0 else out * math.nan


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise _overflow("exp", x) from None


def _log(x: float) -> float:
    if x <= 0:
        raise _domain("log", "log needs a positive input (log(0) is -inf)", x)
    return math.log(x)


def _sqrt(x: float) -> float:
    if x < 0:
        raise _domain("sqrt", "sqrt needs a non-negative input", x)
    return math.sqrt(x)


def _sigmoid(x: float) -> float:
    # NOTE: 1 / (1 + exp(-x)) overflows for x < -709; branch on the sign so exp never sees a large
    # positive argument.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    # softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows.
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _trig(fn: Callable[[float], float], name: str) -> Callable[[float], float]:
    def forward(x: float) -> float:
        if math.isinf(x):
            raise _domain(name, f"{name} of an infinite input is undefined", x)
        return fn(x)

    forward.__name__ = f"_{name}"
    return forward


def _relu(x: float) -> float:
    # NOTE: `0.0 if x <= 0 else x`, not `x if x > 0 else 0.0`: relu(nan) is nan (as in torch), not 0.
    return 0.0 if x <= 0 else x


def _leaky_relu(x: float, slope: float) -> float:
    return x if x > 0 else slope * x


def _sign(x: Any) -> float:
    # d|x| = sign(x), with 0 at x = 0 (and at nan) as PyTorch does.
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


# linear: b + Σ wᵢ·xᵢ as one node (a neuron's weighted sum), parents (w0..w(n-1), x0..x(n-1)[, b]).
# NOTE: the products are added left to right from -0.0 (the exact identity of +: -0.0 + p is p for every
# p, -0.0 included), so the sum is ((w0·x0 + w1·x1) + ...) + b, the float a chain of * and + nodes gives.
# CPython before 3.12 adds floats in sum() exactly that way, in C (a 32-term sum 1.6 -> 0.6 us); from
# 3.12 on sum() compensates rounding errors, which would change the last bits, so a loop adds instead.
if sys.version_info < (3, 12):
    def _dot(ws: Any, xs: Any) -> float:
        return sum(map(operator.mul, ws, xs), -0.0)
else:  # pragma: no cover - depends on the interpreter
    def _dot(ws: Any, xs: Any) -> float:
        out = -0.0
        for p in map(operator.mul, ws, xs):
            out += p
        return out


def weighted_sum(ws: Any, xs: Any, b: float | None) -> float:
    """b + Σ wᵢ·xᵢ on floats, added left to right as ``((w0·x0 + w1·x1) + ...) + b``, the order a chain
    of ``*`` and ``+`` nodes built left to right adds in (nn's ``expand=True``), so a fused neuron gives
    the same float as that graph. (micrograd's ``sum(..., self.b)`` adds b first, so its float can
    differ from this one in the last bit.)"""
    out = _dot(ws, xs) if len(ws) else 0.0
    if b is not None:
        out = out + b if len(ws) else b
    if _MIN <= out <= _MAX:
        return out
    # inf or nan: an overflow if every operand was finite, else IEEE arithmetic on the inf or nan given
    operands = [*ws, *xs] if b is None else [*ws, *xs, b]
    if all(map(math.isfinite, operands)):
        raise OverflowError(
            f"linear: the weighted sum Σ w·x + b of {len(ws)} products overflows a float (largest |w| "
            f"{max(map(abs, ws), default=0.0):.3g}, largest |x| {max(map(abs, xs), default=0.0):.3g}); "
            "lower lr, clip the gradient norm or standardize the data"
        )
    return out


def _linear(*p: float) -> float:
    n = len(p) // 2
    return weighted_sum(p[:n], p[n:2 * n], p[2 * n] if len(p) % 2 else None)


def _linear_derivatives(out: Any, *p: Any) -> tuple[Any, ...]:
    # ∂/∂wᵢ = xᵢ, ∂/∂xᵢ = wᵢ, ∂/∂b = 1: the parents, rearranged
    n = len(p) // 2
    return (*p[n:2 * n], *p[:n], 1.0) if len(p) % 2 else (*p[n:], *p[:n])


OPS: dict[str, Op] = {
    op.name: op
    for op in [
        Op("add", 2, _add, lambda out, x, y: (1.0, 1.0), "+"),
        Op("sub", 2, _sub, lambda out, x, y: (1.0, -1.0), "-"),
        Op("mul", 2, _mul, lambda out, x, y: (y, x), "*"),
        Op("div", 2, _div, lambda out, x, y: (1 / y, -out / y), "/"),  # d(x/y)/dy = -x/y^2
        Op("neg", 1, lambda x: -x, lambda out, x: (-1.0,), "neg"),
        Op("pow", 1, power, _pow_derivatives, "**"),  # x ** c, the exponent c an argument
        Op("rpow", 1, _rpow, _rpow_derivatives, "**"),  # c ** x, the base c an argument
        Op("vpow", 2, power, _vpow_derivatives, "**"),  # x ** y, both Values
        Op("abs", 1, abs, lambda out, x: (_sign(x),), "abs"),
        Op("exp", 1, _exp, lambda out, x: (out,), "exp"),
        Op("log", 1, _log, lambda out, x: (1 / x,), "log"),
        Op("sqrt", 1, _sqrt, lambda out, x: (0.5 / out,), "sqrt"),
        Op("tanh", 1, math.tanh, lambda out, x: (1 - out * out,), "tanh"),  # d tanh = 1 - tanh^2
        Op("sigmoid", 1, _sigmoid, lambda out, x: (out * (1 - out),), "sigmoid"),  # s (1 - s)
        # d relu = 0 where out <= 0, else 1: at nan, 1 (the nan passes through), as torch's relu
        Op("relu", 1, _relu, lambda out, x: (0.0 if out <= 0 else 1.0,), "relu"),
        Op("leaky_relu", 1, _leaky_relu, lambda out, x, a: (1.0 if x > 0 else a,), "leaky_relu"),
        Op("softplus", 1, _softplus, lambda out, x: (sigmoid(x),), "softplus"),  # d softplus = s(x)
        Op("sin", 1, _trig(math.sin, "sin"), lambda out, x: (cos(x),), "sin"),
        Op("cos", 1, _trig(math.cos, "cos"), lambda out, x: (-sin(x),), "cos"),
        Op("linear", None, _linear, _linear_derivatives, "Σ w·x + b"),
    ]
}


def singular_derivatives(op: str, *inputs: float) -> tuple[float, ...]:
    """The local derivatives where the rule divides by zero or overflows: infinities of the right sign.

    ``inputs`` are the node's inputs then its argument. Only sqrt at 0 and a power with a small base
    reach here (d sqrt(x) at 0, d x**0.5 at 0, d x**-1 at 1e-200, d 0**y at 0 < y < 1); PyTorch returns
    the same infinities.
    """
    if op == "vpow":  # d/dx = y x^(y-1) overflowed (x = ±0 with 0 < y < 1, or a tiny x); d/dy is finite
        x, y = inputs
        return _infinite_slope(x, y), _vpow_dy(power(x, y), x)
    if op == "pow":
        return (_infinite_slope(*inputs),)
    if op == "sqrt":  # d sqrt at ±0: the sign of the zero, as torch (sqrt(-0.0) is -0.0, slope -inf)
        return (math.copysign(math.inf, inputs[0]),)
    return (math.inf,)


def _infinite_slope(x: float, c: float) -> float:
    """d x^c = c x^(c-1) where x^(c-1) overflows: an infinity with the sign of c, flipped when x < 0 and
    c - 1 is odd (a negative base to an odd power is negative)."""
    sign = math.copysign(1.0, c)
    if x < 0 and int(c - 1) % 2 == 1:
        sign = -sign
    return math.copysign(math.inf, sign)

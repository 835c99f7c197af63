"""The op table: each primitive's forward rule, local-derivative rule and graph label, written once.

A local-derivative rule takes ``(out, *inputs, *args)`` and returns ∂out/∂input for each input. Rules use
only arithmetic, comparisons and the generic functions below, so the same rule runs on floats (first
order) and on Values (higher order). This module imports nothing from the package.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


# A frozen dataclass with slots, not a NamedTuple: reading op.forward is a slot read, not a tuple
# getter (3 reads per op built: 62 -> 40 ns).
@dataclass(frozen=True, slots=True)
class Op:
    """One primitive: ``forward`` on floats, ``local`` derivatives from (out, *inputs, *args)."""

    name: str
    arity: int  # number of parents (Value operands); constants such as the 3 of x ** 3 are args
    forward: Callable[..., float]
    local: Callable[..., tuple[Any, ...]]
    symbol: str  # how a graph labels the op node


# Generic math that works on floats and on anything with the method of the same name (a Value), so a
# rule such as d sin = cos x can be differentiated again.
def exp(x: Any) -> Any:
    """exp(x) of a float, or of a Value through its method."""
    return math.exp(x) if isinstance(x, (int, float)) else x.exp()


def cos(x: Any) -> Any:
    """cos(x) of a float, or of a Value through its method."""
    return math.cos(x) if isinstance(x, (int, float)) else x.cos()


def sin(x: Any) -> Any:
    """sin(x) of a float, or of a Value through its method."""
    return math.sin(x) if isinstance(x, (int, float)) else x.sin()


def sigmoid(x: Any) -> Any:
    """sigmoid(x) of a float, or of a Value through its method."""
    return _sigmoid(x) if isinstance(x, (int, float)) else x.sigmoid()


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


def _pow(x: float, c: float) -> float:
    if x == 0 and c < 0:
        raise ZeroDivisionError(f"pow: 0 ** {c!r} is a division by zero (base {x!r}, exponent {c!r})")
    if x < 0 and c != int(c):
        raise _domain("pow", "a negative base needs an integer exponent", x, c)
    try:
        return x**c
    except OverflowError:
        raise _overflow("pow", x, c) from None


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


def _leaky_relu(x: float, slope: float) -> float:
    return x if x > 0 else slope * x


def _sign(x: Any) -> float:
    # d|x| = sign(x), with 0 at x = 0 as PyTorch does.
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


OPS: dict[str, Op] = {
    op.name: op
    for op in [
        Op("add", 2, _add, lambda out, x, y: (1.0, 1.0), "+"),
        Op("sub", 2, _sub, lambda out, x, y: (1.0, -1.0), "-"),
        Op("mul", 2, _mul, lambda out, x, y: (y, x), "*"),
        Op("div", 2, _div, lambda out, x, y: (1 / y, -out / y), "/"),  # d(x/y)/dy = -x/y^2
        Op("neg", 1, lambda x: -x, lambda out, x: (-1.0,), "neg"),
        # NOTE: x ** 0 is the constant 1; without the guard its rule computes 0 * 0 ** -1 at x = 0
        # and reports an infinite slope (or raises at higher order).
        Op("pow", 1, _pow, lambda out, x, c: (c * x ** (c - 1) if c != 0 else 0.0,), "**"),  # c: an arg
        Op("abs", 1, abs, lambda out, x: (_sign(x),), "abs"),
        Op("exp", 1, _exp, lambda out, x: (out,), "exp"),
        Op("log", 1, _log, lambda out, x: (1 / x,), "log"),
        Op("sqrt", 1, _sqrt, lambda out, x: (0.5 / out,), "sqrt"),
        Op("tanh", 1, math.tanh, lambda out, x: (1 - out * out,), "tanh"),  # d tanh = 1 - tanh^2
        Op("sigmoid", 1, _sigmoid, lambda out, x: (out * (1 - out),), "sigmoid"),  # s (1 - s)
        Op("relu", 1, lambda x: x if x > 0 else 0.0, lambda out, x: (1.0 if x > 0 else 0.0,), "relu"),
        Op("leaky_relu", 1, _leaky_relu, lambda out, x, a: (1.0 if x > 0 else a,), "leaky_relu"),
        Op("softplus", 1, _softplus, lambda out, x: (sigmoid(x),), "softplus"),  # d softplus = s(x)
        Op("sin", 1, _trig(math.sin, "sin"), lambda out, x: (cos(x),), "sin"),
        Op("cos", 1, _trig(math.cos, "cos"), lambda out, x: (-sin(x),), "cos"),
    ]
}


def singular_local(op: str, x: float, *args: float) -> tuple[float, ...]:
    """The local derivative where the rule divides by zero or overflows: an infinity of the right sign.

    Only sqrt at 0 and pow with a small base reach here (e.g. d sqrt(x) at 0, d x**0.5 at 0, d x**-1 at
    1e-200); PyTorch returns the same infinities.
    """
    if op == "pow":
        (c,) = args
        sign = math.copysign(1.0, c)
        if x < 0 and int(c - 1) % 2 == 1:
            sign = -sign
        return (math.copysign(math.inf, sign),)
    return (math.inf,)

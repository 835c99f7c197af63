"""Where each op of the op table is defined and differentiable, and interval bounds of its result: the
facts the strategies use to keep random graphs and points inside every op's domain."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

Interval = tuple[float, float]

INPUT_RANGE = 2.0  # points() draws every input from [-INPUT_RANGE, INPUT_RANGE]
BOX = 2.5  # bounds are computed over this larger box, so finite-difference steps stay inside it
MARGIN = 0.25  # a guarded operand is >= MARGIN (positive) or >= MARGIN in magnitude (non-zero)
BOUND = 100.0  # every node's value lies in [-BOUND, BOUND] on the box: keeps derivatives tame
KINK_MARGIN = 1e-3  # points() keeps kink-op arguments this far from the kink


def _increasing(fn: Callable[..., float]) -> Callable[[tuple[Interval, ...], Any], Interval]:
    def image(bounds: tuple[Interval, ...], arg: Any) -> Interval:
        (lo, hi), extra = bounds[0], () if arg is None else (arg,)
        return fn(lo, *extra), fn(hi, *extra)

    return image


def _hull(*xs: float) -> Interval:
    return min(xs), max(xs)


def _mul(b: tuple[Interval, ...], arg: Any) -> Interval:
    (a0, a1), (b0, b1) = b
    return _hull(a0 * b0, a0 * b1, a1 * b0, a1 * b1)


def _div(b: tuple[Interval, ...], arg: Any) -> Interval:
    (a0, a1), (b0, b1) = b  # b0 > 0 or b1 < 0: the builder keeps denominators away from 0
    return _mul(((a0, a1), (1 / b1, 1 / b0)), None)


def _pow(b: tuple[Interval, ...], c: float) -> Interval:
    # x ** c is monotone on each side of 0, so the extremes are at the ends or at 0.
    (lo, hi) = b[0]
    ends = [lo**c, hi**c]
    if lo < 0 < hi and c > 0:
        ends.append(0.0)
    return _hull(*ends)


def _rpow(b: tuple[Interval, ...], c: float) -> Interval:
    (lo, hi) = b[0]  # c ** x is monotone in x for a positive base c
    return _hull(c**lo, c**hi)


def _vpow(b: tuple[Interval, ...], arg: Any) -> Interval:
    # x ** y with x > 0 is monotone in each operand, so the extremes are at the corners
    (a0, a1), (b0, b1) = b
    return _hull(a0**b0, a0**b1, a1**b0, a1**b1)


def _linear(b: tuple[Interval, ...], arg: Any) -> Interval:
    n = len(b) // 2
    lo, hi = b[2 * n] if len(b) % 2 else (0.0, 0.0)
    for w, x in zip(b[:n], b[n:2 * n]):
        p0, p1 = _mul((w, x), None)
        lo, hi = lo + p0, hi + p1
    return lo, hi


def _abs(b: tuple[Interval, ...], arg: Any) -> Interval:
    (lo, hi) = b[0]
    return (0.0 if lo < 0 < hi else min(abs(lo), abs(hi))), max(abs(lo), abs(hi))


def _natural(c: float | None) -> bool:
    return c is not None and c >= 0 and c == int(c)


class Domain(NamedTuple):
    """Where one op is defined and differentiable, and how the strategies keep its operands there."""

    note: str
    image: Callable[[tuple[Interval, ...], Any], Interval]  # bounds of the result from operand bounds
    positive: Callable[[float | None], tuple[int, ...]] = lambda arg: ()  # operands that must be > 0
    nonzero: tuple[int, ...] = ()  # operands that must be != 0
    kinks: tuple[float, ...] = ()  # values of operand 0 where the op has no derivative
    args: tuple[float, ...] = ()  # the constant argument drawn for the op (pow exponent, slope)


DOMAINS: dict[str, Domain] = {
    "add": Domain("all reals", lambda b, _: (b[0][0] + b[1][0], b[0][1] + b[1][1])),
    "sub": Domain("all reals", lambda b, _: (b[0][0] - b[1][1], b[0][1] - b[1][0])),
    "mul": Domain("all reals", _mul),
    "div": Domain("denominator != 0: kept >= MARGIN in magnitude", _div, nonzero=(1,)),
    "neg": Domain("all reals", lambda b, _: (-b[0][1], -b[0][0])),
    "pow": Domain(
        "x ** c: any x for a natural c, x > 0 otherwise (kept >= MARGIN)",
        _pow,
        positive=lambda c: () if _natural(c) else (0,),
        args=(2.0, 3.0, 1.0, 0.0, -1.0, -2.0, 0.5, 1.5, -0.5),
    ),
    "rpow": Domain("c ** x for a positive constant base c: all reals", _rpow, args=(2.0, 0.5, 3.0, 1.5)),
    "vpow": Domain("x ** y of two Values: x > 0 (kept >= MARGIN), any y", _vpow,
                   positive=lambda arg: (0,)),
    "abs": Domain("all reals; kink at 0", _abs, kinks=(0.0,)),
    "exp": Domain("all reals (results bounded by BOUND)", _increasing(math.exp)),
    "log": Domain("x > 0: kept >= MARGIN", _increasing(math.log), positive=lambda arg: (0,)),
    "sqrt": Domain("x > 0 (d sqrt is infinite at 0): kept >= MARGIN", _increasing(math.sqrt),
                   positive=lambda arg: (0,)),
    "tanh": Domain("all reals", _increasing(math.tanh)),
    "sigmoid": Domain("all reals", _increasing(lambda x: 1 / (1 + math.exp(-x)))),
    "relu": Domain("all reals; kink at 0", _increasing(lambda x: max(x, 0.0)), kinks=(0.0,)),
    "leaky_relu": Domain(
        "all reals; kink at 0", _increasing(lambda x, a: x if x > 0 else a * x), kinks=(0.0,),
        args=(0.01, 0.1, 0.5),
    ),
    "softplus": Domain("all reals", _increasing(lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))))),
    "sin": Domain("all reals", lambda b, _: (-1.0, 1.0)),
    "cos": Domain("all reals", lambda b, _: (-1.0, 1.0)),
    "linear": Domain("b + Σ wᵢ·xᵢ: all reals (operands w0..w(n-1), x0..x(n-1), b)", _linear),
}

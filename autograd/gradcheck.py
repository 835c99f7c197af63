"""Gradient checking: compare the engine's derivatives, to any order, with central finite differences.

``gradcheck`` treats ``f`` as a black box (it never reads the op table), so it can catch a wrong rule.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from .backprop import gradients
from .value import Value

Index = tuple[int, ...]


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with its finite-difference estimate (an AssertionError, so
    pytest reports it as a test failure)."""


def gradcheck(
    f: Callable[..., Any],
    *args: float,
    order: int = 1,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> bool:
    """Check every partial derivative of ``f`` at ``args`` up to ``order`` against finite differences.

    Order 1 compares the gradient with central differences of ``f``; order k compares each k-th
    derivative with central differences of the engine's (k-1)-th derivatives. An entry passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``. Returns True or raises ``GradcheckError``.

    >>> gradcheck(lambda x, y: x.sin() * y, 0.5, 2.0, order=2)
    True
    """
    name = _check_inputs(f, args, order, eps, atol, rtol)
    point = tuple(float(a) for a in args)
    failures: list[str] = []
    for k in range(1, order + 1):
        analytic = _partials(f, point, k, name)
        lower = {  # the (k-1)-th derivatives at point ± eps along each argument
            (i, sign): _partials(f, _shift(point, i, sign * eps), k - 1, name)
            for i in range(len(point))
            for sign in (1, -1)
        }
        for index, a in analytic.items():
            *head, i = index
            numeric = (lower[i, 1][tuple(head)] - lower[i, -1][tuple(head)]) / (2 * eps)
            tolerance = atol + rtol * abs(numeric)
            # NOTE: `not <=` rather than `>` so a nan on either side counts as a failure.
            if not abs(a - numeric) <= tolerance:
                failures.append(
                    f"{_partial_name(index)}: analytic {a!r}, numeric {numeric!r}, "
                    f"|difference| {abs(a - numeric):.3g} > tolerance {tolerance:.3g}"
                )
        if failures:
            shown = "\n  ".join(failures[:10])
            more = f"\n  ... and {len(failures) - 10} more" if len(failures) > 10 else ""
            raise GradcheckError(
                f"gradcheck of {name} at {point!r} (order {k}, eps={eps!r}, atol={atol!r}, rtol={rtol!r}):"
                f" {len(failures)} of {len(analytic)} derivatives disagree with finite differences\n  "
                f"{shown}{more}"
            )
    return True


def _check_inputs(
    f: Any, args: Sequence[Any], order: Any, eps: Any, atol: Any, rtol: Any
) -> str:
    if not callable(f):
        raise TypeError(f"gradcheck needs a callable f, got {type(f).__name__} ({f!r})")
    name = getattr(f, "__qualname__", None) or repr(f)
    if not args:
        raise ValueError(f"gradcheck of {name}: pass the point to check at, e.g. gradcheck(f, 0.5, 2.0)")
    for i, a in enumerate(args):
        if isinstance(a, bool) or not isinstance(a, numbers.Real):
            raise TypeError(
                f"gradcheck of {name}: argument {i} must be an int or float, got {type(a).__name__} ({a!r})"
            )
        if not math.isfinite(a):
            raise ValueError(f"gradcheck of {name}: argument {i} is {a!r}; pass a finite point")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"gradcheck: order must be an int >= 1, got {order!r}")
    for what, x in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"gradcheck: {what} must be a number, got {x!r}")
        if not math.isfinite(x):
            raise ValueError(f"gradcheck: {what} must be finite, got {x!r}")
    if eps <= 0:
        raise ValueError(f"gradcheck: eps must be > 0 (the finite-difference step), got {eps!r}")
    if atol < 0 or rtol < 0:
        raise ValueError(f"gradcheck: atol and rtol must be >= 0, got atol={atol!r}, rtol={rtol!r}")
    return name


def _partials(f: Callable[..., Any], point: tuple[float, ...], k: int, name: str) -> dict[Index, float]:
    """Every k-th partial derivative of f at point, keyed by the argument indices differentiated."""
    xs = [Value(x) for x in point]
    out = f(*xs)
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        out = Value(float(out))  # a function that ignores its inputs: every derivative is 0
    if not isinstance(out, Value):
        raise TypeError(
            f"gradcheck of {name}: f must return a Value or a number, got {type(out).__name__} ({out!r})"
        )
    level: dict[Index, Any] = {(): out}
    for depth in range(k):
        # Record a graph for every level but the last, so it can be differentiated again.
        record = depth < k - 1
        level = {
            index + (i,): g
            for index, v in level.items()
            for i, g in enumerate(gradients(v, xs, create_graph=record))
        }
    return {index: v.data if isinstance(v, Value) else float(v) for index, v in level.items()}


def _shift(point: tuple[float, ...], i: int, step: float) -> tuple[float, ...]:
    return point[:i] + (point[i] + step,) + point[i + 1 :]


def _partial_name(index: Index) -> str:
    """'∂f/∂x1 (argument 1)'; '∂²f/∂x0∂x1 (arguments 0, 1)' for a mixed second derivative."""
    k = len(index)
    top = "∂f" if k == 1 else f"∂{_superscript(k)}f"
    wrt = "".join(f"∂x{i}" for i in index)
    which = ", ".join(str(i) for i in index)
    return f"{top}/{wrt} (argument{'s' if k > 1 else ''} {which})"


def _superscript(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


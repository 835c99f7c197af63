"""Functional gradients: ``grad``, ``value_and_grad`` and ``hessian`` of plain Python functions.

Each call differentiates with respect to fresh nodes made for that call. That is what keeps nested
``grad`` free of *perturbation confusion*: in

    grad(lambda x: x * grad(lambda y: x + y)(1.0))(2.0)

the inner call differentiates ``x + y`` with respect to its own fresh ``y`` only, so it returns 1 (not 2,
which is what you get if the inner derivative also counts the outer ``x``); the outer result is 1.0.
Inside an enclosing ``grad`` the inner results are Values that keep their dependence on the outer
arguments, so ``grad(grad(f))`` is the second derivative, to any order.
"""

from __future__ import annotations

import functools
import numbers
import threading
from collections.abc import Callable, Sequence
from typing import Any, Union

from .backprop import gradients
from .value import Value, is_grad_enabled

ArgNums = Union[int, Sequence[int]]


class _Nesting(threading.local):
    """How many grad/hessian calls of this thread are evaluating their function right now. Inside one,
    results must stay Values (the enclosing call differentiates them); at the top level they are floats.
    Per thread: another thread's grad call says nothing about this one's nesting."""

    depth = 0


_nesting = _Nesting()


def _fresh(x: Any, name: str, i: int) -> Value:
    if isinstance(x, Value):
        # A new node that depends on x: the inner derivative is taken with respect to it alone.
        return x + 0.0
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(
            f"{name}: argument {i} must be a number or a Value to differentiate, got "
            f"{type(x).__name__}"
        )
    return Value(float(x))


def _require_grad(name: str) -> None:
    # NOTE: under no_grad() f would build no graph and every derivative would silently come out 0.
    if not is_grad_enabled():
        raise RuntimeError(f"{name} cannot differentiate inside no_grad(); call it outside the block")


def _argnums(argnums: ArgNums, nargs: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or isinstance(i, bool) or not -nargs <= i < nargs:
            raise ValueError(
                f"{name}: argnums {argnums!r} does not fit a call with {nargs} positional arguments"
            )
    return tuple(i % nargs for i in nums)


def _output(y: Any, name: str, f: Callable[..., Any]) -> Value:
    if isinstance(y, Value):
        return y
    if isinstance(y, (int, float)) and not isinstance(y, bool):
        return Value(float(y))  # a function that ignores its inputs: every derivative is 0
    raise TypeError(
        f"{name}: {getattr(f, '__name__', f)!r} must return a Value (a scalar), got "
        f"{type(y).__name__}"
    )


def _call_at_fresh_nodes(
    f: Callable[..., Any], args: tuple[Any, ...], nums: tuple[int, ...], name: str
) -> tuple[Value, list[Value], bool]:
    """Run f with fresh nodes at positions ``nums``: its output, those nodes, and whether the result
    must stay a graph (an enclosing grad is differentiating it)."""
    _require_grad(name)
    nested = _nesting.depth > 0 or any(isinstance(args[i], Value) for i in nums)
    call = list(args)
    for i in nums:
        call[i] = _fresh(args[i], name, i)
    _nesting.depth += 1
    try:
        y = _output(f(*call), name, f)
    finally:
        _nesting.depth -= 1
    return y, [call[i] for i in nums], nested


def _differentiate(
    f: Callable[..., Any], args: tuple[Any, ...], argnums: ArgNums, name: str
) -> tuple[Value, tuple[Any, ...], bool]:
    """Run f on fresh nodes; return its output, the gradients and whether they were recorded."""
    y, xs, nested = _call_at_fresh_nodes(f, args, _argnums(argnums, len(args), name), name)
    return y, gradients(y, xs, create_graph=nested), nested


def grad(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """A function returning ∂f/∂argument: a float, or a tuple when ``argnums`` is a tuple.

    >>> grad(lambda x: x ** 3)(2.0)
    12.0
    >>> grad(grad(grad(lambda x: x ** 3)))(2.0)
    6.0
    >>> grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0)
    (5.0, 2.0)
    """
    if not callable(f):
        raise TypeError(f"grad needs a callable, got {type(f).__name__}")

    @functools.wraps(f)
    def grad_f(*args: Any) -> Any:
        _, grads, _ = _differentiate(f, args, argnums, "grad")
        return grads[0] if isinstance(argnums, int) else grads

    return grad_f


def value_and_grad(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """A function returning ``(f(*args), ∂f/∂argument)`` from one evaluation of f.

    >>> value_and_grad(lambda x: x * x)(3.0)
    (9.0, 6.0)
    """
    if not callable(f):
        raise TypeError(f"value_and_grad needs a callable, got {type(f).__name__}")

    @functools.wraps(f)
    def value_and_grad_f(*args: Any) -> tuple[Any, Any]:
        y, grads, nested = _differentiate(f, args, argnums, "value_and_grad")
        out = y if nested else y.data
        return out, grads[0] if isinstance(argnums, int) else grads

    return value_and_grad_f


def hessian(f: Callable[..., Any]) -> Callable[..., list[list[Any]]]:
    """A function returning the n×n matrix of second derivatives for n scalar positional arguments.

    >>> hessian(lambda x, y: x * x * y)(3.0, 2.0)
    [[4.0, 6.0], [6.0, 0.0]]
    """
    if not callable(f):
        raise TypeError(f"hessian needs a callable, got {type(f).__name__}")

    @functools.wraps(f)
    def hessian_f(*args: Any) -> list[list[Any]]:
        if not args:
            raise ValueError("hessian: the function needs at least one scalar argument")
        y, xs, nested = _call_at_fresh_nodes(f, args, tuple(range(len(args))), "hessian")
        first = gradients(y, xs, create_graph=True)
        return [list(gradients(g, xs, create_graph=nested)) for g in first]

    return hessian_f

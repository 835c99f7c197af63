"""Asserting a function's derivatives, and planting a wrong derivative rule to show that a test fails."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..gradcheck import gradcheck
from ..ops import OPS, Op


def assert_gradients_close(
    f: Callable[..., Any], *args: float, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4
) -> None:
    """Assert that f's first and second derivatives at ``args`` match finite differences.

    A shorthand for ``gradcheck(f, *args, order=2, ...)``; raises ``GradcheckError`` (an AssertionError).

    >>> assert_gradients_close(lambda x, y: (x * y).tanh(), 0.3, -1.2)
    """
    gradcheck(f, *args, order=2, eps=eps, atol=atol, rtol=rtol)


@contextmanager
def planted_rule(name: str, local: Callable[..., tuple[Any, ...]]) -> Iterator[Op]:
    """Inside the block, op ``name`` uses the local-derivative rule ``local``: a deliberately wrong rule
    shows that a test catches it. Yields the original Op, whose ``.derivatives`` a wrong rule can wrap.

    >>> from autograd import grad
    >>> with planted_rule("sin", lambda out, x: (out,)):  # wrong: d sin = sin
    ...     grad(lambda x: x.sin())(0.0)
    0.0
    >>> grad(lambda x: x.sin())(0.0)
    1.0
    """
    if name not in OPS:
        raise ValueError(f"no op named {name!r}; choose one of {list(OPS)}")
    op = OPS[name]
    original = dataclasses.replace(op)
    # NOTE: the Op is changed in place, not replaced in the table: value.py's operators hold their Op in
    # a closure, so a new table entry would leave first-order gradients on the old rule.
    object.__setattr__(op, "derivatives", local)  # Op is frozen against accidents, not against this
    try:
        yield original
    finally:
        object.__setattr__(op, "derivatives", original.derivatives)

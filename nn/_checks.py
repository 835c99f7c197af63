"""Argument checks shared by the nn modules: what counts as an int, a number, a flag, a sample and a batch,
and the errors that say what to pass instead.

Python's ``True`` is an ``int`` (and so a ``numbers.Real``); nowhere in nn is a bool a count, a rate or a
feature, so every check here refuses it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import TypeGuard, TypeVar

from autograd import Constant, Value

K = TypeVar("K")
V = TypeVar("V")


def is_int(x: object) -> TypeGuard[int]:
    """True for an int (a NumPy integer too), False for a bool."""
    return type(x) is int or (not isinstance(x, bool) and isinstance(x, numbers.Integral))


def is_real(x: object) -> TypeGuard[float]:
    """True for a real number (an int, a float, a NumPy scalar), False for a bool."""
    t = type(x)
    # float and int first: isinstance against the numbers ABC is the slow check
    return t is float or t is int or (not isinstance(x, bool) and isinstance(x, numbers.Real))


def integer(name: str, x: object, minimum: int | None = None) -> int:
    """``x`` as an int, if it is one (not a bool) and at least ``minimum``; else TypeError or ValueError."""
    if not is_int(x):
        raise TypeError(f"{name} must be an int, got {type(x).__name__} ({x!r})")
    value = int(x)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def real(name: str, x: object, *, finite: bool = True) -> float:
    """``float(x)`` for a real number (not a bool), finite unless ``finite=False``; else TypeError or
    ValueError (an int too large for a float too)."""
    if not is_real(x):
        raise TypeError(f"{name} must be a number, got {type(x).__name__} ({x!r})")
    try:
        value = float(x)
    except OverflowError:  # an int such as 10**400
        raise ValueError(f"{name} is too large to convert to float; pass a finite number") from None
    if finite and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def flag(name: str, x: object) -> bool:
    """``x`` if it is True or False; else TypeError (1 and "yes" are not flags)."""
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {type(x).__name__} ({x!r})")
    return x


def as_value(x: object, where: str) -> Value:
    """A Value as it is, a real number as a new Constant (no grad); else TypeError naming ``where``.

    No finiteness check: a nan prediction gives a nan loss, which fit reports with the batch it came from.
    """
    if isinstance(x, Value):
        return x
    if type(x) is float:
        return Constant(x)
    if not is_real(x):
        raise TypeError(f"{where} must be a Value or a number, got {type(x).__name__} ({x!r})")
    return Constant(real(where, x, finite=False))


def is_batch(x: object) -> bool:
    """True for a non-empty list of samples (a list or tuple whose first item is a list or tuple)."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and isinstance(x[0], (list, tuple))


def sample_problem(x: object, nin: int | None, values: bool = True) -> tuple[str, int] | None:
    """What keeps ``x`` from being a sample of ``nin`` features (any number when None), or None.

    A sample is a list or tuple of finite numbers (or Values, when ``values``). The problem is a kind and,
    for one feature, its index: ("list", -1) not a list, ("nested", -1) a list of lists (a batch?),
    ("count", -1) not ``nin`` features, ("type", j) feature j not a number, ("finite", j) nan or inf. The
    callers word the error for their reader (a layer's input, a data set's row).
    """
    if not isinstance(x, (list, tuple)):
        return "list", -1
    if values and x and isinstance(x[0], (list, tuple)):
        return "nested", -1
    if nin is not None and len(x) != nin:
        return "count", -1
    for j, v in enumerate(x):
        t = type(v)
        if t is float:
            if not math.isfinite(v):
                return "finite", j
        elif t is Value or isinstance(v, Value):
            if not values:
                return "type", j
        elif not is_real(v):
            return "type", j
        elif not _finite(v):
            return "finite", j
    return None


def _finite(x: float) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an int too large for a float, which it becomes in a Constant
        return False


class DuplicateKeyError(ValueError):
    """A key given twice where each may appear once; ``key`` is the first such key."""

    def __init__(self, key: object) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def unique_dict(pairs: Iterable[tuple[K, V]]) -> dict[K, V]:
    """``dict(pairs)``, but a key given twice raises DuplicateKeyError (dict() would keep the last one)."""
    out: dict[K, V] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out

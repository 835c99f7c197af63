"""Argument checks shared by the nn modules: each raises the error that says what to pass instead."""

from __future__ import annotations

import math
import numbers


def positive_int(name: str, x: object) -> int:
    """``x`` if it is an int >= 1 (not a bool); else TypeError or ValueError naming ``name``."""
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{name} must be an int, got {type(x).__name__} ({x!r})")
    if x < 1:
        raise ValueError(f"{name} must be >= 1, got {x}")
    return x


def finite_number(name: str, x: object) -> float:
    """``float(x)`` if ``x`` is a finite real number (not a bool); else TypeError or ValueError."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(x).__name__} ({x!r})")
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def is_batch(x: object) -> bool:
    """True for a non-empty list of samples (a list or tuple whose first item is a list or tuple)."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and isinstance(x[0], (list, tuple))

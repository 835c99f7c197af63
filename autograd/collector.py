"""The collector hold: Python's cyclic garbage collector held back while a graph is built and backpropagated.

A Value is in no reference cycle, so reference counting frees every graph, and the collector's passes
over one find nothing to free; yet each full pass walks the whole graph, and as a graph grows they come
more often.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

# The collector's first threshold while held: a young collection every 100,000 new container objects
# instead of Python's 700, so a graph's nodes are walked about once, not in full pass after full pass.
# Measured by benchmarks/run.py (CPU time): micrograd's demo step in a training loop 151 -> 48 ms; a
# chain's time per node at 10^6 over that at 10^4, 2.78 -> 1.36. Not gc.disable(): a graph kept alive
# and never backpropagated (common in a notebook) leaves the collector slowed, never stopped.
# NOTE: process-wide, like the collector itself: a hold started by one thread's graph covers them all.
HOLD_THRESHOLD = 100_000

_enabled = True
# The thresholds to restore and the ones set, while this module holds the collector back; else None.
_saved: tuple[int, int, int] | None = None
_set: tuple[int, int, int] | None = None
# A weak reference to the first node built under the hold: the hold ends when that graph is freed.
_first: weakref.ref[Any] | None = None


def hold(first: Any) -> None:
    """Raise the collector's first threshold while the graph that ``first`` starts is alive.

    Called by value.py for the first node built while no hold is on; ended by ``release()``.
    """
    global _saved, _set, _first
    from . import value

    value._hold_pending = False
    if _saved is not None:
        return
    current = gc.get_threshold()
    # Leave a collector the user has turned off or already tuned higher.
    if not gc.isenabled() or current[0] == 0 or current[0] >= HOLD_THRESHOLD:
        return
    _saved, _set = current, (HOLD_THRESHOLD, *current[1:])
    gc.set_threshold(*_set)
    _first = weakref.ref(first, _freed)


def release() -> None:
    """End the hold (a backward pass ended, or the graph was freed): put the user's thresholds back."""
    global _saved, _set, _first
    from . import value

    value._hold_pending = _enabled
    saved, _saved, _first = _saved, None, None
    # NOTE: thresholds the user changed during the hold are theirs; only the ones set here are undone.
    if saved is not None and gc.get_threshold() == _set:
        gc.set_threshold(*saved)


def _freed(ref: weakref.ref[Any]) -> None:
    if ref is _first:  # not a graph from before the current hold
        release()


def set_gc_hold(enabled: bool) -> None:
    """Turn the collector hold on (the default) or off; off, the collector runs as Python sets it.

    >>> set_gc_hold(False); is_gc_hold_enabled()
    False
    >>> set_gc_hold(True)
    """
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_gc_hold takes True or False, got {type(enabled).__name__}")
    _enabled = enabled
    release()


def is_gc_hold_enabled() -> bool:
    """True while graph building holds Python's cyclic collector back (see ``set_gc_hold``)."""
    return _enabled

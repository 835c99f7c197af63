"""The collector hold: Python's cyclic garbage collector held back while a graph is built and backpropagated.

A Value is in no reference cycle, so reference counting frees every graph, and the collector's passes
over one find nothing to free; yet each full pass walks the whole graph, and as a graph grows they come
more often.
"""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

# The collector's first threshold while held: a young collection every 100,000 new container objects
# instead of Python's 700, so a graph's nodes are walked about once, not in full pass after full pass.
# Measured by benchmarks/run.py --full (CPU time): micrograd's demo step in a training loop 151 -> 48 ms
# (RESULTS.md, the "collector hold off" row); a chain's time per node at 10^6 over that at 10^4, 2.78
# (the run before the hold) -> 1.30. Not gc.disable(): a graph kept alive and never backpropagated
# (common in a notebook) leaves the collector slowed, never stopped.
# NOTE: process-wide, like the collector itself: a hold started by one thread's graph covers them all,
# and any thread's backward ends it (the next node built, in any thread, starts a new one).
HOLD_THRESHOLD = 100_000

_enabled = True
# True when the next node built starts a graph and should hold the collector back (value.py reads it).
pending = True
# The user's thresholds, to restore, while this module holds the collector back; else None.
_saved: tuple[int, int, int] | None = None
# A weak reference to the first node built under the hold: the hold ends when that graph is freed.
_first: weakref.ref[Any] | None = None
# hold() and release() read and write the state above together (one graph's backward in one thread can
# end a hold another thread is starting); a reentrant lock, since a weakref callback can run inside them.
_lock = threading.RLock()


def hold(first: Any) -> None:
    """Raise the collector's first threshold while the graph that ``first`` starts is alive.

    Called by value.py for the first node built while ``pending``; ended by ``release()``.
    """
    global _saved, _first, pending
    with _lock:
        pending = False
        if _saved is not None:
            return
        current = gc.get_threshold()
        # Leave a collector the user has turned off or already tuned higher.
        if not gc.isenabled() or current[0] == 0 or current[0] >= HOLD_THRESHOLD:
            return
        # The state first: a release interrupted before set_threshold below finds nothing of its own to undo.
        _saved = current
        _first = weakref.ref(first, _freed)
        gc.set_threshold(*_held(current))


def release() -> None:
    """End the hold (a backward pass ended, or the graph was freed): put the user's thresholds back."""
    global _saved, _first, pending
    with _lock:
        pending = _enabled
        # NOTE: thresholds the user changed during the hold are theirs; only the ones set here are undone,
        # and before the state is cleared, so an interrupt in between cannot leave them set for good.
        if _saved is not None and gc.get_threshold() == _held(_saved):
            gc.set_threshold(*_saved)
        _saved = _first = None


def _held(saved: tuple[int, int, int]) -> tuple[int, int, int]:
    return (HOLD_THRESHOLD, *saved[1:])


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

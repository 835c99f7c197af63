"""Clocks for the benchmarks: one timed call with the cyclic garbage collector on or off, medians, RSS."""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

GC_MODES = ("on", "off")

# CPU time of this process, not wall time: the benchmarks run on shared machines, where wall time also
# counts the time other processes hold the cores (measured here: wall-clock figures 2x apart between two
# runs under load, CPU-time figures within a few percent).
clock = time.process_time


def time_call(fn: Callable[[], Any], gc_mode: str) -> tuple[float, Any]:
    """Seconds taken by ``fn()`` and its result.

    ``gc_mode="on"`` leaves the collector as it is (on, with the garbage earlier calls left behind: the
    steady state a user's training loop runs in). ``"off"`` collects first (untimed) and disables the
    collector for the call, so the figure is the interpreter's work alone. (The workloads also free the
    previous graph untimed before an "off" call: micrograd's graph, a web of reference cycles, can only
    be freed by that collection, so every engine's freeing is left out alike.)
    """
    if gc_mode not in GC_MODES:
        raise ValueError(f"gc_mode must be one of {GC_MODES}, got {gc_mode!r}")
    if gc_mode == "on":
        start = clock()
        result = fn()
        return clock() - start, result
    gc.collect()
    gc.disable()
    try:
        start = clock()
        result = fn()
        elapsed = clock() - start
    finally:
        gc.enable()
    return elapsed, result


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def rss_bytes() -> int:
    """The resident set size of this process now (Linux /proc; 0 where it is not available)."""
    try:
        with open("/proc/self/statm") as f:
            resident_pages = int(f.read().split()[1])
    except OSError:
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


# Python's own thresholds, read before any graph is built.
PYTHON_THRESHOLDS = gc.get_threshold()


def fresh_heap() -> None:
    """Collect every generation so that garbage from a previous engine is not charged to the next one.

    Also checks that no collector hold of chainrule's is on (it ends with each backward pass or graph):
    one left on would speed up the next engine's measurement too.
    """
    if gc.get_threshold() != PYTHON_THRESHOLDS:
        raise AssertionError(f"the collector's thresholds are {gc.get_threshold()}, not Python's "
                             f"{PYTHON_THRESHOLDS}: a collector hold outlived its graph")
    gc.collect()
    gc.collect()

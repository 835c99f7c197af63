"""The collector hold: thresholds raised while a graph is built, the user's put back after backward or once
the graph is freed, and a collector the user turned off or tuned left alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from autograd import Value, collector, gradients, is_gc_hold_enabled, no_grad, set_gc_hold

DEFAULT = (700, 10, 10)
HELD = (collector.HOLD_THRESHOLD, 10, 10)


@pytest.fixture(autouse=True)
def clean_collector() -> Iterator[None]:
    """Every test starts with the collector on, Python's thresholds and no hold; and leaves it so."""
    saved, was_enabled = gc.get_threshold(), gc.isenabled()
    set_gc_hold(True)
    gc.set_threshold(*DEFAULT)
    gc.enable()
    yield
    set_gc_hold(True)
    gc.set_threshold(*saved)
    (gc.enable if was_enabled else gc.disable)()


def test_building_a_graph_holds_and_backward_restores() -> None:
    x = Value(2.0)
    assert gc.get_threshold() == DEFAULT  # a leaf is no graph yet
    y = x * x + 1
    assert gc.get_threshold() == HELD
    y.backward()
    assert gc.get_threshold() == DEFAULT
    assert x.grad == 4.0
    z = y.tanh()  # the next graph holds again
    assert gc.get_threshold() == HELD
    del z


def test_gradients_restores_too() -> None:
    x = Value(3.0)
    y = x * x
    assert gc.get_threshold() == HELD
    assert gradients(y, [x]) == (6.0,)
    assert gc.get_threshold() == DEFAULT


def test_freeing_a_graph_never_backpropagated_restores() -> None:
    x = Value(2.0)
    y = (x * 3).exp()
    assert gc.get_threshold() == HELD
    del y  # refcounting frees the graph at once: no cycle holds it
    assert gc.get_threshold() == DEFAULT


def test_an_older_graph_freed_does_not_end_the_current_hold() -> None:
    x = Value(2.0)
    old = x * 2
    old.backward()  # restores; `old` stays alive
    new = x * 3  # a new hold, started by this graph
    assert gc.get_threshold() == HELD
    del old
    assert gc.get_threshold() == HELD
    del new
    assert gc.get_threshold() == DEFAULT


def test_thresholds_the_user_changes_during_a_hold_are_kept() -> None:
    y = Value(1.0) * 2
    gc.set_threshold(5000, 20, 20)
    y.backward()
    assert gc.get_threshold() == (5000, 20, 20)


@pytest.mark.parametrize("threshold", [(0, 10, 10), (200_000, 10, 10)], ids=["automatic off", "tuned higher"])
def test_a_collector_turned_off_or_tuned_higher_is_left_alone(threshold: tuple[int, int, int]) -> None:
    gc.set_threshold(*threshold)
    y = Value(1.0) * 2
    assert gc.get_threshold() == threshold
    y.backward()
    assert gc.get_threshold() == threshold


def test_a_disabled_collector_is_left_alone() -> None:
    gc.disable()
    y = Value(1.0) * 2
    assert gc.get_threshold() == DEFAULT and not gc.isenabled()
    y.backward()
    assert not gc.isenabled()


def test_set_gc_hold_false_turns_it_off_and_ends_a_hold() -> None:
    y = Value(1.0) * 2
    assert gc.get_threshold() == HELD
    set_gc_hold(False)
    assert not is_gc_hold_enabled()
    assert gc.get_threshold() == DEFAULT
    z = y * 3
    assert gc.get_threshold() == DEFAULT
    set_gc_hold(True)
    w = z * 2
    assert gc.get_threshold() == HELD
    del w


def test_set_gc_hold_takes_a_bool() -> None:
    with pytest.raises(TypeError, match="True or False"):
        set_gc_hold(1)  # type: ignore[arg-type]


def _full_collections_while(build: object) -> int:
    """How many full (generation 2) collections run while ``build()`` runs."""
    seen = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(1)

    gc.collect()
    gc.callbacks.append(count)
    try:
        build()  # type: ignore[operator]
    finally:
        gc.callbacks.remove(count)
    return len(seen)


def _chain(n: int) -> None:
    w, y = Value(1.0), Value(0.5)
    for _ in range(n):
        y = y * w
    y.backward()
    assert w.grad == 0.5 * n


def test_the_hold_spares_a_deep_chain_the_full_collections() -> None:
    # What the hold buys, counted rather than timed: Python's default thresholds run full passes over
    # the growing chain while it is built; held, none runs.
    n = 300_000
    assert _full_collections_while(lambda: _chain(n)) == 0
    set_gc_hold(False)
    assert _full_collections_while(lambda: _chain(n)) >= 1


def test_no_grad_results_are_no_graph_and_start_no_hold() -> None:
    # (a hold per leaf would set and reset the thresholds at almost every op of a no_grad loop)
    with no_grad():
        y = (Value(1.0) * 2).tanh()
        assert gc.get_threshold() == DEFAULT
    del y


def test_a_one_operand_op_starts_a_hold_too() -> None:
    y = Value(0.5).tanh()
    assert gc.get_threshold() == HELD
    del y


def test_threads_building_and_backpropagating_at_once_leave_the_thresholds_as_they_were() -> None:
    # Each thread's backward ends the hold for all; hold and release must never interleave halfway
    # (a release between hold's bookkeeping and its set_threshold left the threshold raised for good).
    import sys
    import threading

    def train() -> None:
        for _ in range(300):
            x = Value(0.5)
            (x * x).tanh().backward()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=train) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert gc.get_threshold() == DEFAULT
    y = Value(1.0) * 2  # and the hold still works
    assert gc.get_threshold() == HELD
    del y

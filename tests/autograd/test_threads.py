"""Engine state across threads: grad mode, the compile tracer and grad's nesting depth are per thread;
backward passes that run at once give what running them one after the other gives.

Each test runs a bounded number of iterations with the interpreter switching threads as often as it can
(sys.setswitchinterval), and checks exact expected results, never timings.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from autograd import (
    Value,
    compile,
    detect_anomaly,
    grad,
    gradients,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
)


@pytest.fixture(autouse=True)
def fast_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads every few bytecodes: races show up in few iterations
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def run_together(*jobs: Callable[[], Any]) -> list[Any]:
    """Start every job at once (a barrier), wait for all; re-raise the first error of any thread."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = job()
        except BaseException as e:  # noqa: BLE001 - reported to the main thread below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a thread did not finish: deadlock?"
    if errors:
        raise errors[0]
    return results


def test_no_grad_in_one_thread_leaves_another_building_graphs() -> None:
    stop = threading.Event()

    def toggler() -> int:
        n = 0
        while not stop.is_set():
            with no_grad():
                y = Value(1.0) * 2.0
                assert not is_grad_enabled() and y.parents == ()
            n += 1
        return n

    def learner() -> list[float]:
        grads = []
        try:
            for i in range(2000):
                x = Value(float(i))
                (x * x).backward()
                grads.append(x.grad)
        finally:
            stop.set()
        return grads

    toggles, grads = run_together(toggler, learner)
    assert toggles > 0
    assert grads == [2.0 * i for i in range(2000)]  # d(x*x)/dx = 2x every time: no step lost its graph
    assert is_grad_enabled()


def test_threads_entering_and_leaving_no_grad_never_leave_it_off() -> None:
    def job() -> bool:
        for _ in range(3000):
            with no_grad():
                assert not is_grad_enabled()
            assert is_grad_enabled()
        return is_grad_enabled()

    assert run_together(job, job, job) == [True, True, True]
    assert (Value(2.0) * 3).parents != ()


def test_a_new_thread_starts_with_grad_enabled() -> None:
    with no_grad():
        (inside,) = run_together(is_grad_enabled)
        assert not is_grad_enabled()
    assert inside is True


def test_grad_nesting_depth_is_per_thread() -> None:
    def job() -> list[Any]:
        return [grad(lambda x: x * x * x)(2.0) for _ in range(1500)]

    for results in run_together(job, job):
        assert all(type(r) is float and r == 12.0 for r in results)  # never a Value


def test_compile_traces_only_its_own_threads_ops_and_guards() -> None:
    stop = threading.Event()

    def noise() -> None:
        # another thread's no_grad, comparisons and float() while traces are being taken
        while not stop.is_set():
            a = Value(0.25)
            with no_grad():
                b = a * 3.0
            _ = (a > 0, a <= b, float(a), a * a + 1)

    def tracer() -> list[Any]:
        out = []
        try:
            for i in range(300):
                w = Value(0.5, label="w")
                f = compile(lambda x: (w * x).tanh() if x > 0 else -x)  # noqa: B023 (used in this iteration)
                value, (g,) = f.value_and_grad(1.0 + i)
                p = f.program
                out.append((value, g, len(p.instructions), [v.label for v in p.captured], len(p.guards)))
        finally:
            stop.set()
        return out

    _, traces = run_together(noise, tracer)
    for i, (value, g, n_ops, captured, n_guards) in enumerate(traces):
        x = 1.0 + i
        t = math.tanh(0.5 * x)
        assert value == t and g == pytest.approx(0.5 * (1 - t * t), rel=1e-15)
        assert (n_ops, captured, n_guards) == (2, ["w"], 1)  # mul, tanh; w; the guard x > 0


def test_tracing_inside_no_grad_records_the_function() -> None:
    w = Value(2.0)
    f = compile(lambda x: w * x)
    with no_grad():
        assert f(3.0) == 6.0
    assert f.value_and_grad(5.0) == (10.0, (2.0,))
    assert f.program.instructions  # a real trace, not a constant function


def test_concurrent_backward_on_shared_leaves_adds_every_contribution_once() -> None:
    w = [Value(0.1 * (i + 1)) for i in range(8)]  # a model's parameters, shared by every thread
    rounds = 200

    def job(seed: int) -> None:
        for r in range(rounds):
            x = float(seed + r % 3)
            loss = (w[0] * x + w[1]).tanh()
            for wi in w[2:]:
                loss = loss + wi * wi * x
            loss.backward()

    run_together(*[lambda s=s: job(s) for s in range(4)])
    # the same passes one after the other, on fresh leaves with the same data
    ref = [Value(v.data) for v in w]
    for s in range(4):
        for r in range(rounds):
            x = float(s + r % 3)
            loss = (ref[0] * x + ref[1]).tanh()
            for wi in ref[2:]:
                loss = loss + wi * wi * x
            loss.backward()
    # floating-point sums in another order: equal to the last few ulps
    for got, want in zip(w, ref):
        assert got.grad == pytest.approx(want.grad, rel=1e-12)


def test_concurrent_gradients_and_backward_on_one_graph() -> None:
    a, b = Value(1.5), Value(-0.5)
    root = (a * b).exp() + a * a  # d/da = b e^(ab) + 2a, d/db = a e^(ab)
    da = b.data * math.exp(a.data * b.data) + 2 * a.data
    db = a.data * math.exp(a.data * b.data)

    def grads_job() -> list[tuple[float, ...]]:
        return [gradients(root, (x for x in (a, b))) for _ in range(500)]  # a generator: read once

    def backward_job() -> None:
        for _ in range(500):
            root.backward()

    results, _ = run_together(grads_job, backward_job)
    assert all(r == pytest.approx((da, db), rel=1e-15) for r in results)
    assert a.grad == pytest.approx(500 * da, rel=1e-12) and b.grad == pytest.approx(500 * db, rel=1e-12)


def test_detect_anomaly_from_several_threads_never_stays_on() -> None:
    def job() -> None:
        for _ in range(2000):
            with detect_anomaly():
                assert is_anomaly_enabled()

    run_together(job, job, job)
    assert not is_anomaly_enabled()


def test_a_backward_inside_a_backward_of_the_same_thread_is_refused() -> None:
    from autograd import backprop

    x = Value(2.0)
    with backprop._Pass(x), pytest.raises(RuntimeError, match="inside a backward pass"):
        (x * x).backward()
    (x * x).backward()  # the lock was released
    assert x.grad == 4.0


def test_fit_trains_the_same_while_another_thread_evaluates_under_no_grad() -> None:
    # The case: fit in one thread, evaluation under no_grad in another. Before grad mode was per
    # thread the loss stayed flat (the training graph was built without parents most of the time).
    import nn

    X, y = nn.data.make_moons(40, noise=0.1, seed=0)

    def train() -> list[float]:
        model = nn.MLP(2, [8, 1], seed=3)
        history = nn.fit(model, X, y, loss="binary_cross_entropy_with_logits",
                         optimizer=nn.SGD(model.parameters(), lr=0.1), epochs=4, batch_size=10,
                         progress=False, seed=0)
        return history.train_loss

    expected = train()  # alone
    stop = threading.Event()

    def evaluate() -> int:
        probe = nn.MLP(2, [8, 1], seed=4)
        n = 0
        while not stop.is_set():
            with no_grad():
                nn.evaluate(probe, X[:8], y[:8])
            n += 1
        return n

    def train_then_stop() -> list[float]:
        try:
            return train()
        finally:
            stop.set()

    _, losses = run_together(evaluate, train_then_stop)
    assert losses == expected  # bit for bit: the other thread changed nothing
    assert losses[-1] < losses[0]


def test_compiled_and_eager_backward_on_shared_leaves_add_every_contribution_once() -> None:
    # A model's parameter w read by an eager graph in one thread and by a compiled function in another:
    # every pass adds its amount once (the compiled backward adds through backprop.add_grads, taking turns
    # with the eager passes). The grads are small integers, so the sums are exact in any order.
    w = Value(3.0, label="w")
    f = compile(lambda x: w * x * 2.0)  # d/dw = 2x
    f.backward(1.0)
    w.grad = 0.0
    n = 400

    def eager() -> None:
        for _ in range(n):
            (w * 5.0).backward()  # d/dw = 5

    def compiled() -> None:
        for _ in range(n):
            f.backward(4.0)  # d/dw = 8

    run_together(eager, compiled)
    assert w.grad == n * (5.0 + 8.0)

"""Cases that used to give a silent wrong result or a bare Python error, each now right or raising with a
message that says what to do; and engine state that must not outlive what made it (imports, reference
cycles, copies of deep graphs)."""

from __future__ import annotations

import copy
import gc
import math
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograd import Constant, Value, compile, gradients, no_grad, toposort

ROOT = Path(__file__).resolve().parents[2]


def test_import_autograd_loads_only_the_standard_library() -> None:
    code = textwrap.dedent("""
        import sys
        before = set(sys.modules)
        import autograd
        from autograd import Value, compile, draw_graph, gradcheck
        (Value(2.0) * 3).backward()
        new = {m.split(".")[0] for m in set(sys.modules) - before}
        stdlib = set(sys.stdlib_module_names)
        print(sorted(m for m in new if m not in stdlib and m != "autograd"))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_numpy_is_imported_by_the_first_batched_replay() -> None:
    code = textwrap.dedent("""
        import sys
        from autograd import compile
        f = compile(lambda x: x * 2)
        f(1.0); f.value_and_grad(2.0)
        assert "numpy" not in sys.modules, "a scalar replay imported numpy"
        assert f.batch([1.0, 2.0]) == [2.0, 4.0]
        print("numpy" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_gradients_takes_any_iterable_and_reads_a_generator_once() -> None:
    x, y = Value(3.0), Value(4.0)
    root = x * y
    assert gradients(root, (p for p in (x, y))) == (4.0, 3.0)
    assert gradients(root, iter([y])) == (3.0,)
    assert gradients(root, {x: 1}) == (4.0,)
    with pytest.raises(TypeError, match="iterable of Values"):
        gradients(root, 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [
    lambda: no_grad_result(),
    lambda: Value(2.0, label="w").detach(),
], ids=["no_grad", "detach"])
def test_backward_from_a_value_that_is_in_no_graph_raises(make) -> None:  # type: ignore[no-untyped-def]
    root = make()
    assert type(root) is Constant
    with pytest.raises(RuntimeError, match=r"part of no graph.*outside no_grad\(\)"):
        root.backward()


def no_grad_result() -> Value:
    x = Value(2.0)
    with no_grad():
        return x * x + 1


def test_a_leaf_value_still_backpropagates_to_itself() -> None:
    x = Value(3.0)
    x.backward()
    assert x.grad == 1.0


def test_a_no_grad_result_used_in_a_graph_gets_no_grad_as_in_torch() -> None:
    x = Value(2.0)
    with no_grad():
        target = x * 3
    loss = (x - target) * (x - target)
    loss.backward()
    assert x.grad == 2 * (2.0 - 6.0) and target.grad == 0.0


def test_value_of_a_huge_int_names_the_problem() -> None:
    with pytest.raises(OverflowError, match=r"Value: the int 100000000000\.\.\. \(401 digits\) is too large"):
        Value(10**400)


# -- no reference cycles after compile ---------------------------------------------------------------------
@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was:
            gc.enable()


def _engine_garbage() -> list[object]:
    """What a full collection finds unreachable (saved, not freed), from the engine and nn modules."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found = [o for o in gc.garbage
             if (getattr(type(o), "__module__", "") or "").split(".")[0] in ("autograd", "nn")
             or (callable(o) and (getattr(o, "__module__", "") or "").split(".")[0] in ("autograd", "nn"))]
    gc.set_debug(0)
    gc.garbage.clear()
    return found


def test_compile_and_fit_compile_leave_no_reference_cycles(collector_off: None) -> None:
    import nn

    thresholds = gc.get_threshold()

    def use() -> None:
        w = Value(0.5, label="w")
        f = compile(lambda x, y: ((w * x - y) ** 2, [x, y]), has_aux=True)
        f.backward(1.0, 2.0)
        f.backward_batch([1.0, 2.0], [2.0, 3.0])
        for _ in range(60):  # past the interpreter's replays, into generated code
            f.value_and_grad(1.0, 2.0)
        model = nn.MLP(2, [3, 2], seed=0)
        nn.fit(model, [[0.0, 1.0], [1.0, 0.0]] * 4, [0, 1] * 4, epochs=2, compile=True, progress=False)

    use()
    # freed by reference counting alone: the graph's weakref ended the collector hold
    assert gc.get_threshold() == thresholds
    assert _engine_garbage() == []


# -- copying and pickling deep graphs ----------------------------------------------------------------------
def _chain(n: int) -> tuple[Value, Value]:
    x = Value(1.0, label="x")
    y = x
    for i in range(n):
        y = (y * 1.0001 + 0.001) if i % 2 else y.tanh()
    return x, y


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_deep_graph_copies_without_recursion(how: str) -> None:
    x, y = _chain(100_000)
    y.label = "y"
    if how == "deepcopy":
        x2, y2 = copy.deepcopy((x, y))
    else:
        x2, y2 = pickle.loads(pickle.dumps((x, y)))
    assert y2 is not y and y2.label == "y" and y2.data == y.data
    order = toposort(y2)
    assert order[0] is x2 and len(order) == len(toposort(y))  # the leaf shared, identity kept
    y2.backward()
    y.backward()
    assert x2.grad == x.grad


def test_a_copied_graph_keeps_shared_nodes_shared() -> None:
    a = Value(2.0, label="a")
    b = a * a
    c = b + b * 3.0  # b used twice
    c2 = copy.deepcopy(c)
    b2 = c2.parents[0]
    assert c2.parents[1].parents[0] is b2 and b2.parents == (b2.parents[0], b2.parents[0])
    c2.backward()
    assert b2.parents[0].grad == 4 * 2 * 2.0  # dc/da = 4 * 2a
    assert type(copy.deepcopy(Constant(3.0))) is Constant


def test_a_model_pickles_and_trains_after_unpickling() -> None:
    import nn

    model = nn.MLP(2, [4, 1], seed=0)
    copy_ = pickle.loads(pickle.dumps(model))
    x = [0.5, -1.0]
    assert copy_(x).data == model(x).data
    copy_(x).backward()
    assert any(p.grad != 0.0 for p in copy_.parameters())
    assert all(p.grad == 0.0 for p in model.parameters())


def test_copy_of_a_graph_is_independent() -> None:
    x = Value(1.5)
    y = (x * x).exp()
    y2 = copy.deepcopy(y)
    y2.backward()
    assert x.grad == 0.0
    assert toposort(y2)[0].grad == pytest.approx(2 * 1.5 * math.exp(2.25))

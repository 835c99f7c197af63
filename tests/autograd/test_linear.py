"""The weighted-sum op ``linear`` (one node with 2n + 1 parents) through every path the two-parent ops take:
higher order, detect_anomaly, pictures and backward steps, gradcheck, copying and pickling, and both of
compile's replays, the batched one with its weights, inputs and bias in every kind of storage.

(Hand values, finite differences in high precision and PyTorch float64 cover it with every other op, in
test_ops, test_properties and test_torch.)"""

from __future__ import annotations

import copy
import math
import pickle
import re
import sys
from typing import Any

import numpy as np
import pytest

from autograd import (
    Value,
    backward_steps,
    compile,
    detect_anomaly,
    draw_graph,
    gradcheck,
    gradients,
    hessian,
    linear,
    toposort,
)

compile_module = sys.modules["autograd.compile.function"]


@pytest.fixture(autouse=True)
def always_batched(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batched replay for every batch, however small: these tests are about it (a few samples of a
    small program would otherwise replay one by one, see test_small_batches_of_small_programs...)."""
    monkeypatch.setattr(compile_module, "BATCHED_US", (0.0, 0.0))


def neuron(w0: Any, w1: Any, x0: Any, x1: Any, b: Any) -> Any:
    return linear([w0, w1], [x0, x1], b).tanh()


POINT = (0.7, -1.3, 0.4, 0.9, 0.25)


def test_second_derivatives_by_hand() -> None:
    # z = w0 x0 + w1 x1 + b: d2z/dw0 dx0 = 1, every other pair 0; through tanh, H = t'' g g^T + t' d2z
    H = hessian(lambda w0, w1, x0, x1, b: linear([w0, w1], [x0, x1], b))(*POINT)
    assert H == [[1.0 if {i, j} in ({0, 2}, {1, 3}) else 0.0 for j in range(5)] for i in range(5)]
    w0, w1, x0, x1, b = POINT
    z = w0 * x0 + w1 * x1 + b
    t = math.tanh(z)
    d1, d2 = 1 - t * t, -2 * t * (1 - t * t)
    g = [x0, x1, w0, w1, 1.0]
    expected = [[d2 * g[i] * g[j] + d1 * H[i][j] for j in range(5)] for i in range(5)]
    got = hessian(neuron)(*POINT)
    assert all(math.isclose(a, e, rel_tol=1e-13, abs_tol=1e-15) for ra, re in zip(got, expected)
               for a, e in zip(ra, re))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_gradcheck_passes_to_third_order(order: int) -> None:
    assert gradcheck(neuron, *POINT, order=order) is True


def test_create_graph_gives_derivatives_that_are_values() -> None:
    leaves = [Value(v) for v in POINT]
    out = neuron(*leaves)
    first = gradients(out, leaves, create_graph=True)
    assert all(isinstance(d, Value) for d in first)
    assert gradients(first[0], leaves) == tuple(hessian(neuron)(*POINT)[0])


def _infinite_weight(w: Any, x: Any) -> Any:
    z = linear([w], [x], 0.0)  # the local derivative for x is w's number: inf
    z.label = "z"
    return z


def test_detect_anomaly_names_the_linear_node_and_the_parent_in_eager_and_compiled_mode() -> None:
    w, x = Value(math.inf, label="w"), Value(2.0, label="x")
    z = _infinite_weight(w, x)
    assert gradients(z, [w, x]) == (2.0, math.inf)  # without the block: IEEE arithmetic, no error
    with detect_anomaly(), pytest.raises(FloatingPointError) as eager:
        z.backward()
    assert str(eager.value) == (
        "detect_anomaly: backward produced inf at op 'linear' (node 'z', data=inf) for its parent 1 ('x', "
        "data=2.0): local derivative inf times upstream grad 1.0")
    f = compile(_infinite_weight)
    f(1.0, 1.0)
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"at op 'linear' .* for its parent 1"):
        f.value_and_grad(math.inf, 2.0)


def test_the_picture_labels_the_node_and_its_edges_with_local_derivatives() -> None:
    pytest.importorskip("graphviz", reason="draw_graph needs the graphviz package")
    w = [Value(2.0, label="w0"), Value(3.0, label="w1")]
    x = [Value(1.0, label="x0"), Value(-1.0, label="x1")]
    z = linear(w, x, Value(0.5, label="b"))
    z.label = "z"
    out = z.tanh()
    out.backward()
    source = draw_graph(out).source
    assert "Σ w·x + b" in source
    # five edges into the op node, each labelled with its local derivative: x for w, w for x, 1 for b
    edges = [line for line in source.splitlines() if "-> n5 " in line]  # in parent order: w0 w1 x0 x1 b
    labels = [re.search(r'<FONT POINT-SIZE="\d+">([^<]*)</FONT>', e).group(1) for e in edges]  # type: ignore[union-attr]
    assert labels == ["1", "-1", "2", "3", "1"]


def test_backward_steps_pass_the_grad_to_every_parent() -> None:
    w = [Value(2.0, label="w0"), Value(3.0, label="w1")]
    x = [Value(1.0, label="x0"), Value(-1.0, label="x1")]
    b = Value(0.5, label="b")
    z = linear(w, x, b)
    steps = backward_steps(z)
    assert len(steps) == 1
    contributions = steps[0].contributions
    assert [c.parent for c in contributions] == [*w, *x, b]
    assert [c.local for c in contributions] == [1.0, -1.0, 2.0, 3.0, 1.0]


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_graph_of_linear_nodes_copies_and_backpropagates(how: str) -> None:
    leaves = [Value(v, label=f"p{i}") for i, v in enumerate(POINT)]
    out = neuron(*leaves) * linear(leaves[:2], leaves[2:4])
    clone = pickle.loads(pickle.dumps(out)) if how == "pickle" else copy.deepcopy(out)
    clone.backward()
    out.backward()
    copies = [v for v in toposort(clone) if v.label.startswith("p")]
    assert [v.grad for v in copies] == [v.grad for v in leaves]
    assert clone.parents[0].parents[0].op == "linear" and len(clone.parents[1].parents) == 4


def test_a_deep_stack_of_linear_nodes_pickles_without_recursion() -> None:
    w = Value(0.999)
    z = Value(1.0)
    for _ in range(20_000):
        z = linear([w, w], [z, Value(0.001)])
    clone = pickle.loads(pickle.dumps(z))
    assert clone.data == z.data
    clone.backward()


# -- compile ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("replay", ["generated", "interpreted"])
def test_the_scalar_replay_is_bit_identical_to_eager(replay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_module, "GENERATE_AFTER", 0 if replay == "generated" else 10**9)
    f = compile(neuron)
    f(*POINT)
    for point in (POINT, (-0.3, 2.0, 1.5, -0.5, 0.0)):
        leaves = [Value(v) for v in point]
        out = neuron(*leaves)
        assert f.value_and_grad(*point) == (out.data, gradients(out, leaves))


def test_a_linear_node_prints_as_one_line_of_the_program() -> None:
    f = compile(lambda w0, w1, x0, x1, b: linear([w0, w1], [x0, x1], b))
    f(*POINT)
    assert str(f.program).splitlines()[1] == "  v0 = linear w0 w1 x0 x1 b"


# (weights, inputs, bias): where each lives in the batched replay. "sample": an argument of f, a row per
# sample; "constant": a number in the program; "param": a captured leaf (the parameter array); "shared":
# an op on captured leaves (a shared row computed once per batch)
STORES = [
    ("param", "sample", "param"),  # a layer: one matrix product
    ("sample", "sample", "param"),  # a dot product of two per-sample vectors (a one-hot target)
    ("sample", "sample", None),
    ("constant", "sample", "constant"),
    ("param", "constant", "sample"),
    ("shared", "sample", "shared"),
    ("param", "param", "param"),  # nothing per sample
    ("sample", "param", "sample"),
]


def _operand(kind: str, i: int, x: Any, p: list[Value]) -> Any:
    return {"sample": x[i], "constant": 0.5 - 0.25 * i, "param": p[i], "shared": p[i] * p[i + 1]}[kind]


@pytest.mark.parametrize("stores", STORES, ids=["-".join(map(str, s)) for s in STORES])
def test_the_batched_replay_matches_eager_in_every_storage(stores: tuple[str, str, str | None]) -> None:
    p = [Value(0.3 * i - 0.4, label=f"p{i}") for i in range(8)]
    w_kind, x_kind, b_kind = stores

    def f(x: Any) -> Value:
        ws = [_operand(w_kind, i, x, p) for i in range(3)]
        xs = [_operand(x_kind, i + 3, x, p) for i in range(3)]
        b = None if b_kind is None else _operand(b_kind, 6, x + [x[0]], p)
        z = linear(ws, xs, b)
        return (z * z).tanh() + linear([z], [z])  # a second linear, fed by the first

    rng = np.random.default_rng(1)
    X = rng.normal(size=(9, 7)).tolist()
    compiled = compile(f)
    total = compiled.backward_batch(X, reduction="sum")
    got = [v.grad for v in p]
    for v in p:
        v.grad = 0.0
    eager = [f([Value(a) for a in x]) for x in X]
    root = eager[0]
    for e in eager[1:]:
        root = root + e
    root.backward()
    assert math.isclose(total, root.data, rel_tol=1e-13)
    assert all(math.isclose(a, v.grad, rel_tol=1e-12, abs_tol=1e-13) for a, v in zip(got, p))
    values, grads = compiled.value_and_grad_batch(X)
    for x, value, g in zip(X, values, grads):
        leaves = [Value(a) for a in x]
        out = f(leaves)
        assert math.isclose(value, out.data, rel_tol=1e-13)
        expected = gradients(out, leaves)
        assert all(math.isclose(a, e, rel_tol=1e-12, abs_tol=1e-13) for a, e in zip(g[0], expected))
    ops = [g.op for g in compiled._last.plan.groups]  # type: ignore[union-attr]
    if stores == ("param", "sample", "param"):
        assert "dense" in ops  # a layer is one matrix product


def test_a_linear_node_that_overflows_in_the_batch_raises_eagers_error() -> None:
    f = compile(lambda x: linear([Value(1e200)], [x], Value(0.0)))
    assert f(1.0) == 1e200
    with pytest.raises(OverflowError, match="linear: the weighted sum"):
        f.batch([1.0, 1e200])

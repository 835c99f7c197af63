"""autograd.compile: traced programs replay bit-identically to eager evaluation; guards re-trace or raise;
batched replay (NumPy and the pure-Python loop) matches eager within a few ulps; bad input fails clearly."""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
import autograd.value as value_module
from autograd import (
    OPS,
    CompiledFunction,
    GuardError,
    Value,
    compile,
    detect_anomaly,
    grad,
    gradients,
    no_grad,
    value_and_grad,
)
from autograd.compile.numpy_replay import LOWERED, array_op
from autograd.testing import graphs, points

compile_module = sys.modules["autograd.compile.function"]


@pytest.fixture(autouse=True)
def always_batched(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batched replay for every batch, however small: these tests are about it (a few samples of a
    small program would otherwise replay one by one, see test_small_batches_of_small_programs...)."""
    monkeypatch.setattr(compile_module, "BATCHED_US", (0.0, 0.0))


def eager_value_and_grads(f: Any, *xs: float) -> tuple[float, tuple[float, ...]]:
    """The oracle: f on fresh leaves, then gradients(), as value_and_grad does."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    return out.data, gradients(out, leaves)


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_) or (math.isnan(a) and math.isnan(b))


# -- values and gradients ----------------------------------------------------------------------------------


def test_hand_derived_values_and_grads_on_trace_and_on_replay() -> None:
    f = compile(lambda x, y: x * y + x**3)
    # f = xy + x^3, df/dx = y + 3x^2, df/dy = x
    assert f.value_and_grad(2.0, 3.0) == (14.0, (15.0, 2.0))  # the trace
    assert f.value_and_grad(1.0, 5.0) == (6.0, (8.0, 1.0))  # a replay
    assert f(-1.0, 4.0) == -5.0
    assert f.n_traces == 1


def test_replay_builds_no_value(monkeypatch: pytest.MonkeyPatch) -> None:
    f = compile(lambda x, y: (x * y).tanh() + x.exp())
    f.value_and_grad(0.5, 0.25)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a replay built a node")

    monkeypatch.setattr(value_module, "_node", refuse)
    monkeypatch.setattr(Value, "__init__", refuse)
    value, grads = f.value_and_grad(0.3, -0.7)
    monkeypatch.undo()
    assert (value, grads) == eager_value_and_grads(lambda x, y: (x * y).tanh() + x.exp(), 0.3, -0.7)


@pytest.mark.parametrize("replay", ["generated", "interpreted"])
@settings(max_examples=50)
@given(data=st.data())
def test_random_graphs_replay_bit_identical_to_eager(replay: str, data: st.DataObject) -> None:
    graph = data.draw(graphs(max_inputs=3, max_ops=8))
    first = data.draw(points(graph, avoid_kinks=False))
    second = data.draw(points(graph, avoid_kinks=False))
    saved = compile_module.GENERATE_AFTER
    compile_module.GENERATE_AFTER = 0 if replay == "generated" else 10**9
    try:
        f = compile(graph)
        assert f.value_and_grad(*first) == eager_value_and_grads(graph, *first)
        assert f.value_and_grad(*second) == eager_value_and_grads(graph, *second)
        assert f(*second) == graph(*second).data
    finally:
        compile_module.GENERATE_AFTER = saved
    assert f.n_traces == 1  # no guards: relu/abs/leaky_relu branch inside their ops
    assert bool(f._last._replays) == (replay == "generated")  # type: ignore[union-attr]


@settings(max_examples=40)
@given(st.data())
def test_random_graphs_batched_match_eager(data: st.DataObject) -> None:
    graph = data.draw(graphs(max_inputs=3, max_ops=8))
    batch = data.draw(st.lists(points(graph, avoid_kinks=True), min_size=1, max_size=5))
    f = compile(graph)
    columns = [[p[i] for p in batch] for i in range(graph.arity)]
    values, grads = f.value_and_grad_batch(*columns)
    for p, v, g in zip(batch, values, grads):
        ev, eg = eager_value_and_grads(graph, *p)
        # NumPy's exp/log/tanh/sin/cos/power may differ from math's in the last place; with every node
        # bounded by 100 (autograd.testing), a few ulps per op stay far below this tolerance
        assert close(v, ev, rel=1e-12), (v, ev)
        assert all(close(a, b, rel=1e-9, abs_=1e-10) for a, b in zip(g, eg)), (g, eg)
    # a trace's first sample is replayed one at a time (exactly), later batches by NumPy: close, not equal
    assert all(close(a, b, rel=1e-12) for a, b in zip(f.batch(*columns), values))


def test_list_arguments_and_list_outputs() -> None:
    f = compile(lambda w, x: [w[0] * x, w[1] * x + w[0]])
    assert f([2.0, 3.0], 4.0) == [8.0, 14.0]
    assert f([1.0, 1.0], 1.0) == [1.0, 2.0]
    g = compile(lambda w, x: w[0] * x + w[1])
    assert g.value_and_grad([2.0, 3.0], 4.0) == (11.0, ([4.0, 1.0], 2.0))
    assert f.batch([[2.0, 3.0], [1.0, 1.0]], [4.0, 1.0]) == [[8.0, 14.0], [1.0, 2.0]]


def test_captured_leaves_read_live_and_backward_adds_to_grad() -> None:
    w = Value(0.5, label="w")
    b = Value(-1.0, label="b")
    f = compile(lambda x: (w * x + b).tanh())
    assert f.backward(2.0) == math.tanh(0.0)
    assert (w.grad, b.grad) == (2.0, 1.0)  # d tanh at 0 is 1
    w.data = 1.0  # an optimizer step: the next replay reads it
    w.grad = b.grad = 0.0
    out = (w * 2.0 + b).tanh()
    out.backward()
    expected = (out.data, w.grad, b.grad)
    w.grad = b.grad = 0.0
    assert (f.backward(2.0), w.grad, b.grad) == expected
    assert f.n_traces == 1
    assert [v.label for v in f.program.captured] == ["w", "b"]


@pytest.mark.parametrize("expand", [False, True], ids=["linear nodes", "products and sums"])
def test_backward_batch_matches_eager_mean_loss_of_an_mlp(expand: bool) -> None:
    import nn

    model = nn.MLP(3, [5, 4, 2], seed=1, expand=expand)
    params = model.parameters()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3)).tolist()
    T = rng.normal(size=(7, 2)).tolist()

    def sample_loss(x: Any, t: Any) -> Value:
        out = model(x)
        return (out[0] - t[0]) ** 2 + (out[1] - t[1]).tanh() ** 2 + 1e-3 * sum(p * p for p in params)

    f = compile(sample_loss)
    total = f.backward_batch(X, T)
    got = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    eager = sum(sample_loss(x, t) for x, t in zip(X, T)) / len(X)
    eager.backward()
    assert close(total, eager.data, rel=1e-13)
    assert all(close(a, p.grad, rel=1e-11, abs_=1e-14) for a, p in zip(got, params))
    plan = f._last.plan  # type: ignore[union-attr]
    assert [g.op for g in plan.groups].count("dense") == 3  # every layer became one matrix product
    for p in params:
        p.grad = 0.0
    assert f.backward_batch(X, T, reduction="sum") == pytest.approx(total * len(X), rel=1e-13)
    assert all(close(p.grad, a * len(X), rel=1e-11, abs_=1e-13) for a, p in zip(got, params))


def test_has_aux_returns_outputs_beside_the_loss_from_one_replay() -> None:
    w = Value(2.0)

    def loss_and_score(x: Any, t: Any) -> tuple[Value, list[Value]]:
        score = w * x
        return (score - t) ** 2, [score, score * 0.5]

    f = compile(loss_and_score, has_aux=True)
    # loss = (wx - t)^2: d/dx = 2(wx - t) w, d/dt = -2(wx - t), d/dw = 2(wx - t) x
    assert f.value_and_grad(1.5, 1.0) == ((4.0, [3.0, 1.5]), (8.0, -4.0))
    assert f.backward(1.5, 1.0) == (4.0, [3.0, 1.5]) and w.grad == 6.0
    w.grad = 0.0
    loss, aux = f.backward_batch([1.5, 0.5], [1.0, 1.0])
    assert loss == 2.0 and aux == [[3.0, 1.5], [1.0, 0.5]]
    assert w.grad == (6.0 + 0.0) / 2
    values, grads = f.value_and_grad_batch([1.5], [1.0])
    assert values == [(4.0, [3.0, 1.5])] and grads == [(8.0, -4.0)]
    with pytest.raises(TypeError, match="pair"):
        compile(lambda x: x * 2, has_aux=True).value_and_grad(1.0)


def test_outputs_that_are_an_input_a_captured_leaf_or_a_number() -> None:
    w = Value(3.0)
    assert compile(lambda x, y: x).value_and_grad(1.0, 2.0) == (1.0, (1.0, 0.0))
    f = compile(lambda x: w)
    assert f.backward(5.0) == 3.0 and w.grad == 1.0
    assert compile(lambda x: 7).value_and_grad(1.0) == (7.0, (0.0,))
    assert compile(lambda x, y: y).value_and_grad_batch([1.0, 2.0], [3.0, 4.0]) == (
        [3.0, 4.0], [(0.0, 1.0), (0.0, 1.0)])


@pytest.mark.parametrize("case", ["repeated input", "shuffled inputs", "mixed"])
def test_batched_weighted_sums_with_repeated_or_shuffled_operands(case: str) -> None:
    # matrix products whose input rows repeat (x twice in a sum) or come out of order, weights shared
    # between sums, products in either operand order: the read patterns of the batched plan, vs eager
    w = [Value(0.1 * (i + 1)) for i in range(6)]

    def f(x: Any, y: Any) -> Value:
        if case == "repeated input":  # out = W @ [x, x] + b
            a, b = w[0] * x + w[1] * x + w[2], w[3] * x + w[4] * x + w[5]
        elif case == "shuffled inputs":  # out = W @ [y, x] + b
            a, b = w[0] * y + w[1] * x + w[2], w[3] * y + w[4] * x + w[5]
        else:
            a, b = y * w[5] + x * w[0] + w[1], w[3] * y + w[4] * x + w[2]
        return (a * b).tanh() + a * a + (x * y + y * x).sin()

    compiled = compile(f)
    xs, ys = [0.5, -1.0, 2.0, 0.25], [1.5, 0.3, -0.7, 2.0]
    total = compiled.backward_batch(xs, ys, reduction="sum")
    got = [p.grad for p in w]
    for p in w:
        p.grad = 0.0
    eager = sum(f(Value(x), Value(y)) for x, y in zip(xs, ys))
    eager.backward()
    assert close(total, eager.data, rel=1e-14)
    assert all(close(a, p.grad, rel=1e-13) for a, p in zip(got, w))
    values, grads = compiled.value_and_grad_batch(xs, ys)
    for x, y, v, g in zip(xs, ys, values, grads):
        ev, eg = eager_value_and_grads(f, x, y)
        assert close(v, ev, rel=1e-14) and all(close(a, b, rel=1e-13) for a, b in zip(g, eg))
    kinds = {(g.op, o.kind) for g in compiled._last.plan.groups for o in g.operands[1:2] if o}  # type: ignore
    expected = {"repeated input": ("dense", "repeat"), "shuffled inputs": ("dense", "gather"),
                "mixed": ("mul", "gather")}[case]
    assert expected in kinds


@settings(max_examples=25)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu", "linear"]),
    batch=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_random_mlps_batched_backward_matches_eager(sizes: list[int], activation: str, batch: int,
                                                    seed: int) -> None:
    import nn

    model = nn.MLP(sizes[0], sizes[1:], activation, seed=seed)
    params = model.parameters()
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, sizes[0])).tolist()

    def loss(x: Any) -> Value:
        out = model(x)
        outs = out if isinstance(out, list) else [out]
        return sum((o - 0.5) * (o - 0.5) for o in outs) + 1e-2 * sum(p * p for p in params)

    total = compile(loss).backward_batch(X)
    got = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    eager = sum(loss(x) for x in X) / batch
    eager.backward()
    assert close(total, eager.data, rel=1e-12)
    assert all(close(a, p.grad, rel=1e-10, abs_=1e-13) for a, p in zip(got, params))


def test_a_function_of_no_arguments_compiles_and_batches_as_one_sample() -> None:
    params = [Value(0.5), Value(-2.0)]
    reg = compile(lambda: 0.1 * sum(p * p for p in params))
    assert reg() == pytest.approx(0.425)
    reg.backward_batch()
    assert [p.grad for p in params] == [pytest.approx(0.1), pytest.approx(-0.4)]


def test_nested_grad_inside_a_compiled_function() -> None:
    f = compile(lambda x: grad(lambda y: y**3)(x))  # 3x^2, recorded as a graph
    assert f.value_and_grad(2.0) == value_and_grad(lambda x: grad(lambda y: y**3)(x), argnums=(0,))(2.0)
    assert f.value_and_grad(-1.5) == (6.75, (-9.0,))


def test_called_with_values_runs_eagerly_and_composes_with_grad() -> None:
    f = compile(lambda x: x * x.sin())
    assert grad(f)(1.2) == grad(lambda x: x * x.sin())(1.2)
    out = f(Value(1.2))
    assert isinstance(out, Value) and out.data == 1.2 * math.sin(1.2)


def test_traced_inside_no_grad_still_records_the_graph() -> None:
    f = compile(lambda x: x * x)
    with no_grad():
        assert f(3.0) == 9.0
    assert len(f.program.instructions) == 1
    assert f.value_and_grad(2.0) == (4.0, (4.0,))


def test_static_arguments_key_the_trace_cache() -> None:
    f = compile(lambda x, k: x**k, static_argnums=1)
    assert f.value_and_grad(2.0, 3) == (8.0, (12.0, None))
    assert f.value_and_grad(2.0, 2) == (4.0, (4.0, None))
    assert f(3.0, 3) == 27.0
    assert f.n_traces == 2
    assert f.batch([2.0, 2.0, 3.0], [3, 2, 2]) == [8.0, 4.0, 9.0]


# -- guards ------------------------------------------------------------------------------------------------


def test_comparison_is_a_guard_and_another_branch_retraces() -> None:
    f = compile(lambda x: x * 2 if x > 0 else -x)
    assert f(3.0) == 6.0
    assert [(g.kind, g.expected) for g in f.program.guards] == [(">", True)]
    assert f(-1.0) == 1.0
    assert f.n_traces == 2
    assert f(5.0) == 10.0 and f(-2.0) == 2.0
    assert f.n_traces == 2  # both branches are cached
    assert f.value_and_grad(-4.0) == (4.0, (-1.0,))


def test_generated_code_checks_guards_and_falls_back_on_singular_derivatives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compile_module, "GENERATE_AFTER", 0)
    f = compile(lambda x: (x * 2).sqrt() if x > 0 else -x)
    assert f.value_and_grad(2.0) == (2.0, (0.5,))
    assert f.value_and_grad(0.0 + 1e-300) == eager_value_and_grads(lambda x: (x * 2).sqrt(), 1e-300)
    assert f.value_and_grad(-3.0) == (3.0, (-1.0,))
    g = compile(lambda x: (x * 0).sqrt())  # d sqrt at 0: the rule divides by zero, eager uses inf
    g(1.0)
    assert repr(g.value_and_grad(2.0)) == repr(eager_value_and_grads(lambda x: (x * 0).sqrt(), 2.0))


def test_strict_raises_guard_error_naming_the_guard() -> None:
    f = compile(lambda x: x * 2 if x > 0 else -x, strict=True)
    assert f(3.0) == 6.0
    with pytest.raises(GuardError, match=r"guard `x > 0` was True when traced .* is False"):
        f(-1.0)
    assert f.n_traces == 2  # the re-trace that found the other branch is not kept
    assert f(4.0) == 8.0
    with pytest.raises(GuardError):
        f.batch([1.0, -1.0])


def test_float_of_a_value_bakes_the_number_and_is_a_guard() -> None:
    f = compile(lambda x: x * float(x))  # float(x) is a constant in the program: d/dx = float(x)
    assert f.value_and_grad(2.0) == (4.0, (2.0,))
    assert f.value_and_grad(2.0) == value_and_grad(lambda x: x * float(x), argnums=(0,))(2.0)
    assert f.value_and_grad(3.0) == (9.0, (3.0,))
    assert f.n_traces == 2
    assert "guard float(x) == 2.0" in str(f.programs[1]) + str(f.programs[0])


def test_relu_abs_leaky_relu_branch_inside_the_op_not_as_guards() -> None:
    f = compile(lambda x: x.relu() + abs(x) + x.leaky_relu(0.1))
    assert f(-2.0) == 2.0 - 0.2
    assert f(3.0) == 9.0
    assert f.program.guards == () and f.n_traces == 1
    expected = eager_value_and_grads(lambda x: x.relu() + abs(x) + x.leaky_relu(0.1), -1.0)
    assert f.value_and_grad(-1.0) == expected


def test_guard_on_a_value_the_output_does_not_use() -> None:
    f = compile(lambda x, y: x if x * y > 1 else y)
    assert f(2.0, 3.0) == 2.0
    assert f(2.0, 0.1) == 0.1
    assert f.value_and_grad(2.0, 0.1) == (0.1, (0.0, 1.0))
    assert f.n_traces == 2


def test_max_over_values_guards_every_comparison() -> None:
    f = compile(lambda a, b, c: max(a, b, c) * 2)
    assert f(1.0, 3.0, 2.0) == 6.0
    assert f(0.0, 5.0, 1.0) == 10.0 and f.n_traces == 1
    assert f(9.0, 5.0, 1.0) == 18.0 and f.n_traces == 2
    assert f.batch([1.0, 9.0, 0.0, 2.0], [3.0, 5.0, 5.0, 2.0], [2.0, 1.0, 7.0, 2.5]) == [6.0, 18.0, 14.0, 5.0]


def test_batched_guards_split_the_batch_between_traces() -> None:
    f = compile(lambda x: (x * 3).tanh() if x > 0 else x.exp())
    xs = [0.5, -1.0, 2.0, -0.25, 0.0]
    expected = [(x * 3).tanh().data if x > 0 else x.exp().data for x in map(Value, xs)]
    values, grads = f.value_and_grad_batch(xs)
    assert all(close(a, b, rel=1e-14) for a, b in zip(values, expected))
    for x, (g,) in zip(xs, grads):
        assert close(g, eager_value_and_grads(lambda v: (v * 3).tanh() if v > 0 else v.exp(), x)[1][0],
                     rel=1e-13)
    assert f.n_traces == 2


def test_too_many_traces_warn_once_and_keep_working(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_module, "MAX_TRACES", 3)
    f = compile(lambda x: x * float(x))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [f(float(i)) for i in range(6)]
    assert results == [float(i * i) for i in range(6)]
    assert len(caught) == 1 and "traced 3 times" in str(caught[0].message)
    assert len(f.programs) == 3 and f.n_traces == 6


# -- printing and drawing ----------------------------------------------------------------------------------


def test_program_prints_as_text() -> None:
    w = Value(2.0, label="w")
    f = compile(lambda x, y: (w * x + y).leaky_relu(0.2) ** 2)
    f(1.0, 1.0)
    assert str(f.program).splitlines() == [
        "program <lambda>(x, y)",
        "  captured w=2",
        "  v0 = mul w x",
        "  v1 = add v0 y",
        "  v2 = leaky_relu v1 0.2",
        "  v3 = pow v2 2.0",
        "  return v3",
    ]


def test_draw_graph_draws_the_traced_graph() -> None:
    pytest.importorskip("graphviz", reason="draw_graph needs the graphviz package")
    f = compile(lambda x, y: (x * y).tanh())
    f(0.5, 2.0)
    dot = autograd.draw_graph(f.graph)
    assert "tanh" in dot.source and "x" in dot.source


# -- bad input ---------------------------------------------------------------------------------------------


def test_wrong_number_of_arguments_is_a_type_error() -> None:
    f = compile(lambda x, y: x * y)
    with pytest.raises(TypeError, match="compiled <lambda>: .*argument"):
        f(1.0)
    f(1.0, 2.0)
    with pytest.raises(TypeError, match="compiled <lambda>"):
        f(1.0, 2.0, 3.0)


@pytest.mark.parametrize("bad", ["a", None, True, [1.0, "b"], [], {"x": 1.0}, complex(1, 2)])
def test_wrong_argument_types_are_type_errors(bad: Any) -> None:
    f = compile(lambda x, y: x * y[0] if isinstance(y, list) else x * y)
    with pytest.raises(TypeError, match="argument y"):
        f(1.0, bad)


def test_other_bad_uses_are_clear_errors() -> None:
    with pytest.raises(TypeError, match="callable"):
        compile(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="positional arguments only"):
        compile(lambda x: x)(x=1.0)
    with pytest.raises(TypeError, match="static_argnums"):
        compile(lambda x: x, static_argnums=[-1])
    with pytest.raises(TypeError, match="must return a Value"):
        compile(lambda x: "nope")(1.0)
    with pytest.raises(TypeError, match="one scalar"):
        compile(lambda x: [x, x]).value_and_grad(1.0)
    with pytest.raises(TypeError, match="takes numbers, not Values"):
        compile(lambda x: x).value_and_grad(Value(1.0))
    with pytest.raises(TypeError, match="hashable"):
        compile(lambda x, k: x, static_argnums=1)(1.0, [1])
    with pytest.raises(RuntimeError, match="not been traced"):
        _ = compile(lambda x: x).program
    f = compile(lambda x, y: x * y)
    with pytest.raises(ValueError, match="different numbers of samples"):
        f.batch([1.0, 2.0], [1.0])
    with pytest.raises(TypeError, match="one number"):
        f.batch(["a", "b"], [1.0, 2.0])
    with pytest.raises(ValueError, match="empty batch"):
        f.batch([], [])
    with pytest.raises(ValueError, match="reduction"):
        f.backward_batch([1.0], [1.0], reduction="max")


def test_a_list_of_another_length_is_a_new_trace() -> None:
    f = compile(lambda xs: sum(xs))
    assert f([1.0, 2.0]) == 3.0 and f([1.0, 2.0, 3.0]) == 6.0
    assert f.n_traces == 2


def test_op_error_on_replay_raises_eager_error() -> None:
    f = compile(lambda x: (x - 1).log())
    assert f(3.0) == math.log(2.0)
    with pytest.raises(ValueError) as replayed:
        f(0.5)
    with pytest.raises(ValueError) as eager:
        (Value(0.5) - 1).log()
    assert str(replayed.value) == str(eager.value)
    with pytest.raises(ValueError, match="log needs a positive input"):
        f.batch([3.0, 0.5])


def test_nan_during_replay_behaves_as_eager_under_detect_anomaly() -> None:
    def h(x: Any) -> Any:
        return (x * 0).sqrt() * x  # d sqrt at 0 is infinite: the backward meets inf * 0

    f = compile(h)
    assert f(2.0) == 0.0
    got = f.value_and_grad(3.0)
    expected = eager_value_and_grads(h, 3.0)
    assert repr(got) == repr((expected[0], expected[1]))  # the same nan, not an error
    with detect_anomaly():
        with pytest.raises(FloatingPointError) as eager:
            value_and_grad(h)(3.0)
        with pytest.raises(FloatingPointError) as replayed:
            f.value_and_grad(3.0)
        with pytest.raises(FloatingPointError, match="detect_anomaly: backward produced"):
            f.backward_batch([3.0, 1.0])
    assert str(replayed.value) == str(eager.value)


def test_batch_arguments_as_numpy_arrays() -> None:
    f = compile(lambda w, x: w[0] * x + w[1])
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert f.batch(W, np.array([10.0, 20.0])) == [12.0, 64.0]
    values, grads = f.value_and_grad_batch(W, [10.0, 20.0])
    assert values == [12.0, 64.0] and grads == [([10.0, 1.0], 1.0), ([20.0, 1.0], 3.0)]


def test_pure_python_batch_fallback_matches_scalar_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    w = Value(0.3)
    f = compile(lambda x, y: ((w * x).sin() - y) ** 2 if x > 0 else (x * y).exp())
    xs, ys = [0.5, -1.0, 2.0], [1.0, 0.5, -0.5]
    monkeypatch.setattr(compile_module, "np", None)
    values, grads = f.value_and_grad_batch(xs, ys)
    assert values == [f(x, y) for x, y in zip(xs, ys)]
    assert grads == [f.value_and_grad(x, y)[1] for x, y in zip(xs, ys)]
    total = f.backward_batch(xs, ys)
    expected_grad = sum(
        gradients(((w * x).sin() - y) ** 2 if x > 0 else (Value(x) * y).exp(), [w])[0] for x, y in zip(xs, ys)
    ) / 3
    assert total == pytest.approx(sum(values) / 3, rel=1e-15)
    assert w.grad == pytest.approx(expected_grad, rel=1e-14)


# -- the NumPy op table ------------------------------------------------------------------------------------

_ARGS = {"pow": [2.0, 3.0, -1.0, 0.5, 1.5], "rpow": [2.0, 0.5], "leaky_relu": [0.01, 0.2]}


@pytest.mark.parametrize("name", sorted(set(OPS) - LOWERED))
def test_every_op_has_a_numpy_rule_that_agrees_with_the_table(name: str) -> None:
    op = OPS[name]
    rule = array_op(name)  # raises for an op added to OPS without a NumPy rule
    rng = np.random.default_rng(0)
    positive = name in ("log", "sqrt", "pow", "vpow")
    arity = op.arity
    assert arity is not None
    for arg in _ARGS.get(name, [None]):
        xs = [rng.uniform(0.1, 3.0, 50) if positive else rng.uniform(-3.0, 3.0, 50) for _ in range(arity)]
        if name == "div":
            xs[1] = np.where(np.abs(xs[1]) < 0.1, 0.5, xs[1])
        extra = () if arg is None else (arg,)
        out = rule.forward(*xs, *extra)
        local = rule.local(out, *xs, *extra)
        for b in range(50):
            scalars = [float(x[b]) for x in xs]
            # forwards agree to a few ulps (NumPy's transcendental functions are not math's)
            assert close(float(out[b]), op.forward(*scalars, *extra), rel=1e-15), (name, scalars)
            # rules agree given the same output
            for d, e in zip(local, op.derivatives(float(out[b]), *scalars, *extra)):
                got = float(np.broadcast_to(d, out.shape)[b])
                assert close(got, float(e), rel=1e-15, abs_=1e-300), (name, scalars, got, e)


def test_numpy_relu_and_abs_follow_the_table_at_nan_and_zero() -> None:
    x = np.array([np.nan, 0.0, -0.0, -1.0, 2.0])
    relu, absolute = array_op("relu"), array_op("abs")
    out = relu.forward(x)
    same = lambda a, b: all(p == q or (p != p and q != q) for p, q in zip(a, b))  # nan matches nan
    assert same(out.tolist(), [OPS["relu"].forward(v) for v in x.tolist()])
    assert math.isnan(out[0])  # relu(nan) is nan, as in torch
    assert (relu.local(out, x)[0] * 1.0).tolist() == [
        OPS["relu"].derivatives(OPS["relu"].forward(v), v)[0] for v in x.tolist()]
    assert absolute.local(None, x)[0].tolist() == [OPS["abs"].derivatives(0.0, v)[0] for v in x.tolist()]


def test_compiled_function_is_exported() -> None:
    assert isinstance(compile(lambda x: x), CompiledFunction)
    assert {"compile", "CompiledFunction", "GuardError"} <= set(autograd.__all__)


def test_draw_graph_takes_the_compiled_function_or_its_program() -> None:
    from autograd import draw_graph

    f = compile(lambda x, y: (x * y + x).tanh())
    f(1.0, 2.0)
    expected = draw_graph(f.graph).source
    assert draw_graph(f).source == expected
    assert draw_graph(f.program).source == expected
    assert "tanh" in expected and "*" in expected


# -- the lowering: a layer as one matrix product ----------------------------------------------------------


def _kernels(sizes: list[int], expand: bool = False) -> list[str]:
    import nn

    model = nn.MLP(sizes[0], sizes[1:], seed=0, expand=expand)
    f = compile(lambda x, t: nn.compiled.mse(model(x), t))
    rng = np.random.default_rng(0)
    f.backward_batch(rng.normal(size=(4, sizes[0])), rng.normal(size=(4, sizes[-1])))
    return [g.op for g in f._last.plan.groups]  # type: ignore[union-attr]


def test_the_number_of_array_operations_grows_with_depth_not_width() -> None:
    narrow, wide = _kernels([3, 4, 4, 2]), _kernels([3, 64, 64, 2])
    assert narrow == wide  # the same kernels, whatever the width
    assert narrow.count("dense") == 3  # one matrix product per layer
    deeper = _kernels([3, 4, 4, 4, 4, 2])
    assert deeper.count("dense") == 5 and len(deeper) == len(narrow) + 4  # a dense and a relu per layer
    assert _kernels([3, 64, 64, 2], expand=True) == wide  # micrograd's * and + graph lowers the same


def test_a_trace_releases_the_collector_hold_of_its_graph() -> None:
    import gc

    thresholds = gc.get_threshold()
    f = compile(lambda x: (x * 2).tanh())
    f(1.0)
    assert gc.get_threshold() == thresholds  # the traced graph lives on in f.graph, the hold does not


# -- Bound: parameters held in arrays -----------------------------------------------------------------------


def test_bound_reads_the_array_adds_to_its_grad_and_writes_back_on_demand() -> None:
    w, b = Value(0.5, label="w"), Value(-1.0, label="b")
    c = Value(3.0, label="c")  # captured but not bound: read live, its grad in .grad
    f = compile(lambda x, t: ((w * x + b) * c - t) ** 2, has_aux=False)
    bound = f.bind([w, b])
    assert bound.data.tolist() == [0.5, -1.0] and bound.grad.tolist() == [0.0, 0.0]
    xs, ts = [1.0, 2.0, -1.0], [0.0, 1.0, 2.0]

    def eager(wv: float, bv: float) -> tuple[float, list[float]]:
        leaves = [Value(wv), Value(bv), Value(3.0)]
        loss = sum(((leaves[0] * x + leaves[1]) * leaves[2] - t) ** 2 for x, t in zip(xs, ts)) / 3
        return loss.data, list(gradients(loss, leaves))

    loss = bound.backward_batch(xs, ts)
    value, grads = eager(0.5, -1.0)
    assert loss == pytest.approx(value, rel=1e-14)
    assert bound.grad.tolist() == pytest.approx(grads[:2], rel=1e-14)
    assert (w.grad, b.grad) == (0.0, 0.0) and c.grad == pytest.approx(grads[2], rel=1e-14)
    bound.backward_batch(xs, ts)  # adds, as .grad does
    assert bound.grad.tolist() == pytest.approx([2 * g for g in grads[:2]], rel=1e-14)
    bound.zero_grad()
    bound.data[:] = [0.25, 0.5]  # a training step on the array: the leaves wait for write()
    assert (w.data, b.data) == (0.5, -1.0)
    assert bound.backward_batch(xs, ts) == pytest.approx(eager(0.25, 0.5)[0], rel=1e-14)
    assert bound.batch(xs, ts)[:, 0].tolist() == pytest.approx(
        [((0.25 * x + 0.5) * 3 - t) ** 2 for x, t in zip(xs, ts)], rel=1e-14)
    bound.write()
    assert (w.data, b.data) == (0.25, 0.5)
    w.data = 1.0
    bound.read()
    assert bound.data.tolist() == [1.0, 0.5]


def test_bound_writes_the_array_into_the_leaves_before_a_new_trace() -> None:
    w = Value(1.0)
    f = compile(lambda x: w * x if w * x > 0 else -(w * x))  # a guard on the parameter's sign
    bound = f.bind([w])
    assert bound.batch([2.0]).tolist() == [[2.0]]
    bound.data[0] = -1.0  # the guard flips: the new branch is traced on the array's number
    assert bound.batch([2.0, 3.0]).tolist() == [[2.0], [3.0]]
    assert w.data == -1.0 and f.n_traces == 2


def test_bound_aux_comes_back_as_an_array_and_bad_params_are_refused() -> None:
    w = Value(2.0)
    f = compile(lambda x: ((w * x) ** 2, [w * x, x]), has_aux=True)
    loss, aux = f.bind([w]).backward_batch([1.0, 3.0])
    assert loss == 20.0 and aux.tolist() == [[2.0, 1.0], [6.0, 3.0]]
    with pytest.raises(TypeError, match="list of Values"):
        f.bind(w)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"params\[1\] must be a Value"):
        f.bind([w, 1.0])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="appears twice"):
        f.bind([w, w])


def test_bound_under_detect_anomaly_keeps_no_grad_of_a_failing_batch() -> None:
    w = Value(0.0)
    f = compile(lambda x: (w * x).sqrt())  # d sqrt at 0: inf times 0 gives nan in the backward
    bound = f.bind([w])
    with detect_anomaly(), pytest.raises(FloatingPointError):
        bound.backward_batch([1.0, 2.0])
    assert bound.grad.tolist() == [0.0]


def test_a_group_whose_operands_all_repeat_fills_every_row() -> None:
    # (o - t) twice per output, for (o - t) * (o - t): both operands of the subtractions repeat
    w = [Value(0.5), Value(-1.5)]

    def f(x: Any, t: Any) -> Value:
        outs = [w[0] * x[0], w[1] * x[1]]
        terms = [((o - tt) * (o - tt) + 1.0).sqrt() for o, tt in zip(outs, t)]
        return terms[0] + terms[1]

    X, T = [[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]], [[0.3, 0.1], [-0.2, 0.4], [1.0, 1.0]]
    values, grads = compile(f).value_and_grad_batch(X, T)
    for x, t, v, g in zip(X, T, values, grads):
        ev, eg = eager_value_and_grads(lambda *p: f(p[:2], p[2:]), *x, *t)
        assert close(v, ev, rel=1e-14) and all(close(a, b, rel=1e-13) for a, b in zip([*g[0], *g[1]], eg))


def test_small_batches_of_small_programs_replay_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import nn

    monkeypatch.undo()  # the real costs
    small = compile(lambda x: (x * 2.0).tanh())
    small.backward_batch([0.5])
    t = small._last
    assert t.one_by_one(1) and not t.one_by_one(100)
    model = nn.MLP(8, [64, 64, 1], seed=0)
    big = compile(lambda x: model(x))
    big.batch([[0.1] * 8])
    assert not big._last.one_by_one(2)  # 4,800 operands: a batch of two is worth a batched replay
    # either way, the same numbers as eager
    xs = [0.5, -1.0, 2.0]
    assert small.batch(xs) == [(Value(x) * 2.0).tanh().data for x in xs]

"""backward_steps, contributions and explain: the backward pass shown step by step must be the pass the
engine runs, with the numbers derived by hand."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import find, given
from viz_examples import linear_neuron, mlp_loss, neuron, parameters

from autograd import (
    BackwardStep,
    Constant,
    Contribution,
    Value,
    backward_steps,
    explain,
    gradients,
    toposort,
)
from autograd.testing import graphs_and_points
from autograd.viz import Explanation, format_number, walk
from autograd.viz.steps import contributions
from autograd.viz.walk import on_paths


def tanh_neuron() -> tuple[Value, Value, Value]:
    """y = tanh(x * w + 1): x = 3, w = -0.5, so the pre-activation is -0.5."""
    x = Value(3.0, label="x")
    w = Value(-0.5, label="w")
    y = (x * w + 1).tanh()
    y.label = "y"
    return x, w, y


def test_steps_of_a_neuron_by_hand():
    x, w, y = tanh_neuron()
    steps = backward_steps(y)
    d = 1 - math.tanh(-0.5) ** 2  # d tanh(a)/da at a = -0.5
    s, xw = y.parents[0], y.parents[0].parents[0]
    assert [st.node for st in steps] == [y, s, xw]
    assert [st.index for st in steps] == [0, 1, 2]
    assert [st.upstream for st in steps] == [1.0, pytest.approx(d), pytest.approx(d)]
    (c,) = steps[0].contributions
    assert (c.parent, c.operand, c.local, c.amount) == (s, 0, pytest.approx(d), pytest.approx(d))
    to_xw, to_one = steps[1].contributions
    assert (to_xw.parent, to_xw.local, to_xw.amount) == (xw, 1.0, pytest.approx(d))
    assert type(to_one.parent) is Constant and to_one.operand == 1
    to_x, to_w = steps[2].contributions
    assert (to_x.parent, to_x.operand, to_x.local, to_x.amount) == (x, 0, -0.5, pytest.approx(-0.5 * d))
    assert (to_w.parent, to_w.operand, to_w.local, to_w.amount) == (w, 1, 3.0, pytest.approx(3.0 * d))
    assert isinstance(steps[0], BackwardStep) and isinstance(c, Contribution)


def test_a_linear_node_is_one_step_with_a_contribution_per_operand():
    o, (w1, w2, b) = linear_neuron()
    steps = backward_steps(o)
    assert [s.node.op for s in steps] == ["tanh", "linear"]
    g = 1 - o.data ** 2  # d tanh by hand: 1 - o^2
    lin = steps[1]
    assert lin.upstream == pytest.approx(g)
    # ∂n/∂(w1, w2, x1, x2, b) = (x1, x2, w1, w2, 1) = (2, 0, -3, 1, 1), times the upstream grad
    assert [c.local for c in lin.contributions] == [2.0, 0.0, -3.0, 1.0, 1.0]
    assert [c.amount for c in lin.contributions] == pytest.approx([2 * g, 0.0, -3 * g, g, g])


def test_steps_touch_no_grad_and_a_leaf_has_none():
    x, w, y = tanh_neuron()
    backward_steps(y)
    assert x.grad == w.grad == y.grad == 0.0
    assert backward_steps(x) == []
    with pytest.raises(TypeError, match="Value"):
        backward_steps(2.0)  # type: ignore[arg-type]


@given(graphs_and_points())
def test_contributions_sum_to_the_engine_gradients_in_the_engine_order(case):
    graph, point = case
    leaves = [Value(p) for p in point]
    root = graph(*leaves)
    steps = backward_steps(root)
    # The order is the engine's: reverse toposort, op nodes only.
    assert [s.node for s in steps] == [n for n in reversed(toposort(root)) if n.parents]
    received: dict[Value, float] = {}
    for s in steps:
        # A node is processed only after everything it feeds: its upstream grad is complete.
        assert s.upstream == (1.0 if s.node is root else received[s.node])
        assert [c.operand for c in s.contributions] == list(range(len(s.node.parents)))
        for c, parent, local in zip(s.contributions, s.node.parents, s.node.local_derivatives):
            assert c.parent is parent and c.local == local and c.amount == local * s.upstream
            received[c.parent] = received.get(c.parent, 0.0) + c.amount
    # Summing the contributions in step order gives the engine's gradients exactly, for every leaf.
    assert tuple(received.get(x, 0.0) for x in leaves) == gradients(root, leaves)
    # The events carry the same running sums, and say final exactly at each node's last contribution.
    events = contributions(steps)
    last = {e.contribution.parent: i for i, e in enumerate(events)}
    for i, e in enumerate(events):
        assert e.final == (last[e.contribution.parent] == i)
        if e.final and type(e.contribution.parent) is not Constant:
            assert e.total == received[e.contribution.parent]


def test_repeated_operands_and_fan_out_add_up():
    x = Value(2.0, label="x")
    a = x * x  # two contributions of 2 * 1... to x through one node
    y = a * x + a  # fan-out: a feeds two nodes
    total = sum(c.amount for s in backward_steps(y) for c in s.contributions if c.parent is x)
    assert total == gradients(y, [x])[0] == 3 * 2.0**2 + 2 * 2.0  # d(x^3 + x^2)/dx by hand


def test_focused_contributions_give_the_same_floats_as_the_whole_pass():
    for fused in (False, True):
        loss = mlp_loss([2, 3, 3, 1], batch=2, fused=fused)
        order = walk(loss)
        w = parameters(loss)["layers.0.neurons.2.w.1"]
        keep = {v for v, on in zip(order, on_paths(order, w)) if on}
        events = contributions(backward_steps(loss), keep)
        assert all(e.step.node in keep and e.contribution.parent in keep for e in events)
        (final,) = [e for e in events if e.contribution.parent is w and e.final]
        assert final.total == gradients(loss, [w])[0]  # exactly: the same additions in the same order


# -- explain -------------------------------------------------------------------------------------------
def test_explain_narrates_each_step_with_the_numbers():
    x, w, y = tanh_neuron()
    text = explain(y)
    d = 1 - math.tanh(-0.5) ** 2
    f = format_number
    assert isinstance(text, str) and isinstance(text, Explanation)
    lines = text.splitlines()
    assert lines[0] == f"Backward pass from y = {f(math.tanh(-0.5))}: one step per op node, the root first."
    assert f"Step 0: y = tanh(#4) = {f(math.tanh(-0.5))}, upstream grad 1" in lines
    assert f"Step 1: #4 = #2 + 1 = -0.5, upstream grad {f(d)}" in lines
    assert "  1 (operand 1): ∂#4/∂1 = 1; 1 is a constant: it keeps no grad" in lines
    assert f"Step 2: #2 = x * w = -1.5, upstream grad {f(d)}" in lines
    assert f"  w (operand 1): ∂#2/∂w = 3; 3 × {f(d)} = {f(3 * d)} -> grad of w = {f(3 * d)}" in lines
    assert lines[-2:] == [f"  x = {f(-0.5 * d)}", f"  w = {f(3 * d)}"]


def test_explain_names_a_linear_node_by_what_it_computes():
    o, _ = linear_neuron()
    text = explain(o)
    assert f"Step 1: n = Σ w·x + b over 2 inputs = {format_number(o.parents[0].data)}, upstream grad" in text
    g = 1 - o.data ** 2
    assert f"  x1 (operand 2): ∂n/∂x1 = -3; -3 × {format_number(g)} = {format_number(-3 * g)}" in text


def test_explain_says_so_far_until_the_last_contribution_and_sums_them():
    x = Value(3.0, label="x")
    y = x * x + x
    text = explain(y)
    assert "-> grad of x so far 1" in text  # from the + (processed first)
    assert "-> grad of x so far 4" in text and "-> grad of x = 7" in text  # then 3 and 3 from the *
    assert text.splitlines()[-1] == "  x = 7  (= 1 + 3 + 3)"  # d(x^2 + x)/dx = 2x + 1 = 7 by hand


def test_explain_matches_the_engine_on_random_graphs():
    # The final line for each leaf shows gradients() to the same digits.
    graph, point = find(graphs_and_points(max_inputs=3, max_ops=8), lambda c: len(c[0].nodes) >= 6)
    leaves = [Value(p, label=f"x{i}") for i, p in enumerate(point)]
    root = graph(*leaves)
    text = explain(root, precision=6)
    used = [v for v in walk(root) if v in leaves]
    for v, g in zip(used, gradients(root, used)):
        assert re.search(rf"^  {v.label} = {re.escape(format_number(g, 6))}(  \(=.*\))?$", text, re.M)


def test_explain_of_a_leaf_and_its_notebook_display():
    x = Value(1.0, label="<script>")
    assert explain(x).splitlines()[-1] == "<script> is a leaf: there is no step."
    html = explain(x * 2)._repr_html_()
    assert html.startswith("<pre") and "&lt;script&gt;" in html and "<script>" not in html
    with pytest.raises(ValueError, match="precision"):
        explain(x, precision=0)


def test_explain_with_focus_narrates_only_the_paths_and_ends_with_the_sum():
    o, (w1, w2, b) = neuron()
    text = explain(o, focus=w1)
    lines = text.splitlines()
    steps = backward_steps(o)
    # The steps on the paths from w1: o = tanh(n), n = #6 + b, #6 = #2 + #5, #2 = x1 * w1; not #5 = x2 * w2.
    headings = [ln for ln in lines if ln.startswith("Step ")]
    by_node = {s.node.label or f"#{walk(o).index(s.node)}": s.index for s in steps}
    assert [h.split(":")[0] for h in headings] == [f"Step {by_node[n]}" for n in ("o", "n", "#6", "#2")]
    assert "  (off the paths from w1: b)" in lines and "  (off the paths from w1: x1)" in lines
    assert not any("grad of b" in ln or "grad of x1" in ln for ln in lines)
    # By hand: grad of w1 = x1 * (1 - o^2) = 2 * 0.5 = 1 (b makes n = 0.8814, o = 1/√2).
    assert lines[-2:] == ["Grad of w1: the sum of its contributions, one per edge into the nodes it feeds:",
                          f"  w1 = {format_number(gradients(o, [w1])[0])}"]
    assert gradients(o, [w1])[0] == pytest.approx(1.0)


def test_explain_with_focus_sums_several_contributions():
    x = Value(3.0, label="x")
    y = x * x + x  # x feeds two nodes, twice the *: three contributions 1, 3, 3
    y.label = "y"
    assert explain(y, focus=x).splitlines()[-1] == "  x = 1 + 3 + 3 = 7"
    o, _ = neuron()
    assert explain(o, focus=o).splitlines()[-1] == "  o = 1"

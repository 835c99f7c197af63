"""backward_steps, explain and draw_graph(step=k): the backward pass shown step by step must be the pass the
engine runs, with the numbers derived by hand."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings

from autograd import (
    BackwardStep,
    Constant,
    Contribution,
    Value,
    backward_steps,
    draw_graph,
    explain,
    gradients,
    toposort,
)
from autograd.graph import format_number, walk
from autograd.steps import Explanation
from autograd.testing import graphs_and_points


def neuron() -> tuple[Value, Value, Value]:
    """y = tanh(x * w + 1): x = 3, w = -0.5, so the pre-activation is -0.5."""
    x = Value(3.0, label="x")
    w = Value(-0.5, label="w")
    y = (x * w + 1).tanh()
    y.label = "y"
    return x, w, y


def test_steps_of_a_neuron_by_hand():
    x, w, y = neuron()
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


def test_steps_touch_no_grad_and_a_leaf_has_none():
    x, w, y = neuron()
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
        for c, parent, local in zip(s.contributions, s.node.parents, s.node.local_grads):
            assert c.parent is parent and c.local == local and c.amount == local * s.upstream
            received[c.parent] = received.get(c.parent, 0.0) + c.amount
    # Summing the contributions in step order gives the engine's gradients exactly, for every leaf.
    assert tuple(received.get(x, 0.0) for x in leaves) == gradients(root, leaves)


def test_repeated_operands_and_fan_out_add_up():
    x = Value(2.0, label="x")
    a = x * x  # two contributions of 2 * 1... to x through one node
    y = a * x + a  # fan-out: a feeds two nodes
    total = sum(c.amount for s in backward_steps(y) for c in s.contributions if c.parent is x)
    assert total == gradients(y, [x])[0] == 3 * 2.0**2 + 2 * 2.0  # d(x^3 + x^2)/dx by hand


# -- explain -------------------------------------------------------------------------------------------
def test_explain_narrates_each_step_with_the_numbers():
    x, w, y = neuron()
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


def test_explain_says_so_far_until_the_last_contribution_and_sums_them():
    x = Value(3.0, label="x")
    y = x * x + x
    text = explain(y)
    assert "-> grad of x so far 1" in text  # from the + (processed first)
    assert "-> grad of x so far 4" in text and "-> grad of x = 7" in text  # then 3 and 3 from the *
    assert text.splitlines()[-1] == "  x = 7  (= 1 + 3 + 3)"  # d(x^2 + x)/dx = 2x + 1 = 7 by hand


def test_explain_matches_the_engine_on_random_graphs():
    # The final line for each leaf shows gradients() to the same digits.
    from hypothesis import find

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


# -- draw_graph(step=k) --------------------------------------------------------------------------------
OPERAND_EDGE = re.compile(r"^\tn(\d+) -> n(\d+)op \[(.*)\]$", re.M)


def node_line(source: str, node_id: str) -> str:
    (line,) = [ln for ln in source.split("\n") if ln.startswith(f"\t{node_id} [")]
    return line


def test_step_view_shows_traversed_edges_contributions_and_the_current_node():
    x, w, y = neuron()
    d = 1 - math.tanh(-0.5) ** 2
    f = format_number
    # walk order: x n0, w n1, x*w n2, 1 n3, +1 n4, y n5
    source = draw_graph(y, step=1).source
    edges = {(int(a), int(b)): attrs for a, b, attrs in OPERAND_EDGE.findall(source)}
    assert edges[4, 5] == f'label=<{f(d)} × 1 = {f(d)}> color="#2563eb" fontcolor="#2563eb" penwidth=1.4'
    assert f"label=<1 × {f(d)} = {f(d)}>" in edges[2, 4] and "#dc2626" in edges[2, 4]
    assert "label=<1 (constant: no grad)>" in edges[3, 4]
    assert edges[0, 2] == 'label=<-0.5> color="#9ca3af" fontcolor="#9ca3af"'  # not traversed yet
    assert "#fef08a" in node_line(source, "n4") and "#fef08a" in node_line(source, "n4op")
    assert "#fef08a" not in node_line(source, "n5")
    assert "<TD>grad 1</TD>" in node_line(source, "n5")
    assert f"<TD>grad {f(d)}</TD>" in node_line(source, "n2")  # x*w feeds only the +: complete
    assert "grad" not in node_line(source, "n0")  # not reached yet
    assert "Backward step 1 (of steps 0-2)" in source
    # After the last step every grad equals the engine's, computed afresh (y.grad is still 0).
    last = draw_graph(y, step=2).source
    gx, gw = gradients(y, [x, w])
    assert f"<TD>grad {f(gx)}</TD>" in node_line(last, "n0")
    assert f"<TD>grad {f(gw)}</TD>" in node_line(last, "n1")


def test_step_view_marks_partial_grads_as_so_far():
    x = Value(3.0, label="x")
    y = x * x + x
    source = draw_graph(y, step=0).source  # the + has given x its 1; the * has not run yet
    assert "<I>grad so far 1</I>" in node_line(source, "n0")
    assert "<TD>grad 7</TD>" in node_line(draw_graph(y, step=1).source, "n0")


def test_step_must_name_a_step():
    x, w, y = neuron()
    for bad in (-1, 3, 1.0, True):
        with pytest.raises(ValueError, match="from 0 to 2"):
            draw_graph(y, step=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="single leaf"):
        draw_graph(x, step=0)


@settings(max_examples=10)
@given(graphs_and_points())
def test_step_views_render(case):
    import shutil
    import subprocess

    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (CI installs it)")
    graph, point = case
    root = graph(*[Value(p) for p in point])
    n = len(backward_steps(root))
    for k in {0, n // 2, n - 1} if n else set():
        done = subprocess.run(["dot", "-Tsvg"], input=draw_graph(root, step=k).source.encode(),
                              capture_output=True)
        assert done.returncode == 0 and not done.stderr, done.stderr

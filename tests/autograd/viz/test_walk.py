"""The pure walk under every picture: structure, roles, names, local derivatives, focus; and the package
layout (public names from autograd, only the standard library on import)."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from viz_examples import linear_neuron, mlp_loss, neuron, parameters

import autograd
from autograd import Constant, Value, linear
from autograd.viz import walk, walk_graph
from autograd.viz.walk import on_paths

ROOT = Path(__file__).resolve().parents[3]


def tanh_neuron() -> tuple[Value, Value, Value, Value]:
    """y = tanh(x * w + 1) with x an input and w a parameter (dotted nn name)."""
    x = Value(3.0, label="x")
    w = Value(-0.5, label="layers.0.neurons.0.w.0")
    y = (x * w + 1).tanh()
    y.label = "y"
    return x, w, y.parents[0], y


def test_walk_graph_lists_nodes_in_operand_order_with_roles_names_and_local_derivatives():
    x, w, s, y = tanh_neuron()
    g = walk_graph(y)
    assert [(n.id, n.name, n.role, n.is_root, n.stub) for n in g.nodes] == [
        ("n0", "x", "input", False, False),
        ("n1", "layers.0.neurons.0.w.0", "parameter", False, False),
        ("n2", "#2", "op", False, False),
        ("n3", "1", "constant", False, False),
        ("n4", "#4", "op", False, False),
        ("n5", "y", "op", True, False),
    ]
    assert [g.nodes[i].value for i in (0, 1, 4, 5)] == [x, w, s, y]
    # Hand-derived: d(xw)/dx = w = -0.5, d(xw)/dw = x = 3, d(a+1) = 1 twice, d tanh(a) = 1 - tanh(a)^2.
    assert [(e.parent, e.child, e.operand, e.local) for e in g.edges] == [
        ("n0", "n2", 0, -0.5),
        ("n1", "n2", 1, 3.0),
        ("n2", "n4", 0, 1.0),
        ("n3", "n4", 1, 1.0),
        ("n4", "n5", 0, pytest.approx(1 - math.tanh(-0.5) ** 2, abs=1e-15)),
    ]


def test_a_linear_node_has_every_operand_as_an_edge_with_its_local_derivative():
    o, (w1, w2, b) = linear_neuron()
    g = walk_graph(o)
    n = o.parents[0]
    names = {node.id: node.name for node in g.nodes}
    into_n = [(names[e.parent], e.operand, e.local) for e in g.edges if names[e.child] == "n"]
    # parents (w1, w2, x1, x2, b); by hand: ∂n/∂wi = xi, ∂n/∂xi = wi, ∂n/∂b = 1
    assert into_n == [("w1", 0, 2.0), ("w2", 1, 0.0), ("x1", 2, -3.0), ("x2", 3, 1.0), ("b", 4, 1.0)]
    assert n.op == "linear" and [node.name for node in g.nodes][-2:] == ["n", "o"]


def test_walk_keeps_duplicate_operands_and_visits_a_shared_node_once():
    x = Value(2.0, label="x")
    a = x * x
    y = a + a
    g = walk_graph(y)
    assert [n.name for n in g.nodes] == ["x", "#1", "#2"]
    assert [(e.parent, e.child, e.operand, e.local) for e in g.edges] == [
        ("n0", "n1", 0, 2.0), ("n0", "n1", 1, 2.0), ("n1", "n2", 0, 1.0), ("n1", "n2", 1, 1.0)]


def test_walk_matches_the_engine_toposort_once_constants_are_dropped():
    x, w, s, y = tanh_neuron()
    z = (y * 2 + x ** 3 - w.exp() / 4 + 2 ** x + x ** w).sigmoid()  # pow, rpow and vpow too
    assert [v for v in walk(z) if type(v) is not Constant] == autograd.toposort(z)


def test_walk_of_a_chain_deeper_than_the_recursion_limit():
    v = x = Value(0.5, label="x")
    for _ in range(sys.getrecursionlimit() * 3):
        v = v.sin()
    order = walk(v)
    assert order[0] is x and order[-1] is v and len(order) == sys.getrecursionlimit() * 3 + 1


def test_pictures_need_neither_the_engine_marks_nor_its_pass_lock():
    # While another thread holds the engine's pass (its lock and its marks), the walk, the steps and
    # explain still run in this one: they keep their bookkeeping to themselves.
    from autograd import backprop, backward_steps, explain

    x, w, s, y = tanh_neuron()
    held, release = threading.Event(), threading.Event()

    def backward_in_progress() -> None:
        with backprop._lock:
            held.set()
            release.wait()

    other = threading.Thread(target=backward_in_progress)
    other.start()
    held.wait()
    results: list[object] = []
    picture = threading.Thread(target=lambda: results.extend([walk_graph(y), backward_steps(y), explain(y)]))
    picture.start()
    picture.join(timeout=30)  # a guard against a hang, not a speed limit: it takes milliseconds
    release.set()
    other.join()
    assert not picture.is_alive() and len(results) == 3
    assert all(v._adjoint is None for v in walk(y))


def test_params_decide_parameters_when_given_else_dotted_labels_do():
    a = Value(1.0, label="a")
    dotted = Value(2.0, label="layers.1.neurons.0.b")
    lookalikes = [Value(1.0, label=t) for t in ("x1", "log(2)", ".x", "a..b", "1.2", "a.")]
    y = a * dotted
    for v in lookalikes:
        y = y + v
    roles = {n.name: n.role for n in walk_graph(y).nodes}
    assert roles["a"] == "input" and roles["layers.1.neurons.0.b"] == "parameter"
    assert all(roles[v.label] == "input" for v in lookalikes)
    explicit = {n.name: n.role for n in walk_graph(y, params=[a]).nodes}
    assert explicit["a"] == "parameter" and explicit["layers.1.neurons.0.b"] == "input"


def test_walk_rejects_a_non_value():
    with pytest.raises(TypeError, match="Value"):
        walk_graph(3.0)  # type: ignore[arg-type]


# -- focus -----------------------------------------------------------------------------------------------
def test_focus_keeps_the_paths_to_the_root_and_the_other_operands_as_stubs():
    o, (w1, w2, b) = neuron()
    g = walk_graph(o, focus=w1)
    kept = {n.name: n.stub for n in g.nodes}
    # On the paths from w1: w1, x1*w1 (#2), #2 + #5 (#6), n, o. Stubs: x1 (of #2), #5 (of #6), b (of n).
    assert kept == {"w1": False, "#2": False, "#6": False, "n": False, "o": False,
                    "x1": True, "#5": True, "b": True}
    names = {n.id: n.name for n in g.nodes}
    assert sorted((names[e.parent], names[e.child]) for e in g.edges) == sorted(
        [("x1", "#2"), ("w1", "#2"), ("#2", "#6"), ("#5", "#6"), ("#6", "n"), ("b", "n"), ("n", "o")])
    # ids and names are those of the whole graph
    whole = {n.name: n.id for n in walk_graph(o).nodes}
    assert all(whole[n.name] == n.id for n in g.nodes)


def test_on_paths_is_every_node_that_depends_on_focus_in_both_forms_of_a_network():
    for fused in (False, True):
        loss = mlp_loss([2, 3, 2], batch=2, fused=fused)
        order = walk(loss)
        w = parameters(loss)["layers.0.neurons.1.w.0"]
        on = on_paths(order, w)
        # by definition: a node is on a path from w to the root iff w is among its ancestors (or it is w)
        for v, flag in zip(order, on):
            ancestors = set(walk(v))
            assert flag == (w in ancestors), v
        assert on[-1] and on[order.index(w)]


def test_focus_must_be_a_node_of_the_graph_that_gets_a_grad():
    o, (w1, w2, b) = neuron()
    with pytest.raises(ValueError, match="not in this graph"):
        walk_graph(o, focus=Value(1.0))
    c = Constant(2.0)
    with pytest.raises(ValueError, match="Constant"):
        walk_graph(o * c, focus=c)
    with pytest.raises(TypeError, match="focus"):
        walk_graph(o, focus=1.0)  # type: ignore[arg-type]
    assert [n.name for n in walk_graph(o, focus=o).nodes] == ["o"]


def test_a_linear_node_on_a_path_shows_its_other_operands_as_stubs():
    o, (w1, w2, b) = linear_neuron()
    g = walk_graph(o, focus=w2)
    assert {n.name: n.stub for n in g.nodes} == {"w1": True, "w2": False, "x1": True, "x2": True,
                                                 "b": True, "n": False, "o": False}
    x = Value(1.5, label="x")
    y = linear([x], [x], None)  # x·x: one node, the same parent twice
    assert [(e.operand, e.local) for e in walk_graph(y, focus=x).edges] == [(0, 1.5), (1, 1.5)]


# -- the package ---------------------------------------------------------------------------------------
def test_public_names_come_from_autograd_and_the_viz_package():
    import autograd.viz as viz

    for name in ("draw_graph", "backward_steps", "explain", "BackwardStep", "Contribution", "step_through",
                 "Stepper"):
        assert getattr(autograd, name) is getattr(viz, name)
        assert name in autograd.__all__


def test_import_autograd_and_its_pictures_load_only_the_standard_library():
    code = textwrap.dedent("""
        import sys
        before = set(sys.modules)
        import autograd
        from autograd import Value, draw_graph, explain, step_through, Stepper
        from autograd.viz import walk_graph, summarize_graph
        x = Value(2.0, label="x")
        y = x * x
        explain(y); walk_graph(y); summarize_graph(y, max_nodes=1)
        new = {m.split(".")[0] for m in set(sys.modules) - before}
        print(sorted(m for m in new if m not in set(sys.stdlib_module_names) and m != "autograd"))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout

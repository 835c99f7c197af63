"""Summaries of big graphs: one box per neuron in layer and neuron order, whatever form the neurons take
(* and + nodes, or one linear node), with each box's outputs, grads and parameter-grad norm; bounded
boxes and edges for any graph."""

from __future__ import annotations

import math
import random

import pytest
from viz_examples import mlp_loss, parameters

from autograd import Value
from autograd.viz import summarize_graph, walk
from autograd.viz.summary import MAX_BANDS, MAX_EDGES, natural_key, owner


@pytest.mark.parametrize("fused", [False, True], ids=["mul-add", "linear"])
def test_an_mlp_collapses_into_one_box_per_neuron_in_both_forms(fused):
    loss = mlp_loss([3, 4, 4, 2], batch=3, fused=fused)
    order = walk(loss)
    summary = summarize_graph(loss, max_nodes=50)
    neurons = [f"layers.{l}.neurons.{j}" for l, n in enumerate([4, 4, 2]) for j in range(n)]
    assert [c.name for c in summary.clusters] == ["inputs", *neurons, "other"]  # layer and neuron order
    assert summary.total == len(order) and sum(c.size for c in summary.clusters) == len(order) - 1
    by_name = {c.name: c for c in summary.clusters}
    # Per neuron of layer 0 over 3 samples: 3 w + 1 b, and per sample either 3 mul + 3 add + 1 tanh or
    # 1 linear + 1 tanh.
    assert dict(by_name["layers.0.neurons.2"].roles) == {"parameter": 4, "op": 21 if not fused else 6}
    ops = {"mul": 9, "add": 9, "tanh": 3} if not fused else {"linear": 3, "tanh": 3}
    assert dict(by_name["layers.0.neurons.2"].ops) == ops
    assert dict(by_name["inputs"].roles) == {"input": 9}
    # The loss is no neuron's: each (out - t) ** 2 has a constant operand and joins "other", with the sum.
    assert dict(by_name["other"].ops) == {"sub": 6, "pow": 6, "add": 4}  # the 5th add is the root
    # Every node's box follows the documented rule, checked node by node.
    box = {v: summary.clusters[c].name for v, c in zip(order, summary.assignment) if c >= 0}
    for v in order[:-1]:
        if v.label:  # layers.L.neurons.J.w.I and layers.L.neurons.J.b belong to layers.L.neurons.J
            assert box[v] == ".".join(v.label.split(".")[:4])
        elif v.parents:
            params = [p for p in v.parents if p.label]
            if params:
                assert box[v] == box[params[0]]
            else:
                shared = {box[p] if p.parents else None for p in v.parents}
                assert box[v] == (shared.pop() if len(shared) == 1 and None not in shared else "other")
    # Edge counts: every edge that crosses boxes, counted once.
    ids = [f"c{c}" if c >= 0 else "root" for c in summary.assignment]
    crossing: dict[tuple[str, str], int] = {}
    position = {v: i for i, v in enumerate(order)}
    for i, v in enumerate(order):
        for p in v.parents:
            if ids[position[p]] != ids[i]:
                crossing[ids[position[p]], ids[i]] = crossing.get((ids[position[p]], ids[i]), 0) + 1
    assert {(a, b): k for a, b, k in summary.edges} == crossing
    assert crossing["c0", "c1"] == 9  # inputs -> layers.0.neurons.0: 3 features x 3 samples


@pytest.mark.parametrize("fused", [False, True], ids=["mul-add", "linear"])
def test_a_neuron_box_shows_its_outputs_their_grads_and_its_parameters_grad_norm(fused):
    loss = mlp_loss([2, 3, 1], batch=4, fused=fused)
    loss.backward()
    summary = summarize_graph(loss, max_nodes=10)
    box = {c.name: c for c in summary.clusters}["layers.0.neurons.1"]
    params = parameters(loss)
    # The neuron's outputs are its tanh nodes (one per sample): the nodes of its box another box reads.
    order = walk(loss)
    name = {v: summary.clusters[c].name for v, c in zip(order, summary.assignment) if c >= 0}
    tanhs = [v for v in order if v.op == "tanh" and name[v] == "layers.0.neurons.1"]
    assert box.outputs == len(tanhs) == 4
    assert box.data == (min(v.data for v in tanhs), max(v.data for v in tanhs))
    assert box.grad == (min(v.grad for v in tanhs), max(v.grad for v in tanhs))
    own = [v for name, v in params.items() if name.startswith("layers.0.neurons.1.")]
    assert len(own) == 3
    assert box.param_grad_norm == pytest.approx(math.sqrt(sum(v.grad ** 2 for v in own)), rel=1e-12)
    assert {c.name: c.param_grad_norm for c in summary.clusters}["inputs"] is None


def test_layers_sort_as_numbers_not_as_text():
    assert sorted(["layers.10.neurons.2", "layers.2.neurons.10", "layers.2.neurons.9"], key=natural_key) == [
        "layers.2.neurons.9", "layers.2.neurons.10", "layers.10.neurons.2"]
    assert owner("layers.0.neurons.3.w.1") == owner("layers.0.neurons.3.b") == ["layers", "0", "neurons", "3"]


def test_a_small_budget_collapses_per_layer_and_the_note_says_so():
    loss = mlp_loss([3, 4, 4, 2], batch=2)
    summary = summarize_graph(loss, max_nodes=6)
    # Per layer, both outputs are in layers.2; the loss terms still have a constant operand: "other".
    assert [c.name for c in summary.clusters] == ["inputs", "layers.0", "layers.1", "layers.2", "other"]
    assert "prefix of 2 parts" in summary.note and "max_nodes=6" in summary.note


def test_too_many_edges_between_neuron_boxes_fall_back_to_layer_boxes():
    # Two fully connected 30-neuron layers: 900 edges between neuron boxes, more than dot can lay out
    # quickly; per layer they are a handful.
    loss = mlp_loss([2, 30, 30, 1], batch=1, fused=True)
    summary = summarize_graph(loss, max_nodes=300)
    assert len(summary.clusters) <= 300 and len(summary.edges) <= MAX_EDGES
    assert [c.name for c in summary.clusters] == ["inputs", "layers.0", "layers.1", "layers.2", "other"]
    fits = summarize_graph(mlp_loss([2, 8, 8, 1], batch=1, fused=True), max_nodes=300)
    assert "layers.1.neurons.7" in [c.name for c in fits.clusters]


def test_a_graph_without_parameters_collapses_into_a_bounded_number_of_depth_bands():
    x = Value(0.3, label="x")
    v = x
    for _ in range(1000):
        v = (v * 0.9 + 0.1).tanh()
    summary = summarize_graph(v, max_nodes=13)
    names = [c.name for c in summary.clusters]
    assert names[0] == "inputs" and len(names) == 1 + 10  # budget 13 - 3 = 10 depth bands
    assert names[1] == "ops at depth 1-300" and names[-1] == "ops at depth 2701-2999"
    assert sum(c.size for c in summary.clusters) == len(walk(v)) - 1
    assert "grouped by depth" in summary.note and summary.by_depth
    wide = summarize_graph(v, max_nodes=300)
    assert len(wide.clusters) == 1 + MAX_BANDS


def test_a_random_100000_node_graph_gives_bounded_boxes_and_edges():
    rng = random.Random(0)
    nodes = [Value(rng.uniform(-1, 1)) for _ in range(20)]
    while len(nodes) < 100_000:  # each node reads the last one, so the root depends on all of them
        a, b = nodes[-1], rng.choice(nodes)
        nodes.append((a * b).tanh() if rng.random() < 0.3 else a + b)
    summary = summarize_graph(nodes[-1], max_nodes=300)
    assert summary.total >= 100_000
    assert len(summary.clusters) <= MAX_BANDS + 2
    # edges between bands only go forward in depth: at most one per pair of boxes, plus the root's
    boxes = len(summary.clusters) + 1
    assert len(summary.edges) <= boxes * (boxes - 1) // 2


def test_bad_max_nodes():
    with pytest.raises(ValueError, match="max_nodes"):
        summarize_graph(Value(1.0), max_nodes=0)

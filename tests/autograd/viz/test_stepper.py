"""step_through's frames (pure data, checked against backward_steps and by hand), its self-contained page,
its atomic save, and its display in Jupyter (widget or page). The page in a real browser: test_browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET

import pytest
from viz_examples import linear_neuron, mlp_loss, neuron, parameters

from autograd import Stepper, Value, backward_steps, explain, gradients, step_through
from autograd.viz import format_number, walk
from autograd.viz import stepper as stepper_module

if shutil.which("dot") is None and os.environ.get("CI") != "true":  # in CI a missing dot fails the tests
    pytest.skip("step_through needs Graphviz's dot (make test installs it)", allow_module_level=True)

f = format_number


def test_frames_are_the_start_the_forward_pass_and_every_contribution_of_the_backward_pass():
    o, params = neuron()
    s = step_through(o, params=params)
    order = walk(o)
    steps = backward_steps(o)
    n_edges = sum(len(st.contributions) for st in steps)
    assert len(s.frames) == 1 + len(order) + 1 + n_edges
    phases = ["start"] + ["forward"] * len(order) + ["backward"] * (1 + n_edges)
    assert [fr.phase for fr in s.frames] == phases
    # Forward: one node at a time in topological order, its value and local derivatives by hand.
    assert [fr.node for fr in s.frames[1:1 + len(order)]] == [f"n{i}" for i in range(len(order))]
    assert s.frames[1].narration == "x1 is an input: its data is 2."
    assert s.frames[2].narration == "w1 is a parameter: its data is -3."
    assert s.frames[3].narration == ("#2 = x1 * w1 = -6. The op also gives its local derivatives: "
                                     "∂#2/∂x1 = -3, ∂#2/∂w1 = 2.")
    assert s.frames[3].counter == f"forward 3 / {len(order)}"
    # Backward: the root's 1, then each contribution, in the engine's order.
    seed = s.frames[1 + len(order)]
    assert (seed.counter, seed.grad, seed.grad_text) == (f"backward 0 / {n_edges}", "n9", "grad 1")
    assert seed.final


@pytest.mark.parametrize("example", ["neuron", "linear neuron", "reuse"])
def test_each_backward_frame_lights_one_edge_with_the_numbers_of_backward_steps(example):
    if example == "neuron":
        root, params = neuron()
    elif example == "linear neuron":
        root, params = linear_neuron()
    else:
        x = Value(3.0, label="x")
        root, params = x * x + x, None  # x gets three contributions: "so far" twice
    s = step_through(root, params=params)
    order = walk(root)
    position = {v: i for i, v in enumerate(order)}
    lines = explain(root).splitlines()
    frames = [fr for fr in s.frames if fr.phase == "backward"][1:]
    running: dict[Value, float] = {}
    remaining = {}
    for st in backward_steps(root):
        for c in st.contributions:
            remaining[c.parent] = remaining.get(c.parent, 0) + 1
    expected = []
    for st in backward_steps(root):
        for c in st.contributions:
            running[c.parent] = running.get(c.parent, 0.0) + c.amount
            remaining[c.parent] -= 1
            expected.append((f"e{position[st.node]}_{c.operand}",
                             f"{f(c.local)} × {f(st.upstream)} = {f(c.amount)}",
                             f"n{position[c.parent]}",
                             f"grad {f(running[c.parent])}" if remaining[c.parent] == 0
                             else f"grad so far {f(running[c.parent])}"))
    assert [(fr.edge, fr.label, fr.grad, fr.grad_text) for fr in frames] == expected
    assert [fr.counter for fr in frames] == [f"backward {j} / {len(expected)}"
                                             for j in range(1, len(expected) + 1)]
    # The narration is explain's step and contribution lines, word for word.
    for fr in frames:
        heading, contribution = fr.narration.split(". ", 1)
        assert heading in lines and "  " + contribution in lines


def test_a_constant_operand_is_lit_but_gets_no_grad():
    x = Value(2.0, label="x")
    y = x * 3
    frames = [fr for fr in step_through(y).frames if fr.phase == "backward"]
    assert [(fr.edge, fr.label, fr.grad) for fr in frames[1:]] == [("e2_0", "3 × 1 = 3", "n0"),
                                                                   ("e2_1", "2 (constant: no grad)", None)]


def test_clicking_a_node_explains_its_grad_as_contributions_and_as_a_sum_over_paths():
    o, params = neuron()
    why = {n["name"]: n["why"] for n in step_through(o, params=params).data()["nodes"]}
    # By hand: do/dn = 1 - o^2 = 0.5, and each + passes it on unchanged; ∂#2/∂x1 = w1 = -3.
    assert why["x1"].startswith("grad of x1 = -1.5: the sum of its contributions, one per edge into the "
                                "nodes it feeds (#2: ∂#2/∂x1 × grad of #2 = -3 × 0.5 = -1.5).")
    assert ("the sum over its 1 path to o of the product of the local derivatives along each "
            "(x1 → #2 → #6 → n → o: -3 × 1 × 1 × 0.5 = -1.5)") in why["x1"]
    assert why["o"] == "o is the root: its grad is ∂o/∂o = 1."
    x = Value(3.0, label="x")
    y = x * x + x
    y.label = "y"
    text = {n["name"]: n["why"] for n in step_through(y).data()["nodes"]}["x"]
    # d(x^2 + x)/dx = 2x + 1 = 7: three edges, three paths (x -> y, and twice x -> x*x -> y)
    assert "grad of x = 7" in text and "1 + 3 + 3 = 7" in text and "its 3 paths to y" in text
    assert "x → #1 → y: 3 × 1 = 3" in text and "x → y: 1 = 1" in text


def test_focus_steps_through_the_paths_of_one_weight_only():
    for fused in (False, True):
        loss = mlp_loss([2, 3, 1], batch=2, fused=fused)
        w = parameters(loss)["layers.0.neurons.1.w.0"]
        s = step_through(loss, focus=w)
        ids = {n.id for n in s.graph.nodes}
        frames = [fr for fr in s.frames if fr.phase == "backward"][1:]
        assert all(fr.grad in ids for fr in frames)
        (w_id,) = [n.id for n in s.graph.nodes if n.value is w]
        (last,) = [fr for fr in frames if fr.grad == w_id and fr.final]
        assert last.grad_text == f"grad {f(gradients(loss, [w])[0])}"
        assert any("Focus: the paths from layers.0.neurons.1.w.0" in line for line in s.title)


def test_the_title_says_when_there_has_been_no_backward():
    o, params = neuron()
    assert any("no backward yet" in line for line in step_through(o, params=params).title)
    o.backward()
    assert not any("no backward yet" in line for line in step_through(o, params=params).title)


def test_the_svg_is_graphvizs_with_the_changing_texts_tagged():
    o, params = linear_neuron()
    s = step_through(o, params=params)
    svg = ET.fromstring(s.svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    ns = "{http://www.w3.org/2000/svg}"
    groups = {g.get("id"): g for g in svg.iter(f"{ns}g") if g.get("class") in ("node", "edge")}
    assert {f"n{i}" for i in range(len(walk(o)))} <= set(groups)
    for node in s.graph.nodes:
        classes = [t.get("class") for t in groups[node.id].iter(f"{ns}text")]
        assert classes[-2:] == ["data", "grad"]
    for edge in s.data()["edges"]:
        assert [t.get("class") for t in groups[edge["id"]].iter(f"{ns}text")] == ["label"]


def test_the_page_is_self_contained():
    o, params = neuron()
    page = step_through(o, params=params).to_html()
    assert page.startswith("<!DOCTYPE html>")
    # No URL of any kind: no CDN, no external script, style, font or image, not even a namespace name.
    assert "://" not in page
    for reference in ("<link", " src=", "@import", "url(", "href="):
        assert reference not in page
    # The data sits in a JSON script that nothing in it can close early.
    payload = re.search(r'<script type="application/json" id="chainrule-stepper-data">(.*?)</script>', page,
                        re.S)
    assert payload and json.loads(payload.group(1))["frames"][0]["phase"] == "start"
    assert stepper_module._JS.read_text() in page


def test_a_label_cannot_break_out_of_the_page():
    x = Value(1.0, label="</script><script>alert(1)</script>")
    page = step_through(x * 2).to_html()
    assert page.count("</script>") == 2 and "alert(1)</script>" not in page


def test_save_writes_the_page_atomically(tmp_path, monkeypatch):
    o, params = neuron()
    s = step_through(o, params=params)
    target = s.save(tmp_path / "stepper.html")
    assert target.read_text(encoding="utf-8") == s.to_html()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stepper.html"]

    def broken() -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(s, "to_html", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        s.save(tmp_path / "other.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stepper.html"]  # nothing partial left behind
    with pytest.raises(ValueError, match="directory"):
        s.save(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        s.save(tmp_path / "missing" / "s.html")
    with pytest.raises(TypeError, match="file path"):
        s.save(3)  # type: ignore[arg-type]


def test_in_a_notebook_it_is_a_widget_with_the_page_as_fallback(monkeypatch):
    o, params = neuron()
    s = step_through(o, params=params)
    outside = s._repr_mimebundle_()
    assert set(outside) == {"text/plain", "text/html"}  # plain Python: the page, in an iframe
    page = outside["text/html"]
    assert page.startswith("<iframe srcdoc=") and "&lt;!DOCTYPE html&gt;" in page
    monkeypatch.setattr(stepper_module, "_in_kernel", lambda: True)
    inside = s._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in inside and "text/html" in inside
    widget = s.widget()
    assert widget.data == s.data() and widget._esm == stepper_module._JS.read_text()
    monkeypatch.setitem(sys.modules, "anywidget", None)  # as if not installed
    assert set(s._repr_mimebundle_()) == {"text/plain", "text/html"}
    with pytest.raises(ImportError, match=re.escape("pip install 'chainrule[widget]'")):
        s.widget()


def test_bad_arguments_and_missing_graphviz(monkeypatch):
    o, params = neuron()
    with pytest.raises(TypeError, match="Value"):
        step_through(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision"):
        step_through(o, precision=30)
    with pytest.raises(ValueError, match="not in this graph"):
        step_through(o, focus=Value(1.0))
    big = mlp_loss([2, 16, 16, 1], batch=1, fused=True)
    with pytest.raises(ValueError, match="pass focus= one node"):
        step_through(big)
    with pytest.raises(ValueError, match="max_nodes"):
        step_through(o, max_nodes=0)
    w = parameters(big)["layers.0.neurons.3.w.0"]
    focused = step_through(big, focus=w)  # its paths fit: 16 other operands of an op are one box
    assert len(focused.frames) < 120 and len(focused.data()["nodes"]) < 60
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'chainrule[graph]'")):
        step_through(o)


def test_a_single_leaf_and_the_repr():
    x = Value(2.0, label="x")
    s = step_through(x)
    assert [fr.counter for fr in s.frames] == ["forward 0 / 1", "forward 1 / 1", "backward 0 / 0"]
    assert isinstance(s, Stepper) and repr(s) == "<Stepper of x: 1 nodes, 3 frames>"

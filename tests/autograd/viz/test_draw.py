"""draw_graph: nodes, edges and local derivatives; grads and the "no backward yet" title; roles, colours
that survive colour-vision deficiencies, the legend; step frames that keep every node in place; focus;
summaries; readability at notebook width; labels of any length; escaping; determinism; missing tools."""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from viz_examples import linear_neuron, mlp_loss, neuron, parameters, readme_z, squared_product

from autograd import Value, backward_steps, draw_graph, gradients, linear
from autograd.testing import graphs_and_points
from autograd.viz import draw as draw_module
from autograd.viz import escape_label, format_number, walk

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT and os.environ.get("CI") != "true",
                               reason="Graphviz's dot is not installed (make test installs it)")
SVG = "{http://www.w3.org/2000/svg}"


def laid_out(dot: object) -> dict:
    """dot -Tjson0 of a Digraph: every node and edge with its attributes and its place."""
    done = subprocess.run(["dot", "-Tjson0"], input=dot.source.encode(), capture_output=True, check=True)  # type: ignore[attr-defined]
    assert not done.stderr, done.stderr  # no warning either
    return json.loads(done.stdout)


def nodes_of(parsed: dict) -> dict[str, dict]:
    return {o["name"]: o for o in parsed["objects"] if "nodes" not in o}


def edges_of(parsed: dict) -> list[dict]:
    names = {o["_gvid"]: o["name"] for o in parsed["objects"]}
    return [{**e, "tail": names[e["tail"]], "head": names[e["head"]]} for e in parsed.get("edges", [])]


def text(label: str) -> str:
    """The words of an HTML-like label, one line per row."""
    rows = [html.unescape(re.sub(r"<[^>]*>", "", r)).strip() for r in re.split(r"</TR>|<BR/>", label)]
    return "\n".join(r for r in rows if r)


def by_name(parsed: dict) -> dict[str, dict]:
    """Nodes by the name their label shows first."""
    return {text(o["label"]).split("\n")[0].split(" ")[0]: o for o in nodes_of(parsed).values()}


def svg_of(dot: object) -> ET.Element:
    return ET.fromstring(dot.pipe(format="svg"))  # type: ignore[attr-defined]


def place(parsed: dict) -> tuple:
    """Where everything is: every node's position and size, every edge's spline and label position."""
    nodes = sorted((o["name"], o["pos"], o["width"], o["height"]) for o in nodes_of(parsed).values())
    edges = sorted((e["tail"], e["head"], e.get("id"), e["pos"], e.get("lp")) for e in edges_of(parsed))
    return parsed["bb"], nodes, edges


# -- the picture -------------------------------------------------------------------------------------------
@needs_dot
def test_a_node_per_value_an_edge_per_operand_labelled_with_its_local_derivative():
    o, params = neuron()
    parsed = laid_out(draw_graph(o, params=params))
    order = walk(o)
    assert sorted(nodes_of(parsed)) == sorted(f"n{i}" for i in range(len(order)))
    index = {v: i for i, v in enumerate(order)}
    expected = sorted((f"n{index[p]}", f"n{i}", k, format_number(d)) for i, v in enumerate(order)
                      for k, (p, d) in enumerate(zip(v.parents, v.local_derivatives)))
    got = sorted((e["tail"], e["head"], int(e["id"].split("_")[1]), text(e["label"]))
                 for e in edges_of(parsed))
    assert got == expected
    # Each op node names its op with its operands, as explain does.
    heads = {text(o["label"]).split("\n")[0] for o in nodes_of(parsed).values()}
    assert {"#2 = x1 * w1", "#5 = x2 * w2", "#6 = #2 + #5", "n = #6 + b", "o = tanh(n) root"} <= heads


@needs_dot
def test_a_linear_node_says_what_it_computes_and_each_edge_its_local_derivative():
    o, params = linear_neuron()
    o.backward()
    parsed = laid_out(draw_graph(o, params=params))
    nodes = by_name(parsed)
    assert text(nodes["n"]["label"]).split("\n") == [
        "n = Σ w·x + b over 2 inputs", f"data {format_number(o.parents[0].data)}",
        f"grad {format_number(1 - o.data ** 2)}"]
    names = {v["name"]: k for k, v in nodes.items()}
    into = {names[e["tail"]]: text(e["label"]) for e in edges_of(parsed) if e["head"] == nodes["n"]["name"]}
    assert into == {"w1": "2", "w2": "0", "x1": "-3", "x2": "1", "b": "1"}  # x1, x2, w1, w2, 1 by hand


@needs_dot
def test_op_nodes_show_the_op_and_its_argument():
    x, y = Value(-2.0, label="x"), Value(3.0, label="y")
    z = x.leaky_relu(0.2) + (x ** 2).exp() - x.relu() / abs(x) + 2 ** x + x ** y
    firsts = [text(o["label"]).split("\n")[0] for o in nodes_of(laid_out(draw_graph(z))).values()]
    heads = [line.split(" = ", 1)[1] for line in firsts if " = " in line]
    assert {"leaky_relu(x, 0.2)", "x ** 2", "exp(#2)", "relu(x)", "abs(x)", "2 ** x", "x ** y"} <= set(heads)


@needs_dot
def test_before_backward_the_title_says_so_and_no_grad_is_shown():
    o, params = neuron()
    before = laid_out(draw_graph(o, params=params))
    assert text(before["label"]).split("\n")[0] == "no backward yet: grads are 0 until you call backward()"
    assert not any("grad" in text(n["label"]) for n in nodes_of(before).values())
    o.backward()
    after = laid_out(draw_graph(o, params=params))
    assert "no backward yet" not in text(after["label"])
    nodes = by_name(after)
    # By hand: do/dn = 1 - o^2 = 0.5; do/dx1 = w1 * 0.5 = -1.5; do/dw1 = x1 * 0.5 = 1.
    assert text(nodes["x1"]["label"]).split("\n")[-1] == "grad -1.5"
    assert text(nodes["w1"]["label"]).split("\n")[-1] == "grad 1"
    assert text(nodes["o"]["label"]).split("\n")[-1] == "grad 1"
    assert "grad" not in text(draw_graph(o, show_grads=False).source)
    assert "label=" not in "".join(ln for ln in draw_graph(o, show_local_grads=False).source.splitlines()
                                   if "->" in ln)


@needs_dot
def test_a_summary_before_backward_says_so_too():
    loss = mlp_loss([2, 8, 1], batch=2)
    assert "no backward yet" in text(laid_out(draw_graph(loss, max_nodes=20))["label"])
    loss.backward()
    assert "no backward yet" not in text(laid_out(draw_graph(loss, max_nodes=20))["label"])


@needs_dot
def test_roles_are_filled_the_root_outlined_and_the_legend_lists_what_is_shown():
    o, params = neuron()
    nodes = by_name(laid_out(draw_graph(o, params=params)))
    fill = draw_module.ROLE_FILL
    assert nodes["x1"]["fillcolor"] == fill["input"] and "input" in text(nodes["x1"]["label"])
    assert nodes["w1"]["fillcolor"] == fill["parameter"] and "parameter" in text(nodes["w1"]["label"])
    assert nodes["n"]["fillcolor"] == fill["op"]
    assert (nodes["o"]["color"], nodes["o"]["penwidth"]) == (draw_module.ROOT, "3")
    assert sum(n.get("penwidth") == "3" for n in nodes.values()) == 1
    legend = text(laid_out(draw_graph(o, params=params))["label"])
    assert all(word in legend for word in ("input", "parameter", "op result", "root", "local derivative"))
    assert "constant" not in legend  # no constant in this graph
    c = by_name(laid_out(draw_graph(o * 2)))["2"]
    assert "dashed" in c["style"] and c["fillcolor"] == fill["constant"] and "constant" in text(c["label"])
    as_params = by_name(laid_out(draw_graph(o, params=[x for x in walk(o) if x.label == "x1"])))
    assert as_params["x1"]["fillcolor"] == fill["parameter"] and as_params["w1"]["fillcolor"] == fill["input"]


# Machado, Oliveira & Fernandes (2009): how a colour looks with each colour-vision deficiency (severity 1),
# applied to linear RGB.
CVD = {
    "normal": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
}


def seen(colour: str, deficiency: str) -> tuple[float, float, float]:
    """CIELAB of ``colour`` as seen with ``deficiency``."""
    def linear_rgb(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    rgb = [linear_rgb(int(colour[i:i + 2], 16)) for i in (1, 3, 5)]
    r, g, b = (min(1.0, max(0.0, sum(m * c for m, c in zip(row, rgb)))) for row in CVD[deficiency])
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    f = lambda t: t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116
    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_roles_and_pass_marks_are_told_apart_with_every_common_colour_vision_deficiency():
    fills = draw_module.ROLE_FILL
    marks = {"root": draw_module.ROOT, "this step": draw_module.NOW, "earlier steps": draw_module.DONE,
             "still to come": draw_module.TODO}
    for deficiency in CVD:
        # ΔE (CIE76) of 12 is plainly different at a glance for fills (which also differ in outline and
        # words); edges and outlines (also different in width and dash) are far apart.
        for (a, ca), (b, cb) in itertools.combinations(fills.items(), 2):
            assert math.dist(seen(ca, deficiency), seen(cb, deficiency)) >= 12, (deficiency, a, b)
        for (a, ca), (b, cb) in itertools.combinations(marks.items(), 2):
            assert math.dist(seen(ca, deficiency), seen(cb, deficiency)) >= 30, (deficiency, a, b)
        # The current step is no longer the near-twin of the parameters' fill (old #fef08a vs #fde68a).
        assert math.dist(seen(draw_module.NOW, deficiency), seen(fills["parameter"], deficiency)) >= 25
    assert math.dist(seen("#fef08a", "deuteranopia"), seen("#fde68a", "deuteranopia")) < 5  # the old pair


def test_precision_and_bad_arguments():
    x = Value(2.0 / 3, label="x")
    y = x * 1.0
    assert "data 0.6667" in draw_graph(y).source
    assert "data 0.67<" in draw_graph(y, precision=2).source
    assert format_number(-0.0) == "0" and format_number(123456.0, 3) == "1.23e+05"
    o, _ = neuron()
    with pytest.raises(TypeError, match="Value"):
        draw_graph(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(o, rankdir="sideways")
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="max_nodes"):
            draw_graph(o, max_nodes=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision"):
        draw_graph(o, precision=0)


def test_the_direction_is_the_narrower_one_unless_given():
    o, params = neuron()
    assert "rankdir=TB" in draw_graph(o).source  # five leaves side by side, four ranks deep
    v = Value(0.5, label="x")
    for _ in range(12):
        v = v.sin()
    assert "rankdir=TB" in draw_graph(v).source  # a chain: one node wide from top to bottom
    ws = [Value(0.1 * i, label=f"w{i}") for i in range(12)]
    xs = [Value(1.0, label=f"x{i}") for i in range(12)]
    assert "rankdir=LR" in draw_graph(linear(ws, xs, Value(0.0, label="b"))).source  # 25 leaves, one op
    assert "rankdir=BT" in draw_graph(o, rankdir="BT").source
    x = Value(1.5, label="x")
    source = draw_graph(x).source
    assert "n0 [" in source and "->" not in source and "root" in source


# -- step frames -------------------------------------------------------------------------------------------
@needs_dot
def test_a_step_frame_lights_this_step_and_shows_the_grads_so_far():
    o, params = neuron()
    steps = backward_steps(o)
    f = format_number
    # Step 2 is #6 = #2 + #5 (upstream 0.5): it passes 1 × 0.5 to #2 and to #5.
    assert steps[2].node.label == "" and steps[2].upstream == pytest.approx(0.5)
    parsed = laid_out(draw_graph(o, params=params, step=2))
    nodes = by_name(parsed)
    names = {v["name"]: k for k, v in nodes.items()}
    edges = {(names[e["tail"]], names[e["head"]]): e for e in edges_of(parsed)}
    for key in (("#2", "#6"), ("#5", "#6")):
        assert text(edges[key]["label"]) == f"1 × {f(steps[2].upstream)} = {f(steps[2].upstream)}"
        assert (edges[key]["color"], edges[key]["penwidth"]) == (draw_module.NOW, "3")
    for key in (("n", "o"), ("#6", "n"), ("b", "n")):
        assert edges[key]["color"] == draw_module.DONE and " × " in text(edges[key]["label"])
    assert (edges["x1", "#2"]["color"], edges["x1", "#2"].get("style")) == (draw_module.TODO, "dashed")
    assert text(edges["x1", "#2"]["label"]) == "-3"  # not traversed yet: the local derivative only
    assert nodes["#6"]["color"] == draw_module.NOW and nodes["o"]["color"] == draw_module.ROOT
    assert text(nodes["#2"]["label"]).split("\n")[-1] == "grad 0.5"  # complete: #2 feeds only #6
    assert "grad" not in text(nodes["x1"]["label"])  # reached by step 4 only (its row is kept, empty)
    assert "Backward step 2 of 0–4: #6 passes its grad 0.5 to its operands" in text(parsed["label"])
    # After the last step every grad equals the engine's, computed afresh (.grad is still 0).
    last = by_name(laid_out(draw_graph(o, params=params, step=4)))
    x1, w1 = (v for v in walk(o) if v.label in ("w1", "x1"))
    assert text(last["w1"]["label"]).split("\n")[-1] == f"grad {f(gradients(o, [w1])[0])}"
    assert text(last["x1"]["label"]).split("\n")[-1] == f"grad {f(gradients(o, [x1])[0])}"
    assert o.grad == 0


def test_a_partial_grad_says_so_far():
    x = Value(3.0, label="x")
    y = x * x + x
    assert "<I>grad so far 1</I>" in draw_graph(y, step=0).source  # from the +; the * has not run yet
    assert ">grad 7<" in draw_graph(y, step=1).source


def test_step_must_name_a_step():
    o, _ = neuron()
    for bad in (-1, 5, 1.0, True):
        with pytest.raises(ValueError, match="from 0 to 4"):
            draw_graph(o, step=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="single leaf"):
        draw_graph(Value(1.0), step=0)
    big = mlp_loss([2, 8, 8, 1], batch=3)  # 701 values: no step picture of it by default
    with pytest.raises(ValueError, match="step= draws every node"):
        draw_graph(big, step=0)
    assert draw_graph(mlp_loss([2, 3, 1], batch=2), step=0)  # more than max_nodes: drawn whole, not refused


@needs_dot
@pytest.mark.parametrize("example", ["neuron", "linear neuron", "README z", "focus"])
def test_every_frame_of_a_pass_keeps_every_node_and_edge_in_place(example):
    if example == "neuron":
        root, params = neuron()
        focus = None
    elif example == "linear neuron":
        root, params = linear_neuron()
        focus = None
    elif example == "README z":
        root, params, focus = readme_z(), None, None
    else:
        root = mlp_loss([2, 3, 1], batch=1, fused=True)
        params, focus = None, parameters(root)["layers.0.neurons.0.w.1"]
    frames = [laid_out(draw_graph(root, params=params, step=k, focus=focus))
              for k in range(len(backward_steps(root)))]
    first = place(frames[0])
    for k, frame in enumerate(frames[1:], 1):
        assert place(frame) == first, f"frame {k} moved something"
    # The frames do differ in what they say (off the paths in focus a step changes only the title).
    shown = {json.dumps([f["label"], *(n["label"] for n in nodes_of(f).values())]) for f in frames}
    assert len(shown) == len(frames)


@needs_dot
@settings(max_examples=8, deadline=None)
@given(graphs_and_points())
def test_step_frames_of_random_graphs_render_and_stay_in_place(case):
    graph, point = case
    root = graph(*[Value(p) for p in point])
    n = len(backward_steps(root))
    if n:
        places = {json.dumps(place(laid_out(draw_graph(root, step=k)))) for k in sorted({0, n // 2, n - 1})}
        assert len(places) == 1


# -- focus -------------------------------------------------------------------------------------------------
@needs_dot
def test_focus_draws_the_paths_and_the_other_operands_as_stubs():
    o, params = neuron()
    o.backward()
    w1 = next(v for v in walk(o) if v.label == "w1")
    parsed = laid_out(draw_graph(o, params=params, focus=w1))
    nodes = by_name(parsed)
    assert set(nodes) == {"w1", "#2", "#6", "n", "o", "x1", "#5", "b"}
    for stub, value in (("x1", "= 2"), ("#5", "= 0"), ("b", "= 6.881")):
        assert "dashed" in nodes[stub]["style"] and text(nodes[stub]["label"]).endswith(value)
        assert "grad" not in text(nodes[stub]["label"])
    assert text(nodes["w1"]["label"]).split("\n")[-1] == "grad 1"
    assert "Focus: the paths from w1 to o" in text(parsed["label"])
    assert "off the paths" in text(parsed["label"])  # the legend


@needs_dot
def test_focus_on_a_weight_of_a_wide_network_collapses_each_ops_many_other_operands():
    loss = mlp_loss([4, 6, 1], batch=1, fused=True)
    loss.backward()
    w = parameters(loss)["layers.0.neurons.2.w.3"]
    parsed = laid_out(draw_graph(loss, focus=w))
    nodes = nodes_of(parsed)
    collapsed = [text(n["label"]) for name, n in nodes.items() if name.endswith("_others")]
    # layer 0's linear node has 8 other operands (4 w's but w3, 4 x's, b), layer 1's 13 (6 w, 5 x, b).
    assert sorted(collapsed) == ["12 other operands", "8 other operands"]
    assert len(nodes) < 12  # the paths: w, linear, tanh, linear, tanh, sub, pow, and 2 boxes of stubs
    assert draw_graph(loss, focus=w, step=0).source  # and frames of it
    # The network, MLP(2, [16, 16, 1]): one weight's paths, with the default max_nodes.
    big = mlp_loss([2, 16, 16, 1], batch=1, fused=True)
    nodes = nodes_of(laid_out(draw_graph(big, focus=parameters(big)["layers.0.neurons.5.w.1"])))
    assert 40 < len(nodes) < 70 and len(walk(big)) > 400


# -- summaries ---------------------------------------------------------------------------------------------
@needs_dot
@pytest.mark.parametrize("fused", [False, True], ids=["mul-add", "linear"])
def test_above_max_nodes_one_box_per_neuron_with_its_numbers(fused):
    loss = mlp_loss([2, 4, 4, 1], batch=3, fused=fused)
    loss.backward()
    n = len(walk(loss))
    parsed = laid_out(draw_graph(loss))  # the default max_nodes (50) is below this graph's size
    assert n > 50
    boxes = {text(o["label"]).split("\n")[0]: o for o in nodes_of(parsed).values()}
    neurons = [f"layers.{l}.neurons.{j}" for l, k in enumerate([4, 4, 1]) for j in range(k)]
    assert set(neurons) <= set(boxes)
    label = text(parsed["label"])
    assert f"Summary: {n:,} values (more than max_nodes=50)" in label.replace("\n", " ")
    # Layers left to right, neurons of a layer top to bottom in order.
    x = {name: float(boxes[name]["pos"].split(",")[0]) for name in neurons}
    y = {name: float(boxes[name]["pos"].split(",")[1]) for name in neurons}
    assert x["layers.0.neurons.0"] < x["layers.1.neurons.0"] < x["layers.2.neurons.0"]
    for l in (0, 1):
        ys = [y[f"layers.{l}.neurons.{j}"] for j in range(4)]
        assert ys == sorted(ys, reverse=True)  # Graphviz's y grows upwards
    lines = text(boxes["layers.1.neurons.2"]["label"]).split("\n")
    assert lines[1].startswith("3 outputs, data ") and lines[2].startswith("grad ")
    assert lines[3].startswith("‖grad‖ of params ")
    # One edge per connected pair of boxes; the usual count goes without a number.
    shown = [e for e in edges_of(parsed) if e.get("style") != "invis"]
    pairs = [(e["tail"], e["head"]) for e in shown]
    assert len(pairs) == len(set(pairs))
    for e in shown:
        assert e["tooltip"] == f"stands for {text(e.get('label', '')) or 3} edges of the graph"
    assert "An edge without a number stands for 3 edges of the graph" in label.replace("\n", " ")


def test_a_100000_node_graph_is_drawn_as_a_summary_of_bounded_size():
    rng = __import__("random").Random(1)
    nodes = [Value(rng.uniform(-1, 1)) for _ in range(10)]
    while len(nodes) < 100_000:
        a, b = nodes[-1], rng.choice(nodes)
        nodes.append((a * b).tanh() if rng.random() < 0.3 else a + b)
    source = draw_graph(nodes[-1], max_nodes=300).source
    assert source.count("->") <= 200 and source.count("[label=<<TABLE") <= 20


# -- readability ---------------------------------------------------------------------------------------------
def readme_and_notebook_pictures() -> dict[str, object]:
    """Every picture the README and the notebooks draw, with default options (notebook 01's included)."""
    o, params = neuron()
    pictures: dict[str, object] = {"neuron before backward": draw_graph(o, params=params)}
    lo, lparams = linear_neuron()
    lo.backward()
    o.backward()
    z = readme_z()
    z.backward()
    p = squared_product()
    p.backward()
    pictures |= {"neuron": draw_graph(o, params=params), "linear neuron": draw_graph(lo, params=lparams),
                 "README z": draw_graph(z), "(a*c)**2": draw_graph(p)}
    for k in range(len(backward_steps(o))):
        pictures[f"neuron step {k}"] = draw_graph(o, params=params, step=k)
    w1 = next(v for v in walk(o) if v.label == "w1")
    pictures["neuron focus"] = draw_graph(o, params=params, focus=w1)
    import nn  # notebook 02: how one weight of an MLP gets its grad

    small = nn.MLP(2, [3, 3, 1], activation="relu", seed=2)
    score = small([Value(0.5, label="x.0"), Value(0.25, label="x.1")])
    score.label = "score"
    score.backward()
    pictures["notebook 02 focus"] = draw_graph(score, focus=small.parameters()[0])
    return pictures


@needs_dot
def test_every_example_picture_fits_1000_px_at_96_dpi_with_no_text_under_10_px():
    for name, dot in readme_and_notebook_pictures().items():
        svg = svg_of(dot)
        width_px = float(svg.get("width", "").removesuffix("pt")) * 96 / 72  # Graphviz sizes SVGs in points
        assert width_px <= 1000, (name, width_px)
        sizes = [float(t.get("font-size", "14")) for t in svg.iter(f"{SVG}text")]
        # A picture narrower than 1,000 px is shown at full size: points to pixels at 96 dpi.
        assert min(sizes) * 96 / 72 >= 10, (name, min(sizes))


# -- labels --------------------------------------------------------------------------------------------------
@needs_dot
def test_a_label_past_graphvizs_limit_is_shortened_with_an_ellipsis_and_renders():
    long = "w" * 20_000
    x = Value(2.0, label=long)
    y = x * Value(3.0, label="<&>" * 6_000)  # escaping makes this one 66,000 characters
    y.label = "y"
    z = (y * x).tanh()
    for dot in (draw_graph(z), draw_graph(z, step=1)):
        svg = svg_of(dot)  # today's Graphviz rejects a label of 16,384 characters or more
        shown = [t.text or "" for t in svg.iter(f"{SVG}text")]
        (name,) = [s for s in shown if s.startswith("www")]
        assert name.endswith("…") and len(name) == draw_module.NAME_BUDGET
    # "&lt;&lt;" and "…" fit in 9 characters; in 8 only one "<" does
    assert draw_module.shorten("ab", 5) == "ab" and draw_module.shorten("<<<", 9) == "<<…"
    assert draw_module.shorten("<<<", 8) == "<…"


def test_escape_label_by_hand():
    assert escape_label('<b>&"\'') == "&lt;b&gt;&amp;&quot;&#x27;"
    assert escape_label("a\\Nb") == "a\\\\Nb"  # Graphviz would expand \N to the node's name
    assert escape_label("one\ntwo\r\nthree\rfour") == "one<BR/>two<BR/>three<BR/>four"
    assert escape_label("nul\x00bell\x07\ufffe") == "nul\\\\x00bell\\\\x07\\\\ufffe"
    assert escape_label("tab\there") == "tab here"
    assert escape_label("a\x85b\u2028c\u2029d\x9f") == "a<BR/>b<BR/>c<BR/>d\\\\x9f"
    assert escape_label("é∂🙂|{}[]") == "é∂🙂|{}[]"


INJECTION = 'x> shape=box]; evil [label=<pwned'


@needs_dot
@settings(max_examples=25, deadline=None)
@given(st.text(max_size=30))
@example(INJECTION)
@example("")
@example("\n")
@example("\\N\\G\\E\\T\\H\\L\\")
@example('"}|{<>]]>&amp;\x00\x1f\r\ud800\ufffe\uffff\U0010ffff')
@example("<B></B>")
def test_any_label_is_escaped_and_renders(label):
    v = Value(1.0, label=label)
    y = v * v
    y.label = label
    source = draw_graph(y).source
    assert source.splitlines() == source.split("\n")[:-1]  # no line break of any kind inside a statement
    parsed = laid_out(draw_graph(y))
    # Exactly the nodes and edges drawn: 2 values, 2 edges (nothing injected or lost).
    assert sorted(nodes_of(parsed)) == ["n0", "n1"] and len(edges_of(parsed)) == 2


PLAIN_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Co", "Cn")), min_size=1,
                     max_size=20)


@needs_dot
@settings(max_examples=15, deadline=None)
@given(PLAIN_TEXT)
@example(INJECTION)
@example("a\\Nb \"c\" & <d> {e|f}")
@example("  two  spaces ")
def test_label_text_reaches_the_svg_verbatim(label):
    v = Value(1.0, label=label)
    texts = [t.text or "" for t in svg_of(draw_graph(v * 2)).iter(f"{SVG}text")]
    # Graphviz keeps runs of spaces by turning every second one into a no-break space.
    assert label.replace("\xa0", " ") in [t.replace("\xa0", " ") for t in texts]


# -- determinism ---------------------------------------------------------------------------------------------
BUILD = """
from autograd import Value, draw_graph
x = Value(0.5, label="x ∂ \\"q\\"")
w = Value(-1.25, label="layers.0.neurons.0.w.0")
h = (x * w + 2).tanh() + x ** 3 - (2 ** x) / w.exp() + x.leaky_relu(0.1) * x
h.label = "h"
h.backward()
sources = [draw_graph(h).source, draw_graph(h, step=3).source, draw_graph(h, max_nodes=4).source,
           draw_graph(h, focus=w).source]
"""


def test_dot_is_identical_across_runs_and_has_no_address():
    first: dict = {}
    second: dict = {}
    exec(BUILD, first)
    exec(BUILD, second)
    assert first["sources"] == second["sources"]
    assert "0x" not in "".join(first["sources"])


def test_dot_bytes_are_identical_across_processes_and_hash_seeds():
    here: dict = {}
    exec(BUILD, here)
    expected = "\n\0\n".join(here["sources"]).encode()
    script = BUILD + "\nimport sys\nsys.stdout.buffer.write('\\n\\0\\n'.join(sources).encode())\n"
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, check=True,
                              cwd=Path(__file__).resolve().parents[3])
        assert done.stdout == expected


# -- missing tools -------------------------------------------------------------------------------------------
def test_without_dot_the_source_still_builds_and_rendering_says_how_to_install(monkeypatch, tmp_path):
    o, params = neuron()
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot anywhere
    dot = draw_graph(o, params=params, step=1)  # frames measure their texts with dot: estimated instead
    assert dot.source.startswith("digraph {")
    for render in (lambda: dot.pipe(format="svg"), dot._repr_mimebundle_,
                   lambda: dot.render(outfile=tmp_path / "g.svg")):
        with pytest.raises(graphviz.ExecutableNotFound, match="Install Graphviz: sudo apt-get install "
                                                               "graphviz"):
            render()


def test_without_the_graphviz_package_the_error_names_the_extra(monkeypatch):
    o, _ = neuron()
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now raises ImportError
    with pytest.raises(ImportError, match=re.escape("pip install 'chainrule[graph]'")):
        draw_graph(o)
    from autograd.viz import walk_graph

    assert walk_graph(o).nodes[-1].value is o  # the pure walk needs no graphviz


def test_a_compiled_function_draws_its_traced_graph():
    from autograd import compile

    f = compile(lambda x, y: (x * y).tanh())
    f(1.0, 2.0)
    assert "= tanh(#2)" in draw_graph(f).source


@needs_dot
def test_the_default_direction_is_the_narrower_layout_dot_finds() -> None:
    # A focused MLP: the estimate from ranks and texts chose left to right, 1,643 px wide, where top to
    # bottom is 1,033; the direction now comes from dot's own layout of both.
    import nn

    model = nn.MLP(2, [4, 4, 1], seed=2)
    score = model([0.5, -1.0])
    score.backward()
    weight = model.layers[0].neurons[0].w[0]

    def width(g: graphviz.Digraph) -> float:
        plain = subprocess.run(["dot", "-Tplain"], input=g.source.encode(), capture_output=True, check=True)
        return float(plain.stdout.split()[2])

    chosen = draw_graph(score, focus=weight)
    widths = {d: width(draw_graph(score, focus=weight, rankdir=d)) for d in ("TB", "LR")}
    assert width(chosen) == min(widths.values())
    assert 'rankdir=TB' in chosen.source and widths["TB"] < widths["LR"]

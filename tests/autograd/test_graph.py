"""draw_graph and the pure walk under it: structure, roles, grads, determinism, escaping, summaries of big
graphs, rendering with and without Graphviz's dot."""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import autograd
from autograd import Constant, Value, draw_graph
from autograd.graph import escape_label, format_number, summarize_graph, walk, walk_graph

graphviz = pytest.importorskip("graphviz", reason="draw_graph needs the graphviz Python package")
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed (CI installs it)")
SVG = "{http://www.w3.org/2000/svg}"

# DOT lines as graphviz writes them: `\tn3 [label=<...> shape=plain]` and `\tn0 -> n2op [label=<3>]`.
VALUE_NODE = re.compile(r"^\t(n\d+) \[label=", re.M)
OP_NODE = re.compile(r"^\t(n\d+)op \[label=<(.*?)>", re.M)
OPERAND_EDGE = re.compile(r"^\tn(\d+) -> n(\d+)op(?: \[label=<(.*?)>)?", re.M)
OUTPUT_EDGE = re.compile(r"^\tn(\d+)op -> n(\d+)$", re.M)


def neuron() -> tuple[Value, Value, Value, Value]:
    """y = tanh(x * w + 1) with x an input and w a parameter (dotted nn name)."""
    x = Value(3.0, label="x")
    w = Value(-0.5, label="layers.0.neurons.0.w.0")
    y = (x * w + 1).tanh()
    y.label = "y"
    return x, w, y.parents[0], y


def node_line(source: str, node_id: str) -> str:
    (line,) = [ln for ln in source.split("\n") if ln.startswith(f"\t{node_id} [")]
    return line


def svg_of(dot: object) -> ET.Element:
    return ET.fromstring(dot.pipe(format="svg"))  # type: ignore[attr-defined]


def dot_json(source: str) -> dict:
    done = subprocess.run(["dot", "-Tjson"], input=source.encode(), capture_output=True, check=True)
    assert b"Error" not in done.stderr and b"Warning" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def mlp_loss(sizes: list[int], batch: int, seed: int = 0) -> Value:
    """The graph an nn MLP builds, straight from Values: tanh neurons whose parameters carry nn's dotted
    names (layers.L.neurons.J.w.I and .b), over a batch, with a squared-error loss over every output."""
    rng = random.Random(seed)
    layers = [
        [([Value(rng.uniform(-1, 1), label=f"layers.{l}.neurons.{j}.w.{i}") for i in range(nin)],
          Value(0.0, label=f"layers.{l}.neurons.{j}.b")) for j in range(nout)]
        for l, (nin, nout) in enumerate(zip(sizes, sizes[1:]))
    ]
    terms = []
    for _ in range(batch):
        xs = [Value(rng.uniform(-1, 1)) for _ in range(sizes[0])]
        for layer in layers:
            acts = []
            for ws, b in layer:
                act = b
                for w, x in zip(ws, xs):
                    act = act + w * x
                acts.append(act.tanh())
            xs = acts
        terms += [(out - rng.uniform(-1, 1)) ** 2 for out in xs]
    loss = terms[0]
    for t in terms[1:]:
        loss = loss + t
    return loss


# -- the pure walk -----------------------------------------------------------------------------------
def test_walk_graph_lists_nodes_in_operand_order_with_roles_names_and_local_derivatives():
    x, w, s, y = neuron()
    g = walk_graph(y)
    assert [(n.id, n.name, n.role, n.is_root) for n in g.nodes] == [
        ("n0", "x", "input", False),
        ("n1", "layers.0.neurons.0.w.0", "parameter", False),
        ("n2", "#2", "op", False),
        ("n3", "1", "constant", False),
        ("n4", "#4", "op", False),
        ("n5", "y", "op", True),
    ]
    assert [g.nodes[i].value for i in (0, 1, 4, 5)] == [x, w, s, y]
    assert g.nodes[2].value is s.parents[0] and g.nodes[3].value is s.parents[1]
    # Hand-derived: d(xw)/dx = w = -0.5, d(xw)/dw = x = 3, d(a+1) = 1 twice, d tanh(a) = 1 - tanh(a)^2.
    assert [(e.parent, e.child, e.operand, e.local) for e in g.edges] == [
        ("n0", "n2", 0, -0.5),
        ("n1", "n2", 1, 3.0),
        ("n2", "n4", 0, 1.0),
        ("n3", "n4", 1, 1.0),
        ("n4", "n5", 0, pytest.approx(1 - math.tanh(-0.5) ** 2, abs=1e-15)),
    ]


def test_walk_keeps_duplicate_operands_and_visits_a_shared_node_once():
    x = Value(2.0, label="x")
    a = x * x
    y = a + a
    g = walk_graph(y)
    assert [n.name for n in g.nodes] == ["x", "#1", "#2"]
    assert [(e.parent, e.child, e.operand, e.local) for e in g.edges] == [
        ("n0", "n1", 0, 2.0), ("n0", "n1", 1, 2.0), ("n1", "n2", 0, 1.0), ("n1", "n2", 1, 1.0)]


def test_walk_matches_the_engine_toposort_once_constants_are_dropped():
    x, w, s, y = neuron()
    z = (y * 2 + x ** 3 - w.exp() / 4).sigmoid()
    assert [v for v in walk(z) if type(v) is not Constant] == autograd.toposort(z)


def test_walk_of_a_chain_deeper_than_the_recursion_limit():
    v = x = Value(0.5, label="x")
    for _ in range(sys.getrecursionlimit() * 3):
        v = v.sin()
    order = walk(v)
    assert order[0] is x and order[-1] is v and len(order) == sys.getrecursionlimit() * 3 + 1


def test_params_decide_parameters_when_given_else_dotted_labels_do():
    a = Value(1.0, label="a")
    dotted = Value(2.0, label="layers.1.neurons.0.b")
    plain_dotted_lookalikes = [Value(1.0, label=t) for t in ("x1", "log(2)", ".x", "a..b", "1.2", "a.")]
    y = a * dotted
    for v in plain_dotted_lookalikes:
        y = y + v
    roles = {n.name: n.role for n in walk_graph(y).nodes}
    assert roles["a"] == "input" and roles["layers.1.neurons.0.b"] == "parameter"
    assert all(roles[v.label] == "input" for v in plain_dotted_lookalikes)
    explicit = {n.name: n.role for n in walk_graph(y, params=[a]).nodes}
    assert explicit["a"] == "parameter" and explicit["layers.1.neurons.0.b"] == "input"


def test_walk_rejects_a_non_value():
    with pytest.raises(TypeError, match="Value"):
        walk_graph(3.0)  # type: ignore[arg-type]


# -- the DOT source ------------------------------------------------------------------------------------
def test_dot_has_a_value_node_per_value_an_op_node_per_op_and_an_edge_per_operand():
    x, w, s, y = neuron()
    z = y * y + x ** 3  # a reused node, a duplicate operand, a pow with its constant as an arg
    source = draw_graph(z).source
    order = walk(z)
    ops = [v for v in order if v.parents]
    assert VALUE_NODE.findall(source) == [f"n{i}" for i in range(len(order))]
    assert len(OP_NODE.findall(source)) == len(ops)
    assert len(OUTPUT_EDGE.findall(source)) == len(ops)
    operand_edges = OPERAND_EDGE.findall(source)
    assert len(operand_edges) == sum(len(v.parents) for v in order)
    # Each operand edge carries the child's local derivative for that operand, in operand order.
    index = {v: i for i, v in enumerate(order)}
    expected = [(str(index[p]), str(i), format_number(local))
                for i, v in enumerate(order) for p, local in zip(v.parents, v.local_grads)]
    assert operand_edges == expected
    assert dict(OP_NODE.findall(source))[f"n{index[z.parents[1]]}"] == "** 3"


def test_op_nodes_show_the_op_symbol_and_its_argument():
    x = Value(-2.0, label="x")
    z = x.leaky_relu(0.2) + (x ** 2).exp() - x.relu() / abs(x)
    symbols = sorted(sym for _, sym in OP_NODE.findall(draw_graph(z).source))
    assert symbols == sorted(["leaky_relu(0.2)", "** 2", "exp", "+", "-", "relu", "/", "abs"])


def test_grads_appear_only_once_a_backward_reached_the_root():
    x, w, s, y = neuron()
    before = draw_graph(y).source
    assert "grad" not in before
    y.backward()
    after = draw_graph(y).source
    # Hand-derived: dy/dx = (1 - tanh(-0.5)^2) * w, dy/dw = (1 - tanh(-0.5)^2) * x.
    d = 1 - math.tanh(-0.5) ** 2
    assert f"<TD>grad {format_number(d * -0.5)}</TD>" in node_line(after, "n0")
    assert f"<TD>grad {format_number(d * 3.0)}</TD>" in node_line(after, "n1")
    assert "<TD>grad 1</TD>" in node_line(after, "n5")
    assert "grad" not in node_line(after, "n3")  # the constant 1 never has one
    assert "grad" not in draw_graph(y, show_grads=False).source
    unlabelled = OPERAND_EDGE.findall(draw_graph(y, show_local_grads=False).source)
    assert len(unlabelled) == 5 and all(label == "" for *_, label in unlabelled)


def test_roles_are_styled_and_the_root_stands_out():
    x, w, s, y = neuron()
    source = draw_graph(y).source
    assert 'BGCOLOR="#dbeafe"' in node_line(source, "n0") and "input" in node_line(source, "n0")
    assert 'BGCOLOR="#fde68a"' in node_line(source, "n1") and "parameter" in node_line(source, "n1")
    assert "dashed" in node_line(source, "n3") and "constant" in node_line(source, "n3")
    assert 'BORDER="3"' in node_line(source, "n5") and "root" in node_line(source, "n5")
    assert sum('BORDER="3"' in line for line in source.splitlines()) == 1
    as_params = draw_graph(y, params=[x]).source
    assert 'BGCOLOR="#fde68a"' in node_line(as_params, "n0")
    assert 'BGCOLOR="#dbeafe"' in node_line(as_params, "n1")


def test_precision_sets_significant_digits():
    x = Value(2.0 / 3, label="x")
    y = x * 1.0
    assert "data 0.6667" in draw_graph(y).source
    assert "data 0.67<" in draw_graph(y, precision=2).source
    assert format_number(-0.0) == "0" and format_number(123456.0, 3) == "1.23e+05"
    assert format_number(float("nan")) == "nan" and format_number(-math.inf) == "-inf"


def test_bad_arguments_say_what_to_pass():
    x, w, s, y = neuron()
    with pytest.raises(TypeError, match="Value"):
        draw_graph(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(y, rankdir="sideways")
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(y, max_nodes=0)
    with pytest.raises(ValueError, match="precision"):
        draw_graph(y, precision=0)


def test_rankdir_and_a_single_leaf():
    x = Value(1.5, label="x")
    source = draw_graph(x, rankdir="TB").source
    assert "rankdir=TB" in source
    assert VALUE_NODE.findall(source) == ["n0"] and "root" in source and "->" not in source


# -- determinism ---------------------------------------------------------------------------------------
BUILD = """
from autograd import Value, draw_graph
x = Value(0.5, label="x ∂ \\"q\\"")
w = Value(-1.25, label="layers.0.neurons.0.w.0")
h = (x * w + 2).tanh() + x ** 3 - (2 ** x) / w.exp() + x.leaky_relu(0.1) * x
h.label = "h"
h.backward()
sources = [draw_graph(h).source, draw_graph(h, step=3).source, draw_graph(h, max_nodes=4).source]
"""


def test_dot_is_identical_across_runs():
    first: dict = {}
    second: dict = {}
    exec(BUILD, first)
    exec(BUILD, second)
    assert first["sources"] == second["sources"]
    assert "0x" not in "".join(first["sources"])  # no memory address leaks into the picture


def test_dot_bytes_are_identical_across_processes_and_hash_seeds():
    here: dict = {}
    exec(BUILD, here)
    expected = "\n\0\n".join(here["sources"]).encode()
    script = BUILD + "\nimport sys\nsys.stdout.buffer.write('\\n\\0\\n'.join(sources).encode())\n"
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, check=True,
                              cwd=Path(__file__).resolve().parents[2])
        assert done.stdout == expected


# -- escaping ------------------------------------------------------------------------------------------
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
@settings(max_examples=25)
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
    if label:
        assert f"<B>{escape_label(label)}</B>" in node_line(source, "n0")
    parsed = dot_json(source)
    # Exactly the nodes and edges drawn: 2 values, 1 op node, 3 edges (nothing injected or lost).
    assert sorted(o["name"] for o in parsed["objects"]) == ["n0", "n1", "n1op"]
    assert len(parsed["edges"]) == 3


PLAIN_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Co", "Cn")), min_size=1,
                     max_size=20)


@needs_dot
@settings(max_examples=15)
@given(PLAIN_TEXT)
@example(INJECTION)
@example("a\\Nb \"c\" & <d> {e|f}")
@example("  two  spaces ")
def test_label_text_reaches_the_svg_verbatim(label):
    v = Value(1.0, label=label)
    texts = [t.text or "" for t in svg_of(draw_graph(v * 2)).iter(f"{SVG}text")]
    # Graphviz keeps runs of spaces by turning every second one into a no-break space.
    assert label.replace("\xa0", " ") in [t.replace("\xa0", " ") for t in texts]


# -- summaries of big graphs ---------------------------------------------------------------------------
def test_an_mlp_graph_collapses_into_one_box_per_neuron_with_counts():
    loss = mlp_loss([3, 4, 4, 2], batch=3)
    order = walk(loss)
    summary = summarize_graph(loss, max_nodes=50)
    names = [c.name for c in summary.clusters]
    neurons = [f"layers.{l}.neurons.{j}" for l, n in enumerate([4, 4, 2]) for j in range(n)]
    assert sorted(names) == sorted(["inputs", "other", *neurons])
    assert summary.total == len(order) and sum(c.size for c in summary.clusters) == len(order) - 1
    by_name = {c.name: c for c in summary.clusters}
    # Per neuron of layer 0 over 3 samples: 3 w + 1 b; 3 mul + 3 add + 1 tanh per sample.
    assert dict(by_name["layers.0.neurons.2"].roles) == {"parameter": 4, "op": 21}
    assert dict(by_name["layers.0.neurons.2"].ops) == {"mul": 9, "add": 9, "tanh": 3}
    assert dict(by_name["inputs"].roles) == {"input": 9}
    # Each output's (out - t) ** 2 joins its neuron (sub, its constant target, pow); the loss sum joins
    # "other" because it adds terms of two different neurons.
    assert dict(by_name["layers.2.neurons.1"].ops) == {"mul": 12, "add": 12, "tanh": 3, "sub": 3, "pow": 3}
    assert dict(by_name["other"].ops) == {"add": 4}  # 6 terms need 5 adds; the last is the root
    # Every node's cluster follows the documented rule, checked node by node.
    cluster = {v: summary.clusters[c].name for v, c in zip(order, summary.assignment) if c >= 0}
    for v in order[:-1]:
        if v.label:  # layers.L.neurons.J.w.I and layers.L.neurons.J.b belong to layers.L.neurons.J
            assert cluster[v] == ".".join(v.label.split(".")[:4])
        elif v.parents:
            params = [p for p in v.parents if p.label]
            if params:
                assert cluster[v] == cluster[params[0]]
            else:
                shared = {cluster[p] for p in v.parents if p.parents}
                assert cluster[v] == (shared.pop() if len(shared) == 1 else "other")
    # Edge counts: every edge that crosses clusters, counted once.
    ids = [f"c{c}" if c >= 0 else "root" for c in summary.assignment]
    crossing: dict[tuple[str, str], int] = {}
    position = {v: i for i, v in enumerate(order)}
    for i, v in enumerate(order):
        for p in v.parents:
            if ids[position[p]] != ids[i]:
                crossing[ids[position[p]], ids[i]] = crossing.get((ids[position[p]], ids[i]), 0) + 1
    assert {(a, b): k for a, b, k in summary.edges} == crossing


def test_a_small_budget_collapses_per_layer_and_the_note_says_so():
    loss = mlp_loss([3, 4, 4, 2], batch=2)
    summary = summarize_graph(loss, max_nodes=6)
    # Per layer, both outputs are in layers.2, so the loss sum joins it too: no "other" box.
    assert sorted(c.name for c in summary.clusters) == ["inputs", "layers.0", "layers.1", "layers.2"]
    assert "prefix of 2 parts" in summary.note and "max_nodes=6" in summary.note


@needs_dot
def test_draw_graph_summarizes_above_max_nodes_and_notes_it_on_the_picture():
    loss = mlp_loss([3, 4, 4, 2], batch=3)
    n = len(walk(loss))
    source = draw_graph(loss, max_nodes=50).source
    parsed = dot_json(source)
    boxes = [o for o in parsed["objects"] if "nodes" not in o]  # objects with "nodes" are frames
    assert len(boxes) == 12 + 1  # 10 neurons, inputs, other and the root
    assert len(boxes) <= 50
    assert f"Summary: {n:,} values" in source and "collapsed into 12 boxes" in source
    frames = sorted(o["label"] for o in parsed["objects"] if "nodes" in o)
    assert frames == ["<B>layers.0</B>", "<B>layers.1</B>", "<B>layers.2</B>"]  # a frame per layer
    whole = draw_graph(loss, max_nodes=None).source
    assert len(OP_NODE.findall(whole)) == sum(1 for v in walk(loss) if v.parents)
    assert "Summary" not in whole
    svg = svg_of(draw_graph(loss, max_nodes=50))
    assert any("layers.1.neurons.3" == (t.text or "") for t in svg.iter(f"{SVG}text"))


def test_a_graph_without_parameters_collapses_by_depth():
    x = Value(0.3, label="x")
    v = x
    for _ in range(1000):
        v = (v * 0.9 + 0.1).tanh()
    summary = summarize_graph(v, max_nodes=13)
    names = [c.name for c in summary.clusters]
    assert names[0] == "inputs" and len(names) == 1 + 10  # budget 13 - 3 = 10 depth bands
    assert names[1] == "ops at depth 1-300" and names[-1] == "ops at depth 2701-2999"
    assert sum(c.size for c in summary.clusters) == len(walk(v)) - 1
    assert "grouped by depth" in summary.note


def test_step_needs_the_whole_graph():
    loss = mlp_loss([2, 2, 1], batch=2)
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(loss, max_nodes=10, step=0)


# -- rendering -----------------------------------------------------------------------------------------
@needs_dot
def test_renders_to_svg_with_every_node_and_edge():
    x, w, s, y = neuron()
    y.backward()
    dot = draw_graph(y)
    svg = svg_of(dot)
    groups = [g.get("class") for g in svg.iter(f"{SVG}g")]
    assert groups.count("node") == 6 + 3 and groups.count("edge") == 5 + 3
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "y" in texts and "layers.0.neurons.0.w.0" in texts and "tanh" in texts
    bundle = dot._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_without_dot_the_source_still_builds_and_rendering_says_how_to_install(monkeypatch, tmp_path):
    x, w, s, y = neuron()
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot anywhere
    dot = draw_graph(y)
    assert dot.source.startswith("digraph {")
    for render in (lambda: dot.pipe(format="svg"), dot._repr_mimebundle_,
                   lambda: dot.render(outfile=tmp_path / "g.svg")):
        with pytest.raises(graphviz.ExecutableNotFound, match="Install Graphviz: sudo apt-get install "
                                                               "graphviz"):
            render()


def test_without_the_graphviz_package_the_error_names_the_extra(monkeypatch):
    x, w, s, y = neuron()
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now raises ImportError
    with pytest.raises(ImportError, match=re.escape("pip install 'chainrule[graph]'")):
        draw_graph(y)
    assert walk_graph(y).nodes[-1].value is y  # the pure walk needs no graphviz

"""``draw_graph``: a graph, one step of its backward pass, the paths from one node, or a summary of a big
graph, as Graphviz DOT with a title and a legend. Frames of a pass keep every node where it is.
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
import shutil
import subprocess
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..ops import OPS
from ..value import Constant, Value
from .steps import BackwardStep, Event, backward_steps, contributions, expression, steps_of
from .summary import INPUTS, Cluster, GraphSummary, owner, summary_of
from .walk import (
    Graph,
    GraphEdge,
    GraphNode,
    check_precision,
    format_number,
    graph_of,
    kept,
    node_name,
    on_paths,
    roles,
    walk,
)

if TYPE_CHECKING:
    import graphviz

# -- colours ---------------------------------------------------------------------------------------------
# Okabe and Ito's palette (tints of it for fills): told apart with each common colour-vision deficiency.
# Fills say a leaf's role; outlines and edges say where the pass is, with widths and dashes as well as hue.
# tests/autograd/viz/test_draw.py checks every pair under simulated protan, deutan and tritan vision.
ROLE_FILL: dict[str, str] = {
    "input": "#a8d5f2",  # sky blue tint
    "parameter": "#f7c873",  # orange tint: what training changes
    "constant": "#dcdcdc",  # grey, dashed outline
    "op": "#ffffff",
}
ROOT = "#000000"  # the root's thick outline
NOW = "#d55e00"  # vermillion: the node and edges of this step
DONE = "#0072b2"  # blue: edges of earlier steps
TODO = "#9a9a9a"  # grey: edges still to come (and an outline's default)
STUB = "#6b6b6b"  # focus=: operands off the paths, dashed
_RANKDIRS = ("LR", "RL", "TB", "BT")
UNSUMMARIZED = 300  # boxes a focus= or step= picture may have (by default): dot lays out 300 in a second
FONT = "Helvetica"
SIZE, SMALL = 11, 9  # points: 14.7 and 12 px at 96 dpi, so no text is under 10 px at full size

_INSTALL_PACKAGE = (
    "draw_graph needs the graphviz Python package: pip install 'chainrule[graph]' "
    "(rendering also needs Graphviz's dot program, e.g. sudo apt-get install graphviz)"
)
_INSTALL_DOT = (
    "Graphviz's dot program was not found on PATH, so the graph cannot be rendered (its DOT source is "
    "still in .source). Install Graphviz: sudo apt-get install graphviz (Debian/Ubuntu), brew install "
    "graphviz (macOS), conda install -c conda-forge graphviz, or see https://graphviz.org/download/ ; "
    "then restart Python so the new PATH is seen."
)
NO_BACKWARD = "no backward yet: grads are 0 until you call backward()"

# -- text ------------------------------------------------------------------------------------------------
# Shown as their escape (e.g. \x00): characters XML 1.0 forbids even as references (Graphviz parses
# HTML-like labels as XML and fails on them), and the invisible C1 controls.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
# Line breaks, Unicode's included: each becomes <BR/>, so every DOT statement stays on one line.
_NEWLINE = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
# NOTE: Graphviz rejects a whole DOT file whose HTML-like label is 16,384 characters or longer ("syntax
# error ... longer than 16384?"). A label holds up to three names (a node's, and its two operands' in
# its expression) and a few hundred characters of markup, so each name is cut to this many characters
# once escaped.
NAME_BUDGET = 5000


def escape_label(text: str) -> str:
    r"""``text`` as the content of a Graphviz HTML-like label: shown as written, never read as markup.

    ``& < > " '`` become entities; a backslash is doubled (Graphviz expands ``\N``, ``\G``, ... even in
    HTML-like labels); a line break becomes ``<BR/>``; a character XML forbids (NUL, most control
    characters, lone surrogates) or an invisible control is shown as its escape, e.g. ``\x00``.

    >>> escape_label('a<b> & "c"\\N')
    'a&lt;b&gt; &amp; &quot;c&quot;\\\\N'
    """
    text = _UNSHOWABLE.sub(lambda m: repr(m.group())[1:-1], text)
    text = html.escape(text, quote=True).replace("\\", "\\\\").replace("\t", " ")
    return _NEWLINE.sub("<BR/>", text)


def shorten(text: str, budget: int = NAME_BUDGET) -> str:
    """``text``, cut with an ellipsis so that ``escape_label`` of it is at most ``budget`` characters.

    >>> shorten("abcdef", 4), shorten("abc", 4)
    ('abc…', 'abc')
    """
    if len(escape_label(text)) <= budget:
        return text
    lo, hi = 0, min(len(text), budget)  # the longest prefix that fits with its "…", by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(escape_label(text[:mid])) + 1 <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def _font(text: str, size: int, color: str | None = None) -> str:
    colour = f' COLOR="{color}"' if color else ""
    return f'<FONT POINT-SIZE="{size}"{colour}>{text}</FONT>'


# -- Graphviz --------------------------------------------------------------------------------------------
def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(_INSTALL_PACKAGE) from e
    return graphviz


@functools.cache
def _digraph_class(graphviz: Any) -> Any:
    """``graphviz.Digraph`` made to say how to install Graphviz when ``dot`` is missing."""

    class DotNotFoundError(graphviz.ExecutableNotFound):  # type: ignore[misc, name-defined]
        def __init__(self, message: str) -> None:
            RuntimeError.__init__(self, message)

    def explained(method: Any) -> Any:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                if isinstance(e, DotNotFoundError):
                    raise
                raise DotNotFoundError(_INSTALL_DOT) from e

        return call

    class Digraph(graphviz.Digraph):  # type: ignore[misc, name-defined]
        """A ``graphviz.Digraph`` whose rendering, when ``dot`` is missing, says how to install it."""

        # pipe() also serves Jupyter's SVG display (_repr_mimebundle_ calls it); view() calls render().
        pipe = explained(graphviz.Digraph.pipe)
        render = explained(graphviz.Digraph.render)

    return Digraph


_PAD = 2  # CELLPADDING of every text cell


def _cell(content: str, width: int | None = None, align: str = "LEFT", **attrs: str) -> str:
    size = f' WIDTH="{width}"' if width else ""
    extra = "".join(f' {k.upper()}="{v}"' for k, v in attrs.items())
    return f'<TD ALIGN="{align}" CELLPADDING="{_PAD}"{size}{extra}>{content}</TD>'


def measure(labels: Iterable[str]) -> dict[str, tuple[int, int]]:
    """The size in points (width, height) of each HTML-like label of ``labels``, as Graphviz lays it out.

    One run of ``dot`` on a graph of one node per label: the sizes come from the fonts Graphviz itself
    uses, so reserving them (a cell's WIDTH is a minimum) gives every frame of a pass the same node sizes,
    hence the same layout. Without ``dot`` nothing can be rendered anyway; the sizes are estimated.
    """
    unique = sorted(set(labels))
    dot = shutil.which("dot")
    if dot is None or not unique:
        return {label: _estimate(label) for label in unique}
    lines = [f'digraph {{ node [shape=plain fontname="{FONT}" fontsize="{SIZE}"]']
    lines += [f"m{i} [label=<{label}>]" for i, label in enumerate(unique)]
    lines.append("}")
    try:
        done = subprocess.run([dot, "-Tjson0"], input="\n".join(lines).encode(), capture_output=True,
                              check=True)
        objects = json.loads(done.stdout)["objects"]
    except (OSError, subprocess.CalledProcessError, ValueError, KeyError):
        # NOTE: a dot that cannot measure (broken, or too old for json0) gets estimates here; rendering
        # the picture then reports dot's own error, where the caller can say what to do about it
        return {label: _estimate(label) for label in unique}
    return {unique[int(o["name"][1:])]: (math.ceil(float(o["width"]) * 72) + 1,
                                         math.ceil(float(o["height"]) * 72) + 1) for o in objects}


def _text_label(cell_content: str) -> str:
    """A label of one text cell, as ``measure`` takes it."""
    return f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0"><TR>{_cell(cell_content)}</TR></TABLE>'


def measure_cells(cells: Iterable[str]) -> dict[str, int]:
    """The width in points of a text cell holding each markup of ``cells`` (see ``measure``)."""
    unique = set(cells)
    sizes = measure(_text_label(c) for c in unique)
    return {c: sizes[_text_label(c)][0] for c in unique}


def _estimate(label: str) -> tuple[int, int]:
    sizes = [int(s) for s in re.findall(r'POINT-SIZE="(\d+)"', label)] or [SIZE]
    rows = re.split(r"<TR>|<BR/>", label)
    text = max((html.unescape(re.sub(r"<[^>]*>", "", row)) for row in rows), key=len)
    cells = max(row.count("<TD") for row in rows)
    return (math.ceil(len(text) * max(sizes) * 0.62 + cells * (2 * _PAD + 8)) + 1,
            math.ceil(len(rows) * max(sizes) * 1.4) + 1)


# -- what a frame shows ------------------------------------------------------------------------------------
@dataclass
class _View:
    """What one picture shows: the graph (or the part in focus), each node's grad text, each edge's label
    and state, the node being processed, the title; and, for frames, the room each slot reserves."""

    graph: Graph
    precision: int
    grads: dict[str, str | None]  # node id -> its grad cell ("grad 0.5", "grad so far 0.25") or None
    partial: set[str]  # node ids whose grad is not final yet
    labels: dict[tuple[str, int], str]  # (child id, operand) -> edge label markup text (escaped)
    state: dict[tuple[str, int], str]  # (child id, operand) -> "now", "done" or "todo" (absent: plain)
    current: str | None  # the node whose step this is
    title: list[str]  # lines above the graph (escaped)
    legend_steps: bool  # the legend shows this step / earlier / still to come
    names: dict[Value, str]  # every node of the whole graph -> its name as pictures show it
    reserve: dict[str, int] | None = None  # slot ("g:n3", "e:n3:0", "title") -> width in points
    collapsed: dict[str, set[str]] | None = None  # see _collapsed; filled in by render_view


def draw_graph(
    root: Value,
    *,
    rankdir: str | None = None,
    show_grads: bool = True,
    show_local_grads: bool = True,
    max_nodes: int | None = 50,
    params: Iterable[Value] | None = None,
    step: int | None = None,
    precision: int = 4,
    focus: Value | None = None,
) -> graphviz.Digraph:
    """Draw the graph under ``root``: a ``graphviz.Digraph`` that Jupyter shows inline as SVG.

    - Each Value is a box with its name (its label, else ``#<position in the walk>``), the op that made it
      with its operands' names (``#2 = x * w``), its data and its grad; each edge from an operand is
      labelled with the local derivative ∂node/∂operand. Check the chain rule by hand: grad of an operand
      = Σ over its edges of local × grad of the node it feeds.
    - Grads show what ``.grad`` holds (accumulated over every backward so far); while every grad is 0 the
      title says there has been no backward yet, and no grad is shown. Constants never have one.
    - Leaves are filled by role: input, parameter (the leaves in ``params`` when given, e.g.
      ``model.parameters()``, else those with a dotted nn name such as ``layers.0.neurons.3.w.1``),
      constant (dashed); the root has a thick black outline. A legend says so.
    - ``step=k`` shows the state after step ``k`` of ``backward_steps(root)``: the node of this step
      outlined, its edges labelled local × upstream = contribution, earlier steps' edges blue, the grads
      summed so far ("so far" until complete), computed afresh without ``.grad``. Every node of every
      step keeps its place: each label reserves the room its longest text over the pass needs.
    - ``focus=node`` draws only the paths from ``node`` to the root, each op's other operands as small
      stubs with their values: how one weight gets its grad.
    - Above ``max_nodes`` Values (constants included; ``None`` for no limit) the picture is a summary, one
      box per neuron (see ``summarize_graph``), laid out left to right; a note on the picture says so.
      A ``focus=`` or ``step=`` picture is never summarized: it may have up to ``max(max_nodes, 300)``
      boxes, and above that raises ValueError saying what to do.
    - ``rankdir``: unless given, "TB" or "LR", whichever dot lays out narrower (``narrower``); numbers have
      ``precision`` significant digits; the DOT source is the same in every run, every label escaped and
      shortened past Graphviz's limit. Rendering needs Graphviz's ``dot`` (an error says how to get it).
    """
    root = _drawable(root, rankdir, max_nodes, precision)
    graphviz = _graphviz()
    order = walk(root)
    role = roles(order, params)
    on = None if focus is None else on_paths(order, focus)
    graph = graph_of(order, role, on)
    names = all_names(order)
    if step is not None or focus is not None:
        _check_unsummarized(graph, "step=" if step is not None else "focus=", max_nodes)
    elif max_nodes is not None and len(graph.nodes) > max_nodes:
        dot = _new_digraph(graphviz, rankdir or "LR")
        _draw_summary(dot, summary_of(order, role, max_nodes), show_grads, precision)
        return dot
    view = (plain_view(graph, names, precision, show_grads, show_local_grads) if step is None
            else step_view(graph, names, step, precision, show_local_grads, keep=kept(order, on),
                      steps=steps_of(order)))
    if focus is not None:
        view.title.insert(0, escape_label(
            f"Focus: the paths from {shorten(names[focus], 200)} to {shorten(names[root], 200)}; "
            "the other operands of their ops in small dashed boxes"))
    return narrower(graphviz, lambda dot: render_view(dot, view, show_grads), rankdir,
                    lambda: choose_rankdir(graph, names, precision))


def _drawable(root: Any, rankdir: str | None, max_nodes: int | None, precision: int) -> Value:
    """draw_graph's arguments checked; the root to draw (a compiled function's traced graph for one)."""
    if not isinstance(root, Value) and isinstance(getattr(root, "graph", None), Value):
        root = root.graph  # a compiled function (autograd.compile) or its program: draw the traced graph
    if not isinstance(root, Value):
        raise TypeError(
            f"draw_graph needs a Value (a graph's root) or a compiled function, got {type(root).__name__}"
        )
    if rankdir is not None and rankdir not in _RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
    if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int)
                                  or max_nodes < 1):
        raise ValueError(f"max_nodes must be a positive int or None, got {max_nodes!r}")
    check_precision(precision)
    return root


def _check_unsummarized(graph: Graph, what: str, max_nodes: int | None) -> None:
    """A step= or focus= picture is never summarized: up to max(max_nodes, 300) boxes (so focus= works on
    a network by default), and above that a ValueError that says what to do."""
    limit = None if max_nodes is None else max(max_nodes, UNSUMMARIZED)
    boxes = drawn(graph)
    if limit is not None and boxes > limit:
        raise ValueError(
            f"{what} draws every node it shows, and this picture has {boxes:,} boxes (more than "
            f"{limit}); pass focus= a node nearer the root, or max_nodes=None to draw it anyway"
        )


def narrower(graphviz: Any, fill: Callable[[Any], None], rankdir: str | None,
             estimate: Callable[[], str]) -> Any:
    """A Digraph filled by ``fill``, laid out ``rankdir``; unless given, top to bottom or left to right,
    whichever ``dot`` lays out narrower (notebooks are about 900 px wide).

    Both layouts come from the same texts (a step frame's reserve its longest over the pass), so every
    frame of a pass gets the same direction. Without a ``dot`` that can lay it out, ``estimate()``
    decides. (An estimate alone chose left to right for a focused MLP, 1,643 px wide where top to bottom
    is 1,033.)
    """
    if rankdir is not None:
        dot = _new_digraph(graphviz, rankdir)
        fill(dot)
        return dot
    candidates = {}
    for direction in ("TB", "LR"):
        candidates[direction] = _new_digraph(graphviz, direction)
        fill(candidates[direction])
    widths = {d: _laid_out_width(str(g.source)) for d, g in candidates.items()}
    if None in widths.values():
        return candidates[estimate()]
    return candidates["LR" if widths["LR"] < widths["TB"] else "TB"]  # type: ignore[operator]


def _laid_out_width(source: str) -> float | None:
    """The width ``dot`` lays ``source`` out to, in inches (None without a dot that can)."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        done = subprocess.run([dot, "-Tplain"], input=source.encode(), capture_output=True, check=True)
        return float(done.stdout.split(b"\n", 1)[0].split()[2])  # "graph scale width height"
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return None


def choose_rankdir(graph: Graph, names: dict[Value, str], precision: int) -> str:
    """"TB" or "LR", whichever lays ``graph`` out narrower, estimated from its ranks and text lengths.

    Top to bottom, the width is the widest rank (a formula's leaves side by side); left to right, it is
    the sum of the ranks' widths (a deep chain). Estimated from the graph alone, never from a frame's
    texts, so every frame of a pass gets the same direction.
    """
    char = SIZE * 0.6  # points per character, roughly, in Helvetica at SIZE
    number = precision + 6  # "-1.234e-05"
    width: dict[str, float] = {}
    rank: dict[str, int] = {}
    parents: dict[str, list[str]] = {}
    for e in graph.edges:
        parents.setdefault(e.child, []).append(e.parent)
    for node in graph.nodes:  # parents first: the longest path from a leaf
        rank[node.id] = 1 + max((rank[p] for p in parents.get(node.id, [])), default=-1)
        v = node.value
        head = len(names[v]) + (len(expression(v, names, precision)) + 3 if v.parents and all(
            p in names for p in v.parents) else 0) + (10 if not v.parents else 0)
        width[node.id] = max(head, number + 12) * char + 2 * SIZE
    children: dict[str, list[str]] = {}
    for e in graph.edges:
        children.setdefault(e.parent, []).append(e.child)
    for node in graph.nodes:  # dot pulls a leaf down next to its first user
        if node.id in children and not parents.get(node.id):
            rank[node.id] = min(rank[c] for c in children[node.id]) - 1
    label = (3 * number + 6) * SMALL * 0.6  # "local × upstream = contribution"
    ranks: dict[int, list[float]] = {}
    for node_id, r in rank.items():
        ranks.setdefault(r, []).append(width[node_id])
    gaps: dict[int, int] = {}
    for e in graph.edges:
        gaps[rank[e.child]] = gaps.get(rank[e.child], 0) + 1
    top_bottom = max(max(sum(ws) + 13 * len(ws) for ws in ranks.values()),
                     max((n * (label + 13) for n in gaps.values()), default=0))
    left_right = sum(max(ws) for ws in ranks.values()) + len(gaps) * (label + 22)
    return "LR" if left_right < top_bottom else "TB"


def _new_digraph(graphviz: Any, rankdir: str) -> Any:
    return _digraph_class(graphviz)(
        graph_attr={"rankdir": rankdir, "nodesep": "0.18", "ranksep": "0.3", "fontname": FONT,
                    "fontsize": str(SIZE)},
        node_attr={"fontname": FONT, "fontsize": str(SIZE)},
        edge_attr={"fontname": FONT, "fontsize": str(SMALL), "arrowsize": "0.6"},
    )


def drawn(graph: Graph) -> int:
    """How many boxes a picture of ``graph`` has: each op's collapsed stubs count as one."""
    groups = _collapsed(graph)
    hidden = set().union(*groups.values()) if groups else set()
    return sum(1 for n in graph.nodes if n.id not in hidden) + sum(1 for m in groups.values() if m)


def all_names(order: list[Value]) -> dict[Value, str]:
    """The name of every node of a walk as pictures show it: ``node_name``, shortened (see ``shorten``)."""
    return {v: shorten(node_name(v, i)) for i, v in enumerate(order)}


def all_grads_zero(graph: Graph) -> bool:
    """No node that can have a grad has one yet: no backward has reached this graph."""
    return all(n.value.grad == 0 for n in graph.nodes if n.role != "constant")


def plain_view(graph: Graph, names: dict[Value, str], precision: int, show_grads: bool,
               show_local_grads: bool) -> _View:
    """The graph as ``.data`` and ``.grad`` hold it."""
    num = lambda x: format_number(x, precision)
    untouched = all_grads_zero(graph)
    grads: dict[str, str | None] = {
        n.id: None if untouched or not show_grads or n.role == "constant" or n.stub
        else f"grad {num(n.value.grad)}"
        for n in graph.nodes
    }
    labels = {(e.child, e.operand): num(e.local) for e in graph.edges} if show_local_grads else {}
    title = [escape_label(NO_BACKWARD)] if untouched and show_grads and graph.edges else []
    return _View(graph, precision, grads, set(), labels, {}, None, title, False, names)


def step_view(graph: Graph, names: dict[Value, str], k: int, precision: int, show_local_grads: bool = True,
              keep: set[Value] | None = None, steps: list[BackwardStep] | None = None) -> _View:
    """The state after backward step ``k``: the frame ``draw_graph(root, step=k)`` draws (``steps``: the
    root's ``backward_steps``, when the caller has them)."""
    if steps is None:
        steps = backward_steps(graph.nodes[-1].value)
    if not steps:
        raise ValueError("step= needs an op to step through; this graph is a single leaf, with no steps")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(steps):
        raise ValueError(f"step must be an int from 0 to {len(steps) - 1} (one per op node), got {k!r}")
    events = contributions(steps, keep)
    shown = [e for e in events if e.step.index <= k]
    view = frame_view(graph, names, precision, shown, {e for e in shown if e.step.index == k}, steps[k].node,
                      show_local_grads)
    titles = [escape_label(
        f"Backward step {j} of 0–{len(steps) - 1}: {shorten(names[t.node], 200)} passes its grad "
        f"{format_number(t.upstream, precision)} to its operands: local × upstream = contribution")
        for j, t in enumerate(steps)]
    view.title = [titles[k]]
    view.reserve = reserve(view, events, titles)
    return view


def grad_texts(graph: Graph, precision: int, shown: list[Event]) -> tuple[dict[str, str | None], set[str]]:
    """Each node's grad cell once ``shown`` contributions have landed (the root's 1 from the start)."""
    num = lambda x: format_number(x, precision)
    ids = {n.value: n.id for n in graph.nodes}
    root = graph.nodes[-1]
    grads: dict[str, str | None] = {n.id: None for n in graph.nodes}
    partial: set[str] = set()
    grads[root.id] = "grad 1"
    for e in shown:
        p = e.contribution.parent
        if type(p) is Constant:
            continue
        grads[ids[p]] = f"grad {num(e.total)}" if e.final else f"grad so far {num(e.total)}"
        if e.final:
            partial.discard(ids[p])
        else:
            partial.add(ids[p])
    return grads, partial


def contribution_label(e: Event, precision: int) -> str:
    """An edge's label once its contribution is passed: ``local × upstream = contribution``."""
    num = lambda x: format_number(x, precision)
    c = e.contribution
    if type(c.parent) is Constant:
        return f"{num(c.local)} (constant: no grad)"
    return f"{num(c.local)} × {num(e.step.upstream)} = {num(c.amount)}"


def frame_view(graph: Graph, names: dict[Value, str], precision: int, shown: list[Event], now: set[Event],
               current: Value | None, show_local_grads: bool = True) -> _View:
    """A frame of the backward pass: ``shown`` contributions landed, those in ``now`` lit as this step's."""
    num = lambda x: format_number(x, precision)
    ids = {n.value: n.id for n in graph.nodes}
    grads, partial = grad_texts(graph, precision, shown)
    labels: dict[tuple[str, int], str] = {}
    state: dict[tuple[str, int], str] = {}
    for e in graph.edges:
        if show_local_grads:
            labels[e.child, e.operand] = num(e.local)
        state[e.child, e.operand] = "todo"
    for ev in shown:
        key = (ids[ev.step.node], ev.contribution.operand)
        labels[key] = escape_label(contribution_label(ev, precision))
        state[key] = "now" if ev in now else "done"
    now_id = None if current is None else ids.get(current)
    return _View(graph, precision, grads, partial, labels, state, now_id, [], True, names)


def reserve(view: _View, events: list[Event], titles: list[str]) -> dict[str, int]:
    """The room each slot that changes during the pass needs for its longest text, in points."""
    candidates: dict[str, set[str]] = {"title": {_font(t, SIZE) for t in titles}} if titles else {}
    ids = {n.value: n.id for n in view.graph.nodes}
    root = view.graph.nodes[-1]
    num = lambda x: format_number(x, view.precision)
    candidates[f"g:{root.id}"] = {_grad_markup("grad 1", False)}
    for e in events:
        p = e.contribution.parent
        key = f"e:{ids[e.step.node]}:{e.contribution.operand}"
        candidates.setdefault(key, {_font(num(e.contribution.local), SMALL)}).add(
            _font(escape_label(contribution_label(e, view.precision)), SMALL))
        if type(p) is not Constant:
            text = f"grad {num(e.total)}" if e.final else f"grad so far {num(e.total)}"
            candidates.setdefault(f"g:{ids[p]}", set()).add(_grad_markup(text, not e.final))
    widths = measure_cells(c for cs in candidates.values() for c in cs)
    return {slot: max(widths[c] for c in cs) for slot, cs in candidates.items()}


def _grad_markup(text: str, partial: bool) -> str:
    return f"<I>{text}</I>" if partial else text


# -- DOT -----------------------------------------------------------------------------------------------------
def render_view(dot: Any, view: _View, show_grads: bool = True, legend: bool = True) -> None:
    """Write ``view`` into ``dot``: nodes, edges, and a title with the legend."""
    names = view.names
    view.collapsed = _collapsed(view.graph)
    roles_shown: set[str] = set()
    for node in view.graph.nodes:
        roles_shown.add("root" if node.is_root else "stub" if node.stub else node.role)
        _node(dot, view, node, names, show_grads)
    for e in view.graph.edges:
        _edge(dot, view, e)
    _collapsed_stubs(dot, view)
    if legend or view.title:
        _title(dot, view, roles_shown if legend else set())


def _node(dot: Any, view: _View, node: GraphNode, names: dict[Value, str], show_grads: bool) -> None:
    v = node.value
    num = lambda x: format_number(x, view.precision)
    name = escape_label(names[v])
    if node.stub:
        if _stub_group(view, node) is not None:
            return  # drawn as part of its op's collapsed stub box
        text = num(v.data) if type(v) is Constant and not v.label else f"{name} = {num(v.data)}"
        dot.node(node.id, f"<{_font(text, SMALL)}>", shape="box", style="rounded,dashed", color=STUB,
                 fontcolor=STUB, margin="0.04,0.02", height="0.2", id=node.id)
        return
    if node.role == "constant" and not node.is_root:
        text = f"{name} = {num(v.data)}" if v.label else num(v.data)
        dot.node(node.id, f"<{text}<BR/>{_font('constant', SMALL)}>", shape="box",
                 style="rounded,dashed,filled", fillcolor=ROLE_FILL["constant"], color=TODO,
                 margin="0.05,0.02", height="0.2", id=node.id)
        return
    words: list[str] = [] if node.role == "op" else [node.role]
    if node.is_root:
        words.insert(0, "root")
    head = f"<B>{name}</B>"
    if v.parents and all(p in names for p in v.parents):
        head += " = " + escape_label(expression(v, names, view.precision))
    elif v.parents:  # a summary's root: its operands are in boxes
        head += " = " + escape_label(_symbol(v))
    if words:
        head += " " + _font(" · ".join(words), SMALL)
    rows = [_cell(head), _cell(f"data {num(v.data)}")]
    reserve = view.reserve
    grad = view.grads.get(node.id)
    if reserve is not None:  # a frame: the grad row is always there, as wide as its longest text
        text = _grad_markup(grad, node.id in view.partial) if grad else "&#160;"
        rows.append(_cell(text, reserve.get(f"g:{node.id}")))
    elif grad is not None and show_grads:
        rows.append(_cell(_grad_markup(grad, node.id in view.partial)))
    table = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0">'
             + "".join(f"<TR>{r}</TR>" for r in rows) + "</TABLE>>")
    outline, width = ("#4d4d4d", "1")
    if node.is_root:
        outline, width = ROOT, "3"
    if view.current == node.id:
        outline, width = NOW, "3.5"
    dot.node(node.id, table, shape="box", style="rounded,filled", fillcolor=ROLE_FILL[node.role],
             color=outline, penwidth=width, margin="0.06,0.03", id=node.id)


def _symbol(v: Value) -> str:
    op = OPS.get(v.op)
    return op.symbol if op is not None else v.op


_STUB_LIMIT = 3  # focus=: an op with more operands off the paths shows them as one box, "k other operands"


def _stub_group(view: _View, node: GraphNode) -> str | None:
    """The op whose collapsed stub box holds this stub (None: it is drawn on its own)."""
    groups = view.collapsed or {}
    return next((child for child, members in groups.items() if node.id in members), None)


def _collapsed(graph: Graph) -> dict[str, set[str]]:
    """Ops with more than ``_STUB_LIMIT`` stub operands -> those stubs (drawn as one box per op)."""
    stubs = {n.id for n in graph.nodes if n.stub}
    per_op: dict[str, set[str]] = {}
    for e in graph.edges:
        if e.parent in stubs:
            per_op.setdefault(e.child, set()).add(e.parent)
    big = {op: members for op, members in per_op.items() if len(members) > _STUB_LIMIT}
    # a stub also feeding an op where it is drawn on its own stays on its own
    alone = {s for op, members in per_op.items() if op not in big for s in members}
    return {op: members - alone for op, members in big.items()}


def _collapsed_stubs(dot: Any, view: _View) -> None:
    for op, members in sorted((view.collapsed or {}).items(), key=lambda kv: int(kv[0][1:])):
        if not members:
            continue
        count = sum(1 for e in view.graph.edges if e.child == op and e.parent in members)
        dot.node(f"{op}_others", f"<{_font(f'{count} other operands', SMALL)}>", shape="box",
                 style="rounded,dashed", color=STUB, fontcolor=STUB, margin="0.04,0.02", height="0.2",
                 id=f"{op}_others")
        dot.edge(f"{op}_others", op, style="dashed", color=STUB, id=f"{op}_others_edge")


def _edge(dot: Any, view: _View, e: GraphEdge) -> None:
    key = (e.child, e.operand)
    stubs = (view.collapsed or {}).get(e.child, set())
    if e.parent in stubs:
        return  # part of a collapsed stub box's one edge
    attrs: dict[str, str] = {"id": f"e{e.child[1:]}_{e.operand}"}
    label = view.labels.get(key)
    slot = view.reserve.get(f"e:{e.child}:{e.operand}") if view.reserve is not None else None
    if label is not None or slot:
        text = _font(label, SMALL) if label else "&#160;"
        attrs["label"] = (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0"><TR>'
                          f"{_cell(text, slot)}</TR></TABLE>>")
    state = view.state.get(key)
    if state is not None:
        colour = {"now": NOW, "done": DONE, "todo": TODO}[state]
        attrs["color"] = attrs["fontcolor"] = colour
        attrs["penwidth"] = {"now": "3", "done": "1.6", "todo": "1"}[state]
        if state == "todo":
            attrs["style"] = "dashed"
    dot.edge(e.parent, e.child, **attrs)


def legend_cells(roles_shown: set[str], steps: bool, local: bool = False) -> list[str]:
    """The legend's entries, as Graphviz table cells: only the roles the picture shows."""
    cells = []
    for role, text in (("input", "input"), ("parameter", "parameter"), ("constant", "constant"),
                       ("op", "op result")):
        if role in roles_shown:
            border = f' BORDER="1" COLOR="{TODO if role == "constant" else "#4d4d4d"}"'
            cells.append(f'<TD BGCOLOR="{ROLE_FILL[role]}"{border} CELLPADDING="2">{_font(text, SMALL)}</TD>')
    if "root" in roles_shown:
        cells.append(f'<TD BORDER="2" COLOR="{ROOT}" CELLPADDING="2">{_font("root", SMALL)}</TD>')
    if "stub" in roles_shown:
        off = _font("off the paths", SMALL, STUB)
        cells.append(f'<TD BORDER="1" COLOR="{STUB}" CELLPADDING="2">{off}</TD>')
    if steps:
        cells += [
            f'<TD BORDER="2" COLOR="{NOW}" CELLPADDING="2">{_font("━ this step", SMALL, NOW)}</TD>',
            f'<TD CELLPADDING="2">{_font("━ earlier steps", SMALL, DONE)}</TD>',
            f'<TD CELLPADDING="2">{_font("╍ still to come", SMALL, TODO)}</TD>',
        ]
    if local:
        cells.append(f'<TD CELLPADDING="2">{_font("on edges: local derivative ∂node/∂operand", SMALL)}</TD>')
    return cells


@functools.lru_cache(maxsize=64)
def _legend_size(legend: str, dot: str | None) -> tuple[int, int]:
    """``measure`` of one legend, remembered: a picture laid out both ways measures it once, not twice
    (legends differ only by the roles a picture shows; keyed by the dot found too, so a changed PATH
    measures afresh)."""
    return measure([legend])[legend]


def _title(dot: Any, view: _View, roles_shown: set[str]) -> None:
    rows = []
    width = view.reserve.get("title") if view.reserve is not None else None
    for line in view.title:
        rows.append(f"<TR>{_cell(_font(line, SIZE), width)}</TR>")
    cells = legend_cells(roles_shown, view.legend_steps, bool(view.labels) and not view.legend_steps)
    if cells:
        legend = '<TABLE BORDER="0" CELLSPACING="4" CELLBORDER="0"><TR>' + "".join(cells) + "</TR></TABLE>"
        # NOTE: Graphviz stretches a table to the width of its cell, spreading the legend's swatches under a
        # longer title; a fixed size (its own, measured) keeps them together.
        w, h = _legend_size(legend, shutil.which("dot"))
        size = f'FIXEDSIZE="TRUE" WIDTH="{w}" HEIGHT="{h}" ALIGN="LEFT"'
        fixed = legend.replace("<TABLE ", f"<TABLE {size} ", 1)
        rows.append(f'<TR><TD ALIGN="LEFT">{fixed}</TD></TR>')
    dot.attr(label='<<TABLE BORDER="0" CELLSPACING="0" CELLBORDER="0">' + "".join(rows) + "</TABLE>>",
             labelloc="t", labeljust="l")


# -- summaries -----------------------------------------------------------------------------------------------
def _draw_summary(dot: Any, summary: GraphSummary, show_grads: bool, precision: int) -> None:
    untouched = all(c.param_grad_norm in (None, 0.0) and (c.grad is None or c.grad == (0.0, 0.0))
                    for c in summary.clusters) and summary.root.value.grad == 0
    grads = show_grads and not untouched
    # NOTE: a label makes an edge a node of the layout: 256 labelled edges between two 16-neuron layers
    # spread the picture over 9,641 px. So only edges that differ from the usual count carry a number.
    usual = Counter(count for *_, count in summary.edges).most_common(1)[0][0] if summary.edges else 1
    lines = textwrap.wrap(f"{summary.note} An edge without a number stands for {_plural(usual, 'edge')} of "
                          "the graph; a number on an edge, for that many.", 100)
    if untouched and show_grads:
        lines.insert(0, NO_BACKWARD)
    note = "".join(f'<TR><TD ALIGN="LEFT">{_font(escape_label(line), SIZE)}</TD></TR>' for line in lines)
    # concentrate: the fans between two fully connected layers (16 x 16 edges) merge into bundles; without
    # it dot spreads a layer over 4x the height to route them (6,516 px instead of 1,991, 2-16-16-1 MLP).
    dot.attr(label=f'<<TABLE BORDER="0" CELLSPACING="0" CELLBORDER="0">{note}</TABLE>>', labelloc="t",
             labeljust="l", concentrate="true")
    num = lambda x: format_number(x, precision)
    # The boxes of one owner (the neurons layers.0.neurons.* of layer layers.0) share a rank, in neuron
    # order: invisible edges hold it, or dot would shuffle them to cut crossings.
    layers: dict[str, list[Cluster]] = {}
    for c in summary.clusters:
        _cluster_node(dot, c, grads, num)
        if not summary.by_depth and "." in c.name:
            layers.setdefault(".".join(owner(c.name)), []).append(c)
    for members in layers.values():
        if len(members) > 1:
            with dot.subgraph() as same:
                same.attr(rank="same")
                for a, b in zip(members, members[1:]):
                    same.edge(a.id, b.id, style="invis")
    root = summary.root
    grad = f"grad {num(root.value.grad)}" if grads else None
    names = {root.value: shorten(root.name)}
    view = _View(Graph((root,), ()), precision, {root.id: grad}, set(), {}, {}, None, [], False, names)
    _node(dot, view, root, names, show_grads)
    node_id = {"root": root.id}
    for tail, head, count in summary.edges:
        label = f"<{_font(f'{count:,}', SMALL)}>" if count != usual else None
        # every edge says its count on hover too (a tooltip takes no room in the layout)
        dot.edge(node_id.get(tail, tail), node_id.get(head, head), label=label, color="#6b6b6b",
                 tooltip=f"stands for {_plural(count, 'edge')} of the graph")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _range_text(what: str, r: tuple[float, float], num: Any) -> str:
    lo, hi = r
    return f"{what} {num(lo)}" if lo == hi else f"{what} {num(lo)} to {num(hi)}"


def _cluster_node(dot: Any, c: Cluster, grads: bool, num: Any) -> None:
    roles_here = dict(c.roles)
    fill = ROLE_FILL["op"]
    if "parameter" in roles_here:
        fill = ROLE_FILL["parameter"]
    elif c.name == INPUTS:
        fill = ROLE_FILL["input"]
    rows = [f"<B>{escape_label(shorten(c.name, 200))}</B>"]
    if c.data is not None and "parameter" in roles_here:  # a neuron (or layer): its output(s)
        many = f"{c.outputs} outputs, " if c.outputs > 1 else "output "
        rows.append(escape_label(many + _range_text("data", c.data, num)))
        if grads and c.grad is not None:
            rows.append(escape_label(_range_text("grad", c.grad, num)))
    if grads and c.param_grad_norm is not None:
        rows.append(escape_label(f"‖grad‖ of params {num(c.param_grad_norm)}"))
    parts = ", ".join(f"{n:,} {r}{'' if n == 1 else 's'}" for r, n in c.roles)
    rows.append(_font(escape_label(f"{c.size:,} values: {parts}"), SMALL))
    label = '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0">' + "".join(
        f'<TR><TD ALIGN="LEFT" CELLPADDING="1">{r}</TD></TR>' for r in rows) + "</TABLE>>"
    dot.node(c.id, label, shape="box", style="rounded,filled", fillcolor=fill, color="#4d4d4d", id=c.id)

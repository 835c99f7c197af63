"""``step_through``: the forward and backward passes played frame by frame over one Graphviz layout, in a
notebook (an anywidget widget) or as one self-contained HTML file. The browser side is ``stepper.js``.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ..value import Constant, Value
from . import draw as _draw
from .steps import Event, contribution_line, contributions, expression, step_line, steps_of, sum_line
from .walk import Graph, GraphNode, check_precision, format_number, graph_of, kept, on_paths, roles, walk

_JS = Path(__file__).with_name("stepper.js")
_SVG = "http://www.w3.org/2000/svg"
_XLINK = "http://www.w3.org/1999/xlink"
_INSTALL_WIDGET = "the stepper as a Jupyter widget needs anywidget: pip install 'chainrule[widget]'"
_PATHS_SHOWN = 6  # a leaf's grad as a sum over paths lists at most this many paths


@dataclass(frozen=True)
class Frame:
    """One frame of the stepper: what changes, and the words that say it."""

    phase: Literal["start", "forward", "backward"]
    counter: str  # "forward 3 / 9", "backward 2 / 7"
    narration: str  # the step in words with its numbers, as explain words it
    node: str | None  # the node computed (forward) or whose step this is (backward), by id ("n3")
    edge: str | None  # backward: the edge lit, "e<child position>_<operand>"; its label says the product
    label: str | None  # that edge's label: local × upstream = contribution
    grad: str | None  # backward: the node whose grad this frame changes (the root first, then the parent)
    grad_text: str | None  # its grad cell: "grad 0.5", or "grad so far 0.25" until it is final
    final: bool  # that grad is complete


class Stepper:
    """The forward and backward passes of a graph, frame by frame, over one layout (see ``step_through``).

    ``frames`` holds the frames (pure data); ``to_html()`` one self-contained page that plays them
    (``save(path)`` writes it); in Jupyter it shows as a widget, or as that page without anywidget.
    """

    def __init__(self, root: Value, *, params: Iterable[Value] | None = None, precision: int = 4,
                 focus: Value | None = None, max_nodes: int | None = 300) -> None:
        if not isinstance(root, Value) and isinstance(getattr(root, "graph", None), Value):
            root = root.graph  # a compiled function: its traced graph
        if not isinstance(root, Value):
            raise TypeError(f"step_through needs a Value (a graph's root), got {type(root).__name__}")
        check_precision(precision)
        self.root = root
        self.precision = precision
        order = walk(root)
        role = roles(order, params)
        on = None if focus is None else on_paths(order, focus)
        self.graph: Graph = graph_of(order, role, on)
        if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int)
                                      or max_nodes < 1):
            raise ValueError(f"max_nodes must be a positive int or None, got {max_nodes!r}")
        boxes = _draw.drawn(self.graph)
        if max_nodes is not None and boxes > max_nodes:
            raise ValueError(
                f"step_through shows every node, and this graph has {boxes:,} (more than "
                f"max_nodes={max_nodes}): pass focus= one node (a weight) to step through its paths to the "
                "root only, draw_graph(root) for a summary, or a larger max_nodes (None for no limit)"
            )
        self._names = _draw.all_names(order)
        # The nodes drawn as boxes of their own: an op's many stubs are one box ("12 other operands")
        self._collapsed = _draw._collapsed(self.graph)
        hidden = set().union(*self._collapsed.values())
        self._shown = [n for n in self.graph.nodes if n.id not in hidden]
        self._events = contributions(steps_of(order), kept(order, on))
        self.frames: list[Frame] = self._frames()
        self.title = self._title(focus)
        self.svg = self._svg()

    # -- frames ------------------------------------------------------------------------------------------
    def _num(self, x: float) -> str:
        return format_number(x, self.precision)

    def _frames(self) -> list[Frame]:
        names, num = self._names, self._num
        ids = {n.value: n.id for n in self.graph.nodes}
        nodes = self._shown
        frames = [Frame("start", f"forward 0 / {len(nodes)}",
                        "Nothing computed yet. Step (→) runs the forward pass, one node at a time.",
                        None, None, None, None, None, False)]
        for k, node in enumerate(nodes, 1):
            frames.append(Frame("forward", f"forward {k} / {len(nodes)}", self._forward_words(node), node.id,
                                None, None, None, None, False))
        total = len(self._events)
        root = self.graph.nodes[-1]
        r = names[root.value]
        frames.append(Frame("backward", f"backward 0 / {total}",
                            f"The backward pass starts at the root: grad of {r} = ∂{r}/∂{r} = 1.", root.id,
                            None, None, root.id, "grad 1", True))
        for j, e in enumerate(self._events, 1):
            c = e.contribution
            edge = f"e{ids[e.step.node][1:]}_{c.operand}"
            words = (f"{step_line(e.step, names, self.precision)}. "
                     f"{contribution_line(e, names, self.precision)}")
            if type(c.parent) is Constant:
                grad, text, final = None, None, False
            else:
                grad = ids[c.parent]
                text = f"grad {num(e.total)}" if e.final else f"grad so far {num(e.total)}"
                final = e.final
            frames.append(Frame("backward", f"backward {j} / {total}", words, ids[e.step.node], edge,
                                _draw.contribution_label(e, self.precision), grad, text, final))
        return frames

    def _forward_words(self, node: GraphNode) -> str:
        v, name, num = node.value, self._names[node.value], self._num
        if node.stub:
            return f"{name} = {num(v.data)}: an operand off the paths from the node in focus."
        if node.role == "constant":
            return f"{name} is a constant: it keeps no grad."
        if not v.parents:
            kind = "a parameter" if node.role == "parameter" else "an input"
            return f"{name} is {kind}: its data is {num(v.data)}."
        locals_ = [f"∂{name}/∂{self._names[p]} = {num(d)}" for p, d in zip(v.parents, v.local_derivatives)]
        shown = ", ".join(locals_[:4]) + (f" and {len(locals_) - 4} more" if len(locals_) > 4 else "")
        return (f"{name} = {expression(v, self._names, self.precision)} = {num(v.data)}. The op also gives "
                f"its local derivatives: {shown}.")

    def _why(self) -> dict[str, str]:
        """What clicking each node says: its grad as the sum of its contributions, and, for a leaf, as the
        sum over paths of the products of local derivatives."""
        names, num = self._names, self._num
        nodes = self.graph.nodes
        root = nodes[-1]
        r = names[root.value]
        ids = {n.value: n.id for n in nodes}
        by_id = {n.id: n for n in nodes}
        into: dict[str, list[Event]] = {}
        for e in self._events:
            into.setdefault(ids[e.contribution.parent], []).append(e)
        children: dict[str, list[tuple[str, float]]] = {}
        for edge in self.graph.edges:
            children.setdefault(edge.parent, []).append((edge.child, edge.local))
        why: dict[str, str] = {}
        for node in nodes:
            name = names[node.value]
            if node.is_root:
                why[node.id] = f"{name} is the root: its grad is ∂{name}/∂{name} = 1."
                continue
            if node.stub:
                why[node.id] = f"{name} is off the paths from the node in focus: its grad is not drawn here."
                continue
            if node.role == "constant":
                why[node.id] = f"{name} is a constant: it keeps no grad."
                continue
            got = into.get(node.id, [])
            total = got[-1].total if got else 0.0
            parts = [f"{names[e.step.node]}: ∂{names[e.step.node]}/∂{name} × grad of {names[e.step.node]} = "
                     f"{num(e.contribution.local)} × {num(e.step.upstream)} = {num(e.contribution.amount)}"
                     for e in got]
            text = (f"grad of {name} = {num(total)}: the sum of its contributions, one per edge into the "
                    f"nodes it feeds ({'; '.join(parts)})")
            if len(got) > 1:
                text += f"; {sum_line([e.contribution.amount for e in got], total, self.precision)}"
            text += "."
            if not node.value.parents:
                text += " " + self._paths_words(node.id, name, r, by_id, children)
            why[node.id] = text
        return why

    def _paths_words(self, start: str, name: str, r: str, by_id: dict[str, GraphNode],
                     children: dict[str, list[tuple[str, float]]]) -> str:
        """A leaf's grad as the sum over its paths to the root of the products of local derivatives."""
        root = self.graph.nodes[-1].id
        order = {n.id: i for i, n in enumerate(self.graph.nodes)}
        count: dict[str, int] = {root: 1}  # paths from each node to the root, children first
        for node in reversed(self.graph.nodes):
            if node.id != root:
                count[node.id] = sum(count.get(c, 0) for c, _ in children.get(node.id, []))
        paths: list[tuple[list[str], list[float]]] = []
        stack: list[tuple[str, list[str], list[float]]] = [(start, [start], [])]
        while stack and len(paths) < _PATHS_SHOWN:
            here, through, factors = stack.pop()
            if here == root:
                paths.append((through, factors))
                continue
            for child, local in sorted(children.get(here, []), key=lambda cl: -order[cl[0]]):
                stack.append((child, [*through, child], [*factors, local]))
        products = []
        for through, factors in paths:
            value = 1.0
            for f in factors:
                value *= f
            chain = " → ".join(self._names[by_id[i].value] for i in through)
            products.append(f"{chain}: {' × '.join(self._num(f) for f in factors)} = {self._num(value)}")
        n = count.get(start, 0)
        head = (f"The chain rule's other face: grad of {name} = the sum over its {n:,} path"
                f"{'' if n == 1 else 's'} to {r} of the product of the local derivatives along each")
        more = f"; … and {n - len(paths):,} more" if n > len(paths) else ""
        return f"{head} ({'; '.join(products)}{more})."

    def _title(self, focus: Value | None) -> list[str]:
        r = self._names[self.root]
        lines = [f"The forward and backward passes of {r} = {self._num(self.root.data)}"]
        if focus is not None:
            lines.append(f"Focus: the paths from {self._names[focus]} to {r}; the other operands of their "
                         "ops in small dashed boxes.")
        if _draw.all_grads_zero(self.graph):
            lines.append(f"{_draw.NO_BACKWARD}: the stepper computes the grads it shows without touching "
                         ".grad.")
        return lines

    # -- the picture ---------------------------------------------------------------------------------------
    def _svg(self) -> str:
        """The graph laid out once, in the last frame's state, each changing text room for its longest."""
        graphviz = _draw._graphviz()
        final = _draw.frame_view(self.graph, self._names, self.precision, self._events, set(), None)
        final.reserve = _draw.reserve(final, self._events, [])
        dot = _draw.narrower(graphviz, lambda d: _draw.render_view(d, final, legend=False), None,
                             lambda: _draw.choose_rankdir(self.graph, self._names, self.precision))
        raw = dot.pipe(format="svg").decode("utf-8")
        return _tag(raw, self.graph, final)

    def data(self) -> dict[str, Any]:
        """Everything the page needs, as JSON-able data (what the widget syncs)."""
        why = self._why()
        num = self._num
        nodes = []
        for n in self._shown:
            nodes.append({"id": n.id, "name": self._names[n.value], "data": f"data {num(n.value.data)}",
                          "kind": "stub" if n.stub else n.role, "why": why[n.id]})
        edges = []
        for e in self.graph.edges:
            if e.parent in (self._collapsed.get(e.child) or ()):
                continue
            edges.append({"id": f"e{e.child[1:]}_{e.operand}", "parent": e.parent, "child": e.child,
                          "local": num(e.local)})
        for op, members in self._collapsed.items():
            if members:
                edges.append({"id": f"{op}_others_edge", "parent": f"{op}_others", "child": op, "local": ""})
        return {"title": self.title, "svg": self.svg, "nodes": nodes, "edges": edges,
                "frames": [asdict(f) for f in self.frames],
                "legend": _legend(self.graph)}

    # -- outputs -------------------------------------------------------------------------------------------
    def to_html(self) -> str:
        """One self-contained HTML page that plays the stepper: no network at all (no CDN, no external
        script, style or font), so it works offline, in slides and in a shared file."""
        payload = json.dumps(self.data(), ensure_ascii=False).replace("<", "\\u003c")
        script = _JS.read_text(encoding="utf-8")
        title = html.escape(self.title[0])
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{title}</title>\n</head>\n<body>\n<div id=\"chainrule-stepper\"></div>\n"
            f"<script type=\"application/json\" id=\"chainrule-stepper-data\">{payload}</script>\n"
            "<script type=\"module\">\n"
            f"{script}\n"
            "// The page's own start: the same render() the widget calls, with the data from above.\n"
            "const data = JSON.parse(document.getElementById(\"chainrule-stepper-data\").textContent);\n"
            "render({ model: staticModel(data), el: document.getElementById(\"chainrule-stepper\") });\n"
            "</script>\n</body>\n</html>\n"
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``to_html()`` to ``path`` atomically (a partial file never appears); returns the path."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"save needs a file path (str or Path), got {type(path).__name__}")
        target = Path(path)
        if target.is_dir():
            raise ValueError(
                f"{str(target)!r} is a directory; give a file name, e.g. {target / 'stepper.html'}")
        if not target.parent.is_dir():
            raise ValueError(f"cannot save to {str(target)!r}: the directory {str(target.parent)!r} does not "
                             "exist; create it first")
        page = self.to_html()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(page)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def widget(self) -> Any:
        """The stepper as a Jupyter widget (anywidget): the same script and data as ``to_html``."""
        try:
            import anywidget  # noqa: F401
        except ImportError as e:
            raise ImportError(_INSTALL_WIDGET) from e
        return _widget_class()(data=self.data())

    def _repr_html_(self) -> str:
        # An iframe keeps the page's script, style and keys to itself, beside anything else in the notebook.
        height = _svg_height_px(self.svg) + 230
        page = html.escape(self.to_html(), quote=True)
        return (f'<iframe srcdoc="{page}" title="{html.escape(self.title[0])}" '
                f'style="width: 100%; height: {height}px; border: 0"></iframe>')

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self._repr_html_()}
        if _in_kernel():
            try:
                widget = self.widget()
            except ImportError:
                return bundle  # no anywidget: the page
            shown = widget._repr_mimebundle_()
            # anywidget gives (data, metadata), ipywidgets' own widgets a dict; the page stays as the
            # fallback for front ends without widgets (a notebook viewed on a code host)
            bundle.update(shown[0] if isinstance(shown, tuple) else shown or {})
        return bundle

    def __repr__(self) -> str:
        return (f"<Stepper of {self._names[self.root]}: {len(self.graph.nodes)} nodes, "
                f"{len(self.frames)} frames>")


def step_through(root: Value, *, params: Iterable[Value] | None = None, precision: int = 4,
                 focus: Value | None = None, max_nodes: int | None = 300) -> Stepper:
    """Watch backprop happen: a ``Stepper`` that plays the forward and the backward pass of ``root``.

    The graph is laid out once by Graphviz; then values appear node by node (the forward pass, in
    topological order) and the backward pass lights each edge with local derivative × upstream grad =
    contribution while the parent's grad grows until it is final. Reset, Back, Step, Play/Pause and a
    speed control, or the keys → ← Home and space; a counter and a narration line (read by screen
    readers) say where you are. Clicking a node shows every path from it to the root and its grad as the
    sum of its contributions (for a leaf, also as the sum over paths of the products of local
    derivatives). Every node keeps its place in every frame.

    In Jupyter it shows as a widget (with anywidget installed, ``pip install 'chainrule[widget]'``), else
    as a self-contained page; ``save(path)`` writes that page, which needs no network. Leaves are roles
    as in ``draw_graph`` (``params``); ``focus=node`` steps through the paths from ``node`` to the root
    only. Grads are computed afresh (``backward_steps``): ``.grad`` is neither read nor written. A graph
    of more than ``max_nodes`` values (after ``focus``) is refused with what to do instead. Needs
    Graphviz (``pip install 'chainrule[graph]'`` and its ``dot`` program).
    """
    return Stepper(root, params=params, precision=precision, focus=focus, max_nodes=max_nodes)


# -- helpers -------------------------------------------------------------------------------------------------
def _tag(raw: str, graph: Graph, view: Any) -> str:
    """Graphviz's SVG with the texts the frames change tagged for the script: each node's data and grad
    cell (class "data", "grad"), each edge's label (class "label"); tooltips that name things."""
    ET.register_namespace("", _SVG)
    ET.register_namespace("xlink", _XLINK)
    root = ET.fromstring(raw)
    ns = f"{{{_SVG}}}"
    by_id = {n.id: n for n in graph.nodes}
    names = view.names
    for g in root.iter(f"{ns}g"):
        gid, cls = g.get("id", ""), g.get("class", "")
        texts = list(g.iter(f"{ns}text"))
        title = g.find(f"{ns}title")
        if cls == "node" and gid in by_id:
            node = by_id[gid]
            if title is not None:
                title.text = names.get(node.value, node.name)
            plain = node.role != "constant" and not node.stub
            if plain and len(texts) >= 2:
                texts[-2].set("class", "data")
                texts[-1].set("class", "grad")
        elif cls == "edge" and texts:
            texts[-1].set("class", "label")
            if title is not None:
                title.text = "local derivative ∂child/∂parent"
        elif cls == "edge" and title is not None:
            title.text = ""
    svg = ET.tostring(root, encoding="unicode")
    # Inline in HTML an <svg> needs no namespace declarations; without them the page names no URL at all.
    return re.sub(r' xmlns(:xlink)?="[^"]*"', "", svg)


def _legend(graph: Graph) -> list[dict[str, str]]:
    """The legend the page shows: the roles present, the step colours, the path highlight."""
    present = {"root" if n.is_root else "stub" if n.stub else n.role for n in graph.nodes}
    entries = [{"kind": role, "text": text, "fill": _draw.ROLE_FILL.get(role, "#ffffff")}
               for role, text in (("input", "input"), ("parameter", "parameter"), ("constant", "constant"),
                                  ("op", "op result")) if role in present]
    entries.append({"kind": "root", "text": "root", "fill": "#ffffff"})
    if "stub" in present:
        entries.append({"kind": "stub", "text": "off the paths", "fill": "#ffffff"})
    entries += [{"kind": "now", "text": "this step", "fill": _draw.NOW},
                {"kind": "done", "text": "earlier steps", "fill": _draw.DONE},
                {"kind": "todo", "text": "still to come", "fill": _draw.TODO}]
    return entries


def _svg_height_px(svg: str) -> int:
    m = re.search(r'height="([\d.]+)pt"', svg)
    return int(float(m.group(1)) * 96 / 72) if m else 400


def _in_kernel() -> bool:
    """Running in a Jupyter kernel (where a widget can be shown), not in plain Python or IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


_widget_cls: Any = None


def _widget_class() -> Any:
    """The anywidget class, defined on first use so that importing autograd never imports anywidget."""
    global _widget_cls
    if _widget_cls is None:
        import anywidget
        import traitlets

        class StepperWidget(anywidget.AnyWidget):  # type: ignore[misc]
            """The stepper in Jupyter: stepper.js as the widget's ES module, the frames as its data."""

            _esm = _JS
            data = traitlets.Dict().tag(sync=True)

        _widget_cls = StepperWidget
    return _widget_cls

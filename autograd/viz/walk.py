"""The pure walk under every picture: a graph as numbered nodes and edges with roles and names, and the
part of it on the paths from one node to the root (``focus``). Needs nothing but the core.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..value import Constant, Value

Role = Literal["input", "parameter", "constant", "op"]

# A label that reads as a dotted nn parameter name, e.g. ``layers.0.neurons.3.w.1`` or ``layers.1.b``: an
# identifier followed by one or more ``.segment`` (identifiers or indices).
_PARAMETER_NAME = re.compile(r"[^\W\d]\w*(?:\.\w+)+")


@dataclass(frozen=True)
class GraphNode:
    """One Value of the graph, with the id its picture gives it."""

    id: str  # "n0", "n1", ...: the position in the walk of the whole graph, the same in every run
    name: str  # the label; else "#<position>" (a constant: its value), as pictures and explain show it
    value: Value
    role: Role  # input / parameter / constant leaf, or "op" for a node computed by an op
    is_root: bool
    stub: bool = False  # focus=: an operand off the paths to the root, drawn small with its value only


@dataclass(frozen=True)
class GraphEdge:
    """One operand of an op: the parent, the node it feeds, and the local derivative ∂child/∂parent."""

    parent: str  # GraphNode.id
    child: str  # GraphNode.id
    operand: int  # the parent's position among the child's operands (x * x has operands 0 and 1)
    local: float


@dataclass(frozen=True)
class Graph:
    """Every node the root depends on (constants included), parents before children, the root last."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]  # by child, then operand, in walk order


def walk(root: Value) -> list[Value]:
    """Every node ``root`` depends on, constants included: parents before children in operand order, root
    last. The same order as ``toposort`` once constants are dropped; positions in it are the stable ids.
    """
    if not isinstance(root, Value):
        raise TypeError(f"expected the root of a graph, a Value; got {type(root).__name__}")
    # Not backprop's walk: that one marks nodes in their _adjoint slot, under a lock, and lists constants
    # apart; a picture must leave a graph untouched (even while another thread runs backward on it) and
    # show each constant where its op reads it.
    order: list[Value] = []
    seen: set[Value] = set()
    # NOTE: an explicit stack, not recursion: a graph thousands of ops deep must not hit the recursion limit.
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for parent in reversed(node.parents):
            if parent not in seen:
                stack.append((parent, False))
    return order


def roles(order: list[Value], params: Iterable[Value] | None) -> list[Role]:
    """The role of each node of ``order``: see ``walk_graph``."""
    explicit = None if params is None else set(params)
    found: list[Role] = []
    for v in order:
        if v.parents:
            found.append("op")
        elif type(v) is Constant:
            found.append("constant")
        elif explicit is not None:
            found.append("parameter" if v in explicit else "input")
        else:
            found.append("parameter" if _PARAMETER_NAME.fullmatch(v.label) else "input")
    return found


def node_name(v: Value, i: int) -> str:
    """How pictures and explanations name the node at walk position ``i``: its label, else ``#i`` (a
    constant: its value)."""
    return v.label or (format_number(v.data, 6) if type(v) is Constant else f"#{i}")


def format_number(x: float, precision: int = 4) -> str:
    """``x`` to ``precision`` significant digits, compactly.

    >>> [format_number(x) for x in (0.0, -0.0, 1.0, 2.0 / 3, -12345.678, 1e-7, float("inf"))]
    ['0', '0', '1', '0.6667', '-1.235e+04', '1e-07', 'inf']
    """
    return "0" if x == 0 else f"{x:.{precision}g}"


def check_precision(precision: object) -> int:
    """``precision`` if it is an int of significant digits from 1 to 17, else a ValueError saying so."""
    if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= 17:
        raise ValueError(f"precision must be an int of significant digits from 1 to 17, got {precision!r}")
    return precision


def on_paths(order: list[Value], focus: Value) -> list[bool]:
    """For each node of ``order`` (a walk, root last): whether it lies on a path from ``focus`` to the root,
    i.e. is ``focus`` or depends on it. These are exactly the nodes whose grads ``focus``'s grad is built
    from: every node a node on a path feeds is on a path too.
    """
    if not isinstance(focus, Value):
        raise TypeError(f"focus must be a Value of the graph, got {type(focus).__name__}")
    index = {v: i for i, v in enumerate(order)}
    if focus not in index:
        raise ValueError(
            f"focus {focus!r} is not in this graph: the root does not depend on it; pass one of the Values "
            "the root was computed from"
        )
    if type(focus) is Constant:
        raise ValueError(f"focus {focus!r} is a Constant: it gets no grad; pass a leaf or an op node")
    on = [False] * len(order)
    on[index[focus]] = True
    for i in range(index[focus] + 1, len(order)):  # parents come before children
        on[i] = any(on[index[p]] for p in order[i].parents)
    return on


def kept(order: list[Value], on: list[bool] | None) -> set[Value] | None:
    """The nodes of ``order`` on the paths (see ``on_paths``), or None for no focus: every node."""
    return None if on is None else {v for v, o in zip(order, on) if o}


def walk_graph(root: Value, *, params: Iterable[Value] | None = None, focus: Value | None = None) -> Graph:
    """The graph under ``root`` as plain nodes and edges, in a deterministic order.

    Leaves get a role: a ``Constant`` is a constant; a parameter is a leaf in ``params`` when it is given,
    else a leaf whose label looks like a dotted nn parameter name (``layers.0.neurons.3.w.1``); every
    other leaf is an input. With ``focus``, only the nodes on paths from ``focus`` to the root, and the
    other operands of their ops as stubs; ids and names stay those of the whole graph.

    >>> x = Value(3.0, label="x")
    >>> g = walk_graph(x * x + 1)
    >>> [(n.id, n.name, n.role) for n in g.nodes]
    [('n0', 'x', 'input'), ('n1', '#1', 'op'), ('n2', '1', 'constant'), ('n3', '#3', 'op')]
    >>> [(e.parent, e.child, e.local) for e in g.edges]
    [('n0', 'n1', 3.0), ('n0', 'n1', 3.0), ('n1', 'n3', 1.0), ('n2', 'n3', 1.0)]
    """
    order = walk(root)
    return graph_of(order, roles(order, params), None if focus is None else on_paths(order, focus))


def graph_of(order: list[Value], role: list[Role], on: list[bool] | None = None) -> Graph:
    """The Graph of a walk; with ``on`` (see ``on_paths``), the nodes on paths and their ops' stubs."""
    index = {v: i for i, v in enumerate(order)}
    last = len(order) - 1
    keep = [True] * len(order)
    stub = [False] * len(order)
    if on is not None:
        keep = list(on)
        for i, v in enumerate(order):
            # An op on a path (not focus itself, whose operands do not enter its grad): its other operands.
            if on[i] and any(on[index[p]] for p in v.parents):
                for p in v.parents:
                    j = index[p]
                    if not on[j]:
                        keep[j] = stub[j] = True
    nodes = tuple(
        GraphNode(f"n{i}", node_name(v, i), v, role[i], i == last, stub[i])
        for i, v in enumerate(order) if keep[i]
    )
    edges = tuple(
        GraphEdge(f"n{index[p]}", f"n{i}", k, local)
        for i, v in enumerate(order) if keep[i] and not stub[i]
        for k, (p, local) in enumerate(zip(v.parents, v.local_derivatives)) if keep[index[p]]
    )
    return Graph(nodes, edges)

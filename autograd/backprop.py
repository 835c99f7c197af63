"""Backprop: an iterative topological sort and the reverse sweep that applies the chain rule once per edge.

Both ``Value.backward()`` and ``gradients()`` use it. No recursion anywhere: a chain a million ops deep
works at Python's default recursion limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from . import value as _value
from .ops import OPS
from .value import Constant, Value

_anomaly_mode = False


def toposort(root: Value) -> list[Value]:
    """Every node ``root`` depends on, parents before children, root last. Constants are left out.

    >>> x = Value(2.0, label="x")
    >>> [n.label or n.op for n in toposort(x * x + x)]
    ['x', 'mul', 'add']
    """
    order: list[Value] = []
    visited: set[Value] = set()
    # Each entry is (node, parents_done); a node is emitted once all its parents have been.
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for parent in reversed(node.parents):
            if parent not in visited and type(parent) is not Constant:
                stack.append((parent, False))
    return order


def _sweep(root: Value, seed: Any) -> dict[Value, Any]:
    """Adjoints ∂root/∂node for every node, computed fresh (never read from ``.grad``)."""
    adjoint: dict[Value, Any] = {root: seed}
    get = adjoint.get
    for node in reversed(toposort(root)):
        g = adjoint[node]
        for parent, local in zip(node.parents, node.local_grads):
            adjoint[parent] = get(parent, 0.0) + local * g
    return adjoint


def _sweep_checked(root: Value) -> dict[Value, float]:
    """The same sweep, raising at the first edge whose contribution is nan or inf (detect_anomaly)."""
    adjoint: dict[Value, float] = {root: 1.0}
    for node in reversed(toposort(root)):
        g = adjoint[node]
        for i, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            contribution = local * g
            if not math.isfinite(contribution):
                where = f"node {node.label!r}" if node.label else "an unlabelled node"
                raise FloatingPointError(
                    f"detect_anomaly: backward produced {contribution!r} at op {node.op!r} ({where}, "
                    f"data={node.data!r}) for its parent {i} (data={parent.data!r}): local "
                    f"derivative {local!r} times upstream grad {g!r}"
                )
            adjoint[parent] = adjoint.get(parent, 0.0) + contribution
    return adjoint


def backward(root: Value) -> None:
    """Add ∂root/∂node to ``node.grad`` for every node reached; constants get none."""
    adjoint = _sweep_checked(root) if _anomaly_mode else _sweep(root, 1.0)
    for node, g in adjoint.items():
        if type(node) is not Constant:
            node.grad += g


def _local_values(node: Value) -> tuple[Value, ...]:
    """The node's local derivatives as Values, by running its rule on Values (for higher order)."""
    rule = OPS[node.op].local
    args = node.parents if node.arg is None else (*node.parents, node.arg)
    try:
        locals_ = rule(node, *args)
    except (ZeroDivisionError, OverflowError) as error:
        shown = ", ".join(repr(p.data) for p in node.parents)
        raise type(error)(
            f"create_graph: {node.op}({shown}) has an infinite local derivative {node.local_grads!r}, "
            f"so derivatives through it are undefined beyond first order ({error}); move the point "
            "off the singularity"
        ) from error
    return tuple(local if isinstance(local, Value) else Constant(local) for local in locals_)


def _sweep_graph(root: Value, inputs: Sequence[Value]) -> dict[Value, Value]:
    """Adjoints as Values that record their own graph, so they can be differentiated again.

    Only nodes that depend on an input are swept; no other node's adjoint reaches an input.
    """
    order = toposort(root)
    # NOTE: skipping the others is not only faster: a node off every input's path may have a local
    # derivative that cannot be built as a Value (sqrt of a parameter that is 0), which made
    # grad(grad(lambda x: x * w.sqrt()))(1.0) raise ZeroDivisionError.
    live = set(inputs)
    for node in order:
        if any(parent in live for parent in node.parents):
            live.add(node)
    one = Constant(1.0)
    adjoint: dict[Value, Value] = {root: one}
    for node in reversed(order):
        if not node.parents or node not in live:
            continue
        g = adjoint[node]
        for parent, local in zip(node.parents, _local_values(node)):
            contribution = local * g
            previous = adjoint.get(parent)
            adjoint[parent] = contribution if previous is None else previous + contribution
    return adjoint


def gradients(
    root: Value, inputs: Sequence[Value], create_graph: bool = False
) -> tuple[Any, ...]:
    """∂root/∂input for each input, touching no ``.grad``.

    With ``create_graph=True`` the results are Values that can be differentiated again.

    >>> x = Value(3.0)
    >>> gradients(x * x * x, [x])
    (27.0,)
    >>> (dx,) = gradients(x * x * x, [x], create_graph=True)
    >>> gradients(dx, [x])
    (18.0,)
    """
    if not isinstance(root, Value):
        raise TypeError(f"gradients: root must be a Value, got {type(root).__name__}")
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"gradients: inputs[{i}] must be a Value, got {type(x).__name__}")
    if create_graph:
        if not _value.is_grad_enabled():
            raise RuntimeError("gradients(create_graph=True) cannot record a graph inside no_grad()")
        adjoint_v = _sweep_graph(root, inputs)
        return tuple(adjoint_v.get(x, Constant(0.0)) for x in inputs)
    adjoint = _sweep_checked(root) if _anomaly_mode else _sweep(root, 1.0)
    return tuple(float(adjoint.get(x, 0.0)) for x in inputs)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Inside the block, a backward that produces a nan or inf gradient raises ``FloatingPointError``.

    The message names the op and the label of the node where it arose.
    """
    global _anomaly_mode
    previous, _anomaly_mode = _anomaly_mode, True
    try:
        yield
    finally:
        _anomaly_mode = previous

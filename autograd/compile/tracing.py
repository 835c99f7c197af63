"""Tracing: run a function once on Values, recording its comparisons and float() calls as guards, and
flatten the graph it builds into a Program.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import collector
from .. import value as _value
from ..backprop import toposort
from ..value import Constant, Value
from .program import Guard, Instruction, Program, Spec, number_name


class Tracer:
    """Receives the comparisons and float() calls that Value reports while a function is traced."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Value, Any, Any, str]] = []

    def compared(self, kind: str, x: Value, other: Any, result: bool) -> None:
        self.events.append((kind, x, other, result, _caller()))

    def read(self, x: Value) -> None:
        self.events.append(("float", x, None, x.data, _caller()))


def _caller() -> str:
    # Frames: _caller <- compared/read <- Value.__lt__/__float__ <- the code that compared.
    frame = sys._getframe(3)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def trace(
    f: Callable[..., Any],
    call_args: Callable[[list[Value]], list[Any]],
    flat: Sequence[float],
    names: Sequence[str],
    name: str,
) -> Program:
    """Run ``f`` on fresh leaves holding ``flat`` and record the graph it builds.

    ``call_args`` turns the list of leaves into f's positional arguments (lists rebuilt, static arguments
    put back). Exceptions from f propagate: a trace is an eager evaluation.
    """
    leaves = [Value(x, label=n) for x, n in zip(flat, names)]
    tracer = Tracer()
    # NOTE: tracing turns grad on in this thread: inside no_grad() every op would return a Constant and
    # the trace would record a constant function. Other threads' ops, comparisons and float() calls
    # report to their own (absent) tracer, never to this one.
    try:
        with _value.tracing(tracer):
            out = f(*call_args(leaves))
        out_values, spec = _flatten_output(out, name)
        return _build(name, leaves, out, out_values, spec, tracer.events)
    finally:
        # NOTE: the traced graph is a record (kept for draw_graph), never backpropagated: the collector
        # hold its first node started would otherwise last as long as the compiled function does
        collector.release()


def _flatten_output(out: Any, name: str) -> tuple[list[Value], Spec]:
    values: list[Value] = []
    spec = _output_leaves(out, "its result", values, name)
    return values, spec


def _output_leaves(x: Any, path: str, values: list[Value], name: str) -> Spec:
    # a module function, not a closure calling itself: that would be a reference cycle (see function.py)
    if isinstance(x, Value):
        values.append(x)
        return None
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        values.append(Constant(float(x)))  # an output that ignores the inputs: every grad is 0
        return None
    if isinstance(x, (list, tuple)) and x:
        return (type(x), tuple(_output_leaves(xi, f"{path}[{i}]", values, name) for i, xi in enumerate(x)))
    raise TypeError(
        f"compile: {name} must return a Value, a number, or a non-empty list of them; "
        f"{path} is {type(x).__name__} ({x!r})"
    )


class _Slots:
    """Slot numbers given out in order, with each slot's name (as a program prints it) and label."""

    def __init__(self) -> None:
        self.slot: dict[Any, int] = {}  # a Value, or the repr of a number the guards compare with
        self.names: list[str] = []
        self.labels: list[str] = []

    def add(self, key: Any, name: str, label: str) -> int:
        self.slot[key] = n = len(self.names)
        self.names.append(name)
        self.labels.append(label)
        return n


def _forward_order(outputs: list[Value], events: list[tuple[str, Value, Any, Any, str]]
                   ) -> tuple[list[Value], int]:
    """Every node to replay, and how many of the first output's ops the backward replays.

    The first output's ancestors come exactly as toposort lists them (backward replays them in reverse,
    so contributions add up in eager's order), then whatever else outputs and guards need.
    """
    order: list[Value] = []
    seen: set[Value] = set()
    roots: list[Value] = [*outputs]
    for _, x, other, _, _ in events:
        roots.append(x)
        if isinstance(other, Value):
            roots.append(other)
    n_backward = 0
    for i, root in enumerate(roots):
        for node in toposort(root):
            if node not in seen:
                seen.add(node)
                order.append(node)
        if i == 0:
            n_backward = sum(1 for node in order if not node.is_leaf)
    return order, n_backward


def _sort_nodes(order: list[Value], leaves: list[Value], outputs: list[Value],
                events: list[tuple[str, Value, Any, Any, str]]
                ) -> tuple[list[Value], list[Constant], list[tuple[Value, tuple[Value, ...]]], list[float]]:
    """The captured leaves (Values from outside the function), the constants, the ops with their parents
    (read once per node), and the numbers the guards compare with, each in order of first use."""
    known: set[Value] = set(leaves)
    captured: list[Value] = []
    constant_nodes: list[Constant] = []

    def leaf_kind(node: Value) -> None:
        if node in known:
            return
        known.add(node)
        if type(node) is Constant:
            constant_nodes.append(node)  # type: ignore[arg-type]
        else:
            captured.append(node)

    ops: list[tuple[Value, tuple[Value, ...]]] = []
    for node in order:
        parents = node.parents
        if not parents:
            leaf_kind(node)
            continue
        ops.append((node, parents))
        for parent in parents:
            if type(parent) is Constant:
                leaf_kind(parent)
    for v in outputs:
        if type(v) is Constant:
            leaf_kind(v)  # an output that ignores the inputs (toposort may leave constants out)
    extra_numbers: list[float] = []
    for kind, x, other, _, _ in events:
        if type(x) is Constant:
            leaf_kind(x)
        if isinstance(other, Value):
            if type(other) is Constant:
                leaf_kind(other)
        elif kind != "float":
            extra_numbers.append(float(other))
    return captured, constant_nodes, ops, extra_numbers


def _guards(events: list[tuple[str, Value, Any, Any, str]], slot: dict[Any, int], position: dict[int, int]
            ) -> list[Guard]:
    """One guard per distinct decision (a loop re-reading a value is checked once), placed after the
    instruction that computes the later of its operands."""
    guards: list[Guard] = []
    recorded: set[tuple[Any, ...]] = set()
    for kind, x, other, result, where in events:
        lhs = slot[x]
        rhs = None if kind == "float" else slot[other if isinstance(other, Value) else repr(float(other))]
        key = (kind, lhs, rhs, result)
        if key in recorded:
            continue
        recorded.add(key)
        after = max(position.get(lhs, -1), -1 if rhs is None else position.get(rhs, -1))
        guards.append(Guard(kind, lhs, rhs, result, after, where))
    return guards


def _build(
    name: str,
    leaves: list[Value],
    graph: Any,
    outputs: list[Value],
    output_spec: Spec,
    events: list[tuple[str, Value, Any, Any, str]],
) -> Program:
    """The traced graph as a Program: slots for the inputs, the captured leaves, the constants and each
    op's result, in that order; one instruction per op; one guard per distinct decision."""
    order, n_backward = _forward_order(outputs, events)
    captured, constant_nodes, ops, extra_numbers = _sort_nodes(order, leaves, outputs, events)
    slots = _Slots()
    for leaf in leaves:
        slots.add(leaf, leaf.label, leaf.label)
    for i, v in enumerate(captured):
        slots.add(v, v.label or f"p{i}", v.label)
    constants: list[tuple[int, float]] = []
    for c in constant_nodes:
        constants.append((slots.add(c, number_name(c.data, c.label), c.label), c.data))
    for number in extra_numbers:  # keyed by repr: one slot per distinct number (-0.0 and nan too)
        if repr(number) not in slots.slot:
            constants.append((slots.add(repr(number), number_name(number, ""), ""), number))
    instructions: list[Instruction] = []
    position: dict[int, int] = {}  # slot -> index of the instruction that computes it
    for i, (node, parents) in enumerate(ops):
        out = slots.add(node, f"v{i}", node.label)
        position[out] = i
        instructions.append(Instruction(node.op, out, tuple([slots.slot[p] for p in parents]), node.arg))
    slot = slots.slot
    n = len(slots.names)
    names, labels = slots.names, slots.labels
    guards = _guards(events, slot, position)
    return Program(
        name=name,
        n_slots=n,
        names=tuple(names),
        labels=tuple(labels),
        inputs=tuple(range(len(leaves))),
        captured=tuple(captured),
        captured_slots=tuple(slot[v] for v in captured),
        constants=tuple(constants),
        instructions=tuple(instructions),
        n_backward=n_backward,
        guards=tuple(guards),
        outputs=tuple(slot[v] for v in outputs),
        output_spec=output_spec,
        graph=graph,
    )



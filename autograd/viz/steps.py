"""Backprop as a lesson: the backward pass as steps (``backward_steps``), each step's contributions in the
order the engine adds them (``contributions``), and the chain rule narrated with the numbers (``explain``).
The one source of step data for ``draw_graph(step=)``, ``explain`` and the stepper.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..ops import OPS
from ..value import Constant, Value
from .walk import check_precision, format_number, kept, node_name, on_paths, walk


@dataclass(frozen=True)
class Contribution:
    """What one step adds to one operand's grad: local derivative × upstream grad."""

    parent: Value
    operand: int  # the parent's position among the node's operands (x * x has operands 0 and 1)
    local: float  # ∂node/∂parent
    amount: float  # local × upstream, added to the parent's grad (a Constant keeps none)


@dataclass(frozen=True)
class BackwardStep:
    """One node of the backward pass passing its grad on to its operands."""

    index: int  # position in the backward pass: 0 is the root
    node: Value
    upstream: float  # ∂root/∂node, complete by the time the node is processed
    contributions: tuple[Contribution, ...]  # one per operand, in operand order


def backward_steps(root: Value) -> list[BackwardStep]:
    """The backward pass from ``root`` as the engine runs it: one step per op node, in execution order.

    The order is the engine's (reverse ``toposort``) and so is the arithmetic: summing each leaf's
    contributions in step order gives exactly ``gradients(root, [leaf])``. Leaves have nothing to pass on,
    so they have no step. Nothing is written to ``.grad``.

    >>> x = Value(3.0, label="x")
    >>> [(s.upstream, [(c.local, c.amount) for c in s.contributions]) for s in backward_steps(x * x + 1)]
    [(1.0, [(1.0, 1.0), (1.0, 1.0)]), (1.0, [(3.0, 3.0), (3.0, 3.0)])]
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps needs a Value (the root of a graph), got {type(root).__name__}")
    # The viz walk, not toposort: the same order (constants aside) without taking the engine's pass lock,
    # so a picture can be drawn while another thread runs backward.
    return steps_of(walk(root))


def steps_of(order: list[Value]) -> list[BackwardStep]:
    """``backward_steps`` of the root of ``order``, a walk its caller already has (root last)."""
    adjoint: dict[Value, float] = {order[-1]: 1.0}
    steps: list[BackwardStep] = []
    for node in reversed(order):
        if not node.parents:
            continue
        g = adjoint[node]
        contributions = []
        for i, (parent, local) in enumerate(zip(node.parents, node.local_derivatives)):
            amount = local * g
            adjoint[parent] = adjoint.get(parent, 0.0) + amount
            contributions.append(Contribution(parent, i, local, amount))
        steps.append(BackwardStep(len(steps), node, g, tuple(contributions)))
    return steps


@dataclass(frozen=True)
class Event:
    """One contribution landing on its parent, in the engine's order: what a picture lights up."""

    step: BackwardStep
    contribution: Contribution
    total: float  # the parent's grad once this contribution is added (0 for a constant: it keeps none)
    final: bool  # the parent receives nothing after this: its grad is complete


def contributions(steps: list[BackwardStep], keep: set[Value] | None = None) -> list[Event]:
    """Every contribution of ``steps`` in the order the engine adds them, with the running grad of the
    node it lands on. With ``keep``, only steps of nodes in ``keep`` and contributions to nodes in ``keep``
    (the nodes on the paths from a focus: their grads come only from each other, so the sums are the
    same floats as the whole pass gives).
    """
    chosen = [(s, c) for s in steps if keep is None or s.node in keep
              for c in s.contributions if keep is None or c.parent in keep]
    expected = Counter(c.parent for _, c in chosen)
    received: Counter[Value] = Counter()
    total: dict[Value, float] = {}
    events = []
    for s, c in chosen:
        received[c.parent] += 1
        if type(c.parent) is not Constant:
            total[c.parent] = total.get(c.parent, 0.0) + c.amount
        events.append(Event(s, c, total.get(c.parent, 0.0), received[c.parent] == expected[c.parent]))
    return events


class Explanation(str):
    """The text ``explain`` returns: a ``str`` that notebooks show as a preformatted block, not a repr."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return f'<pre style="white-space: pre-wrap">{html.escape(self)}</pre>'

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's plain-text display
        printer.text(str(self))


_INFIX = {"add", "sub", "mul", "div"}


def expression(node: Value, names: dict[Value, str], precision: int) -> str:
    """``node``'s op applied to its operands' names, e.g. ``a * b``, ``tanh(#3)``, ``x ** 2``; a linear
    node as what it computes, ``Σ w·x + b over 3 inputs`` (its edges name the operands)."""
    operands = [names[p] for p in node.parents]
    op = OPS.get(node.op)
    symbol = op.symbol if op is not None else node.op
    if node.op in _INFIX:
        return f" {symbol} ".join(operands)
    if node.op == "neg":
        return f"-{operands[0]}"
    if node.op == "vpow":
        return f"{operands[0]} ** {operands[1]}"
    if node.op == "linear":  # a neuron's weighted sum: its operands are many and their names long
        n = len(operands) // 2
        bias = " + b" if len(operands) % 2 else ""
        return f"Σ w·x{bias} over {n} input{'' if n == 1 else 's'}"
    if node.arg is not None:
        arg = format_number(node.arg, precision)
        if node.op == "pow":
            return f"{operands[0]} ** {arg}"
        if node.op == "rpow":
            return f"{arg} ** {operands[0]}"
        return f"{symbol}({operands[0]}, {arg})"
    return f"{symbol}({', '.join(operands)})"


def step_line(step: BackwardStep, names: dict[Value, str], precision: int) -> str:
    """A step's heading, e.g. ``Step 2: #2 = x * w = -1.5, upstream grad 0.7864``."""
    num = lambda x: format_number(x, precision)
    n = names[step.node]
    return (f"Step {step.index}: {n} = {expression(step.node, names, precision)} = {num(step.node.data)}, "
            f"upstream grad {num(step.upstream)}")


def contribution_line(event: Event, names: dict[Value, str], precision: int) -> str:
    """One contribution in words, e.g. ``w (operand 1): ∂#2/∂w = 3; 3 × 0.79 = 2.4 -> grad of w = 2.4``."""
    num = lambda x: format_number(x, precision)
    c, n = event.contribution, names[event.step.node]
    p = names[c.parent]
    head = f"{p} (operand {c.operand}): ∂{n}/∂{p} = {num(c.local)}"
    if type(c.parent) is Constant:
        return f"{head}; {p} is a constant: it keeps no grad"
    so_far = "= " if event.final else "so far "
    return (f"{head}; {num(c.local)} × {num(event.step.upstream)} = {num(c.amount)} -> grad of {p} "
            f"{so_far}{num(event.total)}")


def sum_line(terms: list[float], total: float, precision: int, most: int = 8) -> str:
    """``a + b + c = total``, or just the total for one term; at most ``most`` terms, then ``…``."""
    num = lambda x: format_number(x, precision)
    if len(terms) <= 1:
        return num(total)
    shown = " + ".join(num(a) for a in terms[:most]) + (" + …" if len(terms) > most else "")
    return f"{shown} = {num(total)}"


def explain(root: Value, *, precision: int = 4, focus: Value | None = None) -> Explanation:
    """The chain rule narrated step by step with the actual numbers of the backward pass from ``root``.

    Returns an ``Explanation``: a ``str`` (``print`` it) that a notebook displays as a block of text.
    Names are those ``draw_graph`` shows (a label, else ``#<position>``), and step numbers are those of
    ``backward_steps`` and ``draw_graph(root, step=k)``. With ``focus`` (a node of the graph), only the
    steps on the paths from ``focus`` to the root, ending with ``focus``'s grad as the sum of its
    contributions: how one weight of a network gets its gradient.

    >>> x = Value(3.0, label="x")
    >>> y = x * x
    >>> y.label = "y"
    >>> print(explain(y))
    Backward pass from y = 9: one step per op node, the root first.
    Chain rule: grad of an operand += local derivative ∂node/∂operand × grad of the node (upstream).
    The root's grad is ∂y/∂y = 1.
    <BLANKLINE>
    Step 0: y = x * x = 9, upstream grad 1
      x (operand 0): ∂y/∂x = 3; 3 × 1 = 3 -> grad of x so far 3
      x (operand 1): ∂y/∂x = 3; 3 × 1 = 3 -> grad of x = 6
    <BLANKLINE>
    Grads of the leaves:
      x = 6  (= 3 + 3)
    """
    if not isinstance(root, Value):
        raise TypeError(f"explain needs a Value (the root of a graph), got {type(root).__name__}")
    check_precision(precision)
    order = walk(root)
    names = {v: node_name(v, i) for i, v in enumerate(order)}
    keep = kept(order, None if focus is None else on_paths(order, focus))
    r, value = names[root], format_number(root.data, precision)
    lines = [f"Backward pass from {r} = {value}: one step per op node, the root first." if focus is None
             else f"Backward pass from {r} = {value}, only the steps on the paths from {names[focus]} to "
                  f"{r} (step numbers are those of the whole pass).",
             "Chain rule: grad of an operand += local derivative ∂node/∂operand × grad of the node "
             "(upstream).",
             f"The root's grad is ∂{r}/∂{r} = 1."]
    received = _narrate_steps(steps_of(order), names, keep, focus, precision, lines)
    if not root.parents:
        lines += ["", f"{r} is a leaf: there is no step."]
    elif focus is not None:
        got, grad = received.get(focus, ([1.0], 1.0) if focus is root else ([], 0.0))
        lines += ["", f"Grad of {names[focus]}: the sum of its contributions, one per edge into the nodes "
                      "it feeds:", f"  {names[focus]} = {sum_line(got, grad, precision)}"]
    else:
        leaves = [v for v in order if not v.parents and type(v) is not Constant]
        lines += ["", "Grads of the leaves:" if leaves else "No leaf gets a grad: every leaf is a constant."]
        for v in leaves:
            got, grad = received.get(v, ([], 0.0))
            line = f"  {names[v]} = {format_number(grad, precision)}"
            if len(got) > 1:
                line += f"  (= {sum_line(got, grad, precision).rsplit(' = ', 1)[0]})"
            lines.append(line)
    return Explanation("\n".join(lines))


Received = dict[Value, tuple[list[float], float]]  # a node's contributions so far, and its grad after them


def _narrate_steps(steps: list[BackwardStep], names: dict[Value, str], keep: set[Value] | None,
                   focus: Value | None, precision: int, lines: list[str]) -> Received:
    """Append each step (those of nodes in ``keep``, when given) and its contributions to ``lines``;
    return what each non-constant node received: its contributions and its grad after the last."""
    received: Received = {}
    heading: BackwardStep | None = None
    for e in contributions(steps, keep):
        if e.step is not heading:
            heading = e.step
            lines += ["", step_line(e.step, names, precision)]
            off = [] if keep is None else [names[p] for p in e.step.node.parents if p not in keep]
            if off:
                lines.append(f"  (off the paths from {names[focus]}: {_listing(off)})")  # type: ignore[index]
        lines.append("  " + contribution_line(e, names, precision))
        parent = e.contribution.parent
        if type(parent) is not Constant:
            got = received[parent][0] if parent in received else []
            got.append(e.contribution.amount)
            received[parent] = (got, e.total)
    return received


def _listing(names: list[str], most: int = 4) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")

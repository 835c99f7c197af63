"""Backprop as a lesson: the backward pass as a list of steps (``backward_steps``) and the chain rule
narrated with the actual numbers (``explain``).
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .backprop import toposort
from .graph import _name, format_number, walk
from .ops import OPS
from .value import Constant, Value


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
    adjoint: dict[Value, float] = {root: 1.0}
    steps: list[BackwardStep] = []
    for node in reversed(toposort(root)):
        if not node.parents:
            continue
        g = adjoint[node]
        contributions = []
        for i, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            amount = local * g
            adjoint[parent] = adjoint.get(parent, 0.0) + amount
            contributions.append(Contribution(parent, i, local, amount))
        steps.append(BackwardStep(len(steps), node, g, tuple(contributions)))
    return steps


class Explanation(str):
    """The text ``explain`` returns: a ``str`` that notebooks show as a preformatted block, not a repr."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return f'<pre style="white-space: pre-wrap">{html.escape(self)}</pre>'

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's plain-text display
        printer.text(str(self))


_INFIX = {"add", "sub", "mul", "div"}


def _expression(node: Value, names: dict[Value, str], precision: int) -> str:
    """``node``'s op applied to its operands' names, e.g. ``a * b``, ``tanh(#3)``, ``x ** 2``."""
    operands = [names[p] for p in node.parents]
    op = OPS.get(node.op)
    symbol = op.symbol if op is not None else node.op
    if node.op in _INFIX:
        return f" {symbol} ".join(operands)
    if node.op == "neg":
        return f"-{operands[0]}"
    if node.arg is not None:
        arg = format_number(node.arg, precision)
        return f"{operands[0]} ** {arg}" if node.op == "pow" else f"{symbol}({operands[0]}, {arg})"
    return f"{symbol}({', '.join(operands)})"


def explain(root: Value, *, precision: int = 4) -> Explanation:
    """The chain rule narrated step by step with the actual numbers of the backward pass from ``root``.

    Returns an ``Explanation``: a ``str`` (``print`` it) that a notebook displays as a block of text.
    Names are those ``draw_graph`` shows (a label, else ``#<position>``), and step numbers are those of
    ``backward_steps`` and ``draw_graph(root, step=k)``.

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
    if not isinstance(precision, int) or not 1 <= precision <= 17:
        raise ValueError(f"precision must be an int of significant digits from 1 to 17, got {precision!r}")
    num = lambda x: format_number(x, precision)
    order = walk(root)
    names = {v: _name(v, i) for i, v in enumerate(order)}
    steps = backward_steps(root)
    r = names[root]
    lines = [
        f"Backward pass from {r} = {num(root.data)}: one step per op node, the root first.",
        "Chain rule: grad of an operand += local derivative ∂node/∂operand × grad of the node (upstream).",
        f"The root's grad is ∂{r}/∂{r} = 1.",
    ]
    # How many contributions each node still expects, to say "so far" until the last one lands.
    expected = Counter(c.parent for s in steps for c in s.contributions)
    received: dict[Value, list[float]] = {}  # the contributions so far
    total: dict[Value, float] = {}  # their running sum, added left to right as the engine does
    for s in steps:
        n = names[s.node]
        lines += ["", f"Step {s.index}: {n} = {_expression(s.node, names, precision)} = {num(s.node.data)}, "
                      f"upstream grad {num(s.upstream)}"]
        for c in s.contributions:
            p = names[c.parent]
            head = f"  {p} (operand {c.operand}): ∂{n}/∂{p} = {num(c.local)}"
            if type(c.parent) is Constant:
                lines.append(f"{head}; {p} is a constant: it keeps no grad")
                continue
            got = received.setdefault(c.parent, [])
            got.append(c.amount)
            total[c.parent] = total.get(c.parent, 0.0) + c.amount
            so_far = "so far " if len(got) < expected[c.parent] else "= "
            lines.append(f"{head}; {num(c.local)} × {num(s.upstream)} = {num(c.amount)} -> grad of {p} "
                         f"{so_far}{num(total[c.parent])}")
    if not root.parents:
        return Explanation("\n".join([*lines, "", f"{r} is a leaf: there is no step."]))
    leaves = [v for v in order if not v.parents and type(v) is not Constant]
    lines += ["", "Grads of the leaves:" if leaves else "No leaf gets a grad: every leaf is a constant."]
    for v in leaves:
        got = received.get(v, [])
        line = f"  {names[v]} = {num(total.get(v, 0.0))}"
        if len(got) > 1:
            line += "  (= " + " + ".join(num(a) for a in got[:8]) + (" + …)" if len(got) > 8 else ")")
        lines.append(line)
    return Explanation("\n".join(lines))

"""The traced program: straight-line code over numbered *slots*, its guards, and how it prints.

Slots are the inputs, the captured leaves (Values the function reads from outside, such as a model's
parameters), the constants, then one slot per op in topological order. Guards record the value-dependent
decisions the function took while it was traced.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Union

from ..value import Value

# The shape of one argument or of the output: None for a scalar, else (list or tuple, child shapes).
Spec = Union[None, tuple[type, tuple[Any, ...]]]

COMPARISONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class Instruction(NamedTuple):
    """``slot[out] = op(slot[ins[0]], ..., arg)``: one node of the traced graph."""

    # a NamedTuple, not a frozen dataclass: 5x faster to make, and a trace makes one per node

    op: str  # a key of OPS
    out: int
    ins: tuple[int, ...]
    arg: float | None  # the op's constant argument (pow's exponent, leaky_relu's slope), else None


@dataclass(frozen=True)
class Guard:
    """A decision the traced function took by reading a value, re-checked on every replay.

    ``slot[lhs] <kind> slot[rhs]`` was ``expected`` (a bool) while tracing, or, for kind ``"float"``,
    ``float(slot[lhs])`` returned ``expected`` (a float) and that number was baked into the trace.
    """

    kind: str  # one of COMPARISONS, or "float"
    lhs: int
    rhs: int | None  # a slot (a number compared with becomes a constant slot); None for "float"
    expected: bool | float
    after: int  # checkable once instructions[after] has run; -1: from the start
    where: str  # "file:line" of the comparison in the traced function, for error messages


@dataclass(frozen=True)
class Program:
    """A traced function as flat code. ``str(program)`` prints it (see ``format_program``)."""

    name: str
    n_slots: int
    names: tuple[str, ...]  # how each slot prints
    labels: tuple[str, ...]  # each slot's node label ("" when unlabelled), for anomaly messages
    inputs: tuple[int, ...]  # the slot of each flat input, in argument order
    captured: tuple[Value, ...]  # leaves read live (their .data) on every replay
    captured_slots: tuple[int, ...]
    constants: tuple[tuple[int, float], ...]  # (slot, value)
    instructions: tuple[Instruction, ...]  # forward order
    # instructions[:n_backward] are exactly the ops the first output (the one gradients are of) depends
    # on, in the order of backprop.toposort, so a reverse sweep over them adds contributions in eager's
    # order.
    n_backward: int
    guards: tuple[Guard, ...]
    outputs: tuple[int, ...]
    output_spec: Spec
    graph: Any  # the traced output: a Value (or a list of them) that draw_graph can draw

    def __str__(self) -> str:
        return format_program(self)


def operand_count(p: Program) -> int:
    """The operands of all instructions and the captured leaves: what the scalar replay's cost (a term of
    the forward and an edge of the backward each) and its generated code's length grow with."""
    return sum(len(ins.ins) for ins in p.instructions) + len(p.captured_slots)


def number_name(x: float, label: str) -> str:
    return f"{label}={x!r}" if label else repr(x)


def format_program(p: Program) -> str:
    """The program as readable text, one instruction per line (in the spirit of a jaxpr).

    >>> from autograd import compile
    >>> f = compile(lambda x, y: (x * y + 1).tanh() if x > 0 else -x)
    >>> f(2.0, 3.0)
    0.9999983369439447
    >>> print(f.program)
    program <lambda>(x, y)
      v0 = mul x y
      v1 = add v0 1
      v2 = tanh v1
      guard x > 0 is True
      return v2
    """
    n = p.names
    head = f"program {p.name}({', '.join(n[s] for s in p.inputs)})"
    lines = [head]
    if p.captured:
        shown = ", ".join(f"{n[s]}={v.data:.6g}" for v, s in zip(p.captured, p.captured_slots))
        lines.append(f"  captured {shown}")
    for ins in p.instructions:
        operands = " ".join(operand_name(n, s) for s in ins.ins)
        arg = "" if ins.arg is None else f" {ins.arg!r}"
        lines.append(f"  {n[ins.out]} = {ins.op} {operands}{arg}")
    for g in p.guards:
        if g.kind == "float":
            lines.append(f"  guard float({n[g.lhs]}) == {g.expected!r}")
        else:
            assert g.rhs is not None
            lhs, rhs = operand_name(n, g.lhs), operand_name(n, g.rhs)
            lines.append(f"  guard {lhs} {g.kind} {rhs} is {g.expected}")
    outs = ", ".join(operand_name(n, s) for s in p.outputs)
    lines.append(f"  return {outs}")
    return "\n".join(lines)


def operand_name(names: Sequence[str], s: int) -> str:
    name = names[s]
    # Constants print as their value; 1.0 reads better as 1 in a program listing.
    if name.endswith(".0") and name[:-2].lstrip("-").isdigit():
        return name[:-2]
    return name

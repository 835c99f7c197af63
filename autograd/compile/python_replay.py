"""The scalar replay: a traced Program run on floats, as generated Python or interpreted.

Both call the op table's ``forward`` and ``local`` on floats and add contributions in eager's order, so
values and gradients are bit-identical to an eager run. The generated code is the fast path; the
interpreter is the exact fallback (singular local derivatives, ``detect_anomaly``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ..ops import OPS, singular_derivatives
from .program import COMPARISONS, Program, operand_count

# outputs, grads of the inputs, grads of the captured leaves (the grads are None without with_grad)
Result = tuple[list[float], "list[float] | None", "list[float] | None"]
# (the flat inputs, the captured leaves' numbers) -> Result
Replay = Callable[[Sequence[float], Sequence[float]], Result]

# Above this many operands in all (each one a term of a line forward and a line of the backward) the
# interpreter replaces generated code: CPython takes ~10 us per line to compile it, ~1 s at this size
# with the backward, and more per line as functions grow (measured).
MAX_GENERATED = 20_000


class GuardFailed(Exception):
    """Internal: guard ``index`` of the program does not hold for these inputs."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class ReplayError(Exception):
    """Internal: an op's forward raised on replay; the caller re-traces to raise eager's own error."""


def same_number(a: float, b: float) -> bool:
    """Bitwise equality for a float() guard: -0.0 is not 0.0 and nan matches nan."""
    if a != a:
        return b != b
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def check_guard(p: Program, index: int, vals: Sequence[float]) -> None:
    g = p.guards[index]
    x = vals[g.lhs]
    if g.kind == "float":
        ok = same_number(x, g.expected)  # type: ignore[arg-type]
    else:
        assert g.rhs is not None
        y = vals[g.rhs]
        ok = COMPARISONS[g.kind](x, y) == g.expected
    if not ok:
        raise GuardFailed(index)


def generate(p: Program, with_grad: bool) -> Replay:
    """Python source for the program, compiled once: one line per op, one per edge of the backward."""
    if operand_count(p) > MAX_GENERATED:
        return lambda inputs, captured: interpret(p, inputs, captured, with_grad, checked=False)
    env: dict[str, Any] = {"GuardFailed": GuardFailed, "same_number": same_number}
    lines = ["def replay(I, P):"]
    emit = lines.append
    if p.inputs:
        emit(f"    {''.join(f'v{s}, ' for s in p.inputs)}= I")
    if p.captured_slots:
        emit(f"    {''.join(f'v{s}, ' for s in p.captured_slots)}= P")
    for s, c in p.constants:
        env[f"K{s}"] = c
        emit(f"    v{s} = K{s}")
    guards_after = _guards_after(p)

    def emit_guards(after: int) -> None:
        for gi in guards_after.get(after, ()):
            g = p.guards[gi]
            if g.kind == "float":
                env[f"E{gi}"] = g.expected
                emit(f"    if not same_number(v{g.lhs}, E{gi}): raise GuardFailed({gi})")
            else:
                test = f"v{g.lhs} {g.kind} v{g.rhs}"
                emit(f"    if {'not ' if g.expected else ''}({test}): raise GuardFailed({gi})")

    emit_guards(-1)
    for i, ins in enumerate(p.instructions):
        op = OPS[ins.op]
        env[f"F_{ins.op}"] = op.forward
        env[f"L_{ins.op}"] = op.derivatives
        operands = [f"v{s}" for s in ins.ins]
        if ins.arg is not None:
            env[f"A{i}"] = ins.arg
            operands.append(f"A{i}")
        emit(f"    v{ins.out} = F_{ins.op}({', '.join(operands)})")
        if with_grad and i < p.n_backward:
            # NOTE: a rule that raises (a singular derivative, e.g. d sqrt at 0) escapes this function;
            # the caller then re-runs the interpreter, which substitutes singular_derivatives as eager does.
            targets = "".join(f"d{ins.out}_{j}, " for j in range(len(ins.ins)))
            emit(f"    {targets}= L_{ins.op}(v{ins.out}, {', '.join(operands)})")
        emit_guards(i)
    outputs = "".join(f"v{s}, " for s in p.outputs)
    if not with_grad:
        emit(f"    return [{outputs}], None, None")
    else:
        backward, assigned = _backward_lines(p)
        lines += backward
        grads = ["".join(f"g{s}, " if s in assigned else "0.0, " for s in slots)  # 0.0: no edge reached it
                 for slots in (p.inputs, p.captured_slots)]
        emit(f"    return [{outputs}], [{grads[0]}], [{grads[1]}]")
    code = compile("\n".join(lines), f"<compiled {p.name}>", "exec")
    exec(code, env)
    replay: Replay = env["replay"]
    return replay


def _adjoints(p: Program, vals: list[float], local_grads: list[tuple[float, ...]], checked: bool
              ) -> dict[int, float]:
    """The interpreted backward: each slot's adjoint, as eager's sweep computes it."""
    adjoint: dict[int, float] = {p.outputs[0]: 1.0}
    for i in reversed(range(p.n_backward)):
        ins = p.instructions[i]
        upstream = adjoint[ins.out]
        for j, (parent, d) in enumerate(zip(ins.ins, local_grads[i])):
            contribution = d * upstream
            if checked and not math.isfinite(contribution):
                label = p.labels[ins.out]
                where = f"node {label!r}" if label else "an unlabelled node"
                # NOTE: the same words as backprop's checked sweep, so a compiled function fails as the
                # eager one does (tests compare the two messages).
                raise FloatingPointError(
                    f"detect_anomaly: backward produced {contribution!r} at op {ins.op!r} ({where}, "
                    f"data={vals[ins.out]!r}) for its parent {j} (data={vals[parent]!r}): local "
                    f"derivative {d!r} times upstream grad {upstream!r}"
                )
            adjoint[parent] = adjoint.get(parent, 0.0) + contribution
    return adjoint


def _guards_after(p: Program) -> dict[int, list[int]]:
    """The guards to check after each instruction (-1: before the first), by index."""
    after: dict[int, list[int]] = {}
    for gi, g in enumerate(p.guards):
        after.setdefault(g.after, []).append(gi)
    return after


def _backward_lines(p: Program) -> tuple[list[str], set[int]]:
    """The generated backward, one line per edge, children first, in eager's float operations; and the
    slots whose grad it assigns."""
    root = p.outputs[0]  # gradients are of the first output (the others are auxiliary)
    lines = [f"    g{root} = 1.0"]
    assigned = {root}
    constant_slots = {s for s, _ in p.constants}
    for i in reversed(range(p.n_backward)):
        ins = p.instructions[i]
        for j, parent in enumerate(ins.ins):
            if parent in constant_slots:
                continue  # a constant's grad is never read
            # eager: adjoint[parent] = adjoint.get(parent, 0.0) + local * g, the same float ops
            previous = f"g{parent}" if parent in assigned else "0.0"
            lines.append(f"    g{parent} = {previous} + d{ins.out}_{j} * g{ins.out}")
            assigned.add(parent)
    return lines, assigned


def interpret(
    p: Program, inputs: Sequence[float], captured: Sequence[float], with_grad: bool, checked: bool
) -> Result:
    """The program run one instruction at a time, exactly as eager evaluation and backprop do.

    ``captured`` holds the captured leaves' numbers. With ``checked`` (``detect_anomaly``), the first
    non-finite contribution of the backward raises ``FloatingPointError`` with eager's message. Raises
    GuardFailed or ReplayError like generated code.
    """
    vals = [0.0] * p.n_slots
    for s, x in zip(p.inputs, inputs):
        vals[s] = x
    for s, x in zip(p.captured_slots, captured):
        vals[s] = x
    for s, c in p.constants:
        vals[s] = c
    guards_after = _guards_after(p)
    for gi in guards_after.get(-1, ()):
        check_guard(p, gi, vals)
    local_grads: list[tuple[float, ...]] = []
    for i, ins in enumerate(p.instructions):
        op = OPS[ins.op]
        xs = [vals[s] for s in ins.ins]
        extra = () if ins.arg is None else (ins.arg,)
        try:
            out = op.forward(*xs, *extra)
        except (ArithmeticError, ValueError) as error:
            raise ReplayError(f"{ins.op} raised {error!r}") from error
        vals[ins.out] = out
        if with_grad and i < p.n_backward:
            try:
                local = tuple(op.derivatives(out, *xs, *extra))
            except (ZeroDivisionError, OverflowError):
                local = tuple(singular_derivatives(ins.op, *xs, *extra))
            local_grads.append(local)
        for gi in guards_after.get(i, ()):
            check_guard(p, gi, vals)
    outputs = [vals[s] for s in p.outputs]
    if not with_grad:
        return outputs, None, None
    adjoint = _adjoints(p, vals, local_grads, checked)
    grads_in = [adjoint.get(s, 0.0) for s in p.inputs]
    grads_cap = [adjoint.get(s, 0.0) for s in p.captured_slots]
    return outputs, grads_in, grads_cap

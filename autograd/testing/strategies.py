"""Hypothesis strategies: random computation DAGs that stay inside every op's domain, points for them,
and one op (or one op with a constant) at a point inside its domain.

How the graphs stay inside every op's domain (the per-op facts live in ``DOMAINS``): inputs are drawn
from ``[-INPUT_RANGE, INPUT_RANGE]``; while a graph is built, interval arithmetic bounds every node over
the slightly larger box ``[-BOX, BOX]``. An operand that must be positive (log, sqrt, a negative or
fractional power) or non-zero (a denominator) is replaced by ``u * u + c`` with ``c >= MARGIN`` unless its
bounds already keep it there; an op whose result could exceed ``BOUND`` in magnitude gets its operands
squashed through ``tanh`` first. So every graph is defined on the whole box, every node stays within
``BOUND``, and ``points()`` keeps the arguments of relu, leaky_relu and abs at least ``KINK_MARGIN`` from
their kink, where finite differences are meaningless.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

from hypothesis import strategies as st

from ..ops import OPS
from .dag import Const, Node, Operand, RandomGraph
from .domains import BOUND, BOX, DOMAINS, INPUT_RANGE, KINK_MARGIN, MARGIN, Interval


class _Builder:
    """Grows a graph node by node, bounding every node and guarding operands as the module docstring
    describes. With ``strict``, guards and squashes use only the ops in ``ops``."""

    def __init__(self, draw: Callable[[Any], Any], arity: int, ops: Collection[str], strict: bool) -> None:
        self.draw = draw
        self.arity = arity
        self.nodes: list[Node] = []
        self.bounds: list[Interval] = [(-BOX, BOX)] * arity
        self.used: list[bool] = [False] * arity
        # NOTE: an engine under test may lack tanh; then a squash is a multiplication by a constant.
        self.squash_by_tanh = not strict or "tanh" in ops

    def bound(self, o: Operand) -> Interval:
        return self.bounds[o] if isinstance(o, int) else (o.value, o.value)

    def push(self, op: str, operands: tuple[Operand, ...], arg: float | None = None) -> int:
        bound = DOMAINS[op].image(tuple(self.bound(o) for o in operands), arg)
        if op == "mul" and operands[0] == operands[1]:
            # NOTE: u * u is a square; the generic product bound (-6.25, 6.25 for u in ±2.5) would
            # let a guarded log or sqrt argument look possibly negative.
            lo, hi = self.bound(operands[0])
            bound = (0.0 if lo < 0 < hi else min(lo * lo, hi * hi)), max(lo * lo, hi * hi)
        assert -BOUND <= bound[0] <= bound[1] <= BOUND, (op, operands, bound)
        for o in operands:
            if isinstance(o, int):
                self.used[o] = True
        self.nodes.append(Node(op, operands, arg))
        self.bounds.append(bound)
        self.used.append(False)
        return len(self.bounds) - 1

    def emit(self, op: str, operands: tuple[Operand, ...], arg: float | None = None) -> int:
        domain = DOMAINS[op]
        guarded = set(domain.positive(arg)) | set(domain.nonzero)
        if not self._fits(op, operands, arg, guarded):
            operands = tuple(self._squash(o) for o in operands)
        operands = tuple(
            self._guard(o, i in domain.nonzero) if i in guarded else o for i, o in enumerate(operands)
        )
        return self.push(op, operands, arg)

    def _needs_guard(self, o: Operand, nonzero: bool) -> bool:
        lo, hi = self.bound(o)
        return not (lo >= MARGIN or (nonzero and hi <= -MARGIN))

    def _fits(self, op: str, operands: tuple[Operand, ...], arg: float | None, guarded: set[int]) -> bool:
        bounds = []
        for i, o in enumerate(operands):
            lo, hi = self.bound(o)
            if i in guarded and self._needs_guard(o, i in DOMAINS[op].nonzero):
                square = max(lo * lo, hi * hi)
                if square > BOUND - 2.0:
                    return False
                lo, hi = MARGIN, square + 2.0  # u * u + c with MARGIN <= c <= 2
            bounds.append((lo, hi))
        try:
            lo, hi = DOMAINS[op].image(tuple(bounds), arg)
        except (OverflowError, ZeroDivisionError):
            return False
        return -BOUND <= lo and hi <= BOUND

    def _squash(self, o: Operand) -> Operand:
        lo, hi = self.bound(o)
        if isinstance(o, Const) or max(-lo, hi) <= 1.0:
            return o
        if self.squash_by_tanh:
            return self.push("tanh", (o,))
        # o * s with s <= 1 / max|o| (rounded down to 3 decimals, >= 0.01 since |o| <= BOUND): into [-1, 1]
        return self.push("mul", (o, Const(math.floor(1000 / max(-lo, hi)) / 1000)))

    def _guard(self, o: Operand, nonzero: bool) -> Operand:
        if not self._needs_guard(o, nonzero):
            return o
        if isinstance(o, Const):  # a negative constant base (vpow's x): its magnitude (>= 0.5) will do
            return Const(abs(o.value))
        c = round(self.draw(st.floats(MARGIN, 2.0)), 3)
        return self.push("add", (self.push("mul", (o, o)), Const(c)))


# Constants are rounded to 3 decimals so printed graphs stay readable.
_CONSTANTS = st.builds(lambda m, s: round(m * s, 3), st.floats(0.5, 3.0), st.sampled_from([1.0, -1.0]))


def _op_names(ops: Sequence[str] | None) -> list[str]:
    names = list(DOMAINS) if ops is None else list(ops)
    unknown = [name for name in names if name not in DOMAINS]
    if unknown or not names:
        raise ValueError(f"ops must be a non-empty list of op names from {list(DOMAINS)}, got {ops!r}")
    return names


@st.composite
def graphs(
    draw: Callable[[Any], Any],
    max_inputs: int = 3,
    max_ops: int = 8,
    ops: Sequence[str] | None = None,
    strict: bool = False,
) -> RandomGraph:
    """Random computation DAGs: 1..max_inputs inputs, 1..max_ops ops drawn from ``ops`` (default: every
    op of the op table), shared subexpressions, constants on either side of binary ops. Guard and squash
    nodes (see the module docstring) come on top of the ops drawn. Every node left unused is added into
    the output, so every op drawn affects the result.

    With ``strict=True`` every node is one of ``ops``, guards and squashes too (for an engine that has
    only those): ``ops`` must then include add and mul, a squash is a tanh if ``ops`` has it and a
    multiplication by a constant otherwise, and ``c ** y`` (``x ** c``) with a constant appears only if
    ``ops`` has rpow (pow)."""
    names = _op_names(ops)
    if strict and not {"add", "mul"} <= set(names):
        raise ValueError(f"strict graphs guard and sum their nodes with add and mul; ops {ops!r} lack them")
    if max_inputs < 1 or max_ops < 1:
        raise ValueError("max_inputs and max_ops must be >= 1")
    arity = draw(st.integers(1, max_inputs))
    b = _Builder(draw, arity, names, strict)
    sides = ["none", "left", "right"]
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(names))
        domain = DOMAINS[op]
        arg = draw(st.sampled_from(domain.args)) if domain.args else None
        # Counting back from the newest slot: small numbers (which Hypothesis favours and shrinks to)
        # mean recent nodes, so graphs are deep and shrink to chains.
        slot = lambda: len(b.bounds) - 1 - draw(st.integers(0, len(b.bounds) - 1))
        if OPS[op].arity == 1:
            operands: tuple[Operand, ...] = (slot(),)
        elif OPS[op].arity is None:  # linear: n weights, n inputs (some of them constants), a bias
            n = draw(st.integers(1, 3))
            ws = [slot() for _ in range(n)]
            xs = [Const(draw(_CONSTANTS)) if draw(st.booleans()) else slot() for _ in range(n)]
            operands = (*ws, *xs, slot())
        else:
            allowed = sides
            if strict and op == "vpow":  # a constant base is rpow's job, a constant exponent pow's
                allowed = ["none"] + ["left"] * ("rpow" in names) + ["right"] * ("pow" in names)
            side = draw(st.sampled_from(allowed))  # which side is a constant
            left = Const(draw(_CONSTANTS)) if side == "left" else slot()
            right = Const(draw(_CONSTANTS)) if side == "right" else slot()
            operands = (left, right)
        b.emit(op, operands, arg)
    sinks = [s for s in range(arity, len(b.bounds)) if not b.used[s]]
    out = sinks[0]
    for s in sinks[1:]:
        out = b.emit("add", (out, s))
    assert out == len(b.bounds) - 1  # the last node pushed is always a sink, so the output is last
    return RandomGraph(arity, b.nodes)


def points(graph: RandomGraph, avoid_kinks: bool = True) -> st.SearchStrategy[tuple[float, ...]]:
    """Points in ``[-INPUT_RANGE, INPUT_RANGE]`` for ``graph``; with ``avoid_kinks``, only those where
    every relu/leaky_relu/abs argument is at least ``KINK_MARGIN`` from its kink."""
    coordinate = st.floats(-INPUT_RANGE, INPUT_RANGE, allow_nan=False)
    strategy = st.tuples(*[coordinate] * graph.arity)
    if avoid_kinks:
        strategy = strategy.filter(lambda p: graph.kink_distance(*p) >= KINK_MARGIN)
    return strategy


@st.composite
def graphs_and_points(
    draw: Callable[[Any], Any],
    max_inputs: int = 3,
    max_ops: int = 8,
    ops: Sequence[str] | None = None,
    avoid_kinks: bool = True,
    strict: bool = False,
) -> tuple[RandomGraph, tuple[float, ...]]:
    """A graph from ``graphs(...)`` and a point from ``points(graph, avoid_kinks)``."""
    graph = draw(graphs(max_inputs, max_ops, ops, strict))
    return graph, draw(points(graph, avoid_kinks))


# -- one op at a time ------------------------------------------------------------------------------


def _coordinate(positive: bool, nonzero: bool, kinks: Sequence[float] = ()) -> st.SearchStrategy[float]:
    """A number in [-INPUT_RANGE, INPUT_RANGE]: >= MARGIN if positive, >= MARGIN in magnitude if nonzero,
    at least KINK_MARGIN from each kink."""
    if positive:
        return st.floats(MARGIN, INPUT_RANGE)
    if nonzero:
        return st.builds(lambda m, s: m * s, st.floats(MARGIN, INPUT_RANGE), st.sampled_from([1.0, -1.0]))
    x = st.floats(-INPUT_RANGE, INPUT_RANGE)
    return x.filter(lambda v: all(abs(v - k) >= KINK_MARGIN for k in kinks)) if kinks else x


@st.composite
def op_cases(draw: Callable[[Any], Any], op: str) -> tuple[RandomGraph, tuple[float, ...]]:
    """One op applied to fresh inputs (linear: 1 to 3 weights and inputs, and a bias), with its constant
    argument drawn, at a point inside its domain and away from its kink."""
    (name,) = _op_names([op])
    domain = DOMAINS[name]
    arg = draw(st.sampled_from(domain.args)) if domain.args else None
    arity = OPS[name].arity or 2 * draw(st.integers(1, 3)) + 1
    positive, nonzero = set(domain.positive(arg)), set(domain.nonzero)
    point = tuple(
        draw(_coordinate(i in positive, i in nonzero, domain.kinks if i == 0 else ())) for i in range(arity)
    )
    return RandomGraph(arity, [Node(name, tuple(range(arity)), arg)]), point


def op_simple_cases(op: str) -> list[tuple[RandomGraph, tuple[float, ...]]]:
    """One op on fresh inputs at the simple points every hand-written test starts with: each operand 0, 1
    or -1 where its domain allows (1 alone where it must be positive), with each of its constant arguments
    (``x ** 0`` at 0 among them), in the shape ``op_cases`` draws (linear: one weight, one input, a bias).
    """
    (name,) = _op_names([op])
    domain = DOMAINS[name]
    arity = OPS[name].arity or 3
    cases = []
    for arg in domain.args or (None,):
        positive, nonzero = set(domain.positive(arg)), set(domain.nonzero)
        choices = [[1.0] if i in positive else [1.0, -1.0] if i in nonzero or (i == 0 and domain.kinks)
                   else [0.0, 1.0, -1.0] for i in range(arity)]
        graph = RandomGraph(arity, [Node(name, tuple(range(arity)), arg)])
        cases += [(graph, point) for point in itertools.product(*choices)]
    return cases


@st.composite
def constant_cases(draw: Callable[[Any], Any], ops: Collection[str]) -> tuple[RandomGraph, tuple[float]]:
    """One op between a constant and one input, from those of add, sub, mul, div (a constant on either
    side), pow (``x ** c``) and rpow (``c ** x``) in ``ops``, at a point inside its domain."""
    choices: list[tuple[str, str]] = [(op, side) for op in ("add", "sub", "mul", "div") if op in ops
                                      for side in ("left", "right")]
    choices += [(op, "arg") for op in ("pow", "rpow") if op in ops]
    if not choices:
        raise ValueError(f"ops {sorted(ops)!r} have no op that takes a constant")
    op, side = draw(st.sampled_from(choices))
    domain = DOMAINS[op]
    if side == "arg":
        arg = draw(st.sampled_from(domain.args))
        x = draw(_coordinate(0 in domain.positive(arg), False))
        return RandomGraph(1, [Node(op, (0,), arg)]), (x,)
    c = Const(draw(_CONSTANTS))  # |c| >= 0.5: a fine denominator
    x = draw(_coordinate(False, op == "div" and side == "left"))
    return RandomGraph(1, [Node(op, (c, 0) if side == "left" else (0, c))]), (x,)

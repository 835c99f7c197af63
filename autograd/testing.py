"""Hypothesis strategies for property-testing gradients: random computation DAGs and points inside their
domain, plus ``assert_gradients_close``. Needs Hypothesis (``pip install 'chainrule[testing]'``);
``import autograd`` never imports this module.

A paste-ready test file::

    from hypothesis import given

    from autograd.testing import assert_gradients_close, graphs_and_points


    @given(graphs_and_points())
    def test_gradients_match_finite_differences(case):
        graph, point = case  # graph: a RandomGraph, callable on scalars; point: a tuple of floats
        assert_gradients_close(graph, *point)  # first and second derivatives

A failing example prints the graph as the Python function it computes, ready to paste into a test.

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

import dataclasses
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, Union

try:
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "autograd.testing needs Hypothesis: pip install 'chainrule[testing]' (or pip install hypothesis)"
    ) from e

from .gradcheck import gradcheck
from .ops import OPS, Op, weighted_sum
from .value import Value, linear

Interval = tuple[float, float]

INPUT_RANGE = 2.0  # points() draws every input from [-INPUT_RANGE, INPUT_RANGE]
BOX = 2.5  # bounds are computed over this larger box, so finite-difference steps stay inside it
MARGIN = 0.25  # a guarded operand is >= MARGIN (positive) or >= MARGIN in magnitude (non-zero)
BOUND = 100.0  # every node's value lies in [-BOUND, BOUND] on the box: keeps derivatives tame
KINK_MARGIN = 1e-3  # points() keeps kink-op arguments this far from the kink

# -- per-op domains --------------------------------------------------------------------------------


def _increasing(fn: Callable[..., float]) -> Callable[[tuple[Interval, ...], Any], Interval]:
    def image(bounds: tuple[Interval, ...], arg: Any) -> Interval:
        (lo, hi), extra = bounds[0], () if arg is None else (arg,)
        return fn(lo, *extra), fn(hi, *extra)

    return image


def _hull(*xs: float) -> Interval:
    return min(xs), max(xs)


def _mul(b: tuple[Interval, ...], arg: Any) -> Interval:
    (a0, a1), (b0, b1) = b
    return _hull(a0 * b0, a0 * b1, a1 * b0, a1 * b1)


def _div(b: tuple[Interval, ...], arg: Any) -> Interval:
    (a0, a1), (b0, b1) = b  # b0 > 0 or b1 < 0: the builder keeps denominators away from 0
    return _mul(((a0, a1), (1 / b1, 1 / b0)), None)


def _pow(b: tuple[Interval, ...], c: float) -> Interval:
    # x ** c is monotone on each side of 0, so the extremes are at the ends or at 0.
    (lo, hi) = b[0]
    ends = [lo**c, hi**c]
    if lo < 0 < hi and c > 0:
        ends.append(0.0)
    return _hull(*ends)


def _rpow(b: tuple[Interval, ...], c: float) -> Interval:
    (lo, hi) = b[0]  # c ** x is monotone in x for a positive base c
    return _hull(c**lo, c**hi)


def _vpow(b: tuple[Interval, ...], arg: Any) -> Interval:
    # x ** y with x > 0 is monotone in each operand, so the extremes are at the corners
    (a0, a1), (b0, b1) = b
    return _hull(a0**b0, a0**b1, a1**b0, a1**b1)


def _linear(b: tuple[Interval, ...], arg: Any) -> Interval:
    n = len(b) // 2
    lo, hi = b[2 * n] if len(b) % 2 else (0.0, 0.0)
    for w, x in zip(b[:n], b[n:2 * n]):
        p0, p1 = _mul((w, x), None)
        lo, hi = lo + p0, hi + p1
    return lo, hi


def _abs(b: tuple[Interval, ...], arg: Any) -> Interval:
    (lo, hi) = b[0]
    return (0.0 if lo < 0 < hi else min(abs(lo), abs(hi))), max(abs(lo), abs(hi))


def _natural(c: float | None) -> bool:
    return c is not None and c >= 0 and c == int(c)


class Domain(NamedTuple):
    """Where one op is defined and differentiable, and how the strategies keep its operands there."""

    note: str
    image: Callable[[tuple[Interval, ...], Any], Interval]  # bounds of the result from operand bounds
    positive: Callable[[float | None], tuple[int, ...]] = lambda arg: ()  # operands that must be > 0
    nonzero: tuple[int, ...] = ()  # operands that must be != 0
    kinks: tuple[float, ...] = ()  # values of operand 0 where the op has no derivative
    args: tuple[float, ...] = ()  # the constant argument drawn for the op (pow exponent, slope)


DOMAINS: dict[str, Domain] = {
    "add": Domain("all reals", lambda b, _: (b[0][0] + b[1][0], b[0][1] + b[1][1])),
    "sub": Domain("all reals", lambda b, _: (b[0][0] - b[1][1], b[0][1] - b[1][0])),
    "mul": Domain("all reals", _mul),
    "div": Domain("denominator != 0: kept >= MARGIN in magnitude", _div, nonzero=(1,)),
    "neg": Domain("all reals", lambda b, _: (-b[0][1], -b[0][0])),
    "pow": Domain(
        "x ** c: any x for a natural c, x > 0 otherwise (kept >= MARGIN)",
        _pow,
        positive=lambda c: () if _natural(c) else (0,),
        args=(2.0, 3.0, 1.0, 0.0, -1.0, -2.0, 0.5, 1.5, -0.5),
    ),
    "rpow": Domain("c ** x for a positive constant base c: all reals", _rpow, args=(2.0, 0.5, 3.0, 1.5)),
    "vpow": Domain("x ** y of two Values: x > 0 (kept >= MARGIN), any y", _vpow,
                   positive=lambda arg: (0,)),
    "abs": Domain("all reals; kink at 0", _abs, kinks=(0.0,)),
    "exp": Domain("all reals (results bounded by BOUND)", _increasing(math.exp)),
    "log": Domain("x > 0: kept >= MARGIN", _increasing(math.log), positive=lambda arg: (0,)),
    "sqrt": Domain("x > 0 (d sqrt is infinite at 0): kept >= MARGIN", _increasing(math.sqrt),
                   positive=lambda arg: (0,)),
    "tanh": Domain("all reals", _increasing(math.tanh)),
    "sigmoid": Domain("all reals", _increasing(lambda x: 1 / (1 + math.exp(-x)))),
    "relu": Domain("all reals; kink at 0", _increasing(lambda x: max(x, 0.0)), kinks=(0.0,)),
    "leaky_relu": Domain(
        "all reals; kink at 0", _increasing(lambda x, a: x if x > 0 else a * x), kinks=(0.0,),
        args=(0.01, 0.1, 0.5),
    ),
    "softplus": Domain("all reals", _increasing(lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))))),
    "sin": Domain("all reals", lambda b, _: (-1.0, 1.0)),
    "cos": Domain("all reals", lambda b, _: (-1.0, 1.0)),
    "linear": Domain("b + Σ wᵢ·xᵢ: all reals (operands w0..w(n-1), x0..x(n-1), b)", _linear),
}

# -- how a graph evaluates: one table per number type, keyed like the op table ---------------------

#: The engine, through Value's public operators and methods (never the op table).
VALUE_OPS: dict[str, Callable[..., Any]] = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y,
    "neg": lambda x: -x,
    "pow": lambda x, c: x**c,
    "rpow": lambda x, c: c**x,
    "vpow": lambda x, y: x**y,
    "abs": lambda x: abs(x),
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "sqrt": lambda x: x.sqrt(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "leaky_relu": lambda x, a: x.leaky_relu(a),
    "softplus": lambda x: x.softplus(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "linear": lambda *p: linear(p[: len(p) // 2], p[len(p) // 2: 2 * (len(p) // 2)],
                                p[-1] if len(p) % 2 else None),
}

#: Plain floats with the math module: an engine-free forward pass (used to find kinks).
FLOAT_OPS: dict[str, Callable[..., float]] = {
    **{name: VALUE_OPS[name] for name in ("add", "sub", "mul", "div", "neg", "pow", "rpow", "vpow", "abs")},
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "tanh": math.tanh,
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x)),
    "relu": lambda x: x if x > 0 else 0.0,
    "leaky_relu": lambda x, a: x if x > 0 else a * x,
    "softplus": lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))),
    "sin": math.sin,
    "cos": math.cos,
    "linear": lambda *p: weighted_sum(p[: len(p) // 2], p[len(p) // 2: 2 * (len(p) // 2)],
                                      p[-1] if len(p) % 2 else None),
}


def _sum_of_products(*p: Any) -> Any:
    n = len(p) // 2
    total = p[2 * n] if len(p) % 2 else 0
    for w, x in zip(p[:n], p[n:2 * n]):
        total = total + w * x
    return total


def mpmath_ops() -> dict[str, Callable[..., Any]]:
    """The same ops on mpmath numbers, at whatever precision ``mpmath.mp`` is set to (needs mpmath)."""
    try:
        import mpmath
    except ImportError as e:
        raise ImportError("mpmath_ops needs mpmath: pip install mpmath") from e
    mp = mpmath.mp
    return {
        **{name: VALUE_OPS[name] for name in ("add", "sub", "mul", "div", "neg", "abs")},
        # An integral exponent stays an int, so a negative base gives a real result.
        "pow": lambda x, c: x ** (int(c) if c == int(c) else mp.mpf(c)),
        "rpow": lambda x, c: mp.mpf(c) ** x,
        "vpow": lambda x, y: x**y,
        "linear": _sum_of_products,
        "exp": mp.exp,
        "log": mp.log,
        "sqrt": mp.sqrt,
        "tanh": mp.tanh,
        "sigmoid": lambda x: 1 / (1 + mp.exp(-x)),
        "relu": lambda x: x if x > 0 else mp.zero,
        "leaky_relu": lambda x, a: x if x > 0 else mp.mpf(a) * x,
        "softplus": lambda x: mp.log1p(mp.exp(x)),
        "sin": mp.sin,
        "cos": mp.cos,
    }


# How each op prints, as Value code: a failing example reads as a function to paste.
_SOURCE: dict[str, str] = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}", "neg": "-{0}",
    "pow": "{0} ** {arg}", "rpow": "{arg} ** {0}", "vpow": "{0} ** {1}", "abs": "abs({0})",
    "leaky_relu": "{0}.leaky_relu({arg})", "linear": "linear([{weights}], [{inputs}], {bias})",
    **{name: "{0}." + name + "()" for name in
       ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "softplus", "sin", "cos")},
}

# -- the graph -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    """A constant operand: a plain number in the graph (the engine makes it a ``Constant``)."""

    value: float


Operand = Union[int, Const]  # an int is a slot: inputs first (x0, x1, ...), then nodes (v0, v1, ...)


class Node(NamedTuple):
    op: str  # a key of the op table
    operands: tuple[Operand, ...]
    arg: float | None = None  # the constant argument: pow's exponent, leaky_relu's slope


class RandomGraph:
    """A computation DAG over ``arity`` scalar inputs; calling it on numbers builds it as Values.

    >>> g = RandomGraph(2, [Node("mul", (0, 1)), Node("add", (2, Const(1.0))), Node("sin", (3,))])
    >>> g
    def f(x0, x1):
        v0 = x0 * x1
        v1 = v0 + 1.0
        return v1.sin()
    >>> g(0.5, 2.0)
    Value(data=0.9092974268256817, grad=0.0)
    """

    def __init__(self, arity: int, nodes: Sequence[Node]) -> None:
        if arity < 1 or not nodes:
            raise ValueError("a RandomGraph needs at least one input and one node")
        for j, node in enumerate(nodes):
            for o in node.operands:
                if isinstance(o, int) and not 0 <= o < arity + j:
                    raise ValueError(f"node {j} ({node}) uses slot {o}, which is not computed before it")
        self.arity = arity
        self.nodes = tuple(nodes)

    def __call__(self, *xs: Any) -> Value:
        """Build the graph on Values (numbers become fresh leaves) and return its output node."""
        leaves = [x if isinstance(x, Value) else Value(float(x)) for x in xs]
        out = self.evaluate(VALUE_OPS, *leaves)
        assert isinstance(out, Value)
        return out

    def trace(self, ops: Mapping[str, Callable[..., Any]], *xs: Any) -> list[Any]:
        """Every slot's value (the inputs, then each node's) computed with the functions in ``ops``."""
        if len(xs) != self.arity:
            raise TypeError(f"this graph takes {self.arity} inputs, got {len(xs)}")
        slots = list(xs)
        for node in self.nodes:
            operands = [slots[o] if isinstance(o, int) else o.value for o in node.operands]
            extra = () if node.arg is None else (node.arg,)
            slots.append(ops[node.op](*operands, *extra))
        return slots

    def evaluate(self, ops: Mapping[str, Callable[..., Any]], *xs: Any) -> Any:
        """The output computed with the functions in ``ops`` (e.g. ``mpmath_ops()`` or torch's)."""
        return self.trace(ops, *xs)[-1]

    def kink_distance(self, *xs: float) -> float:
        """How close any relu/leaky_relu/abs argument is to its kink at this point (inf if none)."""
        slots = self.trace(FLOAT_OPS, *(float(x) for x in xs))
        distance = math.inf
        for node in self.nodes:
            for kink in DOMAINS[node.op].kinks:
                o = node.operands[0]
                value = slots[o] if isinstance(o, int) else o.value
                distance = min(distance, abs(value - kink))
        return distance

    def op_names(self) -> set[str]:
        return {node.op for node in self.nodes}

    def reordered(self, order: Sequence[int]) -> RandomGraph:
        """The same function with its nodes built in another order (a topological order of the nodes)."""
        if sorted(order) != list(range(len(self.nodes))):
            raise ValueError(f"order must be a permutation of range({len(self.nodes)}), got {order!r}")
        if order[-1] != len(self.nodes) - 1:
            raise ValueError("the output node must stay last")
        new_slot = list(range(self.arity)) + [0] * len(self.nodes)
        for position, j in enumerate(order):
            new_slot[self.arity + j] = self.arity + position
        nodes = [
            self.nodes[j]._replace(
                operands=tuple(new_slot[o] if isinstance(o, int) else o for o in self.nodes[j].operands)
            )
            for j in order
        ]
        return RandomGraph(self.arity, nodes)  # raises if the order is not topological

    def __repr__(self) -> str:
        names = [f"x{i}" for i in range(self.arity)] + [f"v{j}" for j in range(len(self.nodes))]
        lines = [f"def f({', '.join(names[: self.arity])}):"]
        if "linear" in self.op_names():
            lines.append("    from autograd import linear")
        for j, node in enumerate(self.nodes):
            shown = [names[o] if isinstance(o, int) else repr(o.value) for o in node.operands]
            shown = [f"({s})" if s.startswith("-") else s for s in shown]
            n = len(shown) // 2  # linear: n weights, n inputs, the bias
            expr = _SOURCE[node.op].format(*shown, arg=node.arg, weights=", ".join(shown[:n]),
                                           inputs=", ".join(shown[n:2 * n]), bias=shown[-1])
            last = j == len(self.nodes) - 1
            lines.append(f"    return {expr}" if last else f"    {names[self.arity + j]} = {expr}")
        return "\n".join(lines)


# -- strategies ------------------------------------------------------------------------------------


class _Builder:
    """Grows a graph node by node, bounding every node and guarding operands as the module docstring
    describes."""

    def __init__(self, draw: Callable[[Any], Any], arity: int) -> None:
        self.draw = draw
        self.arity = arity
        self.nodes: list[Node] = []
        self.bounds: list[Interval] = [(-BOX, BOX)] * arity
        self.used: list[bool] = [False] * arity

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
        return self.push("tanh", (o,))

    def _guard(self, o: Operand, nonzero: bool) -> Operand:
        if not self._needs_guard(o, nonzero):
            return o
        if isinstance(o, Const):  # a negative constant base (vpow's x): its magnitude (>= 0.5) will do
            return Const(abs(o.value))
        c = round(self.draw(st.floats(MARGIN, 2.0)), 3)
        return self.push("add", (self.push("mul", (o, o)), Const(c)))


# Constants are rounded to 3 decimals so printed graphs stay readable.
_CONSTANTS = st.builds(lambda m, s: round(m * s, 3), st.floats(0.5, 3.0), st.sampled_from([1.0, -1.0]))


@st.composite
def graphs(
    draw: Callable[[Any], Any],
    max_inputs: int = 3,
    max_ops: int = 8,
    ops: Sequence[str] | None = None,
) -> RandomGraph:
    """Random computation DAGs: 1..max_inputs inputs, 1..max_ops ops drawn from ``ops`` (default: every
    op of the op table), shared subexpressions, constants on either side of binary ops. Guard and squash
    nodes (see the module docstring) come on top of the ops drawn. Every node left unused is added into
    the output, so every op drawn affects the result."""
    names = list(DOMAINS) if ops is None else list(ops)
    unknown = [name for name in names if name not in DOMAINS]
    if unknown or not names:
        raise ValueError(f"ops must be a non-empty list of op names from {list(DOMAINS)}, got {ops!r}")
    if max_inputs < 1 or max_ops < 1:
        raise ValueError("max_inputs and max_ops must be >= 1")
    arity = draw(st.integers(1, max_inputs))
    b = _Builder(draw, arity)
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
            side = draw(st.sampled_from(["none", "left", "right"]))  # which side is a constant
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
) -> tuple[RandomGraph, tuple[float, ...]]:
    """A graph from ``graphs(...)`` and a point from ``points(graph, avoid_kinks)``."""
    graph = draw(graphs(max_inputs, max_ops, ops))
    return graph, draw(points(graph, avoid_kinks))


def assert_gradients_close(
    f: Callable[..., Any], *args: float, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4
) -> None:
    """Assert that f's first and second derivatives at ``args`` match finite differences.

    A shorthand for ``gradcheck(f, *args, order=2, ...)``; raises ``GradcheckError`` (an AssertionError).

    >>> assert_gradients_close(lambda x, y: (x * y).tanh(), 0.3, -1.2)
    """
    gradcheck(f, *args, order=2, eps=eps, atol=atol, rtol=rtol)


@contextmanager
def planted_rule(name: str, local: Callable[..., tuple[Any, ...]]) -> Iterator[Op]:
    """Inside the block, op ``name`` uses the local-derivative rule ``local``: a deliberately wrong rule
    shows that a test catches it. Yields the original Op, whose ``.derivatives`` a wrong rule can wrap.

    >>> from autograd import grad
    >>> with planted_rule("sin", lambda out, x: (out,)):  # wrong: d sin = sin
    ...     grad(lambda x: x.sin())(0.0)
    0.0
    >>> grad(lambda x: x.sin())(0.0)
    1.0
    """
    if name not in OPS:
        raise ValueError(f"no op named {name!r}; choose one of {list(OPS)}")
    op = OPS[name]
    original = dataclasses.replace(op)
    # NOTE: the Op is changed in place, not replaced in the table: value.py's operators hold their Op in
    # a closure, so a new table entry would leave first-order gradients on the old rule.
    object.__setattr__(op, "derivatives", local)  # Op is frozen against accidents, not against this
    try:
        yield original
    finally:
        object.__setattr__(op, "derivatives", original.derivatives)


# -- Hypothesis profiles ---------------------------------------------------------------------------

#: ci: derandomized and without deadlines (2 busy cores), sized so the whole suite takes a few minutes;
#: dev: Hypothesis' defaults without deadlines; thorough: at least 100,000 examples per test, by hand.
PROFILES: dict[str, dict[str, Any]] = {
    "ci": dict(max_examples=100, derandomize=True, deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow]),
    "dev": dict(max_examples=100, deadline=None),
    "thorough": dict(max_examples=100_000, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
}


def register_profiles() -> None:
    """Register the ``ci``, ``dev`` and ``thorough`` profiles with Hypothesis."""
    for name, options in PROFILES.items():
        settings.register_profile(name, **options)


def load_profile(name: str | None = None) -> str:
    """Register the profiles and load one: ``name``, else ``$HYPOTHESIS_PROFILE``, else ``ci`` when
    ``$CI`` is set, else ``dev``. Returns the name loaded. Call it from a ``conftest.py``."""
    register_profiles()
    chosen = name or os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    if chosen not in PROFILES:
        raise ValueError(f"unknown Hypothesis profile {chosen!r}; choose one of {sorted(PROFILES)}")
    settings.load_profile(chosen)
    return chosen


__all__ = [
    "BOUND",
    "BOX",
    "DOMAINS",
    "FLOAT_OPS",
    "INPUT_RANGE",
    "KINK_MARGIN",
    "MARGIN",
    "PROFILES",
    "VALUE_OPS",
    "Const",
    "Domain",
    "Node",
    "RandomGraph",
    "assert_gradients_close",
    "graphs",
    "graphs_and_points",
    "load_profile",
    "mpmath_ops",
    "planted_rule",
    "points",
    "register_profiles",
]

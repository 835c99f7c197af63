"""RandomGraph: a computation DAG over scalar inputs that evaluates with any table of op functions (Values,
floats, mpmath, another engine) and prints as the Python code it computes."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Union

from ..ops import OPS
from ..value import Value, linear
from .domains import DOMAINS

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
    "linear": OPS["linear"].forward,  # the weighted sum of (w..., x..., b)
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


def value_source(op: str, operands: Sequence[str], arg: float | None) -> str:
    """One op applied to ``operands`` (names or numbers), written as code on Values.

    >>> value_source("mul", ["x0", "2.0"], None), value_source("pow", ["v1"], 3.0)
    ('x0 * 2.0', 'v1 ** 3.0')
    """
    n = len(operands) // 2  # linear: n weights, n inputs, the bias
    return _SOURCE[op].format(*operands, arg=arg, weights=", ".join(operands[:n]),
                              inputs=", ".join(operands[n:2 * n]), bias=operands[-1])


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

    def used_inputs(self) -> list[int]:
        """The inputs some node reads (an input can be left unused: its grad is 0 whatever the point)."""
        read = {o for node in self.nodes for o in node.operands if isinstance(o, int)}
        return [i for i in range(self.arity) if i in read]

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

    def expressions(self, render: Callable[[str, Sequence[str], float | None], str] = value_source
                    ) -> list[str]:
        """Each node as code over the names x0, x1, ... (inputs) and v0, v1, ... (nodes): Value code by
        default, or what ``render(op, operands, arg)`` writes (another engine's API)."""
        names = [f"x{i}" for i in range(self.arity)] + [f"v{j}" for j in range(len(self.nodes))]
        lines = []
        for node in self.nodes:
            shown = [names[o] if isinstance(o, int) else repr(o.value) for o in node.operands]
            lines.append(render(node.op, [f"({s})" if s.startswith("-") else s for s in shown], node.arg))
        return lines

    def __repr__(self) -> str:
        lines = [f"def f({', '.join(f'x{i}' for i in range(self.arity))}):"]
        if "linear" in self.op_names():
            lines.append("    from autograd import linear")
        expressions = self.expressions()
        for j, expr in enumerate(expressions[:-1]):
            lines.append(f"    v{j} = {expr}")
        lines.append(f"    return {expressions[-1]}")
        return "\n".join(lines)

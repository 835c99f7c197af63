"""Small engines with micrograd's API for testing the conformance suite: one right engine, and subclasses
that each plant one bug of the kinds learners report (a wrong local derivative, a wrong reflected operator,
a lost or doubled contribution of a reused node, a recursive walk, a compounding second backward).

Written here, independently of chainrule: each op stores its parents and local derivatives; backward
walks the graph with an explicit stack and adds fresh adjoints to ``.grad``.
"""

from __future__ import annotations

import math
from typing import Any


class Value:
    """The right engine: + - * / **number, unary -, numbers on either side, tanh exp log relu sigmoid."""

    def __init__(self, data: float, parents: tuple[Value, ...] = (), local: tuple[float, ...] = ()) -> None:
        self.data = float(data)
        self.grad = 0.0
        self._parents = parents
        self._local = local

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data={self.data}, grad={self.grad})"

    def _lift(self, x: Any) -> Value:
        return x if isinstance(x, Value) else type(self)(x)

    def _make(self, data: float, parents: tuple[Value, ...], local: tuple[float, ...]) -> Value:
        return type(self)(data, parents, local)

    def __add__(self, other: Any) -> Value:
        other = self._lift(other)
        return self._make(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other: Any) -> Value:
        other = self._lift(other)
        return self._make(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, c: Any) -> Value:
        assert isinstance(c, (int, float)), "only number exponents"
        # d x^c = c x^(c-1), and 0 for c = 0 (x^0 is the constant 1, also at x = 0)
        return self._make(self.data**c, (self,), (c * self.data ** (c - 1) if c != 0 else 0.0,))

    def __truediv__(self, other: Any) -> Value:
        other = self._lift(other)
        return self._make(self.data / other.data, (self, other), (1 / other.data, -self.data / other.data**2))

    def __radd__(self, other: Any) -> Value:
        return self._lift(other) + self

    def __rmul__(self, other: Any) -> Value:
        return self._lift(other) * self

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other: Any) -> Value:
        return self + (-self._lift(other))

    def __rsub__(self, other: Any) -> Value:
        return self._lift(other) - self

    def __rtruediv__(self, other: Any) -> Value:
        return self._lift(other) / self

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return self._make(t, (self,), (1 - t * t,))

    def exp(self) -> Value:
        e = math.exp(self.data)
        return self._make(e, (self,), (e,))

    def log(self) -> Value:
        return self._make(math.log(self.data), (self,), (1 / self.data,))

    def relu(self) -> Value:
        return self._make(max(self.data, 0.0), (self,), (1.0 if self.data > 0 else 0.0,))

    def sigmoid(self) -> Value:
        s = 1 / (1 + math.exp(-self.data))
        return self._make(s, (self,), (s * (1 - s),))

    def _order(self) -> list[Value]:
        """Every node self depends on, parents first (an explicit stack: no recursion)."""
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._parents)
        return order

    def _sweep(self, order: list[Value]) -> dict[int, float]:
        adjoint = {id(self): 1.0}
        for node in reversed(order):
            g = adjoint.get(id(node), 0.0)
            for parent, local in zip(node._parents, node._local):
                adjoint[id(parent)] = adjoint.get(id(parent), 0.0) + local * g
        return adjoint

    def backward(self) -> None:
        order = self._order()
        adjoint = self._sweep(order)
        for node in order:
            node.grad += adjoint.get(id(node), 0.0)


# -- one planted bug each --------------------------------------------------------------------------


class WrongTanh(Value):
    """d tanh = 1 - tanh (should be 1 - tanh²)."""

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return self._make(t, (self,), (1 - t,))


class WrongPow(Value):
    """d x^c = x^(c-1): the factor c forgotten."""

    def __pow__(self, c: Any) -> Value:
        return self._make(self.data**c, (self,), (self.data ** (c - 1) if c != 0 else 0.0,))


class WrongDiv(Value):
    """d(x/y)/dy = x/y² (the sign lost)."""

    def __truediv__(self, other: Any) -> Value:
        other = self._lift(other)
        return self._make(self.data / other.data, (self, other), (1 / other.data, self.data / other.data**2))


class SubtleSigmoid(Value):
    """d sigmoid = s (1 - s) for x >= 0, but s for x < 0."""

    def sigmoid(self) -> Value:
        s = 1 / (1 + math.exp(-self.data))
        return self._make(s, (self,), (s * (1 - s) if self.data >= 0 else s,))


class WrongRsub(Value):
    """1 - a computed as a - 1 (the reflected operator's operands swapped)."""

    def __rsub__(self, other: Any) -> Value:
        return self - other


class WrongRtruediv(Value):
    """2 / a computed as a / 2."""

    def __rtruediv__(self, other: Any) -> Value:
        return self / other


class SetOfParents(Value):
    """Parents kept in a set, as micrograd's _prev: a + a has one parent, so a gets one contribution."""

    def _make(self, data: float, parents: tuple[Value, ...], local: tuple[float, ...]) -> Value:
        return type(self)(data, tuple(dict.fromkeys(parents)), local)


class OverwritesGrad(Value):
    """adjoint = local * g instead of += : of several contributions to a node only the last one stays."""

    def _sweep(self, order: list[Value]) -> dict[int, float]:
        adjoint = {id(self): 1.0}
        for node in reversed(order):
            g = adjoint.get(id(node), 0.0)
            for parent, local in zip(node._parents, node._local):
                adjoint[id(parent)] = local * g
        return adjoint


class NoVisitedSet(Value):
    """A topological order without a visited set: a node reached twice is swept twice."""

    def _order(self) -> list[Value]:
        order: list[Value] = []
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            else:
                stack.append((node, True))
                stack.extend((p, False) for p in node._parents)
        return order


class RecursiveOrder(Value):
    """A recursive topological sort, as micrograd's: RecursionError past ~1,000 deep."""

    def _order(self) -> list[Value]:
        order: list[Value] = []
        seen: set[int] = set()

        def visit(node: Value) -> None:
            if id(node) not in seen:
                seen.add(id(node))
                for p in node._parents:
                    visit(p)
                order.append(node)

        visit(self)
        return order


class Compounding(Value):
    """micrograd's backward: each node's .grad is its adjoint, never reset, so a second backward()
    compounds through the intermediate nodes."""

    def backward(self) -> None:
        order = self._order()
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in zip(node._parents, node._local):
                parent.grad += local * node.grad


class Resetting(Value):
    """Not a bug: backward() sets every grad of the graph afresh, so a second one gives the same grads."""

    def backward(self) -> None:
        order = self._order()
        adjoint = self._sweep(order)
        for node in order:
            node.grad = adjoint.get(id(node), 0.0)


class WrongOnce(Value):
    """tanh's rule wrong on the first call only (set ``calls = 0`` to rearm): a failure that does not
    happen again when the same case runs again."""

    calls = 0

    def tanh(self) -> Value:
        WrongOnce.calls += 1
        t = math.tanh(self.data)
        return self._make(t, (self,), (1 - t if WrongOnce.calls == 1 else 1 - t * t,))

NOT_AN_ENGINE = 42

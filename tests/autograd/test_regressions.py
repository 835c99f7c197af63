"""Regression tests for micrograd's known bugs, each written so that the bug would fail it: recursion on
deep graphs, compounding repeated backward, unordered or deduplicated parents, and a one-neuron Layer
returning a bare Value inside a deeper net."""

from __future__ import annotations

import math
import sys

import pytest

import nn
from autograd import Value, gradcheck, gradients, toposort


def test_backward_through_a_graph_far_deeper_than_the_recursion_limit() -> None:
    # micrograd's recursive topological sort raises RecursionError past ~1,000 nodes.
    limit = sys.getrecursionlimit()
    depth = 20 * limit
    x = Value(0.5, label="x")
    y = x
    for _ in range(depth):
        y = y * 1.0001 + 0.0  # two nodes per step; d y/d x = 1.0001 ** depth
    y.backward()
    assert sys.getrecursionlimit() == limit  # nothing raised the limit to get through
    assert math.isclose(x.grad, 1.0001**depth, rel_tol=1e-9)
    assert len(toposort(y)) == 2 * depth + 1
    (dx,) = gradients(y, [x], create_graph=True)  # the recorded sweep is iterative too
    assert math.isclose(dx.data, 1.0001**depth, rel_tol=1e-9)


def test_repeated_backward_adds_the_same_amount_instead_of_compounding() -> None:
    # micrograd reuses the intermediate nodes' accumulated .grad on a second backward(), so leaf grads
    # grow faster than linearly in the number of calls; here each call must add exactly one gradient.
    x = Value(1.5, label="x")
    a = x * x  # intermediate nodes with fan-out, where compounding shows
    b = a * x + a
    y = (b * a).tanh() + b
    (expected,) = gradients(y, [x])
    for k in range(1, 5):
        y.backward()
        assert x.grad == k * expected
    assert a.grad != 0.0 and b.grad != 0.0  # intermediate grads are filled in, as documented


@pytest.mark.parametrize(
    "build, parents",
    [
        (lambda x, y: x * x, "xx"),
        (lambda x, y: x + x, "xx"),
        (lambda x, y: x - y, "xy"),
        (lambda x, y: y - x, "yx"),
        (lambda x, y: x / y, "xy"),
        (lambda x, y: y / x, "yx"),
    ],
)
def test_parents_keep_operand_order_and_duplicates(build, parents: str) -> None:
    # micrograd stores children in a set: x * x has one child and a - b forgets which side is which.
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    out = build(x, y)
    assert tuple(p.label for p in out.parents) == tuple(parents)


def test_duplicated_and_ordered_parents_give_the_right_gradients() -> None:
    x, y = Value(2.0), Value(3.0)
    assert gradients(x * x * x, [x]) == (12.0,)  # 3 x^2: every duplicate edge counts
    assert gradients(x + x + x, [x]) == (3.0,)
    assert gradients(x / y, [x, y]) == (1 / 3, -2 / 9)
    assert gradients(y / x, [x, y]) == (-3 / 4, 1 / 2)
    assert gradients(x - y, [x, y]) == (1.0, -1.0)
    assert gradcheck(lambda a, b: (a / b - b / a) * (a - b), 2.0, 3.0, order=2)


def test_toposort_order_is_deterministic() -> None:
    def build() -> list[str]:
        x, y = Value(1.0, label="x"), Value(2.0, label="y")
        a = x * y
        a.label = "a"
        b = y - x
        b.label = "b"
        c = a / b + b * a
        return [n.label or n.op for n in toposort(c)]

    orders = {tuple(build()) for _ in range(20)}
    assert orders == {("x", "y", "a", "b", "div", "mul", "add")}


def test_a_one_neuron_layer_returns_a_list() -> None:
    out = nn.Layer(3, 1, activation="tanh", seed=0)([1.0, -2.0, 0.5])
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], Value)


@pytest.mark.parametrize("nouts", [[1, 3, 1], [4, 1, 2], [1, 1, 1]])
def test_a_one_neuron_hidden_layer_inside_a_deeper_net(nouts: list[int]) -> None:
    # micrograd's Layer returns a bare Value for one neuron, which the next layer cannot iterate over.
    model = nn.MLP(2, nouts, activation="tanh", seed=0)
    out = model([0.3, -0.7])
    outputs = out if isinstance(out, list) else [out]
    assert len(outputs) == nouts[-1]

    def f(x0: Value, x1: Value) -> Value:
        y = model([x0, x1])
        return sum(y) if isinstance(y, list) else y  # type: ignore[return-value]

    assert gradcheck(f, 0.3, -0.7, order=2)
    loss = f(Value(0.3), Value(-0.7))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(math.isfinite(g) for g in grads)
    narrow = next(i for i, n in enumerate(nouts) if n == 1)  # the one-neuron layer gets gradient
    assert any(p.grad != 0.0 for p in model.layers[narrow].parameters())

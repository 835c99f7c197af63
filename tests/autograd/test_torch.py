"""PyTorch in float64 as an oracle: first and second derivatives of every op and of random DAGs, to 1e-9
relative. Skips, saying why, where torch is not installed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograd import OPS, Value, gradients
from autograd.testing import BOUND, Node, RandomGraph, graphs_and_points

torch = pytest.importorskip(
    "torch",
    reason="PyTorch is not installed: the float64 oracle tests need the CPU build (pip install torch)",
)
F = torch.nn.functional

# Same float64 arithmetic on both sides, differing only in rounding order and libm: 1e-9 relative,
# and 1e-12 absolute for results that cancel to near 0.
RTOL, ATOL = 1e-9, 1e-12

TORCH_OPS: dict[str, Callable[..., Any]] = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y,
    "neg": lambda x: -x,
    "pow": lambda x, c: x**c,
    "rpow": lambda x, c: torch.pow(c, x),
    # NOTE: not torch.pow: its double backward drops the x^y log x term of d2/dxdy where y = 0 (torch masks
    # the y == 0 case), so d2/dx2 of (t^2 + 0.5)^(t^2), t = tanh x, at 0 came out -ln 2 instead of -2 ln 2
    # (found by this test). exp(y log x) is the same function for x > 0, the only bases vpow is drawn at.
    "vpow": lambda x, y: torch.exp(y * torch.log(torch.as_tensor(x, dtype=torch.float64))),
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "leaky_relu": lambda x, a: F.leaky_relu(x, a),
    # NOTE: torch's softplus returns x itself above `threshold` (default 20), whose slope 1 is 2e-9 off
    # the true sigmoid(20); graph values stay within BOUND, so a threshold above it keeps the true curve.
    "softplus": lambda x: F.softplus(x, threshold=2 * BOUND),
    "sin": torch.sin,
    "cos": torch.cos,
    "linear": lambda *p: _linear(*p),
}


def _linear(*p: Any) -> Any:
    """linear's parents (w..., x..., b) through torch.nn.functional.linear (numbers become tensors)."""
    t = [torch.as_tensor(v, dtype=torch.float64) for v in p]
    n = len(t) // 2
    return F.linear(torch.stack(t[n:2 * n]), torch.stack(t[:n])[None], t[2 * n][None])[0]


def torch_derivatives(graph: RandomGraph, point: tuple[float, ...]) -> dict[tuple[int, ...], float]:
    xs = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    y = graph.evaluate(TORCH_OPS, *xs)
    out: dict[tuple[int, ...], float] = {}
    first = torch.autograd.grad(y, xs, create_graph=True, allow_unused=True)
    for i, g in enumerate(first):
        out[(i,)] = 0.0 if g is None else g.item()
        if g is None or not g.requires_grad:  # unused input, or a derivative that is constant
            second: tuple[Any, ...] = (None,) * len(xs)
        else:
            second = torch.autograd.grad(g, xs, allow_unused=True, retain_graph=True)
        for j, h in enumerate(second):
            out[(i, j)] = 0.0 if h is None else h.item()
    return out


def engine_derivatives(graph: RandomGraph, point: tuple[float, ...]) -> dict[tuple[int, ...], float]:
    xs = [Value(p) for p in point]
    y = graph(*xs)
    out: dict[tuple[int, ...], float] = {(i,): g for i, g in enumerate(gradients(y, xs))}
    for i, g in enumerate(gradients(y, xs, create_graph=True)):
        for j, h in enumerate(gradients(g, xs)):
            out[(i, j)] = h
    return out


def assert_matches_torch(graph: RandomGraph, point: tuple[float, ...]) -> None:
    engine = engine_derivatives(graph, point)
    expected = torch_derivatives(graph, point)
    bad = [
        f"d/dx{index}: engine {engine[index]!r}, torch {expected[index]!r}"
        for index in expected
        if not abs(engine[index] - expected[index]) <= RTOL * abs(expected[index]) + ATOL
    ]
    assert not bad, f"{graph}\nat {point}:\n" + "\n".join(bad)


def test_the_torch_table_covers_the_op_table() -> None:
    assert set(TORCH_OPS) == set(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_every_op_matches_torch(name: str, data: st.DataObject) -> None:
    graph, point = data.draw(graphs_and_points(max_inputs=2, max_ops=3, ops=[name]), label="case")
    assert_matches_torch(graph, point)


@given(graphs_and_points())
def test_random_graphs_match_torch(case: tuple[RandomGraph, tuple[float, ...]]) -> None:
    assert_matches_torch(*case)


@given(graphs_and_points(ops=["relu", "leaky_relu", "abs", "add", "sub", "mul"], avoid_kinks=False))
def test_kinks_follow_torchs_conventions(case: tuple[RandomGraph, tuple[float, ...]]) -> None:
    # At a kink finite differences mean nothing, but torch fixes a convention (relu'(0) = 0,
    # abs'(0) = 0, leaky_relu'(0) = slope) and the engine follows it.
    assert_matches_torch(*case)


@pytest.mark.parametrize(
    "name, arg, expected",
    [("relu", None, 0.0), ("abs", None, 0.0), ("leaky_relu", 0.1, 0.1)],
)
def test_derivative_at_the_kink_is_torchs(name: str, arg: float | None, expected: float) -> None:
    graph = RandomGraph(1, [Node(name, (0,), arg)])
    assert engine_derivatives(graph, (0.0,))[(0,)] == expected == torch_derivatives(graph, (0.0,))[(0,)]

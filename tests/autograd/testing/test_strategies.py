"""The strategies beside the conformance suite: strict graphs built only from an engine's ops, one op at a
point inside its domain (drawn, or the simple points 0 and ±1), one op with a constant."""

from __future__ import annotations

import math

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from autograd import OPS, Value
from autograd.testing import (
    BOUND,
    DOMAINS,
    FLOAT_OPS,
    INPUT_RANGE,
    KINK_MARGIN,
    MARGIN,
    Const,
    Node,
    RandomGraph,
    constant_cases,
    graphs,
    graphs_and_points,
    op_cases,
    op_simple_cases,
    value_source,
)

MICROGRAD_OPS = ["add", "sub", "mul", "div", "neg", "pow", "relu"]


def assert_inside_every_domain(graph: RandomGraph, point: tuple[float, ...]) -> None:
    """Every node's operands inside its op's domain, every value within BOUND, and the engine builds it."""
    slots = graph.trace(FLOAT_OPS, *point)
    assert all(abs(v) <= BOUND for v in slots), slots
    for node in graph.nodes:
        operands = [slots[o] if isinstance(o, int) else o.value for o in node.operands]
        domain = DOMAINS[node.op]
        for i in domain.positive(node.arg):
            assert operands[i] >= MARGIN * (1 - 1e-12), (node, operands)
        for i in domain.nonzero:
            assert abs(operands[i]) >= MARGIN * (1 - 1e-12), (node, operands)
        for kink in domain.kinks:
            assert abs(operands[0] - kink) >= KINK_MARGIN * (1 - 1e-12), (node, operands)
    assert math.isclose(graph(*point).data, slots[-1], rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("ops", [MICROGRAD_OPS, ["add", "mul"], ["add", "mul", "exp", "log"],
                                 ["add", "mul", "vpow"], ["add", "mul", "vpow", "pow", "rpow", "sqrt"]])
@settings(max_examples=60)
@given(data=st.data())
def test_strict_graphs_use_only_the_ops_given(ops: list[str], data: st.DataObject) -> None:
    graph, point = data.draw(graphs_and_points(ops=ops, strict=True))
    assert graph.op_names() <= set(ops), graph  # guards, squashes and sums included: no tanh
    assert_inside_every_domain(graph, point)


def test_strict_graphs_squash_by_a_constant_without_tanh() -> None:
    # exp of exp overflows BOUND unless the operand is squashed: by a multiplication by a constant here
    graph = find(graphs(ops=["add", "mul", "exp"], strict=True),
                 lambda g: sum(n.op == "exp" for n in g.nodes) >= 3,
                 settings=settings(database=None, derandomize=True, max_examples=2000))
    squashes = [n for n in graph.nodes if n.op == "mul" and isinstance(n.operands[1], Const)
                and 0 < n.operands[1].value < 1]
    assert squashes, graph


def test_strict_graphs_need_add_and_mul() -> None:
    with pytest.raises(ValueError, match="add and mul"):
        find(graphs(ops=["add", "tanh"], strict=True), lambda g: True)


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=40)
@given(data=st.data())
def test_op_cases_are_one_op_on_fresh_inputs_inside_its_domain(name: str, data: st.DataObject) -> None:
    graph, point = data.draw(op_cases(name))
    (node,) = graph.nodes
    assert node.op == name and node.operands == tuple(range(graph.arity))
    assert all(-INPUT_RANGE <= x <= INPUT_RANGE for x in point)
    assert_inside_every_domain(graph, point)


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_simple_cases_are_zero_and_ones_inside_the_domain(name: str) -> None:
    cases = op_simple_cases(name)
    assert cases
    for graph, point in cases:
        assert set(point) <= {0.0, 1.0, -1.0}
        assert_inside_every_domain(graph, point)
    args = {graph.nodes[0].arg for graph, _ in cases}
    assert args == (set(DOMAINS[name].args) or {None})


def test_op_simple_cases_include_the_power_zero_at_zero() -> None:
    # d(x ** 0)/dx at 0 is 0 (x ** 0 is the constant 1); a rule c * x ** (c - 1) divides by zero there
    cases = {(g.nodes[0].arg, p) for g, p in op_simple_cases("pow")}
    assert (0.0, (0.0,)) in cases
    assert (2.0, (-1.0,)) in cases
    assert all(p == (1.0,) for arg, p in cases if arg in (-1.0, 0.5))  # must be positive: 1 only
    assert {p for _, p in op_simple_cases("relu")} == {(1.0,), (-1.0,)}  # not at the kink
    assert {p[1] for _, p in op_simple_cases("div")} == {1.0, -1.0}  # never a zero denominator


@settings(max_examples=100)
@given(constant_cases(["add", "sub", "mul", "div", "pow", "rpow"]))
def test_constant_cases_put_one_number_beside_one_input(case: tuple[RandomGraph, tuple[float]]) -> None:
    graph, point = case
    (node,) = graph.nodes
    constants = [o for o in node.operands if isinstance(o, Const)]
    assert graph.arity == 1 and (len(constants) == 1 or node.op in ("pow", "rpow"))
    assert_inside_every_domain(graph, point)


def test_constant_cases_draw_only_the_ops_given() -> None:
    for ops in (["mul"], ["pow"], ["sub", "rpow"]):
        found = {find(constant_cases(ops), lambda c, op=op: c[0].nodes[0].op == op,
                      settings=settings(database=None, derandomize=True))[0].nodes[0].op for op in ops}
        assert found == set(ops)
    with pytest.raises(ValueError, match="no op that takes a constant"):
        find(constant_cases(["exp", "neg"]), lambda c: True)


def test_expressions_render_each_node_in_another_api() -> None:
    g = RandomGraph(2, [Node("mul", (0, Const(-2.0))), Node("tanh", (2,)), Node("pow", (3,), 3.0)])
    assert g.expressions() == ["x0 * (-2.0)", "v0.tanh()", "v1 ** 3.0"]
    render = lambda op, operands, arg: f"{op}({', '.join(operands)}{'' if arg is None else f', {arg}'})"
    assert g.expressions(render) == ["mul(x0, (-2.0))", "tanh(v0)", "pow(v1, 3.0)"]
    assert value_source("linear", ["w", "x", "b"], None) == "linear([w], [x], b)"
    assert value_source("rpow", ["x0"], 2.0) == "2.0 ** x0"


def test_value_source_runs_as_the_op() -> None:
    x, y = Value(0.7), Value(1.3)
    for name in sorted(OPS):
        if name == "linear":
            continue
        arg = DOMAINS[name].args[0] if DOMAINS[name].args else None
        code = value_source(name, ["x", "y"][: OPS[name].arity], arg)
        got = eval(code, {"x": x, "y": y})
        assert got.op == name, (name, code)

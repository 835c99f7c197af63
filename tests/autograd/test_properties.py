"""The property suite: over random computation DAGs and every op, first and second derivatives agree with
high-precision finite differences (mpmath), and the engine's structural promises hold. Also tests the
strategies of autograd.testing themselves.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import mpmath
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from mpmath import mp

import autograd.testing as testing
from autograd import OPS, Constant, Value, gradients, hessian, no_grad, toposort
from autograd.testing import (
    BOUND,
    BOX,
    DOMAINS,
    FLOAT_OPS,
    INPUT_RANGE,
    KINK_MARGIN,
    MARGIN,
    VALUE_OPS,
    Const,
    RandomGraph,
    graphs,
    graphs_and_points,
    mpmath_ops,
    planted_rule,
)

# Engine (float64) against the exact derivative of the same function: rounding in float64 is the only
# difference, so 1e-9 relative, plus 1e-9 absolute for results that cancel to near 0 (e.g. d tanh(20)
# is 1 - tanh(20)^2, which float64 rounds to 0 while the exact value is 1.7e-17).
RTOL, ATOL = 1e-9, 1e-9
MPMATH_DIGITS = 30
# Searches that must find an example: seeded, and without shrinking (the example found is not shown).
Point = tuple[float, ...]
FIND = settings(database=None, max_examples=2000, derandomize=True, phases=[Phase.generate])


# -- the oracle ------------------------------------------------------------------------------------


def engine_derivatives(graph: RandomGraph, point: tuple[float, ...]) -> dict[tuple[int, ...], float]:
    """First derivatives (from the float sweep, checked against the recorded one) and second ones."""
    xs = [Value(p) for p in point]
    y = graph(*xs)
    out: dict[tuple[int, ...], float] = {(i,): g for i, g in enumerate(gradients(y, xs))}
    for i, g in enumerate(gradients(y, xs, create_graph=True)):
        assert math.isclose(g.data, out[(i,)], rel_tol=1e-12, abs_tol=1e-300), (
            f"recorded first derivative {g.data!r} differs from the float sweep's {out[(i,)]!r}"
        )
        for j, h in enumerate(gradients(g, xs)):
            out[(i, j)] = h
    return out


def mpmath_derivatives(graph: RandomGraph, point: tuple[float, ...]) -> dict[tuple[int, ...], Any]:
    """The same derivatives from the same graph evaluated in mpmath, by high-precision differences."""
    ops = mpmath_ops()
    f = lambda *xs: graph.evaluate(ops, *xs)
    n = len(point)
    unit = lambda *ks: tuple(sum(1 for k in ks if k == i) for i in range(n))  # (0, 2) -> orders (1, 0, 1)
    with mp.workdps(MPMATH_DIGITS):
        x = tuple(mp.mpf(p) for p in point)  # exact: every float is an mpf
        out: dict[tuple[int, ...], Any] = {(i,): mp.diff(f, x, unit(i)) for i in range(n)}
        for i in range(n):
            for j in range(i, n):
                out[(i, j)] = out[(j, i)] = mp.diff(f, x, unit(i, j))
    return out


def mismatches(graph: RandomGraph, point: tuple[float, ...]) -> dict[tuple[int, ...], str]:
    """The derivatives (keyed by the argument indices) where the engine and mpmath disagree."""
    engine = engine_derivatives(graph, point)
    exact = mpmath_derivatives(graph, point)
    return {
        index: f"d/dx{index}: engine {engine[index]!r}, mpmath {mpmath.nstr(exact[index], 17)}"
        for index in exact
        if not abs(engine[index] - exact[index]) <= RTOL * abs(exact[index]) + ATOL
    }


def assert_matches_mpmath(graph: RandomGraph, point: tuple[float, ...]) -> None:
    bad = mismatches(graph, point)
    assert not bad, f"{graph}\nat {point}:\n" + "\n".join(bad.values())


# -- the strategies' own contract ------------------------------------------------------------------


def test_every_table_beside_the_strategies_covers_the_op_table() -> None:
    # A new op in OPS must get a domain, an engine call, a float and an mpmath implementation.
    assert set(DOMAINS) == set(OPS)
    assert set(VALUE_OPS) == set(OPS)
    assert set(FLOAT_OPS) == set(OPS)
    assert set(mpmath_ops()) == set(OPS)
    assert set(testing._SOURCE) == set(OPS)
    assert {name for name, d in DOMAINS.items() if d.args} == {"pow", "rpow", "leaky_relu"}


@pytest.mark.parametrize("name", sorted(OPS))
def test_graphs_draw_every_op(name: str) -> None:
    assert name in find(graphs(), lambda g: name in g.op_names(), settings=FIND).op_names()


def test_graphs_draw_shared_subexpressions_and_constants_on_both_sides() -> None:
    def uses(g: RandomGraph, test: Any) -> bool:
        return any(test(node) for node in g.nodes)

    shared = lambda g: any(
        sum(o == s for node in g.nodes for o in node.operands if isinstance(o, int)) >= 2
        for s in range(g.arity, g.arity + len(g.nodes) - 1)
    )
    assert shared(find(graphs(), shared, settings=FIND))
    left = lambda g: uses(g, lambda n: n.op != "add" and isinstance(n.operands[0], Const))
    right = lambda g: uses(g, lambda n: len(n.operands) == 2 and isinstance(n.operands[1], Const)
                           and n.op != "add")
    assert left(find(graphs(), left, settings=FIND))
    assert right(find(graphs(), right, settings=FIND))


@given(graphs(), st.lists(st.floats(-BOX, BOX), min_size=3, max_size=3))
def test_graphs_stay_inside_every_domain_and_bound_on_the_box(graph: RandomGraph, xs: list[float]) -> None:
    point = tuple(xs[: graph.arity])
    slots = graph.trace(FLOAT_OPS, *point)
    assert all(abs(v) <= BOUND for v in slots), slots
    for node in graph.nodes:
        operands = [slots[o] if isinstance(o, int) else o.value for o in node.operands]
        domain = DOMAINS[node.op]
        for i in domain.positive(node.arg):
            assert operands[i] >= MARGIN * (1 - 1e-12), (node, operands)
        for i in domain.nonzero:
            assert abs(operands[i]) >= MARGIN * (1 - 1e-12), (node, operands)
    out = graph(*point)  # the engine builds it without a domain error
    assert math.isclose(out.data, slots[-1], rel_tol=1e-12, abs_tol=1e-12)


@given(graphs_and_points())
def test_points_lie_in_range_and_away_from_kinks(case: tuple[RandomGraph, tuple[float, ...]]) -> None:
    graph, point = case
    assert len(point) == graph.arity
    assert all(-INPUT_RANGE <= p <= INPUT_RANGE for p in point)
    assert graph.kink_distance(*point) >= KINK_MARGIN


@given(graphs_and_points(avoid_kinks=False))
def test_repr_is_the_python_function_it_prints(case: tuple[RandomGraph, tuple[float, ...]]) -> None:
    graph, point = case
    namespace: dict[str, Any] = {}
    exec(repr(graph), namespace)
    printed = namespace["f"](*[Value(p) for p in point])
    assert printed.data == graph(*point).data


def test_the_module_docstring_example_runs() -> None:
    doc = testing.__doc__
    assert doc is not None
    block = doc.split("A paste-ready test file::\n")[1].split("\nA failing example")[0]
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(block), namespace)
    namespace["test_gradients_match_finite_differences"]()


def test_assert_gradients_close_checks_second_order() -> None:
    f = lambda x, y: x.sin() * y
    testing.assert_gradients_close(f, 0.5, 2.0)
    rule = OPS["sin"].local
    with planted_rule("sin", lambda *a: tuple(float(d) for d in rule(*a))):  # right only to order 1
        with pytest.raises(AssertionError, match="order 2"):
            testing.assert_gradients_close(f, 0.5, 2.0)


def test_load_profile_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
        monkeypatch.delenv("CI", raising=False)
        assert testing.load_profile() == "dev"
        monkeypatch.setenv("CI", "true")
        assert testing.load_profile() == "ci"
        assert settings().derandomize and settings().deadline is None
        monkeypatch.setenv("HYPOTHESIS_PROFILE", "thorough")
        assert testing.load_profile() == "thorough"
        assert settings().max_examples >= 100_000
        assert testing.load_profile("dev") == "dev"
        with pytest.raises(ValueError, match="unknown Hypothesis profile 'nightly'"):
            testing.load_profile("nightly")
    finally:
        monkeypatch.undo()
        testing.load_profile()  # back to what conftest.py chose


def test_random_graph_rejects_a_node_that_uses_a_later_slot() -> None:
    with pytest.raises(ValueError, match="not computed before it"):
        RandomGraph(1, [testing.Node("exp", (1,))])
    with pytest.raises(ValueError, match="permutation"):
        RandomGraph(1, [testing.Node("exp", (0,))]).reordered([1])


# -- first and second derivatives against mpmath -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_every_op_matches_mpmath(name: str, data: st.DataObject) -> None:
    graph, point = data.draw(graphs_and_points(max_inputs=2, max_ops=3, ops=[name]), label="case")
    assert name in graph.op_names()
    assert_matches_mpmath(graph, point)


@given(graphs_and_points())
def test_random_graphs_match_mpmath(case: tuple[RandomGraph, tuple[float, ...]]) -> None:
    assert_matches_mpmath(*case)


def test_hand_derived_values_match_the_oracle_helpers() -> None:
    # f(x, y) = sin(x) * y + x ** 3: the helpers above against derivatives worked out by hand.
    graph = RandomGraph(2, [testing.Node("sin", (0,)), testing.Node("mul", (2, 1)),
                            testing.Node("pow", (0,), 3.0), testing.Node("add", (3, 4))])
    x, y = 0.5, 2.0
    by_hand = {(0,): math.cos(x) * y + 3 * x**2, (1,): math.sin(x),
               (0, 0): -math.sin(x) * y + 6 * x, (0, 1): math.cos(x), (1, 0): math.cos(x), (1, 1): 0.0}
    engine = engine_derivatives(graph, (x, y))
    exact = mpmath_derivatives(graph, (x, y))
    for index, value in by_hand.items():
        assert math.isclose(engine[index], value, rel_tol=1e-15, abs_tol=1e-15)
        assert abs(exact[index] - value) <= 1e-15


# -- the suite catches planted bugs --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPS))
def test_a_wrong_first_order_rule_is_caught(name: str) -> None:
    rule = OPS[name].local
    with planted_rule(name, lambda *a: tuple(1.5 * d for d in rule(*a))):
        graph, point = find(graphs_and_points(max_ops=3, ops=[name]), lambda c: bool(mismatches(*c)),
                            settings=FIND)
    assert not mismatches(graph, point)  # right again once the rule is restored


SMOOTH = ["cos", "div", "exp", "log", "mul", "pow", "sigmoid", "sin", "softplus", "sqrt", "tanh"]


@pytest.mark.parametrize("name", SMOOTH)
def test_a_rule_that_breaks_higher_order_is_caught(name: str) -> None:
    # A rule computed on floats (as a rule written with math.* is): first derivatives stay right,
    # second derivatives lose the rule's own dependence on its inputs.
    rule = OPS[name].local
    floats = lambda *a: tuple(float(d) for d in rule(*a))
    with planted_rule(name, floats):
        graph, point = find(graphs_and_points(max_ops=3, ops=[name]), lambda c: bool(mismatches(*c)),
                            settings=FIND)
        assert all(len(index) == 2 for index in mismatches(graph, point))  # first order stays right


# -- structural properties -----------------------------------------------------------------------------


@given(graphs_and_points(avoid_kinks=False))
def test_backward_twice_doubles_every_leaf_grad_exactly(case: tuple[RandomGraph, tuple[float, ...]]) -> None:
    graph, point = case
    xs = [Value(p) for p in point]
    y = graph(*xs)
    y.backward()
    once = [x.grad for x in xs]
    y.backward()
    assert [x.grad for x in xs] == [2 * g for g in once]


@given(graphs_and_points(avoid_kinks=False))
def test_gradients_equals_what_backward_leaves_in_grad(case: tuple[RandomGraph, tuple[float, ...]]) -> None:
    graph, point = case
    xs = [Value(p) for p in point]
    y = graph(*xs)
    expected = gradients(y, xs)
    assert all(x.grad == 0.0 for x in xs)  # gradients() touches no .grad
    y.backward()
    assert tuple(x.grad for x in xs) == expected
    for node in toposort(y):
        for parent in node.parents:
            if isinstance(parent, Constant):
                assert parent.grad == 0.0  # constants never get a grad


@st.composite
def graph_point_and_build_order(draw: Any) -> tuple[RandomGraph, tuple[float, ...], list[int]]:
    graph, point = draw(graphs_and_points(avoid_kinks=False))
    # A random topological order of the nodes (Kahn's algorithm, choosing among the ready nodes).
    n, done, order = len(graph.nodes), set(range(graph.arity)), list[int]()
    while len(order) < n:
        ready = [j for j in range(n) if graph.arity + j not in done
                 and all(not isinstance(o, int) or o in done for o in graph.nodes[j].operands)]
        j = draw(st.sampled_from(ready))
        order.append(j)
        done.add(graph.arity + j)
    return graph, point, order


@given(graph_point_and_build_order())
def test_result_does_not_depend_on_build_order(case: tuple[RandomGraph, Point, list[int]]) -> None:
    graph, point, order = case
    other = graph.reordered(order)

    def derivatives(g: RandomGraph) -> tuple[float, list[float], list[list[float]]]:
        xs = [Value(p) for p in point]
        y = g(*xs)
        first = gradients(y, xs, create_graph=True)
        return y.data, list(gradients(y, xs)), [list(gradients(d, xs)) for d in first]

    assert derivatives(other) == derivatives(graph)


@given(graphs_and_points(avoid_kinks=False))
def test_no_grad_results_carry_no_parents(case: tuple[RandomGraph, tuple[float, ...]]) -> None:
    graph, point = case
    xs = [Value(p) for p in point]
    recorded = graph.trace(VALUE_OPS, *xs)
    with no_grad():
        bare = graph.trace(VALUE_OPS, *xs)
    for node in bare[graph.arity:]:
        assert node.parents == () and node.op == "" and node.local_grads == ()
    assert [v.data for v in bare] == [v.data for v in recorded]
    assert all(x.grad == 0.0 for x in xs)


@given(graphs_and_points(max_inputs=2, max_ops=4))
def test_hessian_matches_repeated_gradients(case: tuple[RandomGraph, tuple[float, ...]]) -> None:
    graph, point = case
    engine = engine_derivatives(graph, point)
    h = hessian(graph)(*point)
    for i, row in enumerate(h):
        for j, value in enumerate(row):
            assert math.isclose(value, engine[(i, j)], rel_tol=1e-12, abs_tol=1e-12)

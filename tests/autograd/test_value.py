"""Value as a Python object: construction, operators with numbers, constants, comparisons, identity,
repr, detach and no_grad, numeric stability at the float extremes, and freeing by reference counting."""

from __future__ import annotations

import gc
import inspect
import math
import re
import weakref
from collections.abc import Iterator
from fractions import Fraction

import pytest

from autograd import Constant, Value, grad, gradients, is_grad_enabled, no_grad, toposort


def all_nodes(root: Value) -> list[Value]:
    """Every node under root, constants included (toposort leaves constants out)."""
    seen: dict[int, Value] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            stack.extend(node.parents)
    return list(seen.values())


@pytest.fixture
def gc_disabled() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- construction -----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [3, 3.0, -2.5, 0, Fraction(1, 4), 10**20])
def test_value_accepts_ints_and_floats_and_stores_a_float(data: object) -> None:
    v = Value(data)  # type: ignore[arg-type]
    assert type(v.data) is float
    assert v.data == float(data)  # type: ignore[arg-type]


def test_a_new_leaf_has_no_graph() -> None:
    v = Value(2.0, label="w")
    assert v.grad == 0.0
    assert v.label == "w"
    assert v.op == ""
    assert v.parents == ()
    assert v.local_grads == ()
    assert v.arg is None
    assert Value(1.0).label == ""


def test_an_op_node_records_op_parents_and_local_derivatives() -> None:
    x, y = Value(2.0), Value(5.0)
    z = x * y
    assert z.op == "mul"
    assert z.parents == (x, y)
    assert z.local_grads == (5.0, 2.0)
    assert z.label == ""
    assert z.grad == 0.0


def test_operand_order_is_kept() -> None:
    x, y = Value(2.0), Value(5.0)
    assert (y - x).parents == (y, x)
    assert (x / y).parents == (x, y)
    assert (y - x).data == 3.0


def test_unary_plus_is_the_same_node() -> None:
    x = Value(1.0)
    assert +x is x


# -- constants --------------------------------------------------------------------------------------


def test_constant_on_the_left_is_a_parent_that_gets_no_grad() -> None:
    x = Value(3.0)
    y = 2 * x
    assert y.op == "mul"
    c, p = y.parents
    assert p is x
    assert type(c) is Constant
    assert c.data == 2.0
    assert y.local_grads == (3.0, 2.0)
    y.backward()
    assert x.grad == 2.0
    assert c.grad == 0.0
    assert c not in toposort(y)
    assert toposort(y) == [x, y]


@pytest.mark.parametrize(
    "build, value, dx, const",
    [
        (lambda x: x + 1, 4.0, 1.0, 1.0),
        (lambda x: 1 + x, 4.0, 1.0, 1.0),
        (lambda x: x - 1, 2.0, 1.0, 1.0),
        (lambda x: 1 - x, -2.0, -1.0, 1.0),
        (lambda x: x * 4, 12.0, 4.0, 4.0),
        (lambda x: x / 2, 1.5, 0.5, 2.0),
        (lambda x: 6 / x, 2.0, -6 / 9, 6.0),  # d(6/x) = -6/x²
    ],
)
def test_numbers_on_either_side_become_constants(build, value, dx, const) -> None:  # type: ignore[no-untyped-def]
    x = Value(3.0)
    y = build(x)
    assert y.data == pytest.approx(value, rel=1e-15)
    constants = [p for p in y.parents if type(p) is Constant]
    assert [c.data for c in constants] == [const]
    y.backward()
    assert x.grad == pytest.approx(dx, rel=1e-15)
    assert all(c.grad == 0.0 for c in constants)


def test_constant_exponent_is_an_arg_not_a_parent() -> None:
    x = Value(2.0)
    y = x**3
    assert y.parents == (x,)
    assert y.arg == 3.0
    assert y.local_grads == (12.0,)


def test_constant_repr_shows_its_value() -> None:
    (c, _) = (2 * Value(1.0)).parents
    assert "2.0" in repr(c)


# -- comparisons, identity, float, repr ---------------------------------------------------------------


def test_ordering_comparisons_read_data_and_return_bool() -> None:
    a, b = Value(1.0), Value(2.0)
    results = [a < b, a <= b, b > a, b >= a, a < 2, a <= 1, a > 0.5, a >= 1, 0 < a, 3 > b, 2 <= b]
    assert results == [True] * len(results)
    assert all(type(r) is bool for r in results)
    falses = [b < a, b <= a, a > b, a >= b, a < 1, a > 1, 2 < a]
    assert falses == [False] * len(falses)
    assert all(type(r) is bool for r in falses)


def test_values_sort_by_data() -> None:
    vs = [Value(3.0), Value(-1.0), Value(2.0)]
    assert [v.data for v in sorted(vs)] == [-1.0, 2.0, 3.0]
    assert max(vs).data == 3.0


def test_equality_and_hash_are_identity() -> None:
    a, b = Value(1.0), Value(1.0)
    assert a == a
    assert a != b
    assert not (a == b)
    assert (a == 1.0) is False
    assert hash(a) == object.__hash__(a)
    assert len({a, b}) == 2
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    c = a + 0  # same data again, still a different node
    assert c not in d


def test_float_of_a_value_is_its_data() -> None:
    v = Value(2.5) * 2
    assert float(v) == 5.0
    assert type(float(v)) is float
    assert math.sqrt(Value(9.0)) == 3.0  # math.* accepts a Value through __float__


def test_repr_shows_data_grad_and_label() -> None:
    x = Value(3.5, label="x")
    y = x * 2
    y.backward()
    r = repr(x)
    assert "3.5" in r and "2.0" in r and "'x'" in r
    assert "data" in r and "grad" in r
    assert "7.0" in repr(y) and "1.0" in repr(y)


# -- detach and no_grad -------------------------------------------------------------------------------


def test_detach_is_a_new_leaf_with_the_same_data_and_label() -> None:
    x = Value(3.0, label="x")
    h = (x * x).tanh()
    d = h.detach()
    assert d is not h
    assert d.data == h.data
    assert d.label == h.label
    assert d.parents == () and d.op == "" and d.local_grads == ()
    d2 = x.detach()
    assert d2.label == "x"


def test_gradient_does_not_flow_through_detach() -> None:
    x = Value(3.0)
    y = x.detach() * x  # like stop_gradient(x) * x: d/dx = x
    y.backward()
    assert x.grad == 3.0
    assert gradients(x * x.detach() + x, [x]) == (4.0,)


def test_no_grad_builds_no_graph() -> None:
    x = Value(2.0)
    with no_grad():
        assert is_grad_enabled() is False
        y = (x * x + 1).exp().log() - 3 * x + 2**x + x**Value(2.0)
    assert is_grad_enabled() is True
    assert y.data == pytest.approx(5.0 - 6.0 + 4.0 + 4.0, rel=1e-15)
    assert y.parents == () and y.op == "" and y.local_grads == ()
    assert type(y) is Constant
    # NOTE: backward from a no_grad result would leave every grad 0 without a word: it raises instead
    with pytest.raises(RuntimeError, match=r"Constant, part of no graph.*no_grad\(\)"):
        y.backward()
    assert x.grad == 0.0


def test_no_grad_nests_and_restores_the_mode_after_an_error() -> None:
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    with pytest.raises(ValueError), no_grad():
        Value(-1.0).log()
    assert is_grad_enabled()
    assert (Value(1.0) * 2).parents != ()


# -- numeric stability at the extremes ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, x, value, local",
    [
        ("sigmoid", -1000.0, 0.0, 0.0),  # e^-1000 underflows to 0
        ("sigmoid", 1000.0, 1.0, 0.0),
        ("sigmoid", -745.0, 5e-324, 5e-324),  # the smallest subnormal, not 0 and not nan
        ("softplus", 1000.0, 1000.0, 1.0),
        ("softplus", -1000.0, 0.0, 0.0),
        ("tanh", 1000.0, 1.0, 0.0),
        ("tanh", -1000.0, -1.0, 0.0),
        ("exp", -1000.0, 0.0, 0.0),
    ],
)
def test_extremes_are_finite_and_correct(name: str, x: float, value: float, local: float) -> None:
    v = Value(x)
    y = getattr(v, name)()
    assert y.data == value
    assert y.local_grads == (local,)
    y.backward()
    assert v.grad == local
    second = grad(grad(lambda t: getattr(t, name)()))(x)
    assert math.isfinite(second)
    assert second == pytest.approx(0.0, abs=1e-300)


def test_sigmoid_and_softplus_keep_relative_precision_in_the_tail() -> None:
    # sigmoid(-30) = e^-30 / (1 + e^-30); softplus(-30) = log1p(e^-30) = e^-30 - e^-60 / 2 + ...
    e = math.exp(-30.0)
    assert Value(-30.0).sigmoid().data == pytest.approx(e / (1 + e), rel=1e-15)
    assert Value(-30.0).softplus().data == pytest.approx(e - e * e / 2, rel=1e-15)
    assert Value(30.0).softplus().data == pytest.approx(30.0 + e, rel=1e-15)
    assert Value(30.0).sigmoid().data == pytest.approx(1 / (1 + e), rel=1e-15)
    assert grad(lambda t: t.softplus())(-30.0) == pytest.approx(e / (1 + e), rel=1e-14)


# -- memory: no cycles, freed by reference counting -----------------------------------------------------


@pytest.mark.usefixtures("gc_disabled")
def test_a_dropped_graph_is_freed_at_once_by_reference_counting() -> None:
    x = Value(2.0, label="x")
    y = (((x * x + 1).tanh() * 3 - x) / 2).exp() + 2**x + x ** Value(1.5) + abs(-x).sqrt()
    y.backward()
    refs = [weakref.ref(n) for n in all_nodes(y)]
    assert len(refs) > 15
    assert all(r() is not None for r in refs)
    del x, y
    assert [r() for r in refs] == [None] * len(refs)


@pytest.mark.usefixtures("gc_disabled")
def test_graphs_built_by_create_graph_and_nested_grad_are_freed_at_once() -> None:
    x = Value(0.7)
    y = (x * x).sin() * x.exp()
    (dx,) = gradients(y, [x], create_graph=True)
    (ddx,) = gradients(dx, [x], create_graph=True)
    refs = [weakref.ref(n) for n in all_nodes(ddx)]
    del x, y, dx, ddx
    assert [r() for r in refs] == [None] * len(refs)
    # grad of grad leaves nothing for the cycle collector either
    third = grad(grad(grad(lambda t: (t * t).sin() * t.exp())))(0.7)
    assert math.isfinite(third)
    assert gc.collect() == 0


def test_every_way_of_making_a_node_fills_every_slot() -> None:
    # A node's slots are filled by value._fill, except in the binary operators, which inline a copy of it
    # (one call less per node): a slot added to __slots__ but not to that copy would be unset there.
    import copy

    from autograd import linear
    from autograd.value import _binary_methods

    slots = [s for s in Value.__slots__ if s != "__weakref__"]
    x, y = Value(2.0), Value(3.0)
    made = [x, x * y, 2.0 * x, x.tanh(), x**2, linear([x], [y], 1.0), linear([x], [y], Value(1.0)),
            x.detach(), copy.deepcopy(x * y)]
    for node in made:
        for slot in slots:
            getattr(node, slot)  # AttributeError if the slot was never set
    for inlined in (_binary_methods, linear):  # the two copies of _fill, each one call less per node
        source = inspect.getsource(inlined)
        assert sorted(set(re.findall(r"\bv\.(\w+) =", source))) == sorted(slots)

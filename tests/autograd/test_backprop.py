"""Backprop on graphs with structure: reuse, fan-out, diamonds, a chain a million ops deep, repeated
backward, ``gradients`` with and without ``create_graph``, toposort order, and ``detect_anomaly``."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator

import pytest

from autograd import Constant, Value, detect_anomaly, grad, gradients, hessian, no_grad, toposort


def close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=1e-12, abs=1e-15)


# -- reuse and fan-out --------------------------------------------------------------------------------


def test_x_times_x_keeps_both_parents_and_gets_2x() -> None:
    x = Value(3.0)
    y = x * x
    assert y.parents == (x, x)
    assert y.parents[0] is x and y.parents[1] is x
    assert y.local_grads == (3.0, 3.0)
    y.backward()
    assert x.grad == 6.0


def test_a_plus_a_keeps_both_parents_and_gets_2() -> None:
    a = Value(-1.5)
    y = a + a
    assert y.parents == (a, a)
    y.backward()
    assert a.grad == 2.0


@pytest.mark.parametrize(
    "f, dfdx",
    [
        (lambda x: x * x * x, lambda x: 3 * x * x),
        (lambda x: x - x, lambda x: 0.0),
        (lambda x: x / x, lambda x: 0.0),
        (lambda x: (x * x) / x, lambda x: 1.0),
        (lambda x: x * x + x, lambda x: 2 * x + 1),
    ],
    ids=["x*x*x", "x-x", "x/x", "x*x/x", "x*x+x"],
)
def test_reuse_in_compound_expressions(f, dfdx) -> None:  # type: ignore[no-untyped-def]
    x = Value(1.7)
    f(x).backward()
    assert close(x.grad, dfdx(1.7))


def test_fan_out_sums_the_contributions_of_every_use() -> None:
    x = Value(0.5)
    y = x * 2 + x.sin() + x.exp() + x.tanh()
    y.backward()
    t = math.tanh(0.5)
    assert close(x.grad, 2 + math.cos(0.5) + math.exp(0.5) + (1 - t * t))


def test_diamond_gives_intermediate_nodes_their_grads() -> None:
    # a = x², b = a + a, c = a * b = 2a²: dc/da = b (direct) + a * 2 (through both parents of b) = 4a
    x = Value(3.0, label="x")
    a = x * x
    b = a + a
    c = a * b
    c.backward()
    assert c.grad == 1.0
    assert b.grad == a.data  # ∂c/∂b = a = 9
    assert a.grad == b.data + 2 * a.data  # direct b, plus a through both parents of b: 18 + 18 = 36
    assert x.grad == a.grad * 2 * x.data  # 36 * 6 = 216 = d(2x⁴)/dx = 8x³
    assert x.grad == 8 * 27


def test_two_roots_sharing_a_subgraph_accumulate_into_the_shared_leaf() -> None:
    x = Value(2.0)
    shared = x * x
    (shared + 1).backward()
    (shared * 3).backward()
    assert x.grad == 4.0 + 12.0
    assert shared.grad == 1.0 + 3.0


def test_every_node_reached_gets_its_grad() -> None:
    x, y = Value(2.0, label="x"), Value(-3.0, label="y")
    s = x * y  # -6
    t = s.tanh()
    out = t + x
    out.backward()
    dt = 1 - math.tanh(-6.0) ** 2
    assert out.grad == 1.0
    assert t.grad == 1.0
    assert close(s.grad, dt)
    assert close(x.grad, dt * -3.0 + 1)
    assert close(y.grad, dt * 2.0)


def test_an_unrelated_leaf_gets_no_grad() -> None:
    x, z = Value(2.0), Value(5.0)
    (x * x).backward()
    assert z.grad == 0.0
    assert gradients(x * x, [z]) == (0.0,)


def test_backward_on_a_leaf_sets_its_grad_to_one() -> None:
    x = Value(4.0)
    x.backward()
    assert x.grad == 1.0


# -- toposort ------------------------------------------------------------------------------------------


def test_toposort_puts_parents_first_root_last_each_node_once() -> None:
    x = Value(1.0)
    a = x * 2
    e = a.exp()
    b = e + a
    ba = b * a
    c = ba * x
    order = toposort(c)
    assert order[-1] is c
    assert order[0] is x
    assert len(order) == len({id(n) for n in order})
    assert {id(n) for n in order} == {id(n) for n in (x, a, e, b, ba, c)}
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for p in node.parents:
            if type(p) is not Constant:
                assert position[id(p)] < position[id(node)]


def test_toposort_is_deterministic() -> None:
    x, y = Value(1.0), Value(2.0)
    z = (x * y + y.sin()) * x
    assert [id(n) for n in toposort(z)] == [id(n) for n in toposort(z)]


# -- a chain a million ops deep -----------------------------------------------------------------------


@pytest.fixture
def default_recursion_limit() -> Iterator[None]:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # CPython's default, whatever other tests or plugins set
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


@pytest.mark.usefixtures("default_recursion_limit")
def test_million_deep_chain_backward_at_the_default_recursion_limit() -> None:
    n = 1_000_000
    x0 = 0.5
    x = Value(x0)
    y = x
    middle = None
    for i in range(n):
        y = y.tanh()
        if i == n // 2 - 1:
            middle = y
    assert middle is not None
    y.backward()

    # Independent float recomputation: y_k = tanh(y_(k-1)); dy_n/dy_k = prod_{j>k} (1 - y_j²).
    ys = [x0]
    for _ in range(n):
        ys.append(math.tanh(ys[-1]))
    assert y.data == ys[-1]
    tail = 1.0
    for j in range(n, n // 2, -1):
        tail *= 1 - ys[j] * ys[j]
    assert close(middle.grad, tail)
    full = tail
    for j in range(n // 2, 0, -1):
        full *= 1 - ys[j] * ys[j]
    assert close(x.grad, full)

    # And against a central difference on the float recurrence (an oracle that shares no product).
    def chain(t: float) -> float:
        for _ in range(n):
            t = math.tanh(t)
        return t

    h = 1e-4
    fd = (chain(x0 + h) - chain(x0 - h)) / (2 * h)
    assert x.grad == pytest.approx(fd, rel=1e-6)
    del x, y, middle  # a deep chain must also be freed without recursion


# -- backward twice --------------------------------------------------------------------------------------


def test_second_backward_adds_exactly_the_same_amounts_again() -> None:
    x, y = Value(0.3), Value(-1.2)
    h = (x * y).tanh()
    z = h * h + x.exp() / y
    z.backward()
    first = {"x": x.grad, "y": y.grad, "h": h.grad, "z": z.grad}
    z.backward()
    assert x.grad == 2 * first["x"]
    assert y.grad == 2 * first["y"]
    assert h.grad == 2 * first["h"]
    assert z.grad == 2.0


def test_second_backward_never_compounds_through_intermediate_nodes() -> None:
    # micrograd's bug: it feeds the intermediate (a*b).grad, already 12 after the first pass, into
    # the second pass, so a.grad goes 24 -> 72 (24 + 2 * 24) instead of 24 -> 48, and b.grad 36 -> 108.
    a, b = Value(3.0), Value(2.0)
    ab = a * b
    c = ab**2
    c.backward()
    assert (a.grad, b.grad, ab.grad) == (24.0, 36.0, 12.0)
    c.backward()
    assert (a.grad, b.grad, ab.grad) == (48.0, 72.0, 24.0)


def test_micrograd_reference_compounds_to_72() -> None:
    # The same numbers from micrograd itself, so the 72 above is a fact and not folklore.
    engine = pytest.importorskip("micrograd.engine", reason="micrograd is in the bench extra")
    a, b = engine.Value(3.0), engine.Value(2.0)
    c = (a * b) ** 2
    c.backward()
    assert a.grad == 24.0
    c.backward()
    assert a.grad == 72.0
    assert b.grad == 108.0


# -- gradients() ----------------------------------------------------------------------------------------


def test_gradients_returns_floats_and_touches_no_grad() -> None:
    x, y = Value(2.0), Value(3.0)
    h = x * y
    z = h.sin() + x
    gx, gy = gradients(z, [x, y])
    assert type(gx) is float and type(gy) is float
    assert close(gx, math.cos(6.0) * 3 + 1)
    assert close(gy, math.cos(6.0) * 2)
    assert all(n.grad == 0.0 for n in (x, y, h, z))


def test_gradients_agrees_with_backward_and_handles_intermediate_and_repeated_inputs() -> None:
    x = Value(1.3)
    h = x.exp()
    z = h * x
    (gh, gx, gx2, gz) = gradients(z, [h, x, x, z])
    z.backward()
    assert gx == x.grad and gx2 == x.grad
    assert gh == h.grad
    assert gz == 1.0


def test_gradients_with_create_graph_can_be_differentiated_again() -> None:
    x = Value(3.0)
    y = x * x * x
    (dx,) = gradients(y, [x], create_graph=True)
    assert isinstance(dx, Value)
    assert dx.data == 27.0
    assert x.grad == 0.0 and y.grad == 0.0
    (ddx,) = gradients(dx, [x], create_graph=True)
    assert ddx.data == 18.0
    (dddx,) = gradients(ddx, [x])
    assert dddx == 6.0
    assert x.grad == 0.0
    dx.backward()  # backward through the gradient graph: d(3x²)/dx = 6x
    assert x.grad == 18.0
    assert y.grad == 0.0


def test_gradients_create_graph_of_an_unreached_input_is_zero() -> None:
    x, z = Value(3.0), Value(1.0)
    (gz,) = gradients(x * x, [z], create_graph=True)
    assert isinstance(gz, Value)
    assert gz.data == 0.0


def test_create_graph_ignores_a_singular_node_off_the_inputs_path() -> None:
    # w.sqrt() at w = 0 has an infinite local derivative, but x does not flow through it: f'' = 2.
    w = Value(0.0)
    assert grad(grad(lambda x: x * w.sqrt() + x * x))(1.0) == 2.0
    assert grad(grad(lambda x: x * x + w**0.5))(1.0) == 2.0
    assert hessian(lambda x, y: x * y * (w * w).sqrt() + x * x * y)(1.0, 3.0) == [[6.0, 2.0], [2.0, 0.0]]
    (dx,) = gradients(w.sqrt() + 3 * Value(1.0), [w], create_graph=False)
    assert dx == math.inf


def test_create_graph_through_a_singular_node_raises_naming_the_op() -> None:
    with pytest.raises(ZeroDivisionError, match=r"sqrt\(0.0\).*infinite"):
        grad(grad(lambda x: x.sqrt()))(0.0)
    with pytest.raises(ZeroDivisionError, match=r"pow\(0.0\).*infinite"):
        hessian(lambda x, y: (x * y) ** 0.5)(0.0, 1.0)
    assert grad(lambda x: x.sqrt())(0.0) == math.inf  # first order is still the infinity


def test_gradients_with_create_graph_inside_no_grad_raises() -> None:
    x = Value(1.0)
    y = x * x
    with no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        gradients(y, [x], create_graph=True)


# -- detect_anomaly ----------------------------------------------------------------------------------


def test_detect_anomaly_names_the_op_and_the_label() -> None:
    x = Value(0.0, label="x")
    r = x.sqrt()
    r.label = "root"
    y = r * 2
    with detect_anomaly(), pytest.raises(FloatingPointError) as info:
        y.backward()
    message = str(info.value)
    assert "sqrt" in message
    assert "root" in message
    assert x.grad == 0.0 and y.grad == 0.0  # nothing half-written
    y.backward()  # the same graph again, outside the block: no state left over from the failed pass
    assert (x.grad, r.grad, y.grad) == (math.inf, 2.0, 1.0)
    assert gradients(y, [r, x]) == (2.0, math.inf)


def test_detect_anomaly_catches_nan_from_inf_times_zero() -> None:
    x = Value(0.0, label="x")
    s = x.sqrt()
    s.label = "s"
    y = s.relu()  # relu'(0) = 0, so the sqrt edge carries inf * 0 = nan
    with detect_anomaly(), pytest.raises(FloatingPointError, match="nan") as info:
        y.backward()
    assert "sqrt" in str(info.value) and "'s'" in str(info.value)


def test_detect_anomaly_covers_gradients() -> None:
    x = Value(0.0)
    y = x ** 0.5
    y.label = "half_power"
    with detect_anomaly(), pytest.raises(FloatingPointError, match="pow.*half_power"):
        gradients(y, [x])


@pytest.mark.parametrize("create_graph", [False, True])
def test_detect_anomaly_covers_gradients_with_create_graph_too(create_graph: bool) -> None:
    x, w = Value(math.inf, label="x"), Value(0.0, label="w")
    y = x * w
    y.label = "scaled"
    named = r"inf at op 'mul' \(node 'scaled'.*parent 1 \('w'"
    with detect_anomaly(), pytest.raises(FloatingPointError, match=named):
        gradients(y, [w], create_graph=create_graph)
    (g,) = gradients(y, [w], create_graph=create_graph)  # outside the block: plain IEEE arithmetic
    assert float(g) == math.inf


def test_without_detect_anomaly_backward_is_quiet() -> None:
    x = Value(0.0)
    y = x.sqrt() * 2
    y.backward()  # no raise
    assert x.grad == math.inf
    assert gradients(x.sqrt().relu(), [x])[0] != gradients(x.sqrt().relu(), [x])[0]  # nan


def test_detect_anomaly_is_off_again_after_the_block_even_after_an_error() -> None:
    x = Value(0.0)
    with pytest.raises(FloatingPointError), detect_anomaly():
        x.sqrt().backward()
    x.grad = 0.0
    x.sqrt().backward()
    assert x.grad == math.inf


def test_detect_anomaly_passes_finite_graphs_unchanged() -> None:
    x = Value(0.4)
    y = (x * x).sin().exp()
    with detect_anomaly():
        y.backward()
        g = gradients(y, [x])
    expected = math.exp(math.sin(0.16)) * math.cos(0.16) * 0.8
    assert close(x.grad, expected)
    assert close(g[0], expected)


def test_detect_anomaly_names_the_parent_label_too() -> None:
    w = Value(0.0, label="w")
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"'sqrt'.*'w', data=0.0"):
        w.sqrt().backward()


# -- a pass that is interrupted leaves nothing behind ----------------------------------------------------
# Each node holds its adjoint (the pass's mark) in a slot; a mark left behind would make the next pass
# skip the node. Nor may an interrupted pass leave a grad it added, or the pass lock held (the next pass
# would hang). The ways in: an interrupt part way through the walk, the sweep, or the clearing of marks,
# and an error in the sweep.


def _nodes(root: Value) -> list[Value]:
    """Every node under root, read through the slots (so a node whose .x raises is still listed)."""
    seen: dict[int, Value] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            stack.extend(p for p in (Value.x.__get__(node), Value.y.__get__(node)) if p is not None)
    return list(seen.values())


def _blank(cls: type, **slots: object) -> Value:
    node = object.__new__(cls)
    defaults = {"data": 1.0, "grad": 0.0, "label": "", "op": "", "arg": None, "x": None, "y": None,
                "dx": 0.0, "dy": 0.0, "_adjoint": None}
    for slot, v in {**defaults, **slots}.items():
        getattr(Value, slot).__set__(node, v)
    return node  # type: ignore[no-any-return]


class _Interrupting(Value):
    """A leaf whose parents cannot be read: Ctrl-C arriving while the walk reaches it."""

    __slots__ = ()

    @property  # type: ignore[override]
    def x(self) -> Value | None:
        raise KeyboardInterrupt


def _then_right(root: Value, a: Value, expected: float) -> None:
    """After the interrupted pass: nothing kept, nothing added, and the next pass is exact."""
    assert all(n._adjoint is None for n in _nodes(root))
    assert a.grad == 0.0
    root.backward()  # would hang if the pass lock were still held
    assert a.grad == pytest.approx(expected)


@pytest.mark.parametrize("run", [lambda r: r.backward(), lambda r: gradients(r, [r]), toposort],
                         ids=["backward", "gradients", "toposort"])
def test_an_interrupted_walk_leaves_nothing_behind(run) -> None:  # type: ignore[no-untyped-def]
    a = Value(2.0)
    shared = a * 3.0
    leaf = _blank(_Interrupting)
    root = (shared * leaf + shared.tanh()) * a
    with pytest.raises(KeyboardInterrupt):
        run(root)
    nodes = _nodes(root)
    assert len(nodes) == 8  # a, 3.0, shared, the leaf, the product, tanh, +, *
    assert all(n._adjoint is None for n in nodes)
    assert a.grad == 0.0
    # the same graph without the interrupting leaf, walked again: every node is reached afresh
    root2 = (shared * 1.0 + shared.tanh()) * a
    root2.backward()
    t = math.tanh(6.0)
    assert a.grad == pytest.approx((6.0 + t) + a.data * (3.0 + 3.0 * (1 - t * t)))


class _InterruptingLocal(Value):
    """An op node whose local derivative cannot be read: Ctrl-C arriving in the middle of the sweep."""

    __slots__ = ()

    @property  # type: ignore[override]
    def dx(self) -> float:
        raise KeyboardInterrupt


@pytest.mark.parametrize("run", [lambda r: r.backward(), lambda r: gradients(r, [r])],
                         ids=["backward", "gradients"])
def test_an_interrupt_in_the_sweep_leaves_nothing_behind(run) -> None:  # type: ignore[no-untyped-def]
    a = Value(2.0)
    node = _blank(_InterruptingLocal, data=4.0, op="neg", x=a * 2.0)
    root = (node * a).tanh() + 1.0
    with pytest.raises(KeyboardInterrupt):
        run(root)
    assert all(n._adjoint is None for n in _nodes(root))
    assert a.grad == 0.0
    ok = (a * 2.0 * a).tanh() + 1.0  # the same function without the interrupting node
    _then_right(ok, a, (1 - math.tanh(8.0) ** 2) * 8.0)


def test_an_error_in_the_sweep_leaves_nothing_behind_and_the_next_pass_is_right() -> None:
    x = Value(0.0)
    c = Value(2.0)
    root = x.sqrt() * c + x * 3.0
    with pytest.raises(FloatingPointError), detect_anomaly():
        root.backward()
    assert all(n._adjoint is None for n in _nodes(root))
    assert x.grad == 0.0  # the failed pass added nothing
    root.backward()
    assert (x.grad, c.grad) == (math.inf, 0.0)


@pytest.mark.parametrize("where", ["constants", "order"])
def test_an_interrupt_while_clearing_marks_leaves_none(where: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from autograd import backprop

    def interrupted(self: backprop._Pass, into_grads: bool = False) -> None:
        if where == "constants":
            self.constants[0]._adjoint = None
        else:
            for node in self.order[: len(self.order) // 2]:
                node.grad += node._adjoint
                node._adjoint = None
        raise KeyboardInterrupt

    a = Value(2.0)
    root = (a * 3.0).tanh() * a + 1.0
    monkeypatch.setattr(backprop._Pass, "sweep", interrupted)
    with pytest.raises(KeyboardInterrupt):
        root.backward()
    assert all(n._adjoint is None for n in _nodes(root))
    monkeypatch.undo()
    a.grad = 0.0
    root.backward()
    assert a.grad == pytest.approx(math.tanh(6.0) + 6.0 * (1 - math.tanh(6.0) ** 2))

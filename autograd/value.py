"""Value: one scalar node of a computation graph. Every operator is a one-line call into the op table."""

from __future__ import annotations

import numbers
import operator
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Union

from . import collector as _collector
from . import copying
from .ops import _MAX, _MIN, OPS, Op, _dot, singular_derivatives, weighted_sum

Number = Union[int, float]
Operand = Union["Value", int, float]


# -- per-thread state ----------------------------------------------------------------------------------
class _ThreadState(threading.local):
    """What a ``with`` block changes, kept per thread as PyTorch keeps its grad mode and JAX its trace
    state: a thread starts with grad enabled and no tracer, whatever other threads are doing."""

    grad_enabled: bool = True
    tracer: Any = None  # autograd.compile's recorder while this thread traces a function


_state = _ThreadState()
# How many no_grad() and tracing blocks are open right now, in all threads. While it is 0 (nearly
# always) an op needs no thread-local read: `if _special` is a global read (~8 ns), where reading
# `_state.grad_enabled` on every op costs ~25 ns more (measured on the mlp_step graph's forward).
# NOTE: a thread raises the count before it changes its own state and lowers it after restoring it, so
# a count of 0 never hides a change from the thread that made it; other threads just read their own.
_special = 0
_special_lock = threading.Lock()


@contextmanager
def _thread_state(grad_enabled: bool, tracer: Any = None) -> Iterator[None]:
    """Set this thread's grad mode (and tracer) inside the block; put the old ones back after it."""
    global _special
    st = _state
    with _special_lock:
        _special += 1
    try:
        previous = st.grad_enabled, st.tracer
        st.grad_enabled = grad_enabled
        if tracer is not None:
            st.tracer = tracer
        try:
            yield
        finally:
            st.grad_enabled, st.tracer = previous
    finally:
        with _special_lock:
            _special -= 1


def no_grad() -> Any:
    """Build no graph inside the block (in this thread): every result is a ``Constant``.

    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y, y.parents
    (Constant(6.0), ())
    """
    return _thread_state(False)


def tracing(tracer: Any) -> Any:
    """Report this thread's comparisons and ``float()`` calls to ``tracer`` inside the block, with grad
    enabled (autograd.compile records a function's graph this way, even when called inside no_grad)."""
    return _thread_state(True, tracer)


def is_grad_enabled() -> bool:
    """False inside ``no_grad()`` in this thread, where operations build no graph."""
    return _state.grad_enabled


# -- building nodes ------------------------------------------------------------------------------------
class _Many:
    """The y slot's mark of a node with more than two parents (a linear node): its parents are then the
    tuple in x, their local derivatives the tuple in dx."""

    __slots__ = ()

    def __reduce__(self) -> str:
        # NOTE: pickled (and deep-copied) as the module's own _MANY: a copy of a bare object() was another
        # object, so a copied linear node read its tuple of parents as one parent and backward failed
        return "_MANY"

    def __repr__(self) -> str:
        return "_MANY"


_MANY: Any = _Many()
_new = object.__new__


def _fill(v: Value, data: float, label: str, op: str, arg: float | None, x: Any, y: Any, dx: Any,
          dy: float) -> Value:
    """Set every slot of a new node (the one place that does; _binary_methods and linear inline a copy)."""
    v.data = data
    v.grad = 0.0
    v.label = label
    v.op = op
    v.arg = arg
    v.x = x
    v.y = y
    v.dx = dx
    v.dy = dy
    v._adjoint = None
    return v


def _node(data: float, op: str, x: Any, y: Any, dx: Any, dy: float, arg: float | None) -> Value:
    """An op's result (skips __init__'s checks: data is a float the op table just computed)."""
    v = _fill(_new(Value), data, "", op, arg, x, y, dx, dy)
    if _collector.pending:  # the first node of a graph holds the cyclic collector back
        _collector.hold(v)
    return v


def _constant_of(x: float, label: str = "") -> Constant:
    return _fill(_new(Constant), x, label, "", None, None, None, 0.0, 0.0)  # type: ignore[return-value]


def _as_value(x: Any) -> Value | None:
    """x as a node: a Value itself, a number as a new Constant; None for anything else."""
    if isinstance(x, Value):
        return x
    # isinstance(x, numbers.Real) is an abstract-class check; floats and ints, the common operands, skip
    # it: x * 2.0 takes 0.59 instead of 0.89 us.
    if type(x) not in (float, int) and (isinstance(x, bool) or not isinstance(x, numbers.Real)):
        return None
    return _constant_of(float(x))


def _binary_methods(op: Op) -> tuple[Callable[[Value, Any], Value], Callable[[Value, Any], Value]]:
    """``Value.__mul__`` and ``__rmul__`` (and their kin): ``op`` on (self, other) and on (other, self)."""
    name = op.name

    # The body is this closure over op, not a call into a shared helper: one Python frame less for the
    # ops that make most nodes of a network (a mul of two Values 311 -> 285 ns).
    def method(x: Any, y: Any) -> Value:
        if type(x) is not Value:
            x = _as_value(x)
            if x is None:
                return NotImplemented
        if type(y) is not Value:
            y = _as_value(y)
            if y is None:
                return NotImplemented
        a, b = x.data, y.data
        out = op.forward(a, b)
        if _special and not _state.grad_enabled:
            return _constant_of(out)
        try:
            # op.derivatives read here, not once outside: testing.planted_rule swaps a rule in place
            dx, dy = op.derivatives(out, a, b)
        except (ZeroDivisionError, OverflowError):  # only vpow's rule can: d x^y/dx at x = 0, 0 < y < 1
            dx, dy = singular_derivatives(name, a, b)
        # NOTE: _fill inlined, the one copy (test_value checks it against __slots__): one call less per
        # node, 24.5 vs 27.6 ms of the mlp_step graph's forward.
        v = _new(Value)
        v.data = out
        v.grad = 0.0
        v.label = ""
        v.op = name
        v.arg = None
        v.x = x
        v.y = y
        v.dx = dx
        v.dy = dy
        v._adjoint = None
        if _collector.pending:
            _collector.hold(v)
        return v

    def reflected(self: Value, other: Any) -> Value:
        return method(other, self)

    stem = {"div": "truediv"}.get(name, name)
    for fn, fn_name in ((method, f"__{stem}__"), (reflected, f"__r{stem}__")):
        fn.__name__, fn.__qualname__ = fn_name, f"Value.{fn_name}"
    return method, reflected


def _unary(op: Op, x: Value, arg: float | None = None) -> Value:
    """``op`` on one Value (and its constant argument, if any)."""
    # The twin `if arg is None` branches, not op.forward(*args): 390 vs 490-580 ns a tanh node.
    a = x.data
    out = op.forward(a) if arg is None else op.forward(a, arg)
    if _special and not _state.grad_enabled:
        return _constant_of(out)
    try:
        (dx,) = op.derivatives(out, a) if arg is None else op.derivatives(out, a, arg)
    except (ZeroDivisionError, OverflowError):  # d sqrt at 0, d x**0.5 at 0: an infinite slope
        (dx,) = singular_derivatives(op.name, a) if arg is None else singular_derivatives(op.name, a, arg)
    return _node(out, op.name, x, None, dx, 0.0, arg)


def _unary_method(name: str, doc: str, method_name: str = "") -> Callable[[Value], Value]:
    """``Value.exp`` and its kin: the op ``name`` of the table on self."""
    op = OPS[name]

    def method(self: Value) -> Value:
        return _unary(op, self)

    method.__name__ = method_name or name
    method.__qualname__ = f"Value.{method.__name__}"
    method.__doc__ = doc
    return method


def _comparison(symbol: str, compare: Callable[[float, float], bool]) -> Callable[[Value, Any], bool]:
    """``Value.__lt__`` and its kin: compare the data; while this thread traces, record it as a guard."""

    def method(self: Value, other: Any) -> bool:
        result = compare(self.data, _data(other))
        if _special:
            tracer = _state.tracer
            if tracer is not None:
                tracer.compared(symbol, self, other, result)
        return result

    method.__name__ = f"__{compare.__name__}__"
    method.__qualname__ = f"Value.{method.__name__}"
    return method


def _data(x: Any) -> float:
    if isinstance(x, Value):
        return x.data
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"cannot compare a Value with {type(x).__name__}")
    return float(x)


class Value:
    """A scalar that remembers how it was computed.

    >>> x = Value(3.0, label="x")
    >>> y = x * x + 1
    >>> y.backward()
    >>> y.data, x.grad
    (10.0, 6.0)
    """

    # __slots__: no per-node __dict__; no closures either, so a node is in no reference cycle and a
    # dropped graph is freed by reference counting at once. The (usually one or two) parents and their
    # local derivatives sit in four slots, not in two tuples: one allocation per node instead of three,
    # and one object for the cyclic GC to track instead of two. Measured: 144 vs 232 bytes per mul node
    # (its result float included); 74 vs 175 ms of an mlp_step step spent in the collector. A node with
    # more parents (linear) keeps them as tuples in x and dx, and _MANY in y.
    __slots__ = ("data", "grad", "label", "op", "arg", "x", "y", "dx", "dy", "_adjoint", "__weakref__")

    data: float
    grad: float
    label: str
    op: str  # "" for a leaf
    arg: float | None  # the constant of an op that has one: the 3 of x ** 3, a leaky_relu slope
    x: Any  # the first operand (None for a leaf), as in the op's rule (out, x, y); all of them for linear
    y: Any  # the second operand (None for a leaf or a one-operand op); _MANY for linear
    dx: Any  # ∂self/∂x, the local derivative (0.0 when there is no x); all of them for linear
    dy: float  # ∂self/∂y
    _adjoint: Any  # ∂root/∂self while a backward pass runs (see backprop.py); None otherwise

    def __init__(self, data: Number, label: str = "") -> None:
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(
                f"Value needs an int or float, got {type(data).__name__} ({data!r}); "
                "convert it first, e.g. Value(float(x))"
            )
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}")
        try:
            number = float(data)
        except OverflowError:
            raise OverflowError(
                f"Value: the int {str(data)[:12]}... ({len(str(abs(int(data))))} digits) is too large for "
                "a float (at most ~1.8e308); scale it down first"
            ) from None
        _fill(self, number, label, "", None, None, None, 0.0, 0.0)

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands in order, duplicates kept: ``x * x`` has parents ``(x, x)``."""
        x, y = self.x, self.y
        if x is None:
            return ()
        if y is None:
            return (x,)
        return x if y is _MANY else (x, y)

    @property
    def local_derivatives(self) -> tuple[float, ...]:
        """∂self/∂parent, one per parent, in the order of ``parents``."""
        x, y = self.x, self.y
        if x is None:
            return ()
        if y is None:
            return (self.dx,)
        return self.dx if y is _MANY else (self.dx, self.dy)

    local_grads = local_derivatives  # the old name, kept for code written against it

    # -- arithmetic: each a call into the op table -------------------------------------------------
    __add__, __radd__ = _binary_methods(OPS["add"])
    __sub__, __rsub__ = _binary_methods(OPS["sub"])
    __mul__, __rmul__ = _binary_methods(OPS["mul"])
    __truediv__, __rtruediv__ = _binary_methods(OPS["div"])
    _vpow = _binary_methods(OPS["vpow"])[0]  # x ** y of two Values, through __pow__

    def __pos__(self) -> Value:
        return self

    def __pow__(self, other: Operand) -> Value:
        """``x ** 3`` (op pow, the 3 an argument) or ``x ** y`` of two Values (op vpow, two parents)."""
        if isinstance(other, Value):
            return self._vpow(other)
        if isinstance(other, bool) or not isinstance(other, numbers.Real):
            return NotImplemented
        return _unary(OPS["pow"], self, float(other))

    def __rpow__(self, other: Number) -> Value:
        """``2 ** x``: op rpow, one parent (x), the base 2 its argument."""
        if isinstance(other, bool) or not isinstance(other, numbers.Real):
            return NotImplemented
        return _unary(OPS["rpow"], self, float(other))

    # -- functions: each a call into the op table ----------------------------------------------------
    exp = _unary_method("exp", "e ** self.")
    log = _unary_method("log", "The natural logarithm (self must be > 0).")
    sqrt = _unary_method("sqrt", "The square root (self must be >= 0).")
    tanh = _unary_method("tanh", "The hyperbolic tangent.")
    sigmoid = _unary_method("sigmoid", "1 / (1 + e ** -self), stable for any input.")
    relu = _unary_method("relu", "max(self, 0); its local derivative at 0 is 0, and relu(nan) is nan, as in "
                                 "PyTorch.")
    softplus = _unary_method("softplus", "log(1 + e ** self), stable for any input.")
    sin = _unary_method("sin", "The sine.")
    cos = _unary_method("cos", "The cosine.")
    __neg__ = _unary_method("neg", "-self.", "__neg__")
    __abs__ = _unary_method("abs", "|self|; its local derivative at 0 is 0, as in PyTorch.", "__abs__")

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """self where self > 0, else negative_slope * self."""
        return _unary(OPS["leaky_relu"], self, float(negative_slope))

    # -- comparisons read .data; == and hash stay identity, so Values can be dict keys ----------------
    # (while autograd.compile traces a function, each comparison and float() is recorded as a guard)
    __lt__ = _comparison("<", operator.lt)
    __le__ = _comparison("<=", operator.le)
    __gt__ = _comparison(">", operator.gt)
    __ge__ = _comparison(">=", operator.ge)
    __hash__ = object.__hash__

    def __float__(self) -> float:
        if _special:
            tracer = _state.tracer
            if tracer is not None:
                tracer.read(self)
        return self.data

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    # -- copying and pickling ----------------------------------------------------------------------
    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # NOTE: not the default, which recurses once per level of the graph (see copying.py)
        return copying.reduce(self, (self.data, self.grad, self.label, self.op, self.arg, self.x, self.y,
                                      self.dx, self.dy))

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        data, grad, label, op, arg, x, y, dx, dy = state
        _fill(self, data, label, op, arg, x, y, dx, dy)
        self.grad = grad

    # -- graph -------------------------------------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        """True for a node with no parents (an input, a parameter, a constant)."""
        return self.x is None

    def detach(self) -> Constant:
        """A ``Constant`` with the same data and label: cut off from this graph, it gets no grad."""
        return _constant_of(self.data, self.label)

    def backward(self) -> None:
        """Add ∂self/∂node to ``.grad`` of every node this one depends on (intermediate nodes too)."""
        from .backprop import backward

        backward(self)


class Constant(Value):
    """A number that entered the graph as an operand (the 2 of ``2 * x``), or a result built under
    ``no_grad()`` or ``detach()``ed: a leaf that gets no grad."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Constant({self.data!r})"


# -- the one n-ary op ------------------------------------------------------------------------------------
_LINEAR = OPS["linear"]
_linear_derivatives = _LINEAR.derivatives
_NODE_TYPES = frozenset((Value, Constant))


def linear(weights: Iterable[Operand], inputs: Iterable[Operand], bias: Operand | None = None) -> Value:
    """``bias + Σ wᵢ·xᵢ`` as one node (a neuron's weighted sum), whose parents are the weights, the inputs
    and the bias, and whose local derivatives are ∂/∂wᵢ = xᵢ, ∂/∂xᵢ = wᵢ, ∂/∂bias = 1.

    The same number, in the same float operations, as ``w0 * x0 + w1 * x1 + ... + bias`` built from
    ``*`` and ``+`` nodes, in one node instead of 2n: what makes ``nn``'s neurons cheap.

    >>> w, x, b = [Value(2.0), Value(-1.0)], [Value(3.0), Value(4.0)], Value(0.5)
    >>> z = linear(w, x, b)
    >>> z.data, z.op, len(z.parents)
    (2.5, 'linear', 5)
    >>> z.backward()
    >>> [v.grad for v in w], [v.grad for v in x], b.grad
    ([3.0, 4.0], [2.0, -1.0], 1.0)
    """
    # The common case, lists of Values and a Value bias (a neuron), runs inline: the numbers read by two
    # list comprehensions (a number or a foreign object has no .data), every operand's type checked by one
    # C-level pass, the dot product summed by _dot (a neuron of 16 inputs 3.5 -> ~1.9 us). Anything else
    # takes the general path, which converts numbers and names a bad operand.
    if type(weights) is list and type(inputs) is list and type(bias) is Value:
        try:
            wd = [w.data for w in weights]
            xd = [x.data for x in inputs]
        except AttributeError:
            pass
        else:
            parents = (*weights, *inputs, bias)
            if len(wd) == len(xd) and wd and _NODE_TYPES.issuperset(map(type, parents)):
                out = _dot(wd, xd) + bias.data
                if not _MIN <= out <= _MAX:
                    out = weighted_sum(wd, xd, bias.data)  # raises on an overflow of finite operands
                if _special and not _state.grad_enabled:
                    return _constant_of(out)
                # NOTE: _fill inlined, as in _binary_methods (test_value checks both against __slots__): two
                # calls less per neuron, 2,450 vs 2,720 ns for 16 inputs
                rule = _LINEAR.derivatives  # read here, not once: testing.planted_rule swaps a rule
                v = _new(Value)
                v.data = out
                v.grad = 0.0
                v.label = ""
                v.op = "linear"
                v.arg = None
                v.x = parents
                v.y = _MANY
                v.dx = (*xd, *wd, 1.0) if rule is _linear_derivatives else rule(out, *wd, *xd, bias.data)
                v.dy = 0.0
                v._adjoint = None
                if _collector.pending:
                    _collector.hold(v)
                return v
    return _linear_general(weights, inputs, bias)


def _linear_general(weights: Iterable[Operand], inputs: Iterable[Operand], bias: Operand | None) -> Value:
    """linear() for any operands: numbers become Constants, anything else is named in a TypeError."""
    b = bias if bias is None or type(bias) is Value else _as_value(bias)
    if b is None and bias is not None:
        raise TypeError(f"linear: bias must be a Value or a number, got {type(bias).__name__}")
    ws = _operands(weights, "weights")
    xs = _operands(inputs, "inputs")
    if len(ws) != len(xs):
        raise ValueError(f"linear: {len(ws)} weights for {len(xs)} inputs; give one weight per input")
    wd = [w.data for w in ws]
    xd = [x.data for x in xs]
    parents = (*ws, *xs) if b is None else (*ws, *xs, b)
    out = weighted_sum(wd, xd, None if b is None else b.data)
    if (_special and not _state.grad_enabled) or not parents:  # no_grad, or the empty sum 0
        return _constant_of(out)
    return _node(out, "linear", parents, _MANY, _linear_locals(out, wd, xd, None if b is None else b.data),
                 0.0, None)


def _linear_locals(out: float, wd: list[float], xd: list[float], b: float | None) -> tuple[Any, ...]:
    """A linear node's local derivatives: (x..., w..., 1), by the table's rule."""
    rule = _LINEAR.derivatives  # read here, not once: testing.planted_rule swaps a rule
    if rule is _linear_derivatives:  # the table's own rule, without unpacking 2n + 1 numbers into a call
        return (*xd, *wd) if b is None else (*xd, *wd, 1.0)
    return rule(out, *wd, *xd) if b is None else rule(out, *wd, *xd, b)


def _operands(items: Iterable[Operand], what: str) -> list[Value]:
    if isinstance(items, Value) or not isinstance(items, Iterable):
        raise TypeError(f"linear: {what} must be a list of Values or numbers, got {type(items).__name__}")
    out: list[Any] = list(items)
    for i, v in enumerate(out):
        if type(v) is not Value:
            c = _as_value(v)
            if c is None:
                raise TypeError(f"linear: {what}[{i}] must be a Value or a number, got {type(v).__name__}")
            out[i] = c
    return out

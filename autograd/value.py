"""Value: one scalar node of a computation graph. Every operator is a one-line call into the op table."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Union

from . import collector as _collector
from .ops import OPS, Op, singular_local

Number = Union[int, float]
Operand = Union["Value", int, float]


def _binary_methods(op: Op) -> tuple[Callable[[Value, Any], Value], Callable[[Value, Any], Value]]:
    """``Value.__mul__`` and ``__rmul__`` (and their kin): ``op`` on (self, other) and on (other, self)."""

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
        if not _grad_enabled:
            return _leaf(out)
        dx, dy = op.local(out, a, b)  # no binary rule divides by zero: div's forward rejects y == 0
        # Built here, not by _node(): one call less per node (24.8 vs 27.0 ms, mlp_step's forward).
        v = _new(Value)
        v.data = out
        v.grad = 0.0
        v.label = ""
        v.op = op.name
        v.arg = None
        v.x = x
        v.y = y
        v.dx = dx
        v.dy = dy
        v._adjoint = None
        if _collector.pending:  # the first node of a graph holds the cyclic collector back
            _collector.hold(v)
        return v

    def reflected(self: Value, other: Any) -> Value:
        return method(other, self)

    stem = "truediv" if op.name == "div" else op.name
    for fn, name in ((method, f"__{stem}__"), (reflected, f"__r{stem}__")):
        fn.__name__, fn.__qualname__ = name, f"Value.{name}"
    return method, reflected


class Value:
    """A scalar that remembers how it was computed.

    >>> x = Value(3.0, label="x")
    >>> y = x * x + 1
    >>> y.backward()
    >>> y.data, x.grad
    (10.0, 6.0)
    """

    # __slots__: no per-node __dict__; no closures either, so a node is in no reference cycle and a
    # dropped graph is freed by reference counting at once. The (at most two) parents and their local
    # derivatives sit in four slots, not in two tuples: one allocation per node instead of three, and
    # one object for the cyclic GC to track instead of two. Measured: 144 vs 232 bytes per mul node
    # (its result float included); 74 vs 175 ms of an mlp_step step spent in the collector.
    # NOTE: this caps ops at two operands; every op in OPS has arity 1 or 2.
    __slots__ = ("data", "grad", "label", "op", "arg", "x", "y", "dx", "dy", "_adjoint", "__weakref__")

    data: float
    grad: float
    label: str
    op: str  # "" for a leaf
    arg: float | None  # the constant of an op that has one: the 3 of x ** 3, a leaky_relu slope
    x: Value | None  # the first operand (None for a leaf), as in the op's rule (out, x, y)
    y: Value | None  # the second operand (None for a leaf or a one-operand op)
    dx: float  # ∂self/∂x, the local derivative (0.0 when there is no x)
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
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self.op = ""
        self.arg = None
        self.x = self.y = None
        self.dx = self.dy = 0.0
        self._adjoint = None

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands in order, duplicates kept: ``x * x`` has parents ``(x, x)``."""
        if self.x is None:
            return ()
        return (self.x,) if self.y is None else (self.x, self.y)

    @property
    def local_grads(self) -> tuple[float, ...]:
        """∂self/∂parent, one per parent."""
        if self.x is None:
            return ()
        return (self.dx,) if self.y is None else (self.dx, self.dy)

    # -- arithmetic: each a call into the op table -------------------------------------------------
    __add__, __radd__ = _binary_methods(OPS["add"])
    __sub__, __rsub__ = _binary_methods(OPS["sub"])
    __mul__, __rmul__ = _binary_methods(OPS["mul"])
    __truediv__, __rtruediv__ = _binary_methods(OPS["div"])

    def __neg__(self) -> Value:
        return _unary(_NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary(_ABS, self)

    def __pow__(self, other: Operand) -> Value:
        if isinstance(other, Value):
            # x ** y with y a Value: e^(y log x), defined for x > 0 (d/dy needs log x).
            if self.data == 0 and other.data < 0:
                raise ZeroDivisionError(f"pow: 0 ** {other.data!r} is a division by zero (base 0.0)")
            if self.data <= 0:
                raise ValueError(
                    f"pow: a Value exponent needs a positive base, got {self.data!r} ** {other.data!r};"
                    " for a constant exponent pass a number: x ** 3"
                )
            return (other * self.log()).exp()
        if isinstance(other, bool) or not isinstance(other, numbers.Real):
            return NotImplemented
        return _unary(_POW, self, float(other))

    def __rpow__(self, other: Number) -> Value:
        # c ** x = e^(x log c) with c a constant; its log appears as a labelled constant.
        if isinstance(other, bool) or not isinstance(other, numbers.Real):
            return NotImplemented
        if other == 0 and self.data < 0:
            raise ZeroDivisionError(f"pow: 0 ** {self.data!r} is a division by zero (base {other!r})")
        if other <= 0:
            raise ValueError(
                f"pow: a constant base must be positive to raise it to a Value, got {other!r} ** "
                f"{self.data!r}"
            )
        return (self * _constant_of(_LOG.forward(float(other)), f"log({other!r})")).exp()

    # -- functions ---------------------------------------------------------------------------------
    def exp(self) -> Value:
        """e ** self."""
        return _unary(_EXP, self)

    def log(self) -> Value:
        """The natural logarithm (self must be > 0)."""
        return _unary(_LOG, self)

    def sqrt(self) -> Value:
        """The square root (self must be >= 0)."""
        return _unary(_SQRT, self)

    def tanh(self) -> Value:
        """The hyperbolic tangent."""
        return _unary(_TANH, self)

    def sigmoid(self) -> Value:
        """1 / (1 + e ** -self), stable for any input."""
        return _unary(_SIGMOID, self)

    def relu(self) -> Value:
        """max(self, 0); its local derivative at 0 is 0, as in PyTorch."""
        return _unary(_RELU, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """self where self > 0, else negative_slope * self."""
        return _unary(_LEAKY_RELU, self, float(negative_slope))

    def softplus(self) -> Value:
        """log(1 + e ** self), stable for any input."""
        return _unary(_SOFTPLUS, self)

    def sin(self) -> Value:
        """The sine."""
        return _unary(_SIN, self)

    def cos(self) -> Value:
        """The cosine."""
        return _unary(_COS, self)

    # -- comparisons read .data; == and hash stay identity, so Values can be dict keys ----------------
    # (while autograd.compile traces a function, each comparison and float() is recorded as a guard)
    def __lt__(self, other: Operand) -> bool:
        result = self.data < _data(other)
        if _tracer is not None:
            _tracer.compared("<", self, other, result)
        return result

    def __le__(self, other: Operand) -> bool:
        result = self.data <= _data(other)
        if _tracer is not None:
            _tracer.compared("<=", self, other, result)
        return result

    def __gt__(self, other: Operand) -> bool:
        result = self.data > _data(other)
        if _tracer is not None:
            _tracer.compared(">", self, other, result)
        return result

    def __ge__(self, other: Operand) -> bool:
        result = self.data >= _data(other)
        if _tracer is not None:
            _tracer.compared(">=", self, other, result)
        return result

    __hash__ = object.__hash__

    def __float__(self) -> float:
        if _tracer is not None:
            _tracer.read(self)
        return self.data

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    # -- graph -------------------------------------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        """True for a node with no parents (an input, a parameter, a constant)."""
        return self.x is None

    def detach(self) -> Value:
        """A new leaf with the same data and label, cut off from this graph."""
        return Value(self.data, self.label)

    def backward(self) -> None:
        """Add ∂self/∂node to ``.grad`` of every node this one depends on (intermediate nodes too)."""
        from .backprop import backward

        backward(self)


class Constant(Value):
    """A number that entered the graph as an operand (the 2 of ``2 * x``): a leaf that gets no grad."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Constant({self.data!r})"


_NEG, _POW, _ABS, _EXP, _LOG, _SQRT = (OPS[n] for n in ("neg", "pow", "abs", "exp", "log", "sqrt"))
_TANH, _SIGMOID, _RELU, _LEAKY_RELU, _SOFTPLUS, _SIN, _COS = (
    OPS[n] for n in ("tanh", "sigmoid", "relu", "leaky_relu", "softplus", "sin", "cos")
)

_new = object.__new__
_grad_enabled = True
# The recorder of autograd.compile while it traces a function (see compile.py), else None: the
# comparisons and __float__ report to it, so data-dependent control flow becomes a guard.
_tracer: Any = None


def _node(data: float, op: str, x: Value | None, y: Value | None, dx: float, dy: float,
          arg: float | None) -> Value:
    # Skips __init__'s type checks: data is a float the op table just computed.
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v.label = ""
    v.op = op
    v.arg = arg
    v.x = x
    v.y = y
    v.dx = dx
    v.dy = dy
    v._adjoint = None
    return v


def _leaf(data: float) -> Value:
    return _node(data, "", None, None, 0.0, 0.0, None)


def _constant_of(x: float, label: str = "") -> Constant:
    c = _new(Constant)
    c.data = x
    c.grad = 0.0
    c.label = label
    c.op = ""
    c.arg = None
    c.x = c.y = None
    c.dx = c.dy = 0.0
    c._adjoint = None
    return c


def _as_value(x: Any) -> Value | None:
    if isinstance(x, Value):
        return x
    # isinstance(x, numbers.Real) is an abstract-class check; floats and ints, the common operands, skip
    # it: x * 2.0 takes 0.59 instead of 0.89 us.
    if type(x) not in (float, int) and (isinstance(x, bool) or not isinstance(x, numbers.Real)):
        return None
    return _constant_of(float(x))


def _data(x: Any) -> float:
    if isinstance(x, Value):
        return x.data
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"cannot compare a Value with {type(x).__name__}")
    return float(x)


def _unary(op: Op, x: Value, arg: float | None = None) -> Value:
    a = x.data
    if arg is None:
        out = op.forward(a)
        if not _grad_enabled:
            return _leaf(out)
        try:
            (dx,) = op.local(out, a)
        except (ZeroDivisionError, OverflowError):
            (dx,) = singular_local(op.name, a)
    else:
        out = op.forward(a, arg)
        if not _grad_enabled:
            return _leaf(out)
        try:
            (dx,) = op.local(out, a, arg)
        except (ZeroDivisionError, OverflowError):
            (dx,) = singular_local(op.name, a, arg)
    v = _node(out, op.name, x, None, dx, 0.0, arg)
    if _collector.pending:
        _collector.hold(v)
    return v


@contextmanager
def no_grad() -> Iterator[None]:
    """Build no graph inside the block: every result is a leaf.

    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y.parents
    ()
    """
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``, where operations build no graph."""
    return _grad_enabled

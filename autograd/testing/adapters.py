"""Adapters between the conformance suite and an engine under test: the ``Engine`` protocol, an adapter for
any Value class with micrograd's API, one for PyTorch 0-d tensors, and finding an engine by name."""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
from collections.abc import Collection, Sequence
from typing import Any

from .dag import VALUE_OPS, value_source
from .domains import DOMAINS

#: The Value methods that are ops of the table, by the table's name (``x.tanh()`` is op tanh).
METHOD_OPS = ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "leaky_relu", "softplus", "sin", "cos")
#: The operators that are ops of the table, and the dunder method each one needs.
OPERATOR_OPS = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__",
                "neg": "__neg__", "abs": "__abs__", "pow": "__pow__", "rpow": "__rpow__", "vpow": "__pow__"}


class Engine:
    """What ``check_engine`` needs from an autograd engine, for an engine whose API is not micrograd's
    (a Value class with micrograd's API needs no adapter: ``check_engine(MyValue)`` wraps it).

    Subclass it and fill in: ``ops``, the names of the ops of chainrule's op table (``autograd.OPS``:
    add, sub, mul, div, neg, pow for ``x ** c``, rpow for ``c ** x``, vpow for ``x ** y``, abs, exp, log,
    sqrt, tanh, sigmoid, relu, leaky_relu, softplus, sin, cos, linear) that the engine has; and the
    methods that make a leaf, apply an op, run backward, read a value and a grad, and zero grads. For
    higher order, set ``higher_order = True`` and fill in ``gradients``.

    The ``*_code`` templates and ``op_code`` write the same steps in the engine's own API, so that a
    failed check prints an example that runs; the defaults are micrograd's API. ``rtol`` and ``atol``
    are how far a number may be from chainrule's: ``|actual - expected| <= atol + rtol * |expected|``.
    """

    name: str = "engine"
    ops: Collection[str] = frozenset()
    higher_order: bool = False
    rtol: float = 1e-6
    atol: float = 1e-9

    setup_code: str = ""  # the imports an example starts with
    leaf_code: str = "Value({x!r})"
    value_code: str = "{node}.data"
    backward_code: str = "{root}.backward()"
    grad_code: str = "{leaf}.grad"
    zero_grad_code: str = "{leaf}.grad = 0"
    gradients_code: str = ""  # ∂root/∂leaf for each of the leaves, as nodes (higher order only)
    number_code: str = "float({node})"  # a result of gradients(), node or number, as a number

    def leaf(self, x: float) -> Any:
        """A new leaf holding ``x``."""
        raise NotImplementedError

    def apply(self, op: str, operands: Sequence[Any], arg: float | None = None) -> Any:
        """Op ``op`` of the table on ``operands``: nodes of this engine, or numbers for constants (the 2 of
        ``2 * x``). ``arg`` is the op's constant: pow's exponent, rpow's base, leaky_relu's slope."""
        raise NotImplementedError

    def value(self, node: Any) -> float:
        """The number a node holds."""
        raise NotImplementedError

    def backward(self, root: Any) -> None:
        """Backpropagate from ``root``, so that ``grad(leaf)`` reads ∂root/∂leaf (plus what it held)."""
        raise NotImplementedError

    def grad(self, leaf: Any) -> float:
        """The grad a leaf holds (0 for a leaf no backward reached)."""
        raise NotImplementedError

    def zero_grad(self, leaves: Sequence[Any]) -> None:
        """Set the grads of ``leaves`` to 0, as a training loop does between steps."""
        raise NotImplementedError

    def gradients(self, root: Any, leaves: Sequence[Any]) -> list[Any]:
        """∂root/∂leaf for each leaf, as nodes that can be differentiated again (or numbers where the
        derivative is a constant). Only for an engine with ``higher_order = True``."""
        raise NotImplementedError

    def op_code(self, op: str, operands: Sequence[str], arg: float | None) -> str:
        """The code that applies ``op`` to ``operands`` (names, or numbers for constants)."""
        return value_source(op, operands, arg)

    def unsupported(self, op: str) -> str:
        """Why the engine has no ``op``: the detail of that op's unsupported result."""
        return f"{self.name} has no {op}"


class ValueClassEngine(Engine):
    """The adapter for a Value class with micrograd's API: ``Value(x)``, ``.data``, ``.grad``,
    ``.backward()``, ``+ - * /``, ``**``, unary ``-``, numbers on either side, and whichever of the
    methods ``exp log sqrt tanh sigmoid relu leaky_relu softplus sin cos`` it has.

    The ops it has are found by looking: a method of that name (one that raises NotImplementedError is a
    stub, not an op), an operator's method (``__add__``), and for ``**`` a try of ``x ** y`` on two Values
    and of ``2 ** x`` (micrograd refuses the first).
    """

    def __init__(self, cls: type, *, rtol: float = Engine.rtol, atol: float = Engine.atol) -> None:
        self.cls = cls
        self.name = f"{cls.__module__}.{cls.__qualname__}"
        self.rtol, self.atol = rtol, atol
        _check_value_class(cls, self.name)
        self._missing: dict[str, str] = {}
        for op in DOMAINS:
            why = self._probe(op)
            if why:
                self._missing[op] = why
        self.ops = frozenset(op for op in DOMAINS if op not in self._missing)
        self.setup_code = (f"from {cls.__module__} import {cls.__name__}" if cls.__module__ != "__main__"
                           else f"# {cls.__name__}: the class under test, defined in __main__ (run it there)")
        self.leaf_code = cls.__name__ + "({x!r})"

    def _probe(self, op: str) -> str:
        """Why the class lacks ``op``, or "" when it has it."""
        cls, name = self.cls, self.cls.__name__
        if op == "linear":
            return (f"{name} has no n-ary weighted sum (chainrule's linear); an Engine adapter can map "
                    "one to it")
        if op in METHOD_OPS:
            if not callable(getattr(cls, op, None)):
                return f"{name} has no method {op}()"
            try:  # a stub that raises NotImplementedError is not an op yet
                getattr(cls(0.5), op)(*((0.01,) if op == "leaky_relu" else ()))
            except NotImplementedError as error:
                return f"{name}.{op}() raised NotImplementedError{f': {error}' if str(error) else ''}"
            except Exception:  # noqa: BLE001 - any other error is a bug of the op, for its check to report
                pass
            return ""
        dunder = OPERATOR_OPS[op]
        if not callable(getattr(cls, dunder, None)):
            return f"{name} has no {dunder} ({value_source(op, ['x', 'y'], 2)})"
        if op in ("vpow", "rpow"):  # the method exists, but may refuse a Value exponent (micrograd does)
            shown = value_source(op, ["x", "y"], 2)
            try:
                out = cls(1.5) ** cls(0.5) if op == "vpow" else 2 ** cls(0.5)
            except (TypeError, AssertionError, NotImplementedError) as error:
                return f"{name}: {shown} raised {type(error).__name__}: {error}"
            except Exception:  # noqa: BLE001 - any other error is a bug of the op, for its check to report
                return ""
            if out is NotImplemented:
                return f"{name}: {shown} returned NotImplemented"
        return ""

    def unsupported(self, op: str) -> str:
        return self._missing.get(op, super().unsupported(op))

    def leaf(self, x: float) -> Any:
        return self.cls(x)

    def apply(self, op: str, operands: Sequence[Any], arg: float | None = None) -> Any:
        return VALUE_OPS[op](*operands, *(() if arg is None else (arg,)))

    def value(self, node: Any) -> float:
        return float(node.data)

    def backward(self, root: Any) -> None:
        root.backward()

    def grad(self, leaf: Any) -> float:
        return float(leaf.grad)

    def zero_grad(self, leaves: Sequence[Any]) -> None:
        for leaf in leaves:
            leaf.grad = 0


def _check_value_class(cls: type, name: str) -> None:
    """Raise TypeError unless ``cls`` builds Values with micrograd's API."""
    hint = ("give a Value class with micrograd's API (Value(x), .data, .grad, .backward(), + and *) or an "
            "autograd.testing.Engine adapter")
    try:
        v = cls(0.5)
    except Exception as error:  # noqa: BLE001 - any failure means it is not a Value class
        raise TypeError(f"{name} is not an engine: {name}(0.5) raised {type(error).__name__}: {error}; "
                        f"{hint}") from None
    try:
        data = float(v.data)
    except (AttributeError, TypeError, ValueError):
        data = math.nan
    if data != 0.5:
        raise TypeError(f"{name} is not an engine: {name}(0.5).data is not 0.5; {hint}")
    missing = [what for what in ("grad", "backward", "__add__", "__mul__") if not hasattr(v, what)]
    if missing:
        raise TypeError(f"{name} is not an engine: its Values have no {', '.join(missing)}; {hint}")


class TorchEngine(Engine):
    """PyTorch on 0-d float64 tensors, every op of the table, to second order: the reference adapter."""

    name = "torch (0-d float64 tensors)"
    ops = frozenset(DOMAINS)
    higher_order = True
    setup_code = "import torch\nimport torch.nn.functional as F"
    leaf_code = "torch.tensor({x!r}, dtype=torch.float64, requires_grad=True)"
    value_code = "{node}.item()"
    backward_code = "{root}.backward(retain_graph=True)"
    grad_code = "{leaf}.grad.item()"
    zero_grad_code = "{leaf}.grad = None"
    gradients_code = "torch.autograd.grad({root}, [{leaves}], create_graph=True, materialize_grads=True)"
    number_code = "{node}.item()"

    def __init__(self) -> None:
        try:
            import torch
        except ImportError as e:
            raise ImportError("torch_engine needs PyTorch: pip install torch") from e
        self.torch = torch

    def leaf(self, x: float) -> Any:
        return self.torch.tensor(x, dtype=self.torch.float64, requires_grad=True)

    def _tensor(self, x: Any) -> Any:
        return x if isinstance(x, self.torch.Tensor) else self.torch.tensor(x, dtype=self.torch.float64)

    def apply(self, op: str, operands: Sequence[Any], arg: float | None = None) -> Any:
        F = self.torch.nn.functional
        if op == "leaky_relu":
            return F.leaky_relu(operands[0], arg)
        if op == "softplus":
            return F.softplus(operands[0])
        if op == "linear":
            n = len(operands) // 2
            ws, xs = (self.torch.stack([self._tensor(p) for p in part])
                      for part in (operands[:n], operands[n:2 * n]))
            out = self.torch.dot(ws, xs)
            return out + operands[-1] if len(operands) % 2 else out
        return VALUE_OPS[op](*operands, *(() if arg is None else (arg,)))

    def op_code(self, op: str, operands: Sequence[str], arg: float | None) -> str:
        if op == "leaky_relu":
            return f"F.leaky_relu({operands[0]}, {arg!r})"
        if op == "softplus":
            return f"F.softplus({operands[0]})"
        if op == "linear":
            n = len(operands) // 2
            tensor = lambda s: s if s[0].isalpha() else f"torch.tensor({s}, dtype=torch.float64)"
            ws, xs = (", ".join(map(tensor, part)) for part in (operands[:n], operands[n:2 * n]))
            dot = f"torch.dot(torch.stack([{ws}]), torch.stack([{xs}]))"
            return f"{dot} + {operands[-1]}" if len(operands) % 2 else dot
        return value_source(op, operands, arg)

    def value(self, node: Any) -> float:
        return float(node.item())

    def backward(self, root: Any) -> None:
        root.backward(retain_graph=True)  # the graph is kept for a second backward()

    def grad(self, leaf: Any) -> float:
        return 0.0 if leaf.grad is None else float(leaf.grad.item())

    def zero_grad(self, leaves: Sequence[Any]) -> None:
        for leaf in leaves:
            leaf.grad = None

    def gradients(self, root: Any, leaves: Sequence[Any]) -> list[Any]:
        if not isinstance(root, self.torch.Tensor) or not root.requires_grad:
            return [0.0] * len(leaves)  # a constant derivative: the next one is 0
        grads = self.torch.autograd.grad(root, list(leaves), create_graph=True, materialize_grads=True)
        # a derivative that is a constant comes back as a tensor that records nothing: a number, then
        return [g if g.requires_grad else g.item() for g in grads]


def torch_engine() -> Engine:
    """An adapter for PyTorch on 0-d float64 tensors (needs torch): every op, to second order.

    >>> from autograd.testing import run_check
    >>> run_check(torch_engine(), "op_tanh", max_examples=5).status
    'pass'
    """
    return TorchEngine()


# -- finding the engine ------------------------------------------------------------------------------


_HINT = ("an engine is a Value class with micrograd's API, an autograd.testing.Engine, or a function of no "
         "arguments that returns one")


def as_engine(engine: Any) -> Engine:
    """``engine`` as an Engine: an Engine itself; an Engine subclass or a Value class, wrapped; a function
    of no arguments (``torch_engine``), called. Raises TypeError for anything else."""
    if isinstance(engine, Engine):
        return engine
    if isinstance(engine, type):
        return engine() if issubclass(engine, Engine) else ValueClassEngine(engine)
    if inspect.isfunction(engine) or inspect.ismethod(engine):
        name = getattr(engine, "__qualname__", repr(engine))
        try:
            made = engine()
        except TypeError as error:
            raise TypeError(f"{name} is not an engine: calling it with no arguments raised {error}; "
                            f"{_HINT}") from None
        if isinstance(made, (Engine, type)):
            return as_engine(made)
        raise TypeError(f"{name}() returned {type(made).__name__}, not an engine; {_HINT}")
    raise TypeError(f"{_shown(engine)} is not an engine; {_HINT}")


def _shown(x: Any) -> str:
    """x for an error message: ``42 (int)``, ``module 'math'``; at most ~60 characters."""
    if inspect.ismodule(x):
        return f"module {x.__name__!r}"
    text = repr(x)
    return f"{text if len(text) <= 60 else text[:57] + '...'} ({type(x).__name__})"


def load_engine(spec: str) -> Engine:
    """The engine named ``MODULE:ATTR`` (e.g. ``micrograd.engine:Value``), made an Engine by ``as_engine``.

    Raises ValueError with a one-line message when the module or the attribute does not exist, the module
    fails to import, or the attribute is not an engine.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{spec!r} is not MODULE:ATTR; name the engine as in micrograd.engine:Value")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise ValueError(f"no module named {module_name!r}; run from the directory that holds it, or "
                             "pip install it") from None
        raise ValueError(f"importing {module_name!r} failed: {type(error).__name__}: {error}") from None
    except (Exception, SystemExit) as error:  # noqa: BLE001 - any failure of the user's module
        raise ValueError(f"importing {module_name!r} failed: {type(error).__name__}: {error}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{module_name}:{attr}: {getattr(obj, '__name__', module_name)!r} has no "
                             f"attribute {part!r}{hint}")
        obj = getattr(obj, part)
    try:
        return as_engine(obj)
    except (TypeError, ImportError) as error:
        raise ValueError(f"{module_name}:{attr}: {error}") from None


__all__ = ["Engine", "TorchEngine", "ValueClassEngine", "as_engine", "load_engine", "torch_engine"]

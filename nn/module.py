"""Module: the parameter tree behind every layer (dotted names, grads, train/eval and state dicts), and
the model contract that fit relies on (nin, nout, forward_batch; see Module).

A Module finds its parameters by walking its public attributes in the order they were set: a Value is a
parameter, a Module is a child, and a list or tuple is walked item by item. The dotted path to a
parameter is its name (``layers.0.neurons.3.w.1``) and also its ``.label``, which graph pictures show.
Model files (``save``, ``load``, ``ModelFileError``) live in ``nn.serialization``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from autograd import Constant, Value, no_grad

from ._checks import flag, is_int, is_real

__all__ = ["Module"]

# Classes nn.load may build, by name: every Module subclass that defines config(). A file can only
# name one of these, so loading a file never runs code the file brings with it.
_SAVABLE: dict[str, type[Module]] = {}


class Module:
    """Base class: parameters, names, grads, train/eval mode and state dicts for any tree of modules.

    A *model*, what ``nn.fit``, ``evaluate``, ``predict`` and ``nn.plot.decision_regions`` take, is a Module
    that also keeps this contract (Neuron, Layer, MLP and BatchNorm1d do):

    - ``nin``, an int: the features of one sample, a list of ``nin`` numbers or Values;
    - ``nout``, an int: the outputs of one sample;
    - ``forward_batch(batch)``: the outputs of a list of samples, one per sample, each a Value when ``nout``
      is 1 and a list of ``nout`` Values otherwise. The default, ``[self(x) for x in batch]``, needs only
      ``__call__(x)`` returning one sample's output in that shape; override it when a batch is more than
      its samples one by one (BatchNorm1d, and an MLP with batchnorm=True, normalize over it).
    - optionally ``output_activation``: "sigmoid" says the one output is a probability, not a logit, so
      ``fit``'s default loss is binary_cross_entropy and decision_regions shades it as is.

    ``fit``, ``evaluate`` and ``predict`` check it before any update and say what is missing. Why a base
    class and not a ``typing.Protocol``: a model must be a Module anyway (fit trains its
    ``parameters()``, switches ``train()``/``eval()`` and restores ``state_dict()``), so the contract
    lives where those do, and a subclass inherits the default ``forward_batch``.

    >>> class Affine(Module):
    ...     def __init__(self):
    ...         self.w = [Value(2.0), Value(3.0)]
    ...         self.b = Value(0.5)
    >>> m = Affine()
    >>> [name for name, _ in m.named_parameters()]
    ['w.0', 'w.1', 'b']
    >>> m.b.label
    'b'
    """

    # Names of float or list-of-float attributes that are state but not parameters (BatchNorm1d's
    # running statistics): saved by state_dict(), never given to an optimizer.
    _buffers: ClassVar[tuple[str, ...]] = ()
    # Buffers that must be >= 0 (a running variance): a negative one would fail later, in a forward pass.
    _nonnegative_buffers: ClassVar[tuple[str, ...]] = ()
    training: bool = True  # class default, so a subclass need not call super().__init__()
    nin: int  # the model contract (see the class docstring): declared here, set by each model
    nout: int
    # config() entries that only steer initialization: a file may differ from a model in them and still
    # load into it (nn.load(path, model)), since the weights are overwritten anyway.
    _init_only: ClassVar[tuple[str, ...]] = ("seed", "init")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config" in cls.__dict__:
            _SAVABLE[cls.__name__] = cls

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        # Relabel the whole subtree whenever parameters are attached, so the labels always read as
        # paths from the outermost module built so far (a Neuron's "b" becomes "neurons.3.b" once a
        # Layer holds it, then "layers.0.neurons.3.b" once an MLP does).
        if not name.startswith("_") and _holds_parameters(value):
            self.label_parameters()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __call__ (its forward pass)")

    def forward_batch(self, batch: Sequence[Any]) -> list[Any]:
        """The output of every sample of ``batch``: ``[self(x) for x in batch]`` unless a model says more."""
        return [self(x) for x in batch]

    # -- the tree ----------------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (name ``prefix``, "" by default) and every submodule, each once, in order."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._members() if
                        isinstance(m, Module)]
            stack.extend(reversed(children))

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """(dotted name, parameter) pairs in a stable order; a parameter shared twice is listed once.

        The names agree with the parameters' ``.label`` as set when the tree was built.
        """
        # Depth first in attribute order, so a module's parameters come where the module was set.
        seen: set[int] = {id(self)}
        stack: list[tuple[str, Value | Module]] = list(reversed(list(self._members())))
        while stack:
            name, member = stack.pop()
            if id(member) in seen:
                continue
            seen.add(id(member))
            if isinstance(member, Module):
                stack.extend(reversed([(f"{name}.{n}", m) for n, m in member._members()]))
            else:
                yield name, member

    def parameters(self) -> list[Value]:
        """Every parameter, in the order of ``named_parameters()`` (the order optimizers key state by)."""
        return [p for _, p in self.named_parameters()]

    def label_parameters(self) -> None:
        """Set each parameter's ``.label`` to its dotted name from this module."""
        for name, p in self.named_parameters():
            p.label = name

    def _members(self) -> Iterator[tuple[str, Value | Module]]:
        """Direct members: (relative dotted name, Value or child Module), walking lists and tuples."""
        stack: list[tuple[str, Any]] = [
            (name, value) for name, value in vars(self).items() if not name.startswith("_")
        ]
        stack.reverse()
        while stack:
            name, value = stack.pop()
            if isinstance(value, Module) or (isinstance(value, Value) and not isinstance(value, Constant)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                stack.extend(reversed([(f"{name}.{i}", item) for i, item in enumerate(value)]))

    # -- grads and modes ---------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 (``backward()`` adds to grads)."""
        for p in self.parameters():
            p.grad = 0.0

    def train(self, mode: bool = True) -> Module:
        """Put this module and all submodules in training mode (or eval mode with ``mode=False``)."""
        flag("train(mode)", mode)
        for _, module in self.named_modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Put this module and all submodules in evaluation mode (BatchNorm1d uses running statistics)."""
        return self.train(False)

    # -- state -------------------------------------------------------------------------------------
    def _named_buffers(self) -> Iterator[tuple[str, Module, str, int | None]]:
        """(dotted name, owning module, attribute, index or None) for every buffer entry."""
        for prefix, module in self.named_modules():
            for attr in type(module)._buffers:
                value = getattr(module, attr)
                base = f"{prefix}.{attr}" if prefix else attr
                if isinstance(value, list):
                    for i in range(len(value)):
                        yield f"{base}.{i}", module, attr, i
                else:
                    yield base, module, attr, None

    def state_dict(self) -> dict[str, float]:
        """Every parameter's value and every buffer (e.g. running statistics), by dotted name.

        >>> class Scale(Module):
        ...     def __init__(self):
        ...         self.w = Value(2.0)
        >>> Scale().state_dict()
        {'w': 2.0}
        """
        state = {name: p.data for name, p in self.named_parameters()}
        for name, module, attr, i in self._named_buffers():
            value = getattr(module, attr)
            state[name] = float(value[i] if i is not None else value)
        return state

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        """Copy values from ``state`` into this module; the keys must match ``state_dict()`` exactly.

        Everything is checked before anything is written, so on any error the module is unchanged.
        """
        problem = self._state_problem(state)
        if problem is not None:
            error, key, reason = problem
            raise error(f"state[{key!r}] {reason}" if key else reason)
        self._write_state(state)

    def _write_state(self, state: Mapping[str, float]) -> None:
        """Write every value of ``state``, which ``_state_problem`` passed (so nothing fails half-way)."""
        for name, p in self.named_parameters():
            p.data = float(state[name])
        for name, module, attr, i in self._named_buffers():
            current = getattr(module, attr)
            if i is None:
                object.__setattr__(module, attr, type(current)(state[name]))
            else:
                current[i] = float(state[name])

    def _state_problem(self, state: object) -> tuple[type[Exception], str, str] | None:
        """The first thing that keeps ``state`` from loading: (error class, key or "", reason), or None.

        ``load_state_dict`` raises it; ``nn.load`` reports it with the file's name.
        """
        if not isinstance(state, Mapping):
            return TypeError, "", f"load_state_dict needs a dict of name -> float, got {type(state).__name__}"
        params = {name for name, _ in self.named_parameters()}
        buffers = {name: (module, attr) for name, module, attr, _ in self._named_buffers()}
        expected = params | set(buffers)
        missing = sorted(expected - set(state))
        unexpected = sorted(str(k) for k in set(state) - expected)
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} keys (e.g. {', '.join(map(repr, missing[:3]))})")
            if unexpected:
                parts.append(
                    f"{len(unexpected)} unexpected keys (e.g. {', '.join(map(repr, unexpected[:3]))})"
                )
            return ValueError, "", (
                f"state does not fit this {type(self).__name__}: {'; '.join(parts)}; "
                "was it saved from a model of another shape?"
            )
        for name in expected:
            value = state[name]
            if not is_real(value):
                return TypeError, name, f"must be a number, got {type(value).__name__}"
            try:
                as_float = float(value)
            except OverflowError:  # an int such as 10**400
                return ValueError, name, "is too large for a float; a model's values must be finite"
            if not math.isfinite(as_float):
                return ValueError, name, f"is {as_float!r}; a model's values must be finite"
        for name, (module, attr) in buffers.items():
            value = state[name]
            if isinstance(getattr(module, attr), int) and (value != int(value) or value < 0):
                return ValueError, name, f"is {value!r}; it counts, so it must be an int >= 0"
            if attr in type(module)._nonnegative_buffers and value < 0:
                return ValueError, name, f"is {value!r}; {attr} is a variance, so it must be >= 0"
        return None

    @staticmethod
    def _state_size(config: dict[str, Any]) -> int | None:
        """How many entries ``state_dict()`` has for a module built from ``config``; None if unknown.

        Lets ``nn.load`` refuse an oversized config before building anything; return None when the
        config's types are wrong (the constructor then says what is wrong).
        """
        return None

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this module's shape (JSON types only), for ``nn.save``."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot be saved with nn.save: define config() returning the keyword "
            "arguments of its constructor, or save its state_dict() yourself"
        )


def _holds_parameters(value: Any) -> bool:
    if isinstance(value, (Module, Value)):
        return True
    if isinstance(value, (list, tuple)):
        return any(isinstance(item, (Module, Value, list, tuple)) for item in value)
    return False


# ------------------------------------------------------------------------------------------------
# The model contract (see Module's docstring), checked for fit, evaluate, predict and nn.plot


def check_model(model: object, who: str) -> Module:
    """``model`` if it is a Module that keeps the model contract; else TypeError saying what to define."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be an nn.Module (e.g. nn.MLP), got {type(model).__name__}")
    cls = type(model)
    shape = [getattr(model, attr, None) for attr in ("nin", "nout")]
    if not all(is_int(n) and n >= 1 for n in shape):
        raise TypeError(
            f"{who} needs the shape of a {cls.__name__}: set self.nin (features per sample) and self.nout "
            f"(outputs per sample), ints >= 1, in its __init__ (got nin={shape[0]!r}, nout={shape[1]!r}); "
            "see help(nn.Module)"
        )
    if cls.__call__ is Module.__call__ and cls.forward_batch is Module.forward_batch:
        raise TypeError(
            f"{who} needs the forward pass of a {cls.__name__}: define __call__(self, x), the output of one "
            "sample x (or forward_batch(self, batch)); see help(nn.Module)"
        )
    return model


def model_outputs(model: Module, batch: list[Any], who: str) -> list[Any]:
    """``model.forward_batch(batch)``, refused with a TypeError unless it keeps the contract: one output
    per sample, a Value when ``model.nout`` is 1 and a list of ``nout`` Values otherwise."""
    outs = model.forward_batch(batch)
    nout = model.nout
    if not isinstance(outs, list) or len(outs) != len(batch):
        problem = f"returned {_describe(outs)} for {len(batch)} samples, not a list of one output each"
    else:
        problem = next((f"gave {_describe(out)} for sample {i}" for i, out in enumerate(outs)
                        if not _is_output(out, nout)), "")
    if problem:
        what = "a Value" if nout == 1 else f"a list of {nout} Values"
        raise TypeError(f"{who}: {type(model).__name__}.forward_batch {problem}; with nout={nout} each "
                        f"output must be {what} (see help(nn.Module))")
    return outs


def forward_backward(model: Module, params: list[Value], batch: list[Any], labels: list[Any],
                     loss: Callable[[list[Any], list[Any]], Value]) -> tuple[float, list[Any]]:
    """A training step's forward and backward on Values: ``params``' grads zeroed, the batch's outputs, its
    ``loss(outputs, labels)`` and, if that is finite, its backward. Returns (loss, outputs)."""
    for p in params:
        p.grad = 0.0
    outs = model_outputs(model, batch, "fit")
    graph = loss(outs, labels)
    value = graph.data
    if math.isfinite(value):
        graph.backward()
    return value, outs


def argmax(output: Sequence[Value]) -> int:
    """The index of the largest value in one sample's outputs (the first, on a tie): its predicted class."""
    scores = [v.data for v in output]
    return scores.index(max(scores))


@contextlib.contextmanager
def evaluating(model: Module) -> Iterator[None]:
    """Eval mode and no graph for the block; the model's mode is restored after it."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def _is_output(out: Any, nout: int) -> bool:
    if nout == 1:
        return isinstance(out, Value)
    return isinstance(out, (list, tuple)) and len(out) == nout and all(isinstance(v, Value) for v in out)


def _describe(x: Any) -> str:
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    return f"a {type(x).__name__}"

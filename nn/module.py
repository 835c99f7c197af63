"""Module: the parameter tree behind every layer: dotted names, grads, train/eval, state dicts and JSON files.

A Module finds its parameters by walking its public attributes in the order they were set: a Value is a
parameter, a Module is a child, and a list or tuple is walked item by item. The dotted path to a
parameter is its name (``layers.0.neurons.3.w.1``) and also its ``.label``, which graph pictures show.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from autograd import Constant, Value

__all__ = ["FORMAT", "Module", "ModelFileError", "load", "save"]

FORMAT = "chainrule-model"  # the "format" field of every file nn.save writes
_VERSION = 1

# Classes nn.load may build, by name: every Module subclass that defines config(). A file can only
# name one of these, so loading a file never runs code the file brings with it.
_SAVABLE: dict[str, type[Module]] = {}


class ModelFileError(ValueError):
    """A model file that is not valid JSON, not a chainrule model, or does not fit the model."""


class Module:
    """Base class: parameters, names, grads, train/eval mode and state dicts for any tree of modules.

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
    training: bool = True  # class default, so a subclass need not call super().__init__()
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
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) takes a bool, got {type(mode).__name__}")
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
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict needs a dict of name -> float, got {type(state).__name__}")
        params = dict(self.named_parameters())
        buffers = {name: (module, attr, i) for name, module, attr, i in self._named_buffers()}
        expected = set(params) | set(buffers)
        missing = sorted(expected - set(state))
        unexpected = sorted(set(state) - expected)
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} keys (e.g. {', '.join(map(repr, missing[:3]))})")
            if unexpected:
                parts.append(
                    f"{len(unexpected)} unexpected keys (e.g. {', '.join(map(repr, unexpected[:3]))})"
                )
            raise ValueError(
                f"state does not fit this {type(self).__name__}: {'; '.join(parts)}; "
                "was it saved from a model of another shape?"
            )
        for name in expected:
            value = state[name]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"state[{name!r}] must be a number, got {type(value).__name__}")
            if not math.isfinite(value):
                raise ValueError(f"state[{name!r}] is {value!r}; a model's values must be finite")
        for name, (module, attr, _) in buffers.items():
            count = state[name]
            if isinstance(getattr(module, attr), int) and (count != int(count) or count < 0):
                raise ValueError(f"state[{name!r}] is {state[name]!r}; it counts, so it must be an int >= 0")
        for name, p in params.items():
            p.data = float(state[name])
        for name, (module, attr, i) in buffers.items():
            current = getattr(module, attr)
            if i is None:
                object.__setattr__(module, attr, type(current)(state[name]))
            else:
                current[i] = float(state[name])

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
# Files: JSON, written atomically, read without running code


def save(model: Module, path: str | os.PathLike[str]) -> None:
    """Write ``model`` (its class, constructor config and state) to ``path`` as JSON, atomically.

    The file is written to a temporary file in the same folder and then renamed over ``path``, so a crash
    never leaves a partial file behind.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save needs an nn.Module, got {type(model).__name__}")
    name = type(model).__name__
    if _SAVABLE.get(name) is not type(model):
        raise TypeError(
            f"{name} cannot be saved with nn.save: define config() on it (the keyword arguments that "
            "rebuild it), or save its state_dict() yourself"
        )
    state = model.state_dict()
    for key, value in state.items():
        if not math.isfinite(value):
            raise ValueError(f"cannot save: {key} is {value!r}; JSON holds only finite numbers")
    payload = {"format": FORMAT, "version": _VERSION, "class": name, "config": model.config(),
               "state": state}
    text = json.dumps(payload, allow_nan=False, indent=1)
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a saved model is an ordinary file
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(path: str | os.PathLike[str], model: Module | None = None) -> Module:
    """Read a file written by ``save``: build a new model, or load the weights into ``model``.

    Only JSON is parsed and only the nn classes that define ``config()`` can be built, so a file can never
    run code. A file that is not valid JSON (e.g. truncated), not a chainrule model, or whose shape does
    not match ``model`` raises ``ModelFileError`` and leaves ``model`` unchanged.
    """
    target = os.fspath(path)
    with open(target, "rb") as f:
        raw = f.read()
    try:
        payload = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                             object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        raise ModelFileError(
            f"{target} is not a valid chainrule model file (corrupt or truncated JSON: {e}); "
            "save the model again with nn.save"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{target} is not a chainrule model file (no \"format\": \"{FORMAT}\" field)")
    if payload.get("version") != _VERSION:
        raise ModelFileError(
            f"{target} has format version {payload.get('version')!r}; this chainrule reads version {_VERSION}"
        )
    name, config, state = payload.get("class"), payload.get("config"), payload.get("state")
    if not isinstance(name, str) or name not in _SAVABLE:
        raise ModelFileError(
            f"{target} names class {name!r}, which nn.load cannot build; known: {', '.join(sorted(_SAVABLE))}"
        )
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise ModelFileError(f"{target} needs \"config\" and \"state\" objects")
    cls = _SAVABLE[name]
    if model is not None:
        if type(model) is not cls or _shape(cls, model.config()) != _shape(cls, config):
            raise ModelFileError(
                f"{target} holds {name}({_show(config)}), which does not match the model given, "
                f"{type(model).__name__}({_show(_config_or_none(model))}); "
                "call nn.load(path) without a model to build the saved one"
            )
        target_model = model
    else:
        # NOTE: check the size the config implies before building: a few bytes of config such as
        # {"nin": 10**9} would otherwise allocate a billion Values before any key check.
        expected = cls._state_size(config)
        if expected is not None and expected != len(state):
            raise ModelFileError(
                f"{target}: its config describes a {name} with {expected} state values but the file "
                f"holds {len(state)}; the file is damaged or was edited"
            )
        try:
            target_model = cls(**config)
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{target}: cannot build {name} from its config: {e}") from None
    try:
        target_model.load_state_dict(state)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{target}: {e}") from None
    return target_model


def _shape(cls: type[Module], config: dict[str, Any]) -> dict[str, Any]:
    """The config without the entries that only steer initialization (seed, init scheme)."""
    return {k: v for k, v in config.items() if k not in cls._init_only}


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not a finite number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _config_or_none(model: Module) -> dict[str, Any]:
    try:
        return model.config()
    except NotImplementedError:
        return {}


def _show(config: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in config.items())

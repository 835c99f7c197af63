"""``compile`` and ``CompiledFunction``: the calls a user makes, their arguments, the cache of traces,
and which replay (scalar or batched) runs each sample.

NOTE: ``autograd.compile`` is the function defined here, which hides the subpackage of the same name in
the autograd namespace (and, inside this module, the builtin ``compile``). Import names from the package:
``from autograd import compile, CompiledFunction, GuardError``.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

from .. import backprop
from ..value import Value
from .program import COMPARISONS, Program, Spec, operand_count, operand_name
from .python_replay import GuardFailed, Replay, ReplayError, Result, generate, interpret
from .tracing import trace

# NumPy, once a batched call has imported it: `import autograd` loads the standard library only.
np: Any = None
_numpy_missing = False


def _load_numpy() -> Any:
    """NumPy for the batched replay (imported on first use), or None when it is not installed."""
    global np, _numpy_missing
    if np is None and not _numpy_missing:
        try:
            import numpy
        except ImportError:  # pragma: no cover - depends on the environment
            _numpy_missing = True
        else:
            np = numpy
    return np

# A trace is interpreted for its first GENERATE_AFTER replays, then compiled to Python. CPython compiles
# the generated code at ~12 us per op (56 us with the backward: ~5 lines per op), and it then replays
# ~0.5 us (1.0 us) per op faster than the interpreter, so it pays off after ~25 (~55) replays (measured on
# the 4,801 ops of a digits MLP(64, [32, 10]) sample).
GENERATE_AFTER = 50

# A batch goes through the batched replay unless replaying its samples one by one is cheaper, as it is for
# a few samples of a small program: the batched replay costs about BATCHED_US[0] + BATCHED_US[1] per
# kernel (forward and backward) whatever the batch, the scalar one SCALAR_US[0] + SCALAR_US[1] per operand
# of the program, per sample (microseconds, measured: MLP(2, [4, 1]) and a logistic loss, 44 operands
# and 10 kernels, 22 us a sample against 151 us a batch; MLP(2, [16, 16, 1]), 684 operands, 174 against
# 244). It keeps fit(compile=True) from being slower than eager training at a batch size of 1.
BATCHED_US = (40.0, 12.0)
SCALAR_US = (15.0, 0.27)

# A compiled function keeps at most this many traces (one per distinct branch, argument shape and static
# value); past it, calls run eagerly with a warning instead of filling memory.
MAX_TRACES = 64


class GuardError(RuntimeError):
    """A strict compiled function was called with inputs that take another branch than its trace."""


GuardError.__module__ = "autograd.compile"  # where users import it from, and what tracebacks show


# NOTE: named compile as issue 8 asks: it shadows the builtin compile() inside this module and in the
# autograd namespace only (a user's `from autograd import compile` shadows theirs, by their choice).
def compile(
    f: Callable[..., Any],
    *,
    strict: bool = False,
    static_argnums: int | Sequence[int] = (),
    has_aux: bool = False,
) -> CompiledFunction:
    """Trace ``f`` on its first call and replay the recorded program on later calls.

    ``f`` takes numbers, or (nested) lists of numbers, and returns a Value (or a number, or a list of
    them). The first call runs ``f`` on fresh leaves and records every op as one line of a flat program
    (``print(cf.program)``); later calls replay that program on floats, creating no Value, with values
    and gradients bit-identical to eager evaluation. Values that ``f`` reads from outside (a model's
    parameters) are *captured*: every replay reads their current ``.data``, and ``backward`` adds to their
    ``.grad``. The ``*_batch`` methods replay one trace over a whole batch with NumPy.

    >>> from autograd import Value
    >>> w = Value(0.5, label="w")
    >>> loss = compile(lambda x, y: (w * x - y) ** 2)
    >>> loss(2.0, 3.0)                     # traced: 3 ops (mul, sub, pow)
    4.0
    >>> loss.value_and_grad(1.0, 1.0)     # replayed: ∂/∂x, ∂/∂y
    (0.25, (-0.5, 1.0))
    >>> loss.backward(1.0, 1.0)           # adds ∂loss/∂w to w.grad, as loss(...).backward() would
    0.25
    >>> w.grad
    -1.0

    Guards. Python control flow that reads a value (a comparison such as ``x > 0``, or ``float(x)``) is
    recorded while tracing, as a *guard*. A replay re-checks every guard first; inputs that would take
    another branch are traced again (a second program, kept beside the first), or, with ``strict=True``,
    raise ``GuardError``:

    >>> f = compile(lambda x: x * 2 if x > 0 else -x, strict=True)
    >>> f(3.0), f(5.0)                    # one trace, with the guard x > 0 is True
    (6.0, 10.0)
    >>> f(-1.0)
    Traceback (most recent call last):
    ...
    autograd.compile.GuardError: compiled <lambda>: guard `x > 0` was True when traced ...

    The branches inside relu, abs and leaky_relu are not guards: the op's own forward takes them on
    every replay. ``float(v)`` bakes the number into the program, so a new value re-traces.

    NOTE: reading ``.data`` directly is invisible to the tracer: the number read is baked into the
    program as a constant. That is right when the result does not depend on it (the max subtracted in a
    log-sum-exp), and wrong otherwise; compare the Value itself (``x > 0``) to get a guard.

    ``static_argnums`` names arguments passed to ``f`` as they are (an int class label, a flag): each
    distinct value gets its own trace. ``has_aux=True``: ``f`` returns a pair ``(loss, aux)``; gradients
    are of ``loss``, and ``aux`` (say, the model's outputs, for an accuracy) comes back beside it from the
    same replay, as with ``jax.value_and_grad(..., has_aux=True)``. Calling a compiled function with
    Values runs ``f`` eagerly, so it composes with ``grad``, ``backward`` and an enclosing ``compile``.
    """
    if not callable(f):
        raise TypeError(f"compile needs a callable, got {type(f).__name__}")
    for name, flag in (("strict", strict), ("has_aux", has_aux)):
        if not isinstance(flag, bool):
            raise TypeError(f"compile: {name} must be True or False, got {flag!r}")
    return CompiledFunction(f, strict=strict, static_argnums=static_argnums, has_aux=has_aux)


class _Trace:
    """One traced program and the ways to replay it, each built on first use."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self._replays: dict[bool, Replay] = {}
        self._interpreted = {False: 0, True: 0}
        self._plan: Any = None
        self._costs: tuple[float, float] | None = None

    def one_by_one(self, n: int) -> bool:
        """Whether n samples replay faster one at a time (scalar) than as a batch (see BATCHED_US)."""
        if self._costs is None:
            from .lowering import lower  # pure Python: the kernels of the batched replay, counted

            p = self.program
            operands = operand_count(p)
            kernels = len(lower(p, {}).kernels)
            self._costs = (SCALAR_US[0] + SCALAR_US[1] * operands, BATCHED_US[0] + BATCHED_US[1] * kernels)
        scalar, batched = self._costs
        return n * scalar < batched

    def replay(self, flat: Sequence[float], captured: Sequence[float], with_grad: bool,
               checked: bool) -> Result:
        """The scalar replay on the flat inputs, the captured leaves holding the numbers ``captured``."""
        p = self.program
        if checked:
            return interpret(p, flat, captured, with_grad, checked=True)
        run = self._replays.get(with_grad)
        if run is None:
            if self._interpreted[with_grad] < GENERATE_AFTER:
                self._interpreted[with_grad] += 1
                return interpret(p, flat, captured, with_grad, checked=False)
            run = self._replays[with_grad] = generate(p, with_grad)
        try:
            return run(flat, captured)
        except (ArithmeticError, ValueError):
            # a singular local derivative (eager substitutes singular_local) or an op's forward that
            # raised: the interpreter does exactly what eager does, or raises ReplayError
            return interpret(p, flat, captured, with_grad, checked=False)

    @property
    def plan(self) -> Any:
        """The batched replay's plan, every captured leaf in the parameter array (in captured order)."""
        if self._plan is None:
            from .numpy_replay import Plan

            self._plan = Plan(self.program)
        return self._plan


class CompiledFunction:
    """What ``compile(f)`` returns. Call it like ``f``; see ``compile`` for the rules.

    Scalar methods (bit-identical to eager):
      ``cf(*args)`` → the output as floats; ``cf.value_and_grad(*args)`` → ``(value, grads)``, grads
      shaped like the arguments (None for a static one); ``cf.backward(*args)`` → the value, adding
      ∂f/∂leaf to each captured leaf's ``.grad``.
    Batched methods (each argument holds one entry per sample; NumPy if installed, else a loop):
      ``cf.batch(*args)`` → outputs per sample; ``cf.value_and_grad_batch(*args)`` → (values, grads)
      per sample; ``cf.backward_batch(*args, reduction="mean")`` → the mean (or sum) of the outputs,
      adding the mean (or sum) of the per-sample grads to each captured leaf's ``.grad``.
    With ``has_aux``, a value is the pair ``(loss, aux)``, and ``backward_batch`` returns
    ``(reduced loss, [aux of each sample])``.
    Parameters in arrays: ``cf.bind(params)`` → a ``Bound``, whose batched calls read those leaves from
    one NumPy array and add their grads to another (a training loop that updates them as arrays).
    Introspection: ``cf.program`` (the last program used; ``print`` it), ``cf.programs`` (all),
    ``cf.graph`` (the traced output Value, for ``draw_graph``), ``cf.n_traces``.
    """

    def __init__(self, f: Callable[..., Any], *, strict: bool = False,
                 static_argnums: int | Sequence[int] = (), has_aux: bool = False) -> None:
        self.f = f
        self.strict = strict
        self.has_aux = has_aux
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        for i in nums:
            if isinstance(i, bool) or not isinstance(i, int) or i < 0:
                raise TypeError(f"compile: static_argnums must be non-negative ints, got {static_argnums!r}")
        self.static_argnums = frozenset(nums)
        self.name: str = getattr(f, "__name__", type(f).__name__)
        functools.update_wrapper(self, f, updated=())
        self._cache: dict[Hashable, list[_Trace]] = {}
        self._last: _Trace | None = None
        self.n_traces = 0  # traces made so far, including ones past MAX_TRACES that were not kept
        self._warned = False
        try:
            self._signature: inspect.Signature | None = inspect.signature(f)
        except (TypeError, ValueError):
            self._signature = None

    def __repr__(self) -> str:
        return f"<compiled {self.name}: {self.n_traces} trace(s)>"

    # -- introspection ------------------------------------------------------------------------------------
    @property
    def program(self) -> Program:
        """The program the last call replayed; ``print(cf.program)`` shows it as text."""
        if self._last is None:
            raise RuntimeError(f"compiled {self.name} has not been traced yet: call it once first")
        return self._last.program

    @property
    def programs(self) -> list[Program]:
        return [t.program for traces in self._cache.values() for t in traces]

    @property
    def graph(self) -> Any:
        """The traced output (a Value, or a list of them) of ``cf.program``: ``draw_graph(cf.graph)``."""
        return self.program.graph

    # -- scalar calls -------------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError(f"compiled {self.name} takes positional arguments only, got {sorted(kwargs)}")
        parsed = self._parse(args)
        if parsed is None:
            return self.f(*args)  # Values: run eagerly, so the result can be differentiated further
        flat, key = parsed
        (outputs, _, _), t = self._evaluate(flat, key, args, with_grad=False)
        return _unflatten(t.program.output_spec, outputs)

    def value_and_grad(self, *args: Any) -> tuple[float, tuple[Any, ...]]:
        """``(f(*args), grads)`` where grads has one entry per argument, shaped like it (None if static)."""
        flat, key = self._parse_numbers(args, "value_and_grad")
        (outputs, grads, _), t = self._evaluate(flat, key, args, with_grad=True)
        assert grads is not None
        return self._value(t.program.output_spec, outputs), self._structure_grads(args, grads)

    def backward(self, *args: Any) -> float:
        """``f(*args)``, adding ∂f/∂leaf to ``.grad`` of every captured leaf (as ``.backward()`` does)."""
        flat, key = self._parse_numbers(args, "backward")
        (outputs, _, grads), t = self._evaluate(flat, key, args, with_grad=True)
        assert grads is not None
        backprop.add_grads(t.program.captured, grads)
        return self._value(t.program.output_spec, outputs)

    def bind(self, params: Sequence[Value]) -> Bound:
        """This function with the leaves ``params`` held in NumPy arrays: see ``Bound``."""
        return Bound(self, params)

    # -- batched calls ------------------------------------------------------------------------------------
    def batch(self, *args: Any) -> list[Any]:
        """The output for each sample: argument i holds one entry per sample (a list, or an array)."""
        out = self._batch(args, "batch", seed=None, input_grads=False)
        return [_unflatten(spec, values) for spec, values in zip(out.specs(), out.values())]

    def value_and_grad_batch(self, *args: Any) -> tuple[list[float], list[tuple[Any, ...]]]:
        """Per sample: the value and the grads w.r.t. that sample's arguments (as ``value_and_grad``)."""
        out = self._batch(args, "value_and_grad_batch", seed=1.0, input_grads=True)
        samples = _samples(args, out.n)
        grads = [self._structure_grads(sample, g) for sample, g in zip(samples, out.grads())]
        return [self._value(s, v) for s, v in zip(out.specs(), out.values())], grads

    def backward_batch(self, *args: Any, reduction: str = "mean") -> Any:
        """The mean (or sum) of f over the batch; adds the mean (or sum) of ∂f/∂leaf to each captured leaf.

        For a per-sample loss ``f`` this is ``(sum(f(*sample) for sample in batch) / B).backward()`` in
        eager mode: a mini-batch training step in one call. Without arguments, one sample. A term that
        does not depend on the sample (an L2 penalty on captured parameters) can sit inside ``f``: it is
        computed once per batch, and the mean of ``loss_i + r`` is ``mean(loss) + r``. With ``has_aux``,
        returns ``(reduced loss, [aux of each sample])``.
        """
        out = self._backward_batch(args, reduction, _LEAVES)
        reduced = out.reduced
        if self.has_aux:
            return reduced, [_unflatten(s, v)[1] for s, v in zip(out.specs(), out.values())]
        return reduced

    def _backward_batch(self, args: tuple[Any, ...], reduction: str, source: _Source) -> _BatchOut:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"backward_batch: reduction must be 'mean' or 'sum', got {reduction!r}")
        n = _batch_size(args, "backward_batch")
        out = self._batch(args, "backward_batch", seed=1.0 / n if reduction == "mean" else 1.0,
                          input_grads=False, source=source)  # a source: the grads are kept
        total = out.total()
        out.reduced = total / n if reduction == "mean" else total
        return out

    # -- argument handling --------------------------------------------------------------------------------
    def _parse(self, args: tuple[Any, ...]) -> tuple[list[float], Hashable] | None:
        """The flat numbers and the cache key (argument shapes and static values); None if any Value."""
        flat: list[float] = []
        specs: list[Any] = []
        for i, x in enumerate(args):
            if i in self.static_argnums:
                try:
                    hash(x)
                except TypeError:
                    raise TypeError(
                        f"compiled {self.name}: static argument {i} must be hashable (it keys the "
                        f"trace cache), got {type(x).__name__}; pass a tuple instead of a list"
                    ) from None
                specs.append(("static", x))
                continue
            try:
                spec = _flatten(x, flat)
            except _BadArgument:
                raise TypeError(f"compiled {self.name}: {_bad_argument(x, self._arg_name(i))}") from None
            if spec is _HAS_VALUE:
                return None
            specs.append(spec)
        return flat, tuple(specs)

    def _parse_numbers(self, args: tuple[Any, ...], who: str) -> tuple[list[float], Hashable]:
        parsed = self._parse(args)
        if parsed is None:
            raise TypeError(
                f"compiled {self.name}.{who} takes numbers, not Values; pass v.data, or call the "
                "compiled function itself to run f eagerly on Values"
            )
        return parsed

    def _arg_name(self, i: int) -> str:
        if self._signature is not None:
            params = [p for p in self._signature.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if i < len(params):
                return params[i].name
            var = [p for p in self._signature.parameters.values() if p.kind == p.VAR_POSITIONAL]
            if var:
                return f"{var[0].name}[{i - len(params)}]"
        return f"arg{i}"

    def _check_arity(self, args: tuple[Any, ...]) -> None:
        if self._signature is None:
            return
        try:
            self._signature.bind(*args)
        except TypeError as error:
            raise TypeError(f"compiled {self.name}: {error}") from None

    def _structure_grads(self, args: Sequence[Any], grads: Sequence[float]) -> tuple[Any, ...]:
        return tuple(self._restructure(args, list(grads), keep_static=False))

    def _restructure(self, args: Sequence[Any], flat: Sequence[Any], keep_static: bool) -> list[Any]:
        """Cut ``flat`` (one entry per scalar of the non-static arguments) back into the arguments'
        shapes; a static argument becomes itself (``keep_static``) or None."""
        out: list[Any] = []
        position = 0
        for i, x in enumerate(args):
            if i in self.static_argnums:
                out.append(x if keep_static else None)
                continue
            spec = _spec_of(x)
            size = _size(spec)
            out.append(_unflatten(spec, list(flat[position:position + size])))
            position += size
        return out

    # -- evaluation ---------------------------------------------------------------------------------------
    def _evaluate(self, flat: list[float], key: Hashable, args: tuple[Any, ...], with_grad: bool,
                  source: _Source | None = None) -> tuple[Result, _Trace]:
        """Replay the first cached trace whose guards hold, else trace ``f`` again (or raise if strict).

        ``source`` holds the captured leaves' numbers (None: the leaves' own ``.data``)."""
        source = source or _LEAVES
        checked = with_grad and backprop.is_anomaly_enabled()
        traces = self._cache.get(key)
        failure: tuple[_Trace, int | None] | None = None
        if traces:
            for i, t in enumerate(traces):
                if with_grad:
                    self._check_scalar(t.program)
                try:
                    result = t.replay(flat, source.values(t.program), with_grad, checked)
                except GuardFailed as e:
                    failure = failure or (t, e.index)
                    continue
                except ReplayError:
                    failure = failure or (t, None)
                    continue
                if i:
                    traces.insert(0, traces.pop(i))  # most recently used first
                self._last = t
                return result, t
        source.before_trace()  # the trace runs f on the leaves' .data: it must hold the current numbers
        t = self._trace(flat, key, args)
        if failure is not None and self.strict:
            raise GuardError(self._guard_message(failure))
        if with_grad:
            self._check_scalar(t.program)
        self._last = t
        try:
            return t.replay(flat, source.values(t.program), with_grad, checked), t
        except (GuardFailed, ReplayError):
            raise RuntimeError(
                f"compiled {self.name}: replaying a fresh trace on the inputs it was traced with failed; "
                "f must be deterministic (no random numbers, no state changed between calls)"
            ) from None

    def _trace(self, flat: list[float], key: Hashable, args: tuple[Any, ...]) -> _Trace:
        self._check_arity(args)
        names = _flat_names(args, self.static_argnums, self._arg_name)

        def call_args(leaves: list[Value]) -> list[Any]:
            return self._restructure(args, leaves, keep_static=True)

        program = trace(self.f, call_args, flat, names, self.name)
        t = _Trace(program)
        self.n_traces += 1
        traces = self._cache.setdefault(key, [])
        kept = sum(len(ts) for ts in self._cache.values())
        if self.strict and traces:
            return t  # strict: the first trace per key is the only one ever kept
        if kept >= MAX_TRACES:
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"compiled {self.name} has been traced {MAX_TRACES} times; its branches or static "
                    "arguments change with the inputs (float(v) or a comparison on every call?). Further "
                    "new cases run eagerly. Pass strict=True to see which guard fails.",
                    RuntimeWarning,
                    stacklevel=4,
                )
            return t
        traces.insert(0, t)
        return t

    def _check_scalar(self, p: Program) -> None:
        spec = p.output_spec
        if self.has_aux:
            if spec is None or len(spec[1]) != 2 or spec[1][0] is not None:
                raise TypeError(
                    f"compiled {self.name}: with has_aux=True, f must return a pair (loss, aux) with a "
                    "scalar loss"
                )
        elif len(p.outputs) != 1:
            raise TypeError(
                f"compiled {self.name}: gradients need f to return one scalar; it returned "
                f"{len(p.outputs)} values (pass has_aux=True to return (loss, aux))"
            )

    def _value(self, spec: Spec, outputs: list[float]) -> Any:
        """What value_and_grad and backward return: the scalar, or (loss, aux) with has_aux."""
        return _unflatten(spec, outputs) if self.has_aux else outputs[0]

    def _guard_message(self, failure: tuple[_Trace, int | None]) -> str:
        t, index = failure
        p = t.program
        if index is None:
            return (
                f"compiled {self.name}: these inputs take another path than the trace (an op raised on "
                "replay, and tracing again recorded other guards); strict=True never re-traces"
            )
        g = p.guards[index]
        n = p.names
        if g.kind == "float":
            what = f"float({n[g.lhs]}) returned {g.expected!r} when traced (at {g.where}); these inputs " \
                   "give another number"
        else:
            assert g.rhs is not None and g.kind in COMPARISONS
            guard = f"{operand_name(n, g.lhs)} {g.kind} {operand_name(n, g.rhs)}"
            what = (f"guard `{guard}` was {g.expected} when traced (at {g.where}) and is "
                    f"{not g.expected} for these inputs")
        return (
            f"compiled {self.name}: {what}. strict=True never re-traces: drop it to trace the new branch "
            "too, or write the branch without reading a value (relu, abs and leaky_relu branch inside "
            "the op)"
        )

    # -- batches ------------------------------------------------------------------------------------------
    def _batch(self, args: tuple[Any, ...], who: str, seed: float | None, input_grads: bool,
               source: _Source | None = None) -> _BatchOut:
        """Every sample through a replay. The captured leaves' grads, times ``seed``, go to ``source``
        when it is given (backward_batch), nowhere otherwise."""
        _load_numpy()
        n = _batch_size(args, who)
        out = _BatchOut(n, source or _LEAVES, keep_grads=source is not None)
        if np is None:
            for b in range(n):
                self._exactly(args, b, who, seed, out)
        else:
            self._batch_numpy(args, n, who, seed, input_grads, out)
        return out

    def _exactly(self, args: tuple[Any, ...], b: int, who: str, seed: float | None, out: _BatchOut) -> _Trace:
        """Sample b through the scalar replay: eager's errors, guards and re-tracing; returns its trace."""
        sample = tuple(_to_python(a[b]) for a in args)
        flat, key = self._parse_numbers(sample, who)
        (values, gin, gcap), t = self._evaluate(flat, key, sample, with_grad=seed is not None,
                                                source=out.source)
        out.add([b], t.program, [[v] for v in values], None if gin is None else [[g] for g in gin])
        if gcap is not None and out.keep_grads:
            assert seed is not None
            out.source.add_scalar_grads(t.program, [seed * g for g in gcap])
        return t

    def _batch_numpy(self, args: tuple[Any, ...], n: int, who: str, seed: float | None, input_grads: bool,
                     out: _BatchOut) -> None:
        assert np is not None
        columns, specs, statics = self._batch_arrays(args, n, who)
        X = (columns[0] if len(columns) == 1 else np.concatenate(columns, axis=0)) if columns else \
            np.zeros((0, n))
        seeds = None if seed is None else np.full(n, seed)
        members: dict[tuple[Any, ...], Any] = {}
        if statics:
            for b in range(n):
                members.setdefault(tuple(values[b] for values in statics), []).append(b)
        else:
            members[()] = None  # every sample
        for static_values, samples in members.items():
            it = iter(static_values)
            key = tuple(("static", next(it)) if i in self.static_argnums else spec
                        for i, spec in enumerate(specs))
            pending = np.arange(n) if samples is None else np.asarray(samples)
            whole = samples is None  # pending is every sample, in order: X needs no gather
            for t in list(self._cache.get(key, ())):
                if not len(pending):
                    break
                if t.one_by_one(len(pending)):
                    for b in pending:
                        self._exactly(args, int(b), who, seed, out)
                    pending = pending[:0]
                    break
                pending = self._run_plan(t, args, X if whole else X[:, pending], pending, seeds,
                                         input_grads, who, out)
                whole = False
            while len(pending):
                t = self._exactly(args, int(pending[0]), who, seed, out)
                pending = pending[1:]
                if len(pending) and any(t is c for c in self._cache.get(key, ())) \
                        and not t.one_by_one(len(pending)):
                    pending = self._run_plan(t, args, X[:, pending], pending, seeds, input_grads, who, out)

    def _run_plan(self, t: _Trace, args: tuple[Any, ...], X: Any, pending: Any, seeds: Any,
                  input_grads: bool, who: str, out: _BatchOut) -> Any:
        """Run t's plan on the pending samples (their inputs X), keep the results of those it fits, return
        the others."""
        if seeds is not None:
            self._check_scalar(t.program)
        seed = None if seeds is None else float(seeds[0])
        source = out.source
        plan = source.plan(t)
        anomaly = seeds is not None and backprop.is_anomaly_enabled()
        grads, direct = source.grad_buffer(plan, anomaly or not out.keep_grads)
        params, live = source.param_array(plan), source.live_values(plan)
        result = plan.run(X, params, live, None if seeds is None else seeds[:len(pending)], input_grads,
                          grads)
        if result.all_ok:  # the common case: nothing left for another trace or the exact replay
            self._keep(t, args, pending, result, grads, direct, seed, who, out)
            self._last = t
            return pending[:0]
        ok = result.ok  # all_ok is False, so some sample failed (Plan.run)
        if ok.any():
            fits = pending[ok]
            if seeds is None:
                self._keep(t, args, fits, result._replace(outputs=result.outputs[:, ok],
                                                          input_grads=None), grads, direct, seed, who, out)
            else:
                # the backward runs only when every sample fits: run it on those that do
                again = plan.run(X[:, ok], params, live, seeds[:len(fits)], input_grads, grads)
                if again.all_ok:
                    self._keep(t, args, fits, again, grads, direct, seed, who, out)
                else:  # a float() guard that held by an ulp (BLAS adds in its own order): exactly
                    for b in fits:
                        self._exactly(args, int(b), who, seed, out)
        for b in pending[(result.failed_guard < 0) & ~ok]:
            self._exactly(args, int(b), who, seed, out)  # a checked op left the finite range
        self._last = t
        return pending[result.failed_guard >= 0]

    def _keep(self, t: _Trace, args: tuple[Any, ...], cols: Any, result: Any, grads: Any, direct: bool,
              seed: float | None, who: str, out: _BatchOut) -> None:
        assert np is not None
        if seed is not None and backprop.is_anomaly_enabled():
            gin, glive = result.input_grads, result.live_grads
            finite = (np.isfinite(grads).all() and np.isfinite(glive).all()
                      and (gin is None or np.isfinite(gin).all()))
            if not finite:
                for b in cols:
                    self._exactly(args, int(b), who, seed, out)  # raises eager's FloatingPointError
                return
        out.add(cols, t.program, result.outputs, result.input_grads)
        if seed is not None and out.keep_grads:
            out.source.add_plan_grads(out.source.plan(t), grads, direct, result.live_grads)

    def _batch_arrays(self, args: tuple[Any, ...], n: int,
                      who: str) -> tuple[list[Any], list[Any], list[Any]]:
        """Each non-static argument as an (numbers per sample, n) array; the static ones as lists."""
        assert np is not None
        columns: list[Any] = []
        specs: list[Any] = []
        statics: list[Any] = []
        for i, a in enumerate(args):
            if i in self.static_argnums:
                values = [_to_python(v) for v in a]
                for v in values:
                    try:
                        hash(v)
                    except TypeError:
                        raise TypeError(
                            f"compiled {self.name}.{who}: static argument {i} must hold hashable values, "
                            f"got {type(v).__name__}"
                        ) from None
                statics.append(values)
                specs.append(None)
                continue
            try:
                arr = np.asarray(a)
            except ValueError:
                raise ValueError(
                    f"compiled {self.name}.{who}: the samples of argument {self._arg_name(i)} differ in "
                    "shape; every sample must have the same shape"
                ) from None
            if arr.dtype.kind not in "fiu":
                first = _to_python(a[0])
                raise TypeError(
                    f"compiled {self.name}.{who}: argument {self._arg_name(i)} must hold one number (or "
                    f"list of numbers) per sample, got {type(first).__name__} ({first!r:.60})"
                )
            if isinstance(a, np.ndarray):  # one sample's shape is the array's, less its first axis
                spec = _shape_spec(arr.shape[1:])
            else:
                spec = _spec_of(_to_python(a[0]))
                if math.prod(arr.shape[1:]) != _size(spec):
                    raise ValueError(
                        f"compiled {self.name}.{who}: argument {self._arg_name(i)} has shape {arr.shape}; "
                        f"every sample must have the shape of the first"
                    )
            specs.append(spec)
            columns.append(arr.reshape(n, -1).T.astype(np.float64))
        return columns, specs, statics


class _BatchOut:
    """The results of a batched call, as parts from whichever replay handled which samples."""

    def __init__(self, n: int, source: _Source, keep_grads: bool) -> None:
        self.n = n
        self.source = source
        self.keep_grads = keep_grads  # add the captured leaves' grads to the source
        self.reduced = 0.0  # backward_batch: the mean (or sum) of the first outputs
        # (sample indices, program, outputs (n_outputs, k), input grads (n_inputs, k) or None)
        self.parts: list[tuple[Any, Program, Any, Any]] = []

    def add(self, cols: Any, p: Program, outputs: Any, input_grads: Any) -> None:
        self.parts.append((cols, p, outputs, input_grads))

    def _per_sample(self, which: int) -> list[Any]:
        rows: list[Any] = [None] * self.n
        for part in self.parts:
            data: Any = part[which]
            if np is not None and isinstance(data, np.ndarray):
                columns = data.T.tolist()
            else:
                columns = [list(col) for col in zip(*data)]
            for b, column in zip(list(part[0]), columns):
                rows[int(b)] = column
        return rows

    def values(self) -> list[list[float]]:
        return self._per_sample(2)

    def grads(self) -> list[list[float]]:
        return self._per_sample(3)

    def array(self) -> Any:
        """The outputs as an (n, outputs per sample) array (every part from programs of one output shape)."""
        assert np is not None
        if len(self.parts) == 1 and isinstance(self.parts[0][2], np.ndarray):
            return self.parts[0][2].T
        width = len(self.parts[0][1].outputs)
        out = np.empty((self.n, width))
        for cols, p, outputs, _ in self.parts:
            if len(p.outputs) != width:
                raise ValueError("the traces of this function return outputs of different shapes; use "
                                 "CompiledFunction.batch, which returns them per sample")
            out[np.asarray(cols, dtype=np.intp)] = np.asarray(outputs, dtype=np.float64).T
        return out

    def specs(self) -> list[Spec]:
        specs: list[Spec] = [None] * self.n
        for cols, p, _, _ in self.parts:
            for b in list(cols):
                specs[int(b)] = p.output_spec
        return specs

    def total(self) -> float:
        """The sum of the (first) outputs, adding samples in order as ``sum(losses)`` does."""
        if len(self.parts) == 1 and np is not None and isinstance(self.parts[0][2], np.ndarray):
            return sum(self.parts[0][2][0].tolist())
        return sum(v[0] for v in self.values())


# -- where a batched call reads the captured leaves and adds their grads -----------------------------------


class _Source:
    """The captured leaves' own ``.data`` and ``.grad`` (what CompiledFunction's calls use)."""

    def values(self, p: Program) -> list[float]:
        """The captured leaves' numbers, in the program's order."""
        return [v.data for v in p.captured]

    def before_trace(self) -> None:
        """Called before f is traced (on the leaves' .data)."""

    def plan(self, t: _Trace) -> Any:
        return t.plan

    def param_array(self, plan: Any) -> Any:
        assert np is not None
        return np.array(self.values(plan.program), dtype=np.float64)

    def live_values(self, plan: Any) -> list[float]:
        return []  # every captured leaf is in the parameter array

    def grad_buffer(self, plan: Any, apart: bool) -> tuple[Any, bool]:
        """An array the batched replay adds the parameters' grads to, and whether it is their home (never
        with ``apart``: grads that may not be kept)."""
        assert np is not None
        return np.zeros(len(plan.program.captured)), False

    def add_plan_grads(self, plan: Any, grads: Any, added: bool, live_grads: Any) -> None:
        backprop.add_grads(plan.program.captured, grads.tolist())

    def add_scalar_grads(self, p: Program, grads: list[float]) -> None:
        backprop.add_grads(p.captured, grads)


_LEAVES = _Source()


class Bound(_Source):
    """A compiled function whose batched calls read the leaves ``params`` from one NumPy array, ``data``,
    and add their grads to another, ``grad`` (``params[i]`` is ``data[i]``): what a training loop that
    updates the parameters as arrays uses (``nn.fit(compile=True)`` does). Made by ``cf.bind(params)``.

    ``data`` starts as the leaves' ``.data``; the leaves are not updated as ``data`` changes until
    ``write()`` copies it into them (``read()`` copies the other way). Captured leaves outside ``params``
    are read from their ``.data`` and get their grads in ``.grad``, as in ``CompiledFunction``'s calls.
    A new trace (a new branch) writes ``data`` into the leaves first, so f is traced on the current numbers.

    >>> from autograd import Value, compile
    >>> w = Value(2.0)
    >>> bound = compile(lambda x: (w * x) ** 2).bind([w])
    >>> bound.backward_batch([1.0, 3.0])         # mean of (2x)^2; adds the mean of 2 (2x) x to grad
    20.0
    >>> bound.grad.tolist(), w.grad              # the leaf's own .grad is untouched
    ([20.0], 0.0)
    >>> bound.data -= 0.1 * bound.grad           # a gradient step on the array
    >>> bound.batch([1.0]).tolist(), w.data      # the replay reads the array; the leaf waits for write()
    ([[0.0]], 2.0)
    >>> bound.write(); w.data
    0.0
    """

    def __init__(self, compiled: CompiledFunction, params: Sequence[Value]) -> None:
        if not isinstance(compiled, CompiledFunction):
            raise TypeError(f"Bound needs a CompiledFunction, got {type(compiled).__name__}")
        if isinstance(params, Value) or not isinstance(params, (list, tuple)):
            raise TypeError(f"bind: params must be a list of Values, got {type(params).__name__}")
        self.params: tuple[Value, ...] = tuple(params)
        self._position: dict[int, int] = {}
        for i, v in enumerate(self.params):
            if not isinstance(v, Value):
                raise TypeError(f"bind: params[{i}] must be a Value, got {type(v).__name__}")
            if id(v) in self._position:
                raise ValueError(f"bind: params[{i}] appears twice; pass each leaf once")
            self._position[id(v)] = i
        if _load_numpy() is None:
            raise ImportError("bind keeps parameters in NumPy arrays: pip install numpy")
        self.compiled = compiled
        self.data = np.array([v.data for v in self.params], dtype=np.float64)
        self.grad = np.zeros(len(self.params))
        self._plans: dict[_Trace, Any] = {}
        # per program (by id, the program kept alive beside it): each captured leaf's entry, -1 if live
        self._index: dict[int, tuple[Program, list[int]]] = {}

    def __repr__(self) -> str:
        return f"<{self.compiled!r} bound to {len(self.params)} parameters>"

    # -- the arrays ---------------------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every entry of ``grad`` to 0."""
        self.grad.fill(0.0)

    def read(self) -> None:
        """Copy the leaves' ``.data`` into ``data``."""
        self.data[:] = [v.data for v in self.params]

    def write(self) -> None:
        """Copy ``data`` into the leaves' ``.data``."""
        for v, x in zip(self.params, self.data.tolist()):
            v.data = x

    # -- calls --------------------------------------------------------------------------------------------
    def batch(self, *args: Any) -> Any:
        """The outputs of every sample as an array, one row per sample (flattened as in the program)."""
        return self.compiled._batch(args, "batch", seed=None, input_grads=False, source=self).array()

    def backward_batch(self, *args: Any, reduction: str = "mean") -> Any:
        """As ``CompiledFunction.backward_batch``, reading ``data`` and adding to ``grad``. With
        ``has_aux``, returns ``(reduced loss, aux)`` with aux an array, one row per sample."""
        out = self.compiled._backward_batch(args, reduction, self)
        if not self.compiled.has_aux:
            return out.reduced
        return out.reduced, out.array()[:, 1:]

    # -- the source of a batched call ---------------------------------------------------------------------
    def _entries(self, p: Program) -> list[int]:
        found = self._index.get(id(p))
        if found is None:
            found = self._index[id(p)] = (p, [self._position.get(id(v), -1) for v in p.captured])
        return found[1]

    def values(self, p: Program) -> list[float]:
        data = self.data.tolist()
        return [data[i] if i >= 0 else v.data for i, v in zip(self._entries(p), p.captured)]

    def before_trace(self) -> None:
        self.write()

    def plan(self, t: _Trace) -> Any:
        plan = self._plans.get(t)
        if plan is None:
            from .numpy_replay import Plan

            p = t.program
            rows = {s: i for s, i in zip(p.captured_slots, self._entries(p)) if i >= 0}
            plan = self._plans[t] = Plan(p, rows)
        return plan

    def param_array(self, plan: Any) -> Any:
        return self.data

    def live_values(self, plan: Any) -> list[float]:
        captured = plan.program.captured
        return [captured[i].data for i in plan.live]

    def grad_buffer(self, plan: Any, apart: bool) -> tuple[Any, bool]:
        # under detect_anomaly a batch's grads are checked before any is kept
        return (np.zeros_like(self.grad), False) if apart else (self.grad, True)

    def add_plan_grads(self, plan: Any, grads: Any, added: bool, live_grads: Any) -> None:
        if not added:
            self.grad += grads
        captured = plan.program.captured
        for i, g in zip(plan.live, live_grads.tolist()):
            captured[i].grad += g

    def add_scalar_grads(self, p: Program, grads: list[float]) -> None:
        for i, v, g in zip(self._entries(p), p.captured, grads):
            if i >= 0:
                self.grad[i] += g
            else:
                v.grad += g


Bound.__module__ = CompiledFunction.__module__ = "autograd.compile"


_HAS_VALUE: Any = object()
_FLAT_SPECS: dict[tuple[type, int], Spec] = {}  # the shape of a flat list of n numbers, made once


class _BadArgument(Exception):
    """Internal: an argument holds something other than numbers and lists; _bad_argument says what."""


def _flatten(x: Any, flat: list[float]) -> Any:
    """Append x's numbers to flat; return its shape (None for a number), or _HAS_VALUE for a Value."""
    if type(x) is float:
        flat.append(x)
        return None
    if isinstance(x, (list, tuple)):
        if x and all(type(v) is float for v in x):  # the common case: a flat list of floats
            flat.extend(x)
            key = (type(x), len(x))
            spec = _FLAT_SPECS.get(key)
            if spec is None:
                spec = _FLAT_SPECS[key] = (type(x), (None,) * len(x))
            return spec
        if not x:
            raise _BadArgument
        specs = []
        for xi in x:
            spec = _flatten(xi, flat)
            if spec is _HAS_VALUE:
                return _HAS_VALUE
            specs.append(spec)
        return (type(x), tuple(specs))
    if isinstance(x, Value):
        return _HAS_VALUE
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise _BadArgument
    flat.append(float(x))
    return None


def _bad_argument(x: Any, path: str) -> str | None:
    """What is wrong with argument x (named path), or None: the slow walk behind a _BadArgument."""
    if isinstance(x, (list, tuple)):
        if not x:
            return f"argument {path} is an empty {type(x).__name__}"
        for i, xi in enumerate(x):
            found = _bad_argument(xi, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(x, Value) or (not isinstance(x, bool) and isinstance(x, numbers.Real)):
        return None
    return f"argument {path} must be a number or a list of numbers, got {type(x).__name__} ({x!r:.60})"


_SHAPE_SPECS: dict[tuple[int, ...], Spec] = {}


def _shape_spec(shape: tuple[int, ...]) -> Spec:
    """The spec of one sample of an array whose samples have this shape: nested lists (cached: working it
    out for a row of 64 numbers took a third of a small batch's overhead)."""
    spec = _SHAPE_SPECS.get(shape)
    if spec is None and shape:
        spec = _SHAPE_SPECS[shape] = (list, (_shape_spec(shape[1:]),) * shape[0])
    return spec


def _spec_of(x: Any) -> Spec:
    if isinstance(x, list) and x and all(type(v) is float for v in x):
        return _flatten(x, [])  # a flat list of floats: the cached spec
    if isinstance(x, (list, tuple)):
        return (type(x), tuple(_spec_of(xi) for xi in x))
    if np is not None and isinstance(x, np.ndarray) and x.ndim:
        return (list, tuple(_spec_of(xi) for xi in x))
    return None


def _size(spec: Spec) -> int:
    if spec is None:
        return 1
    return sum(_size(s) for s in spec[1])


# NOTE: the recursive helpers below are module functions, not closures that call themselves: such a
# closure is a reference cycle (function -> cell -> function), which kept every traced graph alive, and
# the collector hold on, until the next full collection.
def _unflatten(spec: Spec, flat: list[Any]) -> Any:
    return flat[0] if spec is None else _build(spec, iter(flat))


def _build(spec: Spec, it: Iterator[Any]) -> Any:
    if spec is None:
        return next(it)
    kind, children = spec
    items = [_build(c, it) for c in children]
    return tuple(items) if kind is tuple else items


def _flat_names(args: tuple[Any, ...], static: frozenset[int], name: Callable[[int], str]) -> list[str]:
    names: list[str] = []
    for i, x in enumerate(args):
        if i not in static:
            _leaf_names(x, name(i), names)
    return names


def _leaf_names(x: Any, path: str, names: list[str]) -> None:
    if isinstance(x, (list, tuple)):
        for i, xi in enumerate(x):
            _leaf_names(xi, f"{path}[{i}]", names)
    else:
        names.append(path)


def _batch_size(args: tuple[Any, ...], who: str) -> int:
    if not args:
        return 1  # a function of no arguments (a regularizer over captured parameters) is one sample
    sizes = set()
    for i, a in enumerate(args):
        try:
            sizes.add(len(a))
        except TypeError:
            raise TypeError(
                f"{who}: argument {i} must hold one entry per sample (a list or an array), got "
                f"{type(a).__name__}"
            ) from None
    if len(sizes) != 1:
        raise ValueError(f"{who}: the arguments hold different numbers of samples: {sorted(sizes)}")
    (n,) = sizes
    if n == 0:
        raise ValueError(f"{who}: got an empty batch")
    return n


def _samples(args: tuple[Any, ...], n: int) -> list[tuple[Any, ...]]:
    return [tuple(_to_python(a[b]) for a in args) for b in range(n)]


def _to_python(x: Any) -> Any:
    if np is not None and isinstance(x, np.ndarray):
        return x.tolist()
    if np is not None and isinstance(x, np.generic):
        return x.item()
    return x

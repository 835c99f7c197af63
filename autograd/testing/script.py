"""The counterexample a failed check prints: a script that runs steps on the engine under test and writes
each one as a line of code in the engine's own API, annotated with what it gave and what was expected."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .adapters import Engine
from .dag import RandomGraph
from .domains import DOMAINS

_MAX_MESSAGE = 200  # characters of an engine's error message shown


class Failure(Exception):
    """A counterexample: a one-line detail and the example code (raised inside a Hypothesis search)."""

    def __init__(self, detail: str, example: str) -> None:
        super().__init__(detail)
        self.detail, self.example = detail, example


class _Stop(Exception):
    """An engine step raised: the example ends with that step."""


def describe(error: BaseException) -> str:
    """``ZeroDivisionError: 0.0 cannot be raised to a negative power``: the type and the first line."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "..."
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _numbers(xs: Sequence[float]) -> str:
    return " ".join(repr(x) for x in xs)


def where(engine: Engine, graph: RandomGraph, point: Sequence[float]) -> str:
    """Where a case was: ``x0 * x1 at x0 = 1.5, x1 = -0.5`` (one op), or ``a graph of 5 ops at ...``."""
    at = ", ".join(f"x{i} = {x!r}" for i, x in enumerate(point))
    if len(graph.nodes) == 1:
        return f"{graph.expressions(engine.op_code)[0]} at {at}"
    return f"a graph of {len(graph.nodes)} ops at {at}"


class Script:
    """Runs steps on the engine and writes each one as a line of code in the engine's API, annotated with
    what it gave and what chainrule expects: the example a failed check prints."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lines = [*engine.setup_code.splitlines(), ""] if engine.setup_code else []
        self.problem: str | None = None  # the first thing found wrong, in one line
        self.stopped = False

    def __enter__(self) -> Script:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> bool:
        return kind is _Stop  # an engine step raised: the rest of the block is skipped

    def _found(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    def _raised(self, what: str, error: Exception) -> _Stop:
        """The step just written raised ``error``: mark it, make it the problem, stop the example."""
        self.lines[-1] += f"  # raises {describe(error)}"
        self._found(f"{what} raised {describe(error)}")
        self.stopped = True
        return _Stop()

    def run(self, code: str, fn: Callable[..., Any], *args: Any) -> Any:
        """One step: ``code`` is how the engine's user writes it, ``fn(*args)`` runs it."""
        self.lines.append(code)
        try:
            return fn(*args)
        except Exception as error:  # noqa: BLE001 - whatever the engine raises is what we report
            raise self._raised(code.splitlines()[0], error) from None

    def build(self, graph: RandomGraph, point: Sequence[float]) -> tuple[list[Any], Any]:
        """The graph on the engine at ``point``: its leaves x0, x1, ... and its output ``out``."""
        leaves = [self.run(f"x{i} = {self.engine.leaf_code.format(x=x)}", self.engine.leaf, x)
                  for i, x in enumerate(point)]
        expressions = graph.expressions(self.engine.op_code)
        names = iter([*(f"v{j}" for j in range(len(expressions) - 1)), "out"])
        lines = iter(expressions)

        def step(op: str) -> Callable[..., Any]:
            takes_arg = bool(DOMAINS[op].args)  # pow, rpow, leaky_relu: the last operand is the constant

            def apply(*p: Any) -> Any:
                operands, arg = (p[:-1], p[-1]) if takes_arg else (p, None)
                return self.run(f"{next(names)} = {next(lines)}", self.engine.apply, op, operands, arg)

            return apply

        out = graph.evaluate({op: step(op) for op in graph.op_names()}, *leaves)
        return leaves, out

    def read(self, codes: Sequence[str], fn: Callable[[], Sequence[Any]]) -> tuple[int, list[float]]:
        """Read numbers (``fn()``, written as ``print(*codes)``); returns the line and the numbers."""
        self.lines.append(f"print({', '.join(codes)})")
        try:
            return len(self.lines) - 1, [float(x) for x in fn()]
        except Exception as error:  # noqa: BLE001 - whatever the engine raises is what we report
            raise self._raised(f"reading {', '.join(codes)}", error) from None

    def expect(self, line: int, codes: Sequence[str], actual: Sequence[float], expected: Sequence[float],
               note: str = "") -> bool:
        """Annotate a read with the expected numbers; a mismatch becomes the problem. True if all match."""
        wrong = [i for i, (a, e) in enumerate(zip(actual, expected)) if not self.close(a, e)]
        self.lines[line] += (f"  # expected {_numbers(expected)}{note}, got {_numbers(actual)}"
                             + ("  <- wrong" if wrong else ""))
        if wrong:
            i = wrong[0]
            self._found(f"{codes[i]} is {actual[i]!r}, expected {expected[i]!r}{note}")
        return not wrong

    def check(self, codes: Sequence[str], fn: Callable[[], Sequence[Any]], expected: Sequence[float],
              note: str = "") -> None:
        """Read and compare; after a step raised, only write what the read would be expected to show."""
        if self.stopped:
            self.lines.append(f"print({', '.join(codes)})  # expected {_numbers(expected)}{note}")
            return
        with self:
            line, actual = self.read(codes, fn)
            self.expect(line, codes, actual, expected, note)

    def close(self, actual: float, expected: float) -> bool:
        # NOTE: `<=`, so a nan on either side counts as a mismatch
        return abs(actual - expected) <= self.engine.atol + self.engine.rtol * abs(expected)

    def finish(self, where: str) -> None:
        """Raise ``Failure`` with the example if anything was found wrong."""
        if self.problem is not None:
            raise Failure(f"{where}: {self.problem}" if where else self.problem, "\n".join(self.lines))

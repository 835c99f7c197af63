"""The conformance suite for any scalar autograd engine: its values and grads against chainrule's, op by op,
with constants, with reused nodes and on random DAGs, down a deep chain, over repeated backward passes and
to second order. Each check is a named result; a failure comes with the smallest counterexample found,
written as code in the engine's own API."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from ..functional import hessian, value_and_grad
from .adapters import Engine, as_engine
from .dag import Const, Node, RandomGraph
from .domains import DOMAINS
from .report import FAIL, PASS, UNSUPPORTED, CheckResult, EngineReport
from .script import Failure, Script, describe, where
from .strategies import constant_cases, graphs_and_points, op_cases, op_simple_cases

DEFAULT_RECURSION_LIMIT = 1000  # CPython's, as in a fresh interpreter
# The deep chain runs in a thread with this much stack: room for the C frames of 1,000 nested Python calls
# whatever the engine does in them (only virtual memory: pages are touched as they are used).
_STACK_BYTES = 256 * 1024 * 1024

#: The checks, in the order they run: one per op of the table, then the structural ones.
CHECKS: tuple[str, ...] = (*(f"op_{op}" for op in DOMAINS), "constants", "reuse", "random_dags",
                           "deep_chain", "repeated_backward", "higher_order")


@dataclass(frozen=True)
class _Budget:
    max_examples: int
    seed: int
    depth: int


# -- the reference ---------------------------------------------------------------------------------


def _reference(graph: RandomGraph, point: Sequence[float]) -> tuple[float, list[float]]:
    """chainrule's value and grads (its engine is checked against mpmath by this project's tests)."""
    value, grads = value_and_grad(graph, argnums=tuple(range(len(point))))(*map(float, point))
    return value, list(grads)


def _reference_hessian(graph: RandomGraph, point: Sequence[float]) -> list[list[float]]:
    return [list(row) for row in hessian(graph)(*map(float, point))]


# -- one case, three ways --------------------------------------------------------------------------


def _check_case(engine: Engine, graph: RandomGraph, point: Sequence[float]) -> None:
    """Build, backward once, and compare the output's value and every leaf's grad with chainrule's."""
    value, grads = _reference(graph, point)
    s = Script(engine)
    leaves: list[Any] = []
    out: Any = None
    with s:
        leaves, out = s.build(graph, point)
        s.run(engine.backward_code.format(root="out"), engine.backward, out)
    used = graph.used_inputs()
    s.check([engine.value_code.format(node="out")], lambda: [engine.value(out)], [value])
    s.check(_grad_codes(engine, used), lambda: [engine.grad(leaves[i]) for i in used],
            [grads[i] for i in used])
    s.finish(where(engine, graph, point))


def _grad_codes(engine: Engine, inputs: Sequence[int]) -> list[str]:
    """How the engine's user reads the grads of these inputs. An input no node reads is left out of
    every read: its grad is 0 in any engine, and some (torch) give None for it."""
    return [engine.grad_code.format(leaf=f"x{i}") for i in inputs]


ACCUMULATES, RESETS = "accumulates", "resets"


def _check_repeated(engine: Engine, graph: RandomGraph, point: Sequence[float], mode: str | None) -> str:
    """backward(), backward() again, zero the leaves' grads, backward() a third time. The second pass must
    add the same amounts again (``mode`` "accumulates") or give them again ("resets"); with ``mode`` None
    either will do, and the one seen is returned. After zeroing, the first amounts again."""
    used = graph.used_inputs()
    _, all_grads = _reference(graph, point)
    grads = [all_grads[i] for i in used]
    twice = [2 * g for g in grads]
    s = Script(engine)
    codes = _grad_codes(engine, used)
    backward = engine.backward_code.format(root="out")
    seen = mode or ACCUMULATES
    with s:
        leaves, out = s.build(graph, point)
        read = lambda: [engine.grad(leaves[i]) for i in used]
        s.run(backward, engine.backward, out)
        line, first = s.read(codes, read)
        s.expect(line, codes, first, grads)
        s.run(backward, engine.backward, out)
        line, second = s.read(codes, read)
        first_pass_wrong = s.problem is not None
        if mode is None and not all(map(s.close, second, twice)) and all(map(s.close, second, grads)):
            seen = RESETS
        if seen == ACCUMULATES:
            ok = s.expect(line, codes, second, twice, " (the same amounts added again)")
        else:
            ok = s.expect(line, codes, second, grads, " (the same amounts again)")
        if not ok and not first_pass_wrong:
            changed = [i for i, (a, b) in enumerate(zip(first, second)) if not s.close(b, 2 * a)]
            i = changed[0] if changed else 0
            grew = abs(second[i] - first[i]) > abs(first[i]) * (1 + engine.rtol) + engine.atol
            reset = f" and resetting gives {grads[i]!r}" if mode is None else ""
            s.problem = (f"a second {backward} took {codes[i]} from {first[i]!r} to {second[i]!r}"
                         f"{' (it compounds)' if grew else ''}, where adding the same amounts again "
                         f"gives {twice[i]!r}{reset}")
        s.run("\n".join(engine.zero_grad_code.format(leaf=f"x{i}") for i in range(len(point))),
              engine.zero_grad, leaves)
        s.run(backward, engine.backward, out)
        line, third = s.read(codes, read)
        s.expect(line, codes, third, grads, " (after zeroing the grads)")
    s.finish(where(engine, graph, point))
    return seen


def _values(engine: Engine, nodes: Sequence[Any]) -> list[float]:
    """The numbers in ``gradients()``'s results: nodes of the engine, or numbers for constants."""
    return [float(x) if isinstance(x, (int, float)) else engine.value(x) for x in nodes]


def _check_second_order(engine: Engine, graph: RandomGraph, point: Sequence[float]) -> None:
    """The engine's first derivatives as nodes, then their derivatives: the Hessian, against chainrule's."""
    used = graph.used_inputs()
    _, grads = _reference(graph, point)
    hessian = _reference_hessian(graph, point)
    n = len(point)
    s = Script(engine)
    leaves_code = ", ".join(f"x{i}" for i in range(n))
    number = lambda code: engine.number_code.format(node=code)
    with s:
        leaves, out = s.build(graph, point)
        g = s.run(f"g = {engine.gradients_code.format(root='out', leaves=leaves_code)}",
                  engine.gradients, out, leaves)
        codes = [number(f"g[{i}]") for i in used]
        line, first = s.read(codes, partial(_values, engine, [g[i] for i in used]))
        s.expect(line, codes, first, [grads[i] for i in used])
        for i in used:
            constant = isinstance(g[i], (int, float))
            if constant:
                s.lines.append(f"h{i} = [0.0] * {n}  # g[{i}] is a constant")
                h: Sequence[Any] = [0.0] * n
            else:
                h = s.run(f"h{i} = {engine.gradients_code.format(root=f'g[{i}]', leaves=leaves_code)}",
                          engine.gradients, g[i], leaves)
            codes = [f"h{i}[{j}]" if constant else number(f"h{i}[{j}]") for j in used]
            line, second = s.read(codes, partial(_values, engine, [h[j] for j in used]))
            s.expect(line, codes, second, [hessian[i][j] for j in used], f" (the Hessian's row {i})")
    s.finish(where(engine, graph, point))


# -- searching with Hypothesis ---------------------------------------------------------------------


def _search(strategy: st.SearchStrategy[Any], prop: Callable[[Any], None], budget: _Budget) -> int:
    """Run ``prop`` on up to ``max_examples`` cases drawn from ``strategy``; returns how many ran, or
    raises the ``Failure`` of the smallest failing case Hypothesis shrank to."""
    ran = 0

    @settings(max_examples=budget.max_examples, database=None, deadline=None, derandomize=False,
              phases=[Phase.explicit, Phase.generate, Phase.shrink], report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False)
    @hypothesis_seed(budget.seed)
    @given(strategy)
    def search(case: Any) -> None:
        nonlocal ran
        ran += 1
        prop(case)

    try:
        search()
    except Flaky as error:
        # NOTE: the same case failed once and then passed: the engine's results depend on something
        # besides its inputs (a set's order, global state). Report the failure that was seen.
        found = [e for e in getattr(error, "exceptions", ()) if isinstance(e, Failure)]
        if not found:
            raise
        raise Failure(found[0].detail + " (only sometimes: the engine gave another answer when the same "
                       "case was run again)", found[0].example) from None
    return ran


def _cases(engine: Engine, budget: _Budget, fixed: Sequence[tuple[RandomGraph, tuple[float, ...]]],
           strategy: st.SearchStrategy[Any] | None, what: str, check: Callable[..., Any] = _check_case
           ) -> CheckResult:
    """The fixed cases in order, then the drawn ones; a pass says how many ran."""
    try:
        for graph, point in fixed:
            check(engine, graph, point)
        ran = _search(strategy, lambda case: check(engine, *case), budget) if strategy is not None else 0
    except Failure as failure:
        return CheckResult("", FAIL, failure.detail, failure.example)
    count = len(fixed) + ran
    return CheckResult("", PASS, f"{count} {what}")


# -- the checks ------------------------------------------------------------------------------------


def _op(op: str) -> Callable[[Engine, _Budget], CheckResult]:
    def check(engine: Engine, budget: _Budget) -> CheckResult:
        if op not in engine.ops:
            return CheckResult("", UNSUPPORTED, engine.unsupported(op))
        return _cases(engine, budget, op_simple_cases(op), op_cases(op),
                      "points (0, ±1, then drawn): value and local derivatives right")

    check.__doc__ = f"op {op}: its value and local derivatives at points inside its domain"
    return check


def _graph(arity: int, *nodes: tuple[Any, ...]) -> RandomGraph:
    return RandomGraph(arity, [Node(*node) for node in nodes])


#: 2 * a, a * 2, 1 - a, 2 / a, a ** 3, ... at a = 1.5, with ints as people write them
_CONSTANT_CASES = [
    (_graph(1, ("mul", (Const(2), 0))), (1.5,)),
    (_graph(1, ("mul", (0, Const(2)))), (1.5,)),
    (_graph(1, ("add", (Const(2), 0))), (1.5,)),
    (_graph(1, ("add", (0, Const(2)))), (1.5,)),
    (_graph(1, ("sub", (Const(1), 0))), (1.5,)),
    (_graph(1, ("sub", (0, Const(1)))), (1.5,)),
    (_graph(1, ("div", (Const(2), 0))), (1.5,)),
    (_graph(1, ("div", (0, Const(2)))), (1.5,)),
    (_graph(1, ("pow", (0,), 3)), (1.5,)),
    (_graph(1, ("rpow", (0,), 2)), (1.5,)),
]

#: a + a, a * a, b = a * a; b + b, ...: every node used more than once
_REUSE_CASES = [
    (_graph(1, ("add", (0, 0))), (1.5,)),
    (_graph(1, ("mul", (0, 0))), (1.5,)),
    (_graph(1, ("sub", (0, 0))), (1.5,)),
    (_graph(1, ("mul", (0, 0)), ("add", (1, 1))), (1.5,)),
    (_graph(1, ("mul", (0, 0)), ("mul", (1, 1)), ("mul", (2, 2))), (1.5,)),
    (_graph(2, ("mul", (0, 1)), ("add", (2, 0)), ("mul", (3, 2))), (1.5, -0.5)),
    (_graph(2, ("add", (0, 1)), ("sub", (0, 1)), ("mul", (2, 3))), (1.5, -0.5)),
]

#: (a * b) ** 2 at a = 3, b = 2: a second backward gives a.grad 48 if it accumulates, 24 if it resets
_REPEATED_CASES = [
    (_graph(2, ("mul", (0, 1)), ("pow", (2,), 2)), (3.0, 2.0)),
    (_graph(2, ("mul", (0, 1)), ("mul", (2, 2))), (3.0, 2.0)),
]

_SECOND_ORDER_CASES = [(_graph(2, ("mul", (0, 0)), ("mul", (2, 1))), (1.5, -0.5))]


def _supported(engine: Engine, cases: Sequence[tuple[RandomGraph, tuple[float, ...]]]
               ) -> list[tuple[RandomGraph, tuple[float, ...]]]:
    return [(g, p) for g, p in cases if g.op_names() <= set(engine.ops)]


def _dag_ops(engine: Engine) -> list[str] | None:
    """The engine's ops for random DAGs (strict graphs need add and mul), or None."""
    ops = [op for op in DOMAINS if op in engine.ops]
    return ops if {"add", "mul"} <= set(ops) else None


def _needs_add_and_mul(engine: Engine) -> CheckResult:
    missing = [op for op in ("add", "mul") if op not in engine.ops]
    return CheckResult("", UNSUPPORTED, f"needs add and mul, and {engine.name} has no "
                       f"{' or '.join(missing)}: " + "; ".join(engine.unsupported(op) for op in missing))


def _constants(engine: Engine, budget: _Budget) -> CheckResult:
    """A number on either side: 2 * a, a * 2, 1 - a, 2 / a, a ** 3, then drawn constants and points."""
    fixed = _supported(engine, _CONSTANT_CASES)
    if not fixed:
        return CheckResult("", UNSUPPORTED, f"{engine.name} has none of add, sub, mul, div, pow, rpow")
    return _cases(engine, budget, fixed, constant_cases(frozenset(engine.ops)),
                  "ops with a number on one side")


def _reuse(engine: Engine, budget: _Budget) -> CheckResult:
    """A node used more than once: a + a, a * a, a - a, b = a * a; b + b, and fan-out of non-leaves."""
    fixed = _supported(engine, _REUSE_CASES)
    if not fixed:
        return _needs_add_and_mul(engine)
    return _cases(engine, budget, fixed, None, "graphs with reused nodes")


def _random_dags(engine: Engine, budget: _Budget) -> CheckResult:
    """Random DAGs with shared subexpressions and constants, built from the ops the engine has."""
    ops = _dag_ops(engine)
    if ops is None:
        return _needs_add_and_mul(engine)
    return _cases(engine, budget, [], graphs_and_points(ops=ops, strict=True),
                  f"random DAGs of up to 8 of its {len(ops)} ops")


def _repeated_backward(engine: Engine, budget: _Budget) -> CheckResult:
    """backward() twice on one graph: the second adds the same amounts (or the report says it resets);
    then zero_grad and a third gives the first amounts."""
    ops = _dag_ops(engine)
    if ops is None:
        return _needs_add_and_mul(engine)
    fixed = _supported(engine, _REPEATED_CASES)[:1]
    try:
        mode = _check_repeated(engine, *fixed[0], None)
    except Failure as failure:
        return CheckResult("", FAIL, failure.detail, failure.example)
    strategy = graphs_and_points(max_ops=6, ops=ops, strict=True)
    result = _cases(engine, budget, fixed, strategy, "graphs",
                    lambda e, g, p: _check_repeated(e, g, p, mode))
    if result.status != PASS:
        return result
    how = ("accumulates: a second backward() adds the same amounts, as PyTorch does" if mode == ACCUMULATES
           else "resets: a second backward() gives the same grads again (PyTorch adds them)")
    return CheckResult("", PASS, f"{how}; {result.detail}")


def _higher_order(engine: Engine, budget: _Budget) -> CheckResult:
    """Second derivatives (the engine's gradients of its own gradients) against chainrule's Hessian."""
    if not engine.higher_order:
        return CheckResult("", UNSUPPORTED, f"{engine.name} does not say it can differentiate its "
                           "gradients: an Engine adapter with higher_order = True and gradients() can")
    ops = _dag_ops(engine)
    if ops is None:
        return _needs_add_and_mul(engine)
    # NOTE: each op at its simple points (0, ±1) first, as for first order: a rule that is wrong only at
    # one point (torch.pow's second derivative at an exponent of exactly 0) is found every time, not
    # only when a drawn graph happens to land on it.
    fixed = _supported(engine, _SECOND_ORDER_CASES) + [case for op in ops for case in op_simple_cases(op)]
    return _cases(engine, budget, fixed, graphs_and_points(max_inputs=2, max_ops=5, ops=ops, strict=True),
                  "graphs (each op at 0 and ±1, then drawn): first and second derivatives right",
                  _check_second_order)


# -- the deep chain --------------------------------------------------------------------------------


_BUILD, _BACKWARD, _READ = "building", "backward", "reading"


@dataclass(frozen=True)
class _ChainProblem:
    step: str  # _BUILD, _BACKWARD or _READ
    error: str = ""  # what the step raised, or
    got: tuple[float, float] | None = None  # the wrong value and grad it gave


def _chain(engine: Engine, depth: int) -> _ChainProblem | None:
    """out = x0 + x0 + ... (``depth`` adds), backpropagated: None if right, else what went wrong."""
    step = _BUILD
    try:
        x = engine.leaf(0.5)
        out = x
        for _ in range(depth):
            out = engine.apply("add", (out, x))
        step = _BACKWARD
        engine.backward(out)
        step = _READ
        value, grad = float(engine.value(out)), float(engine.grad(x))
    except Exception as error:  # noqa: BLE001 - whatever the engine raises is what we report
        return _ChainProblem(step, error=describe(error))
    # exact: sums of halves and of ones, far below 2 ** 53
    if (value, grad) != _chain_result(depth):
        return _ChainProblem(_READ, got=(value, grad))
    return None


def _chain_result(depth: int) -> tuple[float, float]:
    return 0.5 * (depth + 1), float(depth + 1)


def _deep(engine: Engine, depth: int) -> tuple[_ChainProblem | None, int]:
    """The chain at ``depth``; if it fails, the deepest chain that works (doubling, then bisecting)."""
    problem = _chain(engine, depth)
    if problem is None:
        return None, depth
    good, bad = 0, 1
    while bad < depth and _chain(engine, bad) is None:
        good, bad = bad, min(2 * bad, depth)
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if _chain(engine, mid) is None else (good, mid)
    return problem, good


def _at_default_recursion_limit(fn: Callable[[], Any]) -> Any:
    """``fn()`` in a new thread with a large stack, at Python's default recursion limit.

    A recursive engine then fails with RecursionError as it would in a fresh interpreter; and since the
    limit is the default and the stack large, the recursion cannot overflow the C stack and crash the
    process (which a raised limit, e.g. 10 ** 6, can). The limit is the interpreter's, so it is lowered
    only while ``fn`` runs, from inside the thread (whose own depth is small).
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        previous = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(DEFAULT_RECURSION_LIMIT)
            try:
                outcome["value"] = fn()
            finally:
                sys.setrecursionlimit(previous)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread below
            outcome["error"] = error

    size = threading.stack_size()
    thread = threading.Thread(target=target, name="chainrule-deep-chain")
    try:
        threading.stack_size(_STACK_BYTES)
        thread.start()
    except (ValueError, RuntimeError):  # no room for such a stack here: the default one, same limit
        threading.stack_size(size)
        thread = threading.Thread(target=target, name="chainrule-deep-chain")
        thread.start()
    finally:
        threading.stack_size(size)
    thread.join()
    if "error" in outcome:
        raise outcome.pop("error")
    return outcome["value"]


def _deep_chain(engine: Engine, budget: _Budget) -> CheckResult:
    """A chain ``depth`` ops deep, built and backpropagated at Python's default recursion limit."""
    if "add" not in engine.ops:
        return CheckResult("", UNSUPPORTED, f"the chain is built with add: {engine.unsupported('add')}")
    depth = budget.depth
    problem, deepest = _at_default_recursion_limit(lambda: _deep(engine, depth))
    where = f"a chain {depth:,} ops deep at Python's default recursion limit ({DEFAULT_RECURSION_LIMIT})"
    if problem is None:
        return CheckResult("", PASS, where)
    backward = engine.backward_code.format(root="out")
    value, grad = _chain_result(depth)
    if problem.got is not None:
        what = (f"out is {problem.got[0]!r} and x0's grad {problem.got[1]!r} (expected {value!r} and "
                f"{grad!r})")
    else:
        step = {_BUILD: "building it", _BACKWARD: backward, _READ: "reading its value and grad"}[problem.step]
        what = f"{step} raised {problem.error}"
    worked = f"the deepest chain that worked was {deepest:,} ops" if deepest else "not even 1 op worked"
    hint = ": a recursive walk of the graph? make it iterative (an explicit stack)"
    detail = f"{what} on {where}; {worked}{hint if 'RecursionError' in problem.error else ''}"
    return CheckResult("", FAIL, detail, _chain_example(engine, depth, problem))


def _chain_example(engine: Engine, depth: int, problem: _ChainProblem) -> str:
    limit = f" (at Python's default recursion limit, {DEFAULT_RECURSION_LIMIT})"
    mark = f"  # raises {problem.error}" + (limit if "RecursionError" in problem.error else "")
    lines = [*engine.setup_code.splitlines(), ""] if engine.setup_code else []
    lines += [f"x0 = {engine.leaf_code.format(x=0.5)}", "out = x0", f"for _ in range({depth:_}):",
              f"    out = {engine.op_code('add', ['out', 'x0'], None)}"]
    if problem.step == _BUILD:
        lines[-1] += mark
    lines.append(engine.backward_code.format(root="out") + (mark if problem.step == _BACKWARD else ""))
    value, grad = _chain_result(depth)
    read = f"print({engine.value_code.format(node='out')}, {engine.grad_code.format(leaf='x0')})"
    got = (f", got {problem.got[0]!r} {problem.got[1]!r}  <- wrong" if problem.got is not None else
           mark if problem.step == _READ else "")
    lines.append(f"{read}  # expected {value!r} {grad!r}{got}")
    return "\n".join(lines)


# -- running them ----------------------------------------------------------------------------------

_STRUCTURAL: dict[str, Callable[[Engine, _Budget], CheckResult]] = {
    "constants": _constants,
    "reuse": _reuse,
    "random_dags": _random_dags,
    "deep_chain": _deep_chain,
    "repeated_backward": _repeated_backward,
    "higher_order": _higher_order,
}
_CHECK_FUNCTIONS = {**{f"op_{op}": _op(op) for op in DOMAINS}, **_STRUCTURAL}
assert tuple(_CHECK_FUNCTIONS) == CHECKS


def _budget(max_examples: int, seed: int, depth: int) -> _Budget:
    for name, x, least in (("max_examples", max_examples, 1), ("depth", depth, 1), ("seed", seed, None)):
        if isinstance(x, bool) or not isinstance(x, int):
            raise TypeError(f"{name} must be an int, got {type(x).__name__} ({x!r})")
        if least is not None and x < least:
            raise ValueError(f"{name} must be >= {least}, got {x!r}")
    return _Budget(max_examples, seed, depth)


def _engine(engine: Any) -> Engine:
    adapter = as_engine(engine)
    unknown = sorted(set(adapter.ops) - set(DOMAINS))
    if unknown:
        raise ValueError(f"{adapter.name}: ops {unknown} are not ops of the table; use names from "
                         f"{list(DOMAINS)}")
    return adapter


def run_check(engine: Any, name: str, *, max_examples: int = 200, seed: int = 0, depth: int = 100_000
              ) -> CheckResult:
    """Run the one check called ``name`` (one of ``CHECKS``) on ``engine``; see ``check_engine``."""
    if name not in _CHECK_FUNCTIONS:
        raise ValueError(f"no check named {name!r}; the checks are {list(CHECKS)}")
    budget = _budget(max_examples, seed, depth)
    adapter = _engine(engine)
    result = _CHECK_FUNCTIONS[name](adapter, budget)
    return CheckResult(name, result.status, result.detail, result.example)


def check_engine(engine: Any, *, max_examples: int = 200, seed: int = 0, depth: int = 100_000
                 ) -> EngineReport:
    """Property-test a scalar autograd engine against chainrule's: one named result per check.

    ``engine`` is a Value class with micrograd's API (``Value(x)``, ``.data``, ``.grad``,
    ``.backward()``, ``+ - * / **``, unary ``-``, numbers on either side, and whichever of ``exp log
    sqrt tanh sigmoid relu leaky_relu softplus sin cos`` it has) or an ``Engine`` adapter, such as
    ``torch_engine()``. The checks (``CHECKS``): every op of the table, value and local derivatives at
    points inside its domain (``unsupported`` if the engine lacks it); numbers on either side of an op;
    reused nodes; random DAGs of its ops; a chain ``depth`` ops deep at Python's default recursion limit;
    backward twice on one graph; second derivatives if the adapter supports them. Each Hypothesis search
    tries up to ``max_examples`` cases, seeded by ``seed``, so a report can be reproduced.

    >>> from autograd import Value
    >>> report = check_engine(Value, max_examples=10, depth=1000)
    >>> report.ok, report["reuse"].status, report["higher_order"].status
    (True, 'pass', 'unsupported')
    """
    budget = _budget(max_examples, seed, depth)
    adapter = _engine(engine)
    report = EngineReport(adapter.name, [], max_examples, seed, depth)
    for name, check in _CHECK_FUNCTIONS.items():
        result = check(adapter, budget)
        report.results.append(CheckResult(name, result.status, result.detail, result.example))
    return report

"""The conformance suite on real and planted-bug engines: micrograd 0.1.0 reported as it is, PyTorch and
chainrule passing, each planted bug caught by its check with a short counterexample that runs and shows
what it says, and the report, the adapters and the pytest class doing what they promise."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import micrograd.engine
import pytest
import toy_engines as toy
from mpmath import mp

import autograd
from autograd import Value, gradients
from autograd.testing import (
    CHECKS,
    DOMAINS,
    VALUE_OPS,
    Engine,
    EngineCheckError,
    EngineReport,
    TorchEngine,
    ValueClassEngine,
    check_engine,
    run_check,
    torch_engine,
)
from autograd.testing.conformance import DEFAULT_RECURSION_LIMIT

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
FAST = dict(max_examples=10, depth=2000)  # 2,000 > the default recursion limit: a recursive walk fails


def statuses(report: EngineReport) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"pass": set(), "fail": set(), "unsupported": set()}
    for r in report.results:
        out[r.status].add(r.name)
    return out


def run_example(example: str) -> None:
    """Run a failure's example: it raises where it says it raises, and prints the numbers it says it got."""
    printed = io.StringIO()
    raised: BaseException | None = None
    with contextlib.redirect_stdout(printed):
        try:
            exec(example, {})
        except Exception as error:  # noqa: BLE001 - compared with what the example says below
            raised = error
    said = re.search(r"# raises (\w+)", example)
    assert (type(raised).__name__ if raised else None) == (said.group(1) if said else None), (example, raised)
    got = [line.split(", got ")[1].split("  <-")[0] for line in example.splitlines()
           if line.startswith("print(") and ", got " in line]
    shown = printed.getvalue().splitlines()
    for claimed, line in zip(got, shown):
        assert [float(x) for x in claimed.split()] == [float(x) for x in line.split()], (example, shown)


def short(example: str) -> bool:
    """At most 8 lines of code besides the import, the leaves and the reads: a counterexample to read."""
    body = [line for line in example.splitlines()
            if line and not line.startswith(("from ", "import ", "print(", "x0 = ", "x1 = ", "x2 = "))]
    return len(body) <= 8


# -- engines that pass -------------------------------------------------------------------------------

TOY_UNSUPPORTED = {"op_rpow", "op_vpow", "op_abs", "op_sqrt", "op_leaky_relu", "op_softplus", "op_sin",
                   "op_cos", "op_linear", "higher_order"}


def test_a_right_engine_passes_every_check_it_supports() -> None:
    report = check_engine(toy.Value, **FAST)
    found = statuses(report)
    assert report.ok and not found["fail"], report
    assert found["unsupported"] == TOY_UNSUPPORTED
    assert [r.name for r in report.results] == list(CHECKS)
    assert "accumulates" in report["repeated_backward"].detail
    assert report["op_vpow"].detail == "Value: x ** y raised AssertionError: only number exponents"
    assert report["op_sin"].detail == "Value has no method sin()"
    report.raise_if_failed()  # nothing to raise


def test_chainrule_passes_all_but_what_a_value_class_cannot_express() -> None:
    report = check_engine(Value, **FAST)
    assert statuses(report)["unsupported"] == {"op_linear", "higher_order"}
    assert report.ok, report


def test_an_engine_that_resets_on_a_second_backward_passes_and_says_so() -> None:
    result = run_check(toy.Resetting, "repeated_backward", max_examples=20)
    assert result.status == "pass"
    assert result.detail.startswith("resets: a second backward() gives the same grads again")


# -- planted bugs, each caught by its check ------------------------------------------------------

PLANTED = [
    # engine, the check that must catch it, other checks that may fail for the same bug
    (toy.WrongTanh, "op_tanh", {"random_dags", "repeated_backward"}),
    (toy.WrongPow, "op_pow", {"constants", "random_dags", "repeated_backward"}),
    (toy.WrongDiv, "op_div", {"constants", "random_dags", "repeated_backward"}),
    (toy.SubtleSigmoid, "op_sigmoid", {"random_dags", "repeated_backward"}),
    (toy.WrongRsub, "constants", {"random_dags", "repeated_backward"}),
    (toy.WrongRtruediv, "constants", {"random_dags", "repeated_backward"}),
    (toy.SetOfParents, "reuse", {"random_dags", "repeated_backward", "deep_chain"}),
    (toy.OverwritesGrad, "reuse", {"random_dags", "repeated_backward", "deep_chain"}),
    (toy.NoVisitedSet, "reuse", {"random_dags", "repeated_backward", "deep_chain"}),
    (toy.RecursiveOrder, "deep_chain", set()),
    (toy.Compounding, "repeated_backward", set()),
]


@pytest.mark.parametrize(("engine", "check", "also"), PLANTED, ids=[e.__name__ for e, _, _ in PLANTED])
def test_each_planted_bug_is_caught_with_a_short_example_that_runs(engine: type, check: str,
                                                                   also: set[str]) -> None:
    report = check_engine(engine, **FAST)
    failed = statuses(report)["fail"]
    assert check in failed, report
    assert failed <= {check} | also, report  # no check blames the engine for what it does right
    assert statuses(report)["unsupported"] == TOY_UNSUPPORTED
    result = report[check]
    assert result.example is not None and short(result.example), result.example
    assert result.example.startswith(f"from toy_engines import {engine.__name__}\n")
    run_example(result.example)
    with pytest.raises(EngineCheckError, match=check):
        report.raise_if_failed()


def test_a_wrong_rule_is_shown_as_one_op_with_expected_and_actual_numbers() -> None:
    result = run_check(toy.WrongTanh, "op_tanh", max_examples=20)
    assert result.detail == ("x0.tanh() at x0 = 1.0: x0.grad is 0.23840584404423515, expected "
                             "0.41997434161402614")
    assert result.example == textwrap.dedent("""\
        from toy_engines import WrongTanh

        x0 = WrongTanh(1.0)
        out = x0.tanh()
        out.backward()
        print(out.data)  # expected 0.7615941559557649, got 0.7615941559557649
        print(x0.grad)  # expected 0.41997434161402614, got 0.23840584404423515  <- wrong""")


def test_constants_on_the_wrong_side_are_caught_as_written() -> None:
    result = run_check(toy.WrongRsub, "constants", max_examples=20)
    assert result.detail == "1 - x0 at x0 = 1.5: out.data is 0.5, expected -0.5"
    assert "out = 1 - x0\n" in (result.example or "")


def test_a_failure_that_does_not_repeat_is_reported_as_such() -> None:
    engine = ValueClassEngine(toy.WrongOnce)  # finding its ops calls tanh once
    toy.WrongOnce.calls = 0
    result = run_check(engine, "random_dags", max_examples=20)
    assert result.status == "fail"
    assert result.detail.endswith("(only sometimes: the engine gave another answer when the same case was "
                                  "run again)")


# -- micrograd 0.1.0, as it is ---------------------------------------------------------------------


def test_micrograd_facts_the_report_must_show() -> None:
    # each fact straight from micrograd, so the report below is checked against micrograd, not itself
    Mg = micrograd.engine.Value
    with pytest.raises(ZeroDivisionError):
        (Mg(0.0) ** 0).backward()  # d(x ** 0)/dx is 0 (x ** 0 is the constant 1); torch gives 0
    a, b = Mg(3.0), Mg(2.0)
    c = (a * b) ** 2
    c.backward()
    c.backward()
    assert (a.grad, b.grad) == (72.0, 108.0)  # adding the same amounts again would give 48, 72
    for missing in ("tanh", "exp", "log", "sigmoid", "__rpow__", "__abs__"):
        assert not hasattr(Mg, missing)
    with pytest.raises(AssertionError, match="only supporting int/float powers"):
        Mg(1.5) ** Mg(0.5)


def test_micrograd_is_reported_as_it_is_at_the_default_depth() -> None:
    report = check_engine(micrograd.engine.Value, max_examples=20)  # depth 100,000: the real check
    found = statuses(report)
    assert found["pass"] >= {"op_add", "op_sub", "op_mul", "op_div", "op_neg", "op_relu", "constants",
                             "reuse"}
    assert found["fail"] - {"random_dags"} == {"op_pow", "deep_chain", "repeated_backward"}
    if "random_dags" in found["fail"]:  # it can only be the same x ** 0 at 0, found in a random graph
        assert "ZeroDivisionError" in report["random_dags"].detail
    assert found["unsupported"] == {"op_rpow", "op_vpow", "op_abs", "op_exp", "op_log", "op_sqrt", "op_tanh",
                                    "op_sigmoid", "op_leaky_relu", "op_softplus", "op_sin", "op_cos",
                                    "op_linear", "higher_order"}

    pow_ = report["op_pow"]
    assert pow_.detail == ("x0 ** 0.0 at x0 = 0.0: out.backward() raised ZeroDivisionError: 0.0 cannot be "
                           "raised to a negative power")
    run_example(pow_.example or "")

    deep = report["deep_chain"]
    assert deep.detail.startswith("out.backward() raised RecursionError: maximum recursion depth exceeded")
    assert "a chain 100,000 ops deep at Python's default recursion limit (1000)" in deep.detail
    worked = re.search(r"the deepest chain that worked was ([\d,]+) ops", deep.detail)
    deepest = int(worked[1].replace(",", "")) if worked else 0
    assert 900 <= deepest < DEFAULT_RECURSION_LIMIT  # micrograd's recursive sort: one frame per node

    again = report["repeated_backward"]
    assert "took x0.grad from 24.0 to 72.0 (it compounds)" in again.detail
    assert "adding the same amounts again gives 48.0 and resetting gives 24.0" in again.detail
    run_example(again.example or "")
    assert "higher_order" in report["higher_order"].name and not report.ok


# -- the deep chain cannot crash the process --------------------------------------------------------


def test_the_deep_chain_runs_at_the_default_limit_whatever_the_limit_is() -> None:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)  # as a learner does to make a recursive engine "work"
    try:
        result = run_check(toy.RecursiveOrder, "deep_chain", depth=5000)
        assert sys.getrecursionlimit() == 50_000  # put back
    finally:
        sys.setrecursionlimit(previous)
    assert result.status == "fail" and "RecursionError" in result.detail
    assert threading.active_count() >= 1 and result.example is not None
    assert "for _ in range(5_000):" in result.example


def test_a_right_engine_survives_the_full_default_depth() -> None:
    result = run_check(toy.Value, "deep_chain")
    assert (result.status, result.detail) == (
        "pass", "a chain 100,000 ops deep at Python's default recursion limit (1000)")


# -- adapters: PyTorch, and the Engine protocol by hand -----------------------------------------------


def test_torch_passes_every_first_order_check() -> None:
    report = check_engine(torch_engine(), **FAST)
    assert statuses(report)["unsupported"] == set()
    assert statuses(report)["fail"] <= {"higher_order"}, report  # see the next test


def test_torch_fails_second_order_only_where_torch_pow_is_wrong() -> None:
    # The suite finds a real PyTorch bug: torch.pow(x, y)'s backward masks d/dx with where(y == 0, 0, ...),
    # so at an exponent of exactly 0 its second derivative loses a term. By hand, (1.5 + t) ** (2t):
    import torch

    t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad((1.5 + t) ** (2 * t), t, create_graph=True)
    (h,) = torch.autograd.grad(g, t)
    with mp.workdps(30):
        exact = mp.diff(lambda s: (1.5 + s) ** (2 * s), 0, 2)  # 4 log 1.5 + 4/1.5
    assert abs(h.item() - float(exact)) > 1  # torch: 1.99; exact: 3.32
    second = autograd.grad(autograd.grad(lambda s: (1.5 + s) ** (2 * s)))(0.0)
    assert abs(second - float(exact)) < 1e-12

    # found at the simplest point, whatever the seed: x ** y at (1, 0), where torch's Hessian is not even
    # symmetric (row 0 says d2/dxdy = 0, row 1 says 1; the exact value is 1)
    for seed in (0, 1):
        result = run_check(torch_engine(), "higher_order", max_examples=200, seed=seed)
        assert result.status == "fail", result.detail
        assert result.detail.startswith("x0 ** x1 at x0 = 1.0, x1 = 0.0: h0[1].item() is 0.0, expected 1.0")
    assert "out = x0 ** x1" in (result.example or ""), result.example
    run_example(result.example or "")

    class TorchWithoutVpow(TorchEngine):
        ops = frozenset(DOMAINS) - {"vpow"}

    assert run_check(TorchWithoutVpow(), "higher_order", max_examples=200, seed=0).status == "pass"


class ChainruleEngine(Engine):
    """chainrule through the Engine protocol, with higher order (which a Value class cannot express)."""

    name = "chainrule (adapter)"
    ops = frozenset(DOMAINS)
    higher_order = True
    setup_code = "from autograd import Value, gradients, linear"
    gradients_code = "gradients({root}, [{leaves}], create_graph=True)"

    def leaf(self, x: float) -> Any:
        return Value(x)

    def apply(self, op: str, operands: Any, arg: float | None = None) -> Any:
        return VALUE_OPS[op](*operands, *(() if arg is None else (arg,)))

    def value(self, node: Any) -> float:
        return node.data

    def backward(self, root: Any) -> None:
        root.backward()

    def grad(self, leaf: Any) -> float:
        return leaf.grad

    def zero_grad(self, leaves: Any) -> None:
        for leaf in leaves:
            leaf.grad = 0.0

    def gradients(self, root: Any, leaves: Any) -> list[Any]:
        return list(gradients(root, leaves, create_graph=True))


class ForgetsCreateGraph(ChainruleEngine):
    """A planted higher-order bug: first derivatives as plain numbers, so their own derivatives are 0."""

    gradients_code = "gradients({root}, [{leaves}])"

    def gradients(self, root: Any, leaves: Any) -> list[Any]:
        return list(gradients(root, leaves))


def test_an_engine_protocol_adapter_runs_every_check_including_higher_order() -> None:
    report = check_engine(ChainruleEngine(), **FAST)
    assert report.ok and statuses(report)["unsupported"] == set(), report
    assert report["higher_order"].detail.endswith("then drawn): first and second derivatives right")


def test_a_lost_create_graph_fails_higher_order_with_an_example() -> None:
    result = run_check(ForgetsCreateGraph(), "higher_order", **FAST)
    assert result.status == "fail"
    example = result.example or ""
    assert example.startswith("from autograd import Value, gradients, linear\n")
    assert "g = gradients(out, [x0, x1])" in example and "# g[0] is a constant" in example
    run_example(example)


# -- the report and bad input ------------------------------------------------------------------------


def test_the_report_is_a_table_with_one_row_per_check() -> None:
    report = check_engine(toy.Compounding, **FAST)
    text = str(report)
    lines = text.splitlines()
    assert lines[0] == ("toy_engines.Compounding: 15 passed, 1 failed, 10 unsupported (max_examples=10, "
                        "seed=0, depth=2,000)")
    assert lines[1].split() == ["check", "status", "detail"]
    assert [line.split()[0] for line in lines[2:]] == list(CHECKS)
    assert re.search(r"^  repeated_backward +FAIL +a graph of 2 ops", text, re.MULTILINE)
    assert report.examples().startswith("repeated_backward: fail: ")
    assert repr(report).startswith("<EngineReport toy_engines.Compounding: 15 passed")
    with pytest.raises(KeyError, match="no check named 'nope'"):
        report["nope"]
    with pytest.raises(AssertionError, match="1 of 26 checks failed"):  # EngineCheckError is one
        report.raise_if_failed()


def test_the_same_seed_gives_the_same_result() -> None:
    for check in ("op_tanh", "random_dags"):
        first = run_check(toy.WrongTanh, check, max_examples=20, seed=7)
        assert first.status == "fail"
        assert run_check(toy.WrongTanh, check, max_examples=20, seed=7) == first


def test_importing_the_suite_imports_no_engine() -> None:
    code = ("import sys, autograd.testing; "
            "print(sorted(m for m in ('torch', 'micrograd', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # torch_engine() imports torch when it is called


def test_bad_arguments_are_refused_with_what_to_do() -> None:
    with pytest.raises(TypeError, match="42 .int. is not an engine; an engine is a Value class"):
        check_engine(42)
    with pytest.raises(TypeError, match=r"toy_engines.Nothing is not an engine: toy_engines.Nothing\(0.5\)"):
        check_engine(type("Nothing", (), {"__module__": "toy_engines"}))
    with pytest.raises(ValueError, match="max_examples must be >= 1"):
        check_engine(toy.Value, max_examples=0)
    with pytest.raises(TypeError, match="depth must be an int"):
        check_engine(toy.Value, depth=1e5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no check named 'tanh'"):
        run_check(toy.Value, "tanh")

    class Misnamed(ChainruleEngine):
        ops = frozenset({"add", "mul", "pow2"})

    with pytest.raises(ValueError, match=r"ops \['pow2'\] are not ops of the table"):
        check_engine(Misnamed())


def test_a_stub_method_is_unsupported_and_a_broken_one_fails() -> None:
    class Stubs(toy.Value):
        def exp(self) -> toy.Value:
            raise NotImplementedError("exp: todo")

        def sin(self) -> toy.Value:
            raise ValueError("sin is broken")

    report = check_engine(Stubs, max_examples=5, depth=100)
    assert (report["op_exp"].status, report["op_exp"].detail) == (
        "unsupported", "Stubs.exp() raised NotImplementedError: exp: todo")
    assert report["op_sin"].status == "fail" and "raised ValueError: sin is broken" in report["op_sin"].detail


def test_an_engine_can_be_given_as_a_class_an_instance_or_a_function() -> None:
    assert isinstance(autograd.testing.as_engine(toy.Value), ValueClassEngine)
    assert isinstance(autograd.testing.as_engine(ChainruleEngine), ChainruleEngine)
    assert isinstance(autograd.testing.as_engine(torch_engine), TorchEngine)
    with pytest.raises(TypeError, match="returned int, not an engine"):
        autograd.testing.as_engine(lambda: 3)


# -- the pytest class, run by pytest in a fresh directory ------------------------------------------


def run_pytest(tmp_path: Path, engine: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_my_engine.py").write_text(textwrap.dedent(f"""
        from autograd.testing import EngineTests
        from toy_engines import {engine}


        class TestMyEngine(EngineTests):
            engine = {engine}
            max_examples = 20
            depth = 2000
    """))
    env = {"PYTHONPATH": f"{ROOT}{':'}{HERE}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider",
                           "test_my_engine.py"], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=600)


def test_the_pytest_class_passes_a_right_engine(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, "Value")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(CHECKS) - len(TOY_UNSUPPORTED)} passed, {len(TOY_UNSUPPORTED)} skipped" in out.stdout
    assert "op_sin unsupported: Value has no method sin()" in out.stdout


def test_the_pytest_class_fails_a_wrong_engine_with_the_example(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, "OverwritesGrad")
    assert out.returncode == 1, out.stdout + out.stderr
    failed = set(re.findall(r"FAILED test_my_engine.py::TestMyEngine::test_(\w+)", out.stdout))
    assert "reuse" in failed and failed <= {"reuse", "random_dags", "repeated_backward", "deep_chain"}
    assert "EngineCheckError: reuse: x0 + x0 at x0 = 1.5: x0.grad is 1.0, expected 2.0" in out.stdout
    assert "print(x0.grad)  # expected 2.0, got 1.0  <- wrong" in out.stdout

"""Property-testing gradients: Hypothesis strategies for random computation DAGs and points inside their
domain, ``assert_gradients_close``, shared Hypothesis profiles, and ``check_engine``, a conformance suite
for any scalar autograd engine (yours). Needs Hypothesis (``pip install 'chainrule[testing]'``);
``import autograd`` never imports this package.

A paste-ready test file::

    from hypothesis import given

    from autograd.testing import assert_gradients_close, graphs_and_points


    @given(graphs_and_points())
    def test_gradients_match_finite_differences(case):
        graph, point = case  # graph: a RandomGraph, callable on scalars; point: a tuple of floats
        assert_gradients_close(graph, *point)  # first and second derivatives

A failing example prints the graph as the Python function it computes, ready to paste into a test.

Testing an engine of your own (a Value class with micrograd's API, or an ``Engine`` adapter)::

    from autograd.testing import EngineTests, check_engine

    print(check_engine(MyValue))  # a table: each check passed, failed or unsupported

    class TestMyEngine(EngineTests):  # or in pytest: one test per check
        engine = MyValue

The modules: ``domains`` (where each op is defined), ``dag`` (RandomGraph and the tables it evaluates
with), ``strategies`` (the Hypothesis strategies), ``asserts`` (assert_gradients_close, planted_rule),
``profiles`` (Hypothesis profiles), ``adapters`` (the Engine protocol and adapters), ``conformance``
(the checks and ``check_engine``), ``script`` (a failure's counterexample, as code), ``report`` (the
results), ``engine_tests`` (the pytest class).
"""

try:
    import hypothesis  # noqa: F401 - the friendly error below, before any module of the package needs it
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "autograd.testing needs Hypothesis: pip install 'chainrule[testing]' (or pip install hypothesis)"
    ) from e

from .adapters import Engine, TorchEngine, ValueClassEngine, as_engine, load_engine, torch_engine
from .asserts import assert_gradients_close, planted_rule
from .conformance import CHECKS, check_engine, run_check
from .dag import _SOURCE as _SOURCE  # the op printing table, for a test that it covers the op table
from .dag import FLOAT_OPS, VALUE_OPS, Const, Node, RandomGraph, mpmath_ops, value_source
from .domains import BOUND, BOX, DOMAINS, INPUT_RANGE, KINK_MARGIN, MARGIN, Domain
from .engine_tests import EngineTests
from .profiles import PROFILES, load_profile, register_profiles
from .report import CheckResult, EngineCheckError, EngineReport
from .strategies import constant_cases, graphs, graphs_and_points, op_cases, op_simple_cases, points

__all__ = [
    "BOUND",
    "CHECKS",
    "BOX",
    "DOMAINS",
    "FLOAT_OPS",
    "INPUT_RANGE",
    "KINK_MARGIN",
    "MARGIN",
    "PROFILES",
    "VALUE_OPS",
    "CheckResult",
    "Const",
    "Domain",
    "Engine",
    "EngineCheckError",
    "EngineReport",
    "EngineTests",
    "Node",
    "RandomGraph",
    "TorchEngine",
    "ValueClassEngine",
    "as_engine",
    "assert_gradients_close",
    "check_engine",
    "constant_cases",
    "graphs",
    "graphs_and_points",
    "load_engine",
    "load_profile",
    "mpmath_ops",
    "op_cases",
    "op_simple_cases",
    "planted_rule",
    "points",
    "register_profiles",
    "run_check",
    "torch_engine",
    "value_source",
]

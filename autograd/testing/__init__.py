"""Property-testing gradients: Hypothesis strategies for random computation DAGs and points inside their
domain, ``assert_gradients_close``, and shared Hypothesis profiles. Needs Hypothesis
(``pip install 'chainrule[testing]'``); ``import autograd`` never imports this package.

A paste-ready test file::

    from hypothesis import given

    from autograd.testing import assert_gradients_close, graphs_and_points


    @given(graphs_and_points())
    def test_gradients_match_finite_differences(case):
        graph, point = case  # graph: a RandomGraph, callable on scalars; point: a tuple of floats
        assert_gradients_close(graph, *point)  # first and second derivatives

A failing example prints the graph as the Python function it computes, ready to paste into a test.

The modules: ``domains`` (where each op is defined), ``dag`` (RandomGraph and the tables it evaluates
with), ``strategies`` (the Hypothesis strategies), ``asserts`` (assert_gradients_close, planted_rule),
``profiles`` (Hypothesis profiles).
"""

try:
    import hypothesis  # noqa: F401 - the friendly error below, before any module of the package needs it
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "autograd.testing needs Hypothesis: pip install 'chainrule[testing]' (or pip install hypothesis)"
    ) from e

from .asserts import assert_gradients_close, planted_rule
from .dag import _SOURCE as _SOURCE  # the op printing table, for a test that it covers the op table
from .dag import FLOAT_OPS, VALUE_OPS, Const, Node, RandomGraph, mpmath_ops, value_source
from .domains import BOUND, BOX, DOMAINS, INPUT_RANGE, KINK_MARGIN, MARGIN, Domain
from .profiles import PROFILES, load_profile, register_profiles
from .strategies import constant_cases, graphs, graphs_and_points, op_cases, op_simple_cases, points

__all__ = [
    "BOUND",
    "BOX",
    "DOMAINS",
    "FLOAT_OPS",
    "INPUT_RANGE",
    "KINK_MARGIN",
    "MARGIN",
    "PROFILES",
    "VALUE_OPS",
    "Const",
    "Domain",
    "Node",
    "RandomGraph",
    "assert_gradients_close",
    "constant_cases",
    "graphs",
    "graphs_and_points",
    "load_profile",
    "mpmath_ops",
    "op_cases",
    "op_simple_cases",
    "planted_rule",
    "points",
    "register_profiles",
    "value_source",
]

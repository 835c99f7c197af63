# %% [markdown]
# # 05 · Property-testing gradients
#
# A derivative rule can be wrong in a way no hand-picked example shows. This notebook uses chainrule's
# tools the way you would in your own test suite:
#
# - `gradcheck(f, *args, order=1)` compares the engine's derivatives with central finite differences,
#   treating `f` as a black box. It returns `True` or raises `GradcheckError` (an `AssertionError`, so
#   pytest reports a failure).
# - `autograd.testing` has Hypothesis strategies that draw random computation graphs (shared
#   subexpressions, every op, constants on either side, inputs kept inside each op's domain) and
#   `assert_gradients_close(f, *args)`, which checks first and second derivatives.

# %%
import math

from hypothesis import given, settings

from autograd import GradcheckError, grad, gradcheck
from autograd.testing import assert_gradients_close, graphs, graphs_and_points, planted_rule

# %% [markdown]
# ## gradcheck on a function of your own

# %%
def softsign_ish(x, y):
    return x * y.sigmoid() + (x * x + 1).log() / (y * y + 2).sqrt()


print(gradcheck(softsign_ish, 0.7, -1.3))            # first derivatives
print(gradcheck(softsign_ish, 0.7, -1.3, order=2))   # and the Hessian

# %% [markdown]
# When it fails, the message names the function, the argument, the point, both values and the
# tolerance. Here we plant a wrong rule for `tanh` (d tanh = 1 − tanh, instead of 1 − tanh²) for the
# duration of a `with` block.

# %%
with planted_rule("tanh", lambda out, x: (1 - out,)):
    try:
        gradcheck(lambda x: (2 * x).tanh(), 0.5)
    except GradcheckError as e:
        print(e)

# %% [markdown]
# ## Random graphs
# `graphs()` draws a random DAG. Printed, it is the Python function it computes, ready to paste into a
# test. `graphs_and_points()` also draws a point inside the graph's domain.

# %%
from hypothesis import find  # noqa: E402  (shown here because it is only used in this cell)

example = find(graphs(max_inputs=2, max_ops=5), lambda g: g.arity == 2 and len(g.op_names()) >= 4,
               settings=settings(database=None, derandomize=True))
print(example)
print("value at (0.5, -1.0):", example(0.5, -1.0).data)

# %% [markdown]
# ## A property test, as you would write it in `tests/`

# %%
checked = []


@settings(max_examples=200, derandomize=True, deadline=None, database=None)  # the same examples every run
@given(graphs_and_points(max_inputs=3, max_ops=8))
def test_gradients_match_finite_differences(case):
    graph, point = case
    checked.append(graph)
    assert_gradients_close(graph, *point)


test_gradients_match_finite_differences()
print(f"{len(checked)} random graphs: first and second derivatives agree with finite differences")

# %% [markdown]
# ## A planted bug, caught and shrunk
# Now a subtle bug: a sigmoid rule that is right for x ≥ 0 and wrong for x < 0. The same test finds
# it, and Hypothesis shrinks the failing graph to a minimal example, which the error message prints
# as a function you can paste into a test, with the point where it fails. Which one is instructive:
# the smallest graph it finds may not even contain a sigmoid node. softplus's derivative *is* the
# sigmoid, so its second derivative runs the planted rule, and a negative input exposes it.

# %%
subtle = lambda out, x: (out * (1 - out) if x >= 0 else out,)  # the right rule is out * (1 - out)

with planted_rule("sigmoid", subtle):
    try:
        test_gradients_match_finite_differences()
    except GradcheckError as e:
        print(e)

# %% [markdown]
# Outside the `with` block the real rule is back, and the test passes again.

# %%
checked.clear()
test_gradients_match_finite_differences()
print(f"{len(checked)} random graphs pass again")
s = 1 / (1 + math.exp(2.0))  # sigmoid(-2)
print(f"d sigmoid at -2: engine {grad(lambda x: x.sigmoid())(-2.0)!r}, by hand s(1 - s) = {s * (1 - s)!r}")

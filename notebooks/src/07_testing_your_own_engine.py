# %% [markdown]
# # 07 · Testing your own engine
#
# After a backprop lecture most people write their own engine: a `Value` class with `+`, `*`, `tanh`
# and a `backward()` that walks the graph. It gives the right numbers on the two examples they try,
# and it still has bugs, of the kinds micrograd's users report again and again: a node used twice
# loses one of its contributions, a deep graph raises `RecursionError`, a second `backward()` gives
# different grads.
#
# `autograd.testing.check_engine` property-tests such an engine against chainrule's (itself checked
# against mpmath and PyTorch): every op it has, at points Hypothesis draws inside the op's domain;
# numbers on either side of an op; reused nodes and random graphs; a chain 100,000 ops deep; a second
# `backward()`. A failed check comes with the smallest counterexample found, written in *your*
# engine's API, with the numbers it should give and the numbers it gave.

# %%
import math

from autograd.testing import check_engine, run_check

# %% [markdown]
# ## The engine under test
# A micrograd-style engine, as a learner writes it. Each op makes a node that remembers its parents and
# a `_backward` closure that passes the node's grad on to them; `backward()` sorts the graph
# topologically and calls the closures in reverse. It has a few bugs; we will let the suite find them.

# %%
class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad = other.data * out.grad
            other.grad = self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * other**-1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return other + (-self)

    def __rtruediv__(self, other):
        return other * self**-1


# %% [markdown]
# It gets the textbook neuron right, which is why bugs like these survive:

# %%
x1, x2, w1, w2, b = Value(2.0), Value(0.0), Value(-3.0), Value(1.0), Value(6.8813735870195432)
n = (x1 * w1 + x2 * w2 + b).tanh()
n.backward()
print(f"n = {n.data:.4f}, dn/dx1 = {x1.grad:.4f}, dn/dw1 = {w1.grad:.4f}")  # 0.7071, -1.5000, 1.0000

# %% [markdown]
# ## Run the suite
# `check_engine(Value)` takes the class itself. It looks for each op of chainrule's table (the
# operators, and methods such as `.tanh()`, `.exp()`); the ops your engine does not have are reported
# *unsupported*, never failed. `max_examples` is how many cases each Hypothesis search tries (200 by
# default); `seed` makes the run repeatable.

# %%
report = check_engine(Value, max_examples=100, seed=0)
print(report)

# %% [markdown]
# ## Read a counterexample
# Each failed check keeps its smallest counterexample as Python you can paste and run. The reuse check
# failed on the simplest graph that uses a node twice:

# %%
print(report["reuse"].example)

# %% [markdown]
# `x0 * x0` should give `x0.grad = 2 · x0`, and the engine gives `x0`. The example is plain code in the
# engine's own API, so we can run it ourselves:

# %%
exec(report["reuse"].example)

# %% [markdown]
# In `x0 * x0`, `self` and `other` are the same node, so `_backward` sets `x0.grad` twice and the second
# assignment wipes out the first: contributions must be *added*. Fix the method (here by assigning a
# corrected one to the class) and run the one check again with `run_check`:

# %%
def __mul__(self, other):
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data * out.grad
        other.grad += self.data * out.grad

    out._backward = _backward
    return out


Value.__mul__ = __mul__
print(run_check(Value, "reuse"))

# %% [markdown]
# The same bug failed `random_dags` in the first run, in a bigger graph. If its row said "only
# sometimes", that is the engine's doing too: the children sit in a `set`, whose order can change from
# run to run, and with `=` that order decided which contribution survived. With `+=` it no longer matters.

# %% [markdown]
# ## The bug nobody planted
# The power rule failed too, on a case that is easy to miss by hand:

# %%
print(report["op_pow"])

# %% [markdown]
# `x ** 0` is the constant 1, so its derivative is 0 everywhere, at 0 too. The rule
# `k * x ** (k - 1)` computes `0 * 0 ** -1` there, and `0.0 ** -1` raises. (micrograd 0.1.0 has the
# same bug; PyTorch returns 0.) The fix is the special case:

# %%
def __pow__(self, k):
    out = Value(self.data**k, (self,), f"**{k}")

    def _backward():
        self.grad += (k * self.data ** (k - 1) if k != 0 else 0.0) * out.grad

    out._backward = _backward
    return out


Value.__pow__ = __pow__
print(run_check(Value, "op_pow", max_examples=100))

# %% [markdown]
# ## Deep graphs, and a second backward
# Two checks still fail, both about `backward()` itself. Run them again on the fixed ops:

# %%
print(run_check(Value, "deep_chain"))
print()
print(run_check(Value, "repeated_backward"))

# %% [markdown]
# - `build` calls itself once per node on the path, so past Python's recursion limit (1,000 frames)
#   it raises `RecursionError`: a sort with an explicit stack has no limit.
# - The closures add `out.grad` into the parents' grads, and the intermediate nodes keep theirs from
#   the first pass: the second pass starts from those, so the leaves get more than the same amounts
#   again. Zeroing every non-leaf node's grad first makes each pass add exactly its own share to the
#   leaves, which is what PyTorch does.

# %%
def backward(self):
    topo, visited, stack = [], set(), [(self, False)]
    while stack:  # depth first with an explicit stack: a node goes in after all of its children
        v, children_done = stack.pop()
        if children_done:
            topo.append(v)
        elif v not in visited:
            visited.add(v)
            stack.append((v, True))
            stack.extend((child, False) for child in v._prev)
    for v in topo:
        if v._prev:  # not a leaf: its grad is this pass's only
            v.grad = 0.0
    self.grad = 1.0
    for v in reversed(topo):
        v._backward()


Value.backward = backward

# %% [markdown]
# ## Run it all again

# %%
report = check_engine(Value, max_examples=100, seed=0)
print(report)
assert report.ok

# %% [markdown]
# Every check passes; the ops the engine does not have stay *unsupported*. Add one (say `exp`) and
# the suite checks it on the next run.
#
# ## In your own repository
# Three lines give pytest one test per check, so the suite runs in your CI:
#
# ```python
# from autograd.testing import EngineTests
# from myengine import Value
#
# class TestMyEngine(EngineTests):
#     engine = Value
# ```
#
# or, from the shell, `chainrule check-engine myengine:Value` prints the same table and exits with
# status 1 if a check fails. For an engine whose API is not micrograd's, subclass
# `autograd.testing.Engine` (make a leaf, apply an op, backward, read a grad, zero grads);
# `autograd.testing.torch_engine()` is one for PyTorch, written that way.

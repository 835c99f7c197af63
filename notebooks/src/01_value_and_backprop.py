# %% [markdown]
# # 01 · A Value, its graph, and backprop by the chain rule
#
# A `Value` is a scalar that remembers how it was computed: its `parents` (the operands) and its
# `local_derivatives` (∂node/∂parent, one per parent). `backward()` walks the graph from the root in
# reverse topological order and applies the chain rule once per edge:
#
# > grad of a parent += local derivative × grad of the node
#
# We build one neuron, look at its graph, step through backprop, see why a grad is a *sum* of
# contributions, and check every grad of the neuron four ways, PyTorch among them.

# %%
from autograd import Value, backward_steps, draw_graph, explain, gradcheck, step_through

# %% [markdown]
# ## A neuron: o = tanh(x1·w1 + x2·w2 + b)

# %%
x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
n = x1 * w1 + x2 * w2 + b
n.label = "n"
o = n.tanh()
o.label = "o"
print(o)
print("parents of n:", [p.label or p.op for p in n.parents], " local derivatives:", n.local_derivatives)

# %% [markdown]
# Before any backward, the graph shows values only: no grad is shown where no backward has run yet, so
# nobody mistakes a zero for a result. Each edge carries the local derivative ∂node/∂parent. Leaves are
# coloured by role: here inputs and parameters (the leaves passed as `params=`); a constant, when a
# graph has one, is a grey dashed box.

# %%
params = [w1, w2, b]
draw_graph(o, params=params)

# %% [markdown]
# ## Backward

# %%
o.backward()
draw_graph(o, params=params)

# %% [markdown]
# Check any edge by hand: the grad of `n` is the local derivative of tanh (1 − o²) times the grad of
# `o` (1); the grad of `w1` is the local derivative of `x1 * w1` with respect to `w1` (that is, `x1`)
# times the grad of that product.

# %%
print("grad n  =", n.grad, "  1 - o² =", 1 - o.data**2)
print("grad w1 =", w1.grad, "  x1 · (1 - o²) =", x1.data * (1 - o.data**2))
print("grad x1 =", x1.grad, "  w1 · (1 - o²) =", w1.data * (1 - o.data**2))

# %% [markdown]
# ## Stepping through backprop
# `backward_steps` returns the backward pass as a list of steps in execution order: each op node, root
# first, passing its grad (the *upstream* grad) on to its operands. `draw_graph(root, step=k)` shows
# the state after step k: that step's node outlined and its edges labelled *local × upstream =
# contribution*, earlier steps' edges in blue, the ones still to come dashed, and only the grads
# summed so far. `explain` narrates every step with the actual numbers.

# %%
steps = backward_steps(o)
for s in steps:
    print(f"step {s.index}: node {s.node.label or s.node.op!r}, upstream grad {s.upstream:.4f}, "
          f"contributions {[round(c.amount, 4) for c in s.contributions]}")

# %%
draw_graph(o, params=params, step=2)

# %%
explain(o)

# %% [markdown]
# ## Watch backprop happen
# `step_through` plays both passes over one picture. First the forward pass: values appear node by
# node, each op computing its data and its local derivatives. Then the backward pass, one edge at a
# time: the edge lights up with *local derivative × upstream grad = contribution*, and the parent's
# grad grows ("so far") until its last contribution lands. Step with the buttons or the keys
# (→ step, ← back, Home reset, space play/pause) and read the line under the graph; click a node to
# see every path from it to the root and how its grad adds up. Nodes never move, so flip back and
# forth freely. What `step_through` returns has a `.save("neuron.html")` that writes the same thing
# as one file that works offline.

# %%
step_through(o, params=params)

# %% [markdown]
# Its frames are plain data too: the backward ones are exactly `backward_steps`' contributions.

# %%
for frame in step_through(o, params=params).frames[-3:]:
    print(frame.counter, "|", frame.narration)

# %% [markdown]
# ## A grad is a sum: a value used more than once
# In the neuron every node feeds exactly one other, so each grad above is a single product. When a
# value is used twice, it gets a contribution along each use, and its grad is their **sum**: that is
# the multivariable chain rule, and why `backward()` *adds* to `.grad` (`+=`) instead of setting it.
# (Karpathy's micrograd lecture shows the bug this prevents: with `=`, `a + a` gets grad 1, not 2.)
#
# Take f = a·c + a with a = 3, c = 2. By hand, ∂f/∂a = c + 1 = 3: 2 through the product, 1 through
# the sum. Follow the backward pass step by step and add up what reaches `a`.

# %%
a, c = Value(3.0, label="a"), Value(2.0, label="c")
ac = a * c
ac.label = "a·c"
f = ac + a
f.label = "f"
so_far = 0.0
for step in backward_steps(f):
    for part in step.contributions:
        if part.parent is a:
            so_far += part.amount
            print(f"step {step.index}: {step.node.label} passes {part.local:g} × {step.upstream:g} = "
                  f"{part.amount:g} to a; a's grad so far {so_far:g}")
f.backward()
print(f"a.grad after backward() = {a.grad:g}; by hand c + 1 = {c.data + 1:g}")
draw_graph(f)

# %% [markdown]
# The same holds when one op uses a value twice: in `a + a` each operand slot passes 1, so the grad
# is 1 + 1 = 2; in `a * a` each slot passes the other factor, a + a = 2a.

# %%
for expression, by_hand in (("a + a", "1 + 1 = 2"), ("a * a", "3 + 3 = 2a = 6")):
    a = Value(3.0, label="a")
    out = a + a if expression == "a + a" else a * a
    (step,) = backward_steps(out)
    print(f"{expression}: contributions {[c.amount for c in step.contributions]}", end="")
    out.backward()
    print(f", a.grad = {a.grad:g} (by hand {by_hand})")

# %% [markdown]
# ## Checking every grad of the neuron, four ways
# 1. **Calculus by hand.** d tanh(n)/dn = 1 − tanh²(n) = 1 − o², and n = x1·w1 + x2·w2 + b, so
#    ∂o/∂w1 = x1 (1 − o²), ∂o/∂x1 = w1 (1 − o²), and so on; ∂o/∂b = 1 − o².
# 2. **A numeric nudge**, by hand: move one input by ±h and watch o (a central difference).
# 3. **`gradcheck`**, which treats the function as a black box, compares every partial derivative
#    with central differences, and raises if any differs.
# 4. **PyTorch**, an independent engine, in float64.

# %%
def neuron(x1, x2, w1, w2, b):
    return (x1 * w1 + x2 * w2 + b).tanh()


point = {"x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0, "b": 6.8813735870195432}
leaves = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b}
slope = 1 - o.data**2  # d tanh at n
by_hand = {"x1": point["w1"] * slope, "x2": point["w2"] * slope, "w1": point["x1"] * slope,
           "w2": point["x2"] * slope, "b": slope}
h = 1e-6
print(f"{'':>3} {'engine':>20} {'by hand':>20} {'nudge':>20}")
worst_hand = worst_nudge = 0.0
for name, leaf in leaves.items():
    up = neuron(**{k: Value(v + h if k == name else v) for k, v in point.items()}).data
    down = neuron(**{k: Value(v - h if k == name else v) for k, v in point.items()}).data
    nudge = (up - down) / (2 * h)
    print(f"{name:>3} {leaf.grad:20.15f} {by_hand[name]:20.15f} {nudge:20.15f}")
    worst_hand = max(worst_hand, abs(by_hand[name] - leaf.grad))
    worst_nudge = max(worst_nudge, abs(nudge - leaf.grad))
print(f"largest difference from the engine: by hand {worst_hand:.1e}, nudge {worst_nudge:.1e}")
print("gradcheck:", gradcheck(neuron, *point.values()))

# %%
try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed, so this check is left out: pip install torch (the CPU build is enough)")
if torch is not None:
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in point.items()}
    o_torch = torch.tanh(t["x1"] * t["w1"] + t["x2"] * t["w2"] + t["b"])
    o_torch.backward()
    print(f"o: chainrule {o.data!r}, PyTorch {o_torch.item()!r}")
    for name, leaf in leaves.items():
        print(f"grad {name:>2}: chainrule {leaf.grad!r:>22}, PyTorch {t[name].grad.item()!r:>22}")
    worst_torch = max(abs(leaf.grad - t[name].grad.item()) for name, leaf in leaves.items())
    print(f"largest difference: {worst_torch:.1e}")

# %% [markdown]
# The hand formulas give the engine's grads exactly (the same float operations), PyTorch within a
# rounding step or two of float64 (its largest difference, printed, is below 10⁻¹⁵), and the nudge
# to about ten digits: a difference quotient with h = 10⁻⁶ loses the rest to rounding.

# %% [markdown]
# ## Calling backward twice, and forgetting zero_grad
# `backward()` *adds* to `.grad` (as PyTorch does), so a second call adds exactly the same amounts
# again: every grad doubles. That is why a training loop zeroes the grads before each backward. (In
# micrograd a second backward *compounds* through intermediate nodes; here each pass computes its
# adjoints fresh, so it is exactly double.)

# %%
a, c = Value(3.0, label="a"), Value(2.0, label="c")
y = (a * c) ** 2
y.backward()
print("after one backward:  a.grad =", a.grad, f" (by hand 2·a·c·c = {2 * a.data * c.data * c.data:g})")
y.backward()
print("after two backwards: a.grad =", a.grad, " (exactly double)")
for v in (a, c):
    v.grad = 0.0  # what zero_grad() does for a model's parameters
y.backward()
print("after zeroing and one more backward: a.grad =", a.grad)

# %% [markdown]
# In a training loop that forgets to zero the grads, each step therefore follows the sum of every
# gradient so far instead of the current one, and keeps pushing in old directions after the loss
# has turned. Notebook 02 runs that loop next to the right one and measures the difference.

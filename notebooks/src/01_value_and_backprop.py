# %% [markdown]
# # 01 · A Value, its graph, and backprop by the chain rule
#
# A `Value` is a scalar that remembers how it was computed: its `parents` (the operands) and its
# `local_grads` (∂node/∂parent, one per parent). `backward()` walks the graph from the root in reverse
# topological order and applies the chain rule once per edge:
#
# > grad of a parent += local derivative × grad of the node
#
# We build one neuron, look at its graph, step through backprop, and check every number three ways.

# %%
import math

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
print("parents of n:", [p.label or p.op for p in n.parents], " local grads:", n.local_grads)

# %% [markdown]
# Before any backward, the graph shows values only: no grad is shown where no backward has run yet, so
# nobody mistakes a zero for a result. Each edge carries the local derivative ∂node/∂parent. Leaves are
# coloured by role: inputs, parameters (passed as `params=`), constants.

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
# `backward_steps` returns the backward pass as a list of steps in execution order; `draw_graph(root,
# step=k)` shows the state after step k (the node being processed highlighted, edges already traversed,
# grads accumulated so far). `explain` narrates every step with the actual numbers.

# %%
steps = backward_steps(o)
for s in steps:
    print(f"step {s.index}: node {s.node.label or s.node.op!r}, upstream grad {s.upstream:.4f}, "
          f"contributions {[round(c.amount, 4) for c in s.contributions]}")

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
# forth freely. `stepper.save("neuron.html")` writes the same thing as one file that works offline.

# %%
step_through(o, params=params)

# %% [markdown]
# Its frames are plain data too: the backward ones are exactly `backward_steps`' contributions.

# %%
for frame in step_through(o, params=params).frames[-3:]:
    print(frame.counter, "|", frame.narration)

# %% [markdown]
# ## Three independent checks
# 1. **Calculus by hand.** d tanh(n)/dn = 1 − tanh²(n), and ∂n/∂w1 = x1, so ∂o/∂w1 = x1 (1 − o²).
# 2. **Finite differences**, treating the function as a black box: `gradcheck` compares every partial
#    derivative with a central difference and raises if any differs.
# 3. **A numeric nudge**, by hand: change w1 by h and watch o.

# %%
by_hand = x1.data * (1 - math.tanh(n.data) ** 2)
print("by hand:", by_hand, " engine:", w1.grad)


def neuron(x1, x2, w1, w2, b):
    return (x1 * w1 + x2 * w2 + b).tanh()


print("gradcheck:", gradcheck(neuron, 2.0, 0.0, -3.0, 1.0, 6.8813735870195432))
h = 1e-6
nudged = neuron(Value(2.0), Value(0.0), Value(-3.0 + h), Value(1.0), Value(6.8813735870195432))
print("nudge:", (nudged.data - o.data) / h)

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
print("after one backward:  a.grad =", a.grad, " (2·a·c·c = 24)")
y.backward()
print("after two backwards: a.grad =", a.grad, " (exactly double: 48)")
for v in (a, c):
    v.grad = 0.0  # what zero_grad() does for a model's parameters
y.backward()
print("after zeroing and one more backward: a.grad =", a.grad)

# %% [markdown]
# Forgetting to zero grads in a training loop therefore makes every step use the sum of all past
# gradients: the update grows each step and training diverges. Notebook 02 shows the loop done right.

# %% [markdown]
# # 06 · Higher-order derivatives: grad of grad, the Hessian, Newton's method
#
# Every local-derivative rule in chainrule's op table is written with arithmetic on the op's inputs and
# output, so the same rule that gives a float during `backward()` can also run on `Value`s. When it
# does, the gradient is itself a graph, and we can differentiate it again.

# %%
import math

from autograd import Value, grad, gradients, hessian

# %% [markdown]
# ## Grad of grad
# `grad(f)` returns a function that computes df/dx. It nests: `grad(grad(f))` is the second
# derivative, and so on. Take f(x) = x³ + sin x at x = 2; by hand f' = 3x² + cos x,
# f'' = 6x − sin x, f''' = 6 − cos x.

# %%
f = lambda x: x**3 + x.sin()
x0 = 2.0
for order, g in enumerate([f, grad(f), grad(grad(f)), grad(grad(grad(f)))]):
    value = g(Value(x0)).data if order == 0 else g(x0)
    print(f"order {order}: {value:+.12f}")
print("by hand:", 3 * x0**2 + math.cos(x0), 6 * x0 - math.sin(x0), 6 - math.cos(x0))

# %% [markdown]
# ## What `create_graph=True` does
# `gradients(root, inputs)` returns floats. With `create_graph=True` it returns Values whose own graph
# records how the gradient was computed: here dy/dx = 3x² is a small graph built from x.

# %%
x = Value(2.0, label="x")
y = x * x * x
(dy_dx,) = gradients(y, [x], create_graph=True)
print("dy/dx =", dy_dx.data, " (3x² = 12)")
(d2y_dx2,) = gradients(dy_dx, [x])
print("d²y/dx² =", d2y_dx2, " (6x = 12)")

# %% [markdown]
# ## Nesting without perturbation confusion
# A classic trap of nested differentiation: in `x * d/dy (x + y)`, the inner derivative must be taken
# with respect to `y` only. Each `grad` call differentiates with respect to fresh nodes made for that
# call, so the inner derivative is 1 and the outer derivative is 1 (a buggy engine says 2).

# %%
print(grad(lambda x: x * grad(lambda y: x + y)(1.0))(2.0))

# %% [markdown]
# ## The Hessian
# For a function of n scalars, `hessian(f)` returns the n×n matrix of second derivatives. Rosenbrock's
# function f(a, b) = (1 − a)² + 100 (b − a²)² has, by hand,
# H = [[2 − 400(b − a²) + 800a², −400a], [−400a, 200]].

# %%
rosenbrock = lambda a, b: (1 - a) ** 2 + 100 * (b - a**2) ** 2
a0, b0 = -1.2, 1.0
H = hessian(rosenbrock)(a0, b0)
print(H)
print([[2 - 400 * (b0 - a0**2) + 800 * a0**2, -400 * a0], [-400 * a0, 200.0]])

# %% [markdown]
# ## Newton's method
# Newton's method uses both: x ← x − H⁻¹ ∇f. On Rosenbrock from the classic start (−1.2, 1) it reaches
# the minimum (1, 1) in a handful of steps, where gradient descent needs thousands.

# %%
def newton_step(f, a, b):
    ga, gb = grad(f, argnums=(0, 1))(a, b)
    (haa, hab), (hba, hbb) = hessian(f)(a, b)
    det = haa * hbb - hab * hba
    # Solve the 2×2 system H · step = g by hand.
    return a - (hbb * ga - hab * gb) / det, b - (-hba * ga + haa * gb) / det


a, b = a0, b0
for step in range(8):
    a, b = newton_step(rosenbrock, a, b)
    print(f"step {step + 1}: a={a:.10f} b={b:.10f} f={rosenbrock(Value(a), Value(b)).data:.3e}")

# %% [markdown]
# # 06 · Higher-order derivatives: grad of grad, the Hessian, Newton's method
#
# Every local-derivative rule in chainrule's op table is written with operations that work on floats
# and on `Value`s alike (arithmetic on the op's inputs and output, and functions such as the cos in
# sin's rule), so the same rule that gives a float during `backward()` can also run on `Value`s. When
# it does, the gradient is itself a graph, and we can differentiate it again.

# %%
import math

from autograd import Value, draw_graph, grad, gradients, hessian

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
# records how the gradient was computed: here dy/dx = 3x² comes back as a graph built from x, drawn
# below. Its leaves are x and the constant 1 that seeds backprop (∂y/∂y = 1); its ops are the chain
# rule's products (local derivative × grad) and the sum of the contributions from x's three uses in
# y = x·x·x, 4 + 4 + 4 = 12. Differentiating *that* graph gives d²y/dx². (`gradients` returns its
# results and leaves every `.grad` alone, which is why the picture's title says no backward has run.)

# %%
x = Value(2.0, label="x")
y = x * x * x
(dy_dx,) = gradients(y, [x], create_graph=True)
dy_dx.label = "dy/dx"
print("dy/dx =", dy_dx.data, f" (by hand 3x² = {3 * x.data**2:g})")
(d2y_dx2,) = gradients(dy_dx, [x])
print("d²y/dx² =", d2y_dx2, f" (by hand 6x = {6 * x.data:g})")
draw_graph(dy_dx)

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
# Newton's method uses both: x ← x − H⁻¹ ∇f. It jumps to the minimum of the local quadratic model
# (the second-order Taylor expansion) at every step. On Rosenbrock from the classic start (−1.2, 1)
# it reaches the minimum (1, 1) in a handful of steps.

# %%
def newton_step(f, a, b):
    ga, gb = grad(f, argnums=(0, 1))(a, b)
    (haa, hab), (hba, hbb) = hessian(f)(a, b)
    det = haa * hbb - hab * hba
    # Solve the 2×2 system H · step = g by hand.
    return a - (hbb * ga - hab * gb) / det, b - (-hba * ga + haa * gb) / det


a, b = a0, b0
values = [rosenbrock(Value(a), Value(b)).data]
for step in range(8):
    a, b = newton_step(rosenbrock, a, b)
    values.append(rosenbrock(Value(a), Value(b)).data)
    print(f"step {step + 1}: a={a:.10f} b={b:.10f} f={values[-1]:.3e}")
print("f went up at steps", [k for k in range(1, 9) if values[k] > values[k - 1]])

# %% [markdown]
# The path is not downhill all the way: f goes *up* at the steps printed, once to more than a
# thousand. Newton's step trusts the quadratic model, and far from the minimum Rosenbrock's curved
# valley is nothing like a quadratic, so the model's minimum can lie where f is large. Close to
# (1, 1) the model is good, and the last steps take f to 0 in floating point. (Practical Newton
# methods add a line search or a trust region to refuse such jumps.)
#
# Plain gradient descent, for comparison, needs a step size below 2/λ, where λ is the Hessian's
# largest eigenvalue at the minimum, or it cannot settle there. Even at half that limit, thousands of
# steps leave it short of the minimum:

# %%
(haa, hab), (_, hbb) = hessian(rosenbrock)(1.0, 1.0)
largest = (haa + hbb) / 2 + math.sqrt(((haa - hbb) / 2) ** 2 + hab**2)  # of a symmetric 2×2 matrix
lr = 1 / largest
print(f"largest eigenvalue of H at (1, 1): {largest:.1f}, so lr = 1/λ = {lr:.2e}")
a, b = a0, b0
gradient = grad(rosenbrock, argnums=(0, 1))
for step in range(1, 5001):
    ga, gb = gradient(a, b)
    a, b = a - lr * ga, b - lr * gb
    if step in (10, 100, 1000, 5000):
        print(f"step {step}: a={a:.6f} b={b:.6f} f={rosenbrock(Value(a), Value(b)).data:.3e}")

# %% [markdown]
# # 08 · Losses and their gradients, by hand and by the engine
#
# Backprop starts at the loss: the first grads it passes on are ∂loss/∂prediction, and every other
# grad in the network is built from them. Here we derive them by hand for the three losses this series
# trains with (mean squared error, binary cross-entropy on a logit, and cross-entropy over classes),
# check the engine against each formula, and train a regression with MSE against its closed-form
# answer.

# %%
import math
import random

import matplotlib.pyplot as plt

import nn
from autograd import Value, gradcheck

# %% [markdown]
# ## Mean squared error
# For predictions p₁…p_N and targets t₁…t_N,
#
# L = (1/N) Σᵢ (pᵢ − tᵢ)²,  so  ∂L/∂pᵢ = (2/N)(pᵢ − tᵢ):
#
# the square's derivative 2(pᵢ − tᵢ), times 1/N from the mean. A prediction above its target gets a
# positive grad (gradient descent pushes it down), and the push grows with the miss.

# %%
predictions = [Value(v) for v in (2.5, 0.0, -1.0, 4.0)]
targets = [3.0, -0.5, 1.0, 4.0]
loss = nn.mse(predictions, targets)
loss.backward()
N = len(targets)
by_hand = [2 / N * (p.data - t) for p, t in zip(predictions, targets)]
print(f"loss {loss.data} (by hand {sum((p.data - t) ** 2 for p, t in zip(predictions, targets)) / N})")
print("engine: ", [p.grad for p in predictions])
print("by hand:", by_hand)

# %% [markdown]
# ## Binary cross-entropy on a logit
# A one-output classifier gives a score z (a logit); σ(z) = 1 / (1 + e⁻ᶻ) is its probability of
# class 1. For a target t ∈ {0, 1} the loss is −[t log σ(z) + (1 − t) log(1 − σ(z))]. With
# dσ/dz = σ(1 − σ), d log σ/dz = 1 − σ and d log(1 − σ)/dz = −σ, so
#
# ∂L/∂z = −[t (1 − σ) − (1 − t) σ] = σ(z) − t,
#
# divided by N for the mean over a batch. The grad is the predicted probability minus the target:
# never more than 1 in size, however wrong the score (the last logit, 8 for a class-0 point, is very
# wrong, and its grad is just under 1/N = 0.25).

# %%
logits = [Value(v) for v in (2.0, -1.0, 0.0, 8.0)]
labels = [1, 1, 0, 0]
loss = nn.binary_cross_entropy_with_logits(logits, labels)
loss.backward()
sigmoid = [1 / (1 + math.exp(-z.data)) for z in logits]
by_hand = [(s - t) / len(labels) for s, t in zip(sigmoid, labels)]
print("engine: ", [z.grad for z in logits])
print("by hand:", by_hand)
print("largest difference:", max(abs(z.grad - h) for z, h in zip(logits, by_hand)))

# %% [markdown]
# ## Cross-entropy over classes: softmax minus one-hot
# With C classes the model gives C scores z₁…z_C per sample. Softmax turns them into probabilities
# sₖ = e^{zₖ} / Σⱼ e^{zⱼ}, and the loss for true class y is −log s_y = log Σⱼ e^{zⱼ} − z_y. Its
# derivative with respect to score k has two parts: ∂/∂zₖ log Σⱼ e^{zⱼ} = e^{zₖ} / Σⱼ e^{zⱼ} = sₖ, and
# ∂(−z_y)/∂zₖ = −1 if k = y, else 0. So
#
# ∂L/∂zₖ = sₖ − [k = y],  the softmax minus the one-hot target,
#
# again divided by N for the batch mean. Every wrong class is pushed down by its probability, the
# true class up by 1 − s_y (each divided by N), and the grads of a sample sum to zero.

# %%
scores = [[Value(v) for v in row] for row in ([2.0, 1.0, -1.0], [0.5, 0.5, 3.0])]
classes = [0, 1]
loss = nn.cross_entropy(scores, classes)
loss.backward()
for row, y in zip(scores, classes):
    total = sum(math.exp(z.data) for z in row)
    softmax = [math.exp(z.data) / total for z in row]
    one_hot = [1.0 if k == y else 0.0 for k in range(len(row))]
    by_hand = [(s - o) / len(classes) for s, o in zip(softmax, one_hot)]
    print(f"true class {y}: engine {[round(z.grad, 12) for z in row]}, sum {sum(z.grad for z in row):.1e}")
    print(f"{'':13}by hand {[round(g, 12) for g in by_hand]}, largest difference "
          f"{max(abs(z.grad - g) for z, g in zip(row, by_hand)):.1e}")

# %% [markdown]
# The engine's grads come from composing its ops (for cross-entropy: exp, log, sums, the max-shift that
# keeps log-sum-exp from overflowing); the formulas above came from calculus. Finite differences are a
# third opinion that knows nothing of either: `gradcheck` treats each loss as a black box, of the six
# scores, the four logits and the four predictions above.

# %%
flat = [2.0, 1.0, -1.0, 0.5, 0.5, 3.0]
print(gradcheck(lambda *z: nn.cross_entropy([list(z[:3]), list(z[3:])], classes), *flat))
print(gradcheck(lambda *z: nn.binary_cross_entropy_with_logits(list(z), labels), 2.0, -1.0, 0.0, 8.0))
print(gradcheck(lambda *p: nn.mse(list(p), targets), 2.5, 0.0, -1.0, 4.0))

# %% [markdown]
# ## A regression trained with MSE
# Points scattered around the line t = 2x + 1. One linear neuron, p = w·x + b, trained by `fit` with
# `loss="mse"` and plain full-batch gradient descent, should find the least-squares line, which has a
# closed form: w = cov(x, t) / var(x), b = mean(t) − w·mean(x).

# %%
rng = random.Random(0)
xs = [rng.uniform(-1, 1) for _ in range(50)]
ts = [2 * x + 1 + rng.gauss(0, 0.3) for x in xs]
neuron = nn.Neuron(1, activation="linear", seed=0)
history = nn.fit(neuron, [[x] for x in xs], ts, loss="mse", optimizer=nn.SGD(neuron.parameters(), lr=0.5),
                 epochs=100, batch_size=len(xs), progress=False)

mean_x, mean_t = sum(xs) / len(xs), sum(ts) / len(ts)
w = sum((x - mean_x) * (t - mean_t) for x, t in zip(xs, ts)) / sum((x - mean_x) ** 2 for x in xs)
b = mean_t - w * mean_x
print(f"fit:           w = {neuron.w[0].data:.6f}, b = {neuron.b.data:.6f}, MSE {history.train_loss[-1]:.6f}")
print(f"least squares: w = {w:.6f}, b = {b:.6f}")

line = [-1.0, 1.0]
plt.scatter(xs, ts, s=12, label="data")
plt.plot(line, [p for p in nn.predict(neuron, [[x] for x in line], loss="mse")], color="tab:red",
         label=f"fit: {neuron.w[0].data:.3f} x + {neuron.b.data:.3f}")
plt.xlabel("x")
plt.ylabel("t")
plt.legend()
plt.show()

# %% [markdown]
# The neuron's weight and bias match the least-squares line to the printed digits: gradient descent
# on the MSE, whose grad is (2/N) Σ (p − t)·x for w and (2/N) Σ (p − t) for b, stops where both sums
# are zero, which are exactly the equations the closed form solves.

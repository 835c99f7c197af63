# %% [markdown]
# # 04 · Vanishing and exploding gradients, and their remedies
#
# Backprop multiplies local derivatives along every path from the loss to a weight. In a deep net that
# is a long product: if its factors are mostly below 1 the gradient of the first layers *vanishes*; if
# they are above 1 it *explodes*. We measure the gradient norm of each layer of a 10-layer network and
# compare four designs: sigmoid, ReLU, sigmoid with residual (skip) connections, sigmoid with batch
# normalization.

# %%
import math
import warnings

import matplotlib.pyplot as plt

import nn
from nn.data import make_moons

X, y = make_moons(n_samples=64, noise=0.1, seed=0)
DEPTH, WIDTH = 10, 8


def layer_grad_norms(model, X, y):
    """One forward and backward pass on a batch; the L2 norm of each layer's parameter gradients."""
    model.zero_grad()
    scores = model(X)  # a list of samples: one score per sample
    nn.binary_cross_entropy_with_logits(scores, y).backward()
    norms = {}
    for name, p in model.named_parameters():
        if name.startswith("layers."):
            layer = int(name.split(".")[1])
            norms[layer] = norms.get(layer, 0.0) + p.grad**2
    return [math.sqrt(norms[i]) for i in sorted(norms)]


designs = {
    "sigmoid": nn.MLP(2, [WIDTH] * DEPTH + [1], activation="sigmoid", seed=0),
    "relu": nn.MLP(2, [WIDTH] * DEPTH + [1], activation="relu", seed=0),
    "sigmoid + residual": nn.MLP(2, [WIDTH] * DEPTH + [1], activation="sigmoid", residual=True, seed=0),
    "sigmoid + batchnorm": nn.MLP(2, [WIDTH] * DEPTH + [1], activation="sigmoid", batchnorm=True, seed=0),
}
results = {name: layer_grad_norms(model, X, y) for name, model in designs.items()}
for name, norms in results.items():
    print(f"{name:<20} first layer / last layer = {norms[0] / norms[-1]:.2e}")

for name, norms in results.items():
    plt.plot(range(len(norms)), norms, marker="o", label=name)
plt.yscale("log")
plt.xlabel("layer (0 = nearest the input)")
plt.ylabel("gradient norm")
plt.title(f"per-layer gradient norms of {DEPTH}-layer nets, one batch")
plt.legend()
plt.show()

# %% [markdown]
# **Why.** The sigmoid's local derivative s(1 − s) is at most 1/4, so every layer shrinks the gradient
# on its way back: ten layers leave the first layer with a tiny fraction of the last one's gradient.
# ReLU's local derivative is 1 where the unit is active, which helps. A residual connection
# z ← z + W·σ(z) + b adds a path whose local derivative is exactly 1, so the gradient reaches the early
# layers almost undiminished (here about a fifth of the last layer's, six orders of magnitude more
# than the plain sigmoid net). chainrule's residual blocks are the "pre-activation" kind (He et al.,
# 2016): the branch adds a term that averages zero, so the skip path does not drift as the net gets
# deeper. Batch normalization keeps each layer's pre-activations centred and scaled, where the
# sigmoid's slope is largest.

# %% [markdown]
# ## What it does to training
# The same four designs, trained for a few epochs with the same optimizer.

# %%
for name in designs:
    kwargs = {"residual": True} if "residual" in name else {"batchnorm": True} if "batchnorm" in name else {}
    activation = "relu" if name == "relu" else "sigmoid"
    model = nn.MLP(2, [WIDTH] * DEPTH + [1], activation=activation, seed=0, **kwargs)
    history = nn.fit(model, X, y, optimizer=nn.SGD(model.parameters(), lr=0.1, momentum=0.9),
                     epochs=15, batch_size=16, progress=False, seed=0)
    plt.plot(history.train_loss, label=name)
plt.xlabel("epoch")
plt.ylabel("train loss")
plt.legend()
plt.show()

# %% [markdown]
# ## An exploding case, and gradient clipping
# Scale every weight of a deep linear-activation net up by 1.6: each layer now multiplies both the
# forward signal and the backward gradient by more than one, so every layer's gradient is huge. A
# single SGD step with such a gradient throws the weights far away, and training overflows.
# `clip_grad_norm` rescales the whole gradient to a maximum norm (it returns the norm before
# clipping); `fit(max_grad_norm=...)` does this at every step.

# %%
def exploding_net():
    model = nn.MLP(2, [WIDTH] * DEPTH + [1], activation="linear", seed=0)
    for name, p in model.named_parameters():
        if ".w." in name:
            p.data *= 1.6
    return model


norms = layer_grad_norms(exploding_net(), X, y)
print("per-layer gradient norms:", [f"{n:.3g}" for n in norms])
print("the same layers of the sigmoid net:", [f"{n:.1e}" for n in results["sigmoid"]])
plt.plot(norms, marker="o")
plt.yscale("log")
plt.xlabel("layer")
plt.ylabel("gradient norm")
plt.title("an exploding gradient")
plt.show()

model = exploding_net()
model.zero_grad()
nn.binary_cross_entropy_with_logits(model(X), y).backward()
total = nn.clip_grad_norm(model.parameters(), max_norm=1.0)
clipped = math.sqrt(sum(p.grad**2 for p in model.parameters()))
print(f"gradient norm before clipping {total:.3g}, after {clipped:.3g}")

warnings.simplefilter("ignore", RuntimeWarning)  # fit's warning is printed from history.message below
for max_grad_norm in (None, 1.0):
    model = exploding_net()
    history = nn.fit(model, X, y, optimizer=nn.SGD(model.parameters(), lr=0.01), epochs=10,
                     batch_size=16, max_grad_norm=max_grad_norm, progress=False, seed=0)
    print(f"max_grad_norm={max_grad_norm}: stopped by {history.stop_reason!r} after {history.epochs} "
          f"epochs, train loss {[round(v, 3) for v in history.train_loss]}")
    if history.message:
        print("   ", history.message)

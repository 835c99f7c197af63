# %% [markdown]
# # 04 · Vanishing and exploding gradients
#
# Backprop multiplies local derivatives along every path from the loss back to a weight. In a deep net
# that is a long product, one factor per layer. If the factors are mostly below 1, the gradient
# shrinks on its way back, so the layers nearest the input get the smallest gradients: it *vanishes*.
# If they are mostly above 1, it grows on its way back and the layers nearest the input get the
# largest: it *explodes*. Either way the trouble shows up towards the input, so we measure the
# gradient norm of every layer, numbered from the input.
#
# Every net here has 10 hidden layers of 8 neurons and an output layer: 11 layers, numbered 0 (nearest
# the input) to 10 (the output).

# %%
import math
import warnings

import matplotlib.pyplot as plt

import nn
from nn.data import make_moons

X, y = make_moons(n_samples=64, noise=0.1, seed=0)          # training points
X_val, y_val = make_moons(n_samples=64, noise=0.1, seed=1)  # held-out points, for validation
DEPTH, WIDTH = 10, 8
designs = {
    "sigmoid": {"activation": "sigmoid"},
    "relu": {"activation": "relu"},
    "sigmoid + residual": {"activation": "sigmoid", "residual": True},
    "sigmoid + batchnorm": {"activation": "sigmoid", "batchnorm": True},
}

# %% [markdown]
# ## Where the gradient goes, at initialization
# One forward and backward pass on the 64 training points per design; `nn.layer_grad_norms(model)`
# gives the norm of each layer's gradient (BatchNorm's parameters as `norms.i`, drawn as squares
# between the layers they follow).

# %%
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
at_init = {}
for name, kwargs in designs.items():
    model = nn.MLP(2, [WIDTH] * DEPTH + [1], seed=0, **kwargs)
    model.zero_grad()
    nn.binary_cross_entropy_with_logits(model(X), y).backward()
    at_init[name] = nn.layer_grad_norms(model)
    nn.plot.grad_norms(at_init[name], ax=ax, label=name)
    norms = at_init[name]
    spread = max(norms.values()) / min(norms.values())
    print(f"{name:<20} layer 0 gets {norms['layers.0'] / norms[f'layers.{DEPTH}']:8.2g} x the gradient of "
          f"layer {DEPTH} (the output layer); largest / smallest: {spread:.3g}")
ax.set_title("per-layer gradient norms at initialization, one batch")
plt.show()

# %% [markdown]
# **Why.** The sigmoid's local derivative s(1 − s) is at most 1/4, so every sigmoid layer shrinks the
# gradient on its way back: the plain sigmoid net's line falls steeply to the left, and its first
# layer gets a vanishing fraction of the output layer's gradient (the first ratio printed). ReLU's
# local derivative is 1 wherever the unit is active, so its line stays within a factor of ten (its
# largest / smallest, printed).
# A residual connection z ← z + W·σ(z) + b adds a path whose local derivative is exactly 1, so the
# residual net's line stays level from the last hidden layer down to the first; chainrule's residual
# blocks are the "pre-activation" kind (He et al., 2016), whose branches add terms of mean zero, so
# the skip path does not drift as the net gets deeper.
#
# Batch normalization keeps each layer's pre-activations centred and scaled, where the sigmoid's slope
# is largest, so nothing vanishes. Its line even rises to the left: its first layer gets *more* than
# the output layer (a ratio above 1). That is a mild explosion, and a known one: backprop through a
# batch's normalization (dividing by the batch's standard deviation) makes gradients grow with depth
# at initialization (Yang et al., 2019, "A Mean Field Theory of Batch Normalization").

# %% [markdown]
# ## What it does to training
# The same four designs, trained with the same optimizer, plain SGD (lr 0.1, no momentum): each step
# moves a weight by lr × its gradient, so a layer whose gradient vanishes does not move. (Adam would
# rescale every parameter's step by its own gradient's size and hide part of the effect.) The
# validation loss is measured on the held-out points, in eval mode.

# %%
histories = {}
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for name, kwargs in designs.items():
    model = nn.MLP(2, [WIDTH] * DEPTH + [1], seed=0, **kwargs)
    history = nn.fit(model, X, y, optimizer=nn.SGD(model.parameters(), lr=0.1), epochs=15, batch_size=16,
                     validation_data=(X_val, y_val), grad_norms=True, progress=False, seed=0)
    histories[name] = history
    ax.plot(range(1, history.epochs + 1), history.val_loss, marker=".", label=name)
    print(f"{name:<20} validation loss {history.val_loss[0]:.3f} after epoch 1, "
          f"{history.val_loss[-1]:.3f} after {history.epochs}; validation accuracy "
          f"{history.val_accuracy[-1]:.1%}")
ax.axhline(math.log(2), color="0.5", linestyle=":", label="log 2: a coin flip")
ax.set(xlabel="epoch", ylabel="validation loss", title="training the four designs")
ax.legend()
plt.show()

# %% [markdown]
# The plain sigmoid net does not learn: its validation loss settles at log 2 ≈ 0.693, the loss of
# predicting 50/50 for every point, and its accuracy is a coin flip. The other three learn: their
# validation losses end below log 2, the ReLU and batch-normalized nets' far below. The
# batch-normalized net's curve is the bumpiest: in training, each step normalizes with the mean and
# variance of just 16 points, while the validation loss uses the running averages of those
# statistics (eval mode).
#
# Training does not cure the vanishing gradient either. `fit(grad_norms=True)` recorded every layer's
# gradient norm in every epoch: the sigmoid net's early layers (dark) stay orders of magnitude below
# its late ones (light) in every epoch, while the batch-normalized net keeps all its layers,
# BatchNorm's own parameters included (dashed), within a factor of tens of each other, not millions
# (the spreads printed below the plots).

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), layout="constrained", sharey=True)
nn.plot.grad_norms(histories["sigmoid"], ax=left).set_title("sigmoid")
nn.plot.grad_norms(histories["sigmoid + batchnorm"], ax=right).set_title("sigmoid + batchnorm")
plt.show()
for name in ("sigmoid", "sigmoid + batchnorm"):
    norms = histories[name].grad_norms
    spread = [max(v[e] for v in norms.values()) / min(v[e] for v in norms.values())
              for e in range(histories[name].epochs)]
    print(f"{name:<20} largest / smallest layer norm per epoch: from {min(spread):.3g} to {max(spread):.3g}")

# %% [markdown]
# ## An exploding gradient
# Now make the factors bigger than 1. A tanh layer's local derivative (with respect to its input) is
# its weights times tanh′(z), and tanh′ is at most 1, so with large enough weights the product is
# above 1 on average. Multiply the weights of every hidden-to-hidden layer (layers 1 to 9) by 4: going
# back, most layers then multiply the gradient by more than one, and the layers nearest the input
# get the largest gradients. The forward pass stays tame, since tanh keeps every activation in (−1, 1).

# %%
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for scale in (1.0, 4.0):
    model = nn.MLP(2, [WIDTH] * DEPTH + [1], activation="tanh", seed=0)
    for layer in model.layers[1:DEPTH]:
        for neuron in layer.neurons:
            for w in neuron.w:
                w.data *= scale
    model.zero_grad()
    loss = nn.binary_cross_entropy_with_logits(model(X), y)
    loss.backward()
    norms = nn.layer_grad_norms(model)
    nn.plot.grad_norms(norms, ax=ax, label=f"tanh, hidden weights x {scale:g}")
    ratio = norms["layers.0"] / norms[f"layers.{DEPTH - 1}"]
    print(f"weights x {scale:g}: layer 0 gets {ratio:.3g} x the gradient of layer {DEPTH - 1} (the last "
          f"hidden layer), {ratio ** (1 / (DEPTH - 1)):.2f} x per layer on average; loss {loss.data:.3f}")
ax.set_title("an exploding gradient: largest nearest the input")
plt.show()

# %% [markdown]
# With the initial weights (×1) the norms stay within a factor of a few of each other. Scaled by 4,
# they rise to the left, from layer 9 (the last tanh layer) to layer 0: the first layer's gradient is
# the printed multiple of layer 9's. (The output layer, 10, is linear and unscaled: no tanh′ factor
# shrinks its gradient, so it sits above layer 9.) A step of plain SGD sized for the late layers is
# then far too large for the early ones.

# %% [markdown]
# ## Gradient clipping
# `clip_grad_norm(params, max_norm)` rescales the whole gradient so that its norm is at most
# `max_norm` (it returns the norm before clipping); `fit(max_grad_norm=...)` does this at every step.
# It matters most when nothing bounds the forward pass either. Take linear activations and scale every
# weight by 1.6: each layer now multiplies the forward signal *and* the backward gradient by more than
# one, so the scores and the gradients are large from the start (printed below), and plain SGD throws
# the weights further out at every step until the numbers overflow.

# %%
model = nn.MLP(2, [WIDTH] * DEPTH + [1], activation="linear", seed=0)
for p in model.parameters():
    p.data *= 1.6
start = model.state_dict()  # both runs below start from these weights

model.zero_grad()
scores = model(X)
loss = nn.binary_cross_entropy_with_logits(scores, y)
loss.backward()
total = nn.clip_grad_norm(model.parameters(), max_norm=1.0)
clipped = math.sqrt(sum(p.grad**2 for p in model.parameters()))
print(f"largest score {max(abs(v.data) for v in scores):.3g}, loss {loss.data:.3g}; "
      f"gradient norm before clipping {total:.3g}, after {clipped:.3g}")

for max_grad_norm in (None, 1.0):
    model.load_state_dict(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # fit's warning is in history.message, printed below
        history = nn.fit(model, X, y, optimizer=nn.SGD(model.parameters(), lr=0.01), epochs=10,
                         batch_size=16, max_grad_norm=max_grad_norm, progress=False, seed=0)
    print(f"max_grad_norm={max_grad_norm}: stopped by {history.stop_reason!r} after {history.epochs} "
          f"epochs, train loss {[float(f'{v:.3g}') for v in history.train_loss]}")
    if history.message:
        print("   ", history.message)

# %% [markdown]
# Without clipping, the first epoch's loss is already large, the second is astronomically larger, and
# in the third an operation overflows a float: `fit` stops, warns, and keeps the last weights that
# gave a finite loss. With every step's gradient clipped to norm 1, the same net and learning rate
# train to a loss below 1.

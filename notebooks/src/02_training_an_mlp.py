# %% [markdown]
# # 02 · From a neuron to a trained MLP
#
# The whole training story on a toy problem you can see: a neuron and a layer built from scratch and
# checked against `nn`'s, a training loop written by hand (and what goes wrong without `zero_grad`),
# then `fit` with a validation set, stopping conditions and a test set kept apart until the end.

# %%
import math
import random
import time
from collections import Counter

import matplotlib.pyplot as plt

import nn
from autograd import Value, backward_steps, draw_graph, no_grad, toposort
from nn.data import batches, make_moons, train_test_split

# %% [markdown]
# ## Three sets: train, validation, test
# The model learns from the **training** set. Choices made while training (when to stop, which
# learning rate) are judged on the **validation** set. The **test** set is touched once, at the very
# end, so its score is an honest estimate on unseen points: had we used it to pick the epoch or the
# learning rate, it would have leaked into the model. Two splits make the three sets.

# %%
X, y = make_moons(n_samples=300, noise=0.2, seed=0)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, seed=0)
X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25, seed=0)
print(f"{len(X_train)} training, {len(X_val)} validation, {len(X_test)} test points")

for points, labels, marker, name in ((X_train, y_train, "o", "train"), (X_val, y_val, "s", "validation"),
                                     (X_test, y_test, "^", "test")):
    plt.scatter([p[0] for p in points], [p[1] for p in points], marker=marker, s=14, label=name,
                c=["tab:blue" if t == 0 else "tab:red" for t in labels])
for handle in plt.legend().legend_handles:  # the legend is about the marker, not the colour
    handle.set_facecolor("0.5")
plt.title("two moons: class 0 blue, class 1 red")
plt.show()

# %% [markdown]
# ## A neuron from scratch
# A neuron holds one weight per input and a bias, all `Value`s, and computes tanh(w·x + b). That is
# the whole of it; `nn.Neuron` is the same thing with input checks, a choice of activation and
# initialization, and named parameters. Given the same weights, the two agree to the last bit, and so
# do the grads that backprop leaves on the weights.
#
# One difference shows in the graph. `MyNeuron` builds w·x + b as micrograd does, one `*` node per
# weight and one `+` per term. `nn.Neuron` makes it a single `linear` node (drawn "Σ w·x + b") whose
# parents are the weights, the inputs and the bias, with local derivatives x…, w… and 1: the same
# float, in fewer nodes. `expand=True` gives the `*` and `+` graph back, to see every product. In the
# picture of `nn.Neuron`'s graph, the inputs are plain numbers, so they are constants (dashed boxes,
# no grad).

# %%
class MyNeuron:
    def __init__(self, nin, rng):
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)

    def __call__(self, x):
        return sum((wi * xi for wi, xi in zip(self.w, x)), self.b).tanh()

    def parameters(self):
        return self.w + [self.b]


mine = MyNeuron(2, random.Random(0))
theirs = nn.Neuron(2, activation="tanh")
for p, q in zip(mine.parameters(), theirs.parameters()):
    q.data = p.data  # the same weights and bias
x = X_train[0]
out_mine, out_theirs = mine(x), theirs(x)
out_mine.backward()
out_theirs.backward()
print(f"output: mine {out_mine.data!r}, nn.Neuron {out_theirs.data!r}")
print("grads:  mine", [p.grad for p in mine.parameters()])
print("   nn.Neuron", [p.grad for p in theirs.parameters()])
expanded = nn.Neuron(2, activation="tanh", expand=True)
for p, q in zip(mine.parameters(), expanded.parameters()):
    q.data = p.data
for name, out in (("mine", out_mine), ("nn.Neuron", out_theirs), ("nn.Neuron(expand=True)", expanded(x))):
    ops = Counter(v.op for v in toposort(out) if v.op)
    print(f"{name:>22}: output {out.data!r}, {len(toposort(out))} nodes (constants aside), ops {dict(ops)}")
draw_graph(out_theirs, params=theirs.parameters())

# %% [markdown]
# ## A layer from scratch
# A layer is a list of neurons that all read the same input; its output is the list of their
# outputs. An MLP chains layers, each reading the previous one's outputs.

# %%
class MyLayer:
    def __init__(self, nin, nout, rng):
        self.neurons = [MyNeuron(nin, rng) for _ in range(nout)]

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


mine = MyLayer(2, 3, random.Random(0))
theirs = nn.Layer(2, 3, activation="tanh")
for p, q in zip(mine.parameters(), theirs.parameters()):
    q.data = p.data
print("mine:    ", [v.data for v in mine(x)])
print("nn.Layer:", [v.data for v in theirs(x)])

model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
print(model, "has", len(model.parameters()), "parameters, e.g.", [p.label for p in model.parameters()[:3]])

# %% [markdown]
# ## Training by hand
# One step of gradient descent: zero the grads, forward a mini-batch, compute the loss, backward, and
# move every parameter a little against its grad, `p.data -= lr * p.grad`. Here is a single step on
# one batch of 32 points, with the loss on that batch before and after.

# %%
params = model.parameters()
lr = 0.1
xb, yb = X_train[:32], y_train[:32]
for p in params:
    p.grad = 0.0  # zero_grad
loss = nn.binary_cross_entropy_with_logits([model(x) for x in xb], yb)
loss.backward()
w = params[0]
print(f"loss {loss.data:.4f}; {w.label}: data {w.data:+.4f}, grad {w.grad:+.4f}")
for p in params:
    p.data -= lr * p.grad
after = nn.binary_cross_entropy_with_logits([model(x) for x in xb], yb)
print(f"after one step: {w.label} = {w.data:+.4f} (moved by -lr × grad = {-lr * w.grad:+.4f}); "
      f"loss on the same batch {after.data:.4f}")

# %% [markdown]
# An **epoch** runs such steps over the whole training set, one mini-batch at a time. Below, the same
# loop runs for 60 epochs twice from the same start: once as above, once **without zeroing the
# grads**. Then `.grad` keeps the sum of every gradient so far, and each step follows that sum:
# plain SGD turns into momentum that never forgets (momentum 1). We record the training loss after
# each epoch and the norm of the vector that the last step followed.

# %%
EPOCHS = 60
runs = {}
for zero_grad in (True, False):
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
    params = model.parameters()
    losses, step_norms = [nn.evaluate(model, X_train, y_train).loss], []
    for epoch in range(EPOCHS):
        for xb, yb in batches(X_train, y_train, batch_size=32, seed=epoch):
            if zero_grad:
                for p in params:
                    p.grad = 0.0
            loss = nn.binary_cross_entropy_with_logits([model(x) for x in xb], yb)
            loss.backward()
            for p in params:
                p.data -= lr * p.grad
        losses.append(nn.evaluate(model, X_train, y_train).loss)
        step_norms.append(math.sqrt(sum(p.grad**2 for p in params)))
    runs[zero_grad] = (model, losses, step_norms)
    rises = [losses[e] - losses[e - 1] for e in range(1, EPOCHS + 1) if losses[e] > losses[e - 1]]
    lowest = min(range(EPOCHS + 1), key=losses.__getitem__)
    accuracy = nn.evaluate(model, X_train, y_train).accuracy
    print(f"{'with' if zero_grad else 'without'} zero_grad: train loss {losses[0]:.3f} at the start, lowest "
          f"{losses[lowest]:.3f} (epoch {lowest}), {losses[-1]:.3f} after epoch {EPOCHS} (train accuracy "
          f"{accuracy:.0%}); it rose in {len(rises)} of {EPOCHS} epochs, by at most {max(rises):.3f}; "
          f"step norm {min(step_norms):.2f} to {max(step_norms):.2f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
for zero_grad, (_, losses, step_norms) in runs.items():
    label = "with zero_grad" if zero_grad else "without zero_grad"
    left.plot(losses, marker=".", label=label)
    right.plot(range(1, EPOCHS + 1), step_norms, marker=".", label=label)
left.set(xlabel="epoch", ylabel="train loss", yscale="log", title="training loss")
right.set(xlabel="epoch", ylabel="norm of p.grad at the epoch's last step", title="what each step followed")
left.legend()
right.legend()
plt.show()

# %% [markdown]
# With `zero_grad` the loss falls slowly and almost monotonically: where it rose, it rose by a few
# thousandths at most (compare the two runs' largest rise, printed above). Each step follows that
# batch's gradient alone, whose norm (at each epoch's last step) stays below 1. Without `zero_grad`,
# the vector each step follows is the sum of every gradient so far, and it grows (right). For a while
# that acts like strong momentum: the loss dips lower than the zero_grad run gets in 60 epochs
# (compare the two lowest). But nothing damps it. The loss swings up and down ever more widely, and
# by the end it is back near where it started, with a training accuracy little better than a coin
# flip. Towards the end the right-hand curve goes flat: the new gradients have become too small to
# change the sum. Why?

# %%
broken = runs[False][0]
stale = math.sqrt(sum(p.grad**2 for p in broken.parameters()))  # the sum that every step still follows
broken.zero_grad()
nn.binary_cross_entropy_with_logits(broken(X_train), y_train).backward()
fresh = math.sqrt(sum(p.grad**2 for p in broken.parameters()))  # the gradient of the training set now
with no_grad():
    second = [broken.layers[1](broken.layers[0](x)) for x in X_train]  # the second hidden layer's outputs
firing = sum(any(h[j].data > 0 for h in second) for j in range(16))
print(f"after {EPOCHS} epochs without zero_grad: every step moves the weights along a stale sum of norm "
      f"{stale:.2f}, while the training set's own gradient has norm {fresh:.3f}; {firing} of the 16 ReLUs "
      f"of the second hidden layer fire on any training point")

# %% [markdown]
# The net has switched off its own gradient. Most of the second hidden layer's ReLUs (printed) are
# off for every training point, and a ReLU that is off passes nothing back, so the training set's
# gradient is tiny next to the stale sum, which goes on moving every weight by the same step, epoch
# after epoch. Zeroing the grads is what makes each step about *this* batch. Momentum done right
# (`momentum=0.9` below) also keeps a running sum, but multiplies the old part by 0.9 at every step,
# so old gradients fade and the steps stay bounded.

# %% [markdown]
# ## Training with `fit`
# `nn.fit` runs this loop (with `zero_grad`), over shuffled mini-batches, with an optimizer (here SGD
# with momentum 0.9, the damped kind). It scores the validation set after every epoch, and two
# **stopping conditions** end training before the epoch budget runs out:
#
# - `patience=k`: stop once the validation loss has not improved for k epochs, and put back the
#   weights of the best epoch;
# - `target_loss=t`: stop after the first epoch whose training loss is at most t.
#
# By default (`progress=True`) `fit` shows a tqdm progress bar (a widget in Jupyter) and a line per
# epoch; this notebook turns it off to stay short.
#
# `compile=True` computes the same steps another way. Instead of building a graph per sample, `fit`
# traces the per-sample loss once (see `autograd.compile`) and replays that program over each whole
# mini-batch with NumPy, a layer as one matrix product. The numbers are those of the eager loop up to
# rounding, in a fraction of the time: here are 20 epochs both ways, from the same start.

# %%
seconds, curves = {}, {}
for compiled in (False, True):
    m = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
    start = time.perf_counter()
    h = nn.fit(m, X_train, y_train, optimizer=nn.SGD(m.parameters(), lr=0.1, momentum=0.9), epochs=20,
               batch_size=32, compile=compiled, progress=False, seed=0)
    seconds[compiled], curves[compiled] = time.perf_counter() - start, h.train_loss
gap = max(abs(a - b) for a, b in zip(curves[False], curves[True]))
print(f"20 epochs: eager {seconds[False]:.2f} s, compiled {seconds[True]:.2f} s (tracing included); "
      f"largest difference between their epoch losses {gap:.1e}")

# %%
model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
history = nn.fit(model, X_train, y_train, optimizer=nn.SGD(model.parameters(), lr=0.1, momentum=0.9),
                 epochs=200, batch_size=32, validation_data=(X_val, y_val), patience=10, compile=True,
                 progress=False, seed=0)
print(f"stopped by {history.stop_reason} after {history.epochs} epochs: {history.message}")
for epoch in (1, 15, history.best_epoch):
    print(f"epoch {epoch:>2}: train loss {history.train_loss[epoch - 1]:.3f}, "
          f"validation loss {history.val_loss[epoch - 1]:.3f}")
history.plot()
plt.show()

# %% [markdown]
# Both losses fall steeply over the first fifteen epochs or so and then level off, the validation
# loss bumping up and down around its low. It is lowest at the best epoch printed above; after ten
# more epochs without improvement `patience` ends the run, and the model keeps the best epoch's
# weights (the dotted line), not the last. (The training loss is the mean over the epoch's batches,
# taken while the weights were still moving, which is one reason it can sit above the validation
# loss.)
#
# `target_loss` is the other stopping rule: "good enough on the training data".

# %%
other = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
h = nn.fit(other, X_train, y_train, optimizer=nn.SGD(other.parameters(), lr=0.1, momentum=0.9), epochs=200,
           batch_size=32, target_loss=0.15, compile=True, progress=False, seed=0)
print(f"stopped by {h.stop_reason} after {h.epochs} epochs: {h.message}")

# %% [markdown]
# ## Learning rate and momentum, chosen on the validation set
# Too small a learning rate crawls; too large a one overshoots. Momentum keeps a decaying running
# direction, so it moves faster along a consistent slope. We compare settings by their validation
# loss, never by the test set: lr 0.1 with momentum 0.9 ends lowest, the setting used above, while
# lr 1.0 overshoots, its validation loss jumping up, and lr 0.01 is still crawling down.

# %%
settings = [(0.01, 0.0), (0.1, 0.0), (0.1, 0.9), (1.0, 0.9)]
for lr, momentum in settings:
    m = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
    h = nn.fit(m, X_train, y_train, optimizer=nn.SGD(m.parameters(), lr=lr, momentum=momentum),
               epochs=30, batch_size=32, validation_data=(X_val, y_val), compile=True, progress=False, seed=0)
    plt.plot(range(1, h.epochs + 1), h.val_loss, marker=".", label=f"lr={lr}, momentum={momentum}")
    print(f"lr={lr:<5} momentum={momentum}: validation loss {h.val_loss[-1]:.4f}, "
          f"validation accuracy {h.val_accuracy[-1]:.1%}")
plt.yscale("log")
plt.xlabel("epoch")
plt.ylabel("validation loss")
plt.legend()
plt.show()

# %% [markdown]
# ## The test set, once
# Everything is chosen; now the test set gives its one verdict on the model `fit` kept. The decision
# regions show what the model predicts over the whole plane (`nn.plot.decision_regions` evaluates it
# on a grid under `no_grad()`): training points as circles, test points as triangles.

# %%
result = nn.evaluate(model, X_test, y_test)
print(f"test loss {result.loss:.4f}, test accuracy {result.accuracy:.1%} on {len(X_test)} unseen points")
ax = nn.plot.decision_regions(model, X_train, y_train, test=(X_test, y_test))
ax.set_title(f"test accuracy {result.accuracy:.1%}")
plt.show()

# %% [markdown]
# ## What a Value-level model is
# Every parameter is a `Value` with a dotted name. One prediction is a graph that ends in the model's
# score: a `linear` node per neuron and a `relu` per hidden neuron, over the inputs and parameters.
# Backprop through such a graph, once per sample and step, is what the hand-written loops above ran;
# `fit(compile=True)` ran the same arithmetic as array operations.

# %%
score = model([Value(0.5, label="x.0"), Value(0.25, label="x.1")])
ops = Counter(v.op for v in toposort(score) if v.op)
print(f"score {score.data:.4f}; {len(toposort(score))} nodes in its graph: {len(model.parameters())} "
      f"parameters, 2 inputs and the ops {dict(ops)}")

# %% [markdown]
# ## How one weight gets its grad
# A weight of the first layer reaches the score along many paths: through its own neuron, then
# through every neuron of the next layer. `draw_graph(root, focus=weight)` draws only those paths,
# each op's other operands folded into a small dashed box (`explain(root, focus=weight)` narrates the
# same steps in words). Here it is on a net small enough to read, `MLP(2, [3, 3, 1])`, for the first
# weight of its first neuron. The loop prints what backprop adds to that neuron's output along each
# path.

# %%
small = nn.MLP(2, [3, 3, 1], activation="relu", seed=2)
inputs = [Value(0.5, label="x.0"), Value(0.25, label="x.1")]
score = small(inputs)
score.label = "score"
score.backward()
w = small.parameters()[0]
neuron_sum = next(v for v in toposort(score) if v.op == "linear" and v.parents[0] is w)
neuron_out = next(v for v in toposort(score) if v.op == "relu" and v.parents[0] is neuron_sum)
for step in backward_steps(score):
    for part in step.contributions:
        if part.parent is neuron_out:
            via = step.node.parents[0].label.rsplit(".w.", 1)[0]  # the neuron this path goes through
            amount = part.amount + 0.0  # + 0.0 turns a -0.0 into 0.0
            print(f"via {via}: local {part.local:+.4f} × upstream {step.upstream:+.4f} = {amount:+.4f}")
relu_slope = 1.0 if neuron_out.data > 0 else 0.0
print(f"sum: grad of the neuron's output {neuron_out.grad:+.4f}; grad of {w.label} = x.0 × relu slope × that "
      f"= {inputs[0].data:g} × {relu_slope:g} × {neuron_out.grad:+.4f} = {w.grad:+.4f}")
draw_graph(score, focus=w)

# %% [markdown]
# The neuron's output (#12 in the picture) feeds all three neurons of the next layer, so its grad is
# the sum of three contributions, one per path: the chain rule sums over paths. A path through a ReLU
# that is off (data 0, so local derivative 0) contributes nothing: that is how a unit that does not
# fire blocks the gradient, the way the broken run above lost its own. The weight's grad is then one
# product along the single edge it has: its input, the ReLU's slope, and that sum.

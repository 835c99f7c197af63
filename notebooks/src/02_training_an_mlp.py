# %% [markdown]
# # 02 · Training an MLP on two moons
#
# The whole training story on a toy problem you can see: a forward pass through layers of neurons, a
# loss, backprop, gradient-descent updates, epochs until the loss converges, and a test on unseen
# points.

# %%
import matplotlib.pyplot as plt

import nn
from autograd import Value, no_grad
from nn.data import make_moons, train_test_split

X, y = make_moons(n_samples=200, noise=0.1, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
print(len(X_train), "training points,", len(X_test), "test points")

colors = ["tab:blue" if label == 0 else "tab:red" for label in y]
plt.scatter([p[0] for p in X], [p[1] for p in X], c=colors, s=12)
plt.title("two moons")
plt.show()

# %% [markdown]
# ## One step by hand
# A model is a function of its parameters. One training step: zero the grads, forward, loss, backward,
# update. `fit` below does exactly this for every mini-batch.

# %%
model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
optimizer = nn.SGD(model.parameters(), lr=0.1, momentum=0.9)
print(model)
print(len(model.parameters()), "parameters, e.g.", [p.label for p in model.parameters()[:3]])

scores = [model(x) for x in X_train[:32]]
loss = nn.binary_cross_entropy_with_logits(scores, y_train[:32])
optimizer.zero_grad()
loss.backward()
optimizer.step()
print("loss on the first batch before the step:", loss.data)

# %% [markdown]
# ## Training with `fit`

# %%
model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
history = nn.fit(model, X_train, y_train, optimizer=nn.SGD(model.parameters(), lr=0.1, momentum=0.9),
                 epochs=60, batch_size=32, validation_data=(X_test, y_test), progress=False, seed=0)
result = nn.evaluate(model, X_test, y_test)
print(f"test loss {result.loss:.4f}, test accuracy {result.accuracy:.1%}")

plt.plot(history.train_loss, label="train")
plt.plot(history.val_loss, label="test")
plt.xlabel("epoch")
plt.ylabel("log loss")
plt.legend()
plt.show()

# %% [markdown]
# ## The decision boundary
# Evaluate the trained model on a grid under `no_grad()` (no graph is built: only the numbers).

# %%
def decision_boundary(model, X, y, steps=50):
    xs = [p[0] for p in X]
    ys = [p[1] for p in X]
    x0, x1 = min(xs) - 0.5, max(xs) + 0.5
    y0, y1 = min(ys) - 0.5, max(ys) + 0.5
    gx = [x0 + (x1 - x0) * i / (steps - 1) for i in range(steps)]
    gy = [y0 + (y1 - y0) * j / (steps - 1) for j in range(steps)]
    with no_grad():
        z = [[model([a, b]).data for a in gx] for b in gy]
    plt.contourf(gx, gy, z, levels=[-1e9, 0, 1e9], colors=["tab:blue", "tab:red"], alpha=0.25)
    plt.scatter(xs, ys, c=["tab:blue" if t == 0 else "tab:red" for t in y], s=12)


decision_boundary(model, X_test, y_test)
plt.title(f"test points and the learned boundary: accuracy {result.accuracy:.1%}")
plt.show()

# %% [markdown]
# ## Learning rate and momentum
# Too small a learning rate crawls; too large a one overshoots. Momentum keeps a running direction, so
# it moves faster along a consistent slope and through flat stretches.

# %%
settings = [(0.01, 0.0), (0.1, 0.0), (0.1, 0.9), (1.0, 0.9)]
for lr, momentum in settings:
    m = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
    h = nn.fit(m, X_train, y_train, optimizer=nn.SGD(m.parameters(), lr=lr, momentum=momentum),
               epochs=30, batch_size=32, progress=False, seed=0)
    acc = nn.evaluate(m, X_test, y_test).accuracy
    plt.plot(h.train_loss, label=f"lr={lr}, momentum={momentum}: test acc {acc:.0%}")
    print(f"lr={lr:<5} momentum={momentum}: final train loss {h.train_loss[-1]:.4f}, "
          f"test accuracy {acc:.1%}, stopped by {h.stop_reason}")
plt.yscale("log")
plt.xlabel("epoch")
plt.ylabel("train loss")
plt.legend()
plt.show()

# %% [markdown]
# ## What a Value-level model is
# Every parameter is a `Value` with a dotted name. A prediction is a graph of a few hundred nodes that
# ends in the model's score; backprop through it is what `fit` ran thousands of times above.

# %%
score = model([Value(0.5, label="x.0"), Value(0.25, label="x.1")])
print("score:", score.data, " nodes in its graph:", len(__import__("autograd").toposort(score)))

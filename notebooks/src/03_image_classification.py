# %% [markdown]
# # 03 · Image classification on unseen images
#
# Does this picture show a human face? We train a small MLP on 10×10 grey images, test it on images it
# has never seen, and look at what it gets wrong. Then the same for ten-class handwritten digits.
#
# Each pixel is one input. The engine is scalar, so a forward pass through the network builds a graph
# of a few thousand nodes per image; `fit(..., compile=True)` traces that graph once and replays it
# over each mini-batch (see `autograd.compile`), which is what makes this notebook run in seconds.

# %%
import matplotlib.pyplot as plt

import nn
from autograd import no_grad
from nn.data import load_digits, load_faces, train_test_split


def show(images, titles, size, cols=10):
    rows = (len(images) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3))
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow([image[r * size:(r + 1) * size] for r in range(size)], cmap="gray")
        ax.set_title(title, fontsize=8)
    plt.show()


def predictions(model, X):
    with no_grad():
        outputs = [model(x) for x in X]
    if isinstance(outputs[0], list):
        return [max(range(len(o)), key=lambda k: o[k].data) for o in outputs]
    return [int(o.data > 0) for o in outputs]


def confusion(y_true, y_pred, classes):
    matrix = [[0] * classes for _ in range(classes)]
    for t, p in zip(y_true, y_pred):
        matrix[t][p] += 1
    return matrix

# %% [markdown]
# ## Faces vs non-faces
# scikit-image ships 200 patches of 25×25 pixels: 100 faces and 100 non-faces. `load_faces` averages
# them down to 10×10 and labels faces 1.

# %%
X, y = load_faces(size=10, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=0, stratify=True)
print(len(X_train), "training images,", len(X_test), "unseen test images")
show(X[:10], ["face" if t else "not a face" for t in y[:10]], size=10)

# %%
model = nn.MLP(100, [16, 1], activation="relu", seed=0)
history = nn.fit(model, X_train, y_train, optimizer=nn.Adam(model.parameters(), lr=0.01),
                 epochs=40, batch_size=16, validation_data=(X_test, y_test), compile=True,
                 progress=False, seed=0)
result = nn.evaluate(model, X_test, y_test)
print(f"test accuracy on unseen images: {result.accuracy:.1%}")
plt.plot(history.train_accuracy, label="train")
plt.plot(history.val_accuracy, label="test")
plt.xlabel("epoch")
plt.ylabel("accuracy")
plt.legend()
plt.show()

# %%
y_pred = predictions(model, X_test)
(tn, fp), (fn, tp) = confusion(y_test, y_pred, 2)
print("                 predicted: not a face   face")
print(f"truly not a face:          {tn:>10}   {fp:>4}")
print(f"truly a face:              {fn:>10}   {tp:>4}")
wrong = [i for i, (t, p) in enumerate(zip(y_test, y_pred)) if t != p]
if wrong:
    show([X_test[i] for i in wrong], [f"true {'face' if y_test[i] else 'not'}" for i in wrong], size=10)

# %% [markdown]
# ## Ten-class handwritten digits
# scikit-learn ships 1,797 handwritten digits of 8×8 pixels. Ten classes mean ten outputs: the scores
# go through softmax inside `cross_entropy` (computed stably with log-sum-exp).

# %%
X, y = load_digits()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0, stratify=True)
show(X[:10], [str(t) for t in y[:10]], size=8)

model = nn.MLP(64, [32, 10], activation="relu", seed=0)
history = nn.fit(model, X_train, y_train, loss="cross_entropy",
                 optimizer=nn.Adam(model.parameters(), lr=0.01), epochs=15, batch_size=32,
                 validation_data=(X_test, y_test), compile=True, progress=False, seed=0)
result = nn.evaluate(model, X_test, y_test, loss="cross_entropy")
print(f"{len(X_test)} unseen digits: test accuracy {result.accuracy:.1%}")

# %%
y_pred = predictions(model, X_test)
matrix = confusion(y_test, y_pred, 10)
plt.imshow(matrix, cmap="Blues")
for t in range(10):
    for p in range(10):
        plt.text(p, t, matrix[t][p], ha="center", va="center", fontsize=7)
plt.xlabel("predicted")
plt.ylabel("true")
plt.xticks(range(10))
plt.yticks(range(10))
plt.title("confusion matrix on unseen digits")
plt.show()

wrong = [i for i, (t, p) in enumerate(zip(y_test, y_pred)) if t != p]
print(len(wrong), "misclassified:")
show([X_test[i] for i in wrong[:20]], [f"{y_test[i]} as {y_pred[i]}" for i in wrong[:20]], size=8)

# %% [markdown]
# # 03 · Image classification on unseen images
#
# Does this picture show a human face? We train a small MLP on 10×10 grey images, test it on images it
# has never seen, and look at what it gets wrong. Then the same for ten-class handwritten digits.
#
# Each pixel is one input, and the engine is scalar, so a forward pass through the network builds a
# graph that grows with pixels × neurons (its size is printed below). `fit(..., compile=True)`
# traces that graph once and replays it over each mini-batch (see `autograd.compile`), which is what
# keeps this notebook quick. As in notebook 02, three sets stay apart: `fit(val_split=0.2)` holds a
# fifth of the training images out for validation, and the test images are scored once, at the end.

# %%
import matplotlib.pyplot as plt

import nn
from autograd import toposort
from nn.data import load_digits, load_faces, train_test_split

# %% [markdown]
# ## Faces vs non-faces
# scikit-image ships 200 patches of 25×25 pixels: 100 faces and 100 non-faces. `load_faces` averages
# them down to 10×10 and labels faces 1.

# %%
X, y = load_faces(size=10, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=0, stratify=True)
print(len(X_train), "training images (a fifth of them for validation),", len(X_test), "unseen test images")
FACES = ["not a face", "face"]
nn.plot.images(X[:10], y[:10], labels=FACES)
plt.show()

# %%
model = nn.MLP(100, [16, 1], activation="relu", seed=0)
one = nn.binary_cross_entropy_with_logits([model(X_train[0])], [y_train[0]])
print(f"one image's loss is a graph of {len(toposort(one))} nodes")
history = nn.fit(model, X_train, y_train, optimizer=nn.Adam(model.parameters(), lr=0.01), epochs=40,
                 batch_size=16, val_split=0.2, patience=10, compile=True, progress=False, seed=0)
print(f"stopped by {history.stop_reason} after {history.epochs} epochs; best validation epoch "
      f"{history.best_epoch}: validation accuracy {history.val_accuracy[history.best_epoch - 1]:.1%}")
history.plot()
plt.show()

# %% [markdown]
# The training loss goes on falling after the validation loss has stopped improving: the net starts
# to learn its training images by heart. `patience` stopped the run and kept the weights of the best
# validation epoch. Only now does the test set speak.

# %%
result = nn.evaluate(model, X_test, y_test)
y_pred = nn.predict(model, X_test)
print(f"test accuracy on {len(X_test)} unseen images: {result.accuracy:.1%}")
nn.plot.confusion_matrix(y_test, y_pred, labels=FACES)
plt.show()
wrong = [i for i, (t, p) in enumerate(zip(y_test, y_pred)) if t != p]
print(len(wrong), "misclassified:")
if wrong:
    nn.plot.images([X_test[i] for i in wrong], [y_test[i] for i in wrong],
                   predicted=[y_pred[i] for i in wrong], labels=FACES)
    plt.show()

# %% [markdown]
# ## Ten-class handwritten digits
# scikit-learn ships 1,797 handwritten digits of 8×8 pixels. Ten classes mean ten outputs: the scores
# go through softmax inside `cross_entropy` (computed stably with log-sum-exp), and the predicted
# class is the highest score.

# %%
X, y = load_digits()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0, stratify=True)
nn.plot.images(X[:10], y[:10], cmap="gray_r")  # ink (1) in black
plt.show()

model = nn.MLP(64, [32, 10], activation="relu", seed=0)
history = nn.fit(model, X_train, y_train, loss="cross_entropy",
                 optimizer=nn.Adam(model.parameters(), lr=0.01), epochs=15, batch_size=32,
                 val_split=0.2, compile=True, progress=False, seed=0)
print(f"{history.epochs} epochs: validation accuracy {history.val_accuracy[-1]:.1%}")
history.plot()
plt.show()

# %%
result = nn.evaluate(model, X_test, y_test, loss="cross_entropy")
y_pred = nn.predict(model, X_test)
print(f"{len(X_test)} unseen digits: test accuracy {result.accuracy:.1%}")
ax = nn.plot.confusion_matrix(y_test, y_pred)
ax.set_title(f"unseen digits: {ax.get_title()}")
plt.show()

wrong = [i for i, (t, p) in enumerate(zip(y_test, y_pred)) if t != p]
print(len(wrong), "misclassified; the first", min(20, len(wrong)), "of them:")
nn.plot.images([X_test[i] for i in wrong[:20]], [y_test[i] for i in wrong[:20]],
               predicted=[y_pred[i] for i in wrong[:20]], cmap="gray_r")
plt.show()

# %% [markdown]
# Most digits sit on the diagonal. Each off-diagonal cell counts one kind of confusion (true row,
# predicted column), and the grid above shows those images with both labels.

"""The train tests that need PyTorch as an oracle (skipped, saying why, without it)."""

from __future__ import annotations

import random

import pytest

from nn.data import make_moons, make_spirals
from nn.layers import MLP
from nn.optim import SGD, Adam
from nn.train import fit


def moons(n=40, seed=0):
    return make_moons(n, noise=0.1, seed=seed)


# -- against a torch replay of the same loop -------------------------------------------------------

torch = pytest.importorskip("torch", reason="torch is optional; the replay oracle needs it")
from nn.interop import to_torch  # noqa: E402


def torch_replay(module, X, y, opt, epochs, batch_size, seed, loss_fn):
    """fit's loop written with torch: the same shuffles (random.Random(seed)) and batch means."""
    rng = random.Random(seed)
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    losses = []
    for _ in range(epochs):
        order = list(range(len(X)))
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(X), batch_size):
            idx = torch.tensor(order[start:start + batch_size])
            opt.zero_grad()
            loss = loss_fn(module(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(X))
    return losses


@pytest.mark.parametrize("optim", ["sgd", "adam"])
def test_fit_follows_torch_on_three_classes(optim):
    X, y = make_spirals(30, n_classes=3, noise=0.05, seed=2)
    model = MLP(2, [6, 6, 3], activation="tanh", seed=3)
    module = to_torch(model)
    if optim == "sgd":
        ours, theirs = SGD(model.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(
            module.parameters(), lr=0.1, momentum=0.9)
    else:
        ours, theirs = Adam(model.parameters(), lr=0.02), torch.optim.Adam(module.parameters(), lr=0.02)
    history = fit(model, X, y, optimizer=ours, epochs=4, batch_size=7, seed=5, progress=False)
    expected = torch_replay(module, X, y, theirs, 4, 7, 5, torch.nn.functional.cross_entropy)
    assert history.train_loss == pytest.approx(expected, rel=1e-10)
    ours_w = [w.data for layer in model.layers for n in layer.neurons for w in [*n.w, n.b]]
    theirs_w = [v for lin in module.linears
                for row, b in zip(lin.weight.tolist(), lin.bias.tolist()) for v in [*row, b]]
    assert ours_w == pytest.approx(theirs_w, rel=1e-9, abs=1e-12)


def test_fit_with_batchnorm_follows_torch():
    # 17 samples in batches of 8: the last batch of 1 is folded into the one before (BatchNorm1d needs 2).
    X, y = moons(17, seed=3)
    model = MLP(2, [5, 5, 1], seed=2, batchnorm=True)
    module = to_torch(model)
    history = fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=2, batch_size=8, seed=0,
                  progress=False)
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    rng = random.Random(0)
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    for _ in range(2):
        order = list(range(17))
        rng.shuffle(order)
        for idx in (order[:8], order[8:]):
            opt.zero_grad()
            out = module(Xt[torch.tensor(idx)])[:, 0]
            torch.nn.functional.binary_cross_entropy_with_logits(out, yt[torch.tensor(idx)]).backward()
            opt.step()
    assert history.epochs == 2
    assert model.norms[0].running_mean == pytest.approx(module.norms[0].running_mean.tolist(), rel=1e-9)
    assert [n.b.data for n in model.layers[0].neurons] == pytest.approx(
        module.linears[0].bias.tolist(), rel=1e-9, abs=1e-12)



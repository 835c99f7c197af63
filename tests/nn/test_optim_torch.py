"""The optim tests that need PyTorch as an oracle (skipped, saying why, without it)."""

from __future__ import annotations

import random

import pytest

from autograd import Value
from nn.optim import SGD, Adam, AdamW, clip_grad_norm


def values(*xs):
    return [Value(float(x)) for x in xs]


# -- against torch.optim, float64 ------------------------------------------------------------------

torch = pytest.importorskip("torch", reason="torch is optional; the trajectory oracle needs it")

CONFIGS = [
    (SGD, torch.optim.SGD, {"lr": 0.05}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    (Adam, torch.optim.Adam, {}),
    (Adam, torch.optim.Adam, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}),
    (Adam, torch.optim.Adam, {"lr": 0.02, "weight_decay": 0.3}),
    (Adam, torch.optim.Adam, {"lr": 0.02, "betas": (0.3, 0.9)}),  # 1 - beta1 >= 0.5: lerp's other branch
    (AdamW, torch.optim.AdamW, {}),
    (AdamW, torch.optim.AdamW, {"lr": 0.05, "weight_decay": 0.2}),
]
IDS = [f"{ours.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for ours, _, kw in CONFIGS]


@pytest.mark.parametrize("ours, theirs, kwargs", CONFIGS, ids=IDS)
def test_same_grads_give_torchs_trajectory(ours, theirs, kwargs):
    rng = random.Random(7)
    start = [rng.uniform(-2, 2) for _ in range(6)]
    ps = values(*start)
    tp = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt, topt = ours(ps, **kwargs), theirs([tp], **kwargs)
    for _ in range(25):
        # grads spanning magnitudes and signs, including an exact zero
        grads = [rng.gauss(0, 1) * 10 ** rng.randint(-4, 2) for _ in range(5)] + [0.0]
        for p, g in zip(ps, grads):
            p.grad = g
        tp.grad = torch.tensor(grads, dtype=torch.float64)
        opt.step()
        topt.step()
        for p, t in zip(ps, tp.detach().tolist()):
            assert p.data == pytest.approx(t, rel=1e-12, abs=1e-12)


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


@pytest.mark.parametrize("ours, theirs, kwargs", [
    (SGD, torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9}),
    (SGD, torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    (Adam, torch.optim.Adam, {"lr": 0.02}),
    (AdamW, torch.optim.AdamW, {"lr": 0.02, "weight_decay": 0.1}),
], ids=["sgd-momentum", "sgd-nesterov", "adam", "adamw"])
def test_minimizing_rosenbrock_follows_torch(ours, theirs, kwargs):
    # Grads from each engine's own backward: the whole loop (zero_grad, backward, step) must agree.
    x, y = values(-1.5, 2.0)
    tx = torch.tensor(-1.5, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    opt, topt = ours([x, y], **kwargs), theirs([tx, ty], **kwargs)
    for _ in range(100):
        opt.zero_grad()
        topt.zero_grad()
        rosenbrock(x, y).backward()
        rosenbrock(tx, ty).backward()
        opt.step()
        topt.step()
    assert x.data == pytest.approx(tx.item(), rel=1e-10, abs=1e-12)
    assert y.data == pytest.approx(ty.item(), rel=1e-10, abs=1e-12)
    assert rosenbrock(x, y).data < rosenbrock(-1.5, 2.0)  # it did descend


def test_clip_grad_norm_matches_torch():
    rng = random.Random(3)
    grads = [rng.gauss(0, 3) for _ in range(7)]
    ps = values(*([0.0] * 7))
    for p, g in zip(ps, grads):
        p.grad = g
    t = torch.zeros(7, dtype=torch.float64, requires_grad=True)
    t.grad = torch.tensor(grads, dtype=torch.float64)
    total = clip_grad_norm(ps, 1.5)
    ttotal = torch.nn.utils.clip_grad_norm_([t], 1.5)
    assert total == pytest.approx(ttotal.item(), rel=1e-14)
    for p, g in zip(ps, t.grad.tolist()):
        assert p.grad == pytest.approx(g, rel=1e-14, abs=1e-15)

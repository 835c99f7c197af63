"""Tests for nn.optim: hand-derived steps, trajectories against torch.optim in float64, bad input."""

import math

import pytest

from autograd import Constant, Value
from nn.optim import SGD, Adam, AdamW, clip_grad_norm


def values(*xs):
    return [Value(float(x)) for x in xs]


# -- hand-derived ------------------------------------------------------------------------------------


def test_sgd_plain_step_by_hand():
    p, q = values(1.0, -2.0)
    p.grad, q.grad = 0.5, -3.0
    SGD([p, q], lr=0.1).step()
    assert p.data == pytest.approx(1.0 - 0.1 * 0.5, abs=1e-15)
    assert q.data == pytest.approx(-2.0 + 0.1 * 3.0, abs=1e-15)


def test_sgd_momentum_and_nesterov_by_hand():
    # buf1 = g1 = 1; p1 = 1 - 0.1 * 1 = 0.9. buf2 = 0.9 * 1 + 2 = 2.9; p2 = 0.9 - 0.29 = 0.61.
    p = Value(1.0)
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = 1.0
    opt.step()
    assert p.data == pytest.approx(0.9, abs=1e-15)
    p.grad = 2.0
    opt.step()
    assert p.data == pytest.approx(0.61, abs=1e-15)
    assert opt.state[0]["momentum_buffer"] == pytest.approx(2.9, abs=1e-15)
    # Nesterov: step uses g + m * buf. Step 1: 1 + 0.9 * 1 = 1.9 -> p = 1 - 0.19 = 0.81.
    # Step 2: buf = 2.9, d = 2 + 0.9 * 2.9 = 4.61 -> p = 0.81 - 0.461 = 0.349.
    p = Value(1.0)
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    p.grad = 1.0
    opt.step()
    assert p.data == pytest.approx(0.81, abs=1e-15)
    p.grad = 2.0
    opt.step()
    assert p.data == pytest.approx(0.349, abs=1e-15)


def test_sgd_weight_decay_by_hand():
    p = Value(2.0)
    p.grad = 1.0
    SGD([p], lr=0.5, weight_decay=0.1).step()  # d = 1 + 0.1 * 2 = 1.2
    assert p.data == pytest.approx(2.0 - 0.6, abs=1e-15)


def test_adam_first_step_moves_by_lr_in_the_grad_sign():
    # At t = 1 the bias corrections cancel: m_hat = g, v_hat = g^2, step = lr * g / (|g| + eps).
    ps = values(1.0, 1.0, 1.0)
    for p, g in zip(ps, (3.0, -0.25, 1e-3)):
        p.grad = g
    Adam(ps, lr=0.01).step()
    for p, g in zip(ps, (3.0, -0.25, 1e-3)):
        assert p.data == pytest.approx(1.0 - 0.01 * g / (abs(g) + 1e-8), abs=1e-15)


def test_adamw_decays_the_weight_not_the_grad():
    # Zero grad: Adam's step is 0 and decoupled decay alone shrinks p by (1 - lr * wd).
    p = Value(3.0)
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    assert p.data == pytest.approx(3.0 * (1 - 0.05), abs=1e-15)
    # Adam's L2 decay goes through the moments instead: g = wd * p, so the first step is ~lr.
    q = Value(3.0)
    Adam([q], lr=0.1, weight_decay=0.5).step()
    assert q.data == pytest.approx(3.0 - 0.1, abs=1e-8)


def test_weight_decay_defaults_are_torchs():
    # torch.optim.Adam's weight_decay defaults to 0, AdamW's to 1e-2; None asks for that default
    p = Value(3.0)
    assert Adam([p]).weight_decay == 0.0 and Adam([p], weight_decay=None).weight_decay == 0.0
    assert AdamW([p]).weight_decay == 1e-2 and AdamW([p], weight_decay=0.0).weight_decay == 0.0
    AdamW([p], lr=0.1).step()  # zero grad: only the default decay moves p
    assert p.data == pytest.approx(3.0 * (1 - 0.1 * 1e-2), abs=1e-15)


def test_state_is_kept_by_position_not_on_the_values():
    ps = values(1.0, 2.0)
    opt = Adam(ps, lr=0.1)
    for p in ps:
        p.grad = 1.0
    opt.step()
    assert set(opt.state) == {0, 1}
    assert opt.state[0]["step"] == 1.0
    assert not hasattr(ps[0], "__dict__")  # Value has __slots__: nothing can be stashed on it


def test_zero_grad_resets_every_grad():
    ps = values(1.0, 2.0)
    for p in ps:
        p.grad = 5.0
    SGD(ps, lr=0.1).zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]


def test_sgd_minimizes_a_quadratic():
    # x_{t+1} = x_t - 0.2 x_t + 0.5 (x_t - x_{t-1}) around the minimum: |roots| = sqrt(0.5), so
    # 200 steps shrink the error far below 1e-9.
    x = Value(5.0)
    opt = SGD([x], lr=0.1, momentum=0.5)
    for _ in range(200):
        opt.zero_grad()
        ((x - 2.0) ** 2).backward()
        opt.step()
    assert x.data == pytest.approx(2.0, abs=1e-9)


# -- clip_grad_norm ----------------------------------------------------------------------------------


def test_clip_grad_norm_by_hand():
    a, b = values(0.0, 0.0)
    a.grad, b.grad = 3.0, 4.0
    assert clip_grad_norm([a, b], 10.0) == 5.0
    assert (a.grad, b.grad) == (3.0, 4.0)  # below the limit: untouched
    total = clip_grad_norm([a, b], 2.5)
    assert total == 5.0
    assert a.grad == pytest.approx(3.0 * 2.5 / (5.0 + 1e-6), abs=1e-15)
    assert math.hypot(a.grad, b.grad) == pytest.approx(2.5, abs=1e-6)


def test_clip_grad_norm_survives_huge_grads():
    a, b = values(0.0, 0.0)
    a.grad, b.grad = 3e200, 4e200
    assert clip_grad_norm([a, b], 1.0) == pytest.approx(5e200, rel=1e-15)
    assert math.hypot(a.grad, b.grad) == pytest.approx(1.0, rel=1e-6)


def test_clip_grad_norm_returns_nan_and_leaves_grads():
    a, b = values(0.0, 0.0)
    a.grad, b.grad = math.nan, 1.0
    assert math.isnan(clip_grad_norm([a, b], 1.0))
    assert b.grad == 1.0


# -- bad input: a clear error, before any update ----------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.0),
    lambda ps: SGD(ps, lr=-0.1),
    lambda ps: Adam(ps, lr=0),
    lambda ps: AdamW(ps, lr=-1e-3),
    lambda ps: SGD(ps, lr=math.nan),
])
def test_lr_must_be_positive(make):
    ps = values(1.0)
    with pytest.raises(ValueError, match="lr"):
        make(ps)
    assert ps[0].data == 1.0


@pytest.mark.parametrize("params, error, match", [
    ([1.0, 2.0], TypeError, r"params\[0\] must be a Value"),
    ([Value(1.0), "w"], TypeError, r"params\[1\] must be a Value"),
    ([], ValueError, "empty"),
    (Value(1.0), TypeError, "single Value"),
    (3, TypeError, "iterable"),
    ([Constant(1.0)], TypeError, "Constant"),
])
def test_params_must_be_values(params, error, match):
    with pytest.raises(error, match=match):
        SGD(params, lr=0.1)


def test_duplicate_params_are_refused():
    p = Value(1.0)
    with pytest.raises(ValueError, match="twice"):
        Adam([p, p])


@pytest.mark.parametrize("kwargs, match", [
    ({"momentum": -0.1}, "momentum"),
    ({"nesterov": True}, "nesterov"),
    ({"weight_decay": -1.0}, "weight_decay"),
    ({"lr": "0.1"}, "lr must be a number"),
])
def test_sgd_bad_hyperparameters(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        SGD(values(1.0), **{"lr": 0.1, **kwargs})


@pytest.mark.parametrize("kwargs", [{"betas": (0.9, 1.0)}, {"betas": (-0.1, 0.9)}, {"betas": 0.9},
                                    {"eps": -1.0}])
def test_adam_bad_hyperparameters(kwargs):
    with pytest.raises((ValueError, TypeError)):
        Adam(values(1.0), **kwargs)


def test_clip_grad_norm_bad_input():
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(values(1.0), 0.0)
    with pytest.raises(TypeError, match="Value"):
        clip_grad_norm([1.0], 1.0)

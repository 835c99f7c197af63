"""Tests for nn.losses: hand-derived values, PyTorch float64 values and gradients (1e-9), bad input."""

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograd import Value
from nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge,
    log_softmax,
    mse,
    softmax,
)

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - torch is an optional oracle
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed; the float64 oracle needs it")
TOL = 1e-9


def leaves(xs):
    return [Value(float(x)) for x in xs]


def close(a, b, tol=TOL):
    return abs(a - b) <= tol * max(1.0, abs(b))


# -- hand-derived ----------------------------------------------------------------------------------


def test_mse_by_hand():
    p = leaves([1.0, 3.0, -1.0])
    loss = mse(p, [0.0, 1.0, -1.0])
    assert loss.data == pytest.approx(5.0 / 3.0, abs=1e-15)  # (1 + 4 + 0) / 3
    loss.backward()
    # d/dp mean((p - t)^2) = 2 (p - t) / n
    assert [x.grad for x in p] == pytest.approx([2 / 3, 4 / 3, 0.0], abs=1e-15)


def test_mse_on_vectors_averages_over_every_element():
    p = [leaves([1.0, 2.0]), leaves([0.0, 0.0])]
    loss = mse(p, [[0.0, 0.0], [0.0, 2.0]])
    assert loss.data == pytest.approx((1 + 4 + 0 + 4) / 4, abs=1e-15)


def test_bce_by_hand():
    p = leaves([0.8, 0.25])
    loss = binary_cross_entropy(p, [1, 0])
    assert loss.data == pytest.approx(-(math.log(0.8) + math.log(0.75)) / 2, abs=1e-15)
    loss.backward()
    # d/dp -log p = -1/p ; d/dp -log(1 - p) = 1/(1 - p); each divided by n = 2
    assert p[0].grad == pytest.approx(-1 / 0.8 / 2, abs=1e-15)
    assert p[1].grad == pytest.approx(1 / 0.75 / 2, abs=1e-15)


def test_bce_clamps_log_at_minus_100_like_torch():
    p = leaves([0.0, 1.0, 1.0])
    loss = binary_cross_entropy(p, [1, 0, 1])
    assert loss.data == pytest.approx(200.0 / 3, abs=1e-12)  # two clamped terms of 100, one of 0
    loss.backward()  # finite: the clamped terms are constants
    assert all(math.isfinite(x.grad) for x in p)


def test_bce_with_logits_by_hand_and_at_extremes():
    z = leaves([0.0, 2.0])
    loss = binary_cross_entropy_with_logits(z, [1, 0])
    # log(1 + e^0) = log 2 ; log(1 + e^2)
    assert loss.data == pytest.approx((math.log(2) + math.log1p(math.exp(2))) / 2, abs=1e-15)
    loss.backward()
    # d = sigmoid(z) - t, divided by n
    assert z[0].grad == pytest.approx((0.5 - 1) / 2, abs=1e-15)
    assert z[1].grad == pytest.approx(1 / (1 + math.exp(-2)) / 2, abs=1e-15)
    for logit, target, expected in [(1e4, 1, 0.0), (-1e4, 0, 0.0), (-1e4, 1, 1e4), (1e4, 0, 1e4)]:
        v = Value(logit)
        loss = binary_cross_entropy_with_logits([v], [target])
        loss.backward()
        assert loss.data == pytest.approx(expected, abs=1e-12)
        assert math.isfinite(v.grad) and abs(v.grad) <= 1.0


def test_hinge_by_hand():
    s = leaves([2.0, 0.5, -1.0])
    loss = hinge(s, [1, 1, 1])
    assert loss.data == pytest.approx((0 + 0.5 + 2.0) / 3, abs=1e-15)
    loss.backward()
    # relu(1 - y s): slope -y where the margin is violated, 0 where it is met
    assert [x.grad for x in s] == pytest.approx([0.0, -1 / 3, -1 / 3], abs=1e-15)
    s = leaves([-2.0])
    assert hinge(s, [-1]).data == 0.0


def test_cross_entropy_and_softmax_by_hand():
    z = leaves([0.0, math.log(3.0)])
    probs = softmax(z)
    assert [p.data for p in probs] == pytest.approx([0.25, 0.75], abs=1e-15)
    loss = cross_entropy([z], [1])
    assert loss.data == pytest.approx(-math.log(0.75), abs=1e-15)
    loss.backward()
    # d/dz_j = softmax_j - [j == target]
    assert [x.grad for x in z] == pytest.approx([0.25, -0.25], abs=1e-15)


def test_cross_entropy_is_stable_for_huge_logits():
    z = leaves([1000.0, 0.0, -1000.0])
    loss = cross_entropy([z], [2])
    loss.backward()
    assert loss.data == pytest.approx(2000.0, abs=1e-9)
    assert [x.grad for x in z] == pytest.approx([1.0, 0.0, -1.0], abs=1e-12)
    assert [p.data for p in log_softmax(z)] == pytest.approx([0.0, -1000.0, -2000.0], abs=1e-9)


@pytest.mark.parametrize("m", [1.0, 1e12, 1e15, 1e16, 1e300, -1e300, 1.7e308])
def test_cross_entropy_of_equal_logits_is_log_2_at_any_size(m):
    # exact: log 2, with grads (1/2 - 1, 1/2); working with z - max z keeps it exact (m + log Σ - z[t]
    # lost everything below m's last digit: 0.693115 at 1e12, 0.75 at 1e15, 0.0 at 1e16)
    z = leaves([m, m])
    loss = cross_entropy([z], [0])
    loss.backward()
    assert loss.data == pytest.approx(math.log(2.0), rel=1e-15)
    assert [x.grad for x in z] == pytest.approx([-0.5, 0.5], rel=1e-15)
    assert [p.data for p in softmax(leaves([m, m]))] == [0.5, 0.5]
    assert [p.data for p in log_softmax(leaves([m, m]))] == pytest.approx([-math.log(2.0)] * 2, rel=1e-15)


def test_logits_spanning_more_than_the_float_range_never_overflow_inside():
    # 1e308 - (-1e308) overflows a float; the far-below term's probability is exactly 0 and its grad too
    z = leaves([1e308, -1e308, 1e308])
    loss = cross_entropy([z], [0])
    loss.backward()
    assert loss.data == pytest.approx(math.log(2.0), rel=1e-15)
    assert [x.grad for x in z] == pytest.approx([-0.5, 0.0, 0.5], rel=1e-15)
    assert [p.data for p in softmax(leaves([1e308, -1e308]))] == [1.0, 0.0]
    # the target far below the rest: a loss of 2e308 is beyond any float, and that is said, not inf
    with pytest.raises(OverflowError, match="cross_entropy: the loss of sample 0 is beyond the float range"):
        cross_entropy([leaves([-1e308, 1e308])], [0])


@needs_torch
@pytest.mark.parametrize("m", [1e12, 1e16, 1e300])
def test_cross_entropy_at_huge_logits_matches_torch(m):
    logits = [[m, m, m - 1.0 * m / 1e12], [-m, m / 2, m]]
    _torch_compare(cross_entropy, F.cross_entropy, logits, [0, 1], torch.tensor([0, 1]))


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=6), st.data())
def test_cross_entropy_is_finite_and_non_negative(logits, data):
    target = data.draw(st.integers(0, len(logits) - 1))
    z = leaves(logits)
    loss = cross_entropy([z], [target])
    loss.backward()
    assert math.isfinite(loss.data) and loss.data >= -1e-12
    assert all(math.isfinite(x.grad) for x in z)
    assert sum(x.grad for x in z) == pytest.approx(0.0, abs=1e-9)  # Σ softmax - one-hot = 0


def test_softmax_and_log_softmax_take_a_batch():
    batch = [leaves([1.0, 2.0, 3.0]), leaves([0.0, 0.0, 0.0])]
    probs = softmax(batch)
    assert len(probs) == 2 and all(len(row) == 3 for row in probs)
    assert sum(p.data for p in probs[0]) == pytest.approx(1.0, abs=1e-15)
    assert [p.data for p in probs[1]] == pytest.approx([1 / 3] * 3, abs=1e-15)
    logs = log_softmax(batch)
    for row_p, row_l in zip(probs, logs):
        assert [math.log(p.data) for p in row_p] == pytest.approx([q.data for q in row_l], abs=1e-14)


def test_number_predictions_are_constants():
    loss = mse([1.0, Value(2.0)], [0.0, 0.0])
    assert loss.data == pytest.approx(2.5)


# -- PyTorch float64 oracle ------------------------------------------------------------------------


def _torch_compare(ours_fn, torch_fn, inputs, targets, torch_targets):
    """Compare loss value and d loss / d input between ours and torch."""
    xs = [leaves(row) if isinstance(row, list) else Value(row) for row in inputs]
    loss = ours_fn(xs, targets)
    loss.backward()
    t_in = torch.tensor(inputs, dtype=torch.float64, requires_grad=True)
    t_loss = torch_fn(t_in, torch_targets)
    t_loss.backward()
    assert close(loss.data, t_loss.item()), (loss.data, t_loss.item())
    ours_grad = [[v.grad for v in row] if isinstance(row, list) else row.grad for row in xs]
    flat_ours = [g for row in ours_grad for g in (row if isinstance(row, list) else [row])]
    flat_torch = t_in.grad.flatten().tolist()
    for a, b in zip(flat_ours, flat_torch, strict=True):
        assert close(a, b), (a, b)


@needs_torch
@pytest.mark.parametrize("seed", range(5))
def test_mse_matches_torch(seed):
    rng = random.Random(seed)
    n, k = rng.randint(1, 6), rng.randint(1, 3)
    inputs = [[rng.uniform(-3, 3) for _ in range(k)] for _ in range(n)]
    targets = [[rng.uniform(-3, 3) for _ in range(k)] for _ in range(n)]
    t_targets = torch.tensor(targets, dtype=torch.float64)
    _torch_compare(mse, F.mse_loss, inputs, targets, t_targets)
    flat_in, flat_t = [row[0] for row in inputs], [row[0] for row in targets]
    _torch_compare(mse, F.mse_loss, flat_in, flat_t, torch.tensor(flat_t, dtype=torch.float64))


@needs_torch
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("soft", [False, True])
def test_bce_matches_torch(seed, soft):
    rng = random.Random(seed)
    n = rng.randint(1, 8)
    probs = [rng.uniform(0.01, 0.99) for _ in range(n)]
    targets = [rng.random() if soft else float(rng.randint(0, 1)) for _ in range(n)]
    _torch_compare(binary_cross_entropy, F.binary_cross_entropy, probs, targets,
                   torch.tensor(targets, dtype=torch.float64))


@needs_torch
def test_bce_clamped_value_matches_torch():
    probs, targets = [0.0, 1.0, 1e-50, 0.5], [1.0, 0.0, 1.0, 0.0]
    ours = binary_cross_entropy(leaves(probs), targets).data
    theirs = F.binary_cross_entropy(torch.tensor(probs, dtype=torch.float64),
                                    torch.tensor(targets, dtype=torch.float64)).item()
    assert close(ours, theirs)


@needs_torch
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("soft", [False, True])
def test_bce_with_logits_matches_torch(seed, soft):
    rng = random.Random(seed)
    n = rng.randint(1, 8)
    logits = [rng.choice([rng.uniform(-5, 5), rng.uniform(-800, 800)]) for _ in range(n)]
    targets = [rng.random() if soft else float(rng.randint(0, 1)) for _ in range(n)]
    _torch_compare(binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, logits, targets,
                   torch.tensor(targets, dtype=torch.float64))


@needs_torch
@pytest.mark.parametrize("seed", range(6))
def test_cross_entropy_matches_torch(seed):
    rng = random.Random(seed)
    n, c = rng.randint(1, 6), rng.randint(2, 5)
    scale = 500.0 if seed % 2 else 3.0
    logits = [[rng.uniform(-scale, scale) for _ in range(c)] for _ in range(n)]
    targets = [rng.randrange(c) for _ in range(n)]
    _torch_compare(cross_entropy, F.cross_entropy, logits, targets, torch.tensor(targets))


@needs_torch
@pytest.mark.parametrize("seed", range(5))
def test_hinge_matches_torch(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 8)
    scores = [rng.uniform(-3, 3) for _ in range(n)]
    targets = [rng.choice([-1, 1]) for _ in range(n)]

    def torch_hinge(s, y):
        return torch.relu(1 - y * s).mean()

    _torch_compare(hinge, torch_hinge, scores, targets, torch.tensor(targets, dtype=torch.float64))


@needs_torch
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_functions_match_torch(seed, name):
    rng = random.Random(seed)
    n, c = rng.randint(1, 4), rng.randint(1, 5)
    logits = [[rng.uniform(-50, 50) for _ in range(c)] for _ in range(n)]
    weights = [[rng.uniform(-1, 1) for _ in range(c)] for _ in range(n)]
    ours_fn = softmax if name == "softmax" else log_softmax
    torch_fn = F.softmax if name == "softmax" else F.log_softmax
    xs = [leaves(row) for row in logits]
    out = ours_fn(xs)
    total = None
    for row, wrow in zip(out, weights):
        for v, w in zip(row, wrow):
            total = v * w if total is None else total + v * w
    total.backward()
    t_in = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    t_out = torch_fn(t_in, dim=1)
    (t_out * torch.tensor(weights, dtype=torch.float64)).sum().backward()
    for row, t_row in zip(out, t_out.tolist()):
        for v, t in zip(row, t_row):
            assert close(v.data, t)
    for row, t_row in zip(xs, t_in.grad.tolist()):
        for v, t in zip(row, t_row):
            assert close(v.grad, t)


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [mse, binary_cross_entropy, binary_cross_entropy_with_logits, hinge])
def test_empty_and_mismatched_batches_are_rejected(loss):
    with pytest.raises(ValueError, match="empty"):
        loss([], [])
    with pytest.raises(ValueError, match="2 predictions but 1 targets"):
        loss([Value(0.5), Value(0.5)], [1])
    with pytest.raises(TypeError, match="must be a Value or a number"):
        loss(["0.5"], [1])
    with pytest.raises(TypeError, match="must be a number"):
        loss([Value(0.5)], ["1"])
    with pytest.raises(TypeError, match="takes a batch"):
        loss(Value(0.5), 1)


def test_target_and_probability_ranges_are_checked():
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        binary_cross_entropy([Value(1.5)], [1])
    with pytest.raises(ValueError, match="target 0 is 2.0"):
        binary_cross_entropy([Value(0.5)], [2])
    with pytest.raises(ValueError, match="target 0 is -1.0"):
        binary_cross_entropy_with_logits([Value(0.5)], [-1])
    with pytest.raises(ValueError, match="labels must be -1 or \\+1"):
        hinge([Value(0.5)], [0])
    with pytest.raises(ValueError, match="finite"):
        mse([Value(0.5)], [math.nan])


def test_cross_entropy_bad_input():
    z = [leaves([0.0, 1.0, 2.0])]
    with pytest.raises(ValueError, match="class 3, outside the 3 classes 0..2"):
        cross_entropy(z, [3])
    with pytest.raises(ValueError, match="outside"):
        cross_entropy(z, [-1])
    with pytest.raises(TypeError, match="int class index"):
        cross_entropy(z, [1.0])
    with pytest.raises(TypeError, match="int class index"):
        cross_entropy(z, [True])
    with pytest.raises(ValueError, match="1 samples but 2 targets"):
        cross_entropy(z, [0, 1])
    with pytest.raises(ValueError, match="sample 1 has 2 scores"):
        cross_entropy([leaves([0.0, 1.0, 2.0]), leaves([0.0, 1.0])], [0, 0])
    with pytest.raises(ValueError, match="non-empty batch"):
        cross_entropy([], [])
    with pytest.raises(TypeError, match="list of class scores"):
        cross_entropy([Value(1.0)], [0])

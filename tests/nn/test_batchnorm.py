"""Tests for nn.BatchNorm1d: hand-derived values, torch.nn.BatchNorm1d in float64 (train, eval, running
statistics, gradients), modes and bad input."""

import math
import random

import pytest

from autograd import Value
from nn import BatchNorm1d

try:
    import torch
except ImportError:  # pragma: no cover - torch is an optional oracle
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed; the float64 oracle needs it")
TOL = 1e-9


def batch_of(rows):
    return [[Value(float(x)) for x in row] for row in rows]


def random_rows(rng, n, k, scale=3.0):
    return [[rng.uniform(-scale, scale) + 2.0 * j for j in range(k)] for _ in range(n)]


def weighted_sum(out, weights):
    total = None
    for row, wrow in zip(out, weights):
        for v, w in zip(row, wrow):
            total = v * w if total is None else total + v * w
    return total


# -- hand-derived ----------------------------------------------------------------------------------


def test_two_samples_by_hand():
    bn = BatchNorm1d(1, eps=0.0 + 1e-5)
    out = bn(batch_of([[1.0], [3.0]]))
    # mean 2, biased var 1: (x - 2) / sqrt(1 + eps)
    expected = 1.0 / math.sqrt(1.0 + 1e-5)
    assert [row[0].data for row in out] == pytest.approx([-expected, expected], abs=1e-15)
    # running: 0.9 * 0 + 0.1 * 2 ; 0.9 * 1 + 0.1 * 2 (unbiased var = 2)
    assert bn.running_mean == pytest.approx([0.2], abs=1e-15)
    assert bn.running_var == pytest.approx([1.1], abs=1e-15)
    assert bn.num_batches_tracked == 1


def test_eval_uses_running_statistics_by_hand():
    bn = BatchNorm1d(2)
    bn.running_mean, bn.running_var = [1.0, -1.0], [4.0, 0.25]
    bn.weight[0].data, bn.bias[1].data = 3.0, 0.5
    bn.eval()
    (row,) = bn(batch_of([[5.0, 0.0]]))
    assert row[0].data == pytest.approx(3.0 * (5.0 - 1.0) / math.sqrt(4.0 + 1e-5), abs=1e-14)
    assert row[1].data == pytest.approx((0.0 + 1.0) / math.sqrt(0.25 + 1e-5) + 0.5, abs=1e-14)
    assert bn.running_mean == [1.0, -1.0]  # eval never updates the statistics
    assert bn.num_batches_tracked == 0


def test_output_has_zero_mean_and_unit_variance_in_training():
    rng = random.Random(3)
    bn = BatchNorm1d(3, eps=1e-12)
    out = bn(batch_of(random_rows(rng, 16, 3)))
    for j in range(3):
        col = [row[j].data for row in out]
        mean = sum(col) / len(col)
        var = sum((c - mean) ** 2 for c in col) / len(col)
        assert mean == pytest.approx(0.0, abs=1e-12)
        assert var == pytest.approx(1.0, abs=1e-9)


def test_gradient_by_finite_differences():
    rng = random.Random(7)
    rows = random_rows(rng, 5, 2)
    weights = [[rng.uniform(-1, 1) for _ in range(2)] for _ in range(5)]

    def f(flat):
        bn = BatchNorm1d(2)
        return weighted_sum(bn([flat[0:2], flat[2:4], flat[4:6], flat[6:8], flat[8:10]]), weights).data

    xs = batch_of(rows)
    weighted_sum(BatchNorm1d(2)(xs), weights).backward()
    flat = [x for row in rows for x in row]
    h = 1e-6
    for i, v in enumerate(v for row in xs for v in row):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        assert v.grad == pytest.approx((f(up) - f(down)) / (2 * h), abs=1e-7)


def test_float_inputs_are_accepted():
    out = BatchNorm1d(2)([[1.0, 2], [3.0, 5]])
    assert out[0][0].data == pytest.approx(-1.0, abs=1e-5)


def test_momentum_none_is_a_cumulative_average():
    bn = BatchNorm1d(1, momentum=None)
    bn(batch_of([[0.0], [2.0]]))  # mean 1, unbiased var 2
    bn(batch_of([[4.0], [4.0], [4.0]]))  # mean 4, var 0
    assert bn.running_mean == pytest.approx([(1.0 + 4.0) / 2], abs=1e-15)
    assert bn.running_var == pytest.approx([(2.0 + 0.0) / 2], abs=1e-15)


def test_affine_false_has_no_parameters_but_keeps_buffers():
    bn = BatchNorm1d(2, affine=False)
    assert bn.parameters() == []
    assert sorted(bn.state_dict()) == ["num_batches_tracked", "running_mean.0", "running_mean.1",
                                       "running_var.0", "running_var.1"]


def test_parameter_names_and_labels():
    bn = BatchNorm1d(2)
    names = [name for name, _ in bn.named_parameters()]
    assert names == ["weight.0", "weight.1", "bias.0", "bias.1"]
    assert [p.label for p in bn.parameters()] == names


def test_state_dict_round_trips_running_statistics():
    rng = random.Random(1)
    bn = BatchNorm1d(3)
    for _ in range(3):
        bn(batch_of(random_rows(rng, 4, 3)))
    other = BatchNorm1d(3)
    other.load_state_dict(bn.state_dict())
    assert other.running_mean == bn.running_mean
    assert other.running_var == bn.running_var
    assert other.num_batches_tracked == 3 and type(other.num_batches_tracked) is int


# -- torch float64 oracle --------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("momentum", [0.1, 0.37, None])
def test_train_and_eval_match_torch(seed, momentum):
    rng = random.Random(seed)
    k = rng.randint(1, 4)
    eps = rng.choice([1e-5, 1e-3, 0.1])
    ours = BatchNorm1d(k, eps=eps, momentum=momentum)
    theirs = torch.nn.BatchNorm1d(k, eps=eps, momentum=momentum, dtype=torch.float64)
    gamma = [rng.uniform(0.5, 2.0) for _ in range(k)]
    beta = [rng.uniform(-1, 1) for _ in range(k)]
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma, dtype=torch.float64))
        theirs.bias.copy_(torch.tensor(beta, dtype=torch.float64))
    for j in range(k):
        ours.weight[j].data, ours.bias[j].data = gamma[j], beta[j]

    for step in range(3):  # three training batches of different sizes, then eval
        n = rng.randint(2, 7)
        _compare_step(rng, ours, theirs, n, k)
        assert ours.num_batches_tracked == theirs.num_batches_tracked.item() == step + 1
        for a, b in zip(ours.running_mean, theirs.running_mean.tolist()):
            assert abs(a - b) <= TOL
        for a, b in zip(ours.running_var, theirs.running_var.tolist()):
            assert abs(a - b) <= TOL
    ours.eval()
    theirs.eval()
    _compare_step(rng, ours, theirs, rng.randint(1, 4), k)


def _compare_step(rng, ours, theirs, n, k):
    rows = random_rows(rng, n, k)
    weights = [[rng.uniform(-1, 1) for _ in range(k)] for _ in range(n)]
    for p in ours.parameters():
        p.grad = 0.0
    theirs.zero_grad()
    xs = batch_of(rows)
    out = ours(xs)
    weighted_sum(out, weights).backward()
    t_in = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    t_out = theirs(t_in)
    (t_out * torch.tensor(weights, dtype=torch.float64)).sum().backward()
    for row, t_row in zip(out, t_out.tolist()):
        for v, t in zip(row, t_row):
            assert abs(v.data - t) <= TOL
    for row, t_row in zip(xs, t_in.grad.tolist()):
        for v, t in zip(row, t_row):
            assert abs(v.grad - t) <= TOL
    for v, t in zip(ours.weight, theirs.weight.grad.tolist()):
        assert abs(v.grad - t) <= TOL
    for v, t in zip(ours.bias, theirs.bias.grad.tolist()):
        assert abs(v.grad - t) <= TOL


# -- modes and bad input ---------------------------------------------------------------------------


def test_training_needs_two_samples_but_eval_takes_one():
    bn = BatchNorm1d(2)
    with pytest.raises(ValueError, match="at least 2 samples"):
        bn(batch_of([[1.0, 2.0]]))
    assert bn.eval() is bn and bn.training is False
    assert len(bn(batch_of([[1.0, 2.0]]))) == 1
    bn.train()
    assert bn.training is True


def test_bad_batches_are_rejected_before_any_update():
    bn = BatchNorm1d(2)
    with pytest.raises(TypeError, match="takes a batch"):
        bn([Value(1.0), Value(2.0)])
    with pytest.raises(ValueError, match="empty batch"):
        bn([])
    with pytest.raises(ValueError, match="expects 2 input features, got 3"):
        bn([[1.0, 2.0], [1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="input feature 1 must be a number"):
        bn([[1.0, 2.0], [1.0, "x"]])
    assert bn.running_mean == [0.0, 0.0] and bn.num_batches_tracked == 0


@pytest.mark.parametrize("kwargs", [{"eps": 0.0}, {"eps": -1.0}, {"momentum": 1.5}, {"momentum": "0.1"}])
def test_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        BatchNorm1d(2, **kwargs)
    with pytest.raises(ValueError):
        BatchNorm1d(0)

"""fit(compile=True) against fit(compile=False) over a zoo of models, losses and targets (to 1e-12); the
traced losses against nn.losses; the optimizers' array rules against their step(), bit for bit; and the
cases that cannot be replayed, which say so once and train eagerly."""

from __future__ import annotations

import math
import random
import warnings
from typing import Any

import numpy as np
import pytest

from autograd import Value
from nn import compiled, losses
from nn.data import make_moons, make_spirals
from nn.layers import MLP, Layer, Neuron
from nn.optim import SGD, Adam, AdamW, Optimizer
from nn.train import _task, fit

TOL = 1e-12


def close(got: Any, expected: Any) -> bool:
    """Equal to 1e-12 relative to the largest magnitude compared (at least 1): rounding, not a bug."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    return got.shape == expected.shape and bool(np.all(np.abs(got - expected) <= TOL * scale))


# -- the zoo --------------------------------------------------------------------------------------------


def data(kind: str, n: int = 24, nin: int = 3, seed: int = 0) -> tuple[list[list[float]], list[Any]]:
    rng = random.Random(seed)
    X = [[rng.uniform(-2, 2) for _ in range(nin)] for _ in range(n)]
    if kind.startswith("classes"):
        k = int(kind[len("classes"):])
        return X, [rng.randrange(k) for _ in range(n)]
    if kind == "binary":
        return X, [rng.randrange(2) for _ in range(n)]
    if kind == "hinge":
        return X, [rng.choice((-1, 1)) for _ in range(n)]
    if kind == "scalar":
        return X, [math.sin(sum(x)) for x in X]
    width = int(kind[len("vectors"):])
    return X, [[math.sin(x[0] * (j + 1)) + 0.1 * j for j in range(width)] for x in X]


ZOO = [
    # (model, loss, targets, optimizer)
    (lambda: MLP(3, [5, 3], "relu", seed=1), "cross_entropy", "classes3", "sgd"),
    (lambda: MLP(3, [17, 9, 10], "tanh", seed=2), "cross_entropy", "classes10", "momentum"),
    (lambda: MLP(3, [4, 4, 4, 2], "leaky_relu", seed=3), "cross_entropy", "classes2", "adam"),
    (lambda: MLP(3, [6, 6, 6, 4], "relu", residual=True, seed=4), "cross_entropy", "classes4", "adamw"),
    (lambda: MLP(3, [6, 6, 4], "sigmoid", seed=5, expand=True), "cross_entropy", "classes4", "nesterov"),
    (lambda: MLP(3, [8, 1], "relu", seed=6), "mse", "scalar", "sgd"),
    (lambda: MLP(3, [1], "linear", seed=7), "mse", "scalar", "adam"),
    (lambda: MLP(3, [7, 7, 3], "tanh", residual=True, seed=8), "mse", "vectors3", "momentum"),
    (lambda: MLP(3, [5, 1], "relu", seed=9), "binary_cross_entropy_with_logits", "binary", "adam"),
    (lambda: MLP(3, [5, 1], "tanh", output_activation="sigmoid", seed=10), "binary_cross_entropy", "binary",
     "sgd"),
    (lambda: MLP(3, [6, 1], "relu", seed=11), "hinge", "hinge", "momentum"),
    (lambda: Layer(3, 4, "linear", seed=12), "cross_entropy", "classes4", "sgd"),
    (lambda: Neuron(3, "tanh", seed=13), "mse", "scalar", "adamw"),
]


def optimizer_for(kind: str, params: list[Value]) -> Optimizer:
    return {"sgd": lambda: SGD(params, lr=0.1), "momentum": lambda: SGD(params, lr=0.05, momentum=0.9),
            "nesterov": lambda: SGD(params, lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3),
            "adam": lambda: Adam(params, lr=0.01, weight_decay=1e-3),
            "adamw": lambda: AdamW(params, lr=0.01)}[kind]()


def train(make: Any, loss: str, targets: str, opt: str, compile: bool, **kw: Any) -> tuple[Any, Any, Any]:
    X, y = data(targets)
    model = make()
    optimizer = optimizer_for(opt, model.parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a named loss never falls back to eager training
        history = fit(model, X, y, loss=loss, optimizer=optimizer, epochs=3, batch_size=7, progress=False,
                      compile=compile, **kw)
    return model, history, optimizer


@pytest.mark.parametrize("make, loss, targets, opt", ZOO, ids=[f"{z[1]}-{z[2]}-{z[3]}-{i}" for i, z in
                                                             enumerate(ZOO)])
def test_compiled_fit_equals_eager_fit(make: Any, loss: str, targets: str, opt: str) -> None:
    extra = {"val_split": 0.25, "grad_norms": True}
    (m0, h0, o0), (m1, h1, o1) = (train(make, loss, targets, opt, c, **extra) for c in (False, True))
    s0, s1 = m0.state_dict(), m1.state_dict()
    assert list(s0) == list(s1) and close(list(s1.values()), list(s0.values()))
    assert close(h1.train_loss, h0.train_loss) and close(h1.val_loss, h0.val_loss)
    assert h1.train_accuracy == h0.train_accuracy and h1.val_accuracy == h0.val_accuracy
    assert h1.grad_norms.keys() == h0.grad_norms.keys()
    assert all(close(h1.grad_norms[k], h0.grad_norms[k]) for k in h0.grad_norms)
    # the optimizer's state comes back from the arrays: training can go on eagerly where it stopped
    assert o1.state.keys() == o0.state.keys()
    for i in o0.state:
        assert o1.state[i].keys() == o0.state[i].keys()
        assert close(list(o1.state[i].values()), list(o0.state[i].values()))


@pytest.mark.parametrize("loss, targets, width", [
    ("cross_entropy", "classes10", 10), ("mse", "scalar", 1), ("mse", "vectors3", 3),
    ("binary_cross_entropy_with_logits", "binary", 1), ("hinge", "hinge", 1),
    ("binary_cross_entropy", "binary", 1),
])
def test_one_trace_serves_every_target(loss: str, targets: str, width: int) -> None:
    X, y = data(targets, n=40)
    model = MLP(3, [6, width], output_activation="sigmoid" if loss == "binary_cross_entropy" else "linear",
                seed=0)
    trainer = compiled.ArrayTrainer(model, _task(model, loss), SGD(model.parameters(), lr=0.1), X, y, [])
    for start in range(0, 40, 8):
        trainer.forward_backward(list(range(start, start + 8)))
    assert trainer.compiled.n_traces == 1  # forty different targets, one program


@pytest.mark.parametrize("loss, targets, width", [
    ("cross_entropy", "classes5", 5), ("mse", "vectors4", 4), ("mse", "scalar", 1),
    ("binary_cross_entropy_with_logits", "binary", 1), ("hinge", "hinge", 1),
])
def test_the_traced_losses_agree_with_nn_losses(loss: str, targets: str, width: int) -> None:
    X, y = data(targets, n=16)
    model = MLP(3, [4, width], seed=3)
    task = _task(model, loss)
    outs = [model(x) for x in X]
    eager = task.loss(outs, y)
    rows = compiled.target_rows(task, y).tolist()
    if task.kind == "binary":  # a score and a label
        traced = [compiled.TRACED[loss](o, Value(r[0])) for o, r in zip(outs, rows)]
    else:  # lists of outputs and targets
        traced = [compiled.TRACED[loss](o if isinstance(o, list) else [o], [Value(v) for v in r])
                  for o, r in zip(outs, rows)]
    mean = traced[0]
    for t in traced[1:]:
        mean = mean + t
    mean = mean / len(traced)
    assert math.isclose(mean.data, eager.data, rel_tol=1e-14)


def test_the_cross_entropy_is_exact_for_a_confident_right_answer() -> None:
    # the loss is tiny (1e-13): a shift by another sample's max would lose its digits
    z = [Value(30.0), Value(0.0), Value(-1.0)]
    onehot = [Value(1.0), Value(0.0), Value(0.0)]
    assert compiled.cross_entropy(z, onehot).data == losses.cross_entropy([z], [0]).data


# -- the optimizers on arrays ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind, kwargs", [
    (SGD, {"lr": 0.1}), (SGD, {"lr": 0.05, "momentum": 0.9}),
    (SGD, {"lr": 0.05, "momentum": 0.7, "nesterov": True, "weight_decay": 0.01}),
    (Adam, {"lr": 0.01}), (Adam, {"lr": 0.01, "betas": (0.3, 0.7), "weight_decay": 0.1}),
    (AdamW, {"lr": 0.02, "weight_decay": 0.05}),
])
def test_array_rules_are_the_optimizers_own_bit_for_bit(kind: type, kwargs: dict[str, Any]) -> None:
    rng = np.random.default_rng(0)
    start = rng.normal(size=50)
    values = [Value(float(v)) for v in start]
    scalar = kind(values, **kwargs)
    shadow = kind([Value(float(v)) for v in start], **kwargs)  # its state, then the array rule's
    rule = compiled.ArrayOptimizer(shadow, np.arange(50))
    data = start.copy()
    for _ in range(6):
        grads = rng.normal(size=50) * 10.0 ** rng.integers(-3, 3)
        for v, g in zip(values, grads.tolist()):
            v.grad = g
        scalar.step()
        rule.step(data, grads)
        assert data.tolist() == [v.data for v in values]  # exactly the same floats
    rule.write_state()
    assert shadow.state == scalar.state


def test_array_rules_go_on_from_the_optimizers_state_and_update_only_its_parameters() -> None:
    values = [Value(1.0), Value(2.0), Value(3.0)]
    opt = Adam(values[1:], lr=0.1)  # the optimizer holds two of the three
    values[1].grad, values[2].grad = 0.5, -0.5
    opt.step()  # some state already: step count 1
    reference = Adam([Value(values[1].data), Value(values[2].data)], lr=0.1)
    reference.state = {i: dict(s) for i, s in opt.state.items()}
    rule = compiled.ArrayOptimizer(opt, np.array([1, 2]))
    data = np.array([v.data for v in values])
    rule.step(data, np.array([9.0, 0.25, 0.75]))
    for p, g in zip(reference.params, (0.25, 0.75)):
        p.grad = g
    reference.step()
    assert data.tolist() == [1.0, *(p.data for p in reference.params)]


# -- what cannot be replayed, and what a replay cannot compute ----------------------------------------------


def fit_both(make: Any, X: list[Any], y: list[Any], loss: Any, lr: float = 0.1,
             **kw: Any) -> list[tuple[list[float], Any, list[str]]]:
    """fit(compile=False), then fit(compile=True), each on a fresh ``make()`` with SGD: the weights, the
    history and the warnings of each."""
    runs = []
    for compile_ in (False, True):
        model = make()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = fit(model, X, y, loss=loss, optimizer=SGD(model.parameters(), lr=lr), progress=False,
                          compile=compile_, **kw)
        runs.append((list(model.state_dict().values()), history, [str(w.message) for w in caught]))
    return runs


def _mean(terms: list[Value]) -> Value:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total / len(terms)


def test_a_custom_loss_that_takes_values_as_targets_is_traced_once() -> None:
    def huber(outputs: list[Any], targets: list[Any]) -> Value:
        return _mean([((o - t) * (o - t) + 1.0).sqrt() - 1.0 for out, tar in zip(outputs, targets)
                      for o, t in zip(out, tar)])

    (eager, _, _), (replayed, _, messages) = fit_both(lambda: MLP(3, [5, 2], seed=0), *data("vectors2"),
                                                      huber, epochs=2, batch_size=8)
    assert close(replayed, eager) and messages == []


def test_a_custom_loss_on_int_labels_traces_once_per_label() -> None:
    X, y = make_spirals(30, n_classes=3, noise=0.1, seed=0)
    (eager, h0, _), (replayed, h1, messages) = fit_both(lambda: MLP(2, [6, 3], seed=0), X, y,
                                                        losses.cross_entropy, lr=0.2, epochs=2, batch_size=8)
    assert close(replayed, eager) and h1.train_accuracy == h0.train_accuracy and messages == []


def test_a_custom_loss_on_numbers_only_says_so_once_and_trains_eagerly() -> None:
    (eager, _, none), (replayed, _, messages) = fit_both(lambda: MLP(3, [5, 1], seed=0), *data("scalar"),
                                                         losses.mse, epochs=2, batch_size=8)
    assert none == [] and len(messages) == 1
    assert "takes its targets as numbers only" in messages[0] and "training eagerly" in messages[0]
    assert replayed == eager  # the same eager training, bit for bit


def test_a_loss_that_branches_on_values_replays_each_branch() -> None:
    def branchy(outputs: list[Any], targets: list[Any]) -> Value:
        return _mean([(o - t) * (o - t) if o > t else (t - o) * 0.5 for o, t in zip(outputs, targets)])

    # one program per branch taken (two: o > t and not), each sample replayed by the one its guard picks
    (eager, _, _), (replayed, _, messages) = fit_both(lambda: MLP(3, [4, 1], seed=0), *data("scalar", n=60),
                                                      branchy, lr=0.05, epochs=3, batch_size=6)
    assert close(replayed, eager) and messages == []


def test_a_loss_that_keeps_retracing_is_given_up_once_and_training_goes_on_eagerly() -> None:
    def baked(outputs: list[Any], targets: list[Any]) -> Value:
        # float() bakes each sample's number into its trace: every sample is a new program
        return _mean([(o - t) * (o - t) * (1.0 + 0.0 * float(o)) for o, t in zip(outputs, targets)])

    (eager, h0, _), (replayed, h1, messages) = fit_both(lambda: MLP(3, [4, 1], seed=0), *data("scalar", n=40),
                                                        baked, lr=0.05, epochs=2, batch_size=8)
    assert len(messages) == 1 and "branches on values" in messages[0] and "training eagerly" in messages[0]
    assert close(replayed, eager) and close(h1.train_loss, h0.train_loss)


def test_a_batch_whose_traced_loss_overflows_trains_eagerly_as_fit_without_compile() -> None:
    # logits 800 apart: exp(z_j - z_target) overflows in the traced cross-entropy, not in nn.losses'
    def make() -> MLP:
        model = MLP(2, [2], "linear", seed=0)
        model.layers[0].neurons[0].w[0].data = 800.0
        return model

    X, y = [[1.0, 0.0], [0.0, 1.0]] * 4, [1, 0] * 4
    (eager, h0, _), (replayed, h1, messages) = fit_both(make, X, y, "cross_entropy", lr=0.001, epochs=2,
                                                        batch_size=4)
    assert close(replayed, eager) and close(h1.train_loss, h0.train_loss) and messages == []
    assert h0.train_loss[0] > 100  # a huge but finite loss


def test_a_probability_outside_0_1_raises_as_eagerly() -> None:
    X, y = [[1.0], [-1.0]] * 4, [1, 0] * 4
    errors = []
    for compile_ in (False, True):
        model = MLP(1, [1], "linear", seed=0)  # raw scores, not probabilities
        model.layers[0].neurons[0].w[0].data = 5.0
        with pytest.raises(ValueError, match="outside \\[0, 1\\]") as info:
            fit(model, X, y, loss="binary_cross_entropy", epochs=1, batch_size=4, progress=False,
                compile=compile_)
        errors.append(str(info.value))
    assert "binary_cross_entropy: probability" in errors[1]


def test_an_interrupt_leaves_the_weights_trained_so_far_in_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = make_moons(64, noise=0.1, seed=0)
    model = MLP(2, [8, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    calls = {"n": 0}
    original = compiled.ArrayTrainer.forward_backward

    def interrupted(self: Any, idx: list[int]) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:
            self.snapshot = self.bound.data.copy()
            raise KeyboardInterrupt
        return original(self, idx)

    monkeypatch.setattr(compiled.ArrayTrainer, "forward_backward", interrupted)
    trainers: list[Any] = []
    original_init = compiled.ArrayTrainer.__init__

    def remember(self: Any, *args: Any) -> None:
        original_init(self, *args)
        trainers.append(self)

    monkeypatch.setattr(compiled.ArrayTrainer, "__init__", remember)
    with pytest.raises(KeyboardInterrupt):
        fit(model, X, y, optimizer=optimizer, epochs=3, batch_size=16, progress=False, compile=True)
    assert [p.data for p in model.parameters()] == trainers[0].snapshot.tolist()
    assert len(optimizer.state) == len(optimizer.params)  # four steps' momentum, back in the optimizer


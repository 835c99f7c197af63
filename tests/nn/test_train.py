"""Tests for nn.train: fit's loop against a torch replay, stopping rules, history, bad input, nan recovery."""

import io
import math
import random
import sys
import warnings

import pytest

from autograd import Value
from nn.data import make_moons, make_spirals
from nn.layers import MLP, BatchNorm1d, Layer, Neuron
from nn.losses import binary_cross_entropy_with_logits, mse
from nn.module import Module
from nn.optim import SGD, Adam
from nn.train import History, evaluate, fit, predict


def moons(n=40, seed=0):
    return make_moons(n, noise=0.1, seed=seed)


# -- hand-derived ---------------------------------------------------------------------------------


def test_one_full_batch_sgd_step_by_hand():
    # Neuron(1, linear) with w = 2, b = 0 on mse: loss = mean((w x + b - t)^2).
    # X = [1, 2], t = [1, 3]: residuals 1, 1 -> dL/dw = mean(2 r x) = 3, dL/db = mean(2 r) = 2.
    n = Neuron(1, activation="linear", seed=0)
    n.w[0].data, n.b.data = 2.0, 0.0
    history = fit(n, [[1.0], [2.0]], [1.0, 3.0], loss="mse", optimizer=SGD(n.parameters(), lr=0.1),
                  epochs=1, batch_size=2, progress=False)
    assert n.w[0].data == pytest.approx(2.0 - 0.1 * 3.0, abs=1e-15)
    assert n.b.data == pytest.approx(0.0 - 0.1 * 2.0, abs=1e-15)
    assert history.train_loss == [pytest.approx(1.0, abs=1e-15)]
    assert history.train_accuracy == []  # regression: no accuracy


def test_evaluate_by_hand():
    # z = x: logits 2 and -1 for labels 1 and 0 -> both right; loss = mean(softplus(-2), softplus(-1)).
    n = Neuron(1, activation="linear", seed=0)
    n.w[0].data, n.b.data = 1.0, 0.0
    result = evaluate(n, [[2.0], [-1.0]], [1, 0])
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert result.loss == pytest.approx(expected, abs=1e-15)
    assert result.accuracy == 1.0
    assert evaluate(n, [[2.0], [-1.0]], [0, 0]).accuracy == 0.5


def test_grad_norms_are_the_per_layer_gradient_norms():
    X, y = moons(16)
    model, twin = MLP(2, [3, 2, 1], seed=4), MLP(2, [3, 2, 1], seed=4)
    history = fit(model, X, y, optimizer=SGD(model.parameters(), lr=1e-3), epochs=1, batch_size=16,
                  grad_norms=True, progress=False, seed=1)
    # One batch holding every sample: the norms are those of the full-batch gradient at the start.
    order = list(range(16))
    random.Random(1).shuffle(order)
    from nn.losses import binary_cross_entropy_with_logits as bce

    bce(twin([X[i] for i in order]), [float(y[i]) for i in order]).backward()
    assert list(history.grad_norms) == ["layers.0", "layers.1", "layers.2"]
    for i, layer in enumerate(twin.layers):
        expected = math.sqrt(sum(p.grad ** 2 for p in layer.parameters()))
        assert history.grad_norms[f"layers.{i}"] == [pytest.approx(expected, rel=1e-12)]

# -- history and stopping rules --------------------------------------------------------------------


def test_history_lengths_and_validation_split():
    X, y = moons(40)
    history = fit(MLP(2, [4, 1], seed=0), X, y, epochs=3, batch_size=10, val_split=0.25, progress=False)
    assert isinstance(history, History)
    assert history.epochs == 3
    for series in (history.train_loss, history.train_accuracy, history.val_loss, history.val_accuracy):
        assert len(series) == 3
    assert all(0.0 <= a <= 1.0 for a in history.train_accuracy + history.val_accuracy)
    assert history.grad_norms == {}
    assert history.stop_reason == "epochs"


def test_validation_data_is_scored_each_epoch_in_eval_mode():
    X, y = moons(40)
    Xv, yv = moons(20, seed=9)
    model = MLP(2, [4, 1], seed=0)
    history = fit(model, X, y, epochs=2, validation_data=(Xv, yv), progress=False)
    assert history.val_loss[-1] == pytest.approx(evaluate(model, Xv, yv).loss, abs=1e-15)
    assert model.training  # fit leaves the model in training mode


def test_early_stopping_restores_the_best_weights():
    # Validation labels are the training labels flipped: learning the training set makes the
    # validation loss worse from the first epoch on, so epoch 1 stays best.
    X, y = moons(40)
    flipped = [1 - t for t in y]
    model = MLP(2, [4, 1], seed=0)
    history = fit(model, X, y, epochs=20, batch_size=10, validation_data=(X, flipped), patience=2,
                  optimizer=SGD(model.parameters(), lr=0.1), progress=False)
    assert history.stop_reason == "early_stopping"
    assert history.best_epoch == 1
    assert history.epochs == 3
    assert history.val_loss[1] > history.val_loss[0] and history.val_loss[2] > history.val_loss[0]
    after_one = MLP(2, [4, 1], seed=0)
    fit(after_one, X, y, epochs=1, batch_size=10, optimizer=SGD(after_one.parameters(), lr=0.1),
        progress=False)
    assert model.state_dict() == after_one.state_dict()


def test_target_loss_stops_training():
    X, y = moons(40)
    history = fit(MLP(2, [8, 1], seed=0), X, y, epochs=200, batch_size=10, target_loss=0.3, progress=False)
    assert history.stop_reason == "target_loss"
    assert history.train_loss[-1] <= 0.3 < history.train_loss[-2]
    assert history.epochs < 200


def test_progress_off_a_terminal_is_one_plain_line_per_epoch(capsys):
    X, y = moons(20)
    fit(MLP(2, [4, 1], seed=0), X, y, epochs=2, batch_size=10, val_split=0.25, progress=True)
    captured = capsys.readouterr()  # pytest's stderr is no terminal, like a log file or a pipe
    lines = captured.err.splitlines()
    assert captured.out == "" and "\r" not in captured.err and len(lines) == 2
    assert lines[0].startswith("epoch 1/2 loss ") and lines[1].startswith("epoch 2/2 loss ")
    assert " acc " in lines[1] and " val_loss " in lines[1] and " val_acc " in lines[1]
    fit(MLP(2, [4, 1], seed=0), X, y, epochs=2, batch_size=10, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_in_a_terminal_is_a_tqdm_bar_over_every_batch(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    X, y = moons(20)
    history = fit(MLP(2, [4, 1], seed=0), X, y, epochs=3, batch_size=10, progress=True)
    text = terminal.getvalue()
    final = text.split("\r")[-1]  # the bar as last drawn: 3 epochs x 2 batches, the last epoch's summary
    assert "6/6" in final and "100%" in final and "batch" in final and "epoch 3/3" in final
    assert f"loss {history.train_loss[-1]:.4f}" in final
    for epoch in (1, 2, 3):  # a summary line per epoch, written above the bar
        assert f"epoch {epoch}/3 loss {history.train_loss[epoch - 1]:.4f}" in text


@pytest.mark.parametrize("loss, labels", [("hinge", [0, 1]), ("binary_cross_entropy_with_logits", [0, 1])])
def test_binary_losses_report_accuracy(loss, labels):
    X, y = moons(40)
    history = fit(MLP(2, [8, 1], seed=0), X, y, loss=loss, epochs=15, batch_size=10, progress=False)
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.train_accuracy[-1] > 0.8


def test_sigmoid_output_defaults_to_binary_cross_entropy():
    X, y = moons(40)
    default = fit(MLP(2, [8, 1], output_activation="sigmoid", seed=0), X, y, epochs=3, progress=False)
    named = fit(MLP(2, [8, 1], output_activation="sigmoid", seed=0), X, y, epochs=3, progress=False,
                loss="binary_cross_entropy")
    logits = fit(MLP(2, [8, 1], output_activation="sigmoid", seed=0), X, y, epochs=3, progress=False,
                 loss="binary_cross_entropy_with_logits")
    assert default.train_loss == named.train_loss != logits.train_loss


def test_custom_loss_function():
    X, y = moons(20)
    model = MLP(2, [4, 2], seed=0)

    def loss(outputs, targets):
        from nn.losses import cross_entropy

        return cross_entropy(outputs, targets)

    history = fit(model, X, y, loss=loss, epochs=3, batch_size=10, progress=False)
    assert len(history.train_accuracy) == 3  # several outputs with int labels: accuracy by argmax
    # a custom regression loss on vector targets: labels are the loss's business, no accuracy
    vectors = [[float(t), 1.0 - t] for t in y]
    history = fit(MLP(2, [4, 2], seed=0), X, vectors, loss=mse, epochs=2, batch_size=10, progress=False)
    assert history.train_accuracy == [] and len(history.train_loss) == 2


# -- bad input: a clear error and no update --------------------------------------------------------


def bad_cases():
    X, y = moons(10)
    return [
        ({"X": [[0.0, 1.0, 2.0]] + X[1:]}, ValueError, r"X\[0\] has 3 features but the model takes 2"),
        ({"X": [[0.0, "a"]] + X[1:]}, TypeError, r"X\[0\]\[1\] is str"),
        ({"X": [[0.0, True]] + X[1:]}, TypeError, r"X\[0\]\[1\] is bool"),
        ({"X": [[0.0, math.nan]] + X[1:]}, ValueError, "finite"),
        ({"X": [], "y": []}, ValueError, "empty dataset"),
        ({"y": y[:-1]}, ValueError, "9 labels"),
        ({"y": [2] + y[1:]}, ValueError, r"y\[0\] is 2.*labels must be 0 or 1"),
        ({"y": [0.5] + y[1:]}, TypeError, "int class label"),
        ({"loss": "cross_entropy"}, ValueError, "one output per class"),
        ({"loss": "nope"}, ValueError, "unknown loss"),
        ({"epochs": 0}, ValueError, "epochs must be >= 1"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"val_split": 1.5}, ValueError, "val_split"),
        ({"val_split": 0.2, "validation_data": (X, y)}, ValueError, "not both"),
        ({"validation_data": ([[0.0]], [0])}, ValueError, "validation X"),
        ({"optimizer": SGD([Value(0.0)], lr=0.1)}, ValueError, "none of this model's parameters"),
        ({"optimizer": "adam"}, TypeError, "optimizer"),
        ({"patience": 0}, ValueError, "patience"),
        ({"max_grad_norm": -1.0}, ValueError, "max_grad_norm"),
    ]


@pytest.mark.parametrize("change, error, match", bad_cases())
def test_bad_input_raises_before_any_update(change, error, match):
    X, y = moons(10)
    model = MLP(2, [3, 1], seed=0)
    before = model.state_dict()
    kwargs = {"X": X, "y": y, "epochs": 2, "batch_size": 5, "progress": False, **change}
    with pytest.raises(error, match=match):
        fit(model, kwargs.pop("X"), kwargs.pop("y"), **kwargs)
    assert model.state_dict() == before


def test_label_outside_the_classes():
    X, y = make_spirals(12, n_classes=3, seed=0)
    model = MLP(2, [4, 3], seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"y\[0\] is class 3, outside the model's 3 classes"):
        fit(model, X, [3] + y[1:], progress=False)
    with pytest.raises(ValueError, match="class -1"):
        evaluate(model, X, [-1] + y[1:])
    assert model.state_dict() == before


def test_learning_rate_must_be_positive():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        fit(model, *moons(10), optimizer=SGD(model.parameters(), lr=0.0), progress=False)


def test_not_a_module():
    with pytest.raises(TypeError, match="nn.Module"):
        fit(lambda x: x, *moons(10))


# -- nan / inf during training ---------------------------------------------------------------------


def test_nan_loss_stops_and_restores_the_last_good_weights():
    X, y = moons(40)
    model = MLP(2, [4, 1], seed=0)
    seen = []

    def loss(outputs, targets):
        seen.append(model.state_dict())
        value = mse(outputs, targets)
        return value * math.nan if len(seen) == 3 else value

    with pytest.warns(RuntimeWarning, match=r"loss became nan at epoch 1, batch 3 of 4"):
        history = fit(model, X, y, loss=loss, epochs=5, batch_size=10, progress=False)
    assert history.stop_reason == "non_finite" and "epoch 1, batch 3" in history.message
    assert history.epochs == 0
    # Batch 2's weights gave a finite loss and finite grads; batch 3's weights (after step 2) did not.
    assert model.state_dict() == seen[1]
    assert seen[1] != seen[2]


def test_nan_gradient_stops_before_the_step():
    X, y = moons(20)
    model = MLP(2, [4, 1], seed=0)
    before = model.state_dict()

    def loss(outputs, targets):
        # sqrt(0 * out) is 0 but its derivative is inf * 0 = nan: a finite loss with a nan gradient
        return mse(outputs, targets) + (outputs[0] * 0.0).sqrt()

    with pytest.warns(RuntimeWarning, match=r"gradient became nan or inf at epoch 1, batch 1"):
        history = fit(model, X, y, loss=loss, epochs=2, batch_size=10, progress=False)
    assert history.stop_reason == "non_finite"
    assert model.state_dict() == before


def test_exploding_weights_stop_with_a_message_and_finite_weights():
    # A huge learning rate on squared error: the loss overflows within a few batches.
    X, y = moons(40)
    model = MLP(2, [8, 8, 1], seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(model, X, [10.0 * t for t in y], loss="mse", epochs=50, batch_size=4,
                      optimizer=SGD(model.parameters(), lr=5.0), progress=False)
    assert history.stop_reason == "non_finite"
    assert any("epoch" in str(w.message) and "batch" in str(w.message) for w in caught)
    assert all(math.isfinite(v) for v in model.state_dict().values())


def test_max_grad_norm_clips_each_step():
    X, y = moons(40)
    clipped, free = MLP(2, [8, 8, 1], seed=0), MLP(2, [8, 8, 1], seed=0)
    targets = [10.0 * t for t in y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(free, X, targets, loss="mse", epochs=5, batch_size=4, optimizer=SGD(free.parameters(), lr=0.2),
            progress=False)
    history = fit(clipped, X, targets, loss="mse", epochs=5, batch_size=4, max_grad_norm=1.0,
                  optimizer=SGD(clipped.parameters(), lr=0.2), progress=False)
    assert history.stop_reason == "epochs"
    assert all(math.isfinite(v) for v in clipped.state_dict().values())


# -- compile=True: the same training, replayed -----------------------------------------------------


@pytest.mark.parametrize("loss, nouts, labels", [
    (None, [6, 3], "classes"),
    ("hinge", [6, 1], "binary"),
    ("mse", [6, 2], "vectors"),
])
def test_compiled_fit_matches_eager(loss, nouts, labels):
    X, y = make_spirals(36, n_classes=3 if labels == "classes" else 2, noise=0.05, seed=1)
    if labels == "vectors":
        y = [[float(t), -float(t)] for t in y]
    runs = []
    for compiled in (False, True):
        model = MLP(2, nouts, activation="tanh", seed=2)
        history = fit(model, X, y, loss=loss, optimizer=Adam(model.parameters(), lr=0.02), epochs=3,
                      batch_size=8, val_split=0.25, grad_norms=True, progress=False, compile=compiled)
        runs.append((model.state_dict(), history))
    (eager_state, eager), (compiled_state, compiled) = runs
    assert compiled_state == pytest.approx(eager_state, rel=1e-12, abs=1e-14)
    assert compiled.train_loss == pytest.approx(eager.train_loss, rel=1e-12)
    assert compiled.val_loss == pytest.approx(eager.val_loss, rel=1e-12)
    assert compiled.train_accuracy == eager.train_accuracy
    assert compiled.val_accuracy == eager.val_accuracy
    for name in eager.grad_norms:
        assert compiled.grad_norms[name] == pytest.approx(eager.grad_norms[name], rel=1e-12)


def test_compile_with_batchnorm_says_so_once_and_trains_eagerly():
    states = []
    for compiled in (False, True):
        model = MLP(2, [4, 4, 1], batchnorm=True, seed=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit(model, *moons(10), epochs=2, batch_size=4, compile=compiled, progress=False)
        messages = [str(w.message) for w in caught]
        if compiled:
            assert len(messages) == 1 and "BatchNorm1d normalizes over the whole batch" in messages[0]
            assert "training eagerly" in messages[0]
        else:
            assert messages == []
        states.append(model.state_dict())
    assert states[0] == states[1]  # the same eager training, bit for bit
    before = model.state_dict()
    with pytest.raises(TypeError, match="compile must be True or False"):
        fit(model, *moons(10), compile="yes", progress=False)
    assert model.state_dict() == before


def test_compiled_fit_stops_on_a_nan_gradient():
    X, y = moons(20)
    model = MLP(2, [4, 1], seed=0)
    before = model.state_dict()

    def loss(outputs, targets):
        return mse(outputs, targets) + (outputs[0] * 0.0).sqrt()

    with pytest.warns(RuntimeWarning, match=r"epoch 1, batch 1"):
        history = fit(model, X, y, loss=loss, epochs=2, batch_size=10, progress=False, compile=True)
    assert history.stop_reason == "non_finite"
    assert model.state_dict() == before


def test_fit_inside_no_grad_raises_before_touching_the_model():
    from autograd import no_grad

    X, y = make_moons(20, seed=0)
    model = MLP(2, [4, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with no_grad(), pytest.raises(RuntimeError, match="inside no_grad"):
        fit(model, X, y, loss="binary_cross_entropy_with_logits", epochs=2, progress=False)
    assert [p.data for p in model.parameters()] == before


# -- predict ----------------------------------------------------------------------------------------


def test_predict_reads_outputs_as_fit_does():
    from nn.train import predict

    # one linear neuron with w = 1, b = -0.25 (set by hand): output x - 0.25
    model = MLP(1, [1], seed=0)
    model.layers[0].neurons[0].w[0].data, model.layers[0].neurons[0].b.data = 1.0, -0.25
    X = [[0.0], [0.5], [1.0]]
    assert predict(model, X) == [0, 1, 1]  # a logit: class 1 above 0
    assert predict(model, X, loss="binary_cross_entropy") == [0, 0, 1]  # a probability: above 0.5
    assert predict(model, X, loss="mse") == [-0.25, 0.25, 0.75]  # regression: the output itself
    scores = MLP(2, [3], seed=0)
    by_hand = [max(range(3), key=lambda k: scores(x)[k].data) for x in ([1.0, 0.0], [0.0, -1.0])]
    assert predict(scores, [[1.0, 0.0], [0.0, -1.0]]) == by_hand == [0, 1]
    bn = MLP(2, [4, 1], batchnorm=True, seed=0)
    assert len(predict(bn, [[0.0, 1.0]])) == 1 and bn.training  # eval mode for one sample, then back
    with pytest.raises(ValueError, match="has 3 features but the model takes 2"):
        predict(scores, [[1.0, 2.0, 3.0]])


def test_layer_grad_norms_cover_every_parameter_batchnorm_included():
    from nn.train import layer_grad_norms

    X, y = moons(8)
    model = MLP(2, [3, 3, 1], activation="sigmoid", batchnorm=True, seed=0)
    model.zero_grad()
    binary_cross_entropy_with_logits(model(X), y).backward()
    by_hand: dict[str, float] = {}
    for name, p in model.named_parameters():  # layers.i.neurons.j.w.k -> layers.i, norms.i.bias.j -> norms.i
        group = ".".join(name.split(".")[:2])
        by_hand[group] = by_hand.get(group, 0.0) + p.grad ** 2
    norms = layer_grad_norms(model)
    assert set(norms) == {"layers.0", "layers.1", "layers.2", "norms.0", "norms.1"}
    assert norms == pytest.approx({k: math.sqrt(v) for k, v in by_hand.items()}, rel=1e-12)
    assert all(v > 0 for v in norms.values())


# -- the model contract: nin, nout, forward_batch ----------------------------------------------------


class Wrapped(Module):
    """A user's own model: an MLP inside, and only what the contract asks (nin, nout, __call__)."""

    def __init__(self, nouts, seed=0):
        self.inner = MLP(2, nouts, seed=seed)
        self.nin, self.nout = 2, nouts[-1]

    def __call__(self, x):
        return self.inner(x)  # one sample at a time, through the default forward_batch


@pytest.mark.parametrize("nouts, y_of", [([4, 1], lambda y: y), ([4, 3], lambda y: [2 * t for t in y])])
@pytest.mark.parametrize("compile_", [False, True])
def test_a_users_module_with_nin_nout_and_call_trains_as_the_mlp_inside_it(nouts, y_of, compile_):
    X, y = moons(24)
    y = y_of(y)
    wrapped, plain = Wrapped(nouts), MLP(2, nouts, seed=0)
    runs = []
    for model in (wrapped, plain):
        runs.append(fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=2, batch_size=8,
                        progress=False, compile=compile_, val_split=0.25))
    # the same numbers, bit for bit: its samples one by one give what MLP.forward_batch gives
    assert wrapped.inner.state_dict() == plain.state_dict()
    assert runs[0].train_loss == runs[1].train_loss and runs[0].val_accuracy == runs[1].val_accuracy
    assert evaluate(wrapped, X, y) == evaluate(plain, X, y)
    assert predict(wrapped, X) == predict(plain, X)


class NoShape(Module):
    def __init__(self):
        self.w = Value(1.0)

    def __call__(self, x):
        return self.w * x[0]


class NoForward(Module):
    def __init__(self):
        self.w = Value(1.0)
        self.nin, self.nout = 1, 1


class ListOfOne(NoShape):
    """Declares one output but returns a list of one: fit refuses it before an update."""

    nin, nout = 1, 1

    def __call__(self, x):
        return [self.w * x[0]]


@pytest.mark.parametrize("model, match", [
    (NoShape(), r"fit needs the shape of a NoShape: set self.nin .* and self.nout"),
    (NoForward(), r"fit needs the forward pass of a NoForward: define __call__"),
    (ListOfOne(), r"fit: ListOfOne.forward_batch gave a list of 1 for sample 0; with nout=1 each output "
                  r"must be a Value"),
])
@pytest.mark.parametrize("compile_", [False, True])
def test_a_module_that_breaks_the_contract_is_told_what_to_define(model, match, compile_):
    X, y = [[0.5], [1.0], [-1.0]], [1, 1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # compile=True may first say it trains eagerly
        with pytest.raises(TypeError, match=match):
            fit(model, X, y, epochs=1, progress=False, compile=compile_)
    assert model.w.data == 1.0


def test_layer_and_batchnorm_are_models_too():
    X, y = moons(12)
    layer = Layer(2, 1, "linear", seed=0)
    history = fit(layer, X, y, epochs=2, batch_size=4, progress=False)
    assert history.epochs == 2 and predict(layer, X) == [int(o[0].data > 0) for o in map(layer, X)]
    # BatchNorm1d in eval mode with fresh statistics: x / sqrt(1 + eps), so the mse is known by hand
    bn = BatchNorm1d(2)
    targets = [[0.0, 0.0] for _ in X]
    by_hand = sum(v * v / (1 + 1e-5) for x in X for v in x) / (2 * len(X))
    assert evaluate(bn, X, targets, loss="mse").loss == pytest.approx(by_hand, rel=1e-12)
    assert bn.training  # evaluate restores the mode

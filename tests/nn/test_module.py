"""Tests for nn.module: dotted names and labels, grads and modes, and state dicts that load whole or not at
all (model files are tested in test_serialization.py)."""

import math

import pytest

import nn
from autograd import Value
from nn import MLP, BatchNorm1d, Layer, Module, Neuron


def snapshot(model):
    return model.state_dict()


def outputs(model, rows):
    return [o.data if isinstance(o, Value) else [v.data for v in o] for o in model(rows)]


# -- names and labels ------------------------------------------------------------------------------


def test_names_for_neuron_layer_and_mlp():
    assert [n for n, _ in Neuron(2, seed=0).named_parameters()] == ["w.0", "w.1", "b"]
    assert [n for n, _ in Layer(1, 2, seed=0).named_parameters()] == [
        "neurons.0.w.0", "neurons.0.b", "neurons.1.w.0", "neurons.1.b"]
    names = [n for n, _ in MLP(2, [2, 1], seed=0).named_parameters()]
    assert names == [
        "layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b",
        "layers.0.neurons.1.w.0", "layers.0.neurons.1.w.1", "layers.0.neurons.1.b",
        "layers.1.neurons.0.w.0", "layers.1.neurons.0.w.1", "layers.1.neurons.0.b",
    ]


def test_labels_follow_the_outermost_module():
    model = MLP(3, [5, 4, 1], seed=0)
    for name, p in model.named_parameters():
        assert p.label == name
    assert model.layers[0].neurons[3].w[1].label == "layers.0.neurons.3.w.1"
    assert model.layers[0].neurons[3].b.label == "layers.0.neurons.3.b"


class Pair(Module):
    """A user-defined module holding two models and a loose parameter."""

    def __init__(self):
        self.encoder = MLP(2, [3], seed=1)
        self.head = Neuron(3, "linear", seed=2)
        self.scale = Value(1.0)

    def __call__(self, x):
        return self.head(self.encoder(x)) * self.scale


def test_custom_modules_get_names_and_labels_without_boilerplate():
    pair = Pair()
    names = [n for n, _ in pair.named_parameters()]
    assert names[0] == "encoder.layers.0.neurons.0.w.0"
    assert names[-5:] == ["head.w.0", "head.w.1", "head.w.2", "head.b", "scale"]
    assert all(p.label == n for n, p in pair.named_parameters())
    assert [n for n, _ in pair.named_modules()][:3] == ["", "encoder", "encoder.layers.0"]
    pair([1.0, 2.0]).backward()
    assert pair.scale.grad != 0.0


def test_shared_parameters_are_listed_once():
    class Tied(Module):
        def __init__(self):
            self.a = Neuron(2, seed=0)
            self.b = self.a  # the same module twice
            self.extra = [self.a.b]

    tied = Tied()
    assert len(tied.parameters()) == 3
    assert [n for n, _ in tied.named_parameters()] == ["a.w.0", "a.w.1", "a.b"]


def test_parameters_order_is_stable_and_matches_named_parameters():
    a, b = MLP(2, [4, 3], seed=5), MLP(2, [4, 3], seed=5)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert a.parameters() == [p for _, p in a.named_parameters()]
    assert a.parameters() == a.parameters()


def test_zero_grad_train_and_eval():
    model = MLP(2, [3, 3, 1], batchnorm=True, seed=0)
    out = model([[1.0, 2.0], [2.0, 0.0], [0.0, 1.0]])
    (out[0] * out[1] + out[2]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    assert model.eval() is model
    assert not model.training and all(not m.training for _, m in model.named_modules())
    model.train()
    assert all(m.training for _, m in model.named_modules())
    with pytest.raises(TypeError, match="bool"):
        model.train("no")


# -- state dicts -----------------------------------------------------------------------------------


def test_state_dict_round_trip():
    a, b = MLP(2, [3, 3, 2], batchnorm=True, seed=1), MLP(2, [3, 3, 2], batchnorm=True, seed=2)
    a([[1.0, 2.0], [3.0, -1.0]])  # moves a's running statistics
    state = a.state_dict()
    assert set(state) == {n for n, _ in a.named_parameters()} | {
        f"norms.{i}.{s}.{j}" for i in range(2) for s in ("running_mean", "running_var") for j in range(3)
    } | {"norms.0.num_batches_tracked", "norms.1.num_batches_tracked"}
    b.load_state_dict(state)
    assert b.state_dict() == state
    a.eval()
    b.eval()
    assert outputs(a, [[0.5, 0.5]]) == outputs(b, [[0.5, 0.5]])


@pytest.mark.parametrize(
    "edit, error, message",
    [
        (lambda s: s.pop("layers.0.neurons.0.b"), ValueError, "missing 1 keys"),
        (lambda s: s.update({"layers.9.w": 1.0}), ValueError, "1 unexpected keys"),
        (lambda s: s.update({"layers.0.neurons.0.b": "1.0"}), TypeError, "must be a number"),
        (lambda s: s.update({"layers.0.neurons.0.b": True}), TypeError, "must be a number"),
        (lambda s: s.update({"layers.1.neurons.0.w.2": math.inf}), ValueError, "must be finite"),
        (lambda s: s.update({"norms.0.num_batches_tracked": 1.5}), ValueError, "int >= 0"),
        (lambda s: s.update({"layers.0.neurons.0.b": 10**400}), ValueError, "too large for a float"),
        (lambda s: s.update({"norms.1.running_var.2": -5.0}), ValueError,
         r"state\['norms.1.running_var.2'\] is -5.0; running_var is a variance, so it must be >= 0"),
        (lambda s: s.update({"norms.0.running_mean.0": -math.inf}), ValueError, "must be finite"),
        (lambda s: s.update({7: 1.0}), ValueError, "1 unexpected keys"),
    ],
)
def test_bad_state_dicts_leave_the_model_unchanged(edit, error, message):
    model = MLP(2, [3, 3, 1], batchnorm=True, seed=0)
    before = snapshot(model)
    state = {k: v * 2 + 1 for k, v in before.items()}
    edit(state)
    with pytest.raises(error, match=message):
        model.load_state_dict(state)
    assert snapshot(model) == before


def test_load_state_dict_refuses_a_non_mapping():
    with pytest.raises(TypeError, match="needs a dict"):
        Neuron(1, seed=0).load_state_dict([1.0, 2.0])


def test_a_zero_running_variance_loads_and_the_eval_pass_stays_finite():
    bn = BatchNorm1d(2, affine=False)
    state = bn.state_dict() | {"running_var.0": 0.0, "running_mean.1": 3.0}
    bn.load_state_dict(state)
    bn.eval()
    out = bn([[1.0, 3.0]])[0]
    # hand-derived: (1 - 0) / sqrt(0 + 1e-5) and (3 - 3) / sqrt(1 + 1e-5)
    assert out[0].data == pytest.approx(1 / math.sqrt(1e-5)) and out[1].data == 0.0


def test_public_exports():
    for name in ["Module", "Neuron", "Layer", "MLP", "BatchNorm1d", "save", "load", "mse", "cross_entropy",
                 "binary_cross_entropy", "binary_cross_entropy_with_logits", "hinge", "softmax",
                 "log_softmax", "losses", "data", "optim", "SGD", "Adam", "AdamW", "clip_grad_norm", "fit",
                 "evaluate", "interop", "ModelFileError"]:
        assert hasattr(nn, name), name
        assert name in nn.__all__

"""Tests for nn.interop: an MLP and its torch twin compute the same outputs and gradients, both ways."""

import random
import sys

import pytest

from nn.layers import MLP, Neuron

torch = pytest.importorskip("torch", reason="nn.interop converts to and from torch, an optional dependency")
from nn.interop import from_torch, to_torch  # noqa: E402

CONFIGS = [
    {"nouts": [5, 3]},
    {"nouts": [4, 4, 4, 2], "activation": "tanh", "residual": True},
    {"nouts": [4, 4, 1], "activation": "sigmoid", "output_activation": "sigmoid"},
    {"nouts": [4, 4, 2], "activation": "leaky_relu", "negative_slope": 0.2},
    {"nouts": [4, 4, 4, 2], "batchnorm": True},
    {"nouts": [4, 4, 4, 1], "activation": "tanh", "batchnorm": True, "residual": True},
    {"nouts": [4, 4, 5, 5, 1], "activation": "leaky_relu", "output_activation": "sigmoid", "residual": True,
     "negative_slope": 0.2},
]
IDS = ["relu", "tanh-residual", "sigmoid-out", "leaky", "batchnorm", "batchnorm-residual",
       "leaky-residual-out"]


def batch(n=6, nin=3, seed=0):
    rng = random.Random(seed)
    return [[rng.gauss(0, 1) for _ in range(nin)] for _ in range(n)]


def flat(outputs):
    """Our batch of outputs (Values, or lists of Values) as one flat list of floats."""
    return [v.data for o in outputs for v in (o if isinstance(o, list) else [o])]


def tflat(tensor):
    return tensor.detach().flatten().tolist()


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_same_outputs_and_gradients(config, mode):
    model = MLP(3, seed=7, **config)
    if config.get("batchnorm"):
        # move the running statistics off their initial values, so eval mode tests their transfer
        for seed in range(3):
            model(batch(seed=seed + 10))
    model.train(mode == "train")
    module = to_torch(model)
    assert module.training == (mode == "train")
    X = batch()
    outputs = model(X)
    theirs = module(torch.tensor(X, dtype=torch.float64))
    assert theirs.dtype == torch.float64
    assert flat(outputs) == pytest.approx(tflat(theirs), rel=1e-12, abs=1e-13)
    # d(sum of squared outputs) for every parameter
    total = sum((v * v for row in outputs for v in (row if isinstance(row, list) else [row])), start=0.0)
    total.backward()
    (theirs ** 2).sum().backward()
    ours = [n.w[k].grad for layer in model.layers for n in layer.neurons for k in range(len(n.w))]
    expected = [g for lin in module.linears for row in lin.weight.grad.tolist() for g in row]
    assert ours == pytest.approx(expected, rel=1e-10, abs=1e-12)
    if config.get("batchnorm") and mode == "train":
        assert model.norms[0].running_var == pytest.approx(module.norms[0].running_var.tolist(), rel=1e-12)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_round_trip_keeps_config_state_and_mode(config):
    model = MLP(3, seed=2, **config)
    if config.get("batchnorm"):
        model(batch(seed=1))
    model.eval()
    back = from_torch(to_torch(model))
    assert isinstance(back, MLP)
    assert back.config() == model.config()
    assert back.state_dict() == model.state_dict()
    assert not back.training


def test_from_a_plain_sequential():
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 5), torch.nn.Tanh(),
                              torch.nn.Linear(5, 2)).double()
    model = from_torch(seq)
    assert model.config()["nouts"] == [5, 5, 2]
    assert model.activation == "tanh" and model.output_activation == "linear"
    X = batch()
    assert flat(model(X)) == pytest.approx(tflat(seq(torch.tensor(X, dtype=torch.float64))), rel=1e-12)


def test_from_a_sequential_with_batchnorm_in_eval_mode():
    torch.manual_seed(1)
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.BatchNorm1d(4),
                              torch.nn.Linear(4, 1), torch.nn.Sigmoid()).double()
    seq.train()
    for seed in range(3):  # running statistics away from 0 and 1
        seq(torch.tensor(batch(seed=seed), dtype=torch.float64))
    seq.eval()
    model = from_torch(seq)
    assert model.batchnorm and model.output_activation == "sigmoid" and not model.training
    X = batch(seed=5)
    assert flat(model(X)) == pytest.approx(tflat(seq(torch.tensor(X, dtype=torch.float64))), rel=1e-12)


def test_float32_weights_are_read_as_float64():
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))  # float32
    model = from_torch(seq)
    assert model.layers[0].neurons[0].w[0].data == seq[0].weight[0, 0].item()


@pytest.mark.parametrize("seq, match", [
    (lambda: torch.nn.Sequential(torch.nn.Conv1d(1, 1, 1)), "Conv1d"),
    (lambda: torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(2, 2)), "start with a Linear"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3),
                                 torch.nn.Tanh(), torch.nn.Linear(3, 1)), "different activations"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(4, 1)), "next takes 4"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(),
                                 torch.nn.Linear(3, 1)), "before any BatchNorm1d"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.BatchNorm1d(3, eps=1e-3),
                                 torch.nn.Linear(3, 1)), "eps=0.001"),
])
def test_unsupported_torch_modules_are_refused(seq, match):
    with pytest.raises(ValueError, match=match):
        from_torch(seq())


def test_wrong_types():
    with pytest.raises(TypeError, match="nn.MLP"):
        to_torch(Neuron(2))
    with pytest.raises(TypeError, match="Sequential"):
        from_torch(torch.nn.Linear(2, 2))


def test_missing_torch_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ImportError, match="pip install torch"):
        to_torch(MLP(2, [1], seed=0))
    with pytest.raises(ImportError, match="from_torch needs PyTorch"):
        from_torch(object())

"""Tests for nn.module: dotted names and labels, grads and modes, state dicts, and JSON files that are
written atomically and read without running code or damaging the model on a bad file."""

import json
import math
import os

import pytest

import nn
from autograd import Value
from nn import MLP, BatchNorm1d, Layer, ModelFileError, Module, Neuron, load, save


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


# -- files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLP(2, [4, 4, 3], activation="tanh", residual=True, seed=3),
        lambda: MLP(3, [5, 5, 1], activation="leaky_relu", batchnorm=True, negative_slope=0.2, seed=4),
        lambda: Layer(3, 2, "sigmoid", seed=5),
        lambda: Neuron(3, "linear", seed=6),
        lambda: BatchNorm1d(3, eps=1e-3, momentum=None),
    ],
)
def test_save_and_load_round_trip(tmp_path, make):
    model = make()
    if isinstance(model, (BatchNorm1d, MLP)):
        model([[1.0, 2.0, 3.0][: _width(model)], [0.0, -1.0, 2.0][: _width(model)]])
    path = tmp_path / "model.json"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is type(model) and loaded.config() == model.config()
    assert loaded.state_dict() == model.state_dict()  # JSON floats round-trip exactly
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert os.listdir(tmp_path) == ["model.json"]  # no temporary file left behind


def _width(model):
    return model.nin if isinstance(model, MLP) else model.num_features


def test_load_into_an_existing_model(tmp_path):
    trained, fresh = MLP(2, [3, 1], seed=1), MLP(2, [3, 1], seed=2)
    save(trained, tmp_path / "m.json")
    assert load(tmp_path / "m.json", fresh) is fresh
    assert fresh.state_dict() == trained.state_dict()
    assert fresh([0.3, 0.4]).data == trained([0.3, 0.4]).data


def test_file_is_plain_json(tmp_path):
    save(MLP(2, [1], seed=0), tmp_path / "m.json")
    payload = json.loads((tmp_path / "m.json").read_text())
    assert payload["format"] == "chainrule-model" and payload["version"] == 1
    assert payload["class"] == "MLP" and payload["config"]["nouts"] == [1]
    assert set(payload["state"]) == {"layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1",
                                     "layers.0.neurons.0.b"}


def _corrupt(tmp_path, model, change):
    path = tmp_path / "m.json"
    save(model, path)
    text = path.read_text()
    path.write_text(change(text))
    return path


def _edit_payload(edit):
    def change(text):
        payload = json.loads(text)
        edit(payload)
        return json.dumps(payload)

    return change


BAD_FILES = [
    (lambda t: t[: len(t) // 2], "truncated JSON"),
    (lambda t: "", "truncated JSON"),
    (lambda t: t + "garbage", "corrupt"),
    (lambda t: t.replace("0.0", "NaN", 1), "NaN is not a finite number"),
    (lambda t: "[1, 2]", "not a chainrule model file"),
    (_edit_payload(lambda p: p.update(format="pickle")), "not a chainrule model file"),
    (_edit_payload(lambda p: p.update(version=2)), "version 2"),
    (_edit_payload(lambda p: p.update({"class": "os.system"})), "cannot build"),
    (_edit_payload(lambda p: p.update({"class": "Module"})), "cannot build"),
    (_edit_payload(lambda p: p.update(state=[1, 2])), "needs \"config\" and \"state\" objects"),
    (_edit_payload(lambda p: p["state"].pop("layers.0.neurons.0.b")), "missing 1 keys"),
    (_edit_payload(lambda p: p["state"].update({"layers.0.neurons.0.b": "x"})), "must be a number"),
    (_edit_payload(lambda p: p["config"].update(nouts=[3, 2])), "does not match"),
    (_edit_payload(lambda p: p["config"].update(batchnorm=True)), "does not match"),
]


@pytest.mark.parametrize("change, message", BAD_FILES)
def test_bad_files_raise_and_leave_the_model_unchanged(tmp_path, change, message):
    source = MLP(2, [3, 1], seed=1)
    path = _corrupt(tmp_path, source, change)
    target = MLP(2, [3, 1], seed=2)
    before = snapshot(target)
    with pytest.raises(ModelFileError, match=message):
        load(path, target)
    assert snapshot(target) == before


def test_duplicate_keys_are_rejected(tmp_path):
    path = tmp_path / "m.json"
    save(Neuron(1, seed=0), path)
    text = path.read_text().replace('"format"', '"format": "x", "format"', 1)
    path.write_text(text)
    with pytest.raises(ModelFileError, match="duplicate key 'format'"):
        load(path)


def test_bad_config_when_building_raises_a_model_file_error(tmp_path):
    path = _corrupt(tmp_path, MLP(2, [1], seed=0), _edit_payload(lambda p: p["config"].update(evil=1)))
    with pytest.raises(ModelFileError, match="cannot build MLP"):
        load(path)
    path = _corrupt(tmp_path, MLP(2, [1], seed=0),
                    _edit_payload(lambda p: p["config"].update(activation="__import__")))
    with pytest.raises(ModelFileError, match="unknown activation"):
        load(path)


@pytest.mark.parametrize(
    "make",
    [lambda: MLP(2, [3, 3, 1], batchnorm=True, seed=0), lambda: Layer(2, 3, seed=0),
     lambda: Neuron(2, seed=0), lambda: BatchNorm1d(3), lambda: BatchNorm1d(3, affine=False)],
)
def test_state_size_matches_every_savable_class(make):
    model = make()
    assert type(model)._state_size(model.config()) == len(model.state_dict())


@pytest.mark.parametrize("config", [{"nin": 10**9}, {"nouts": [10**6] * 3}, {"batchnorm": True}])
def test_an_oversized_config_is_refused_before_building(tmp_path, config):
    path = _corrupt(tmp_path, MLP(2, [3, 1], seed=0), _edit_payload(lambda p: p["config"].update(config)))
    with pytest.raises(ModelFileError, match="state values but the file holds 13"):
        load(path)


def test_loading_into_another_class_is_refused(tmp_path):
    save(Neuron(2, seed=0), tmp_path / "n.json")
    layer = Layer(2, 1, seed=0)
    before = snapshot(layer)
    with pytest.raises(ModelFileError, match="does not match"):
        load(tmp_path / "n.json", layer)
    assert snapshot(layer) == before


def test_save_replaces_atomically_and_cleans_up_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    first = MLP(2, [2, 1], seed=1)
    save(first, path)
    original = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save(MLP(2, [2, 1], seed=2), path)
    monkeypatch.undo()
    assert path.read_bytes() == original  # the old file is intact
    assert os.listdir(tmp_path) == ["m.json"]  # and the temporary file is gone
    assert load(path).state_dict() == first.state_dict()


def test_save_refuses_non_finite_weights_and_unsavable_modules(tmp_path):
    model = MLP(2, [1], seed=0)
    model.layers[0].neurons[0].b.data = math.nan
    with pytest.raises(ValueError, match="layers.0.neurons.0.b is nan"):
        save(model, tmp_path / "m.json")
    with pytest.raises(TypeError, match="define config"):
        save(Pair(), tmp_path / "p.json")
    with pytest.raises(TypeError, match="needs an nn.Module"):
        save({"w": 1.0}, tmp_path / "d.json")
    assert os.listdir(tmp_path) == []


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.json")


def test_public_exports():
    for name in ["Module", "Neuron", "Layer", "MLP", "BatchNorm1d", "save", "load", "mse", "cross_entropy",
                 "binary_cross_entropy", "binary_cross_entropy_with_logits", "hinge", "softmax",
                 "log_softmax", "losses", "data", "optim", "SGD", "Adam", "AdamW", "clip_grad_norm", "fit",
                 "evaluate", "interop", "ModelFileError"]:
        assert hasattr(nn, name), name
        assert name in nn.__all__

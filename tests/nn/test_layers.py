"""Tests for nn.layers: a neuron by hand, shapes (a Layer always returns a list), seeded init, residual and
batch-normalized MLPs against an equivalent torch model in float64, and bad input."""

import copy
import math
import pickle
import random

import pytest

from autograd import Constant, Value, toposort
from nn import MLP, Layer, Neuron
from nn.layers import ACTIVATIONS, default_init, gain

try:
    import torch
except ImportError:  # pragma: no cover - torch is an optional oracle
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed; the float64 oracle needs it")
TOL = 1e-9
F64 = torch.float64 if torch is not None else None


def set_weights(neuron, w, b):
    for p, x in zip(neuron.w, w):
        p.data = x
    neuron.b.data = b


# -- a neuron by hand ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "activation, f, df",
    [
        ("linear", lambda a: a, lambda a: 1.0),
        ("relu", lambda a: max(a, 0.0), lambda a: 1.0 if a > 0 else 0.0),
        ("tanh", math.tanh, lambda a: 1 - math.tanh(a) ** 2),
        ("sigmoid", lambda a: 1 / (1 + math.exp(-a)), lambda a: math.exp(-a) / (1 + math.exp(-a)) ** 2),
        ("leaky_relu", lambda a: a if a > 0 else 0.01 * a, lambda a: 1.0 if a > 0 else 0.01),
    ],
)
@pytest.mark.parametrize("x", [[3.0, -1.0], [-3.0, 1.0]])
def test_neuron_by_hand(activation, f, df, x):
    n = Neuron(2, activation, seed=0)
    set_weights(n, [0.5, -2.0], 0.25)
    xs = [Value(v) for v in x]
    out = n(xs)
    a = 0.5 * x[0] - 2.0 * x[1] + 0.25  # the weighted sum plus the bias
    assert out.data == pytest.approx(f(a), abs=1e-15)
    out.backward()
    # d out / d w_i = f'(a) x_i ; d out / d b = f'(a) ; d out / d x_i = f'(a) w_i
    assert [w.grad for w in n.w] == pytest.approx([df(a) * x[0], df(a) * x[1]], abs=1e-15)
    assert n.b.grad == pytest.approx(df(a), abs=1e-15)
    assert [v.grad for v in xs] == pytest.approx([df(a) * 0.5, df(a) * -2.0], abs=1e-15)


def test_leaky_relu_slope_is_configurable():
    n = Neuron(1, "leaky_relu", negative_slope=0.2, seed=0)
    set_weights(n, [1.0], 0.0)
    assert n([-5.0]).data == pytest.approx(-1.0)


def test_neuron_graph_is_minimal():
    # one linear node (the weighted sum, its parents the weights, the inputs and the bias) and one
    # activation; the float inputs become the only constants
    n = Neuron(3, "relu", seed=0)
    out = n([1.0, 2.0, 3.0])
    nodes = toposort(out)
    assert [v.op for v in nodes if v.op] == ["linear", "relu"]
    z = out.parents[0]
    assert z.parents[:3] == tuple(n.w) and z.parents[6] is n.b
    assert [c.data for c in z.parents[3:6]] == [1.0, 2.0, 3.0]
    assert all(isinstance(c, Constant) for c in z.parents[3:6])
    assert {id(v) for v in nodes if not v.op} == {id(p) for p in n.parameters()}
    # With Value inputs, no constants at all.
    out = n([Value(1.0), Value(2.0), Value(3.0)])
    assert not [p for v in toposort(out) for p in v.parents if isinstance(p, Constant)]


def test_expanded_neuron_builds_micrograds_graph():
    # nin products, nin adds (the last adds the bias), one activation; no constant 0 from sum().
    n = Neuron(3, "relu", seed=0, expand=True)
    out = n([1.0, 2.0, 3.0])
    nodes = toposort(out)
    ops = [v.op for v in nodes if v.op]
    assert sorted(ops) == sorted(["mul"] * 3 + ["add"] * 3 + ["relu"])
    assert {id(v) for v in nodes if not v.op} == {id(p) for p in n.parameters()}
    constants = [p for v in nodes for p in v.parents if isinstance(p, Constant)]
    assert sorted(c.data for c in constants) == [1.0, 2.0, 3.0]  # only the float inputs


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_expanded_and_fused_mlps_give_the_same_floats(activation):
    # the linear node adds the products left to right, as the chain of + nodes does: bit for bit the
    # same outputs and gradients, in far fewer nodes
    rng = random.Random(7)
    x = [rng.uniform(-2, 2) for _ in range(5)]
    results = []
    for expand in (False, True):
        model = MLP(5, [7, 6, 3], activation, seed=11, residual=False, expand=expand)
        xs = [Value(v) for v in x]
        outs = model(xs)
        loss = outs[0] * outs[1] + outs[2].tanh()
        loss.backward()
        results.append(([o.data for o in outs], [p.grad for p in model.parameters()], [v.grad for v in xs],
                        sum(1 for v in toposort(loss) if v.op)))
    (fused, grads, input_grads, n_fused), (expanded, grads_e, input_grads_e, n_expanded) = results
    assert fused == expanded and grads == grads_e and input_grads == input_grads_e
    # op nodes: 7 + 6 + 3 weighted sums (with 5, 7 and 6 terms) become 16 nodes instead of 2 * 127
    assert n_expanded - n_fused == 2 * (7 * 5 + 6 * 7 + 3 * 6) - 16


def test_expand_is_saved_in_the_config_and_does_not_stop_loading_weights(tmp_path):
    from nn import load, save

    model = MLP(2, [3, 1], seed=0, expand=True)
    assert model.config()["expand"] is True and "expand=True" in repr(model)
    assert Layer(2, 3, expand=True).config()["expand"] is True
    assert Neuron(2, expand=True).config()["expand"] is True
    save(model, tmp_path / "m.json")
    loaded = load(tmp_path / "m.json")
    assert loaded.expand and all(n.expand for layer in loaded.layers for n in layer.neurons)
    assert "mul" in {v.op for v in toposort(loaded([0.5, 0.25]))}
    fused = load(tmp_path / "m.json", MLP(2, [3, 1], seed=5))  # the weights load into either kind
    assert not fused.expand and fused([0.5, 0.25]).data == model([0.5, 0.25]).data
    with pytest.raises(TypeError, match="expand must be a bool"):
        MLP(2, [1], expand="yes")


def test_linear_neuron_adds_no_activation_node():
    out = Neuron(2, "linear", seed=0)([1.0, 2.0])
    assert out.op == "linear"
    assert Neuron(2, "linear", seed=0, expand=True)([1.0, 2.0]).op == "add"


# -- shapes ----------------------------------------------------------------------------------------


def test_layer_with_one_neuron_returns_a_list():
    out = Layer(3, 1, seed=0)([1.0, 2.0, 3.0])
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], Value)
    assert len(Layer(3, 4, seed=0)([1.0, 2.0, 3.0])) == 4


@pytest.mark.parametrize("nouts", [[1, 1], [3, 1, 2], [1], [1, 5, 1]])
def test_mlp_with_width_one_layers_works(nouts):
    model = MLP(2, nouts, seed=0)
    out = model([0.5, -0.5])
    if nouts[-1] == 1:
        assert isinstance(out, Value)
        out.backward()
    else:
        assert isinstance(out, list) and len(out) == nouts[-1]
        out[0].backward()
    assert any(p.grad != 0.0 for p in model.parameters()) or nouts[0] == 1


def test_mlp_output_shapes_for_a_sample_and_a_batch():
    one = MLP(2, [4, 1], seed=0)
    three = MLP(2, [4, 3], seed=0)
    batch = [[1.0, 2.0], [3.0, 4.0], (5.0, 6.0)]
    assert isinstance(one([1.0, 2.0]), Value)
    assert len(three([1.0, 2.0])) == 3
    outs = one(batch)
    assert len(outs) == 3 and all(isinstance(o, Value) for o in outs)
    assert [o.data for o in outs] == [one(x).data for x in batch]
    outs = three(batch)
    assert len(outs) == 3 and all(isinstance(o, list) and len(o) == 3 for o in outs)
    assert [o.data for o in three.forward_batch([[1.0, 2.0]])[0]] == [o.data for o in three([1.0, 2.0])]


def test_last_layer_is_linear_unless_asked():
    model = MLP(2, [3, 2], activation="tanh", seed=0)
    assert [layer.activation for layer in model.layers] == ["tanh", "linear"]
    model = MLP(2, [3, 1], activation="tanh", output_activation="sigmoid", seed=0)
    assert model.layers[-1].activation == "sigmoid"
    assert 0.0 < model([10.0, -10.0]).data < 1.0


def test_parameter_count_and_names():
    model = MLP(2, [16, 16, 1], seed=0)
    assert len(model.parameters()) == 3 * 16 + 17 * 16 + 17
    names = [name for name, _ in model.named_parameters()]
    assert names[:4] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b",
                         "layers.0.neurons.1.w.0"]
    assert "layers.1.neurons.3.w.15" in names and names[-1] == "layers.2.neurons.0.b"
    assert all(p.label == name for name, p in model.named_parameters())


# -- initialization --------------------------------------------------------------------------------


def test_same_seed_same_weights_and_global_random_untouched():
    random.seed(123)
    before = random.getstate()
    a = [p.data for p in MLP(3, [8, 8, 2], seed=42).parameters()]
    b = [p.data for p in MLP(3, [8, 8, 2], seed=42).parameters()]
    c = [p.data for p in MLP(3, [8, 8, 2], seed=43).parameters()]
    assert random.getstate() == before
    assert a == b and a != c
    # Unseeded models differ from each other (drawn from fresh entropy), still without global state.
    assert [p.data for p in MLP(3, [8], seed=None).parameters()] != [
        p.data for p in MLP(3, [8], seed=None).parameters()]
    assert random.getstate() == before


def test_default_init_per_activation():
    assert default_init("relu") == default_init("leaky_relu") == "he"
    assert default_init("tanh") == default_init("sigmoid") == default_init("linear") == "xavier"
    assert gain("tanh") == pytest.approx(5 / 3) and gain("sigmoid") == 1.0
    assert gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))


@pytest.mark.parametrize(
    "activation, init, bound",
    [
        ("relu", None, math.sqrt(2) * math.sqrt(3 / 200)),  # he: gain sqrt(3 / fan_in)
        ("tanh", None, 5 / 3 * math.sqrt(6 / 250)),  # xavier: gain sqrt(6 / (fan_in + fan_out))
        ("sigmoid", "he", math.sqrt(3 / 200)),
        ("relu", "xavier", math.sqrt(2) * math.sqrt(6 / 250)),
        ("relu", "uniform", 1.0),
    ],
)
def test_init_bounds_and_variance(activation, init, bound):
    layer = Layer(200, 50, activation, init=init, seed=0)
    ws = [w.data for n in layer.neurons for w in n.w]
    assert all(n.b.data == 0.0 for n in layer.neurons)
    assert max(abs(w) for w in ws) <= bound
    assert max(abs(w) for w in ws) > 0.99 * bound  # the whole range is used
    var = sum(w * w for w in ws) / len(ws)
    assert var == pytest.approx(bound**2 / 3, rel=0.05)  # U(-a, a) has variance a^2 / 3


def test_mlp_init_uses_each_layers_activation():
    model = MLP(100, [100, 100], activation="relu", seed=0)
    assert model.layers[0].init == "he" and model.layers[1].init == "xavier"  # linear output layer
    model = MLP(100, [100, 100], activation="relu", init="he", seed=0)
    assert model.layers[1].init == "he"


# -- residual connections --------------------------------------------------------------------------


def test_residual_adds_the_input_between_equal_width_hidden_layers():
    # Pre-activation blocks, by hand on floats: z = W0 x + b0; every later layer reads act(z); layers 1
    # and 2 (3 -> 3, fed by a hidden layer) add their input; 3 -> 4 does not; the output layer is linear.
    model = MLP(2, [3, 3, 3, 4, 1], activation="tanh", residual=True, seed=0)
    assert model._skip == [False, True, True, False, False]

    def linear(layer, a):
        return [sum(w.data * ai for w, ai in zip(n.w, a)) + n.b.data for n in layer.neurons]

    x = [0.3, -0.7]
    z = linear(model.layers[0], x)
    for i in (1, 2):
        z = [zi + bi for zi, bi in zip(z, linear(model.layers[i], [math.tanh(v) for v in z]))]
    z = linear(model.layers[3], [math.tanh(v) for v in z])
    expected = linear(model.layers[4], [math.tanh(v) for v in z])[0]
    assert model(x).data == pytest.approx(expected, abs=1e-14)
    assert model([x, x])[1].data == pytest.approx(expected, abs=1e-14)


def test_residual_mlp_without_its_skips_is_the_plain_mlp():
    # Moving each activation to where the next layer reads changes nothing until a skip adds z.
    plain = MLP(2, [3, 3, 1], activation="sigmoid", seed=4)
    model = MLP(2, [3, 3, 1], activation="sigmoid", residual=True, seed=4)
    x = [0.5, -1.5]
    model._skip = [False, False, False]
    assert model(x).data == pytest.approx(plain(x).data, abs=1e-15)
    model._skip = [False, True, False]
    assert abs(model(x).data - plain(x).data) > 1e-3


def test_residual_needs_equal_width_hidden_layers():
    with pytest.raises(ValueError, match="same width"):
        MLP(2, [3, 4, 1], residual=True)
    with pytest.raises(ValueError, match="same width"):
        MLP(2, [2, 1], residual=True)  # the input layer is never residual


def test_deep_sigmoid_gradients_vanish_and_residual_connections_keep_them():
    # The first layer's gradient norm against the last hidden layer's. (The output layer's is compared
    # in test_accuracy.py, under a real loss: here every output's upstream gradient is +1, so the output
    # weights' gradient sums eight positive sigmoid outputs and the ratio to it is only ~0.07.)
    rng = random.Random(0)
    X = [[rng.uniform(-1, 1) for _ in range(4)] for _ in range(8)]

    def ratio(model):
        model.zero_grad()
        outs = model(X)
        total = outs[0]
        for o in outs[1:]:
            total = total + o
        total.backward()

        def norm(layer):
            return math.sqrt(sum(p.grad**2 for p in layer.parameters()))

        return norm(model.layers[0]) / norm(model.layers[-2])

    plain = ratio(MLP(4, [8] * 9 + [1], activation="sigmoid", seed=0))
    residual = ratio(MLP(4, [8] * 9 + [1], activation="sigmoid", residual=True, seed=0))
    assert plain < 0.01
    assert residual > 0.1


# -- against torch ---------------------------------------------------------------------------------


def torch_activation(name):
    return {
        "relu": torch.nn.ReLU(),
        "tanh": torch.nn.Tanh(),
        "sigmoid": torch.nn.Sigmoid(),
        "leaky_relu": torch.nn.LeakyReLU(0.01),
        "linear": torch.nn.Identity(),
    }[name]


class TorchMLP(torch.nn.Module if torch is not None else object):
    """The torch model our MLP claims to be: Linear -> act (-> BatchNorm1d) (+ skip) per layer; with
    residual=True, pre-activation blocks: z = W0 x + b0, then z = (z +) Linear(act(BatchNorm1d(z)))."""

    def __init__(self, model):
        super().__init__()
        self.linears = torch.nn.ModuleList()
        self.acts = [torch_activation(layer.activation) for layer in model.layers]
        self.skip = list(model._skip)
        self.residual = model.residual
        for layer in model.layers:
            lin = torch.nn.Linear(layer.nin, layer.nout, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=F64))
                lin.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=F64))
            self.linears.append(lin)
        self.norms = torch.nn.ModuleList(
            torch.nn.BatchNorm1d(bn.num_features, eps=bn.eps, momentum=bn.momentum, dtype=torch.float64)
            for bn in model.norms
        )

    def forward(self, x):
        last = len(self.linears) - 1
        if self.residual:
            for i, lin in enumerate(self.linears):
                a = x
                if i > 0:
                    a = self.acts[i - 1](self.norms[i - 1](a) if len(self.norms) else a)
                out = lin(a)
                if i == last:
                    out = self.acts[last](out)
                x = x + out if self.skip[i] else out
            return x
        for i, (lin, act) in enumerate(zip(self.linears, self.acts)):
            out = act(lin(x))
            if len(self.norms) and i < last:
                out = self.norms[i](out)
            x = x + out if self.skip[i] else out
        return x


def _backprop_both(model, tmodel, rows, rng):
    """Backprop one random weighted sum of the outputs through both models; the outputs, input grads and
    weight grads must agree."""
    weights = [[rng.uniform(-1, 1) for _ in range(model.nouts[-1])] for _ in rows]
    xs = [[Value(v) for v in row] for row in rows]
    model.zero_grad()
    tmodel.zero_grad()
    outs = model(xs)
    outs = [[o] if isinstance(o, Value) else o for o in outs]
    total = None
    for row, wrow in zip(outs, weights):
        for o, w in zip(row, wrow):
            total = o * w if total is None else total + o * w
    total.backward()
    t_in = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    t_out = tmodel(t_in)
    (t_out * torch.tensor(weights, dtype=torch.float64)).sum().backward()
    for row, t_row in zip(outs, t_out.tolist()):
        assert [o.data for o in row] == pytest.approx(t_row, abs=TOL)
    for row, t_row in zip(xs, t_in.grad.tolist()):
        assert [v.grad for v in row] == pytest.approx(t_row, abs=TOL)
    for layer, lin in zip(model.layers, tmodel.linears):
        for n, w_row in zip(layer.neurons, lin.weight.grad.tolist()):
            assert [w.grad for w in n.w] == pytest.approx(w_row, abs=TOL)


def compare_with_torch(model, rows, rng):
    tmodel = TorchMLP(model)
    tmodel.train(model.training)
    _backprop_both(model, tmodel, rows, rng)
    for layer, lin in zip(model.layers, tmodel.linears):
        for n, b in zip(layer.neurons, lin.bias.grad.tolist()):
            assert n.b.grad == pytest.approx(b, abs=TOL)
    return tmodel


@needs_torch
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(
    "nouts, residual",
    [([5, 4, 2], False), ([16, 16, 1], False), ([3, 3, 3, 1], False), ([16, 16, 1], True),
     ([3, 3, 3, 1], True), ([4, 5, 5, 5, 3], True)],
)
def test_mlp_matches_torch(activation, nouts, residual):
    # NOTE: a str seed, not hash(): string hashes change with PYTHONHASHSEED, so every run would differ.
    rng = random.Random(f"{activation}-{nouts}-{residual}")
    model = MLP(3, nouts, activation=activation, residual=residual, seed=rng.randrange(100))
    rows = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(4)]
    compare_with_torch(model, rows, rng)


@needs_torch
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("residual", [False, True])
def test_batchnorm_mlp_matches_torch_in_train_and_eval(activation, residual):
    rng = random.Random(5)
    model = MLP(3, [4, 4, 2], activation=activation, batchnorm=True, residual=residual, seed=1)
    for bn in model.norms:
        for w, b in zip(bn.weight, bn.bias):
            w.data, b.data = rng.uniform(0.5, 1.5), rng.uniform(-0.5, 0.5)
    rows = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(6)]
    tmodel = TorchMLP(model)
    with torch.no_grad():
        for bn, tbn in zip(model.norms, tmodel.norms):
            tbn.weight.copy_(torch.tensor([w.data for w in bn.weight], dtype=F64))
            tbn.bias.copy_(torch.tensor([b.data for b in bn.bias], dtype=F64))
    # Train mode: same outputs and grads, and the running statistics move the same way.
    before = [list(bn.running_mean) for bn in model.norms]
    tmodel = _compare_bn_model(model, tmodel, rows, rng)
    assert [bn.running_mean for bn in model.norms] != before
    for bn, tbn in zip(model.norms, tmodel.norms):
        assert bn.running_mean == pytest.approx(tbn.running_mean.tolist(), abs=TOL)
        assert bn.running_var == pytest.approx(tbn.running_var.tolist(), abs=TOL)
    # Eval mode: the running statistics replace the batch's; one sample at a time works.
    model.eval()
    tmodel.eval()
    _compare_bn_model(model, tmodel, rows[:3], rng)
    single = model(rows[0])
    expected = tmodel(torch.tensor([rows[0]], dtype=F64))[0].tolist()
    assert [o.data for o in single] == pytest.approx(expected, abs=TOL)


def _compare_bn_model(model, tmodel, rows, rng):
    _backprop_both(model, tmodel, rows, rng)
    for bn, tbn in zip(model.norms, tmodel.norms):
        assert [w.grad for w in bn.weight] == pytest.approx(tbn.weight.grad.tolist(), abs=TOL)
        assert [b.grad for b in bn.bias] == pytest.approx(tbn.bias.grad.tolist(), abs=TOL)
    return tmodel


def test_batchnorm_mlp_names_and_single_sample_rule():
    model = MLP(2, [3, 3, 1], batchnorm=True, seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert "norms.0.weight.2" in names and "norms.1.bias.0" in names and len(model.norms) == 2
    assert "norms.1.running_var.2" in model.state_dict()
    with pytest.raises(ValueError, match="call it on a batch"):
        model([1.0, 2.0])
    assert len(model([[1.0, 2.0], [0.0, 1.0]])) == 2
    model.eval()
    assert all(not bn.training for bn in model.norms)
    assert isinstance(model([1.0, 2.0]), Value)


def test_batchnorm_raises_the_first_layer_gradient_of_a_deep_sigmoid_net():
    rng = random.Random(1)
    X = [[rng.uniform(-1, 1) for _ in range(4)] for _ in range(8)]

    def first_layer_norm(model):
        outs = model(X)
        total = outs[0]
        for o in outs[1:]:
            total = total + o * o
        total.backward()
        return math.sqrt(sum(p.grad**2 for p in model.layers[0].parameters()))

    plain = first_layer_norm(MLP(4, [8] * 9 + [1], activation="sigmoid", seed=0))
    normed = first_layer_norm(MLP(4, [8] * 9 + [1], activation="sigmoid", batchnorm=True, seed=0))
    assert normed > 10 * plain


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [Neuron(2, seed=0), Layer(2, 3, seed=0), MLP(2, [3, 1], seed=0)])
def test_bad_samples_are_rejected_before_any_computation(module):
    with pytest.raises(ValueError, match="expects 2 input features, got 3"):
        module([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="expects 2 input features, got 0"):
        module([])
    # Our message, not the engine's "unsupported operand": the check ran before any node was built.
    with pytest.raises(TypeError, match="input feature 1 must be a number or a Value, got str"):
        module([Value(1.0), "2"])
    with pytest.raises(TypeError, match="got bool"):
        module([True, 1.0])
    with pytest.raises(ValueError, match="features must be finite"):
        module([math.nan, 1.0])
    with pytest.raises(TypeError, match="takes a sample"):
        module(1.0)


def test_layer_and_neuron_say_they_take_one_sample():
    for module in (Neuron(2, seed=0), Layer(2, 2, seed=0)):
        with pytest.raises(TypeError, match="takes one sample"):
            module([[1.0, 2.0], [3.0, 4.0]])


def test_models_pickle_and_deepcopy():
    model = MLP(2, [3, 3, 1], activation="leaky_relu", negative_slope=0.2, residual=True, seed=0)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert clone([1.0, -2.0]).data == model([1.0, -2.0]).data
        assert clone.parameters()[0] is not model.parameters()[0]
        assert [p.label for p in clone.parameters()] == [p.label for p in model.parameters()]


def test_bad_batch_rows_are_rejected():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="expects 2 input features, got 1"):
        model([[1.0, 2.0], [1.0]])
    with pytest.raises(TypeError, match="takes a sample"):
        model([[1.0, 2.0], 3.0])


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: Neuron(0), ValueError, "nin must be >= 1"),
        (lambda: Neuron(2.0), TypeError, "nin must be an int"),
        (lambda: Neuron(2, "softmax"), ValueError, "unknown activation 'softmax'"),
        (lambda: Neuron(2, init="glorot"), ValueError, "unknown init 'glorot'"),
        (lambda: Neuron(2, seed="1"), TypeError, "seed must be an int"),
        (lambda: Neuron(2, seed=1, rng=random.Random(1)), ValueError, "not both"),
        (lambda: Layer(2, 0), ValueError, "nout must be >= 1"),
        (lambda: MLP(2, []), TypeError, "non-empty list"),
        (lambda: MLP(2, 3), TypeError, "non-empty list"),
        (lambda: MLP(2, [3, 0]), ValueError, "nouts\\[1\\] must be >= 1"),
        (lambda: MLP(2, [3, 1], output_activation="softmax"), ValueError, "unknown activation"),
        (lambda: MLP(2, [3, 1], residual=1), TypeError, "residual must be a bool"),
    ],
)
def test_bad_constructor_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()

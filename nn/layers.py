"""Layers: Neuron, Layer, MLP (optionally residual and batch-normalized) and BatchNorm1d, on autograd Values.

Shapes are plain lists. A *sample* is a list of numbers or Values (one per feature); a *batch* is a list
of samples. ``Neuron`` and ``Layer`` take one sample, ``BatchNorm1d`` takes a batch, and ``MLP`` takes
either (see ``MLP.__call__``).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Union

from autograd import Value, linear

from ._checks import as_value, flag, integer, is_batch, is_int, is_real, real, sample_problem
from .module import Module

_mul, _add = Value.__mul__, Value.__add__

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "BatchNorm1d",
    "Layer",
    "MLP",
    "Neuron",
    "default_init",
    "gain",
]

Scalar = Union[Value, float, int]
Sample = Sequence[Scalar]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
INITS = ("xavier", "he", "uniform")


# ------------------------------------------------------------------------------------------------
# Initialization


def default_init(activation: str) -> str:
    """The init scheme used when none is given: "he" for relu and leaky_relu, "xavier" otherwise.

    He keeps the variance of ReLU activations constant from layer to layer (ReLU zeroes half of its
    inputs, hence the factor 2); Xavier does so for activations that are linear near 0 (tanh, sigmoid,
    linear). Both are the uniform variants of ``torch.nn.init``.
    """
    _check_activation(activation)
    return "he" if activation in ("relu", "leaky_relu") else "xavier"


def gain(activation: str, negative_slope: float = 0.01) -> float:
    """``torch.nn.init.calculate_gain``: the factor that keeps an activation's output variance at 1.

    >>> gain("relu") == math.sqrt(2)
    True
    """
    _check_activation(activation)
    if activation == "relu":
        return math.sqrt(2.0)
    if activation == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + negative_slope**2))
    if activation == "tanh":
        return 5.0 / 3.0
    return 1.0  # linear, sigmoid


def _init_bound(init: str, activation: str, fan_in: int, fan_out: int, negative_slope: float) -> float:
    """Weights are drawn from U(-bound, bound)."""
    if init == "he":  # torch.nn.init.kaiming_uniform_(mode="fan_in"): std = gain / sqrt(fan_in)
        return gain(activation, negative_slope) * math.sqrt(3.0 / fan_in)
    if init == "xavier":  # torch.nn.init.xavier_uniform_: std = gain * sqrt(2 / (fan_in + fan_out))
        return gain(activation, negative_slope) * math.sqrt(6.0 / (fan_in + fan_out))
    return 1.0  # "uniform": U(-1, 1), micrograd's init


# ------------------------------------------------------------------------------------------------
# Checks (run before any node is built)


def _check_activation(activation: object) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")


def _check_init(init: object, activation: str) -> str:
    if init is None:
        return default_init(activation)
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)} (or None for the default)")
    return str(init)


def _make_rng(seed: int | None, rng: random.Random | None) -> random.Random:
    if rng is not None:
        if seed is not None:
            raise ValueError("pass seed or rng, not both")
        if not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
        return rng
    if seed is not None:
        seed = integer("seed", seed)
    # NOTE: a local generator: seeding or drawing never touches the global `random` state.
    return random.Random(seed)


def _check_sample(x: object, nin: int, who: str) -> None:
    """A sample must be a list or tuple of ``nin`` finite numbers or Values."""
    problem = sample_problem(x, nin)
    if problem is None:
        return
    kind, i = problem
    if kind == "list":
        raise TypeError(f"{who} takes a sample: a list of {nin} numbers or Values, got {type(x).__name__}")
    if kind == "nested":
        raise TypeError(
            f"{who} takes one sample (a flat list of {nin} numbers or Values), got a list of lists; "
            "for a batch call it per sample: [f(x) for x in batch]"
        )
    if kind == "count":
        raise ValueError(f"{who} expects {nin} input features, got {len(x)}")  # type: ignore[arg-type]
    xi = x[i]  # type: ignore[index]
    if kind == "type":
        raise TypeError(
            f"{who}: input feature {i} must be a number or a Value, got {type(xi).__name__} ({xi!r})"
        )
    raise ValueError(f"{who}: input feature {i} is {xi!r}; features must be finite")


def _values(x: Sample) -> list[Value]:
    """A sample's numbers as Constants, made once: a float read by every neuron of a layer would become a
    Constant in each of them (a digits sample through MLP(64, [32, 10]): 1.03 -> 0.37 ms)."""
    return [v if isinstance(v, Value) else as_value(v, "a feature") for v in x]


def _sizes(config: dict[str, Any], *keys: str) -> list[int] | None:
    """The config's sizes under ``keys`` (ints or lists of ints), flattened; None if any is not an int."""
    out: list[int] = []
    for key in keys:
        value = config.get(key)
        for n in value if isinstance(value, list) else [value]:
            if not is_int(n):
                return None
            out.append(n)
    return out


def _activation_fn(activation: str, negative_slope: float) -> Callable[[Value], Value] | None:
    if activation == "relu":
        return Value.relu
    if activation == "tanh":
        return Value.tanh
    if activation == "sigmoid":
        return Value.sigmoid
    if activation == "leaky_relu":
        # a partial, not a lambda, so models pickle and deepcopy
        return functools.partial(Value.leaky_relu, negative_slope=negative_slope)
    return None  # linear: no node at all


# ------------------------------------------------------------------------------------------------
# Neuron and Layer


class _Neurons(Module):
    """What a Neuron and a Layer share: the options of their neurons, checked once, and those entries of
    their config()."""

    # config() entries that only steer initialization (expand changes how the graph is built, not the
    # weights): a file saved with other values loads into the model all the same
    _init_only: ClassVar[tuple[str, ...]] = ("seed", "init", "expand")

    def _set_options(self, activation: str, init: str | None, seed: int | None, negative_slope: float,
                     expand: bool) -> None:
        _check_activation(activation)
        self.activation = activation
        self.init = _check_init(init, activation)
        self.negative_slope = real("negative_slope", negative_slope)
        self.expand = flag("expand", expand)
        self._seed = seed

    def _options(self) -> dict[str, Any]:
        return {"activation": self.activation, "init": self.init, "seed": self._seed,
                "negative_slope": self.negative_slope, "expand": self.expand}


class Neuron(_Neurons):
    """One neuron: ``activation(w·x + b)``, with weights ``w`` (a list of Values) and bias ``b``.

    The bias is the weight of a constant input 1. It starts at 0; weights are drawn from U(-bound, bound)
    with the ``init`` scheme ("xavier", "he" or "uniform" for micrograd's U(-1, 1); None picks
    ``default_init(activation)``), from ``random.Random(seed)`` or the ``rng`` given.

    The weighted sum ``w·x + b`` is one ``autograd.linear`` node (drawn "Σ w·x + b", its 2·nin + 1 edges
    labelled with their local derivatives). ``expand=True`` builds it as micrograd does instead, one
    ``*`` node per weight and one ``+`` per term, to see every product in a graph: the same numbers,
    bit for bit, in 2·nin nodes instead of one.

    >>> n = Neuron(2, activation="linear", seed=0)
    >>> n.w[0].data, n.w[1].data = 2.0, -1.0
    >>> n([3.0, 4.0]).data   # 2*3 - 1*4 + 0
    2.0
    >>> n.w[1].label
    'w.1'
    """

    _init_only = ("seed", "init", "fan_out", "expand")
    nout = 1  # one output, a Value

    def __init__(
        self,
        nin: int,
        activation: str = "relu",
        *,
        init: str | None = None,
        seed: int | None = None,
        rng: random.Random | None = None,
        fan_out: int = 1,
        negative_slope: float = 0.01,
        expand: bool = False,
    ) -> None:
        self.nin = integer("nin", nin, 1)
        self._set_options(activation, init, seed, negative_slope, expand)
        self.fan_out = integer("fan_out", fan_out, 1)
        self._act = _activation_fn(activation, self.negative_slope)
        r = _make_rng(seed, rng)
        bound = _init_bound(self.init, activation, nin, fan_out, self.negative_slope)
        self.w = [Value(r.uniform(-bound, bound)) for _ in range(nin)]
        self.b = Value(0.0)

    def __call__(self, x: Sample) -> Value:
        """The neuron's output for one sample ``x`` (a list of ``nin`` numbers or Values)."""
        _check_sample(x, self.nin, "Neuron")
        return self._forward(x)

    def _forward(self, x: Sample) -> Value:
        # Nodes: one linear node and one activation. Expanded: nin products and nin adds, micrograd's count
        # (its sum(..., self.b) starts from b); here b is added last, as the linear node adds it, so the
        # two give the same float. A float input becomes the engine's Constant.
        z = self._linear(x)
        f = self._act
        return z if f is None else f(z)

    def _linear(self, x: Sample) -> Value:
        """``w·x + b`` without the activation (a residual MLP applies it where the next layer reads)."""
        if not self.expand:
            return linear(self.w, x, self.b)
        # _mul(w, x) is w * x without the operator's detour through C: the expanded demo forward
        # (MLP(2, [16, 16, 1]) on 100 samples) 23.7 vs 25.4 ms.
        pairs = zip(self.w, x)
        wi, xi = next(pairs)
        z = _mul(wi, xi)
        for wi, xi in pairs:
            z = _add(z, _mul(wi, xi))
        return _add(z, self.b)

    @staticmethod
    def _state_size(config: dict[str, Any]) -> int | None:
        sizes = _sizes(config, "nin")
        return None if sizes is None else sizes[0] + 1

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, **self._options(), "fan_out": self.fan_out}

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, activation={self.activation!r})"


class Layer(_Neurons):
    """``nout`` neurons reading the same ``nin`` inputs; ``layer(x)`` ALWAYS returns a list of nout Values.

    ``expand=True``: each neuron builds its weighted sum from ``*`` and ``+`` nodes (see ``Neuron``).

    >>> Layer(3, 1, seed=0)([1.0, 2.0, 3.0]).__class__.__name__   # a list even for one neuron
    'list'
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        *,
        init: str | None = None,
        seed: int | None = None,
        rng: random.Random | None = None,
        negative_slope: float = 0.01,
        expand: bool = False,
    ) -> None:
        self.nin = integer("nin", nin, 1)
        self.nout = integer("nout", nout, 1)
        self._set_options(activation, init, seed, negative_slope, expand)
        r = _make_rng(seed, rng)
        self.neurons = [
            Neuron(nin, activation, init=self.init, rng=r, fan_out=nout, negative_slope=negative_slope,
                   expand=expand)
            for _ in range(nout)
        ]

    def __call__(self, x: Sample) -> list[Value]:
        """The ``nout`` outputs for one sample ``x``, as a list (also when ``nout`` is 1)."""
        _check_sample(x, self.nin, "Layer")
        return self._forward(_values(x))

    def forward_batch(self, batch: Sequence[Sample]) -> list[Any]:
        """Each sample's outputs as a model's (see ``Module``): its list of ``nout`` Values, or for one
        neuron the Value itself, where ``layer(x)`` returns a list of one."""
        outs = [self(x) for x in batch]
        return [out[0] for out in outs] if self.nout == 1 else outs

    def _forward(self, x: Sample) -> list[Value]:
        return [n._forward(x) for n in self.neurons]

    @staticmethod
    def _state_size(config: dict[str, Any]) -> int | None:
        sizes = _sizes(config, "nin", "nout")
        return None if sizes is None else (sizes[0] + 1) * sizes[1]

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nout": self.nout, **self._options()}

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r})"


# ------------------------------------------------------------------------------------------------
# BatchNorm1d


class BatchNorm1d(Module):
    """Normalize each feature over a mini-batch, as ``torch.nn.BatchNorm1d`` (same eps, momentum, stats).

    Call it on a batch: a list of samples, each a list of ``num_features`` Values or numbers; it returns a
    batch of the same shape. In training mode feature j becomes
    ``(x_j - mean_j) / sqrt(var_j + eps) * weight_j + bias_j`` with the batch mean and the *biased*
    batch variance, and the running statistics move towards the batch's with the *unbiased* variance:
    ``running = (1 - momentum) * running + momentum * batch_stat`` (``momentum=None``: a cumulative
    average). In eval mode the running statistics replace the batch's, so any batch size works.

    >>> bn = BatchNorm1d(1)
    >>> [round(row[0].data, 6) for row in bn([[1.0], [3.0]])]
    [-0.999995, 0.999995]
    >>> bn.running_mean, bn.running_var    # 0.9 * 0 + 0.1 * 2, 0.9 * 1 + 0.1 * 2 (unbiased)
    ([0.2], [1.1])
    """

    _buffers = ("running_mean", "running_var", "num_batches_tracked")
    _nonnegative_buffers = ("running_var",)
    num_features: int
    eps: float
    momentum: float | None
    affine: bool
    weight: list[Value]
    bias: list[Value]
    running_mean: list[float]
    running_var: list[float]
    num_batches_tracked: int

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True
    ) -> None:
        self.num_features = integer("num_features", num_features, 1)
        self.nin = self.nout = self.num_features  # as a model (see Module): a sample in, a sample out
        if not (is_real(eps) and eps > 0):
            raise ValueError(f"eps must be a number > 0, got {eps!r}")
        if momentum is not None and not (is_real(momentum) and 0 <= momentum <= 1):
            raise ValueError(f"momentum must be a number in [0, 1] or None, got {momentum!r}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        if self.affine:
            self.weight = [Value(1.0) for _ in range(num_features)]
            self.bias = [Value(0.0) for _ in range(num_features)]
        self.running_mean = [0.0] * num_features
        self.running_var = [1.0] * num_features
        self.num_batches_tracked = 0

    def __call__(self, batch: Sequence[Sample]) -> list[list[Value]]:
        """Normalize a batch (a list of samples); returns the normalized batch."""
        n = self._check_batch(batch)
        k = self.num_features
        columns: list[list[Value]] = [[] for _ in range(k)]
        if self.training:
            # One pass per feature: mean, centred values (reused for the output), biased variance.
            for j in range(k):
                col = [as_value(row[j], "a feature") for row in batch]
                total = col[0] + col[1]  # n >= 2 in training, checked above
                for v in col[2:]:
                    total = total + v
                mean = total / n
                centred = [v - mean for v in col]
                sq = centred[0] * centred[0]
                for c in centred[1:]:
                    sq = sq + c * c
                var = sq / n  # biased: what normalizes the batch
                inv_std = (var + self.eps) ** -0.5
                columns[j] = self._affine(j, [c * inv_std for c in centred])
                self._update_running(j, mean.data, var.data * n / (n - 1))  # unbiased, as torch
            self.num_batches_tracked += 1
        else:
            for j in range(k):
                scale = 1.0 / math.sqrt(self.running_var[j] + self.eps)
                shift = self.running_mean[j]
                col = [as_value(row[j], "a feature") for row in batch]
                columns[j] = self._affine(j, [(v - shift) * scale for v in col])
        return [[columns[j][i] for j in range(k)] for i in range(n)]

    def forward_batch(self, batch: Sequence[Sample]) -> list[Any]:
        """The normalized batch, as a model's outputs (see ``Module``): for one feature, Values."""
        out = self(batch)
        return [row[0] for row in out] if self.num_features == 1 else out

    def _affine(self, j: int, normalized: list[Value]) -> list[Value]:
        if not self.affine:
            return normalized
        w, b = self.weight[j], self.bias[j]
        return [v * w + b for v in normalized]

    def _update_running(self, j: int, mean: float, unbiased_var: float) -> None:
        m = self.momentum
        if m is None:  # cumulative moving average over all batches seen, as torch with momentum=None
            m = 1.0 / (self.num_batches_tracked + 1)
        self.running_mean[j] = (1.0 - m) * self.running_mean[j] + m * mean
        self.running_var[j] = (1.0 - m) * self.running_var[j] + m * unbiased_var

    def _check_batch(self, batch: object) -> int:
        if not isinstance(batch, (list, tuple)) or (batch and not isinstance(batch[0], (list, tuple))):
            raise TypeError(
                "BatchNorm1d takes a batch: a list of samples, each a list of "
                f"{self.num_features} Values; wrap a single sample as [x]"
            )
        if not batch:
            raise ValueError("BatchNorm1d got an empty batch")
        for row in batch:
            _check_sample(row, self.num_features, "BatchNorm1d")
        if self.training and len(batch) < 2:
            raise ValueError(
                "BatchNorm1d in training mode needs a batch of at least 2 samples (the variance of one "
                "sample is 0); pass a larger batch or call .eval() to use the running statistics"
            )
        return len(batch)

    @staticmethod
    def _state_size(config: dict[str, Any]) -> int | None:
        sizes = _sizes(config, "num_features")
        if sizes is None:
            return None
        k = sizes[0]
        # weight and bias (when affine), running mean and variance, num_batches_tracked
        return (4 * k if config.get("affine", True) else 2 * k) + 1

    def config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine}

    def __repr__(self) -> str:
        return f"BatchNorm1d({self.num_features}, eps={self.eps}, momentum={self.momentum})"


# ------------------------------------------------------------------------------------------------
# MLP


class MLP(Module):
    """A multilayer perceptron: ``Layer(nin, nouts[0])``, then ``Layer(nouts[i-1], nouts[i])`` for each i.

    Hidden layers use ``activation``; the last layer uses ``output_activation`` ("linear" by default, so
    the outputs are scores/logits for a loss). All weights come from one ``random.Random(seed)``.

    Options:
      ``batchnorm=True``: a ``BatchNorm1d`` after every hidden layer's activation, in ``norms[i]``. The
      model then normalizes over a batch, so in training mode it must be called on a batch.
      ``residual=True``: pre-activation residual blocks (He et al. 2016, "Identity mappings in deep
      residual networks"). Each hidden activation moves from the end of its layer to where the next
      layer reads it: ``z = W0 x + b0``, then every later layer reads ``act(z)``, and a hidden layer fed
      by a hidden layer of the same width adds its input, ``z = z + W act(z) + b`` (the input layer and
      the last layer are never residual). Without skips this is the plain MLP's function; with them the
      skip path carries ``z`` unchanged and each block adds a term of mean 0 at init. Why not
      post-activation blocks ``h + act(W h + b)``: each would add sigmoid outputs (mean 0.5) to the skip
      path, so the output layer's inputs and gradients grow with depth and a 10-layer sigmoid MLP's
      first layer gets 3-5% of the output layer's gradient norm (here 0.2 to 1.3, seeds 0..5). With
      ``batchnorm`` too, a block is ResNet-v2's BN -> act -> weight, ``z = z + W act(bn(z)) + b``:
      ``norms[i]`` normalizes layer i's output where layer i+1 reads it; the skip path stays unnormalized.
      ``expand=True``: every neuron builds its weighted sum from ``*`` and ``+`` nodes, micrograd's graph,
      instead of one ``linear`` node (see ``Neuron``): slower, the same numbers, every product visible.

    Calling: ``model(x)`` with one sample ``x`` (a list of ``nin`` numbers or Values) returns a Value when
    the last layer has one output and a list of Values otherwise. ``model(batch)`` with a list of samples
    returns a list with one such output per sample. Parameters are named ``layers.i.neurons.j.w.k``,
    ``layers.i.neurons.j.b`` and, with batchnorm, ``norms.i.weight.j`` / ``norms.i.bias.j``.

    >>> model = MLP(2, [4, 1], seed=0)
    >>> type(model([1.0, -1.0])).__name__, len(model([[1.0, -1.0], [0.5, 0.5]]))
    ('Value', 2)
    >>> model.parameters()[0].label
    'layers.0.neurons.0.w.0'
    """

    _init_only = ("seed", "init", "expand")

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        *,
        output_activation: str = "linear",
        init: str | None = None,
        seed: int | None = None,
        residual: bool = False,
        batchnorm: bool = False,
        negative_slope: float = 0.01,
        expand: bool = False,
    ) -> None:
        self.nin = integer("nin", nin, 1)
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or len(nouts) == 0:
            raise TypeError(
                f"nouts must be a non-empty list of layer widths, e.g. [16, 16, 1]; got {nouts!r}"
            )
        self.nouts = [integer(f"nouts[{i}]", n, 1) for i, n in enumerate(nouts)]
        self.nout = self.nouts[-1]
        _check_activation(activation)
        _check_activation(output_activation)
        if init is not None:
            _check_init(init, activation)
        for name, value in (("residual", residual), ("batchnorm", batchnorm), ("expand", expand)):
            flag(name, value)
        self.activation = activation
        self.output_activation = output_activation
        self.init = init
        self.seed = seed
        self.residual = residual
        self.batchnorm = batchnorm
        self.negative_slope = real("negative_slope", negative_slope)
        self.expand = expand
        sizes = [nin, *self.nouts]
        last = len(self.nouts) - 1
        # _skip[i]: layer i adds its input to its output (a hidden layer fed by an equal-width hidden one).
        self._skip = [residual and 0 < i < last and sizes[i] == sizes[i + 1] for i in range(last + 1)]
        if residual and not any(self._skip):
            raise ValueError(
                "residual=True needs two consecutive hidden layers of the same width, e.g. nouts=[16, 16, 1]"
            )
        r = _make_rng(seed, None)
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation if i < last else output_activation,
                  init=init, rng=r, negative_slope=negative_slope, expand=expand)
            for i in range(last + 1)
        ]
        self.norms = [BatchNorm1d(n) for n in self.nouts[:-1]] if batchnorm else []

    def __call__(self, x: Sample | Sequence[Sample]) -> Any:
        """One sample -> its output (a Value if the last layer has one neuron, else a list of Values);
        a batch (a list of samples) -> a list of those outputs, one per sample."""
        if is_batch(x):
            return self.forward_batch(x)  # type: ignore[arg-type]
        _check_sample(x, self.nin, "MLP")
        if self.norms and self.training:
            raise ValueError(
                "this MLP has batchnorm=True: in training mode call it on a batch, model([x1, x2, ...]),"
                " or call model.eval() first to use the running statistics"
            )
        return self._forward_batch([x])[0]  # type: ignore[list-item]

    def forward_batch(self, batch: Sequence[Sample]) -> list[Any]:
        """The outputs for every sample of ``batch`` (a list of samples), each shaped as ``model(x)``."""
        if not isinstance(batch, (list, tuple)) or not batch:
            raise ValueError("forward_batch needs a non-empty list of samples")
        for row in batch:
            _check_sample(row, self.nin, "MLP")
        return self._forward_batch(batch)

    def _forward_batch(self, batch: Sequence[Sample]) -> list[Any]:
        if self.residual:
            return self._forward_preact(batch)
        hs: list[list[Any]] = [_values(row) for row in batch]
        last = len(self.layers) - 1
        for i, (layer, skip) in enumerate(zip(self.layers, self._skip)):
            outs = [layer._forward(h) for h in hs]
            if self.norms and i < last:
                outs = self.norms[i](outs)  # type: ignore[assignment]
            hs = [[a + b for a, b in zip(h, out)] for h, out in zip(hs, outs)] if skip else outs
        return [h[0] if len(h) == 1 else h for h in hs]

    def _forward_preact(self, batch: Sequence[Sample]) -> list[Any]:
        """The residual forward pass (see the class docstring): ``z`` is each sample's residual stream."""
        act = _activation_fn(self.activation, self.negative_slope)
        zs: list[list[Any]] = [_values(row) for row in batch]
        last = len(self.layers) - 1
        for i, (layer, skip) in enumerate(zip(self.layers, self._skip)):
            reads = zs
            if i > 0:  # the previous hidden layer's norm and activation, applied where this layer reads
                if self.norms:
                    reads = self.norms[i - 1](reads)  # type: ignore[assignment]
                if act is not None:
                    reads = [[act(v) for v in z] for z in reads]
            if i == last:  # the output layer applies its own output_activation
                outs = [layer._forward(z) for z in reads]
            else:  # a hidden layer leaves its activation to the layer that reads it
                outs = [[n._linear(z) for n in layer.neurons] for z in reads]
            zs = [[a + b for a, b in zip(z, out)] for z, out in zip(zs, outs)] if skip else outs
        return [z[0] if len(z) == 1 else z for z in zs]

    @staticmethod
    def _state_size(config: dict[str, Any]) -> int | None:
        sizes = _sizes(config, "nin", "nouts")
        if sizes is None:
            return None
        total = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
        if config.get("batchnorm") is True:
            total += sum(4 * k + 1 for k in sizes[1:-1])
        return total

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nouts": list(self.nouts), "activation": self.activation,
                "output_activation": self.output_activation, "init": self.init, "seed": self.seed,
                "residual": self.residual, "batchnorm": self.batchnorm,
                "negative_slope": self.negative_slope, "expand": self.expand}

    def __repr__(self) -> str:
        extras = "".join(
            f", {name}={value!r}" for name, value in (
                ("output_activation", self.output_activation), ("residual", self.residual),
                ("batchnorm", self.batchnorm), ("expand", self.expand)) if value not in ("linear", False)
        )
        return f"MLP({self.nin}, {self.nouts}, activation={self.activation!r}{extras})"

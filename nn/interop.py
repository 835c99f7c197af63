"""PyTorch interop (optional): an nn.MLP as an equivalent float64 ``torch.nn.Module``, and back.

torch is imported inside the two functions only, so the rest of chainrule never needs it.
"""

from __future__ import annotations

from typing import Any

from .layers import MLP

__all__ = ["from_torch", "to_torch"]

_INSTALL_HINT = (
    "pip install torch (the CPU build: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
)
# BatchNorm1d settings an nn.MLP(batchnorm=True) uses; other values cannot be imported faithfully.
_BN_EPS, _BN_MOMENTUM = 1e-5, 0.1


def _torch(who: str) -> Any:
    try:
        import torch
    except ImportError as err:
        raise ImportError(f"{who} needs PyTorch, which is not installed: {_INSTALL_HINT}") from err
    return torch


def to_torch(model: MLP) -> Any:
    """A ``torch.nn.Module`` (float64) that computes what ``model`` computes, with a copy of its weights.

    The module maps a (batch, nin) tensor to (batch, nouts[-1]); it keeps ``model``'s activations,
    residual connections, BatchNorm1d layers (with their running statistics) and train/eval mode.
    ``from_torch`` turns it back into an ``nn.MLP``.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"to_torch converts an nn.MLP, got {type(model).__name__}")
    torch = _torch("to_torch")
    module = _torch_mlp_class(torch)(model.config())

    def f64(data: Any) -> Any:
        return torch.tensor(data, dtype=torch.float64)

    with torch.no_grad():
        for layer, linear in zip(model.layers, module.linears):
            linear.weight.copy_(f64([[w.data for w in n.w] for n in layer.neurons]))
            linear.bias.copy_(f64([n.b.data for n in layer.neurons]))
        for ours, theirs in zip(model.norms, module.norms):
            if ours.affine:
                theirs.weight.copy_(f64([w.data for w in ours.weight]))
                theirs.bias.copy_(f64([b.data for b in ours.bias]))
            theirs.running_mean.copy_(f64(ours.running_mean))
            theirs.running_var.copy_(f64(ours.running_var))
            theirs.num_batches_tracked.fill_(ours.num_batches_tracked)
    module.train(model.training)
    return module


def from_torch(module: Any) -> MLP:
    """An ``nn.MLP`` with the weights of ``module``: one made by ``to_torch``, or a ``torch.nn.Sequential``.

    A Sequential must alternate ``Linear`` layers and activations (ReLU, Tanh, Sigmoid, LeakyReLU or
    none), optionally with a ``BatchNorm1d`` after every hidden activation; all hidden layers share one
    activation, and the last Linear may be followed by its own.
    """
    torch = _torch("from_torch")
    if getattr(module, "chainrule_config", None) is not None:
        config = dict(module.chainrule_config)
        linears, norms = list(module.linears), list(module.norms)
    elif isinstance(module, torch.nn.Sequential):
        config, linears, norms = _read_sequential(torch, module)
    else:
        raise TypeError(
            f"from_torch reads a module made by to_torch or a torch.nn.Sequential of Linear, activation "
            f"and BatchNorm1d layers, got {type(module).__name__}"
        )
    model = MLP(**config)
    state: dict[str, float] = {}
    for i, linear in enumerate(linears):
        weight = linear.weight.detach().double().tolist()
        bias = linear.bias.detach().double().tolist() if linear.bias is not None else [0.0] * len(weight)
        for j, (row, b) in enumerate(zip(weight, bias)):
            for k, w in enumerate(row):
                state[f"layers.{i}.neurons.{j}.w.{k}"] = w
            state[f"layers.{i}.neurons.{j}.b"] = b
    for i, bn in enumerate(norms):
        if bn.eps != _BN_EPS or bn.momentum != _BN_MOMENTUM or not bn.affine or not bn.track_running_stats:
            raise ValueError(
                f"BatchNorm1d {i} has eps={bn.eps}, momentum={bn.momentum}, affine={bn.affine}, "
                f"track_running_stats={bn.track_running_stats}; nn.MLP uses eps=1e-05, momentum=0.1, "
                "affine=True with running statistics"
            )
        for name in ("weight", "bias", "running_mean", "running_var"):
            for j, v in enumerate(getattr(bn, name).detach().double().tolist()):
                state[f"norms.{i}.{name}.{j}"] = v
        state[f"norms.{i}.num_batches_tracked"] = float(bn.num_batches_tracked.item())
    model.load_state_dict(state)
    model.train(bool(module.training))
    return model


def _read_sequential(torch: Any, seq: Any) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """(MLP config, Linear layers, BatchNorm1d layers) of a Sequential, or a ValueError naming the problem."""
    kinds = {torch.nn.ReLU: "relu", torch.nn.Tanh: "tanh", torch.nn.Sigmoid: "sigmoid",
             torch.nn.LeakyReLU: "leaky_relu", torch.nn.Identity: "linear"}
    # One block per Linear: [Linear, its activation or None, the BatchNorm1d after it or None].
    blocks: list[list[Any]] = []
    slopes: set[float] = set()
    for i, m in enumerate(seq):
        if isinstance(m, torch.nn.Linear):
            blocks.append([m, None, None])
        elif not blocks:
            raise ValueError(f"layer {i} is {type(m).__name__}; the Sequential must start with a Linear")
        elif type(m) in kinds:
            if blocks[-1][1] is not None or blocks[-1][2] is not None:
                raise ValueError(f"layer {i} ({type(m).__name__}): one activation per Linear, before any "
                                 "BatchNorm1d (nn.MLP normalizes after the activation)")
            blocks[-1][1] = kinds[type(m)]
            if isinstance(m, torch.nn.LeakyReLU):
                slopes.add(float(m.negative_slope))
        elif isinstance(m, torch.nn.BatchNorm1d) and blocks[-1][2] is None:
            blocks[-1][2] = m
        else:
            raise ValueError(
                f"layer {i} is {type(m).__name__}; from_torch reads Linear, ReLU, Tanh, Sigmoid, LeakyReLU, "
                "Identity and one BatchNorm1d after a hidden layer's activation"
            )
    if not blocks:
        raise ValueError("the Sequential holds no Linear layer")
    linears = [b[0] for b in blocks]
    acts = [b[1] or "linear" for b in blocks]
    norms = [b[2] for b in blocks[:-1] if b[2] is not None]
    if blocks[-1][2] is not None or len(norms) not in (0, len(blocks) - 1):
        raise ValueError("nn.MLP has a BatchNorm1d after every hidden layer or none, and none after the last")
    if len(set(acts[:-1])) > 1:
        raise ValueError(
            f"the hidden layers use different activations {sorted(set(acts[:-1]))}; nn.MLP uses one"
        )
    if len(slopes) > 1:
        raise ValueError(f"LeakyReLU layers use different slopes {sorted(slopes)}; nn.MLP uses one")
    for a, b in zip(linears, linears[1:]):
        if a.out_features != b.in_features:
            raise ValueError(f"a Linear gives {a.out_features} features but the next takes {b.in_features}")
    config = {"nin": linears[0].in_features, "nouts": [lin.out_features for lin in linears],
              "activation": acts[0] if len(acts) > 1 else "relu", "output_activation": acts[-1],
              "batchnorm": bool(norms), "negative_slope": slopes.pop() if slopes else 0.01}
    return config, linears, norms


def _torch_mlp_class(torch: Any) -> Any:
    """The torch.nn.Module class mirroring nn.MLP (defined here so torch is imported only when needed)."""
    functions = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": None}

    class ChainruleMLP(torch.nn.Module):  # type: ignore[misc, name-defined]
        """nn.MLP in PyTorch: Linear layers, activations, optional BatchNorm1d and pre-activation residual
        blocks."""

        def __init__(self, config: dict[str, Any]) -> None:
            super().__init__()
            self.chainrule_config = dict(config)
            sizes = [config["nin"], *config["nouts"]]
            last = len(sizes) - 2
            # As nn.MLP: a hidden layer fed by a hidden layer of the same width adds its input.
            self.skip = [config["residual"] and 0 < i < last and sizes[i] == sizes[i + 1]
                         for i in range(last + 1)]
            self.linears = torch.nn.ModuleList(
                torch.nn.Linear(a, b, dtype=torch.float64) for a, b in zip(sizes, sizes[1:])
            )
            hidden = config["nouts"][:-1] if config["batchnorm"] else []
            self.norms = torch.nn.ModuleList(
                torch.nn.BatchNorm1d(n, eps=_BN_EPS, momentum=_BN_MOMENTUM, dtype=torch.float64)
                for n in hidden
            )
            slope = config["negative_slope"]
            self.activations = [
                self._activation(config["activation"] if i < last else config["output_activation"], slope)
                for i in range(last + 1)
            ]

        @staticmethod
        def _activation(name: str, slope: float) -> Any:
            if name == "leaky_relu":
                return lambda x: torch.nn.functional.leaky_relu(x, slope)
            return functions[name]

        # the forward passes read only the layers above, so they are plain functions below
        forward = _torch_forward
        _forward_preact = _torch_forward_preact

    return ChainruleMLP


def _torch_forward(self: Any, x: Any) -> Any:
    """ChainruleMLP.forward: as nn.MLP, each layer's activation, then its BatchNorm1d, then the skip."""
    if self.chainrule_config["residual"]:
        return self._forward_preact(x)
    last = len(self.linears) - 1
    for i, (linear, act, skip) in enumerate(zip(self.linears, self.activations, self.skip)):
        out = linear(x)
        if act is not None:
            out = act(out)
        if self.norms and i < last:
            out = self.norms[i](out)
        x = x + out if skip else out
    return x


def _torch_forward_preact(self: Any, z: Any) -> Any:
    """As nn.MLP(residual=True): each hidden activation (after its BatchNorm1d) is applied where the next
    layer reads, z = z + W act(bn(z)) + b, so the skip path carries z unchanged."""
    last = len(self.linears) - 1
    for i, (linear, skip) in enumerate(zip(self.linears, self.skip)):
        reads = z
        if i > 0:
            if self.norms:
                reads = self.norms[i - 1](reads)
            act = self.activations[i - 1]
            if act is not None:
                reads = act(reads)
        out = linear(reads)
        if i == last and self.activations[last] is not None:
            out = self.activations[last](out)
        z = z + out if skip else out
    return z

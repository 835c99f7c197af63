"""Graphs the viz tests draw: the examples of the README and the notebooks, and networks in both of the
forms nn builds (a neuron's weighted sum as * and + nodes, or as one linear node), labelled as nn labels
its parameters (layers.L.neurons.J.w.I and .b)."""

from __future__ import annotations

import random

from autograd import Value, linear


def neuron() -> tuple[Value, list[Value]]:
    """Karpathy's neuron o = tanh(x1*w1 + x2*w2 + b) (README, notebook 01, `chainrule demo`); params."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, [w1, w2, b]


def linear_neuron() -> tuple[Value, list[Value]]:
    """The same neuron with its weighted sum as one linear node (how nn builds neurons by default)."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = linear([w1, w2], [x1, x2], b)
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, [w1, w2, b]


def readme_z() -> Value:
    """The README's quick tour: z = x * y + exp(x)."""
    x, y = Value(2.0, label="x"), Value(-1.0, label="y")
    z = x * y + x.exp()
    z.label = "z"
    return z


def squared_product() -> Value:
    """Notebook 01's (a * c) ** 2."""
    a, c = Value(3.0, label="a"), Value(2.0, label="c")
    return (a * c) ** 2


def mlp_loss(sizes: list[int], batch: int, seed: int = 0, fused: bool = False) -> Value:
    """An MLP's squared-error loss over a batch, built straight from Values: tanh neurons whose parameters
    carry nn's dotted names, each weighted sum as * and + nodes (micrograd's form) or, with ``fused``,
    as one ``linear`` node."""
    rng = random.Random(seed)
    layers = [
        [([Value(rng.uniform(-1, 1), label=f"layers.{l}.neurons.{j}.w.{i}") for i in range(nin)],
          Value(0.0, label=f"layers.{l}.neurons.{j}.b")) for j in range(nout)]
        for l, (nin, nout) in enumerate(zip(sizes, sizes[1:]))
    ]
    terms = []
    for _ in range(batch):
        xs = [Value(rng.uniform(-1, 1)) for _ in range(sizes[0])]
        for layer in layers:
            acts = []
            for ws, b in layer:
                if fused:
                    act = linear(ws, xs, b)
                else:
                    act = b
                    for w, x in zip(ws, xs):
                        act = act + w * x
                acts.append(act.tanh())
            xs = acts
        terms += [(out - rng.uniform(-1, 1)) ** 2 for out in xs]
    loss = terms[0]
    for t in terms[1:]:
        loss = loss + t
    return loss


def parameters(root: Value) -> dict[str, Value]:
    """The labelled leaves under ``root``, by label."""
    from autograd.viz import walk

    return {v.label: v for v in walk(root) if v.label and not v.parents}

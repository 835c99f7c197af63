"""The engines compared, behind one small interface each: scalar leaves and backward for the graph
workloads, and micrograd's demo training step (and a digits epoch) written once per engine.

Engines: ``chainrule`` (this project: autograd + nn), ``micrograd`` (PyPI micrograd 0.1.0), ``torch-0d``
(PyTorch eager on 0-d float64 tensors, micrograd's code with tensors for Values) and ``torch-batched``
(PyTorch on batched float64 tensors, what a user would otherwise pick). Every engine starts from the same
weights (``init_weights``) and computes the same loss, so the losses printed side by side must agree.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

SCALAR_ENGINES = ("chainrule", "micrograd", "torch-0d")
ENGINES = (*SCALAR_ENGINES, "torch-batched")
BASELINE = "micrograd"

Weights = list[list[list[float]]]  # [layer][neuron] -> that neuron's input weights; biases start at 0


def import_all() -> None:
    """Import every engine up front, so each one is measured with the same heap (the collector's full
    passes walk every live object: with torch imported there are about 165,000 of them)."""
    import micrograd.engine  # noqa: F401

    import autograd  # noqa: F401
    import nn  # noqa: F401

    import_torch()


def init_weights(sizes: Sequence[int], seed: int) -> Weights:
    """micrograd's initialisation, U(-1, 1) for weights (biases are 0), from one seeded generator."""
    rng = random.Random(seed)
    return [
        [[rng.uniform(-1.0, 1.0) for _ in range(sizes[i])] for _ in range(sizes[i + 1])]
        for i in range(len(sizes) - 1)
    ]


# --------------------------------------------------------------------------------------------------
# Scalar engines: leaves, backward, node counts (for chain, fanin and memory)


class Scalar:
    """One scalar engine: make leaves, run backward, read a grad, count the nodes of a graph."""

    name: str

    def leaf(self, x: float) -> Any:
        raise NotImplementedError

    def backward(self, root: Any) -> None:
        root.backward()

    def grad(self, leaf: Any) -> float:
        return float(leaf.grad)

    def count_nodes(self, root: Any) -> int:
        """Objects in the graph under root: op nodes, leaves and constants."""
        raise NotImplementedError


class Chainrule(Scalar):
    name = "chainrule"

    def __init__(self) -> None:
        from autograd import Value

        self.Value = Value

    def leaf(self, x: float) -> Any:
        return self.Value(x)

    def count_nodes(self, root: Any) -> int:
        return count_values(root)


class Micrograd(Scalar):
    name = "micrograd"

    def __init__(self) -> None:
        from micrograd.engine import Value

        self.Value = Value

    def leaf(self, x: float) -> Any:
        return self.Value(x)

    def count_nodes(self, root: Any) -> int:
        return count_micrograd(root)


class Torch0d(Scalar):
    name = "torch-0d"

    def __init__(self) -> None:
        self.torch = import_torch()

    def leaf(self, x: float) -> Any:
        return self.torch.tensor(x, dtype=self.torch.float64, requires_grad=True)

    def count_nodes(self, root: Any) -> int:
        return count_torch(root)


def import_torch() -> Any:
    """torch, on one thread: on a small shared machine a second intra-op thread only adds contention
    (measured: the 10^5-element fanin in 60 ms with two threads under load, well under 1 ms with one)."""
    import torch

    torch.set_num_threads(1)
    return torch


def count_values(root: Any) -> int:
    """chainrule: Values under root, constants included."""
    return _count(root, lambda v: v.parents)


def count_micrograd(root: Any) -> int:
    return _count(root, lambda v: v._prev)


def count_torch(root: Any) -> int:
    """PyTorch: autograd Function nodes plus one AccumulateGrad per leaf (constants are no nodes)."""
    return _count(root.grad_fn, lambda f: (g for g, _ in f.next_functions if g is not None))


def _count(root: Any, parents: Callable[[Any], Any]) -> int:
    seen = {id(root)}
    stack = [root]
    while stack:
        for p in parents(stack.pop()):
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


def scalar_engine(name: str) -> Scalar:
    engines: dict[str, Callable[[], Scalar]] = {
        "chainrule": Chainrule, "micrograd": Micrograd, "torch-0d": Torch0d}
    return engines[name]()


def chain(engine: Scalar, n: int) -> tuple[Any, Any]:
    """``x * w * w * ... * w``: n multiplications deep, every one by the same leaf w. Returns (root, w)."""
    w = engine.leaf(1.0)
    y = engine.leaf(0.5)
    for _ in range(n):
        y = y * w
    return y, w


def tree_sum(terms: list[Any]) -> Any:
    """Pairwise sum: a balanced tree of adds, log2(n) deep, so recursive engines can backprop it."""
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            paired.append(terms[-1])
        terms = paired
    return terms[0]


def fanin(xs: list[Any], ws: list[Any]) -> Any:
    """The sum of the products xs[i] * ws[i]: a wide graph, as a pairwise tree of adds."""
    return tree_sum([x * w for x, w in zip(xs, ws)])


# --------------------------------------------------------------------------------------------------
# Training steps: micrograd's demo (an MLP, SVM max-margin loss + L2, SGD) and an epoch on digits


class Trainer:
    """One engine's model: ``loss(X, y)`` builds the loss graph, ``step(X, y, lr)`` trains once on it and
    returns the loss before the update.

    Like the loop of micrograd's demo (``total_loss = loss()`` each iteration), a step's graph stays alive
    until the next step has built its own: ``graph`` holds it, ``release()`` drops it.
    """

    name: str
    graph: Any = None

    def loss(self, X: list[list[float]], y: list[Any]) -> Any:
        raise NotImplementedError

    def step(self, X: list[list[float]], y: list[Any], lr: float) -> float:
        raise NotImplementedError

    def count_nodes(self, root: Any) -> int:
        """Objects in the graph under a loss (0 where the engine has no scalar graph to count)."""
        return 0

    def release(self) -> None:
        self.graph = None


class ChainruleTrainer(Trainer):
    """nn.MLP, nn.losses, Module.zero_grad, Value.backward and nn.optim.SGD: the project as users run it."""

    name = "chainrule"

    def __init__(self, weights: Weights, loss: str, l2: float) -> None:
        import nn
        from autograd import Constant

        self.Constant = Constant
        sizes = [len(weights[0][0])] + [len(layer) for layer in weights]
        self.model = nn.MLP(sizes[0], sizes[1:], seed=0)
        for layer, w_layer in zip(self.model.layers, weights):
            for neuron, w_neuron in zip(layer.neurons, w_layer):
                for p, w in zip(neuron.w, w_neuron):
                    p.data = w
                neuron.b.data = 0.0
        self.params = self.model.parameters()
        self.optimizer = nn.SGD(self.params, lr=1.0)
        self.loss_fn = nn.losses.hinge if loss == "hinge" else nn.losses.mse
        self.l2 = l2

    def count_nodes(self, root: Any) -> int:
        return count_values(root)

    def loss(self, X: list[list[float]], y: list[Any]) -> Any:
        # The inputs become graph nodes once per sample, as micrograd's demo wraps them in Values (a
        # float passed straight to the model would become a Constant at every product instead).
        inputs = [[self.Constant(v) for v in row] for row in X]
        scores = [self.model(x) for x in inputs]
        loss = self.loss_fn(scores, y)
        return loss + self.l2 * sum(p * p for p in self.params) if self.l2 else loss

    def step(self, X: list[list[float]], y: list[Any], lr: float) -> float:
        loss = self.graph = self.loss(X, y)
        self.model.zero_grad()
        loss.backward()
        self.optimizer.lr = lr
        self.optimizer.step()
        return float(loss.data)


class MicrogradTrainer(Trainer):
    """micrograd's demo notebook, line for line (inputs wrapped in Values, sum() of the terms)."""

    name = "micrograd"

    def __init__(self, weights: Weights, loss: str, l2: float) -> None:
        from micrograd.engine import Value
        from micrograd.nn import MLP

        self.Value = Value
        sizes = [len(weights[0][0])] + [len(layer) for layer in weights]
        self.model = MLP(sizes[0], sizes[1:])
        for layer, w_layer in zip(self.model.layers, weights):
            for neuron, w_neuron in zip(layer.neurons, w_layer):
                for p, w in zip(neuron.w, w_neuron):
                    p.data = w
                neuron.b.data = 0.0
        self.kind = loss
        self.l2 = l2

    def count_nodes(self, root: Any) -> int:
        return count_micrograd(root)

    def loss(self, X: list[list[float]], y: list[Any]) -> Any:
        inputs = [list(map(self.Value, row)) for row in X]
        scores = list(map(self.model, inputs))
        if self.kind == "hinge":
            losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        else:  # mse over every output of every sample, targets one-hot rows
            losses = [(sj - tj) ** 2 for s, t in zip(scores, y) for sj, tj in zip(s, t)]
        data_loss = sum(losses) * (1.0 / len(losses))
        if not self.l2:
            return data_loss
        reg_loss = self.l2 * sum(p * p for p in self.model.parameters())
        return data_loss + reg_loss

    def step(self, X: list[list[float]], y: list[Any], lr: float) -> float:
        total = self.graph = self.loss(X, y)
        self.model.zero_grad()
        total.backward()
        for p in self.model.parameters():
            p.data -= lr * p.grad
        return float(total.data)


class Torch0dTrainer(Trainer):
    """micrograd's demo with every Value a 0-d float64 tensor: PyTorch eager as a scalar engine."""

    name = "torch-0d"

    def __init__(self, weights: Weights, loss: str, l2: float) -> None:
        torch = self.torch = import_torch()
        t = lambda x, grad: torch.tensor(x, dtype=torch.float64, requires_grad=grad)  # noqa: E731
        self.layers = [[([t(w, True) for w in w_neuron], t(0.0, True)) for w_neuron in w_layer]
                       for w_layer in weights]
        self.params = [p for layer in self.layers for ws, b in layer for p in (*ws, b)]
        self.kind = loss
        self.l2 = l2

    def model(self, x: list[Any]) -> Any:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            out = []
            for ws, b in layer:
                act = sum((wi * xi for wi, xi in zip(ws, x)), b)
                out.append(act.relu() if i < last else act)
            x = out
        return x[0] if len(x) == 1 else x

    def count_nodes(self, root: Any) -> int:
        return count_torch(root)

    def loss(self, X: list[list[float]], y: list[Any]) -> Any:
        torch = self.torch
        inputs = [[torch.tensor(v, dtype=torch.float64) for v in row] for row in X]
        scores = [self.model(x) for x in inputs]
        if self.kind == "hinge":
            losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        else:
            losses = [(sj - tj) ** 2 for s, t in zip(scores, y) for sj, tj in zip(s, t)]
        data_loss = sum(losses) * (1.0 / len(losses))
        return data_loss + self.l2 * sum(p * p for p in self.params) if self.l2 else data_loss

    def step(self, X: list[list[float]], y: list[Any], lr: float) -> float:
        total = self.graph = self.loss(X, y)
        for p in self.params:
            p.grad = None
        total.backward()
        with self.torch.no_grad():
            for p in self.params:
                assert p.grad is not None  # every parameter is in the loss
                p -= lr * p.grad
        return float(total.item())


class TorchBatchedTrainer(Trainer):
    """The same model as weight matrices: one matmul per layer over the whole batch."""

    name = "torch-batched"

    def __init__(self, weights: Weights, loss: str, l2: float) -> None:
        torch = self.torch = import_torch()
        self.Ws = [torch.tensor(w_layer, dtype=torch.float64, requires_grad=True) for w_layer in weights]
        self.bs = [torch.zeros(len(w_layer), dtype=torch.float64, requires_grad=True)
                   for w_layer in weights]
        self.params = [*self.Ws, *self.bs]
        self.kind = loss
        self.l2 = l2

    def loss(self, X: list[list[float]], y: list[Any]) -> Any:
        torch = self.torch
        h = torch.tensor(X, dtype=torch.float64)
        target = torch.tensor(y, dtype=torch.float64)
        last = len(self.Ws) - 1
        for i, (W, b) in enumerate(zip(self.Ws, self.bs)):
            h = h @ W.T + b
            if i < last:
                h = h.relu()
        if self.kind == "hinge":
            data_loss = (1 - target * h[:, 0]).relu().mean()
        else:
            data_loss = ((h - target) ** 2).mean()
        return data_loss + self.l2 * sum((p * p).sum() for p in self.params) if self.l2 else data_loss

    def step(self, X: list[list[float]], y: list[Any], lr: float) -> float:
        torch = self.torch
        total = self.graph = self.loss(X, y)
        for p in self.params:
            p.grad = None
        total.backward()
        with torch.no_grad():
            for p in self.params:
                assert p.grad is not None  # every parameter is in the loss
                p -= lr * p.grad
        return float(total.item())


def trainer(name: str, weights: Weights, loss: str, l2: float) -> Trainer:
    """Engine ``name``'s MLP with ``weights``, ``loss`` ("hinge" or "mse") plus ``l2`` * sum(p^2)."""
    trainers: dict[str, type[Trainer]] = {
        "chainrule": ChainruleTrainer, "micrograd": MicrogradTrainer,
        "torch-0d": Torch0dTrainer, "torch-batched": TorchBatchedTrainer}
    return trainers[name](weights, loss, l2)  # type: ignore[call-arg]

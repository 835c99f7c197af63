"""autograd.compile measured: mlp_step and digits_epoch, compiled vs eager vs micrograd vs PyTorch batched.

Run: ``.venv/bin/python benchmarks/compile_bench.py [--quick] [--json]``. Every figure is a median over
repeated runs in this one process, so the ratios compare like with like on a busy machine. Targets from
issue 8: mlp_step compiled >= 100x faster than micrograd and within 3x of PyTorch on batched tensors;
one digits_epoch >= 30x faster than eager.

mlp_step is micrograd's demo: MLP(2, [16, 16, 1]) (ReLU) on 100 two-moons points, SVM max-margin loss
+ 1e-4 L2 over the parameters, zero_grad, backward, SGD update; every engine starts from the same
weights (micrograd's U(-1, 1) init, seed 1337; biases 0). digits_epoch is one epoch of SGD (lr 0.1,
batch 32) over scikit-learn's 1,797 8x8 digits with MLP(64, [32, 10]) and cross-entropy.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import autograd
import nn
from nn import losses

Step = Callable[[list[list[float]], list[float], float], float]

SIZES = (2, 16, 16, 1)
WEIGHTS_SEED = 1337
MOONS_SEED = 1
L2 = 1e-4


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median_time(fn: Callable[[], Any], repeats: int, min_seconds: float = 0.0) -> float:
    """The median wall time of fn() over at least ``repeats`` calls (and ``min_seconds`` in total)."""
    fn()  # warm-up (the compiled variants trace here)
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def init_weights(sizes: tuple[int, ...], seed: int) -> list[list[list[float]]]:
    rng = random.Random(seed)
    return [[[rng.uniform(-1.0, 1.0) for _ in range(sizes[i])] for _ in range(sizes[i + 1])]
            for i in range(len(sizes) - 1)]


def load_into(model: nn.MLP, weights: list[list[list[float]]]) -> None:
    for layer, w_layer in zip(model.layers, weights):
        for neuron, w_neuron in zip(layer.neurons, w_layer):
            for p, w in zip(neuron.w, w_neuron):
                p.data = w
            neuron.b.data = 0.0


# -- mlp_step: one training step of micrograd's demo, per engine -------------------------------------------


def chainrule_step(weights: list[list[list[float]]], compiled: bool, one_function: bool = False) -> Step:
    """The project as users run it: nn.MLP, nn.losses.hinge, zero_grad, backward, nn.SGD.

    Compiled: the per-sample hinge loss (the label a static argument: one trace per label, here 2) and
    the L2 term are compiled once each; a step is two batched replays. ``one_function``: the label is a
    traced input and the L2 term sits inside the per-sample loss (mean(loss_i + r) = mean(loss) + r, r
    computed once per batch): one trace, one batched replay per step.
    """
    model = nn.MLP(SIZES[0], list(SIZES[1:]), seed=0)
    load_into(model, weights)
    params = model.parameters()
    optimizer = nn.SGD(params, lr=1.0)
    if not compiled:
        def step(X: list[list[float]], y: list[float], lr: float) -> float:
            loss = losses.hinge([model(x) for x in X], y) + L2 * sum(p * p for p in params)
            optimizer.zero_grad()
            loss.backward()
            optimizer.lr = lr
            optimizer.step()
            return loss.data
        return step

    if one_function:
        sample_loss = autograd.compile(
            lambda x, y: (1 - y * model(x)).relu() + L2 * sum(p * p for p in params))
    else:
        sample_loss = autograd.compile(lambda x, y: losses.hinge([model(x)], [y]), static_argnums=1)
    l2 = autograd.compile(lambda: L2 * sum(p * p for p in params))

    def compiled_step(X: list[list[float]], y: list[float], lr: float) -> float:
        optimizer.zero_grad()  # NOTE: model.zero_grad() walks the module tree: ~1 ms, more than a step
        loss = sample_loss.backward_batch(X, y)
        if not one_function:
            loss += l2.backward_batch()
        optimizer.lr = lr
        optimizer.step()
        return loss
    return compiled_step


def micrograd_step(weights: list[list[list[float]]]) -> Step:
    from micrograd.engine import Value as MValue
    from micrograd.nn import MLP as MMLP

    random.seed(0)
    model = MMLP(SIZES[0], list(SIZES[1:]))
    for layer, w_layer in zip(model.layers, weights):
        for neuron, w_neuron in zip(layer.neurons, w_layer):
            for p, w in zip(neuron.w, w_neuron):
                p.data = w
            neuron.b.data = 0.0

    def step(X: list[list[float]], y: list[float], lr: float) -> float:
        scores = [model([MValue(v) for v in x]) for x in X]
        data_loss = sum((1 + -yi * s).relu() for yi, s in zip(y, scores)) * (1.0 / len(X))
        total = data_loss + L2 * sum(p * p for p in model.parameters())
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        return total.data
    return step


def torch_step(weights: list[list[list[float]]]) -> Step:
    """The same model as weight matrices, one matmul per layer over the batch (float64)."""
    import torch

    Ws = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    bs = [torch.zeros(len(w), dtype=torch.float64, requires_grad=True) for w in weights]
    params = [*Ws, *bs]

    def step(X: list[list[float]], y: list[float], lr: float) -> float:
        h = torch.tensor(X, dtype=torch.float64)
        target = torch.tensor(y, dtype=torch.float64)
        for i, (W, b) in enumerate(zip(Ws, bs)):
            h = h @ W.T + b
            if i < len(Ws) - 1:
                h = h.relu()
        total = (1 - target * h[:, 0]).relu().mean() + L2 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        total.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        return float(total.item())
    return step


def mlp_step(quick: bool) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)  # the other engines use one core too
    X, labels = nn.data.make_moons(100, noise=0.1, seed=MOONS_SEED)
    y = [2.0 * label - 1.0 for label in labels]
    weights = init_weights(SIZES, WEIGHTS_SEED)
    steps = {
        "micrograd": micrograd_step(weights),
        "eager": chainrule_step(weights, compiled=False),
        "compiled": chainrule_step(weights, compiled=True),
        "compiled, one function": chainrule_step(weights, compiled=True, one_function=True),
        "torch batched": torch_step(weights),
    }
    first = {name: step(X, y, 0.0) for name, step in steps.items()}  # lr 0: the weights stay put
    spread = max(abs(v - first["eager"]) for v in first.values())
    if spread > 1e-9:
        raise AssertionError(f"mlp_step: the engines' first losses disagree: {first}")
    slow = {"micrograd": 2 if quick else 5, "eager": 3 if quick else 10}
    ms: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(1 if quick else 3):  # rounds interleave the engines, so load spikes hit all of them
        for name, step in steps.items():
            repeats = slow.get(name, 50)
            ms[name].append(median_time(lambda s=step: s(X, y, 0.0), repeats, 0.0 if name in slow else 0.5)
                            * 1e3)
            log(f"mlp_step {name}: {ms[name][-1]:.3f} ms")
    figures = {name: statistics.median(v) for name, v in ms.items()}
    return {
        "ms_per_step": figures,
        "first_loss": first["eager"],
        "loss_spread": spread,
        "compiled_vs_micrograd": figures["micrograd"] / figures["compiled"],
        "compiled_vs_eager": figures["eager"] / figures["compiled"],
        "compiled_over_torch_batched": figures["compiled"] / figures["torch batched"],
        "one_function_over_torch_batched": figures["compiled, one function"] / figures["torch batched"],
    }


# -- digits_epoch ------------------------------------------------------------------------------------------


def digits_epoch(quick: bool) -> dict[str, Any]:
    X, y = nn.data.load_digits()
    batch = 32
    batches = [(X[i:i + batch], y[i:i + batch]) for i in range(0, len(X), batch)]

    def make(compiled: bool) -> Callable[[int], float]:
        model = nn.MLP(64, [32, 10], seed=0)
        optimizer = nn.SGD(model.parameters(), lr=0.1)
        loss = autograd.compile(lambda x, t: losses.cross_entropy([model(x)], [t]), static_argnums=1)

        def run(n_batches: int) -> float:
            total = 0.0
            for Xb, yb in batches[:n_batches]:
                optimizer.zero_grad()
                if compiled:
                    total += loss.backward_batch(Xb, yb)
                else:
                    out = losses.cross_entropy([model(x) for x in Xb], yb)
                    out.backward()
                    total += out.data
                optimizer.step()
            return total
        return run

    cold = make(True)
    t = time.perf_counter()
    cold(len(batches))  # the first epoch traces one program per label and builds its batched plan
    cold_s = time.perf_counter() - t
    log(f"digits_epoch compiled, first epoch (tracing included): {cold_s:.3f} s")
    eager, compiled = make(False), make(True)
    first_eager, first_compiled = eager(1), compiled(1)
    if abs(first_eager - first_compiled) > 1e-9:
        raise AssertionError(f"digits_epoch: first batch loss {first_eager} (eager) vs {first_compiled}")
    n_eager = 6 if quick else len(batches)
    gc.collect()
    t = time.perf_counter()
    eager(n_eager)
    eager_s = (time.perf_counter() - t) * len(batches) / n_eager
    log(f"digits_epoch eager: {eager_s:.2f} s per epoch"
        + ("" if n_eager == len(batches) else f" (from {n_eager} of {len(batches)} batches)"))
    compiled_s = min(median_time(lambda: compiled(len(batches)), 1) for _ in range(1 if quick else 3))
    log(f"digits_epoch compiled: {compiled_s:.3f} s per epoch")
    return {"s_per_epoch": {"eager": eager_s, "compiled": compiled_s, "compiled, first epoch": cold_s},
            "eager_batches_timed": n_eager, "batches": len(batches),
            "compiled_vs_eager": eager_s / compiled_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; eager digits on 6 batches")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    results = {"mlp_step": mlp_step(args.quick), "digits_epoch": digits_epoch(args.quick)}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    m, d = results["mlp_step"], results["digits_epoch"]
    print("mlp_step, ms per step (median):")
    for name, v in m["ms_per_step"].items():
        print(f"  {name:26s} {v:10.3f}")
    print(f"  compiled is {m['compiled_vs_micrograd']:.0f}x faster than micrograd (target >= 100x), "
          f"{m['compiled_vs_eager']:.0f}x faster than eager,")
    print(f"  {m['compiled_over_torch_batched']:.2f}x PyTorch batched's time (target <= 3x); as one "
          f"function {m['one_function_over_torch_batched']:.2f}x")
    s = d["s_per_epoch"]
    print(f"digits_epoch, s per epoch: eager {s['eager']:.2f}, compiled {s['compiled']:.3f}: "
          f"{d['compiled_vs_eager']:.0f}x (target >= 30x); the first compiled epoch, tracing included, "
          f"{s['compiled, first epoch']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

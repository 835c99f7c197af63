"""The compiled mode's workloads: micrograd's demo step through autograd.compile against PyTorch on batched
tensors (compiled_step), and nn.fit(compile=True) on 512 digits against the same loop in PyTorch
(fit_digits: later epochs, the first epoch with its tracing against an eager epoch, and tracing and
planning the largest model). Ratios are to PyTorch's figure from the same process.

NumPy's BLAS runs one thread here (run.py sets OPENBLAS_NUM_THREADS=1 before NumPy loads), as PyTorch
does: on a shared 2-core machine a second thread only waits for the other core.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import engines
from timing import clock, fresh_heap

Result = dict[str, Any]
BASELINE = "torch-batched"

MLP_SIZES = (2, 16, 16, 1)
WEIGHTS_SEED = 1337
L2 = 1e-4


def log(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


def row(engine: str, case: str, **values: Any) -> dict[str, Any]:
    return {"engine": engine, "case": case, "ref": case, "values": values}


def _loop_seconds(step: Callable[[], Any], steps: int, warmup: int = 3) -> float:
    """Seconds per call over a steady loop of ``steps`` calls (CPU time), after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    start = clock()
    for _ in range(steps):
        step()
    return (clock() - start) / steps


# --------------------------------------------------------------------------------------------------
# compiled_step: micrograd's demo step, compiled


def _demo_model(weights: engines.Weights) -> Any:
    import nn

    model = nn.MLP(MLP_SIZES[0], list(MLP_SIZES[1:]), seed=0)
    for layer, w_layer in zip(model.layers, weights):
        for neuron, w_neuron in zip(layer.neurons, w_layer):
            for p, w in zip(neuron.w, w_neuron):
                p.data = w
            neuron.b.data = 0.0
    return model


def compiled_demo_step(weights: engines.Weights, variant: str) -> Callable[..., float]:
    """micrograd's demo step (hinge loss + L2, zero_grad, backward, SGD) through autograd.compile.

    "label traced": the per-sample loss relu(1 - y score), the label one of its inputs, and the L2 term
    compiled apart; a step is two batched replays, then nn.SGD on the Values. "label static": the label
    a static argument of nn.losses.hinge (one trace per label). "one function": the L2 term inside the
    per-sample loss (the mean of loss_i + r is mean(loss) + r). "parameters in arrays": that one function
    bound to the parameters (CompiledFunction.bind), the SGD update an array operation.
    """
    import autograd
    import nn
    from nn import losses

    model = _demo_model(weights)
    params = model.parameters()
    optimizer = nn.SGD(params, lr=1.0)

    def l2() -> Any:
        return L2 * sum(p * p for p in params)

    if variant == "parameters in arrays":
        bound = autograd.compile(lambda x, y: (1 - y * model(x)).relu() + l2()).bind(params)

        def array_step(X: list[list[float]], y: list[float], lr: float) -> float:
            bound.zero_grad()
            loss = bound.backward_batch(X, y)
            bound.data -= lr * bound.grad
            return float(loss)

        return array_step
    if variant == "one function":
        sample_loss = autograd.compile(lambda x, y: (1 - y * model(x)).relu() + l2())
        reg = None
    elif variant == "label traced":
        sample_loss = autograd.compile(lambda x, y: (1 - y * model(x)).relu())
        reg = autograd.compile(l2)
    else:
        sample_loss = autograd.compile(lambda x, y: losses.hinge([model(x)], [y]), static_argnums=1)
        reg = autograd.compile(l2)

    def step(X: list[list[float]], y: list[float], lr: float) -> float:
        optimizer.zero_grad()  # NOTE: model.zero_grad() walks the module tree: more than a step
        loss = sample_loss.backward_batch(X, y)
        if reg is not None:
            loss += reg.backward_batch()
        optimizer.lr = lr
        optimizer.step()
        return float(loss)

    return step


COMPILED_VARIANTS = ("label traced", "label static", "one function", "parameters in arrays")


def compiled_step(full: bool, quick: bool = False) -> Result:
    from workloads import _moons

    X, y = _moons()
    weights = engines.init_weights(MLP_SIZES, WEIGHTS_SEED)
    steps: dict[str, Callable[..., float]] = {
        f"chainrule, {v}": compiled_demo_step(weights, v) for v in COMPILED_VARIANTS}
    torch_trainer = engines.trainer("torch-batched", weights, "hinge", l2=L2)
    steps[BASELINE] = torch_trainer.step
    first = {name: step(X, y, 0.0) for name, step in steps.items()}  # lr 0: the weights stay put
    spread = max(abs(v - first[BASELINE]) for v in first.values()) / abs(first[BASELINE])
    if spread > 1e-9:
        raise AssertionError(f"compiled_step: the losses disagree: {first}")
    times: dict[str, list[float]] = {name: [] for name in steps}
    n_steps = 30 if quick else 100
    for _ in range(2 if quick else 5):  # rounds interleave the variants, so load spikes hit all of them
        for name, step in steps.items():
            fresh_heap()
            times[name].append(_loop_seconds(lambda s=step: s(X, y, 0.0), n_steps) * 1e3)
    ms = {name: statistics.median(v) for name, v in times.items()}
    for name, v in ms.items():
        log(f"compiled_step {name}: {v:.3f} ms")
    rows = [row(name, "step", ms=v, loss=f"{first[name]:.12f}") for name, v in ms.items()]
    return {"name": "compiled_step", "rows": rows, "baseline": BASELINE,
            "checks": {"compiled_step_over_torch": ms["chainrule, label traced"] / ms[BASELINE],
                       "compiled_step_static_over_torch": ms["chainrule, label static"] / ms[BASELINE]},
            "notes": ["Each figure is the mean per step of a steady loop of "
                      f"{n_steps} steps (CPU time), the median over rounds that interleave the variants. "
                      "Every step: zero the grads, the batched replay forward and backward, an SGD "
                      "update (lr 0, so every round sees the same weights).",
                      f"First losses agree to {spread:.1e} (relative)."],
            "metrics": [("ms", "ms/step"), ("loss", "first loss")],
            "title": "compiled_step: micrograd's demo step (MLP(2, [16, 16, 1]), 100 points, hinge + "
                     "1e-4 L2) through autograd.compile, against PyTorch on batched tensors"}


# --------------------------------------------------------------------------------------------------
# fit_digits: nn.fit(compile=True) against the same loop in PyTorch


FIT_SAMPLES = 512
FIT_BATCH = 32
FIT_LR = 0.05
FIT_MODELS = ((32, 10), (128, 64, 10), (256, 256, 10))
FIT_LOSSES = ("cross_entropy", "mse")


def _digits() -> tuple[list[list[float]], list[int], list[list[float]]]:
    """512 digits, their labels, and 10 continuous targets each (for MSE): the means of the image's 8
    rows and of its left and right halves."""
    from nn.data import load_digits

    X, labels = load_digits()
    X, labels = X[:FIT_SAMPLES], labels[:FIT_SAMPLES]
    targets = []
    for x in X:
        rows = [sum(x[8 * r:8 * r + 8]) / 8 for r in range(8)]
        left = sum(x[8 * r + c] for r in range(8) for c in range(4)) / 32
        right = sum(x[8 * r + c] for r in range(8) for c in range(4, 8)) / 32
        targets.append([*rows, left, right])
    return X, labels, targets


def _ours(sizes: tuple[int, ...], loss: str, X: list[Any], Y: list[Any], epochs: int, compile: bool,
          epoch_times: list[float] | None = None) -> float:
    """CPU seconds of one nn.fit call on a fresh model (seed 0), SGD, batches of 32; with ``epoch_times``,
    the seconds of each of its epochs are appended to it."""
    import nn
    from nn import train

    model = nn.MLP(64, list(sizes), seed=0)
    optimizer = nn.SGD(model.parameters(), lr=FIT_LR)
    # NOTE: fit's epochs are timed where fit runs them, in its (private) epoch loop: the time of fit with
    # k epochs less the time with one was the difference of two ~1 s figures, set-up included, and moved
    # by +-7 ms an epoch from run to run on a busy machine
    loop = train._Run.epoch

    def timed_epoch(run: Any, *args: Any) -> Any:
        start = clock()
        try:
            return loop(run, *args)
        finally:
            if epoch_times is not None:
                epoch_times.append(clock() - start)

    fresh_heap()
    train._Run.epoch = timed_epoch  # type: ignore[method-assign]
    try:
        start = clock()
        nn.fit(model, X, Y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=FIT_BATCH,
               progress=False, compile=compile, seed=0)
        return clock() - start
    finally:
        train._Run.epoch = loop  # type: ignore[method-assign]


def _torch_epochs(sizes: tuple[int, ...], loss: str, X: list[Any], Y: list[Any], epochs: int) -> list[float]:
    """CPU seconds of each epoch of the same training in PyTorch float64 (one thread): the same model and
    initial weights (nn.interop.to_torch), SGD, batches of 32, a shuffled order each epoch."""
    import nn
    from nn.interop import to_torch

    torch = engines.import_torch()
    module = to_torch(nn.MLP(64, list(sizes), seed=0))
    optimizer = torch.optim.SGD(module.parameters(), lr=FIT_LR)
    Xt = torch.tensor(X, dtype=torch.float64)
    Yt = torch.tensor(Y)
    if loss == "mse":
        Yt = Yt.double()
    gen = torch.Generator().manual_seed(0)
    seconds = []
    for _ in range(epochs):
        start = clock()
        order = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), FIT_BATCH):
            idx = order[i:i + FIT_BATCH]
            out = module(Xt[idx])
            if loss == "cross_entropy":
                value = torch.nn.functional.cross_entropy(out, Yt[idx])
            else:
                value = ((out - Yt[idx]) ** 2).mean()
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
        seconds.append(clock() - start)
    return seconds


def _same_loss_as_torch(sizes: tuple[int, ...], loss: str, X: list[Any], Y: list[Any]) -> float:
    """The relative difference between nn.evaluate's loss and PyTorch's on the same weights and data."""
    import nn
    from nn.interop import to_torch

    torch = engines.import_torch()
    model = nn.MLP(64, list(sizes), seed=0)
    ours = nn.evaluate(model, X[:64], Y[:64], loss=loss).loss
    with torch.no_grad():
        out = to_torch(model)(torch.tensor(X[:64], dtype=torch.float64))
    if loss == "cross_entropy":
        theirs = float(torch.nn.functional.cross_entropy(out, torch.tensor(Y[:64])))
    else:
        theirs = float(((out - torch.tensor(Y[:64], dtype=torch.float64)) ** 2).mean())
    return abs(ours - theirs) / abs(theirs)


LATER_EPOCHS = 10  # timed after the first, in one fit call (--quick: 5)


def fit_digits(full: bool, quick: bool = False) -> Result:
    X, labels, continuous = _digits()
    later = 5 if quick else LATER_EPOCHS
    reps = 1 if quick else 3
    rows = []
    checks: dict[str, Any] = {}
    agreement = 0.0
    for sizes in FIT_MODELS:
        for loss in FIT_LOSSES:
            Y = labels if loss == "cross_entropy" else continuous
            agreement = max(agreement, _same_loss_as_torch(sizes, loss, X, Y))
            torch_s = statistics.median(_torch_epochs(sizes, loss, X, Y, 1 + later)[1:])
            epochs: list[float] = []
            _ours(sizes, loss, X, Y, 1 + later, True, epochs)
            ours_s = statistics.median(epochs[1:])
            first_s = statistics.median([_ours(sizes, loss, X, Y, 1, True) for _ in range(reps)])
            case = f"MLP(64, {list(sizes)}), {'cross-entropy' if loss == 'cross_entropy' else 'MSE'}"
            figures: dict[str, Any] = {"epoch_ms": ours_s * 1e3, "first_epoch_ms": first_s * 1e3}
            key = "ce" if loss == "cross_entropy" else "mse"
            checks[f"fit_{key}_{'_'.join(map(str, sizes))}_over_torch"] = ours_s / torch_s
            if sizes == FIT_MODELS[0]:
                eager_s = statistics.median([_ours(sizes, loss, X, Y, 1, False) for _ in range(reps)])
                figures["eager_epoch_ms"] = eager_s * 1e3
                checks[f"fit_first_epoch_{key}_over_eager"] = first_s / eager_s
            eager = f", eager epoch {figures['eager_epoch_ms']:.0f} ms" if "eager_epoch_ms" in figures else ""
            log(f"fit_digits {case}: torch {torch_s * 1e3:.1f} ms, compiled {ours_s * 1e3:.1f} ms "
                f"(first epoch {first_s * 1e3:.0f} ms{eager})")
            rows.append(row("chainrule", case, **figures))
            rows.append(row(BASELINE, case, epoch_ms=torch_s * 1e3))
    seconds = trace_and_plan()
    checks["trace_plan_s"] = seconds
    return {"name": "fit_digits", "rows": rows, "baseline": BASELINE, "checks": checks,
            "notes": [f"{FIT_SAMPLES} digits, batches of {FIT_BATCH}, SGD lr {FIT_LR}, from the same initial "
                      "weights in both (nn.interop.to_torch). MSE is on 10 continuous targets per image "
                      "(the means of its 8 rows and of its two halves).",
                      f"epoch: the median of the {later} epochs after the first of one fit call (timed "
                      "in fit's epoch loop), and of the same loop in PyTorch.",
                      "first epoch: a whole fit(epochs=1, compile=True) call, its checks, tracing and "
                      "planning included; eager epoch: the same call with compile=False (medians of "
                      f"{reps}).",
                      f"Tracing and planning MLP(64, [256, 256, 10]) (trace, the first sample's exact "
                      f"replay, the batched plan, one batch): {seconds:.2f} s.",
                      f"nn.evaluate's loss agrees with PyTorch's on the same weights to {agreement:.1e} "
                      "(relative), every model and loss."],
            "metrics": [("epoch_ms", "epoch ms"), ("first_epoch_ms", "first epoch ms"),
                        ("eager_epoch_ms", "eager epoch ms")],
            "title": "fit_digits: nn.fit(compile=True) on 512 digits against the same loop in PyTorch"}


def trace_and_plan() -> float:
    """CPU seconds from compiling the per-sample cross-entropy of MLP(64, [256, 256, 10]) to its first
    batch done: the trace, the first sample replayed exactly, the batched plan, and the batch."""
    import numpy as np

    import autograd
    import nn
    from nn import compiled

    X, labels, _ = _digits()
    model = nn.MLP(64, [256, 256, 10], seed=0)
    params = model.parameters()
    onehot = np.eye(10)[labels[:FIT_BATCH]]
    fresh_heap()
    start = clock()
    f = autograd.compile(lambda x, t: compiled.cross_entropy(model(x), t))
    f.bind(params).backward_batch(np.asarray(X[:FIT_BATCH]), onehot)
    seconds = clock() - start
    log(f"trace and plan MLP(64, [256, 256, 10]): {seconds:.2f} s")
    return seconds

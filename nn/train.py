"""Training: ``fit`` runs epochs of mini-batch updates and returns a History; ``evaluate`` scores new data.

Everything the user passes is checked before the first update. A loss or gradient that turns nan or inf
(or overflows) stops training with a warning naming the epoch and batch, and the model is put back to the
last weights that gave a finite loss and finite gradients.

``fit`` reads in three parts: ``_plan`` (the checks, and the run they set up), ``_train`` (the epoch loop)
and ``_Stopping`` (the rules that end it early). The arithmetic of a step is ``_EagerSteps`` on Values, or
with ``compile=True`` ``nn.compiled.ArrayTrainer``, one traced program replayed on arrays.
"""

from __future__ import annotations

import math
import random
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import InitVar, dataclass, field
from typing import Any, NamedTuple, NoReturn, Protocol, TextIO, Union

import autograd
from autograd import Constant, Value

from . import losses
from ._checks import integer, is_int, real, sample_problem
from .compiled import ArrayTrainer, NotCompiled
from .data import train_test_split
from .layers import BatchNorm1d, Layer
from .module import Module, argmax, check_model, evaluating, forward_backward, model_outputs
from .optim import Adam, Optimizer, clip_grad_norm

__all__ = ["LOSSES", "Evaluation", "History", "evaluate", "fit", "layer_grad_norms", "predict"]

LossFn = Callable[[list[Any], list[Any]], Value]
LossArg = Union[str, LossFn, None]

# Named losses and the kind of targets each takes: "classes" (int labels 0..C-1, accuracy by argmax),
# "binary" (labels 0/1, accuracy by thresholding the single output) or "regression" (numbers, no accuracy).
LOSSES = ("cross_entropy", "binary_cross_entropy_with_logits", "binary_cross_entropy", "hinge", "mse")
_DEFAULT_LR = 0.01  # the default Adam's lr: 1e-3 (torch's default) is slow for the few epochs used here
_CHUNK = 256  # samples per forward pass when scoring or predicting (no graph is kept between chunks)


# ------------------------------------------------------------------------------------------------
# Results


@dataclass
class History:
    """What ``fit`` saw, one entry per completed epoch (accuracy lists stay empty for regression).

    ``grad_norms`` maps each layer's name (``layers.0``, ..., ``norms.0``) to its gradient's L2 norm per
    epoch (the mean over the epoch's batches, before any clipping), when ``fit(grad_norms=True)``.
    ``stop_reason`` is "epochs", "early_stopping", "target_loss" or "non_finite"; ``message`` says more.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None  # 1-based; set when patience is used (its weights are the model's)
    stop_reason: str = "epochs"
    message: str = ""

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    def plot(self, **kwargs: Any) -> Any:
        """Loss and accuracy per epoch, train and validation, with matplotlib: ``nn.plot.history(self)``."""
        from .plot import history

        return history(self, **kwargs)


class Evaluation(NamedTuple):
    """``evaluate``'s result: the mean loss and the accuracy (None for a regression loss)."""

    loss: float
    accuracy: float | None


# ------------------------------------------------------------------------------------------------
# The task: how outputs, labels, loss and accuracy fit together


@dataclass
class _Task:
    name: str
    kind: str  # "classes", "binary", "regression" or "custom"
    width: int  # outputs per sample
    loss_fn: LossFn
    threshold: float = 0.0  # binary: predicted class 1 when the output exceeds it

    def loss(self, outputs: list[Any], labels: Sequence[Any]) -> Value:
        if self.name == "hinge":
            return self.loss_fn(outputs, [1.0 if t == 1 else -1.0 for t in labels])
        if self.kind == "binary":
            return self.loss_fn(outputs, [float(t) for t in labels])
        return self.loss_fn(outputs, list(labels))

    def correct(self, outputs: list[Any], labels: Sequence[Any]) -> int | None:
        """Number of right predictions, or None when accuracy means nothing for this task."""
        if self.kind == "custom" and not (self.width > 1 and all(is_int(t) for t in labels)):
            return None  # a custom loss: accuracy by argmax only for several outputs and int labels
        if self.kind in ("classes", "custom"):
            return sum(argmax(out) == t for out, t in zip(outputs, labels))
        if self.kind == "binary":
            return sum((float(out) > self.threshold) == (t == 1) for out, t in zip(outputs, labels))
        return None

    def check_labels(self, y: Sequence[Any], name: str) -> None:
        for i, t in enumerate(y):
            if self.kind in ("classes", "binary"):
                if not is_int(t):
                    raise TypeError(f"{name}[{i}] must be an int class label, got {type(t).__name__} ({t!r})")
                if self.kind == "binary":
                    allowed = (-1, 0, 1) if self.name == "hinge" else (0, 1)
                    if t not in allowed:
                        raise ValueError(
                            f"{name}[{i}] is {t}, but the model has one output, so labels must be "
                            f"{' or '.join(map(str, allowed))}; for more classes give the last layer one "
                            "output per class"
                        )
                elif self.kind == "classes" and not 0 <= int(t) < self.width:
                    raise ValueError(
                        f"{name}[{i}] is class {t}, outside the model's {self.width} classes "
                        f"0..{self.width - 1}; give the last layer one output per class"
                    )
            elif self.kind == "regression":
                _check_target(t, self.width, f"{name}[{i}]")


def _check_target(t: object, width: int, where: str) -> None:
    items = t if isinstance(t, (list, tuple)) else [t]
    if width > 1 and len(items) != width:
        raise ValueError(f"{where} must be a list of {width} numbers (one per output), got {t!r}")
    if width == 1 and isinstance(t, (list, tuple)):
        raise ValueError(f"{where} must be a number (the model has one output), got {t!r}")
    for v in items:
        real(where, v)


def _task(model: Module, loss: LossArg) -> _Task:
    width = model.nout
    if loss is None:
        if width > 1:
            loss = "cross_entropy"
        elif getattr(model, "output_activation", "linear") == "sigmoid":  # optional (see Module)
            loss = "binary_cross_entropy"
        else:
            loss = "binary_cross_entropy_with_logits"
    if callable(loss):
        return _Task(getattr(loss, "__name__", "custom"), "custom", width, loss)
    if loss not in LOSSES:
        raise ValueError(
            f"unknown loss {loss!r}; pass one of {', '.join(LOSSES)}, "
            "or a function (outputs, targets) -> Value"
        )
    fn: LossFn = getattr(losses, loss)
    if loss == "cross_entropy":
        if width < 2:
            raise ValueError(
                "cross_entropy needs one output per class (at least 2) but the model has 1; use "
                "binary_cross_entropy_with_logits for two classes with one output"
            )
        return _Task(loss, "classes", width, fn)
    if loss == "mse":
        return _Task(loss, "regression", width, fn)
    if width != 1:
        raise ValueError(f"{loss} needs a model with one output, but this one has {width}; use cross_entropy")
    threshold = 0.5 if loss == "binary_cross_entropy" else 0.0
    return _Task(loss, "binary", width, fn, threshold)


# ------------------------------------------------------------------------------------------------
# Input checks (all before the first update)


def _check_module(model: object) -> Module:
    """A Module with parameters (all that layer_grad_norms needs)."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be an nn.Module (e.g. nn.MLP), got {type(model).__name__}")
    if not model.parameters():
        raise ValueError(f"the {type(model).__name__} has no parameters to train")
    return model


def _check_model(model: object, who: str) -> Module:
    """A model (a Module keeping the contract of nn.Module: nin, nout, forward_batch) with parameters."""
    return _check_module(check_model(model, who))


def _check_data(model: Module, X: object, y: object, name: str, task: _Task) -> tuple[list[Any], list[Any]]:
    xname, yname = ("X", "y") if name == "" else (f"{name} X", f"{name} y")
    if not isinstance(X, (list, tuple)) or not isinstance(y, (list, tuple)):
        raise TypeError(
            f"{xname} and {yname} must be lists (samples and labels), got {type(X).__name__} and "
            f"{type(y).__name__}; convert arrays with .tolist()"
        )
    if len(X) == 0:
        raise ValueError(f"{xname} is an empty dataset; pass at least one sample")
    if len(X) != len(y):
        raise ValueError(f"{xname} has {len(X)} samples but {yname} has {len(y)} labels; pass one label each")
    _check_samples(model, X, xname)
    task.check_labels(y, yname)
    return list(X), list(y)


def _check_samples(model: Module, X: Sequence[Any], xname: str) -> None:
    """Every row of ``X`` a list of ``model.nin`` finite numbers; else the error for the first that is not."""
    for i, row in enumerate(X):
        problem = sample_problem(row, model.nin, values=False)
        if problem is not None:
            _bad_row(f"{xname}[{i}]", row, model.nin, *problem)


def _bad_row(where: str, row: Any, nin: int, kind: str, j: int) -> NoReturn:
    """The error for one sample of a data set, as ``sample_problem`` found it."""
    if kind == "list":
        raise TypeError(f"{where} must be a list of features, got {type(row).__name__} ({row!r})")
    if kind == "count":
        raise ValueError(f"{where} has {len(row)} features but the model takes {nin}")
    v = row[j]
    if kind == "type":
        raise TypeError(f"{where}[{j}] is {type(v).__name__} ({v!r}); features must be numbers, so encode "
                        "categories as numbers first")
    raise ValueError(f"{where}[{j}] is {v!r}; features must be finite")


def _has_batchnorm(model: Module) -> bool:
    return any(isinstance(m, BatchNorm1d) for _, m in model.named_modules())


# ------------------------------------------------------------------------------------------------
# Scoring and predicting: eval mode, no graph


def _as_constants(X: Sequence[Any]) -> list[list[Value]]:
    """Each feature as a Constant, made once."""
    # NOTE: a float feature would be wrapped in a fresh Constant at every forward pass, every epoch;
    # wrapping once up front took an eager epoch of MLP(64, [10]) on 400 digits from 0.148 s to 0.123 s.
    return [[Constant(float(v)) for v in row] for row in X]


def _score(model: Module, task: _Task, X: list[Any], y: list[Any]) -> Evaluation:
    """Mean loss and accuracy in eval mode without building a graph; restores the model's mode."""
    X = _as_constants(X)
    total, hits, counted = 0.0, 0, True
    with evaluating(model):
        for start in range(0, len(X), _CHUNK):
            xb, yb = X[start:start + _CHUNK], y[start:start + _CHUNK]
            outs = model_outputs(model, xb, "evaluate")
            total += task.loss(outs, yb).data * len(xb)
            c = task.correct(outs, yb)
            if c is None:
                counted = False
            else:
                hits += c
    return Evaluation(total / len(X), hits / len(X) if counted else None)


def evaluate(
    model: Module, X: Sequence[Sequence[float]], y: Sequence[Any], loss: LossArg = None
) -> Evaluation:
    """Mean loss and accuracy of ``model`` on ``(X, y)`` in eval mode; the model is left unchanged.

    ``loss`` as in ``fit`` (None picks cross_entropy for several outputs, binary cross-entropy for one).
    """
    model = _check_model(model, "evaluate")
    task = _task(model, loss)
    Xc, yc = _check_data(model, X, y, "", task)
    return _score(model, task, Xc, yc)


def predict(model: Module, X: Sequence[Sequence[float]], loss: LossArg = None) -> list[Any]:
    """The model's prediction for each sample of ``X``, in eval mode without building a graph.

    A class index (the argmax) for several outputs; 0 or 1 for one output read by a binary ``loss``
    (a logit above 0, or a probability above 0.5 for ``binary_cross_entropy``, picked as ``fit`` does);
    the output itself (a float, or a list of floats) for ``loss="mse"``. The model's mode is restored.

    >>> from nn.layers import MLP
    >>> model = MLP(2, [3], seed=0)
    >>> [round(v.data, 2) for v in model([0.0, -1.0])]   # three class scores
    [-0.57, 0.53, 0.21]
    >>> predict(model, [[1.0, 0.0], [0.0, -1.0]])      # the argmax, per sample
    [0, 1]
    """
    model = _check_model(model, "predict")
    task = _task(model, loss)
    if not isinstance(X, (list, tuple)) or not X:
        raise TypeError("X must be a non-empty list of samples (each a list of features)")
    _check_samples(model, X, "X")
    inputs = _as_constants(X)
    with evaluating(model):
        outputs = [out for start in range(0, len(inputs), _CHUNK)
                   for out in model_outputs(model, inputs[start:start + _CHUNK], "predict")]
    if task.kind == "regression":
        return [[v.data for v in o] if model.nout > 1 else o.data for o in outputs]
    if model.nout > 1:
        return [argmax(o) for o in outputs]
    return [int(o.data > task.threshold) for o in outputs]


# ------------------------------------------------------------------------------------------------
# Gradient norms per layer


def _layer_groups(model: Module) -> list[tuple[str, list[Value]]]:
    """(name, parameters) per layer: each outermost Layer or BatchNorm1d, and the rest as "other"."""
    groups: list[tuple[str, list[Value]]] = []
    taken: set[int] = set()
    prefixes: list[str] = []
    for name, module in model.named_modules():
        if not isinstance(module, (Layer, BatchNorm1d)):
            continue
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            continue
        params = module.parameters()
        prefixes.append(name)
        taken.update(id(p) for p in params)
        if params:
            groups.append((name or type(module).__name__.lower(), params))
    rest = [p for p in model.parameters() if id(p) not in taken]
    if rest:
        groups.append(("other" if groups else "model", rest))
    return groups


def _norm(params: list[Value]) -> float:
    return math.hypot(*(p.grad for p in params))


def layer_grad_norms(model: Module) -> dict[str, float]:
    """The L2 norm of each layer's ``.grad`` now (after a backward), named as ``History.grad_norms``:
    ``layers.i`` per Layer, ``norms.i`` per BatchNorm1d, the remaining parameters as "other".

    >>> from nn.layers import MLP
    >>> model = MLP(1, [2, 1], seed=0)
    >>> model.zero_grad(); model([1.0]).backward()
    >>> sorted(layer_grad_norms(model)), layer_grad_norms(model)["layers.1"] > 0
    (['layers.0', 'layers.1'], True)
    """
    return {name: _norm(params) for name, params in _layer_groups(_check_module(model))}


# ------------------------------------------------------------------------------------------------
# The progress bar


class _Progress:
    """fit's progress on stderr. In Jupyter or a terminal, a tqdm bar over all of the run's batches
    (``tqdm.auto``: the widget in Jupyter, a text bar in a terminal) with one summary line per epoch above
    it; when stderr is not a terminal (a log file, a pipe, CI), the summary lines only, as plain text."""

    def __init__(self, enabled: bool, epochs: int, n_batches: int, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.epochs = epochs
        self.stream = stream if stream is not None else sys.stderr
        self.bar: Any = None
        self.lines: TextIO | None = self.stream  # where the per-epoch lines go
        notebook = enabled and _in_notebook()
        if notebook or (enabled and _isatty(self.stream)):
            try:
                from tqdm.auto import tqdm
            except ImportError as err:
                raise ImportError(
                    "fit(progress=True) draws its bar with tqdm, which is not installed: pip install tqdm "
                    "(or pass progress=False)"
                ) from err
            self.bar = tqdm(total=epochs * n_batches, unit="batch", file=self.stream, dynamic_ncols=True,
                            desc=f"epoch 1/{epochs}")
            if notebook:
                self.lines = None  # tqdm.write's default, stdout: Jupyter shows stderr on a red background

    def batch(self, epoch: int, done: int, loss: float) -> None:
        if self.bar is None:
            return
        if done == 1:
            self.bar.set_description(f"epoch {epoch}/{self.epochs}", refresh=False)
        self.bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)
        self.bar.update(1)

    def end(self, epoch: int, summary: str) -> None:
        line = f"epoch {epoch}/{self.epochs} {summary}"
        if self.bar is not None:
            self.bar.set_postfix_str(summary, refresh=False)
            self.bar.write(line, file=self.lines)
        elif self.enabled:
            # NOTE: no carriage returns: a log file or a pipe keeps every byte, so a redrawn bar would
            # leave fragments in it; one finished line per epoch reads cleanly anywhere.
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (stderr is no terminal there, but a widget shows), as tqdm.auto tells."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


# ------------------------------------------------------------------------------------------------
# fit: the plan, the epoch loop, the stopping rules


def fit(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    *,
    loss: LossArg = None,
    optimizer: Optimizer | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    val_split: float | None = None,
    validation_data: tuple[Sequence[Sequence[float]], Sequence[Any]] | None = None,
    patience: int | None = None,
    target_loss: float | None = None,
    max_grad_norm: float | None = None,
    grad_norms: bool = False,
    progress: bool = True,
    seed: int = 0,
    compile: bool = False,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches and return the per-epoch History.

    ``loss``: a name from ``LOSSES`` or a function (outputs, targets) -> Value; None picks cross_entropy
    for a model with several outputs and binary_cross_entropy_with_logits for one (labels 0/1).
    ``optimizer``: built on ``model.parameters()``; None means ``Adam(model.parameters(), lr=0.01)``.
    ``val_split`` holds out that fraction of ``(X, y)`` (seeded); or pass ``validation_data=(X_val,
    y_val)``. ``patience``: stop when the validation loss (the train loss without validation data) has
    not improved for that many epochs, and end with the best epoch's weights. ``target_loss``: stop after
    the first epoch whose mean train loss is at or below it. ``max_grad_norm`` clips the gradient norm
    of each step. ``grad_norms=True`` records each layer's gradient norm per epoch. ``seed`` fixes the
    validation split and the batch order. ``progress=True`` shows a tqdm bar on stderr (the widget in
    Jupyter) and a summary line per epoch; when stderr is not a terminal, only the lines, as plain text.

    ``compile=True`` traces the per-sample loss once with ``autograd.compile``, the target one of its
    inputs (a class label as a one-hot row), and replays that one program over whole batches with NumPy,
    a layer as one matrix product, the parameters and the optimizer's state kept in arrays until fit
    returns: the same numbers as eager mode up to rounding, at about a tensor library's speed (see
    benchmarks/RESULTS.md). A custom ``loss`` is taken as the mean of per-sample losses, as every loss in
    nn.losses is. A model that cannot be replayed per sample (BatchNorm1d normalizes over the batch), or
    a custom loss that takes no traced targets or branches on values, trains eagerly, with a warning.

    >>> from nn.layers import MLP
    >>> model = MLP(1, [4, 1], seed=0)
    >>> X, y = [[-1.5], [-0.5], [0.5], [1.5]], [0, 0, 1, 1]
    >>> history = fit(model, X, y, epochs=50, batch_size=4, progress=False)
    >>> history.epochs, history.train_loss[-1] < history.train_loss[0], evaluate(model, X, y).accuracy
    (50, True, 1.0)
    """
    if not autograd.is_grad_enabled():  # NOTE: in no_grad() every loss is a Constant: no step would update
        raise RuntimeError("fit: called inside no_grad(), where no graph is built and nothing could be "
                           "trained; call fit outside the no_grad() block")
    model = _check_model(model, "fit")
    epochs = integer("epochs", epochs, 1)
    stopping = _Stopping(patience, target_loss)
    run, val = _plan(model, X, y, loss=loss, optimizer=optimizer, batch_size=batch_size, val_split=val_split,
                     validation_data=validation_data, max_grad_norm=max_grad_norm, grad_norms=grad_norms,
                     seed=seed, compile=compile)
    return _train(run, epochs, val, stopping, _Progress(progress, epochs, run.n_batches))


def _plan(model: Module, X: object, y: object, *, loss: LossArg, optimizer: object, batch_size: object,
          val_split: object, validation_data: object, max_grad_norm: object, grad_norms: bool, seed: object,
          compile: object) -> tuple[_Run, tuple[list[Any], list[Any]] | None]:
    """fit's checks of the rest of its arguments, and the run they set up: (run, validation data or None).

    Nothing here changes the model; with ``compile=True`` the loss is traced here, once.
    """
    batch_size = integer("batch_size", batch_size, 1)
    max_norm = None if max_grad_norm is None else real("max_grad_norm", max_grad_norm, finite=False)
    if max_norm is not None and not max_norm > 0:
        raise ValueError(f"max_grad_norm must be > 0, got {max_grad_norm!r}")
    seed = integer("seed", seed)
    task = _task(model, loss)
    X_train, y_train = _check_data(model, X, y, "", task)
    X_train, y_train, val = _validation(model, task, X_train, y_train, val_split, validation_data, seed)
    optimizer = _check_optimizer(model, optimizer)
    batchnorm = _has_batchnorm(model)
    if batchnorm and len(X_train) < 2:
        raise ValueError("a model with BatchNorm1d needs at least 2 training samples (a batch's variance)")
    if not isinstance(compile, bool):  # fit's own wording, which tests pin, for _checks.flag's check
        raise TypeError(f"compile must be True or False, got {compile!r}")
    groups = _layer_groups(model) if grad_norms else []
    trainer = _trainer(model, task, optimizer, X_train, y_train, groups, batchnorm) if compile else None
    run = _Run(model=model, task=task, optimizer=optimizer, X=X_train, y=y_train, batch_size=batch_size,
               batchnorm=batchnorm, max_grad_norm=max_norm, groups=groups, rng=random.Random(seed),
               trainer=trainer)
    return run, val


def _validation(
    model: Module,
    task: _Task,
    X: list[Any],
    y: list[Any],
    val_split: object,
    validation_data: object,
    seed: int,
) -> tuple[list[Any], list[Any], tuple[list[Any], list[Any]] | None]:
    """(X_train, y_train, (X_val, y_val) or None) from ``val_split`` or ``validation_data``."""
    if val_split is not None and validation_data is not None:
        raise ValueError("pass val_split or validation_data, not both")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        return X, y, _check_data(model, validation_data[0], validation_data[1], "validation", task)
    if val_split is None:
        return X, y, None
    fraction = real("val_split", val_split, finite=False)
    if not 0 < fraction < 1:
        raise ValueError(f"val_split is the fraction held out for validation, in (0, 1); got {val_split!r}")
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=fraction, seed=seed)
    return X_train, y_train, (X_val, y_val)


def _check_optimizer(model: Module, optimizer: object) -> Optimizer:
    if optimizer is None:
        return Adam(model.parameters(), lr=_DEFAULT_LR)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be an nn.optim optimizer (SGD, Adam, AdamW), got {type(optimizer).__name__}"
        )
    own = {id(p) for p in model.parameters()}
    if not any(id(p) in own for p in optimizer.params):
        raise ValueError(
            "the optimizer holds none of this model's parameters; build it on model.parameters()"
        )
    return optimizer


def _trainer(model: Module, task: _Task, optimizer: Optimizer, X: list[Any], y: list[Any],
             groups: list[tuple[str, list[Value]]], batchnorm: bool) -> ArrayTrainer | None:
    """fit(compile=True)'s ArrayTrainer, or None (with a warning saying why) where it cannot replay."""
    if batchnorm:
        reason = "BatchNorm1d normalizes over the whole batch, which a per-sample replay cannot"
    else:
        try:
            return ArrayTrainer(model, task, optimizer, X, y, groups)
        except NotCompiled as err:
            reason = err.reason
    warnings.warn(f"fit(compile=True): {reason}; training eagerly (compile=False)", RuntimeWarning,
                  stacklevel=4)  # the caller of fit (<- fit <- _plan <- here)
    return None


def _train(run: _Run, epochs: int, val: tuple[list[Any], list[Any]] | None, stopping: _Stopping,
           bar: _Progress) -> History:
    """fit's epoch loop: an epoch, its record, the stopping rules; returns the History."""
    history = History(grad_norms={name: [] for name, _ in run.groups})
    run.model.train()
    try:
        for epoch in range(1, epochs + 1):
            if not run.epoch(epoch, bar):
                history.stop_reason = "non_finite"
                history.message = (f"training stopped: {run.failure}; the model keeps its last good weights. "
                                   "Lower the learning rate, standardize the inputs or set max_grad_norm.")
                bar.close()
                warnings.warn(history.message, RuntimeWarning, stacklevel=3)  # fit's caller
                break
            summary = run.record(history)
            if val is not None:
                summary += _record_validation(run, val, history)
            bar.end(epoch, summary)
            if stopping.stop(epoch, history, run):
                break
    finally:  # also when interrupted (Ctrl-C): the weights trained so far stay in the model
        bar.close()
        run.finish()
    stopping.keep_best(run.model, history)
    return history


def _record_validation(run: _Run, val: tuple[list[Any], list[Any]], history: History) -> str:
    result = Evaluation(*run.steps.score(*val))
    history.val_loss.append(result.loss)
    if result.accuracy is None:
        return f" val_loss {result.loss:.4f}"
    history.val_accuracy.append(result.accuracy)
    return f" val_loss {result.loss:.4f} val_acc {result.accuracy:.3f}"


@dataclass
class _Stopping:
    """fit's rules for ending early: ``patience`` epochs without a lower loss (the validation loss, or the
    train loss without validation data), then the best epoch's weights; or a train loss at or below
    ``target_loss``."""

    patience: int | None
    target_loss: float | None
    best: float = math.inf
    best_state: dict[str, float] | None = None
    since_best: int = 0

    def __post_init__(self) -> None:
        if self.patience is not None:
            self.patience = integer("patience", self.patience, 1)
        if self.target_loss is not None:
            real("target_loss", self.target_loss, finite=False)

    def stop(self, epoch: int, history: History, run: _Run) -> bool:
        """After an epoch: True, with ``history``'s stop_reason and message set, when a rule ends training."""
        if self.patience is not None:
            current = history.val_loss[-1] if history.val_loss else history.train_loss[-1]
            if current < self.best:
                self.best, self.best_state, self.since_best = current, run.state_dict(), 0
                history.best_epoch = epoch
            else:
                self.since_best += 1
                if self.since_best >= self.patience:
                    history.stop_reason = "early_stopping"
                    history.message = (f"no improvement for {self.patience} epochs; best epoch "
                                       f"{history.best_epoch} (loss {self.best:.6g})")
                    return True
        if self.target_loss is not None and history.train_loss[-1] <= self.target_loss:
            history.stop_reason = "target_loss"
            history.message = (f"train loss {history.train_loss[-1]:.6g} <= {self.target_loss} at epoch "
                               f"{epoch}")
            return True
        return False

    def keep_best(self, model: Module, history: History) -> None:
        """Put the best epoch's weights in the model (patience), unless training failed on a nan or inf."""
        if self.best_state is not None and history.stop_reason != "non_finite":
            model.load_state_dict(self.best_state)


# ------------------------------------------------------------------------------------------------
# The run: an epoch's batches and its running sums; the steps, eager or compiled


class _Steps(Protocol):
    """How a training step is computed: ``_EagerSteps`` on Values, ``nn.compiled.ArrayTrainer`` on arrays.

    Both keep the last good weights (before the last update), which ``restore_good`` puts in the model.
    """

    def forward_backward(self, idx: list[int]) -> tuple[float, Any]: ...  # zeroed grads, then (loss, outputs)
    def grads_finite(self) -> bool: ...
    def group_norm(self, k: int) -> float: ...  # the grad norm of the k-th layer group
    def clip(self, max_norm: float) -> None: ...  # as nn.optim.clip_grad_norm
    def optimizer_step(self) -> None: ...
    def batch_labels(self, idx: list[int]) -> Any: ...
    def correct(self, outputs: Any, labels: Any) -> int | None: ...
    def restore_good(self) -> None: ...
    def state_dict(self) -> dict[str, float]: ...  # the model's weights now
    def score(self, X: list[Any], y: list[Any]) -> tuple[float, float | None]: ...  # (loss, accuracy)
    def finish(self) -> None: ...  # leave the model and the optimizer as eager training would


@dataclass(eq=False, kw_only=True)
class _Run:
    """The state of one ``fit`` call: its data and batches, its steps, and the running sums of an epoch.

    ``trainer`` is fit(compile=True)'s ArrayTrainer, or None to step eagerly; if the replay gives up
    mid-run (the loss branches on values), the run goes on with eager steps.
    """

    model: Module
    task: _Task
    optimizer: Optimizer
    X: list[Any]
    y: list[Any]
    batch_size: int
    batchnorm: bool
    max_grad_norm: float | None
    groups: list[tuple[str, list[Value]]]
    rng: random.Random
    trainer: InitVar[ArrayTrainer | None] = None
    steps: _Steps = field(init=False)
    n_batches: int = field(init=False)
    failure: str = ""  # why the last epoch stopped early
    total: float = 0.0  # the epoch's summed loss, its right predictions, whether they count
    hits: int = 0
    counted: bool = True
    norm_sums: list[float] = field(default_factory=list)

    def __post_init__(self, trainer: ArrayTrainer | None) -> None:
        self.steps = trainer if trainer is not None else self._eager_steps()
        self.n_batches = _n_batches(len(self.X), self.batch_size, self.batchnorm)

    def _eager_steps(self) -> _EagerSteps:
        return _EagerSteps(self.model, self.task, self.optimizer, self.X, self.y, self.groups)

    def epoch(self, epoch: int, bar: _Progress) -> bool:
        """One pass over the shuffled data; False (with ``failure`` set, weights restored) on nan/inf."""
        order = list(range(len(self.X)))
        self.rng.shuffle(order)
        self.total, self.hits, self.counted = 0.0, 0, True
        self.norm_sums = [0.0] * len(self.groups)
        for b, idx in enumerate(_chunks(order, self.batch_size, self.batchnorm), start=1):
            loss = self.step(idx, f"epoch {epoch}, batch {b} of {self.n_batches}")
            if loss is None:
                return False
            bar.batch(epoch, b, loss)
        return True

    def step(self, idx: list[int], where: str) -> float | None:
        """Forward, backward and one optimizer step on the samples ``idx``; None (``failure`` set, the last
        good weights back in the model) when the loss or a grad is not finite."""
        try:
            loss, outs = self._forward_backward(idx)
        except (OverflowError, ZeroDivisionError, FloatingPointError) as err:
            return self._fail(f"the computation overflowed at {where} ({err})")
        if not math.isfinite(loss):
            return self._fail(f"the loss became {loss!r} at {where}")
        steps = self.steps
        if not steps.grads_finite():
            return self._fail(f"a gradient became nan or inf at {where} (the loss was {loss!r})")
        for k in range(len(self.groups)):
            self.norm_sums[k] += steps.group_norm(k)
        if self.max_grad_norm is not None:
            steps.clip(self.max_grad_norm)
        steps.optimizer_step()
        self.total += loss * len(idx)
        correct = steps.correct(outs, steps.batch_labels(idx))
        if correct is None:
            self.counted = False
        else:
            self.hits += correct
        return loss

    def _forward_backward(self, idx: list[int]) -> tuple[float, Any]:
        try:
            return self.steps.forward_backward(idx)
        except NotCompiled as err:  # the replay gives up: the arrays back in the Values, on eagerly
            self.steps.finish()
            self.steps = self._eager_steps()
            warnings.warn(f"fit(compile=True): {err.reason}; training eagerly from here on", RuntimeWarning,
                          stacklevel=6)  # the caller of fit (<- fit <- _train <- epoch <- step <- here)
            return self.steps.forward_backward(idx)

    def _fail(self, failure: str) -> float | None:
        """None, the step's result when it failed: ``failure`` says why, the last good weights are back."""
        self.failure = failure
        self.steps.restore_good()
        return None

    def record(self, history: History) -> str:
        """Append the finished epoch's train metrics to ``history``; returns them as text for the bar."""
        n = len(self.X)
        history.train_loss.append(self.total / n)
        summary = f"loss {self.total / n:.4f}"
        if self.counted:
            history.train_accuracy.append(self.hits / n)
            summary += f" acc {self.hits / n:.3f}"
        for k, (name, _) in enumerate(self.groups):
            history.grad_norms[name].append(self.norm_sums[k] / self.n_batches)
        return summary

    def state_dict(self) -> dict[str, float]:
        """The model's weights now (for early stopping's best epoch)."""
        return self.steps.state_dict()

    def finish(self) -> None:
        """Leave the model and the optimizer as eager training would."""
        self.steps.finish()


class _EagerSteps:
    """A training step on Values: forward, the loss, backward and the optimizer's step (see ``_Steps``)."""

    def __init__(self, model: Module, task: _Task, optimizer: Optimizer, X: list[Any], y: list[Any],
                 groups: list[tuple[str, list[Value]]]) -> None:
        self.model, self.task, self.optimizer, self.y = model, task, optimizer, y
        self.inputs = _as_constants(X)
        self.params = model.parameters()
        self.groups = [params for _, params in groups]
        self.last_good = model.state_dict()  # the weights before the first step, restored if it fails

    def forward_backward(self, idx: list[int]) -> tuple[float, Any]:
        batch = [self.inputs[i] for i in idx]
        return forward_backward(self.model, self.params, batch, self.batch_labels(idx), self.task.loss)

    def grads_finite(self) -> bool:
        return all(math.isfinite(p.grad) for p in self.params)

    def group_norm(self, k: int) -> float:
        return _norm(self.groups[k])

    def clip(self, max_norm: float) -> None:
        clip_grad_norm(self.optimizer.params, max_norm)

    def optimizer_step(self) -> None:
        # NOTE: the weights that just gave a finite loss and finite grads, restored if this step sends a
        # later loss to nan or inf. A copy per batch costs O(parameters), far less than the forward pass.
        self.last_good = self.model.state_dict()
        self.optimizer.step()

    def batch_labels(self, idx: list[int]) -> list[Any]:
        return [self.y[i] for i in idx]

    def correct(self, outputs: Any, labels: Any) -> int | None:
        return self.task.correct(outputs, labels)

    def restore_good(self) -> None:
        self.model.load_state_dict(self.last_good)

    def state_dict(self) -> dict[str, float]:
        return self.model.state_dict()

    def score(self, X: list[Any], y: list[Any]) -> tuple[float, float | None]:
        return _score(self.model, self.task, X, y)

    def finish(self) -> None:
        """Nothing to hand back: the Values are the weights."""


def _n_batches(n: int, batch_size: int, merge_single: bool) -> int:
    count = math.ceil(n / batch_size)
    if merge_single and count > 1 and n % batch_size == 1:
        count -= 1
    return count


def _chunks(order: list[int], batch_size: int, merge_single: bool) -> list[list[int]]:
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    # NOTE: BatchNorm1d cannot normalize a batch of one sample in training mode; fold it into the
    # previous batch instead of dropping a sample.
    if merge_single and len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2].extend(chunks.pop())
    return chunks

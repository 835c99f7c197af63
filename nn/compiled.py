"""fit's compiled path: the per-sample loss traced once, with the target as one of its inputs, and replayed
over whole batches, with the parameters, their grads and the optimizer's state held in NumPy arrays.

The traced losses below are the named losses of nn.losses rewritten so that one program serves every
target: a class label enters as a one-hot row, a 0/1 or ±1 label or a regression target as numbers. They
agree with nn.losses to rounding (tests/nn/test_compiled.py). NumPy is imported here, on first use (by
ArrayTrainer, ArrayOptimizer or target_rows), so ``import nn`` does without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import autograd
from autograd import Constant, Value, linear

from ._checks import is_int
from .losses import _LOG_CLAMP, _sum
from .module import Module, forward_backward, model_outputs
from .optim import SGD, Adam, AdamW, Optimizer

np: Any = None  # NumPy, once _load_numpy() has imported it


def _load_numpy() -> Any:
    """NumPy, imported on first use and kept in ``np``, or an ImportError that says how to install it."""
    global np
    if np is None:
        try:
            import numpy
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("fit(compile=True) replays batches with NumPy: pip install numpy "
                              "(or pip install 'chainrule[fast]')") from err
        np = numpy
    return np


# ------------------------------------------------------------------------------------------------
# Per-sample losses with the target as a traced input


def cross_entropy(z: list[Value], onehot: list[Value]) -> Value:
    """-log softmax(z)[target] as log Σⱼ exp(zⱼ - z_target), the target's score picked by a dot product with
    its one-hot row: exact (0 · zⱼ adds nothing), and one program for every class.

    NOTE: no shift by the largest score, read from .data as nn.losses does: a trace would bake the traced
    sample's number into the program. The target's own score is the shift instead; exp overflows only
    where the loss itself is above ~709, and such a batch is trained eagerly (see ArrayTrainer.step).
    """
    zt = linear(onehot, z)
    return _sum([(zj - zt).exp() for zj in z]).log()


def mse(outputs: list[Value], targets: list[Value]) -> Value:
    """The mean of (p - t)² over the sample's outputs."""
    terms = []
    for p, t in zip(outputs, targets):
        d = p - t
        terms.append(d * d)
    total = _sum(terms)
    return total / len(terms) if len(terms) > 1 else total


def binary_cross_entropy_with_logits(z: Value, t: Value) -> Value:
    """softplus(-z) for t = 1 and softplus(z) for t = 0, the terms nn.losses picks, as t·softplus(-z) +
    (1 - t)·softplus(z): exactly the same number for a 0/1 label."""
    return t * (-z).softplus() + (1 - t) * z.softplus()


def hinge(s: Value, y: Value) -> Value:
    """relu(1 - y·s) for a label y of -1 or +1."""
    return (1 - s * y).relu()


def _clamped_log(v: Value) -> Value:
    # nn.losses' clamp at -100, its branches recorded as guards (a sample on the other side re-traces)
    if v <= 0:
        return Constant(_LOG_CLAMP)
    log = v.log()
    return Constant(_LOG_CLAMP) if log < _LOG_CLAMP else log


def binary_cross_entropy(p: Value, t: Value) -> Value:
    """-(t log p + (1 - t) log(1 - p)) with each log clamped at -100, as nn.losses (for a 0/1 label)."""
    if not 0 <= p <= 1:  # guards, so a replayed sample outside [0, 1] re-traces and raises here
        raise ValueError(f"binary_cross_entropy: probability 0 is {p.data!r}, outside [0, 1]; pass "
                         "sigmoid outputs, or raw scores to binary_cross_entropy_with_logits")
    return -(_clamped_log(p) * t + _clamped_log(1 - p) * (1 - t))


TRACED: dict[str, Callable[..., Value]] = {
    "cross_entropy": cross_entropy,
    "mse": mse,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "hinge": hinge,
    "binary_cross_entropy": binary_cross_entropy,
}


def target_rows(task: Any, y: Sequence[Any]) -> Any:
    """The traced targets of ``y`` for ``task``, one row per sample (an (n, k) float64 array)."""
    _load_numpy()
    if task.name == "cross_entropy":
        rows = np.zeros((len(y), task.width))
        rows[np.arange(len(y)), np.asarray(y, dtype=np.intp)] = 1.0
        return rows
    if task.name == "hinge":
        return np.array([[1.0 if t == 1 else -1.0] for t in y])
    return np.asarray([t if isinstance(t, (list, tuple)) else [t] for t in y], dtype=np.float64)


# ------------------------------------------------------------------------------------------------
# Optimizers on arrays


class ArrayOptimizer:
    """``optimizer``'s update rule on arrays, for SGD, Adam and AdamW (not for subclasses, whose step may
    differ): the same float operations in the same order as their step(), so the same numbers.

    ``positions`` are the entries of the optimizer's parameters in the arrays it updates. The state
    (momentum buffers, Adam's averages and step count) is read from ``optimizer.state`` at the start and
    written back by ``write_state``, so training can go on eagerly, or in another fit, where it left off.
    """

    def __init__(self, optimizer: Optimizer, positions: Any) -> None:
        _load_numpy()
        self.optimizer = optimizer
        self._t1: Any = None
        self._t2: Any = None
        n = len(optimizer.params)
        self.positions = None if np.array_equal(positions, np.arange(n)) else positions
        state = optimizer.state
        self.kind = type(optimizer)
        if self.kind is SGD:
            self.buf = None
            if state:
                self.buf = np.array([state[i]["momentum_buffer"] for i in range(n)])
        else:
            steps = {state[i]["step"] for i in range(n)} if state else {0.0}
            (self.t,) = steps  # one count for all: checked by supports()
            self.m = np.array([state[i]["exp_avg"] for i in range(n)]) if state else np.zeros(n)
            self.v = np.array([state[i]["exp_avg_sq"] for i in range(n)]) if state else np.zeros(n)

    @staticmethod
    def supports(optimizer: Optimizer) -> bool:
        """Whether this class runs ``optimizer``'s rule (else fit steps it on the Values)."""
        if type(optimizer) not in (SGD, Adam, AdamW):
            return False
        state = optimizer.state
        if not state:
            return True
        if len(state) != len(optimizer.params):
            return False
        if type(optimizer) is SGD:
            return all("momentum_buffer" in s for s in state.values())
        return len({s["step"] for s in state.values()}) == 1

    def step(self, data: Any, grad: Any, out: Any = None) -> None:
        """One update from ``grad`` of the parameters in ``data`` (whole arrays, the optimizer's entries
        used), written to ``out`` (default: ``data`` itself; else ``data`` is left as it was)."""
        pos = self.positions
        if out is None:
            out = data
        if pos is None:
            p, g, dest = data, grad, out
        else:
            if out is not data:
                out[:] = data
            p, g = data[pos], grad[pos]
            dest = p  # a gathered copy: updated in place, then put back
        if self._t1 is None:
            # scratch arrays kept between steps, every operation in place: an update through new arrays
            # of 85,000 floats took 415 us against 47 us (their pages are touched afresh each time)
            self._t1, self._t2 = np.empty_like(p), np.empty_like(p)
        if self.kind is SGD:
            self._sgd(p, g, dest)
        else:
            self._adam(p, g, dest)
        if pos is not None:
            out[pos] = dest

    def _sgd(self, p: Any, g: Any, out: Any) -> None:
        # p - lr * g with g += wd * p and the momentum buffer first, as SGD.step (in place, the same
        # operations in the same order: x * c and c * x, x + y and y + x are the same float)
        opt: Any = self.optimizer
        lr, momentum, wd = opt.lr, opt.momentum, opt.weight_decay
        t1, t2 = self._t1, self._t2
        if wd != 0:
            g = np.add(g, np.multiply(p, wd, out=t1), out=t1)
        if momentum != 0:
            if self.buf is None:
                self.buf = g.copy()  # torch starts the buffer at the first grad, not at momentum * 0 + g
            else:
                self.buf *= momentum
                self.buf += g
            g = np.add(g, np.multiply(self.buf, momentum, out=t2), out=t2) if opt.nesterov else self.buf
        np.subtract(p, np.multiply(g, lr, out=t2), out=out)

    def _adam(self, p: Any, g: Any, out: Any) -> None:
        # Adam.step's rule in place (see _sgd)
        opt: Any = self.optimizer
        lr, eps, wd = opt.lr, opt.eps, opt.weight_decay
        beta1, beta2 = opt.betas
        t1, t2 = self._t1, self._t2
        self.t += 1.0
        t = self.t
        if wd != 0:
            if self.kind is AdamW:
                p = np.multiply(p, 1 - lr * wd, out=out)
            else:
                g = np.add(g, np.multiply(p, wd, out=t1), out=t1)
        m, v = self.m, self.v
        w = 1 - beta1  # torch's lerp, as Adam.step: its two branches differ in the last bits
        d = np.subtract(g, m, out=t2)
        if w < 0.5:
            d *= w
            m += d  # m + w (g - m)
        else:
            d *= 1 - w
            np.subtract(g, d, out=m)  # g - (g - m)(1 - w)
        v *= beta2
        gg = np.multiply(g, g, out=t2)
        gg *= 1 - beta2
        v += gg  # v beta2 + g g (1 - beta2)
        step_size = lr / (1 - beta1**t)
        denom = np.sqrt(v, out=t2)
        denom /= (1 - beta2**t) ** 0.5
        denom += eps
        q = np.divide(m, denom, out=t2)
        q *= step_size
        np.subtract(p, q, out=out)  # p - step_size (m / denom)

    def write_state(self) -> None:
        """The array state into ``optimizer.state``, as its own step() would have left it."""
        state = self.optimizer.state
        if self.kind is SGD:
            if self.buf is not None:
                for i, b in enumerate(self.buf.tolist()):
                    state[i] = {"momentum_buffer": b}
            return
        if self.t:
            for i, (m, v) in enumerate(zip(self.m.tolist(), self.v.tolist())):
                state[i] = {"step": self.t, "exp_avg": m, "exp_avg_sq": v}


def norm(g: Any) -> float:
    """The 2-norm of a finite array, as math.hypot gives it (to its last bit or two), without overflow."""
    s = float(g.dot(g))  # the array's own methods: no NumPy module needed here
    if 1e-290 < s < math.inf:
        return math.sqrt(s)
    big = float(abs(g).max()) if len(g) else 0.0
    if big == 0.0:
        return 0.0
    scaled = g / big  # the squares would overflow (or underflow): scale by the largest first
    return big * math.sqrt(float(scaled.dot(scaled)))


# ------------------------------------------------------------------------------------------------
# One fit's compiled training


class NotCompiled(Exception):
    """Internal: this model and loss cannot be trained through the replay; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ArrayTrainer:
    """The compiled per-sample loss of ``model`` and ``task``, bound to the model's parameters, and the
    arrays a training step works on: the data, the traced targets, the labels, the optimizer's state.

    A step replays the loss over a batch of sample indices; fit's loop (train._CompiledRun) reads the
    results through the methods below and never touches a Value until ``finish``.
    """

    # past this many traces the loss branches on values (a guard per sample): training goes on eagerly
    MAX_TRACES = 8

    def __init__(self, model: Module, task: Any, optimizer: Optimizer, X: list[Any], y: list[Any],
                 groups: list[tuple[str, list[Value]]]) -> None:
        _load_numpy()
        self.model, self.task, self.optimizer = model, task, optimizer
        self.params: list[Value] = model.parameters()
        self.y = y
        self.X = np.asarray(X, dtype=np.float64)
        self.int_labels = task.kind == "custom" and all(is_int(t) for t in y)  # a custom loss's labels
        self.compiled = self._compile(model, task, y)
        self.targets = self._targets_of(y)
        self.bound = self.compiled.bind(self.params)
        position = {id(p): i for i, p in enumerate(self.params)}
        # the optimizer's parameters' entries in the arrays; -1 for one outside the model (its own Value)
        self.positions = np.array([position.get(id(p), -1) for p in optimizer.params], dtype=np.intp)
        self.foreign = bool((self.positions < 0).any())
        if not self.foreign and ArrayOptimizer.supports(optimizer):
            self.array_optimizer: ArrayOptimizer | None = ArrayOptimizer(optimizer, self.positions)
        else:
            self.array_optimizer = None  # stepped on the Values (a custom optimizer, foreign parameters)
        self.groups = [np.array([position[id(p)] for p in params], dtype=np.intp) for _, params in groups]
        self.last_good = self.bound.data.copy()
        # for accuracy: class labels (a custom loss's too, when they are ints)
        counted = task.kind in ("classes", "binary") or self.int_labels
        self.labels = np.asarray(y) if counted else None

    # -- what to trace ----------------------------------------------------------------------------------
    def _targets_of(self, y: list[Any]) -> Any:
        """The compiled loss's targets for labels ``y``: traced rows, or the labels themselves (static)."""
        if self.task.kind != "custom":
            return target_rows(self.task, y)
        if self.static:
            return list(y)
        return np.asarray([t if isinstance(t, (list, tuple)) else float(t) for t in y], dtype=np.float64)

    def _compile(self, model: Module, task: Any, y: list[Any]) -> autograd.CompiledFunction:
        """The compiled loss: traced for a named loss; for a custom one, traced if it takes Values as
        targets, else one trace per distinct label (ints, ``static`` set), else NotCompiled."""
        self.static = False
        if task.kind != "custom":
            rule = TRACED[task.name]
            scalar = task.kind == "binary"  # a score and a label; else lists of outputs and targets

            def named_loss(x: list[Value], target: list[Value]) -> tuple[Value, Any]:
                (out,) = model_outputs(model, [x], "fit")
                if scalar:
                    return rule(out, target[0]), out
                return rule([out] if model.nout == 1 else list(out), target), out

            return autograd.compile(named_loss, has_aux=True)
        loss_fn = task.loss_fn

        def custom_loss(x: list[Value], target: Any) -> tuple[Value, Any]:
            (out,) = model_outputs(model, [x], "fit")
            return loss_fn([out], [target]), out

        first = self.X[:1]
        try:  # targets as traced inputs: numbers or lists of numbers
            rows = self._targets_of(y)
            traced = autograd.compile(custom_loss, has_aux=True)
            traced.batch(first, rows[:1])
            return traced
        except (TypeError, ValueError):  # the loss takes numbers only (an int label, say)
            pass
        if self.int_labels and len(set(y)) <= self.MAX_TRACES:
            self.static = True
            static = autograd.compile(custom_loss, static_argnums=1, has_aux=True)
            try:
                static.batch(first, y[:1])
            except (TypeError, ValueError) as err:
                raise NotCompiled(f"the loss {task.name} could not be traced ({err})") from None
            return static
        raise NotCompiled(f"the loss {task.name} takes its targets as numbers only, not as traced inputs, "
                          "and they are not a few class labels")

    # -- a step -----------------------------------------------------------------------------------------
    def forward_backward(self, idx: list[int]) -> tuple[float, Any]:
        """Zero the grads, then the mean loss over the samples ``idx`` and their grads (in ``bound.grad``);
        returns (loss, outputs), the outputs one row per sample. A batch the replay cannot compute (an op
        overflowed where eager's loss may not) runs eagerly."""
        bound = self.bound
        bound.zero_grad()
        rows = np.asarray(idx, dtype=np.intp)
        targets = self.targets[rows] if isinstance(self.targets, np.ndarray) else \
            [self.targets[i] for i in idx]
        try:
            loss, outputs = bound.backward_batch(self.X[rows], targets)
        except (OverflowError, ZeroDivisionError, FloatingPointError):
            return self._eager(idx)
        if self.compiled.n_traces > self.MAX_TRACES:
            raise NotCompiled(f"the loss (or the model) branches on values: it was traced "
                              f"{self.compiled.n_traces} times")
        return loss, outputs

    def _eager(self, idx: list[int]) -> tuple[float, Any]:
        """The batch through Values and nn.losses, as fit(compile=False) runs it; grads into the array."""
        self.bound.write()
        xb = [[Constant(v) for v in self.X[i].tolist()] for i in idx]
        loss, outs = forward_backward(self.model, self.params, xb, [self.y[i] for i in idx], self.task.loss)
        self.bound.grad[:] = [p.grad for p in self.params]
        rows = [[float(v) for v in (o if isinstance(o, list) else [o])] for o in outs]
        return loss, np.asarray(rows, dtype=np.float64)

    def grads_finite(self) -> bool:
        g = self.bound.grad
        # one sum: finite when every grad is (or it overflowed, which the element-wise check clears)
        return math.isfinite(float(g.sum())) or bool(np.isfinite(g).all())

    def group_norm(self, k: int) -> float:
        return norm(self.bound.grad[self.groups[k]])

    def clip(self, max_norm: float) -> None:
        """nn.optim.clip_grad_norm on the optimizer's parameters, in the array."""
        grad = self.bound.grad
        if self.foreign:  # parameters outside the model: the optimizer's own Values
            self._sync_grads()
            from .optim import clip_grad_norm

            clip_grad_norm(self.optimizer.params, max_norm)
            self._read_grads()
            return
        pos = self.positions
        # math.hypot, as clip_grad_norm: the same number to the last bit
        total = math.hypot(*grad[pos].tolist())
        if not math.isfinite(total):
            return
        coef = max_norm / (total + 1e-6)
        if coef < 1.0:
            grad[pos] = grad[pos] * coef

    def state_dict(self) -> dict[str, float]:
        """The model's weights now: the arrays written into the Values first."""
        self.bound.write()
        return self.model.state_dict()

    def restore_good(self) -> None:
        """Back to the weights before the last update (a later step gave a nan or inf)."""
        self.bound.data[:] = self.last_good
        self.bound.write()

    def optimizer_step(self) -> None:
        """The optimizer's update, keeping the weights before it (they gave a finite loss and finite
        grads) as the last good ones."""
        bound = self.bound
        if self.array_optimizer is not None:
            # the update goes to the other array and the two swap: no copy of the weights per step
            # (85,000 floats: 49 us a batch)
            self.array_optimizer.step(bound.data, bound.grad, out=self.last_good)
            bound.data, self.last_good = self.last_good, bound.data
            return
        self.last_good[:] = bound.data
        self._sync_grads()
        bound.write()
        self.optimizer.step()
        bound.read()

    def _sync_grads(self) -> None:
        for p, g in zip(self.params, self.bound.grad.tolist()):
            p.grad = g

    def _read_grads(self) -> None:
        self.bound.grad[:] = [p.grad for p in self.params]

    def correct(self, outputs: Any, labels: Any) -> int | None:
        """How many samples the outputs (one row each) predict right, given their labels (an array, or
        None); None where accuracy means nothing for the task (the same rule as fit's eager path)."""
        task = self.task
        if labels is None or outputs.shape[1] != task.width:
            return None
        if task.kind == "binary":
            return int(np.count_nonzero((outputs[:, 0] > task.threshold) == (labels == 1)))
        if task.kind == "custom" and task.width < 2:
            return None
        return int(np.count_nonzero(np.argmax(outputs, axis=1) == labels))

    def batch_labels(self, idx: list[int]) -> Any:
        return None if self.labels is None else self.labels[idx]

    def score(self, X: list[Any], y: list[Any]) -> tuple[float, float | None]:
        """Mean loss and accuracy on (X, y) from one batched replay (no gradients)."""
        rows = self.bound.batch(np.asarray(X, dtype=np.float64), self._targets_of(y))
        hits = self.correct(rows[:, 1:], np.asarray(y) if self.labels is not None else None)
        return sum(rows[:, 0].tolist()) / len(y), None if hits is None else hits / len(y)

    def finish(self) -> None:
        """The arrays back into the Values: the weights into the model, the state into the optimizer."""
        self.bound.write()
        if self.array_optimizer is not None:
            self.array_optimizer.write_state()

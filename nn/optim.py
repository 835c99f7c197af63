"""Optimizers: SGD (with momentum and Nesterov), Adam and AdamW, with torch.optim's update rules.

An optimizer holds a fixed list of parameters (leaf Values) and its own state, keyed by each parameter's
position in that list; nothing is stored on the Values. ``clip_grad_norm`` rescales gradients in place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from autograd import Constant, Value

from ._checks import flag, real

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "clip_grad_norm"]


def _check_params(params: Iterable[Value], who: str) -> list[Value]:
    if isinstance(params, Value):
        raise TypeError(f"{who}: params must be a list of Values, got a single Value; wrap it: [p]")
    try:
        out = list(params)
    except TypeError:
        raise TypeError(
            f"{who}: params must be an iterable of Values, got {type(params).__name__}; "
            "pass model.parameters()"
        ) from None
    if not out:
        raise ValueError(f"{who}: got an empty parameter list; pass model.parameters()")
    seen: set[int] = set()
    for i, p in enumerate(out):
        if not isinstance(p, Value):
            raise TypeError(
                f"{who}: params[{i}] must be a Value, got {type(p).__name__} ({p!r}); "
                "pass model.parameters()"
            )
        if isinstance(p, Constant):
            raise TypeError(f"{who}: params[{i}] is a Constant, which never gets a grad; pass a Value")
        if id(p) in seen:
            # NOTE: a duplicate would be stepped twice per step() with two separate states.
            raise ValueError(f"{who}: params[{i}] appears twice in the parameter list; pass it once")
        seen.add(id(p))
    return out


def _check_lr(lr: object, who: str) -> float:
    value = real(f"{who}: lr", lr)
    if value <= 0:
        raise ValueError(f"{who}: lr must be > 0, got {value!r}; try 0.01 for SGD or 1e-3 for Adam")
    return value


def _check_non_negative(name: str, x: object, who: str) -> float:
    value = real(f"{who}: {name}", x)
    if value < 0:
        raise ValueError(f"{who}: {name} must be >= 0, got {value!r}")
    return value


class Optimizer:
    """The shared part: the parameter list, the learning rate, ``zero_grad`` and per-position state."""

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        who = type(self).__name__
        self.params: list[Value] = _check_params(params, who)
        self.lr: float = _check_lr(lr, who)
        # state[i] belongs to params[i]; created on the first step(), as in torch.optim.
        self.state: dict[int, dict[str, float]] = {}

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 (``backward()`` adds to grads, so call this before it)."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter once from its current grad (each optimizer defines its rule)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} params, lr={self.lr!r})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum and L2 weight decay.

    Per parameter p with grad g, as torch.optim.SGD (dampening 0):
    ``g += weight_decay * p; buf = g (first step) or momentum * buf + g;
    g = g + momentum * buf (nesterov) or buf; p -= lr * g``.

    >>> p = Value(1.0); p.grad = 2.0
    >>> SGD([p], lr=0.1).step()
    >>> p.data
    0.8
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _check_non_negative("momentum", momentum, "SGD")
        self.weight_decay = _check_non_negative("weight_decay", weight_decay, "SGD")
        flag("SGD: nesterov", nesterov)
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0, e.g. momentum=0.9")
        self.nesterov = nesterov

    def step(self) -> None:
        """Update every parameter once from its current grad."""
        lr, momentum, wd = self.lr, self.momentum, self.weight_decay
        for i, p in enumerate(self.params):
            g = p.grad
            if wd != 0:
                g = g + wd * p.data
            if momentum != 0:
                state = self.state.get(i)
                if state is None:
                    buf = g  # torch starts the buffer at the first grad, not at momentum * 0 + g
                    self.state[i] = {"momentum_buffer": buf}
                else:
                    buf = momentum * state["momentum_buffer"] + g
                    state["momentum_buffer"] = buf
                g = g + momentum * buf if self.nesterov else buf
            p.data = p.data - lr * g


class Adam(Optimizer):
    """Adam: per-parameter steps from bias-corrected running means of the grad and its square.

    As torch.optim.Adam (no amsgrad), with t the step count:
    ``g += weight_decay * p; m = lerp(m, g, 1 - beta1); v = beta2 * v + (1 - beta2) g^2;
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``.
    ``weight_decay=None`` is torch's default: 0 for Adam, 1e-2 for AdamW.
    """

    _decoupled = False  # AdamW decays the weights directly instead of adding to the grad
    _default_weight_decay = 0.0

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float | None = None,
    ) -> None:
        super().__init__(params, lr)
        who = type(self).__name__
        if weight_decay is None:
            weight_decay = self._default_weight_decay
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
        beta1, beta2 = (real(f"{who}: betas[{k}]", b) for k, b in enumerate(betas))
        for k, b in enumerate((beta1, beta2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{who}: betas[{k}] must be in [0, 1), got {b!r}; the default is "
                                 "(0.9, 0.999)")
        self.betas = (beta1, beta2)
        self.eps = _check_non_negative("eps", eps, who)
        self.weight_decay = _check_non_negative("weight_decay", weight_decay, who)

    def step(self) -> None:
        """Update every parameter once from its current grad."""
        lr, eps, wd = self.lr, self.eps, self.weight_decay
        beta1, beta2 = self.betas
        for i, p in enumerate(self.params):
            state = self.state.get(i)
            if state is None:
                state = self.state[i] = {"step": 0.0, "exp_avg": 0.0, "exp_avg_sq": 0.0}
            state["step"] += 1.0
            t = state["step"]
            g = p.grad
            if wd != 0:
                if self._decoupled:
                    p.data = p.data * (1 - lr * wd)
                else:
                    g = g + wd * p.data
            m = state["exp_avg"]
            # NOTE: torch's lerp(m, g, w) is m + w (g - m) for w < 0.5 and g - (g - m)(1 - w) otherwise;
            # the two differ in the last bits, which a trajectory compared over many steps would show.
            w = 1 - beta1
            m = m + w * (g - m) if w < 0.5 else g - (g - m) * (1 - w)
            v = state["exp_avg_sq"] * beta2 + g * g * (1 - beta2)
            state["exp_avg"], state["exp_avg_sq"] = m, v
            step_size = lr / (1 - beta1**t)
            denom = math.sqrt(v) / (1 - beta2**t) ** 0.5 + eps
            p.data = p.data - step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the Adam step.

    As torch.optim.AdamW, whose default weight_decay is 1e-2.
    """

    _decoupled = True
    _default_weight_decay = 1e-2


def clip_grad_norm(params: Iterable[Value], max_norm: float) -> float:
    """Scale all grads by one factor so their joint 2-norm is at most ``max_norm``; return the norm before.

    As torch.nn.utils.clip_grad_norm_: the factor is ``min(1, max_norm / (norm + 1e-6))``. A nan or inf
    norm is returned as is and the grads are left alone, so the caller can see it and stop.

    >>> a, b = Value(0.0), Value(0.0)
    >>> a.grad, b.grad = 3.0, 4.0
    >>> clip_grad_norm([a, b], max_norm=1.0)
    5.0
    >>> round(a.grad, 6), round(b.grad, 6)
    (0.6, 0.8)
    """
    ps = _check_params(params, "clip_grad_norm")
    limit = real("clip_grad_norm: max_norm", max_norm)
    if limit <= 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {limit!r}")
    # hypot, not sqrt(sum g^2): the squares of grads near 1e200 would overflow to inf.
    total = math.hypot(*(p.grad for p in ps))
    if not math.isfinite(total):
        return total
    coef = limit / (total + 1e-6)
    if coef < 1.0:
        for p in ps:
            p.grad = p.grad * coef
    return total

"""Losses over a batch, each returning the mean as a Value (PyTorch's reduction="mean"), plus softmax.

Predictions are Values (or numbers, which get no grad); a batch of scalar predictions is a list of
Values, a batch of vectors a list of lists. Every loss checks shapes and targets before building a node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Union

from autograd import Constant, Value

from ._checks import as_value, is_batch, is_int, real

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge",
    "log_softmax",
    "mse",
    "softmax",
]

Scalar = Union[Value, float, int]
_LOG_CLAMP = -100.0  # torch.nn.functional.binary_cross_entropy clamps log(p) and log(1 - p) at -100


# ------------------------------------------------------------------------------------------------
# Helpers


def _number(x: object, where: str) -> float:
    """A target: a finite number (a Value is refused: targets get no gradient)."""
    if isinstance(x, Value):
        raise TypeError(f"{where} must be a plain number, not a Value; targets get no gradient")
    return real(where, x)


def _pairs(predictions: object, targets: object, who: str) -> list[tuple[Value, float]]:
    """Flatten a batch of scalar or vector predictions and matching targets into (Value, float) pairs."""
    if not isinstance(predictions, (list, tuple)) or not isinstance(targets, (list, tuple)):
        raise TypeError(
            f"{who} takes a batch: a list of predictions and a list of targets, got "
            f"{type(predictions).__name__} and {type(targets).__name__}"
        )
    if not predictions:
        raise ValueError(f"{who}: got an empty batch")
    if len(predictions) != len(targets):
        raise ValueError(f"{who}: {len(predictions)} predictions but {len(targets)} targets")
    out: list[tuple[Value, float]] = []
    for i, (p, t) in enumerate(zip(predictions, targets)):
        if isinstance(p, (list, tuple)):
            if not isinstance(t, (list, tuple)) or len(t) != len(p):
                raise ValueError(f"{who}: prediction {i} has {len(p)} outputs; its target must be a list "
                                 f"of {len(p)} numbers, got {t!r}")
            for j, (pj, tj) in enumerate(zip(p, t)):
                out.append((as_value(pj, f"{who}: prediction [{i}][{j}]"),
                            _number(tj, f"{who}: target [{i}][{j}]")))
        else:
            out.append((as_value(p, f"{who}: prediction {i}"), _number(t, f"{who}: target {i}")))
    if not out:
        raise ValueError(f"{who}: got an empty batch")
    return out


def _sum(terms: list[Value]) -> Value:
    # NOTE: no sum(): it starts from the int 0, which adds a node for nothing.
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _mean(terms: list[Value]) -> Value:
    return _sum(terms) / len(terms)


def _rows(logits: object, who: str) -> list[list[Value]]:
    if not isinstance(logits, (list, tuple)) or not logits:
        raise ValueError(f"{who} takes a non-empty batch: a list of samples, each a list of class scores")
    rows = []
    width = None
    for i, row in enumerate(logits):
        if not isinstance(row, (list, tuple)) or not row:
            raise TypeError(f"{who}: sample {i} must be a non-empty list of class scores, got {row!r}")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ValueError(f"{who}: sample {i} has {len(row)} scores, sample 0 has {width}")
        rows.append([as_value(z, f"{who}: score [{i}][{j}]") for j, z in enumerate(row)])
    return rows


# e^d is exactly 0.0 in float64 for d below about -745; below this, it and all its derivatives are 0.
_NEGLIGIBLE = -1e4


def _shifted(row: list[Value]) -> tuple[float, list[Value | None], Value]:
    """m = max z, each z - m (None where e^(z - m) and its gradient are exactly 0), and log Σ e^(z - m).

    Working with z - m rather than z keeps every exp at or below e^0 = 1 and keeps the loss exact:
    logsumexp(z) - z[t] computed as m + log Σ - z[t] loses everything below m's last digit (at m = 1e16
    it gave 0.0 for log 2). m is a number, not a node: the result does not depend on it.
    """
    m = max(z.data for z in row)
    diffs: list[Value | None] = []
    for z in row:
        # NOTE: `not d <= ...` keeps a nan (it must propagate); a term far below the max is left out, so
        # logits spanning more than the float range never overflow in z - m.
        if not z.data - m <= _NEGLIGIBLE:
            diffs.append(z - m)
        else:
            diffs.append(None)
    kept = [d for d in diffs if d is not None]
    total = kept[0].exp()
    for d in kept[1:]:
        total = total + d.exp()
    return m, diffs, total.log()


def _difference(z: Value, m: float, who: str, what: str) -> Value:
    """z - m for a score far below the max, whose log-probability is then about z - m."""
    try:
        return z - m
    except OverflowError:
        raise OverflowError(
            f"{who}: {what} is beyond the float range: the scores span {m:.3g} to {z.data:.3g}, more than "
            "1.8e308 apart; rescale the scores"
        ) from None


# ------------------------------------------------------------------------------------------------
# Regression and two-class losses


def mse(predictions: Sequence[Any], targets: Sequence[Any]) -> Value:
    """Mean squared error over every output of the batch: mean((p - t)^2).

    >>> mse([Value(1.0), Value(3.0)], [0.0, 1.0]).data   # (1 + 4) / 2
    2.5
    """
    terms = []
    for p, t in _pairs(predictions, targets, "mse"):
        d = p - t
        terms.append(d * d)
    return _mean(terms)


def binary_cross_entropy(probabilities: Sequence[Any], targets: Sequence[Any]) -> Value:
    """Log loss on probabilities in [0, 1]: mean(-(t log p + (1 - t) log(1 - p))), targets in [0, 1].

    As in PyTorch, each log is clamped at -100, so p = 0 or 1 gives a finite loss; where the clamp
    applies, that term is the constant 100 and passes no gradient (PyTorch passes a large finite one).
    For probabilities from a sigmoid prefer ``binary_cross_entropy_with_logits``: it never saturates.

    >>> round(binary_cross_entropy([Value(0.5)], [1.0]).data, 12) == round(math.log(2), 12)
    True
    """
    pairs = _pairs(probabilities, targets, "binary_cross_entropy")
    for i, (p, t) in enumerate(pairs):
        if not 0.0 <= p.data <= 1.0:
            raise ValueError(f"binary_cross_entropy: probability {i} is {p.data!r}, outside [0, 1]; "
                             "pass sigmoid outputs, or raw scores to binary_cross_entropy_with_logits")
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"binary_cross_entropy: target {i} is {t!r}, outside [0, 1]")
    terms = []
    for p, t in pairs:
        # Terms with a zero weight are left out (so log(0) is never formed for them), as 0 * clamp does.
        parts: list[Value] = []
        if t != 0.0:
            parts.append(_clamped_log(p, p.data) * t)
        if t != 1.0:
            parts.append(_clamped_log(1 - p, 1.0 - p.data) * (1.0 - t))
        loss = -parts[0] if len(parts) == 1 else -(parts[0] + parts[1])
        terms.append(loss)
    return _mean(terms)


def _clamped_log(v: Value, x: float) -> Value:
    if x <= 0.0 or math.log(x) < _LOG_CLAMP:
        return Constant(_LOG_CLAMP)
    return v.log()


def binary_cross_entropy_with_logits(logits: Sequence[Any], targets: Sequence[Any]) -> Value:
    """Log loss on raw scores z (logits), stable for any z: mean(softplus(z) - t z), targets in [0, 1].

    Equal to ``binary_cross_entropy(sigmoid(z), t)`` but never forms log(0): softplus(z) = log(1 + e^z)
    is computed without overflow, and its gradient is sigmoid(z) - t.

    >>> binary_cross_entropy_with_logits([Value(1000.0)], [1.0]).data   # confident and right
    0.0
    >>> binary_cross_entropy_with_logits([Value(-1000.0)], [1.0]).data  # confident and wrong
    1000.0
    """
    terms = []
    for i, (z, t) in enumerate(_pairs(logits, targets, "binary_cross_entropy_with_logits")):
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"binary_cross_entropy_with_logits: target {i} is {t!r}, outside [0, 1]")
        if t == 1.0:
            terms.append((-z).softplus())  # softplus(z) - z = softplus(-z), exact for large z
        elif t == 0.0:
            terms.append(z.softplus())
        else:
            terms.append(z.softplus() - z * t)
    return _mean(terms)


def hinge(scores: Sequence[Any], targets: Sequence[Any]) -> Value:
    """Max-margin loss, micrograd's demo loss: mean(relu(1 - y * score)) with labels y in {-1, +1}.

    >>> hinge([Value(2.0), Value(0.5)], [1, 1]).data   # (0 + 0.5) / 2
    0.25
    """
    terms = []
    for i, (s, y) in enumerate(_pairs(scores, targets, "hinge")):
        if y not in (-1.0, 1.0):
            raise ValueError(
                f"hinge: target {i} is {y!r}; labels must be -1 or +1 (for 0/1 labels use 2*y - 1)"
            )
        terms.append((1 - s * y).relu())
    return _mean(terms)


# ------------------------------------------------------------------------------------------------
# Many classes


def softmax(logits: Sequence[Any]) -> Any:
    """Class probabilities e^z_j / Σ e^z for one sample (a list of scores) or a batch (a list of samples).

    >>> [round(p.data, 6) for p in softmax([Value(0.0), Value(math.log(3))])]
    [0.25, 0.75]
    """
    batch = is_batch(logits)
    rows = _rows(logits if batch else [logits], "softmax")
    out = []
    for row in rows:
        _, diffs, lse = _shifted(row)
        # e^(z - m - log Σ): each probability is one exp of an exact log-probability
        out.append([Constant(0.0) if d is None else (d - lse).exp() for d in diffs])
    return out if batch else out[0]


def log_softmax(logits: Sequence[Any]) -> Any:
    """log(softmax(z)) = z - logsumexp(z), computed stably, for one sample or a batch.

    >>> [round(p.data, 6) for p in log_softmax([Value(0.0), Value(0.0)])]
    [-0.693147, -0.693147]
    """
    batch = is_batch(logits)
    rows = _rows(logits if batch else [logits], "log_softmax")
    out = []
    for i, row in enumerate(rows):
        m, diffs, lse = _shifted(row)
        out.append([(_difference(z, m, "log_softmax", f"the log-probability [{i}][{j}]") if d is None else d)
                    - lse for j, (z, d) in enumerate(zip(row, diffs))])
    return out if batch else out[0]


def cross_entropy(logits: Sequence[Sequence[Any]], targets: Sequence[int]) -> Value:
    """Many-class log loss on raw scores: mean(logsumexp(z) - z[target]), targets class indices 0..C-1.

    >>> round(cross_entropy([[Value(0.0), Value(0.0), Value(0.0)]], [2]).data, 12) == round(math.log(3), 12)
    True
    """
    rows = _rows(logits, "cross_entropy")
    if not isinstance(targets, (list, tuple)):
        raise TypeError(
            f"cross_entropy: targets must be a list of class indices, got {type(targets).__name__}"
        )
    if len(targets) != len(rows):
        raise ValueError(f"cross_entropy: {len(rows)} samples but {len(targets)} targets")
    n_classes = len(rows[0])
    for i, t in enumerate(targets):
        if not is_int(t):
            raise TypeError(f"cross_entropy: target {i} must be an int class index, got {type(t).__name__} "
                            f"({t!r})")
        if not 0 <= int(t) < n_classes:
            raise ValueError(f"cross_entropy: target {i} is class {t}, outside the {n_classes} classes "
                             f"0..{n_classes - 1}")
    terms = []
    for i, (row, t) in enumerate(zip(rows, targets)):
        m, diffs, lse = _shifted(row)
        d = diffs[int(t)]
        if d is None:
            d = _difference(row[int(t)], m, "cross_entropy", f"the loss of sample {i}")
        terms.append(lse - d)  # logsumexp(z) - z[t] = log Σ e^(z - m) - (z[t] - m)
    return _mean(terms)

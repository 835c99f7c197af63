"""Datasets for training small networks: 2-D toy problems, digits and faces, split and batched.

Samples are plain lists of floats and labels plain ints, so nothing here needs the autograd engine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from typing import Literal, TypeVar, overload

from ._checks import integer, real

T = TypeVar("T")

_INSTALL_HINT = "pip install 'chainrule[data]'"
_LFW_SIZE = 25  # skimage.data.lfw_subset() holds 200 grayscale images of 25 x 25 pixels
_SPIRAL_TURNS = 1.0  # one full turn per arm: hard enough to need a hidden layer, easy to plot


# --------------------------------------------------------------------------------------------------
# Toy 2-D datasets


def make_moons(
    n_samples: int = 100, noise: float = 0.1, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles (scikit-learn's geometry), labels 0 (outer) and 1 (inner).

    >>> X, y = make_moons(4, noise=0.0)
    >>> len(X), sorted(y)
    (4, [0, 0, 1, 1])
    """
    _check_n_samples(n_samples)
    _check_noise(noise)
    rng = random.Random(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    points: list[list[float]] = []
    labels: list[int] = []
    for t in _linspace(0.0, math.pi, n_outer):
        points.append([math.cos(t), math.sin(t)])
        labels.append(0)
    for t in _linspace(0.0, math.pi, n_inner):
        points.append([1.0 - math.cos(t), 1.0 - math.sin(t) - 0.5])
        labels.append(1)
    return _shuffle_and_jitter(points, labels, noise, rng)


def make_circles(
    n_samples: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """A circle of radius `factor` (label 1) inside the unit circle (label 0).

    >>> X, y = make_circles(4, noise=0.0, factor=0.5)
    >>> sorted(round(math.hypot(*p), 6) for p in X)
    [0.5, 0.5, 1.0, 1.0]
    """
    _check_n_samples(n_samples)
    _check_noise(noise)
    if not 0.0 < real("factor", factor) < 1.0:
        raise ValueError(f"factor is the inner circle's radius and must be in (0, 1), got {factor}")
    rng = random.Random(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    points: list[list[float]] = []
    labels: list[int] = []
    for label, radius, count in ((0, 1.0, n_outer), (1, factor, n_inner)):
        # endpoint=False, or the first and last point of a circle would coincide
        for t in _linspace(0.0, 2.0 * math.pi, count, endpoint=False):
            points.append([radius * math.cos(t), radius * math.sin(t)])
            labels.append(label)
    return _shuffle_and_jitter(points, labels, noise, rng)


def make_spirals(
    n_samples: int = 100, n_classes: int = 2, noise: float = 0.1, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """`n_classes` interleaved spiral arms growing out from the origin, labels 0..n_classes-1.

    >>> X, y = make_spirals(9, n_classes=3, noise=0.0)
    >>> [y.count(k) for k in range(3)]
    [3, 3, 3]
    """
    _check_n_samples(n_samples)
    _check_noise(noise)
    if integer("n_classes", n_classes) < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    if n_samples < n_classes:
        raise ValueError(
            f"n_samples ({n_samples}) must be at least n_classes ({n_classes}) "
            "so that every arm gets a point"
        )
    rng = random.Random(seed)
    points: list[list[float]] = []
    labels: list[int] = []
    for label in range(n_classes):
        # spread the remainder over the first arms, so class sizes differ by at most one
        count = n_samples // n_classes + (1 if label < n_samples % n_classes else 0)
        start = 2.0 * math.pi * label / n_classes  # arms are rotated copies of each other
        for i in range(count):
            # radius in (0, 1]: starting at 0 would put every arm's first point on the origin
            r = (i + 1) / count
            t = start + 2.0 * math.pi * _SPIRAL_TURNS * r
            points.append([r * math.cos(t), r * math.sin(t)])
            labels.append(label)
    return _shuffle_and_jitter(points, labels, noise, rng)


# --------------------------------------------------------------------------------------------------
# Splitting, batching, scaling


def train_test_split(
    X: Sequence[T],
    y: Sequence[int],
    test_size: float = 0.25,
    seed: int = 0,
    stratify: bool = False,
) -> tuple[list[T], list[T], list[int], list[int]]:
    """Shuffle and split into X_train, X_test, y_train, y_test; `stratify` keeps class proportions.

    The test set gets ceil(test_size * n) samples, as in scikit-learn.

    >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y)
    >>> len(X_train), len(X_test)
    (3, 1)
    """
    _check_xy(X, y)
    if not 0.0 < real("test_size", test_size) < 1.0:
        raise ValueError(
            f"test_size is the fraction of samples held out and must be in (0, 1), got {test_size}"
        )
    n = len(X)
    # NOTE: the epsilon keeps 0.1 * 30 (= 3.0000000000000004 in floats) at 3 test samples, not 4
    n_test = math.ceil(test_size * n - 1e-9)
    if n_test < 1 or n_test > n - 1:
        raise ValueError(
            f"test_size={test_size} of {n} samples leaves an empty train or test set; "
            "use more samples or a test_size nearer 0.5"
        )
    rng = random.Random(seed)
    if stratify:
        test_idx, train_idx = _stratified_indices(y, test_size, n_test, rng)
    else:
        order = list(range(n))
        rng.shuffle(order)
        test_idx, train_idx = order[:n_test], order[n_test:]
    return (
        [X[i] for i in train_idx],
        [X[i] for i in test_idx],
        [y[i] for i in train_idx],
        [y[i] for i in test_idx],
    )


def batches(
    X: Sequence[T], y: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0
) -> Iterator[tuple[list[T], list[int]]]:
    """Yield mini-batches (Xb, yb) covering every sample once; the last batch may be smaller.

    Pass `seed=epoch` for a fresh order each epoch.

    >>> [yb for _, yb in batches([[0.0], [1.0], [2.0]], [0, 1, 2], batch_size=2, shuffle=False)]
    [[0, 1], [2]]
    """
    _check_xy(X, y)
    if integer("batch_size", batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = list(range(len(X)))
    if shuffle:
        random.Random(seed).shuffle(order)
    # NOTE: checking here, outside the generator, makes a bad argument fail at the call, not at the
    # first next() somewhere inside a training loop
    return _iter_batches(X, y, order, batch_size)


@overload
def standardize(
    X_train: Sequence[Sequence[float]], X_test: None = None
) -> tuple[list[list[float]], None, list[float], list[float]]: ...


@overload
def standardize(
    X_train: Sequence[Sequence[float]], X_test: Sequence[Sequence[float]]
) -> tuple[list[list[float]], list[list[float]], list[float], list[float]]: ...


def standardize(
    X_train: Sequence[Sequence[float]], X_test: Sequence[Sequence[float]] | None = None
) -> tuple[list[list[float]], list[list[float]] | None, list[float], list[float]]:
    """Scale each feature to mean 0, std 1 using train statistics only: (train, test, mean, std).

    A constant feature keeps std 1 (it is only centred), so nothing is divided by zero.

    >>> train, test, mean, std = standardize([[1.0], [3.0]], [[5.0]])
    >>> train, test, mean, std
    ([[-1.0], [1.0]], [[3.0]], [2.0], [1.0])
    """
    n_features = _check_rows(X_train, "X_train")
    if X_test is not None and len(X_test) > 0:
        n_test_features = _check_rows(X_test, "X_test")
        if n_test_features != n_features:
            raise ValueError(
                f"X_test has {n_test_features} features but X_train has {n_features}; "
                "pass rows with the same features"
            )
    n = len(X_train)
    mean = [sum(row[j] for row in X_train) / n for j in range(n_features)]
    std = []
    for j in range(n_features):
        # population std (divide by n), as scikit-learn's StandardScaler does
        sd = math.sqrt(sum((row[j] - mean[j]) ** 2 for row in X_train) / n)
        # NOTE: a constant column's mean can be off by rounding ([0.1] * 3 averages to
        # 0.10000000000000002), leaving an sd of ~1e-17 that would blow its values up to about +-1
        constant = sd <= 1e-12 * max(1.0, abs(mean[j]))
        std.append(1.0 if constant else sd)

    def scale(rows: Sequence[Sequence[float]]) -> list[list[float]]:
        return [[(row[j] - mean[j]) / std[j] for j in range(n_features)] for row in rows]

    return scale(X_train), None if X_test is None else scale(X_test), mean, std


# --------------------------------------------------------------------------------------------------
# Real images (optional dependencies: scikit-learn, scikit-image)


@overload
def load_digits(
    n_classes: int = 10, flatten: Literal[True] = True, scale: bool = True
) -> tuple[list[list[float]], list[int]]: ...


@overload
def load_digits(
    n_classes: int, flatten: Literal[False], scale: bool = True
) -> tuple[list[list[list[float]]], list[int]]: ...


@overload
def load_digits(
    n_classes: int = 10, *, flatten: Literal[False], scale: bool = True
) -> tuple[list[list[list[float]]], list[int]]: ...


@overload
def load_digits(
    n_classes: int = 10, flatten: bool = True, scale: bool = True
) -> tuple[list[list[float]], list[int]] | tuple[list[list[list[float]]], list[int]]: ...


def load_digits(
    n_classes: int = 10, flatten: bool = True, scale: bool = True
) -> tuple[list[list[float]], list[int]] | tuple[list[list[list[float]]], list[int]]:
    """The 8x8 handwritten digits shipped with scikit-learn (1797 for all ten classes).

    Each sample is 64 floats (or an 8x8 list of rows when `flatten=False`), in [0, 1] when `scale`
    (the raw ink counts run 0..16). `n_classes=k` keeps only the digits 0..k-1.
    """
    if not 2 <= integer("n_classes", n_classes) <= 10:
        raise ValueError(f"n_classes must be between 2 and 10, got {n_classes}")
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as err:
        raise ImportError(
            f"load_digits needs scikit-learn, which is not installed: {_INSTALL_HINT}"
        ) from err
    bunch = sklearn_load_digits(n_class=n_classes)
    divisor = 16.0 if scale else 1.0
    rows = [[float(v) / divisor for v in row] for row in bunch.data.tolist()]
    labels = [int(k) for k in bunch.target.tolist()]
    if flatten:
        return rows, labels
    return [[row[r * 8 : r * 8 + 8] for r in range(8)] for row in rows], labels


def load_faces(size: int = 10, seed: int | None = 0) -> tuple[list[list[float]], list[int]]:
    """Faces (label 1) vs non-faces (label 0): scikit-image's 200 LFW crops, shrunk to size x size.

    Each sample is size*size floats in [0, 1], 100 samples per class. Pixels are area-averaged
    down from 25 x 25. The order is shuffled by `seed`; `seed=None` keeps scikit-image's order
    (the 100 faces first).
    """
    if not 1 <= integer("size", size) <= _LFW_SIZE:
        raise ValueError(
            f"size must be between 1 and {_LFW_SIZE} (the source images' side), got {size}"
        )
    try:
        from skimage.data import lfw_subset
    except ImportError as err:
        raise ImportError(
            f"load_faces needs scikit-image, which is not installed: {_INSTALL_HINT}"
        ) from err
    images = lfw_subset()
    # NOTE: skimage documents uint8, but ships floats in [0, 1]; dividing those by 255 would darken
    # every image to near black, so scale only integer pixels.
    divisor = 255.0 if images.dtype.kind in "ui" else 1.0
    n_images = len(images)
    weights = _area_weights(_LFW_SIZE, size)
    X = [
        _downsample([[float(v) / divisor for v in row] for row in img], weights)
        for img in images.tolist()
    ]
    # scikit-image's docstring: "100 first images are faces and subsequent 100 are non-faces"
    y = [1 if i < n_images // 2 else 0 for i in range(n_images)]
    if seed is None:
        return X, y
    order = list(range(n_images))
    random.Random(seed).shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


# --------------------------------------------------------------------------------------------------
# Helpers


def _linspace(start: float, stop: float, n: int, endpoint: bool = True) -> list[float]:
    """n evenly spaced floats from start to stop, like numpy.linspace."""
    if n == 1:
        return [start]
    step = (stop - start) / (n - 1 if endpoint else n)
    return [start + i * step for i in range(n)]


def _shuffle_and_jitter(
    points: list[list[float]], labels: list[int], noise: float, rng: random.Random
) -> tuple[list[list[float]], list[int]]:
    """Shuffle samples and add Gaussian noise of std `noise` to each coordinate."""
    order = list(range(len(points)))
    rng.shuffle(order)
    X = [[x + rng.gauss(0.0, noise) for x in points[i]] for i in order]
    return X, [labels[i] for i in order]


def _stratified_indices(
    y: Sequence[int], test_size: float, n_test: int, rng: random.Random
) -> tuple[list[int], list[int]]:
    """Test and train indices holding each class in proportion, `n_test` of them in test."""
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(y):
        by_class.setdefault(label, []).append(i)
    for label, members in by_class.items():
        if len(members) < 2:
            raise ValueError(
                f"stratify needs at least 2 samples of each class, class {label} has 1; "
                "add samples or use stratify=False"
            )
    classes = sorted(by_class)
    # largest remainder: floor each class's share, then hand the leftover test slots to the
    # classes with the largest fractional parts, so the total is exactly n_test
    shares = {c: test_size * len(by_class[c]) for c in classes}
    counts = {c: math.floor(shares[c]) for c in classes}
    leftover = n_test - sum(counts.values())
    for c in sorted(classes, key=lambda c: shares[c] - counts[c], reverse=True)[:leftover]:
        counts[c] += 1
    test_idx: list[int] = []
    train_idx: list[int] = []
    for c in classes:
        members = by_class[c][:]
        rng.shuffle(members)
        test_idx += members[: counts[c]]
        train_idx += members[counts[c] :]
    # mix the classes, or each set would hold all of class 0, then all of class 1, ...
    rng.shuffle(test_idx)
    rng.shuffle(train_idx)
    return test_idx, train_idx


def _iter_batches(
    X: Sequence[T], y: Sequence[int], order: list[int], batch_size: int
) -> Iterator[tuple[list[T], list[int]]]:
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        yield [X[i] for i in chunk], [y[i] for i in chunk]


def _area_weights(n_in: int, n_out: int) -> list[list[tuple[int, float]]]:
    """For each output pixel along one axis, the (input pixel, weight) pairs of its box average.

    Output pixel i covers input span [i * s, (i + 1) * s) with s = n_in / n_out; each input pixel
    weighs its overlap with that span divided by s, so the weights sum to 1.
    """
    s = n_in / n_out
    weights = []
    for i in range(n_out):
        lo, hi = i * s, (i + 1) * s
        pairs = []
        for k in range(math.floor(lo), min(math.ceil(hi), n_in)):
            overlap = min(hi, k + 1) - max(lo, k)
            if overlap > 0.0:
                pairs.append((k, overlap / s))
        weights.append(pairs)
    return weights


def _downsample(image: list[list[float]], weights: list[list[tuple[int, float]]]) -> list[float]:
    """Box-average a square image with per-axis `weights`, returned flattened row by row."""
    rows = [[sum(w * row[k] for k, w in pairs) for pairs in weights] for row in image]
    out = []
    for row_pairs in weights:
        for j in range(len(weights)):
            v = sum(w * rows[k][j] for k, w in row_pairs)
            # NOTE: weights sum to 1 only up to rounding, which can push white to 1.0000000000000002
            out.append(min(1.0, max(0.0, v)))
    return out


def _check_n_samples(n_samples: int) -> None:
    if integer("n_samples", n_samples) < 2:
        raise ValueError(f"n_samples must be at least 2 (one per class), got {n_samples}")


def _check_noise(noise: float) -> None:
    if real("noise", noise) < 0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise}")


def _check_xy(X: Sequence[object], y: Sequence[int]) -> None:
    if len(X) == 0:
        raise ValueError("X is empty; pass at least one sample")
    if len(X) != len(y):
        raise ValueError(
            f"X has {len(X)} samples but y has {len(y)} labels; pass one label per sample"
        )


def _check_rows(X: Sequence[Sequence[float]], name: str) -> int:
    """Number of features of a non-empty, rectangular X."""
    if len(X) == 0:
        raise ValueError(f"{name} is empty; pass at least one sample")
    n_features = len(X[0])
    for i, row in enumerate(X):
        if len(row) != n_features:
            raise ValueError(
                f"{name} row {i} has {len(row)} features but row 0 has {n_features}; "
                "every sample needs the same features"
            )
    return n_features

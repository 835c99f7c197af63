"""The accuracy goals of tests/nn/test_accuracy.py over several seeds: worst and mean test accuracy, time.

    .venv/bin/python benchmarks/accuracy.py            # seeds 0..5 (about a minute on 2 cores)
    .venv/bin/python benchmarks/accuracy.py --seeds 10

The test suite runs seed 0 of each configuration; this shows that seed 0 is not a lucky pick. The seed
sets the model's initialization and the batch order; the train/test split stays the tests' (seed 0), so
every figure is on the same held-out samples. Also prints the 10-layer sigmoid MLP's first-to-last layer
gradient-norm ratios (plain, residual, BatchNorm1d) per seed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from nn import MLP, SGD, Adam, evaluate, fit
from nn.data import load_digits, load_faces, make_moons, standardize, train_test_split

Split = tuple[list[list[float]], list[list[float]], list[int], list[int]]


def moons() -> Split:
    X, y = make_moons(300, noise=0.1, seed=0)
    return train_test_split(X, y, test_size=0.25, seed=0)


def standardized(X: list[list[float]], y: list[int]) -> Split:
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0, stratify=True)
    X_train, X_test, _, _ = standardize(X_train, X_test)
    return X_train, X_test, y_train, y_test


# name, goal, data, model for a seed, fit's keyword arguments (as in tests/nn/test_accuracy.py)
CONFIGS: list[tuple[str, float, Callable[[], Split], Callable[[int], MLP], dict[str, Any]]] = [
    ("two moons, MLP(2, [8, 8, 1]), eager", 0.97, moons, lambda s: MLP(2, [8, 8, 1], seed=s),
     {"lr": 0.03, "epochs": 30, "batch_size": 16, "compile": False}),
    ("digits, MLP(64, [16, 10]), compiled", 0.95, lambda: standardized(*load_digits()),
     lambda s: MLP(64, [16, 10], seed=s), {"lr": 0.01, "epochs": 8, "batch_size": 16, "compile": True}),
    ("faces 10x10, MLP(100, [16, 1]), compiled", 0.93, lambda: standardized(*load_faces(size=10)),
     lambda s: MLP(100, [16, 1], seed=s), {"lr": 0.01, "epochs": 40, "batch_size": 16, "compile": True}),
]


def accuracy_runs(seeds: int) -> None:
    for name, goal, data, make, options in CONFIGS:
        X_train, X_test, y_train, y_test = data()
        options = dict(options)
        lr = options.pop("lr")
        accuracies, seconds = [], []
        for seed in range(seeds):
            model = make(seed)
            start = time.perf_counter()
            fit(model, X_train, y_train, optimizer=Adam(model.parameters(), lr=lr), progress=False, seed=seed,
                **options)
            seconds.append(time.perf_counter() - start)
            result = evaluate(model, X_test, y_test)
            assert result.accuracy is not None
            accuracies.append(result.accuracy)
        print(f"{name}: {len(X_train)} train / {len(X_test)} test; goal {goal:.0%}")
        print(f"  accuracy per seed: {' '.join(f'{a:.3f}' for a in accuracies)}")
        print(f"  worst {min(accuracies):.3f}, mean {statistics.mean(accuracies):.3f}; fit takes "
              f"{statistics.median(seconds):.1f} s (median)")


def gradient_ratios(seeds: int) -> None:
    X, y = make_moons(64, noise=0.1, seed=0)
    print("10-layer sigmoid MLP(2, [8] * 9 + [1]), first layer's grad norm / last layer's, 64 moons:")
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("plain / output layer", {}, "layers.9"),
        ("residual / output layer", {"residual": True}, "layers.9"),
        ("residual / last hidden layer", {"residual": True}, "layers.8"),
        ("batchnorm / output layer", {"batchnorm": True}, "layers.9"),
    ]
    for label, extra, last in cases:
        ratios = []
        for seed in range(seeds):
            model = MLP(2, [8] * 9 + [1], activation="sigmoid", seed=seed, **extra)
            history = fit(model, X, y, epochs=1, batch_size=64, grad_norms=True, progress=False,
                          optimizer=SGD(model.parameters(), lr=0.01))
            ratios.append(history.grad_norms["layers.0"][0] / history.grad_norms[last][0])
        print(f"  {label:32s} {' '.join(f'{r:.1e}' for r in ratios)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6, help="seeds 0..N-1 (default 6)")
    args = parser.parse_args()
    accuracy_runs(args.seeds)
    gradient_ratios(args.seeds)


if __name__ == "__main__":
    main()

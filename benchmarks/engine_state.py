"""The eager engine against itself: the pass lock against a no-op lock, and this checkout against another.

    python benchmarks/engine_state.py                     # the pass lock against a no-op lock, one process
    python benchmarks/engine_state.py --compare fe98f31   # and this checkout against an older commit

The workloads are micrograd's demo step (``MLP(2, [16, 16, 1])``, max-margin loss over 100 points: a
fresh graph each step, forward and backward timed separately, the mean CPU time over a steady loop, the
collector on, as a user runs it) and a chain of 10^5 muls (CPU ns per node, built and backpropagated).
Variants alternate step by step, and the two checkouts round by round (the median round is reported), so
drift on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _moons(n: int, seed: int) -> tuple[list[list[float]], list[float]]:
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2:
            X.append([1 - math.cos(t) + rng.gauss(0, 0.1), 0.5 - math.sin(t) + rng.gauss(0, 0.1)])
            y.append(-1.0)
        else:
            X.append([math.cos(t) + rng.gauss(0, 0.1), math.sin(t) + rng.gauss(0, 0.1)])
            y.append(1.0)
    return X, y


def _measure(steps: int, variants: list[str]) -> dict[str, dict[str, float]]:
    """Mean forward and backward ms per step for each variant, in this process's engine."""
    import nn
    from autograd import backprop

    model = nn.MLP(2, [16, 16, 1], seed=1337)
    params = model.parameters()
    X, y = _moons(100, 1)
    real_lock = getattr(backprop, "_lock", None)

    class _NoLock:
        def acquire(self) -> bool:
            return True

        def release(self) -> None:
            pass

    def step() -> tuple[float, float]:
        t0 = time.process_time()
        scores = [model(x) for x in X]
        losses = [(1 + -yi * s).relu() for yi, s in zip(y, scores)]
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)
        t1 = time.process_time()
        loss.backward()
        t2 = time.process_time()
        for p in params:
            p.grad = 0.0
        return t1 - t0, t2 - t1

    totals = {v: [0.0, 0.0] for v in variants}
    for i in range(steps + 3):
        for v in variants:
            if v == "no-op lock":
                backprop._lock = _NoLock()  # type: ignore[attr-defined]
            fwd, bwd = step()
            if real_lock is not None:
                backprop._lock = real_lock  # type: ignore[attr-defined]
            if i >= 3:  # three steps to warm up
                totals[v][0] += fwd
                totals[v][1] += bwd
    return {v: {"forward_ms": 1e3 * f / steps, "backward_ms": 1e3 * b / steps, "chain_ns": _chain_ns()}
            for v, (f, b) in totals.items()}


def _chain_ns(n: int = 100_000, reps: int = 5) -> float:
    """CPU ns per node of a chain y = y * w, n deep, built and backpropagated (the median of reps)."""
    from autograd import Value

    times = []
    for _ in range(reps):
        t0 = time.process_time()
        w = Value(1.0000001)
        y = w
        for _ in range(n):
            y = y * w
        y.backward()
        times.append(time.process_time() - t0)
        del y, w
    return 1e9 * sorted(times)[reps // 2] / n


def _child(root: str, steps: int, variants: list[str]) -> dict[str, dict[str, float]]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]);"
        "import engine_state as e; print(json.dumps(e._measure(int(sys.argv[3]), sys.argv[4:])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, root, str(Path(__file__).parent), str(steps), *variants],
        check=True, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per variant (default 40)")
    parser.add_argument("--compare", metavar="REV", help="also run the engine of git revision REV")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds with --compare")
    args = parser.parse_args(argv)

    print(f"micrograd's demo step, mean of {args.steps} steps after 3 (ms; collector on)")
    res = _child(str(ROOT), args.steps, ["pass lock", "no-op lock"])
    lock, none = res["pass lock"], res["no-op lock"]
    print(f"  backward with the pass lock   {lock['backward_ms']:7.2f}")
    print(f"  backward with a no-op lock    {none['backward_ms']:7.2f}   "
          f"(the lock costs {100 * (lock['backward_ms'] / none['backward_ms'] - 1):+.1f}%)")
    if args.compare:
        with tempfile.TemporaryDirectory() as tmp:
            old = Path(tmp) / "old"
            git = ["git", "-C", str(ROOT), "worktree"]
            subprocess.run([*git, "add", "-q", "--detach", str(old), args.compare], check=True)
            try:
                rounds: dict[str, list[tuple[float, float]]] = {"now": [], args.compare: []}
                for _ in range(args.rounds):  # alternate the two checkouts
                    for name, root in (("now", ROOT), (args.compare, old)):
                        r = _child(str(root), args.steps, ["pass lock"])["pass lock"]
                        rounds[name].append((r["forward_ms"], r["backward_ms"], r["chain_ns"]))
            finally:
                subprocess.run([*git, "remove", "--force", str(old)], check=True)
        median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
        f_new, b_new, c_new = (median([r[i] for r in rounds["now"]]) for i in (0, 1, 2))
        f_old, b_old, c_old = (median([r[i] for r in rounds[args.compare]]) for i in (0, 1, 2))
        print(f"this checkout against {args.compare}, the median of {args.rounds} alternating rounds:")
        print(f"  forward   {f_new:7.2f} vs {f_old:7.2f}   ({100 * (f_new / f_old - 1):+.1f}%)")
        print(f"  backward  {b_new:7.2f} vs {b_old:7.2f}   ({100 * (b_new / b_old - 1):+.1f}%)")
        print(f"  chain, ns/node  {c_new:7.1f} vs {c_old:7.1f}   ({100 * (c_new / c_old - 1):+.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

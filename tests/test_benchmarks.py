"""The benchmark suite's code (benchmarks/): every engine computes the same thing, the report renders.

No timings are asserted; these only keep the suite runnable and its comparisons honest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import engines  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402

pytest.importorskip("micrograd", reason="the benchmarks compare with micrograd: pip install -e '.[bench]'")
pytest.importorskip("torch", reason="the benchmarks compare with PyTorch (scripts/install-torch-cpu.sh)")

# Eight two-moons points and a small MLP: the same code paths as mlp_step, in well under a second.
X, Y = workloads._moons()
X, Y = X[:8], Y[:8]


@pytest.mark.parametrize("loss, l2", [("hinge", 1e-4), ("mse", 0.0)])
def test_every_engine_trains_to_the_same_losses(loss: str, l2: float) -> None:
    weights = engines.init_weights((2, 4, 3 if loss == "mse" else 1), seed=0)
    targets = Y if loss == "hinge" else [[1.0, 0.0, 0.0] if t > 0 else [0.0, 0.0, 1.0] for t in Y]
    losses = {}
    for name in engines.ENGINES:
        t = engines.trainer(name, weights, loss, l2)
        losses[name] = [t.step(X, targets, lr=0.1) for _ in range(3)]
    reference = losses["micrograd"]
    assert reference[2] < reference[0]  # it trains
    for name, got in losses.items():
        assert got == pytest.approx(reference, rel=1e-12), name


def test_node_counts_agree_on_a_graph_with_no_constants() -> None:
    xs, ws = [0.5, -1.0, 2.0], [1.5, 0.25, -0.75]
    for name in engines.SCALAR_ENGINES:
        engine = engines.scalar_engine(name)
        root = engines.fanin([engine.leaf(x) for x in xs], [engine.leaf(w) for w in ws])
        assert engine.count_nodes(root) == 6 + 3 + 2, name  # leaves, products, adds
        engine.backward(root)


def test_a_chain_backpropagates_the_same_in_every_engine() -> None:
    for name in engines.SCALAR_ENGINES:
        forward, backward = workloads._chain_once(engines.scalar_engine(name), 50, "off")
        assert forward > 0 and backward >= 0


def test_the_report_divides_by_micrograd_and_checks_the_targets() -> None:
    result = {"name": "mlp_step", "title": "t", "metrics": [("ms", "ms/step")], "notes": [],
              "rows": [workloads.row("chainrule", "step", ms=20.0),
                       workloads.row("micrograd", "step", ms=400.0)],
              "checks": {"mlp_speedup_vs_micrograd": 20.0, "bytes_per_node": 300.0}}
    text = report.render([result], [], "python benchmarks/run.py")
    assert "| chainrule | step | 20.0 | 0.050× |" in text
    assert "| mlp_step, gc on: times faster than micrograd | >= 15.0 | 20.0 | yes |" in text
    assert "| memory: bytes per node (tracemalloc) | <= 250 | 300 | NO |" in text

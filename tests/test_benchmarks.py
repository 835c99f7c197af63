"""The benchmark suite's code (benchmarks/): every engine computes the same thing, the report renders.

No timings are asserted; these only keep the suite runnable and its comparisons honest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import compiled_workloads  # noqa: E402
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
    assert "| 14 | mlp_step, gc on: times faster than micrograd | >= 40.0 | 20.0 | NO |" in text
    assert ("| 7 | memory: bytes per node of the 10^5-node fanin graph (tracemalloc) | <= 250 | 300 | NO |"
            in text)


def test_the_report_divides_by_the_baseline_a_result_names() -> None:
    result = {"name": "compiled_step", "title": "t", "metrics": [("ms", "ms/step")], "notes": [],
              "baseline": "torch-batched",
              "rows": [workloads.row("chainrule", "step", ms=0.3),
                       workloads.row("torch-batched", "step", ms=0.4)],
              "checks": {"compiled_step_over_torch": 0.75}}
    text = report.render([result], [], "python benchmarks/run.py")
    assert "| engine | case | ms/step | ÷ PyTorch |" in text and "| chainrule | step | 0.30 | 0.75× |" in text
    assert "| 14 | compiled_step, label traced: ÷ PyTorch batched's time | <= 1.00 | 0.75 | yes |" in text


def test_every_compiled_variant_of_the_demo_step_gives_torchs_loss() -> None:
    weights = engines.init_weights((2, 16, 16, 1), seed=0)
    torch_loss = engines.trainer("torch-batched", weights, "hinge", l2=1e-4).step(X, Y, lr=0.1)
    for variant in compiled_workloads.COMPILED_VARIANTS:
        step = compiled_workloads.compiled_demo_step(weights, variant)
        losses = [step(X, Y, 0.1) for _ in range(3)]
        assert losses[0] == pytest.approx(torch_loss, rel=1e-12), variant
        assert losses[2] < losses[0], variant  # it trains


@pytest.mark.parametrize("loss", compiled_workloads.FIT_LOSSES)
def test_fit_digits_trains_the_same_model_in_both_engines(loss: str) -> None:
    X, labels, continuous = compiled_workloads._digits()
    Y = labels if loss == "cross_entropy" else continuous
    assert compiled_workloads._same_loss_as_torch((4, 10), loss, X, Y) < 1e-12
    assert len(compiled_workloads._torch_epochs((4, 10), loss, X[:64], Y[:64], 2)) == 2
    assert compiled_workloads._ours((4, 10), loss, X[:64], Y[:64], 1, True) > 0

"""RESULTS.md from the workloads' results: the machine, the versions, one table per workload, the targets."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from importlib import metadata
from typing import Any

BASELINE = "micrograd"

# The issues' targets, each read from one workload's checks: (key, issue, what, test, wanted). Issue 14's
# collector-off target is per step; issue 7's was per node, which a graph of fewer, fused nodes no longer
# compares (the same step in 8 times fewer nodes costs more per node).
TARGETS = [
    ("mlp_speedup_vs_micrograd", 14, "mlp_step, gc on: times faster than micrograd", ">=", 40.0),
    ("mlp_speedup_vs_micrograd_gc_off", 14, "mlp_step, gc off: times faster than micrograd", ">=", 5.0),
    ("mlp_speedup_vs_torch_0d", 7, "mlp_step, gc on: times faster than PyTorch on 0-d tensors", ">=", 10.0),
    ("compiled_step_over_torch", 14, "compiled_step, label traced: ÷ PyTorch batched's time", "<=", 1.0),
    *[(f"fit_{k}_{'_'.join(map(str, sizes))}_over_torch", 14,
       f"fit_digits, later epochs, MLP(64, {list(sizes)}), {name}: ÷ PyTorch's epoch", "<=", 1.5)
      for k, name in (("ce", "cross-entropy"), ("mse", "MSE")) for sizes in ((32, 10), (128, 64, 10),
                                                                              (256, 256, 10))],
    *[(f"fit_first_epoch_{k}_over_eager", 14,
       f"fit_digits, first epoch (tracing included), MLP(64, [32, 10]), {name}: ÷ an eager epoch", "<=", 0.5)
      for k, name in (("ce", "cross-entropy"), ("mse", "MSE"))],
    ("trace_plan_s", 14, "tracing and planning MLP(64, [256, 256, 10]), s", "<=", 2.0),
    ("bytes_per_node_chain", 14, "memory: bytes per node of a 10^5-node chain (tracemalloc)", "<=", 150.0),
    ("bytes_per_node", 7, "memory: bytes per node of the 10^5-node fanin graph (tracemalloc)", "<=", 250.0),
    ("chain_scaling_1e6_over_1e4", 7, "chain, gc on: ns/node at 10^6 ÷ ns/node at 10^4", "<=", 1.5),
    ("chain_1e7_completes", 7, "chain: 10^7 nodes forward and backward complete (--full)", "==", True),
]
BASELINE_NAMES = {"micrograd": "micrograd", "torch-batched": "PyTorch"}


def environment() -> list[tuple[str, str]]:
    """(what, value) pairs describing where the figures were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    pairs = [
        ("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("machine", f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"),
        ("python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
    ]
    for package in ("chainrule", "micrograd", "torch", "numpy", "scikit-learn"):
        try:
            pairs.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            pairs.append((package, "not installed"))
    return pairs


def _fmt(x: Any) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if x >= 100:
            return f"{x:,.0f}"
        if x >= 10:
            return f"{x:.1f}"
        if x >= 0.1:
            return f"{x:.2f}"
        return f"{x:.3g}"
    return str(x)


def _ratio(value: Any, ref: Any) -> str:
    if not isinstance(value, (int, float)) or not isinstance(ref, (int, float)) or isinstance(value, bool):
        return ""
    if ref == 0:
        return ""
    r = value / ref
    return f"{r:.3f}×" if r < 0.1 else f"{r:.2f}×"


def table(result: dict[str, Any]) -> list[str]:
    """One workload as a markdown table: each figure, and beside it the figure ÷ the baseline engine's
    (micrograd's, unless the result names another)."""
    baseline = result.get("baseline", BASELINE)
    metrics = [(key, label) for key, label in result["metrics"]]
    # a ratio column for each figure the baseline engine has too
    ratio_keys = {key for key, _ in metrics
                  if any(isinstance(r["values"].get(key), float) for r in result["rows"])
                  and any(isinstance(r["values"].get(key), float) for r in result["rows"]
                          if r["engine"] == baseline)}
    header = ["engine", "case"]
    for key, label in metrics:
        header.append(label)
        if key in ratio_keys:
            header.append(f"÷ {BASELINE_NAMES.get(baseline, baseline)}")
    lines = [f"### {result['title']}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    refs = {r["case"]: r["values"] for r in result["rows"] if r["engine"] == baseline}
    for r in result["rows"]:
        ref = refs.get(r["ref"], {})
        cells = [r["engine"], r["case"]]
        for key, _ in metrics:
            value = r["values"].get(key, "")
            cells.append(_fmt(value))
            if key in ratio_keys:
                cells.append(_ratio(value, ref.get(key)))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for note in result.get("notes", []):
        lines.append(f"- {note}")
    lines.append(f"- Measured by `{result.get('command', 'python benchmarks/run.py')}` on "
                 f"{result.get('date', '?')}, in {result.get('seconds', 0):.0f} s.")
    lines.append("")
    return lines


def targets(results: list[dict[str, Any]]) -> list[str]:
    checks: dict[str, Any] = {}
    for result in results:
        checks.update(result.get("checks", {}))
    lines = ["## Targets (issues 7 and 14), from this run", "",
             "| issue | target | wanted | measured | met |", "|---|---|---|---|---|"]
    for key, issue, what, test, wanted in TARGETS:
        if key not in checks:
            lines.append(f"| {issue} | {what} | {test} {_fmt(wanted)} | not measured in this run | |")
            continue
        got = checks[key]
        met = {">=": got >= wanted, "<=": got <= wanted, "==": got == wanted}[test]
        lines.append(f"| {issue} | {what} | {test} {_fmt(wanted)} | {_fmt(got)} | {'yes' if met else 'NO'} |")
    lines.append("")
    return lines


def render(results: list[dict[str, Any]], failures: list[str], command: str) -> str:
    lines = ["# Benchmark results", "",
             f"Written by `{command}`; each workload says which run measured it (one process per "
             "workload, every engine side by side in it; "
             "\"÷ micrograd\" (\"÷ PyTorch\") divides a figure by micrograd's (PyTorch's) from the same "
             "process, so below 1 is faster or smaller). \"gc on\" is Python's cyclic garbage collector "
             "as users run it, in "
             "the steady state a loop reaches; \"gc off\" collects first and disables it for the timed "
             "call: the interpreter's work alone (the previous step's graph is freed before it, untimed, "
             "for every engine alike: micrograd's can only be freed by the collector). Times are CPU "
             "time of the process (time.process_time), which other load on a shared machine barely "
             "moves; PyTorch, and NumPy's BLAS, run on one thread.", ""]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in environment()] + [""]
    lines += targets(results)
    for failure in failures:
        lines += [f"**{failure}**", ""]
    for result in results:
        lines += table(result)
    return "\n".join(lines)

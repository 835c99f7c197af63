"""The benchmark workloads: chain, mlp_step, fanin, memory and digits_epoch, every engine side by side
(and, from compiled_workloads.py, compiled_step and fit_digits against PyTorch on batched tensors).

``python benchmarks/workloads.py NAME [--full | --quick]`` runs one workload in this process and prints its
result as one JSON object on stdout (progress goes to stderr); ``run.py`` starts one such process per
workload. A result lists rows (engine, case, figures); the report divides each figure by its baseline
engine's (micrograd's unless the result names another) from the same process.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import engines
from timing import clock, fresh_heap, median, rss_bytes, time_call

Result = dict[str, Any]
Row = dict[str, Any]

MOONS_SEED = 1
WEIGHTS_SEED = 1337


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def row(engine: str, case: str, ref: str | None = None, /, **values: Any) -> Row:
    """One table row; ``ref`` is the case of micrograd's row it is compared with (default: the same)."""
    return {"engine": engine, "case": case, "ref": case if ref is None else ref, "values": values}


def gc_modes(engine: str, full: bool, slow: bool = True) -> tuple[str, ...]:
    """Both collector modes, except for PyTorch on 0-d tensors in a slow case of a default run: it is
    the slowest engine and the collector matters least to it (--full measures it too)."""
    return ("on",) if engine == "torch-0d" and slow and not full else ("on", "off")


# --------------------------------------------------------------------------------------------------
# chain: N ops deep


CHAIN_DEPTHS = (10**3, 10**4, 10**5, 10**6)
CHAIN_FULL_DEPTH = 10**7  # this engine alone, with --full: about 1.6 GB and half a minute


def _chain_once(engine: engines.Scalar, n: int, gc_mode: str) -> tuple[float, float]:
    """(forward, backward) seconds for one chain n deep; checks the grad of the shared leaf."""

    def go() -> tuple[float, float, float]:
        start = clock()
        root, w = engines.chain(engine, n)
        built = clock()
        engine.backward(root)
        done = clock()
        return built - start, done - built, engine.grad(w)

    _, (forward, backward, dw) = time_call(go, gc_mode)
    if abs(dw - 0.5 * n) > 1e-9 * n:  # d(0.5 w^n)/dw at w = 1
        raise AssertionError(f"{engine.name}: chain {n} deep gave dw = {dw}, expected {0.5 * n}")
    return forward, backward


def _deepest(engine: engines.Scalar, limit: int) -> int:
    """The deepest chain (< limit) whose backward completes, by bisection, called as the timing is."""
    lo, hi = 1, limit  # lo completes, hi fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            _chain_once(engine, mid, "on")
            lo = mid
        except RecursionError:
            hi = mid
    return lo


def chain(full: bool, quick: bool = False) -> Result:
    rows: list[Row] = []
    notes: list[str] = []
    ref_for_failures: dict[str, str] = {}
    for name in engines.SCALAR_ENGINES:
        engine = engines.scalar_engine(name)
        depths = [*CHAIN_DEPTHS, *([CHAIN_FULL_DEPTH] if full and name == "chainrule" else [])]
        for n in depths:
            fresh_heap()
            # The median of at least 3 runs for this engine (its figures make the scaling target); the
            # slowest engines run a deep chain once.
            reps = max(3 if name == "chainrule" else 1, min(5, 10**5 // n))
            figures: dict[str, float | str] = {}
            try:
                figures["total_ns_gc_off"] = "(--full)"
                for gc_mode in gc_modes(name, full, slow=n >= 10**6):
                    runs = [_chain_once(engine, n, gc_mode) for _ in range(reps)]
                    fwd = median([f for f, _ in runs]) / n * 1e9
                    bwd = median([b for _, b in runs]) / n * 1e9
                    if gc_mode == "on":
                        figures.update(fwd_ns=fwd, bwd_ns=bwd, total_ns=fwd + bwd)
                    else:
                        figures["total_ns_gc_off"] = fwd + bwd
            except RecursionError:
                deepest = _deepest(engine, n)
                case = f"{deepest:,} (deepest)"
                notes.append(f"{name}: backward raises RecursionError from {deepest + 1:,} ops deep "
                             "(a recursive topological sort at Python's default recursion limit).")
                runs_on = [_chain_once(engine, deepest, "on") for _ in range(5)]
                runs_off = [_chain_once(engine, deepest, "off") for _ in range(5)]
                fwd = median([f for f, _ in runs_on]) / deepest * 1e9
                bwd = median([b for _, b in runs_on]) / deepest * 1e9
                off = median([f + b for f, b in runs_off]) / deepest * 1e9
                rows.append(row(name, case, fwd_ns=fwd, bwd_ns=bwd, total_ns=fwd + bwd,
                                total_ns_gc_off=off))
                ref_for_failures[name] = case
                for m in depths[depths.index(n):]:
                    rows.append(row(name, f"{m:,}", fwd_ns="RecursionError", bwd_ns="", total_ns="",
                                    total_ns_gc_off=""))
                break
            log(f"chain {name} {n:,}: {figures}")
            rows.append(row(name, f"{n:,}", **figures))
    # Rows at depths micrograd cannot reach are compared with micrograd's deepest chain.
    completed = {r["case"] for r in rows
                 if r["engine"] == engines.BASELINE and not isinstance(r["values"]["fwd_ns"], str)}
    fallback = ref_for_failures.get(engines.BASELINE)
    for r in rows:
        if fallback and r["ref"] not in completed:
            r["ref"] = fallback
    ours = {r["case"]: r["values"] for r in rows if r["engine"] == "chainrule"}
    scaling = ours["1,000,000"]["total_ns"] / ours["10,000"]["total_ns"]
    checks = {"chain_scaling_1e6_over_1e4": scaling}
    if full:
        checks["chain_1e7_completes"] = isinstance(ours.get("10,000,000", {}).get("total_ns"), float)
    notes.append("torch-batched: no row; a chain of scalar ops has no batch dimension.")
    return {"name": "chain", "rows": rows, "notes": notes, "checks": checks,
            "metrics": [("fwd_ns", "forward ns/node"), ("bwd_ns", "backward ns/node"),
                        ("total_ns", "total ns/node"), ("total_ns_gc_off", "total ns/node, gc off")],
            "title": "chain: y = y * w, N times (one shared leaf w); ns per node, gc on unless stated"}


# --------------------------------------------------------------------------------------------------
# mlp_step: micrograd's demo


MLP_SIZES = (2, 16, 16, 1)
MLP_STEPS = 6  # timed steps per engine, per gc mode, per round
MLP_ROUNDS = 2


def _moons() -> tuple[list[list[float]], list[float]]:
    from nn.data import make_moons

    X, labels = make_moons(100, noise=0.1, seed=MOONS_SEED)
    return X, [2.0 * label - 1.0 for label in labels]  # SVM labels -1, +1


def mlp_step(full: bool, quick: bool = False) -> Result:
    X, y = _moons()
    weights = engines.init_weights(MLP_SIZES, WEIGHTS_SEED)
    # --quick: issue 14's targets only (no PyTorch 0-d, no collector-hold variants)
    names = [n for n in engines.ENGINES if not (quick and n == "torch-0d")]
    trainers = {name: engines.trainer(name, weights, "hinge", l2=1e-4) for name in names}
    first_loss = {}
    nodes = {}
    for name, t in trainers.items():
        nodes[name] = t.count_nodes(t.loss(X, y))
        first_loss[name] = t.step(X, y, lr=0.0)  # lr 0: every engine keeps the same weights
    times: dict[str, dict[str, list[float]]] = {n: {"on": [], "off": []} for n in trainers}
    for _ in range(1 if quick else MLP_ROUNDS):
        for name, t in trainers.items():
            steps = MLP_STEPS * (2 if full else 1) // (2 if name == "torch-0d" or quick else 1)  # 1 s a step
            step = functools.partial(t.step, X, y, lr=0.0)
            times[name]["on"].append(_loop_mean(step, steps))
            fresh_heap()
            step()  # warm-up
            for _ in range(steps):
                t.release()  # freed untimed, as micrograd's cyclic graph is by the collection
                times[name]["off"].append(time_call(step, "off")[0])
            log(f"mlp_step {name}: on {median(times[name]['on']) * 1e3:.1f} ms, "
                f"off {median(times[name]['off']) * 1e3:.1f} ms")
    rows = []
    for name in trainers:
        on, off = median(times[name]["on"]), median(times[name]["off"])
        per_node = {} if not nodes[name] else {
            "ns_per_node": on / nodes[name] * 1e9, "ns_per_node_gc_off": off / nodes[name] * 1e9}
        rows.append(row(name, "step", ms=on * 1e3, ms_gc_off=off * 1e3, **per_node,
                        nodes=nodes[name] or "", loss=f"{first_loss[name]:.12f}"))
    if not quick:
        rows += _gc_variants(trainers["chainrule"], X, y, MLP_STEPS * MLP_ROUNDS)
    losses = list(first_loss.values())
    spread = (max(losses) - min(losses)) / abs(min(losses))
    if spread > 1e-9:
        raise AssertionError(f"mlp_step: the engines' losses disagree: {first_loss}")
    by = {r["engine"]: r["values"] for r in rows if r["case"] == "step"}
    mg = by[engines.BASELINE]
    checks = {
        "mlp_speedup_vs_micrograd": mg["ms"] / by["chainrule"]["ms"],
        "mlp_speedup_vs_micrograd_gc_off": mg["ms_gc_off"] / by["chainrule"]["ms_gc_off"],
        "mlp_speedup_vs_micrograd_per_node_gc_off":
            mg["ns_per_node_gc_off"] / by["chainrule"]["ns_per_node_gc_off"],
        "mlp_loss_spread": spread,
    }
    if "torch-0d" in by:
        checks["mlp_speedup_vs_torch_0d"] = by["torch-0d"]["ms"] / by["chainrule"]["ms"]
    hold_note = [] if quick else [
        "The last two rows are this engine's step with its collector hold turned off (Python's thresholds "
        "throughout: what the hold buys), and with the collector disabled during each step and re-enabled "
        "after it (the most any collector policy could buy; this engine's graphs hold no reference "
        "cycles, so nothing is left for it to collect)."]
    return {"name": "mlp_step", "rows": rows, "checks": checks,
            "notes": [f"Loss of the first step, every engine from the same weights: {losses[0]:.12f} "
                      f"(largest relative difference between engines {spread:.1e}).",
                      "nodes: objects in one step's graph (chainrule and micrograd count their "
                      "constants; PyTorch counts autograd Function nodes and leaves).",
                      f"ms/step (gc on) is the mean over a loop of steps after {MLP_WARMUP} untimed "
                      "ones, as training runs (the collector's full passes come every few steps); gc off "
                      "is the median of single steps. chainrule's neurons are one linear node each "
                      "(nn's default); micrograd's and PyTorch 0-d's are products and sums.",
                      *hold_note],
            "metrics": [("ms", "ms/step"), ("ms_gc_off", "ms/step, gc off"),
                        ("ns_per_node", "ns/node"), ("ns_per_node_gc_off", "ns/node, gc off"),
                        ("nodes", "nodes"), ("loss", "first loss")],
            "title": "mlp_step: MLP(2, [16, 16, 1]) on 100 two-moons points, SVM max-margin loss + "
                     "1e-4 L2, zero_grad, backward, SGD update (micrograd's demo)"}


MLP_WARMUP = 3  # untimed steps before a timed loop: the collector's generations fill as in training


def _loop_mean(step: Callable[[], Any], steps: int) -> float:
    """Seconds per step over a loop of ``steps`` steps with the collector on, after a warm-up.

    The mean of one loop, not a median of steps: the collector's full passes come every few steps, and a
    training loop pays for all of them.
    """
    fresh_heap()
    for _ in range(MLP_WARMUP):
        step()
    return time_call(lambda: [step() for _ in range(steps)], "on")[0] / steps


def _gc_variants(t: engines.Trainer, X: list[list[float]], y: list[float], steps: int) -> list[Row]:
    """This engine's step with its collector hold turned off, and with the collector off during each
    step: what the hold buys, and the most any collector policy could."""
    import autograd

    step = functools.partial(t.step, X, y, lr=0.0)
    rows = []
    autograd.set_gc_hold(False)
    try:
        ms = _loop_mean(step, steps) * 1e3
    finally:
        autograd.set_gc_hold(True)
    log(f"mlp_step chainrule, set_gc_hold(False): {ms:.1f} ms")
    rows.append(row("chainrule", "collector hold off: set_gc_hold(False)", "step", ms=ms))
    ms = _loop_mean(functools.partial(_paused, step), steps) * 1e3
    log(f"mlp_step chainrule, collector paused during each step: {ms:.1f} ms")
    rows.append(row("chainrule", "collector disabled during each step", "step", ms=ms))
    return rows


def _paused(step: Callable[[], Any]) -> Any:
    """``step()`` with the collector disabled, and re-enabled after (if it was on)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return step()
    finally:
        if enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------------
# fanin: the sum of 10^5 products


FANIN_TERMS = 10**5


def fanin(full: bool, quick: bool = False) -> Result:
    import random

    rng = random.Random(0)
    xs = [rng.uniform(-1, 1) for _ in range(FANIN_TERMS)]
    ws = [rng.uniform(-1, 1) for _ in range(FANIN_TERMS)]
    expected = sum(xs)  # d/dw_i of sum x_i w_i is x_i
    rows = []
    for name in engines.SCALAR_ENGINES:
        engine = engines.scalar_engine(name)
        reps = (5 if full else 3) if name != "torch-0d" else (3 if full else 1)  # torch-0d: 8 s a run
        xl = [engine.leaf(x) for x in xs]
        wl = [engine.leaf(w) for w in ws]
        figures: dict[str, float | str] = {"total_ms_gc_off": "(--full)"}
        for gc_mode in gc_modes(name, full):
            fresh_heap()
            fwd, bwd = [], []
            for _ in range(reps):
                for leaf in (*xl, *wl):
                    leaf.grad = None if name == "torch-0d" else 0.0

                _, (f, b) = time_call(functools.partial(_fanin_once, engine, xl, wl), gc_mode)
                fwd.append(f)
                bwd.append(b)
            got = sum(engine.grad(w) for w in wl)
            if abs(got - expected) > 1e-6 * FANIN_TERMS:
                raise AssertionError(f"fanin {name}: sum of dw = {got}, expected {expected}")
            if gc_mode == "on":
                figures.update(fwd_ms=median(fwd) * 1e3, bwd_ms=median(bwd) * 1e3,
                               total_ms=(median(fwd) + median(bwd)) * 1e3)
            else:
                figures["total_ms_gc_off"] = (median(fwd) + median(bwd)) * 1e3
        log(f"fanin {name}: {figures}")
        rows.append(row(name, f"{FANIN_TERMS:,} products", **figures))
    rows.append(_fanin_batched(xs, ws, expected, 30))
    return {"name": "fanin", "rows": rows, "checks": {},
            "notes": ["The products are summed as a balanced tree of adds (17 deep), so micrograd's "
                      "recursive sort can run it; 2 x 10^5 leaves, 10^5 muls, 10^5 - 1 adds."],
            "metrics": [("fwd_ms", "forward ms"), ("bwd_ms", "backward ms"), ("total_ms", "total ms"),
                        ("total_ms_gc_off", "total ms, gc off")],
            "title": "fanin: sum of 10^5 products x_i * w_i, forward and backward"}


def _fanin_once(engine: engines.Scalar, xs: list[Any], ws: list[Any]) -> tuple[float, float]:
    start = clock()
    root = engines.fanin(xs, ws)
    built = clock()
    engine.backward(root)
    return built - start, clock() - built


def _fanin_batched(xs: list[float], ws: list[float], expected: float, reps: int) -> Row:
    torch = engines.import_torch()

    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(ws, dtype=torch.float64, requires_grad=True)
    figures: dict[str, float] = {}
    for gc_mode in ("on", "off"):
        fwd, bwd = [], []
        for _ in range(reps):
            w.grad = None

            def go() -> tuple[float, float]:
                start = clock()
                root = (x * w).sum()
                built = clock()
                root.backward()
                return built - start, clock() - built

            _, (f, b) = time_call(go, gc_mode)
            fwd.append(f)
            bwd.append(b)
        assert w.grad is not None and abs(float(w.grad.sum()) - expected) < 1e-6 * len(xs)
        if gc_mode == "on":
            figures.update(fwd_ms=median(fwd) * 1e3, bwd_ms=median(bwd) * 1e3,
                           total_ms=(median(fwd) + median(bwd)) * 1e3)
        else:
            figures["total_ms_gc_off"] = (median(fwd) + median(bwd)) * 1e3
    log(f"fanin torch-batched: {figures}")
    return row("torch-batched", f"{len(xs):,} products", **figures)


# --------------------------------------------------------------------------------------------------
# memory: bytes per node of a 10^5-node graph


MEMORY_PAIRS = 25_000  # 50,000 leaves + 25,000 muls + 24,999 adds = 99,999 nodes


def memory(full: bool, quick: bool = False) -> Result:
    import random

    rng = random.Random(0)
    xs = [rng.uniform(-1, 1) for _ in range(MEMORY_PAIRS)]
    ws = [rng.uniform(-1, 1) for _ in range(MEMORY_PAIRS)]
    scalar = [engines.scalar_engine(name) for name in engines.SCALAR_ENGINES]

    def build(engine: engines.Scalar) -> Any:
        return engines.fanin([engine.leaf(x) for x in xs], [engine.leaf(w) for w in ws])

    # Resident memory first, each engine's graph kept alive while the next is built, so no engine
    # reuses memory another one freed (pymalloc keeps freed arenas).
    fresh_heap()
    kept = []
    rss: dict[str, float] = {}
    for engine in scalar:
        before = rss_bytes()
        kept.append(build(engine))
        rss[engine.name] = float(rss_bytes() - before)
    counts = {engine.name: engine.count_nodes(root) for engine, root in zip(scalar, kept)}
    del kept
    fresh_heap()
    rows = []
    for engine in scalar:
        fresh_heap()
        tracemalloc.start()
        root = build(engine)
        graph, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        engine.backward(root)
        _, backward_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del root
        n = counts[engine.name]
        log(f"memory {engine.name}: {graph / n:.0f} B/node graph, {rss[engine.name] / n:.0f} B/node RSS")
        rows.append(row(engine.name, f"{n:,} nodes", graph_bytes=graph / n,
                        backward_peak_bytes=backward_peak / n, rss_bytes=rss[engine.name] / n))
    ours = {r["engine"]: r["values"] for r in rows}
    for r in rows:  # the cases differ in node count; compare with micrograd's row whatever its count
        r["ref"] = next(q["case"] for q in rows if q["engine"] == engines.BASELINE)
    # (torch-0d: tracemalloc sees none of its C++ memory, and its chain under tracemalloc crashed)
    chain_rows = [_chain_memory(engine) for engine in scalar if engine.name != "torch-0d"]
    for r in chain_rows:
        r["ref"] = next(q["case"] for q in chain_rows if q["engine"] == engines.BASELINE)
    rows += chain_rows
    checks = {"bytes_per_node": ours["chainrule"]["graph_bytes"],
              "bytes_per_node_chain": chain_rows[0]["values"]["graph_bytes"]}
    return {"name": "memory", "rows": rows, "checks": checks,
            "notes": ["Graph: the fanin graph with 25,000 products (leaves, muls and adds all count as "
                      "nodes), then a chain of 10^5 muls by one shared leaf (the chain workload's graph; "
                      f"micrograd's {MICROGRAD_CHAIN} deep: freeing its 10^5 chain crashes the interpreter). "
                      "graph: tracemalloc's count of the bytes the built graph holds; backward "
                      "peak: the most backward() holds on top of it; RSS: resident-memory growth while "
                      "building. tracemalloc does not see PyTorch's C++ allocations: for torch-0d only "
                      "the RSS figure is complete."],
            "metrics": [("graph_bytes", "bytes/node (tracemalloc)"),
                        ("backward_peak_bytes", "backward peak bytes/node"),
                        ("rss_bytes", "bytes/node (RSS growth)")],
            "title": "memory: bytes per node of a 10^5-node graph"}


MEMORY_CHAIN = 10**5
# NOTE: freeing micrograd's chain 10^5 deep overflows the C stack (each node's closure frees the next, no
# trashcan): the process dies with a segfault. Its chain is as deep as its backward reaches instead.
MICROGRAD_CHAIN = 900


def _chain_memory(engine: engines.Scalar) -> Row:
    """Bytes per node of a chain of 10^5 muls (tracemalloc; the backward peak where it can backprop)."""
    fresh_heap()
    tracemalloc.start()
    root, _ = engines.chain(engine, MICROGRAD_CHAIN if engine.name == engines.BASELINE else MEMORY_CHAIN)
    graph, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    peak: float | str = "RecursionError"
    try:
        engine.backward(root)
        peak = tracemalloc.get_traced_memory()[1]
    except RecursionError:
        pass
    tracemalloc.stop()
    n = engine.count_nodes(root)
    del root
    log(f"memory {engine.name}, chain: {graph / n:.0f} B/node")
    # (no RSS figure: after the fanin graphs were freed, the chain reuses their memory)
    return row(engine.name, f"chain, {n:,} nodes", graph_bytes=graph / n,
               backward_peak_bytes=peak / n if isinstance(peak, int) else peak)


# --------------------------------------------------------------------------------------------------
# digits_epoch: one epoch of an MLP on the 8x8 digits


DIGITS_HIDDEN = 8
DIGITS_BATCH = 32
DIGITS_LR = 0.5


def digits_epoch(full: bool, quick: bool = False) -> Result:
    from nn.data import batches, load_digits

    X, labels = load_digits()
    onehot = {k: [1.0 if j == k else 0.0 for j in range(10)] for k in range(10)}
    weights = engines.init_weights((64, DIGITS_HIDDEN, 10), WEIGHTS_SEED)
    order = [(Xb, [onehot[k] for k in yb]) for Xb, yb in batches(X, labels, DIGITS_BATCH, seed=0)]
    rows = []
    epoch_loss = {}
    for name in engines.ENGINES:
        figures: dict[str, Any] = {}
        figures["s_gc_off"] = "(--full)"
        for gc_mode in gc_modes(name, full):
            t = engines.trainer(name, weights, "mse", l2=0.0)
            fresh_heap()
            if gc_mode == "on":  # the epoch as one call: the collector runs as it would for a user
                seconds, losses = time_call(functools.partial(_epoch, t, order), "on")
            else:  # collector off during each step; a collection between steps (untimed) frees
                # micrograd's cyclic garbage, which would otherwise pile up for the whole epoch
                timed = []
                for Xb, yb in order:
                    t.release()
                    timed.append(time_call(functools.partial(t.step, Xb, yb, DIGITS_LR), "off"))
                seconds, losses = sum(s for s, _ in timed), [loss for _, loss in timed]
            epoch_loss[name] = sum(losses) / len(losses)
            figures["s" if gc_mode == "on" else "s_gc_off"] = seconds
        figures["loss"] = f"{epoch_loss[name]:.12f}"
        log(f"digits_epoch {name}: {figures}")
        rows.append(row(name, f"{len(X):,} samples", **figures))
    losses = list(epoch_loss.values())
    spread = (max(losses) - min(losses)) / abs(min(losses))
    if spread > 1e-9:
        raise AssertionError(f"digits_epoch: the engines' epoch losses disagree: {epoch_loss}")
    by = {r["engine"]: r["values"] for r in rows}
    return {"name": "digits_epoch", "rows": rows,
            "checks": {"digits_speedup_vs_micrograd": by["micrograd"]["s"] / by["chainrule"]["s"]},
            "notes": [f"MLP(64, [{DIGITS_HIDDEN}, 10]) with ReLU, mean squared error on one-hot targets "
                      f"(micrograd has no exp or log for a cross-entropy), SGD lr {DIGITS_LR}, "
                      f"{len(order)} batches of {DIGITS_BATCH} in one seeded order; mean batch loss over "
                      f"the epoch {losses[0]:.12f} for every engine (largest relative difference "
                      f"{spread:.1e})."],
            "metrics": [("s", "s/epoch"), ("s_gc_off", "s/epoch, gc off"), ("loss", "epoch loss")],
            "title": "digits_epoch: one training epoch on the 1,797 8x8 digits"}


def _epoch(t: engines.Trainer, order: list[tuple[list[list[float]], list[list[float]]]]) -> list[float]:
    return [t.step(Xb, yb, DIGITS_LR) for Xb, yb in order]


def _compiled(name: str) -> Callable[..., Result]:
    def run(full: bool, quick: bool = False) -> Result:
        import compiled_workloads

        result: Result = getattr(compiled_workloads, name)(full, quick)
        return result

    return run


WORKLOADS: dict[str, Callable[..., Result]] = {
    "chain": chain, "mlp_step": mlp_step, "fanin": fanin, "memory": memory, "digits_epoch": digits_epoch,
    "compiled_step": _compiled("compiled_step"), "fit_digits": _compiled("fit_digits")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--full", action="store_true", help="the long cases too (chain 10^7, ...)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (run.py --quick)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    engines.import_all()
    result = WORKLOADS[args.workload](args.full, args.quick)
    result["seconds"] = time.perf_counter() - start  # wall time, to say how long a run takes
    print(json.dumps(result))


if __name__ == "__main__":
    main()

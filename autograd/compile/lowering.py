"""Lowering for the batched replay: a traced per-sample Program regrouped into kernels, each one or a few
array operations over the whole batch, so that their number grows with the program's depth, not its width.

Three rewrites, then grouping:
  * a layer's weighted sums (``linear`` nodes over the same per-sample inputs, with shared weights) become
    one *dense* kernel, out = W @ H + b: one matrix product forward, two backward;
  * the weighted sums micrograd-style code builds from ``*`` and ``+`` (products folded into a chain of
    additions) become dense kernels too;
  * any other ``linear`` node is split into its products and one sum;
  * a left-leaning chain of additions becomes one "sum" node;
and ops of one kind at one depth that read their operands from the same kind of storage form one group.
Pure Python: numpy_replay lays the kernels out in arrays and runs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from .program import Program

# Where a slot's numbers live during a batched replay: a row with one number per sample, one number
# shared by the batch (a constant, or an op on shared numbers only), or an entry of the parameter array.
BATCH, UNIFORM, PARAM = 0, 1, 2


@dataclass
class Node:
    """An op of the lowered program: a program op, a fused chain of additions ("sum"), or a product split
    out of a ``linear`` node."""

    op: str  # an op name, or "sum": ((t0 + t1) + t2) + ...
    out: int
    ins: tuple[int, ...]  # operands (for "sum": the terms, in order)
    arg: float | None
    backward: bool  # the first output depends on it
    position: int  # program order (products split from a linear node share its position)


@dataclass
class Dense:
    """Weighted sums i = 0..n-1 of the same per-sample inputs H with shared weights W[i][j], plus each
    sum's shared terms (a neuron's bias): out = W @ H + b as one matrix product."""

    nodes: list[Node]  # the sums, in program order: their outputs are the kernel's rows
    W: list[list[int]]  # weight slots, one row per sum, all in one storage
    H: list[int]  # per-sample input slots
    shared: list[list[int]]  # each sum's shared terms, the same number per sum, all in one storage


Kernel = Union[list[Node], Dense]


@dataclass
class Lowered:
    kernels: list[Kernel]  # in an order that computes every operand before it is read
    store: list[int]  # per slot (the program's, then the products split out of linear nodes)
    n_slots: int


def lower(p: Program, param_rows: Mapping[int, int]) -> Lowered:
    """The kernels of ``p``'s batched replay; ``param_rows`` says which captured slots live in the
    parameter array (the others, and the constants, are shared numbers)."""
    store = [UNIFORM] * p.n_slots
    for s in p.inputs:
        store[s] = BATCH
    for s in p.captured_slots:
        if s in param_rows:
            store[s] = PARAM
    for ins in p.instructions:
        store[ins.out] = BATCH if any(store[s] == BATCH for s in ins.ins) else UNIFORM
    nodes, uses = _fuse(p)
    nodes, n_slots = _split_linear(nodes, store, uses, p.n_slots)
    groups = _group(nodes, store, n_slots)
    return Lowered(_fold_products(groups, store, uses), store, n_slots)


def _dense_operands(node: Node, store: list[int]) -> tuple[list[int], list[int], list[int]] | None:
    """(weights, inputs, bias) of a linear node that can be a row of a dense kernel, else None."""
    ins = node.ins
    n = len(ins) // 2
    W, H, b = list(ins[:n]), list(ins[n:2 * n]), list(ins[2 * n:])
    if n == 0 or any(store[s] != BATCH for s in H):
        return None
    kinds = {store[s] for s in W}
    if len(kinds) != 1 or BATCH in kinds or (b and store[b[0]] == BATCH):
        return None
    return W, H, b


def _split_linear(nodes: list[Node], store: list[int], uses: list[int],
                  n_slots: int) -> tuple[list[Node], int]:
    """Each linear node that is no row of a dense kernel (per-sample weights, say, as in a dot product
    of a target with the outputs) as its products and one sum of them and its bias, in new slots."""
    out: list[Node] = []
    for node in nodes:
        if node.op != "linear" or _dense_operands(node, store) is not None:
            out.append(node)
            continue
        n = len(node.ins) // 2
        if n == 0:  # linear([], [], b): the bias alone
            out.append(Node("sum", node.out, node.ins, None, node.backward, node.position))
            continue
        terms = []
        for w, x in zip(node.ins[:n], node.ins[n:2 * n]):
            store.append(BATCH if BATCH in (store[w], store[x]) else UNIFORM)
            uses.append(1)
            out.append(Node("mul", n_slots, (w, x), None, node.backward, node.position))
            terms.append(n_slots)
            n_slots += 1
        terms.extend(node.ins[2 * n:])
        if len(terms) == 1:  # w * x alone, no bias: the product is the node
            out[-1].out = node.out
            store.pop()
            uses.pop()
            n_slots -= 1
        else:
            out.append(Node("sum", node.out, tuple(terms), None, node.backward, node.position))
    return out, n_slots


def _group(nodes: list[Node], store: list[int], n_slots: int) -> list[list[Node]]:
    """Nodes bucketed by depth and kind: each bucket is one array operation (or one matrix product)."""
    level = [0] * n_slots
    buckets: dict[tuple[Any, ...], list[Node]] = {}
    for node in nodes:
        level[node.out] = depth = 1 + max((level[s] for s in node.ins), default=0)
        sources = tuple(store[s] for s in node.ins)
        key: tuple[Any, ...]
        if node.op == "sum":
            # the terms are read per storage kind: only how many of each kind must agree
            key = ("sum", depth, sources.count(BATCH), sources.count(UNIFORM), sources.count(PARAM),
                   node.backward)
        elif node.op == "linear":  # a dense row: the same inputs, weights and biases in the same storage
            W, H, b = _dense_operands(node, store)  # type: ignore[misc]
            key = ("linear", depth, tuple(H), store[W[0]], tuple(store[s] for s in b), node.backward)
        else:
            key = (node.op, depth, node.arg, sources, node.backward)
        buckets.setdefault(key, []).append(node)
    ordered = sorted(buckets.items(), key=lambda kv: (kv[0][1], kv[1][0].position))
    return [group for _, group in ordered]  # each already in program order


def _fold_products(groups: list[list[Node]], store: list[int], uses: list[int]) -> list[Kernel]:
    """Dense kernels for the groups of linear nodes, and for each (products, sums) pair of groups that is a
    matrix product.

    The pattern of the second: sums i = 0..n-1 whose per-sample terms are exactly the products
    W[i][j] * H[j] of one group, W shared (a layer's weights) and H per sample (its input), each product
    used once. That is out = W @ H (+ the sums' shared terms, the biases): one BLAS call each way instead
    of n*m products and a reduction.
    """
    group_of: dict[int, int] = {}
    for gi, nodes in enumerate(groups):
        for node in nodes:
            group_of[node.out] = gi
    folded: dict[int, Dense] = {}
    dropped: set[int] = set()
    for gi, sums in enumerate(groups):
        if sums[0].op == "linear":
            rows = [_dense_operands(nd, store) for nd in sums]
            folded[gi] = Dense(sums, [r[0] for r in rows], rows[0][1], [r[2] for r in rows])  # type: ignore
            continue
        if sums[0].op != "sum":
            continue
        terms = [[s for s in nd.ins if store[s] == BATCH] for nd in sums]
        t = len(terms[0])
        if t == 0 or any(uses[s] != 1 for row in terms for s in row):
            continue
        source = {group_of.get(s, -1) for row in terms for s in row}
        if len(source) != 1:
            continue
        (mi,) = source
        if mi < 0 or mi in dropped or groups[mi][0].op != "mul" or len(groups[mi]) != len(sums) * t:
            continue
        shared = [[s for s in nd.ins if store[s] != BATCH] for nd in sums]
        if len({store[s] for row in shared for s in row}) > 1:
            continue  # biases from two storages: no single read for them
        products = {nd.out: nd for nd in groups[mi]}
        W: list[list[int]] = []
        H: list[int] = []
        fits = True
        for i, row in enumerate(terms):
            W.append([])
            for j, s in enumerate(row):
                a, b = products[s].ins
                if (store[a] == BATCH) == (store[b] == BATCH):
                    fits = False
                    break
                weight, x = (a, b) if store[b] == BATCH else (b, a)
                if i == 0:
                    H.append(x)
                elif H[j] != x:
                    fits = False
                    break
                W[i].append(weight)
            if not fits:
                break
        if not fits or len({store[s] for row in W for s in row}) != 1:
            continue
        folded[gi] = Dense(sums, W, H, shared)
        dropped.add(mi)
    return [folded.get(gi, nodes) for gi, nodes in enumerate(groups) if gi not in dropped]


def _fuse(p: Program) -> tuple[list[Node], list[int]]:
    """The program's ops, with every left-leaning chain of additions folded into one "sum" node; and how
    many times each slot is read (by ops, guards and outputs)."""
    uses = [0] * p.n_slots
    for ins in p.instructions:
        for s in ins.ins:
            uses[s] += 1
    for g in p.guards:
        uses[g.lhs] += 1
        if g.rhs is not None:
            uses[g.rhs] += 1
    for s in p.outputs:
        uses[s] += 1
    producer = {ins.out: i for i, ins in enumerate(p.instructions)}
    # an addition whose only use is as the left operand of another addition folds into it
    absorbed: set[int] = set()
    for ins in p.instructions:
        if ins.op == "add":
            j = producer.get(ins.ins[0])
            if j is not None and p.instructions[j].op == "add" and uses[ins.ins[0]] == 1:
                absorbed.add(j)
    nodes = []
    for i, ins in enumerate(p.instructions):
        if i in absorbed:
            continue
        backward = i < p.n_backward
        if ins.op != "add":
            nodes.append(Node(ins.op, ins.out, ins.ins, ins.arg, backward, i))
            continue
        terms = [ins.ins[1]]
        left = ins.ins[0]
        j = producer.get(left)
        while j is not None and j in absorbed:
            left, right = p.instructions[j].ins
            terms.append(right)
            j = producer.get(left)
        terms.append(left)
        terms.reverse()
        nodes.append(Node("sum", ins.out, tuple(terms), None, backward, i))
    return nodes, uses

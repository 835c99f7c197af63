"""The batched replay: a traced per-sample Program run over a whole mini-batch with NumPy.

Each slot of the program becomes a row of B numbers (one per sample); a slot that no input reaches is
*shared*: a row of one number (a constant, an op on shared numbers) or an entry of the parameter array
(a captured leaf). The lowering (lowering.py) turns a layer's weighted sums into one matrix product and
groups the other ops by depth and kind; here each kernel becomes one or a few NumPy calls, over rows laid
out kernel by kernel, so most operands are slices and a layer's weights a strided view of the parameter
array, never a copy. Measured, forward + backward of one batch:

                                          mlp_step, 100 samples    digits, 32 samples, MLP(64, [32, 10])
    one op at a time                      3.9 ms                   29 ms
    chains of additions as sums           2.5 ms                   18 ms
    ops of one kind and depth grouped     0.26 ms                  0.63 ms
    weighted sums as matrix products      0.10 ms                  0.18 ms

NOTE: results match eager evaluation to a few ulps, not bitwise: NumPy's exp, log, tanh, sin, cos and
power may differ from the math module in the last place, a sum adds its shared terms (a bias) after its
per-sample ones, and a matrix product (BLAS) adds in an order of its own. A sample whose numbers leave
the finite range in an op that can raise (+, -, *, div, pow, exp, log, sqrt, sin, cos, a weighted sum) is
flagged, so the caller can replay it exactly, one sample at a time, and raise eager's error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..ops import OPS
from .lowering import BATCH, PARAM, UNIFORM, Dense, Node, lower
from .program import COMPARISONS, Program

Array = Any  # np.ndarray; kept loose so mypy needs no NumPy stubs for the engine

# Ops the lowering rewrites into others (a weighted sum: a matrix product, or products and a sum), so they
# need no rule on arrays of their own.
LOWERED = frozenset({"linear"})

# -- the op table on arrays ------------------------------------------------------------------------------


class ArrayOp(NamedTuple):
    """One op on float64 arrays: the forward, the local derivatives, and whether it can raise on floats."""

    forward: Callable[..., Array]
    local: Callable[..., tuple[Any, ...]]
    checked: bool  # True: a non-finite result or derivative sends the sample to the exact scalar replay


def _sigmoid(x: Array) -> Array:
    # the table's branch on the sign, on arrays: e = exp(-|x|) never overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _rpow_derivatives(out: Array, x: Array, c: float) -> tuple[Array]:
    # the table's rule: d c^x = c^x log c; 0 at c = 0, nan for c < 0
    if c == 0:
        return (np.zeros_like(out),)
    return (out * (np.log(c) if c > 0 else np.nan),)


def _vpow_derivatives(out: Array, x: Array, y: Array) -> tuple[Array, Array]:
    # the table's rule on arrays: d/dx = y x^(y-1), 0 where x = y = 0; d/dy = x^y log x, 0 where x = 0
    # (nan where x < 0)
    dx = np.where((y == 0) & (x == 0), 0.0, y * np.power(x, y - 1))
    dy = np.where(x == 0, 0.0, out * np.log(x))  # log: nan for x < 0 (run() silences the warnings)
    return dx, dy


def _positive(x: Array) -> Array:
    return (x > 0).astype(np.float64)


def _relu(x: Array, out: Array | None = None) -> Array:
    # NOTE: maximum, not fmax: relu(nan) is nan in the table, as in torch
    return np.maximum(x, 0.0, out=out)


def array_op(name: str) -> ArrayOp:
    """The op ``name`` on arrays. Rules that are plain arithmetic are the op table's own (so a changed rule
    changes both replays); rules that branch on a value or call ``math`` are restated with NumPy."""
    local = OPS[name].derivatives  # arithmetic rules run unchanged on arrays
    table: dict[str, ArrayOp] = {
        # NOTE: + - * are checked: the table raises OverflowError where finite operands give an infinity
        "add": ArrayOp(np.add, local, True),
        "sub": ArrayOp(np.subtract, local, True),
        "mul": ArrayOp(np.multiply, local, True),
        "div": ArrayOp(np.divide, local, True),
        "neg": ArrayOp(np.negative, local, False),
        "pow": ArrayOp(np.power, local, True),
        "rpow": ArrayOp(lambda x, c: np.power(c, x), _rpow_derivatives, True),
        "vpow": ArrayOp(np.power, _vpow_derivatives, True),
        # d|x| = sign(x) with 0 at 0, and (as the table's comparisons give) 0 at nan
        "abs": ArrayOp(np.abs, lambda out, x: (_positive(x) - (x < 0),), False),
        "exp": ArrayOp(np.exp, local, True),
        "log": ArrayOp(np.log, local, True),
        "sqrt": ArrayOp(np.sqrt, local, True),
        "tanh": ArrayOp(np.tanh, local, False),
        "sigmoid": ArrayOp(_sigmoid, local, False),
        # The derivative stays a bool array (0 where out <= 0, so 1 at nan): multiplying by it saves a
        # conversion (measured 5 us).
        "relu": ArrayOp(_relu, lambda out, x: (~(out <= 0),), False),
        "leaky_relu": ArrayOp(lambda x, a: np.where(x > 0, x, a * x),
                              lambda out, x, a: (np.where(x > 0, 1.0, a),), False),
        "softplus": ArrayOp(lambda x: np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))),
                            lambda out, x: (_sigmoid(x),), False),
        "sin": ArrayOp(np.sin, lambda out, x: (np.cos(x),), True),
        "cos": ArrayOp(np.cos, lambda out, x: (-np.sin(x),), True),
    }
    if name in LOWERED:
        raise ValueError(f"compile: op {name!r} is lowered (lowering.py) into matrix products, or products "
                         "and a sum, before the batched replay: it has no rule on arrays of its own")
    if name not in table:
        raise NotImplementedError(
            f"compile: op {name!r} has no NumPy rule for batched replay; add it to numpy_replay.array_op"
        )
    return table[name]


# -- operands: how a kernel reads (and sends gradient to) the rows of one operand position ------------------

RANGE, STRIDED, TILE, REPEAT, GATHER = "range", "strided", "tile", "repeat", "gather"

# The storages of a replay, indexed by lowering.BATCH, UNIFORM, PARAM: the per-sample rows (R, B), the
# shared rows (U, 1), the parameter array as a column (P, 1); and their gradients, the same shapes.
Stores = tuple[Array, Array, Array]


class Operand:
    """The rows one operand position reads in one storage, seen as an (n, m, X) array for a group of n*m
    ops, where X is B for per-sample rows and 1 for shared ones.

    RANGE: rows a..a+n*m in order; STRIDED: rows a, a+s, a+2s, ...; TILE: rows a..a+m for each of the n;
    REPEAT: rows a..a+n, each m times; GATHER: any rows (a copy). The first four are views, no copy.
    """

    def __init__(self, store: int, idx: Array, n: int, m: int, skip: bool) -> None:
        self.store = store
        self.batch = store == BATCH
        self.input_only = False  # every row an input of the program (set by the plan)
        self.idx = idx
        self.n, self.m = n, m
        self.skip = skip  # constants only: no gradient to send
        self.a = a = int(idx[0]) if len(idx) else 0
        self.step = int(idx[1]) - a if len(idx) > 1 else 1
        grid = idx.reshape(n, m)
        if np.array_equal(idx, np.arange(a, a + n * m)):
            self.kind = RANGE
        elif self.step > 1 and np.array_equal(idx, a + self.step * np.arange(n * m)):
            self.kind = STRIDED
        elif n > 1 and np.array_equal(grid, np.broadcast_to(np.arange(a, a + m), (n, m))):
            self.kind = TILE
        elif m > 1 and np.array_equal(grid, np.broadcast_to(np.arange(a, a + n)[:, None], (n, m))):
            self.kind = REPEAT
        else:
            self.kind = GATHER
            # scatter plan for the backward: rows sorted, so repeated rows add up with one reduceat
            self.unique = len(np.unique(idx)) == len(idx)
            self.order = np.argsort(idx, kind="stable")
            self.rows, self.starts = np.unique(idx[self.order], return_index=True)

    def rows_of(self, arr: Array) -> Array:
        """The operand's rows of ``arr`` as (k, X), a view unless the rows are gathered."""
        a, k = self.a, self.n * self.m
        if self.kind == RANGE:
            return arr[a:a + k]
        if self.kind == STRIDED:
            return arr[a:a + self.step * (k - 1) + 1:self.step]
        return arr[self.idx]

    def fetch(self, stores: Stores) -> Array:
        arr = stores[self.store]
        a, n, m = self.a, self.n, self.m
        if self.kind == TILE:
            return arr[a:a + m][None]
        if self.kind == REPEAT:
            return arr[a:a + n][:, None]
        return self.rows_of(arr).reshape(n, m, -1)

    def send(self, grads: Stores, c: Array) -> None:
        """Add the contribution ``c`` (broadcastable to (n, m, X)) to the grads of these rows."""
        if not self.batch and c.shape[2] != 1:
            c = c.sum(axis=2, keepdims=True)  # a shared slot's grad is summed over the batch
        arr = grads[self.store]
        a, n, m = self.a, self.n, self.m
        if self.kind in (RANGE, STRIDED):
            view = self.rows_of(arr).reshape(n, m, -1)  # splits the first axis: still a view
            view += c
            return
        c = np.broadcast_to(c, (n, m, c.shape[2]))
        if self.kind == TILE:
            arr[a:a + m] += c.sum(axis=0)
        elif self.kind == REPEAT:
            arr[a:a + n] += c.sum(axis=1)
        elif self.unique:
            arr[self.idx] += c.reshape(n * m, -1)
        else:
            # NOTE: np.add.at is ~7x slower than sorting and reduceat (measured on 256 x 100)
            flat = c.reshape(n * m, -1)
            arr[self.rows] += np.add.reduceat(flat[self.order], self.starts, axis=0)


class Grid:
    """An (n, m) grid of rows of one shared storage read as a matrix (a layer's weights): a strided view
    of the storage when the rows are evenly spaced (a neuron's weights side by side, the next neuron's
    after its bias), else a copy."""

    def __init__(self, store: int, idx: Array, skip: bool) -> None:
        n, m = idx.shape
        self.store, self.idx, self.skip, self.shape = store, idx, skip, (n, m)
        a = int(idx[0, 0])
        col = int(idx[0, 1]) - a if m > 1 else 1
        row = int(idx[1, 0]) - a if n > 1 else m * col
        # views only where the rows neither overlap nor run backwards (a gradient is added through them)
        self.affine = (col >= 1 and row >= (m - 1) * col + 1 and np.array_equal(
            idx, a + row * np.arange(n)[:, None] + col * np.arange(m)[None, :]))
        self.offset, self.strides = a * 8, (row * 8, col * 8)

    def read(self, stores: Stores) -> Array:
        arr = stores[self.store]
        if self.affine:
            return np.ndarray(self.shape, np.float64, buffer=arr, offset=self.offset, strides=self.strides)
        return arr[self.idx, 0]

    def send(self, grads: Stores, c: Array) -> None:
        view = self.read(grads)
        if self.affine:
            view += c
        else:
            np.add.at(grads[self.store][:, 0], self.idx, c)  # rare: a weight read by two sums


# -- the plan ------------------------------------------------------------------------------------------


@dataclass
class Group:
    """The ops of one kind at one depth, each way one NumPy call."""

    op: str  # an op name, "sum", or "dense"
    arg: float | None
    out_store: int  # BATCH or UNIFORM
    out: int  # the outputs are rows out..out+n*m of that storage
    n: int
    m: int
    # per operand position; "sum": one per storage, each (k, terms); "dense": [weights grid, inputs, bias]
    operands: list[Any]
    backward: bool
    array_op: ArrayOp | None
    terms: tuple[int, ...] = ()  # "sum": how many terms per storage; "dense": (inputs, bias terms)


class BatchResult(NamedTuple):
    outputs: Array  # (n_outputs, B)
    ok: Array  # (B,) bool: passed every guard, and no checked op left the finite range (None if all_ok)
    failed_guard: Array  # (B,) int: the first guard the sample failed, -1 if none (None if all_ok)
    input_grads: Array | None  # (n_inputs, B), per sample
    live_grads: Array | None  # (n_live,): the grads of the captured leaves read live, summed over the batch
    all_ok: bool = False  # every sample ok (then ok and failed_guard say nothing more)


class _Workspace(threading.local):
    """A thread's arrays for the runs of one plan, kept between runs: allocating the rows (and a layer's
    weight gradient) afresh for every batch made the kernel touch new pages each time (measured: 85,000
    floats updated in place 47 us, through a new array 415 us)."""

    def __init__(self) -> None:
        self.arrays: dict[Any, Array] = {}

    def get(self, key: Any, shape: tuple[int, ...]) -> Array:
        arr = self.arrays.get(key)
        if arr is None or arr.shape != shape:
            arr = self.arrays[key] = np.empty(shape)
        return arr


class Plan:
    """A Program laid out for batched replay; ``run`` replays it on a batch.

    ``param_rows`` maps the captured slots that live in the parameter array to their entries (None: all
    of them, in the program's order of captured leaves); the other captured leaves are read *live*, their
    numbers passed to every run.
    """

    def __init__(self, p: Program, param_rows: Mapping[int, int] | None = None) -> None:
        if param_rows is None:
            param_rows = {s: i for i, s in enumerate(p.captured_slots)}
        self.program = p
        self.param_rows = dict(param_rows)
        self.live = [i for i, s in enumerate(p.captured_slots) if s not in self.param_rows]
        self._steps: list[Step] | None = None
        self._work = _Workspace()
        self.n_inputs = len(p.inputs)
        lowered = lower(p, self.param_rows)
        self._layout(p, lowered.kernels, lowered.store, lowered.n_slots)

    def _layout(self, p: Program, kernels: list[Any], store: list[int], n_slots: int) -> None:
        # Rows: inputs first, in argument order (a batch loads as one slice); then each kernel's outputs
        # side by side; shared leaves in the order the kernels first read them, so reads are slices.
        rows: list[dict[int, int]] = [{s: i for i, s in enumerate(p.inputs)}, {}, self.param_rows]
        computed = {ins.out for ins in p.instructions} | set(range(p.n_slots, n_slots))
        constants = {s for s, _ in p.constants}
        urow = rows[UNIFORM]
        for item in kernels:
            if isinstance(item, Dense):
                reads = [s for row in item.W for s in row] + [s for row in item.shared for s in row]
            else:
                reads = [node.ins[j] for j in range(len(item[0].ins)) for node in item]
            for s in reads:
                if store[s] == UNIFORM and s not in computed and s not in urow:
                    urow[s] = len(urow)
        for s in (*p.captured_slots, *constants):
            if store[s] == UNIFORM and s not in urow:
                urow[s] = len(urow)
        n_batch = len(p.inputs)
        self.groups: list[Group] = []
        for item in kernels:
            nodes = item.nodes if isinstance(item, Dense) else item
            out_store = store[nodes[0].out]
            start = n_batch if out_store == BATCH else len(urow)
            for i, node in enumerate(nodes):
                rows[out_store][node.out] = start + i
            if out_store == BATCH:
                n_batch += len(nodes)
            if isinstance(item, Dense):
                self.groups.append(_dense_group(item, store, rows, constants, start))
            elif nodes[0].op == "sum":
                self.groups.append(_sum_group(nodes, store, rows, constants, start))
            else:
                self.groups.append(_op_group(nodes, store, rows, constants, start))
        self.n_batch = n_batch
        self.n_uniform = len(urow)
        for g in self.groups:
            for o in g.operands:
                if isinstance(o, Operand) and o.batch:
                    o.input_only = bool(len(o.idx)) and int(o.idx.max()) < self.n_inputs

        def where(s: int) -> tuple[int, int]:
            return store[s], rows[store[s]][s]

        self.live_rows = np.array([urow[p.captured_slots[i]] for i in self.live], dtype=np.intp)
        self.u0 = np.zeros((self.n_uniform, 1))
        for s, c in p.constants:
            self.u0[urow[s], 0] = c
        self.outputs = [where(s) for s in p.outputs]
        self.output_rows = np.array([r for _, r in self.outputs], dtype=np.intp)
        self.guards = [(g, where(g.lhs), None if g.rhs is None else where(g.rhs)) for g in p.guards]

    # -- running --------------------------------------------------------------------------------------------
    def run(self, inputs: Array, params: Array, live: Sequence[float], seed: Array | None,
            input_grads: bool = False, param_grads: Array | None = None) -> BatchResult:
        """Replay on a batch. ``inputs`` is (n_inputs, B); ``params`` the parameter array (1-D, float64,
        contiguous); ``live`` the numbers of the live leaves. With ``seed`` (B,), the grad each sample's
        output starts the backward with, also computes gradients, if every sample is ok (else only the
        forward): the parameters' are added to ``param_grads`` (the shape of ``params``)."""
        if self._steps is None:
            self._steps = [_group_step(g, i, self._work) for i, g in enumerate(self.groups)]
        B = inputs.shape[1]
        vals = self._work.get("vals", (self.n_batch, B))
        vals[: self.n_inputs] = inputs
        u = self.u0.copy()
        if len(self.live_rows):
            u[self.live_rows, 0] = live
        stores = (vals, u, params[:, None])
        bad = np.zeros(B, dtype=bool)
        want_grad = seed is not None
        with np.errstate(all="ignore"):
            saved = [forward(stores, bad, want_grad) for forward, _ in self._steps]
            failed = None
            for i in reversed(range(len(self.guards))):  # reversed: the first failing guard is kept
                holds = self._holds(i, stores)
                if not holds.all():
                    failed = np.where(holds, np.full(B, -1) if failed is None else failed, i)
            all_ok = failed is None and not bad.any()
            ok = None
            if not all_ok:
                if failed is None:
                    failed = np.full(B, -1)
                ok = (failed < 0) & ~bad
            if all(k == BATCH for k, _ in self.outputs):  # a copy: the rows are used again next run
                outputs = vals[self.output_rows]
            else:
                outputs = np.stack([stores[k][r] if k == BATCH else np.full(B, stores[k][r, 0])
                                    for k, r in self.outputs])
            if not want_grad or not all_ok:
                return BatchResult(outputs, ok, failed, None, None, all_ok)
            assert seed is not None
            if param_grads is None:
                param_grads = np.zeros_like(params)
            grad_rows = self._work.get("grads", (self.n_batch, B))
            grad_rows.fill(0.0)
            grads = (grad_rows, np.zeros((self.n_uniform, 1)), param_grads[:, None])
            kind, root = self.outputs[0]  # gradients are of the first output
            if kind == BATCH:
                grads[BATCH][root] = seed
            else:
                grads[kind][root, 0] += seed.sum()
            for (_, backward), local in zip(reversed(self._steps), reversed(saved)):
                if backward is not None:
                    backward(grads, local, input_grads)
        return BatchResult(outputs, ok, failed, grad_rows[: self.n_inputs].copy() if input_grads else None,
                           grads[UNIFORM][self.live_rows, 0], True)

    def _holds(self, i: int, stores: Stores) -> Any:
        guard, (lk, lr), rhs = self.guards[i]
        x = stores[lk][lr] if lk == BATCH else stores[lk][lr, 0]
        if guard.kind == "float":
            e = guard.expected
            return ((x == e) & (np.signbit(x) == np.signbit(e))) | (np.isnan(x) & np.isnan(e))
        assert rhs is not None
        y = stores[rhs[0]][rhs[1]] if rhs[0] == BATCH else stores[rhs[0]][rhs[1], 0]
        return COMPARISONS[guard.kind](x, y) == guard.expected


# -- building the groups -----------------------------------------------------------------------------------


def _idx(slots: Sequence[int], rows: dict[int, int]) -> Array:
    return np.array([rows[s] for s in slots], dtype=np.intp)


def _period(idx: Array) -> int:
    """The m of an index list that is tiled (rows a..a+m, n times) or repeated (each row m times), else 1."""
    k = len(idx)
    if k < 4:
        return 1
    a = int(idx[0])
    for m in range(2, k // 2 + 1):
        if k % m:
            continue
        grid = idx.reshape(k // m, m)
        if np.array_equal(grid, np.broadcast_to(np.arange(a, a + m), grid.shape)):
            return m
        if np.array_equal(grid, np.broadcast_to(np.arange(a, a + k // m)[:, None], grid.shape)):
            return m
    return 1


def _op_group(nodes: list[Node], store: list[int], rows: list[dict[int, int]], constants: set[int],
              start: int) -> Group:
    first = nodes[0]
    k = len(nodes)
    stores = [store[s] for s in first.ins]
    idxs = [_idx([nd.ins[j] for nd in nodes], rows[stores[j]]) for j in range(len(first.ins))]
    m = 1
    for idx in idxs:
        m = _period(idx)
        if m > 1:
            break
    n, m = (k // m, m) if m > 1 else (1, k)
    operands = [Operand(stores[j], idx, n, m, all(nd.ins[j] in constants for nd in nodes))
                for j, idx in enumerate(idxs)]
    return Group(first.op, first.arg, store[first.out], start, n, m, operands, first.backward,
                 array_op(first.op))


def _sum_group(nodes: list[Node], store: list[int], rows: list[dict[int, int]], constants: set[int],
               start: int) -> Group:
    k = len(nodes)
    operands, counts = [], []
    for kind in (BATCH, UNIFORM, PARAM):
        grid = [[rows[kind][s] for s in nd.ins if store[s] == kind] for nd in nodes]
        t = len(grid[0])
        counts.append(t)
        idx = np.array(grid, dtype=np.intp).reshape(k * t)
        skip = all(s in constants for nd in nodes for s in nd.ins if store[s] == kind)
        operands.append(Operand(kind, idx, k, t, skip) if t else None)
    return Group("sum", None, store[nodes[0].out], start, k, 1, operands, nodes[0].backward, None,
                 tuple(counts))


def _dense_group(d: Dense, store: list[int], rows: list[dict[int, int]], constants: set[int],
                 start: int) -> Group:
    n, m = len(d.W), len(d.H)
    w_store = store[d.W[0][0]]
    w = Grid(w_store, np.array([[rows[w_store][s] for s in r] for r in d.W], dtype=np.intp).reshape(n, m),
             all(s in constants for r in d.W for s in r))
    h = Operand(BATCH, _idx(d.H, rows[BATCH]), 1, m, False)
    t = len(d.shared[0])
    bias = None
    if t:
        b_store = store[d.shared[0][0]]
        bias = Operand(b_store, _idx([s for r in d.shared for s in r], rows[b_store]), n, t,
                       all(s in constants for r in d.shared for s in r))
    return Group("dense", None, BATCH, start, n, 1, [w, h, bias], d.nodes[0].backward, None, (m, t))


# -- one group as two closures: forward(stores, bad, want_grad) -> saved;
#    backward(grads, saved, inputs_too): inputs_too, send gradients to the program's inputs too ------------
# Closures over precomputed slices: the per-group cost is then little more than its NumPy calls (measured:
# 0.24 vs 0.35 ms for mlp_step's forward + backward with generic methods reading the group's fields).

Step = tuple[Callable[..., Any], "Callable[..., None] | None"]


def _reader(o: Operand, flat: bool) -> Callable[[Stores], Array]:
    """fetch() as a closure; ``flat``: the group is one row of ops, read as (k, X) instead of (1, k, X)."""
    if not flat:
        return o.fetch
    kind, a, store = o.kind, o.a, o.store
    if kind == REPEAT:  # one row read by every op of the group: broadcast it
        return lambda s: s[store][a:a + 1]
    k = o.n * o.m
    if kind == RANGE:
        return lambda s: s[store][a:a + k]
    if kind == STRIDED:  # a slice too (no copy), its bounds worked out once
        stop, step = a + o.step * (k - 1) + 1, o.step
        return lambda s: s[store][a:stop:step]
    return lambda s: o.rows_of(s[store])


def _sender(o: Operand, flat: bool) -> Callable[[Stores, Array], None] | None:
    """send() as a closure (None for constants, which get no gradient)."""
    if o.skip:
        return None
    a, k, store = o.a, o.n * o.m, o.store
    if o.kind == RANGE and flat:
        if o.batch:
            def send_rows(g: Stores, c: Array) -> None:
                g[store][a:a + k] += c
            return send_rows

        def send_shared(g: Stores, c: Array) -> None:
            g[store][a:a + k] += c.sum(axis=1, keepdims=True) if c.shape[1] != 1 else c
        return send_shared
    if flat:
        return lambda g, c: o.send(g, np.broadcast_to(c, (k, c.shape[-1])).reshape(1, k, -1))
    return o.send


def _group_step(g: Group, index: int, work: _Workspace) -> Step:
    if g.op == "dense":
        return _dense_step(g, index, work)
    if g.op == "sum":
        return _sum_step(g)
    assert g.array_op is not None
    o, k = g.out, g.n * g.m
    out_store = g.out_store
    flat = g.n == 1
    forward_rule, local_rule, checked = g.array_op
    # + - *: local derivatives that are operands or constants, finite where the operands are: the result
    # alone is checked
    check_local = checked and g.op not in ("add", "sub", "mul")
    readers = [_reader(x, flat) for x in g.operands]
    senders = [_sender(x, flat) for x in g.operands]
    to_inputs = [x.input_only for x in g.operands]
    extra = () if g.arg is None else (g.arg,)
    shape = (g.n, g.m, -1)
    backward_needed = g.backward
    # ufuncs (and relu) write straight into the group's rows: no array in between (a layer's relu, 256
    # rows of 32 samples: 5.3 -> 3.3 us)
    in_place = flat and (isinstance(forward_rule, np.ufunc) or forward_rule is _relu)

    def forward(stores: Stores, bad: Array, want_grad: bool) -> Any:
        xs = [r(stores) for r in readers]
        if in_place:
            out = forward_rule(*xs, *extra, out=stores[out_store][o:o + k])
        else:
            out = forward_rule(*xs, *extra)
            if flat:
                stores[out_store][o:o + k] = out
            else:  # NOTE: operands that all repeat (x - y twice, for (x - y) * (x - y)) give fewer rows
                stores[out_store][o:o + k] = np.broadcast_to(out, (g.n, g.m, out.shape[-1])).reshape(k, -1)
        local = local_rule(out, *xs, *extra) if want_grad and backward_needed else None
        if checked:
            if check_local and local:
                _flag(bad, out_store, out, *local)
            else:
                _flag(bad, out_store, out)
        return local

    def backward(grads: Stores, local: Any, inputs_too: bool) -> None:
        gout = grads[out_store][o:o + k]
        if not flat:
            gout = gout.reshape(shape)
        for send, d, to_input in zip(senders, local, to_inputs):
            if send is not None and (inputs_too or not to_input):
                send(grads, gout if (type(d) is float and d == 1.0) else d * gout)

    return forward, backward if backward_needed else None


def _flag(bad: Array, out_store: int, *arrays: Any) -> None:
    """Mark the samples where a checked op's result or a local derivative is not finite.

    One sum per array first: it is finite when every element is (or the sum overflowed, which the
    element-wise check then clears), so a batch without trouble costs one call per array.
    """
    for a in arrays:
        if type(a) is float or math_isfinite(a.sum()):
            continue
        flagged = ~np.isfinite(a)
        if out_store == BATCH:
            flagged = np.broadcast_to(flagged, flagged.shape[:-1] + (bad.shape[0],))
            bad |= flagged.reshape(-1, bad.shape[0]).any(axis=0)
        elif flagged.any():
            bad[:] = True


def math_isfinite(x: Any) -> bool:
    return bool(x - x == 0)  # inf - inf and nan - nan are nan; NumPy scalars, no conversion


def _sum_step(g: Group) -> Step:
    o, k = g.out, g.n
    out_store = g.out_store
    parts = [(x, t) for x, t in zip(g.operands, g.terms) if t]

    def forward(stores: Stores, bad: Array, want_grad: bool) -> None:
        total = None
        for x, t in parts:
            terms = x.fetch(stores)
            if x.kind in (TILE, REPEAT):
                terms = np.broadcast_to(terms, (k, t, terms.shape[2]))
            part = terms[:, 0] if t == 1 else np.add.reduce(terms, axis=1)
            total = part if total is None else total + part
        stores[out_store][o:o + k] = total
        _flag(bad, out_store, total)

    def backward(grads: Stores, local: Any, inputs_too: bool) -> None:
        g3 = grads[out_store][o:o + k].reshape(k, 1, -1)
        for x, _ in parts:
            if not x.skip and (inputs_too or not x.input_only):
                x.send(grads, g3)  # d(t0 + t1 + ...)/dti = 1: every term gets the sum's grad

    return forward, backward if g.backward else None


def _dense_step(g: Group, index: int, work: _Workspace) -> Step:
    o, n = g.out, g.n
    w, h, bias = g.operands
    m, t = g.terms
    # a kernel per layer runs on every batch: its reads are slices set up once (measured: a layer of
    # micrograd's demo, forward and backward, 30 -> 20 us)
    plain_h = h.kind in (RANGE, STRIDED)
    read_h = _reader(h, True) if plain_h else None
    plain_bias = bias is not None and t == 1 and bias.kind in (RANGE, STRIDED)
    read_bias = _reader(bias, True) if plain_bias else None

    def inputs(stores: Stores) -> Array:
        if read_h is not None:
            return read_h(stores)
        H = h.fetch(stores)  # a tiled or repeated read (an input used twice in a sum) has fewer rows
        return H[0] if h.kind == GATHER else np.broadcast_to(H, (1, m, H.shape[2]))[0]

    def forward(stores: Stores, bad: Array, want_grad: bool) -> Any:
        W = w.read(stores)
        H = inputs(stores)
        out = stores[BATCH][o:o + n]
        np.matmul(W, H, out=out)
        if read_bias is not None:
            out += read_bias(stores)
        elif bias is not None:
            out += np.add.reduce(bias.fetch(stores), axis=1)
        _flag(bad, BATCH, out)
        return W, H

    def backward(grads: Stores, local: Any, inputs_too: bool) -> None:
        # out = W @ H + b: dW = G H^T, dH = W^T G, db = G summed over the batch; the products go to
        # arrays kept between runs (see _Workspace)
        W, H = local
        G = grads[BATCH][o:o + n]
        if not w.skip:
            w.send(grads, np.matmul(G, H.T, out=work.get((index, "W"), W.shape)))
        if not h.skip and (inputs_too or not h.input_only):
            dH = np.matmul(W.T, G, out=work.get((index, "H"), H.shape))
            if read_h is not None:
                rows = read_h(grads)
                rows += dH
            else:
                h.send(grads, dH[None])
        if bias is not None and not bias.skip:
            db = G.sum(axis=1, keepdims=True)
            if read_bias is not None:
                rows = read_bias(grads)
                rows += db
            else:
                bias.send(grads, db[:, None])

    return forward, backward if g.backward else None

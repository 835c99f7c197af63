"""The `chainrule` command line: render a formula's graph, train a small network, run the demo.

Bad input (an unknown option value, an unparsable formula, an unbound name, an unwritable output path)
gives a one-line error on stderr (a formula error adds the formula with a caret under the cause), exit
status 2, and writes nothing; a missing optional tool or a failed write gives exit status 1. Outputs are
written under temporary names and renamed into place, so none is ever left half-written.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from autograd import Value, draw_graph, no_grad, toposort
from nn import data
from nn.expr import FUNCTIONS, ExpressionError, parse
from nn.layers import MLP
from nn.module import save
from nn.optim import SGD, Adam, Optimizer
from nn.train import Evaluation, History, evaluate, fit

_GRAPH_FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot"}


class UsageError(Exception):
    """Bad input: reported as one line (plus a pointer under a formula), exit status 2."""

    def __init__(self, message: str, pointer: str = "", prog: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer  # the formula with a caret under the offending part, or ""
        self.prog = prog  # "chainrule graph"; filled in by main() when empty


class Failure(Exception):
    """Not the input's fault (a missing optional tool, a failed write): one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    # NOTE: argparse prints its usage block and calls sys.exit(2) on bad input; raising instead keeps
    # the error to one line and lets main() return a status when it is called in-process.
    def error(self, message: str) -> NoReturn:
        if self.prog.endswith(" graph") and "expression" in message:
            # argparse reads "-x*x" as an option; "--" ends the options
            message += "; a formula that starts with '-' goes last, after '--': ... --out g.svg -- '-x*x'"
        raise UsageError(message, prog=self.prog)


# --------------------------------------------------------------------------------------------------
# chainrule graph


def graph(expression: str, settings: Sequence[tuple[str, float]], out: str) -> int:
    """Build ``expression`` from Values, run backward and render its graph to ``out`` (.svg, .png, .dot)."""
    path = Path(out)
    fmt = _GRAPH_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"--out {out!r}: the file name must end in .svg, .png or .dot")
    _check_writable_file(path)
    bindings = _bindings(settings)
    try:
        formula = parse(expression)
    except ExpressionError as err:
        raise UsageError(err.message, err.pointer() if err.start is not None else "") from None
    unknown = [name for name in bindings if name not in formula.names]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, formula.names, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; its names are {', '.join(formula.names)}"
        raise UsageError(f"--set {name}=...: {name} does not appear in the formula{hint}")
    missing = [name for name in formula.names if name not in bindings]
    if missing:
        sets = " ".join(f"--set {name}=VALUE" for name in missing)
        raise UsageError(f"no value for {', '.join(missing)}; pass {sets}")
    try:
        root, leaves = formula.evaluate(bindings)
    except ExpressionError as err:
        raise UsageError(err.message, err.pointer() if err.start is not None else "") from None
    root.backward()
    _write_file(path, _render(root, fmt))
    print(f"{expression} = {root.data:.6g}")
    for name, leaf in leaves.items():
        print(f"  d/d{name} = {leaf.grad:.6g}")
    print(f"wrote {path}")
    return 0


def _bindings(settings: Sequence[tuple[str, float]]) -> dict[str, float]:
    bindings: dict[str, float] = {}
    for name, value in settings:
        if name in bindings:
            raise UsageError(f"--set {name} is given twice; give each name once")
        bindings[name] = value
    return bindings


def _setting(text: str) -> tuple[str, float]:
    """Parse one ``--set NAME=VALUE``."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (e.g. --set x1=2)")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{text!r}: the value must be a finite number")
    return name, number


def _render(root: Value, fmt: str, params: Sequence[Value] | None = None) -> bytes:
    """The graph of ``root`` as DOT source, or rendered by Graphviz to SVG or PNG bytes."""
    try:
        digraph = draw_graph(root, params=params)
    except ImportError:
        raise Failure(
            "drawing graphs needs the graphviz package: pip install 'chainrule[graph]'"
        ) from None
    if fmt == "dot":
        return str(digraph.source).encode("utf-8")
    import graphviz  # present: draw_graph needs it

    try:
        return bytes(digraph.pipe(format=fmt))
    except graphviz.ExecutableNotFound:
        raise Failure(
            "rendering needs Graphviz's `dot` program: sudo apt-get install graphviz (macOS: brew install "
            "graphviz), or write DOT source with --out FILE.dot"
        ) from None


# --------------------------------------------------------------------------------------------------
# Writing outputs: check first, write to a temporary name, rename into place


def _probe(directory: Path, what: str) -> None:
    """Fail now, before any work, if ``directory`` cannot hold a new file (a real try: root ignores modes)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".chainrule-probe-")
    except OSError as err:
        raise UsageError(f"{what}: cannot write to {str(directory)!r}: {err.strerror or err}") from None
    os.close(fd)
    os.unlink(tmp)


def _check_writable_file(path: Path) -> None:
    if path.is_dir():
        raise UsageError(f"--out {str(path)!r} is a directory; give a file name, e.g. {path / 'graph.svg'}")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"--out {str(path)!r}: the folder {str(parent)!r} does not exist; create it first")
    _probe(parent, f"--out {str(path)!r}")


def _check_writable_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {str(path)!r} is a file, not a directory; give a directory name")
    if path.is_dir():
        _probe(path, f"--out {str(path)!r}")
        return
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"--out {str(path)!r}: the folder {str(parent)!r} does not exist; create it first")
    _probe(parent, f"--out {str(path)!r}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_file(path: Path, content: bytes) -> None:
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
        tmp = ""
    except OSError as err:
        raise Failure(f"could not write {str(path)!r}: {err}") from None
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A temporary directory beside (or inside) ``out``; its files move into ``out`` only on success.

    A failed write (disk full, a value JSON cannot hold) removes the temporary directory and becomes a
    one-line ``Failure``.
    """
    home = out if out.is_dir() else out.parent
    try:
        staging = Path(tempfile.mkdtemp(dir=home, prefix=".chainrule-"))
    except OSError as err:
        raise Failure(f"cannot write to {str(home)!r}: {err.strerror or err}") from None
    try:
        yield staging
        if out.is_dir():
            for item in staging.iterdir():
                os.replace(item, out / item.name)
        else:
            os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700
            os.rename(staging, out)
    except (OSError, ValueError) as err:
        raise Failure(f"could not write the outputs to {str(out)!r}: {err}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# chainrule train

DATASETS = ("moons", "circles", "spirals", "digits", "faces")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu")
OPTIMIZERS = ("sgd", "adam")
_TOY_SAMPLES = 200  # moons, circles and spirals: enough for a clear boundary, seconds per epoch at most
_TEST_SIZE = 0.25
_GRID = 50  # decision-boundary grid points per axis: 2,500 forward passes, 1.0 s for the 16,16 MLP


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``chainrule train`` needs; the defaults are the command's."""

    dataset: str = "moons"
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 0.05
    momentum: float = 0.9  # SGD only
    epochs: int = 50
    batch_size: int = 32
    seed: int = 0
    samples: int | None = None  # None: 200 for the 2-D datasets, all for digits and faces


# The demo: two moons and a small MLP, a few seconds on one core, ~98% test accuracy.
DEMO_CONFIG = TrainConfig(hidden=(8, 8), epochs=30)


@dataclass
class _Trained:
    config: TrainConfig
    model: MLP
    history: History
    test: Evaluation
    X_train: list[list[float]]
    y_train: list[int]
    X_test: list[list[float]]
    y_test: list[int]
    warning: str


def train(config: TrainConfig, out: str, *, progress: bool = True) -> int:
    """Train an MLP on ``config.dataset`` and write model.json, history.json and plots into ``out``."""
    out_dir = Path(out)
    _check_writable_dir(out_dir)
    _matplotlib()  # fail before training, not after
    trained = _fit(config, progress)
    with _staging(out_dir) as staging:
        files = _write_training(trained, staging)
    _report(trained, out_dir, files)
    return 0


def _load(config: TrainConfig) -> tuple[list[list[float]], list[int]]:
    n = config.samples
    try:
        if config.dataset == "moons":
            return data.make_moons(n or _TOY_SAMPLES, noise=0.1, seed=config.seed)
        if config.dataset == "circles":
            return data.make_circles(n or _TOY_SAMPLES, noise=0.05, seed=config.seed)
        if config.dataset == "spirals":
            return data.make_spirals(n or _TOY_SAMPLES, seed=config.seed)
        if config.dataset == "digits":
            X, y = data.load_digits()
        else:
            X, y = data.load_faces(seed=config.seed)
    except ImportError as err:
        raise Failure(str(err)) from None
    return X[:n], y[:n]


def _fit(config: TrainConfig, progress: bool) -> _Trained:
    X, y = _load(config)
    n_classes = max(y) + 1
    try:
        X_train, X_test, y_train, y_test = data.train_test_split(
            X, y, test_size=_TEST_SIZE, seed=config.seed, stratify=True
        )
    except ValueError as err:
        raise UsageError(f"--samples {len(X)} is too few to split into train and test sets ({err})") from None
    # two classes: one output and binary cross-entropy on its logit; more: one output per class
    model = MLP(len(X[0]), [*config.hidden, 1 if n_classes == 2 else n_classes],
                activation=config.activation, seed=config.seed)
    optimizer: Optimizer
    if config.optimizer == "sgd":
        optimizer = SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    else:
        optimizer = Adam(model.parameters(), lr=config.lr)
    with warnings.catch_warnings(record=True):
        # NOTE: fit warns when the loss turns nan or inf; the message is also in history.message, shown
        # as one line below instead of a warning with a source line.
        warnings.simplefilter("always")
        # compile=True: the per-sample loss is traced once and replayed over each batch, far faster than
        # eager (benchmarks/RESULTS.md, fit_digits); the command builds no BatchNorm, which fit would
        # train eagerly.
        history = fit(model, X_train, y_train, optimizer=optimizer, epochs=config.epochs,
                      batch_size=config.batch_size, progress=progress, seed=config.seed, compile=True)
    test = evaluate(model, X_test, y_test)
    warning = history.message if history.stop_reason == "non_finite" else ""
    return _Trained(config, model, history, test, X_train, y_train, X_test, y_test, warning)


def _write_training(trained: _Trained, directory: Path) -> list[str]:
    """Write the model, history and plots into ``directory``; returns the file names."""
    save(trained.model, directory / "model.json")
    h, test = trained.history, trained.test
    record = {
        "config": asdict(trained.config),
        "train_loss": h.train_loss,
        "train_accuracy": h.train_accuracy,
        "stop_reason": h.stop_reason,
        "message": h.message,
        "test_loss": test.loss,
        "test_accuracy": test.accuracy,
        "n_train": len(trained.X_train),
        "n_test": len(trained.X_test),
    }
    text = json.dumps(record, indent=1, allow_nan=False)
    (directory / "history.json").write_text(text + "\n", encoding="utf-8")
    files = ["model.json", "history.json", "loss_curve.png"]
    _plot_loss_curve(trained, directory / "loss_curve.png")
    if len(trained.X_train[0]) == 2:
        _plot_decision_boundary(trained, directory / "decision_boundary.png")
        files.append("decision_boundary.png")
    return files


def _report(trained: _Trained, out_dir: Path, files: Sequence[str]) -> None:
    if trained.warning:
        print(f"warning: {trained.warning}", file=sys.stderr)
    accuracy = trained.test.accuracy if trained.test.accuracy is not None else math.nan
    print(f"test accuracy: {accuracy:.1%} on {len(trained.X_test)} unseen samples "
          f"({trained.config.dataset}, {trained.history.epochs} epochs)")
    print(f"outputs in {out_dir}{os.sep}:")
    for name in files:
        print(f"  {name:<23}{_DESCRIPTIONS.get(name, '')}")


_DESCRIPTIONS = {
    "model.json": "the trained MLP (load it with nn.load)",
    "history.json": "loss and accuracy per epoch, the test result and the settings",
    "loss_curve.png": "loss and accuracy per epoch",
    "decision_boundary.png": "the classifier's regions over the plane, with the data",
    "neuron.svg": "a neuron's graph: values, grads and local derivatives",
    "neuron.dot": "the same graph as Graphviz source",
}


# --------------------------------------------------------------------------------------------------
# Plots (matplotlib's Agg canvas, without pyplot: no global backend switch, no windows)


def _matplotlib() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise Failure(
            "plots need matplotlib, which is not installed: pip install 'chainrule[data]'"
        ) from None

    def figure(**kwargs: Any) -> Any:
        fig = Figure(**kwargs)
        FigureCanvasAgg(fig)
        return fig

    return figure


def _plot_loss_curve(trained: _Trained, path: Path) -> None:
    fig = _matplotlib()(figsize=(8, 3.2), layout="constrained")
    h = trained.history
    epochs = list(range(1, h.epochs + 1))
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, h.train_loss, marker=".", label="train")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_loss.axhline(trained.test.loss, color="tab:red", linestyle="--", label="test (end)")
    ax_loss.legend()
    ax_acc.plot(epochs, h.train_accuracy, marker=".", label="train")
    if trained.test.accuracy is not None:
        ax_acc.axhline(trained.test.accuracy, color="tab:red", linestyle="--", label="test (end)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    ax_acc.legend(loc="lower right")
    fig.suptitle(f"{trained.config.dataset}: {_describe(trained.config)}")
    fig.savefig(path, dpi=100)


def _plot_decision_boundary(trained: _Trained, path: Path) -> None:
    fig = _matplotlib()(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    points = trained.X_train + trained.X_test
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs) - 0.5, max(xs) + 0.5, min(ys) - 0.5, max(ys) + 0.5
    gx = [x0 + (x1 - x0) * i / (_GRID - 1) for i in range(_GRID)]
    gy = [y0 + (y1 - y0) * j / (_GRID - 1) for j in range(_GRID)]
    model = trained.model
    model.eval()
    with no_grad():
        # one output: the probability of class 1; several: the predicted class
        rows = [[_predict(model([a, b])) for a in gx] for b in gy]
    model.train()
    n_classes = max(trained.y_train) + 1
    if n_classes == 2:
        filled = ax.contourf(gx, gy, rows, levels=[i / 10 for i in range(11)], cmap="RdBu_r", alpha=0.6)
        ax.contour(gx, gy, rows, levels=[0.5], colors="k", linewidths=1)
        fig.colorbar(filled, ax=ax, label="P(class 1)")
    else:
        ax.contourf(gx, gy, rows, levels=[k - 0.5 for k in range(n_classes + 1)],
                    colors=[f"C{k % 10}" for k in range(n_classes)], alpha=0.35)
    # two classes: the blue and red ends of the background's colour map; more: tab10 as the regions
    palette = ["#2166ac", "#b2182b"] if n_classes == 2 else [f"C{k % 10}" for k in range(n_classes)]
    for X, y, marker, name in ((trained.X_train, trained.y_train, "o", "train"),
                               (trained.X_test, trained.y_test, "^", "test")):
        ax.scatter([p[0] for p in X], [p[1] for p in X], c=[palette[k] for k in y], marker=marker,
                   s=18, edgecolors="k", linewidths=0.4, label=name)
    legend = ax.legend(loc="upper right")
    for handle in legend.legend_handles:  # the markers' shapes matter here, not the first point's colour
        if handle is not None:
            handle.set_facecolor("0.7")  # type: ignore[attr-defined]
    accuracy = trained.test.accuracy or 0.0
    ax.set(title=f"{trained.config.dataset}: test accuracy {accuracy:.1%}", xlabel="x0", ylabel="x1")
    fig.savefig(path, dpi=100)


def _predict(output: Any) -> float:
    if isinstance(output, Value):
        return output.sigmoid().data  # the engine's sigmoid is stable for any logit
    scores = [v.data for v in output]
    return float(scores.index(max(scores)))


def _describe(config: TrainConfig) -> str:
    hidden = ",".join(map(str, config.hidden))
    return (f"hidden {hidden}, {config.activation}, {config.optimizer} lr {config.lr:g}, "
            f"batch {config.batch_size}, seed {config.seed}")


# --------------------------------------------------------------------------------------------------
# chainrule demo


def demo(out: str) -> int:
    """The main job on the built-in default: train on two moons and render a neuron's graph, into ``out``."""
    out_dir = Path(out)
    _check_writable_dir(out_dir)
    _matplotlib()
    print(f"training an MLP on two moons ({_describe(DEMO_CONFIG)}, {DEMO_CONFIG.epochs} epochs)")
    trained = _fit(DEMO_CONFIG, progress=True)
    root, params = _neuron()
    graph_files: dict[str, bytes] = {}
    skipped = ""
    try:
        graph_files["neuron.svg"] = _render(root, "svg", params)
    except Failure as err:
        # NOTE: make demo carries on without Graphviz's dot (it says so); the DOT source still works
        skipped = f"neuron.svg skipped: {err}"
    graph_files["neuron.dot"] = _render(root, "dot", params)
    with _staging(out_dir) as staging:
        files = _write_training(trained, staging)
        for name, content in graph_files.items():
            (staging / name).write_bytes(content)
            files.append(name)
    print("a neuron, o = tanh(x1*w1 + x2*w2 + b), after backward:")
    for v in _labelled(root):
        print(f"  {v.label:>2}: data={v.data:+.4f}  grad={v.grad:+.4f}")
    if skipped:
        print(skipped, file=sys.stderr)
    _report(trained, out_dir, files)
    return 0


def _neuron() -> tuple[Value, list[Value]]:
    """Karpathy's neuron: a tanh of a weighted sum, with b chosen so the output is sqrt(2)/2."""
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2, b = Value(-3.0, "w1"), Value(1.0, "w2"), Value(6.8813735870195432, "b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o, [w1, w2, b]


def _labelled(root: Value) -> list[Value]:
    """The labelled nodes under ``root``, parents before children, the root last."""
    return [v for v in toposort(root) if v.label]


# --------------------------------------------------------------------------------------------------
# The parser and main


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of layer widths, e.g. 16,16") from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"{text!r}: every layer width must be at least 1")
    return widths


def _positive(kind: type) -> Any:
    def parse_positive(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            wanted = "an int" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number > 0")
        return value

    return parse_positive


def _momentum(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: momentum must be in [0, 1)")
    return value


def _samples(text: str) -> int:
    value = _positive(int)(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"{text!r}: use at least 8 samples (a train and a test set)")
    return int(value)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chainrule", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{graph,train,demo}")

    p_graph = sub.add_parser(
        "graph",
        help="render a formula's computation graph with values, grads and local derivatives",
        description="Build a formula from Values, run backward and render its graph. A formula may use "
        f"numbers, names, + - * / **, unary -, parentheses and the functions {', '.join(FUNCTIONS)} "
        "(leaky_relu takes an optional number, its slope). It is parsed, never run by Python.",
        epilog="example: chainrule graph 'tanh(w1*x1 + w2*x2 + b)' --set x1=2 --set x2=0 --set w1=-3 "
        "--set w2=1 --set b=6.88 --out neuron.svg",
    )
    p_graph.add_argument("expression", help="e.g. 'tanh(w1*x1 + w2*x2 + b)'; one that starts with '-' "
                         "goes last, after '--'")
    p_graph.add_argument(
        "--set", dest="settings", metavar="NAME=VALUE", action="append", type=_setting, default=[],
        help="the value of a name in the formula (repeat for each name)",
    )
    p_graph.add_argument("--out", required=True, metavar="FILE", help="output file: .svg, .png or .dot")

    d = TrainConfig()
    p_train = sub.add_parser(
        "train",
        help="train an MLP on a dataset; writes the model, its history and plots",
        description="Train an MLP and write model.json (load it with nn.load), history.json, loss_curve.png"
        " and, for the 2-D datasets, decision_boundary.png into --out. A quarter of the data is held out "
        "as the test set.",
    )
    add = p_train.add_argument
    default = "default: %(default)s"
    add("--dataset", choices=DATASETS, default=d.dataset, help=default)
    add("--hidden", type=_hidden, default=d.hidden, metavar="W1,W2,...", help="default: 16,16")
    add("--activation", choices=ACTIVATIONS, default=d.activation, help=default)
    add("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help=default)
    add("--lr", type=_positive(float), default=d.lr, help=f"learning rate ({default})")
    add("--momentum", type=_momentum, default=d.momentum, help=f"SGD's momentum ({default})")
    add("--epochs", type=_positive(int), default=d.epochs, help=default)
    add("--batch-size", type=_positive(int), default=d.batch_size, help=default)
    add("--seed", type=int, default=d.seed, help=f"seeds data, weights and batch order ({default})")
    add("--samples", type=_samples, default=None,
        help=f"dataset size (default: {_TOY_SAMPLES} for moons, circles, spirals; all for digits, faces)")
    add("--out", required=True, help="output directory (its files are written when training succeeds)")
    add("--quiet", action="store_true", help="no progress bar")

    p_demo = sub.add_parser("demo", help="train on two moons and render a neuron's graph")
    p_demo.add_argument("--out", default="out", help="directory for outputs (default: out)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 missing tool, 2 bad input)."""
    parser = _build_parser()
    prog = "chainrule"
    try:
        args = parser.parse_args(argv)
        prog = f"chainrule {args.command}"
        if args.command == "graph":
            return graph(args.expression, args.settings, args.out)
        if args.command == "train":
            config = TrainConfig(
                dataset=args.dataset, hidden=args.hidden, activation=args.activation,
                optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, epochs=args.epochs,
                batch_size=args.batch_size, seed=args.seed, samples=args.samples,
            )
            return train(config, args.out, progress=not args.quiet)
        return demo(args.out)
    except UsageError as err:
        print(f"{err.prog or prog}: error: {err.message}", file=sys.stderr)
        if err.pointer:
            print(err.pointer, file=sys.stderr)
        return 2
    except Failure as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; nothing written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

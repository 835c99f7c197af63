"""The `chainrule` command line: render a formula's graph, train a small network, run the demo.

Bad input (an unknown option value, an unparsable formula, an unbound name, an unwritable or empty output
path, a size over the budget, a non-finite or absurd hyperparameter) gives a one-line error on stderr (a
formula error adds the formula with a caret under the cause), exit status 2, and writes nothing; a fault
of the environment (a missing optional tool, a full disk, no memory) gives one line and exit status 1.
Outputs are written under temporary names and renamed into place only after everything else, printing
included, has succeeded, so none is ever left half-written. A closed stdout (``chainrule ... | head``)
ends the command quietly with status 141, as SIGPIPE ends other Unix tools; text is printed in the
terminal's encoding (characters it lacks as ``\\uXXXX``).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import math
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

from autograd import Value, draw_graph, toposort
from nn import data, layers, plot
from nn._checks import DuplicateKeyError, is_int, unique_dict
from nn.expr import FUNCTIONS, ExpressionError, parse
from nn.layers import MLP
from nn.optim import SGD, Adam, Optimizer
from nn.serialization import atomic_write, save
from nn.train import Evaluation, History, evaluate, fit

_GRAPH_FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot"}
_MAX_NAME = 1_000  # characters in a name: more cannot be read in a picture (Graphviz fails at 16 KiB)
_PIPE_CLOSED = 141  # the status a shell reports for a tool ended by SIGPIPE (128 + 13)
_TEMP_TRIES = 100  # random names tried for a temporary directory before giving up


class UsageError(Exception):
    """Bad input: reported as one line (plus a pointer under a formula), exit status 2."""

    def __init__(self, message: str, pointer: str = "", prog: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer  # the formula with a caret under the offending part, or ""
        self.prog = prog  # "chainrule graph"; filled in by main() when empty


class Failure(Exception):
    """Not the input's fault (a missing optional tool, a failed write): one line, exit status 1."""


class _PipeClosed(Exception):
    """Whoever read our output has gone (``| head``): stop quietly, like a tool ended by SIGPIPE."""


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
    path, fmt = _output_file(out)
    bindings = _bindings(settings)
    try:
        formula = parse(expression)
    except ExpressionError as err:
        raise UsageError(err.message, _pointer(err)) from None
    for name in formula.names:
        _check_name_length(name)
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
        raise UsageError(err.message, _pointer(err)) from None
    root.backward()
    content = _render(root, fmt)
    lines = [f"{expression} = {root.data:.6g}"]
    lines += [f"  d/d{name} = {leaf.grad:.6g}" for name, leaf in leaves.items()]
    lines.append(f"wrote {path}")
    with _writing(path) as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())  # a full disk shows here, before "wrote" is printed
        # printed before the file is renamed into place: a closed or full stdout leaves nothing written
        _print("\n".join(lines))
    return 0


def _pointer(err: ExpressionError) -> str:
    """The formula with carets under the cause, spelled as stderr will print it.

    On a terminal without the formula's characters (an ASCII one), 'α' prints as '\\u03b1'; the carets
    are computed on that spelling, so they still sit under the offending part.
    """
    if err.start is None:
        return ""
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"

    def spelled(text: str) -> str:
        return text.encode(encoding, "backslashreplace").decode(encoding)

    end = err.end if err.end is not None else err.start + 1
    start = len(spelled(err.text[: err.start]))
    return ExpressionError(err.message, spelled(err.text), start,
                           start + len(spelled(err.text[err.start : end]))).pointer()


def _bindings(settings: Sequence[tuple[str, float]]) -> dict[str, float]:
    try:
        return unique_dict(settings)
    except DuplicateKeyError as err:
        raise UsageError(f"--set {err.key} is given twice; give each name once") from None


def _setting(text: str) -> tuple[str, float]:
    """Parse one ``--set NAME=VALUE``; the name is normalized (NFKC) as Python normalizes identifiers."""
    name, sep, value = text.partition("=")
    # NOTE: Python reads the formula's 'ｘ' (fullwidth) as 'x'; without the same normalization here,
    # --set ｘ=3 would be refused as a name that does not appear in the formula.
    name = unicodedata.normalize("NFKC", name.strip())
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not NAME=VALUE (e.g. --set x1=2)")
    _check_name_length(name, argparse.ArgumentTypeError)
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)}: {_shown(value)} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{_shown(text)}: the value must be a finite number")
    return name, number


def _check_name_length(name: str, error: type[Exception] = UsageError) -> None:
    if len(name) > _MAX_NAME:
        raise error(f"the name {name[:20]}... is {len(name):,} characters long; a name in a graph can have "
                    f"at most {_MAX_NAME:,}")


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
        return bytes(digraph.pipe(format=fmt, quiet=True))  # dot's own stderr is summed up below
    except graphviz.ExecutableNotFound:
        raise Failure(
            "rendering needs Graphviz's `dot` program: sudo apt-get install graphviz (macOS: brew install "
            "graphviz), or write DOT source with --out FILE.dot"
        ) from None
    except subprocess.CalledProcessError as err:
        said = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise Failure(
            f"Graphviz's dot could not render the graph ({said[0] if said else f'status {err.returncode}'}); "
            "--out FILE.dot writes the DOT source without it"
        ) from None


# --------------------------------------------------------------------------------------------------
# Output: check first, write to a temporary name, rename into place after everything else succeeded


def _print(text: str, stream: TextIO | None = None) -> None:
    """Write ``text`` and a newline in the stream's encoding (``\\uXXXX`` for what it cannot show).

    A closed pipe becomes ``_PipeClosed``, any other failure (``> /dev/full``) a one-line ``Failure``.
    """
    out = sys.stdout if stream is None else stream
    if out is None:  # no console at all (pythonw)
        return
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        out.write((text + "\n").encode(encoding, "backslashreplace").decode(encoding))
        out.flush()
    except BrokenPipeError:
        raise _PipeClosed() from None
    except OSError as err:
        where = "standard error" if out is sys.stderr else "standard output"
        raise Failure(f"cannot write to {where}: {err.strerror or err}") from None


def _probe(directory: Path, what: str) -> None:
    """Fail now, before any work, if ``directory`` cannot hold a new file (a real try: root ignores modes)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".chainrule-probe-")
    except OSError as err:
        raise UsageError(f"{what}: cannot write to {str(directory)!r}: {err.strerror or err}") from None
    os.close(fd)
    os.unlink(tmp)


def _output_file(out: str) -> tuple[Path, str]:
    """The checked ``--out`` of ``graph`` and its format (svg, png or dot)."""
    if not out:
        raise UsageError("--out is empty; give a file name ending in .svg, .png or .dot")
    path = Path(out)
    fmt = _GRAPH_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"--out {out!r}: the file name must end in .svg, .png or .dot")
    _check_name_fits(path)
    kind = _kind(path)
    if kind == "directory":
        raise UsageError(f"--out {str(path)!r} is a directory; give a file name, e.g. {path / 'graph.svg'}")
    if kind == "other":
        raise UsageError(f"--out {str(path)!r} exists and is not a regular file; give another name")
    if _kind(path.parent) != "directory":
        raise UsageError(f"--out {str(path)!r}: the folder {str(path.parent)!r} does not exist; create it "
                         "first")
    _probe(path.parent, f"--out {str(path)!r}")
    return path, fmt


def _check_writable_dir(out: str) -> Path:
    """The checked ``--out`` of ``train`` and ``demo``: a directory that exists or can be created."""
    if not out:
        raise UsageError("--out is empty; give a directory name, e.g. --out run")
    path = Path(out)
    _check_name_fits(path)
    kind = _kind(path)
    if kind == "directory":
        _probe(path, f"--out {str(path)!r}")
        return path
    if kind != "missing":
        raise UsageError(f"--out {str(path)!r} is a file, not a directory; give a directory name")
    if _kind(path.parent) != "directory":
        raise UsageError(f"--out {str(path)!r}: the folder {str(path.parent)!r} does not exist; create it "
                         "first")
    _probe(path.parent, f"--out {str(path)!r}")
    return path


def _kind(path: Path) -> str:
    """What ``path`` is: "directory", "file", "other" (a FIFO, a device) or "missing"; an OS refusal is
    bad input."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # NotADirectory: a part of the path is a file
        return "missing"
    except OSError as err:  # e.g. a path longer than the system allows, a loop of symlinks
        raise UsageError(f"--out {str(path)!r}: {err.strerror or err}") from None
    if stat.S_ISDIR(mode):
        return "directory"
    return "file" if stat.S_ISREG(mode) else "other"


def _check_name_fits(path: Path) -> None:
    """Refuse a name longer than the file system allows now, not after the work is done."""
    try:
        limit = os.pathconf(path.parent, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows) or no answer: assume POSIX's
        limit = 255
    size = len(os.fsencode(path.name))
    if size > limit:
        raise UsageError(f"--out: the name {path.name[:20]}... is {size} bytes long; this file system allows "
                         f"at most {limit}")


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[Any]:
    """``atomic_write`` with a failure of the file system (disk full) as a one-line ``Failure``."""
    try:
        with atomic_write(path) as f:
            yield f
    except (OSError, ValueError) as err:
        raise Failure(f"could not write {str(path)!r}: {err}") from None


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A temporary directory beside (or inside) ``out``; its files move into ``out`` only on success.

    A failed write (disk full, a value JSON cannot hold) removes the temporary directory and becomes a
    one-line ``Failure``; so does any error raised in the block (a failed print), which writes nothing.
    """
    home = out if out.is_dir() else out.parent
    try:
        staging = _make_directory(home)
    except OSError as err:
        raise Failure(f"cannot write to {str(home)!r}: {err.strerror or err}") from None
    try:
        yield staging
        if out.is_dir():
            for item in staging.iterdir():
                os.replace(item, out / item.name)
        else:
            os.rename(staging, out)
    except (OSError, ValueError) as err:
        raise Failure(f"could not write the outputs to {str(out)!r}: {err}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _make_directory(home: Path) -> Path:
    """A new empty directory in ``home`` under a random name of our own.

    NOTE: os.mkdir with mode 0o777 lets the kernel apply the umask (and default ACLs), as mkdir(1) does,
    so the directory renamed into place as ``--out`` has the usual mode; mkdtemp's 0700 would need a chmod
    after a racy os.umask() read.
    """
    for _ in range(_TEMP_TRIES):
        path = home / f".chainrule-{secrets.token_hex(6)}"
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"could not create a temporary directory in {home} ({_TEMP_TRIES} names taken)")


# --------------------------------------------------------------------------------------------------
# chainrule train

DATASETS = ("moons", "circles", "spirals", "digits", "faces")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu")
OPTIMIZERS = ("sgd", "adam")
_TOY_SAMPLES = 200  # moons, circles and spirals: enough for a clear boundary, seconds per epoch at most
_TEST_SIZE = 0.25
_GRID = 50  # decision-boundary grid points per axis: 2,500 forward passes, 0.3 s drawn, for the 16,16 MLP
# Budgets, checked before the data or the model is made; --max-params and --max-samples raise them.
# Compiled training peaks at ~3.4 KB per parameter (MLP(2, [300, 300, 1]), 91,501 parameters: 307 MB
# resident, 11 s per 64-sample epoch), so 100,000 parameters stay near a third of a GB.
MAX_PARAMS = 100_000
_BYTES_PER_PARAM = 3_400
# A 2-D sample costs ~0.2 KB as Python lists; the cap is for time more than memory: an epoch of 100,000
# samples through the default 16,16 MLP takes about a minute.
MAX_SAMPLES = 100_000
_MAX_LR = 10.0  # a step of more than 10 times the gradient overshoots any minimum (typical: 0.001 to 0.1)
_MAX_EPOCHS = 100_000  # beyond this a run takes days; an epoch sees the whole training set once


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


def train(config: TrainConfig, out: str, *, progress: bool = True, max_params: int = MAX_PARAMS,
          max_samples: int = MAX_SAMPLES) -> int:
    """Train an MLP on ``config.dataset`` and write model.json, history.json and plots into ``out``.

    The model may have at most ``max_params`` parameters and the data set ``max_samples`` samples.
    """
    out_dir = _check_writable_dir(out)
    _check_config(config, max_samples)
    _matplotlib()  # fail before training, not after
    trained = _fit(config, progress, max_params)
    with _staging(out_dir) as staging:
        files = _write_training(trained, staging)
        _report(trained, out_dir, files)  # before the files move into place: a failed print writes nothing
    return 0


def _check_config(config: TrainConfig, max_samples: int) -> None:
    """Refuse what cannot run or makes no sense, before any data or model is made (exit status 2)."""
    for flag, value, choices in (("--dataset", config.dataset, DATASETS),
                                 ("--activation", config.activation, ACTIVATIONS),
                                 ("--optimizer", config.optimizer, OPTIMIZERS)):
        if value not in choices:
            raise UsageError(f"{flag} {value!r}: choose from {', '.join(choices)}")
    if not config.hidden or any(not is_int(w) or w < 1 for w in config.hidden):
        raise UsageError(f"--hidden {_widths(config.hidden)}: every layer width must be an int of at least 1")
    if not (math.isfinite(config.lr) and 0 < config.lr <= _MAX_LR):
        raise UsageError(f"--lr {config.lr!r}: must be a finite number > 0 and at most {_MAX_LR:g} (a larger "
                         "step overshoots any minimum; typical values are 0.001 to 0.1)")
    if not 0.0 <= config.momentum < 1.0:
        raise UsageError(f"--momentum {config.momentum!r}: momentum must be in [0, 1)")
    if not 1 <= config.epochs <= _MAX_EPOCHS:
        raise UsageError(f"--epochs {_count(config.epochs)}: must be > 0 and at most {_MAX_EPOCHS:,}")
    if config.samples is not None:
        if config.samples < 8:
            raise UsageError(f"--samples {config.samples}: use at least 8 samples (a train and a test set)")
        if config.samples > max_samples:
            raise UsageError(f"--samples {_count(config.samples)} is over the budget of {max_samples:,} "
                             f"samples; raise it with --max-samples {config.samples}")
    if not 1 <= config.batch_size <= max_samples:
        raise UsageError(f"--batch-size {_count(config.batch_size)}: must be > 0 and at most the sample "
                         f"budget, {max_samples:,} (raise it with --max-samples)")


def _size(n_bytes: int) -> str:
    """A byte count for people: 3.4 KB, 30.7 GB."""
    size = float(n_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} TB" if size < 1000 else f"{size:,.0f} TB"


def _widths(hidden: Sequence[int]) -> str:
    """``--hidden`` as typed (16,16), cut short when it is too long to read."""
    shown = ",".join(str(w) if abs(w) < 10**15 else _count(w) for w in hidden[:8])
    return shown if len(hidden) <= 8 else f"{shown},... ({len(hidden):,} layers)"


def _shown(text: str) -> str:
    """``repr(text)``, cut short when long, so an error stays one readable line."""
    return repr(text) if len(text) <= 40 else f"{text[:30]!r}... ({len(text):,} characters)"


def _count(n: int) -> str:
    """``n`` with thousands separators; a number too long to read is summed up by its digits."""
    return f"{n:,}" if abs(n) < 10**15 else f"{str(n)[:6]}... ({len(str(abs(n)))} digits)"


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
    if n is not None and n > len(X):
        raise UsageError(f"--samples {n:,}: {config.dataset} has {len(X):,} samples; pass at most that many "
                         "(or leave --samples out to use them all)")
    return X[:n], y[:n]


def _fit(config: TrainConfig, progress: bool, max_params: int) -> _Trained:
    X, y = _load(config)
    n_classes = max(y) + 1
    # two classes: one output and binary cross-entropy on its logit; more: one output per class
    widths = [*config.hidden, 1 if n_classes == 2 else n_classes]
    n_params = layers.MLP._state_size({"nin": len(X[0]), "nouts": widths})
    assert n_params is not None  # ints, checked by _check_config
    if n_params > max_params:  # counted, not built: --hidden 99999999 must not allocate a thing
        memory = _size(n_params * _BYTES_PER_PARAM)
        raise UsageError(f"--hidden {_widths(config.hidden)} makes a model of {n_params:,} parameters (about "
                         f"{memory} to train), over the budget of {max_params:,}; use smaller layers or "
                         f"raise it with --max-params {n_params}")
    try:
        X_train, X_test, y_train, y_test = data.train_test_split(
            X, y, test_size=_TEST_SIZE, seed=config.seed, stratify=True
        )
    except ValueError as err:
        raise UsageError(f"--samples {len(X)} is too few to split into train and test sets ({err})") from None
    model = MLP(len(X[0]), widths, activation=config.activation, seed=config.seed)
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
    return _Trained(config, model, history, test, X_train, y_train, X_test, y_test)


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
    if trained.history.stop_reason == "non_finite":
        _print(f"warning: {trained.history.message}", sys.stderr)
    accuracy = trained.test.accuracy if trained.test.accuracy is not None else math.nan
    lines = [f"test accuracy: {accuracy:.1%} on {len(trained.X_test)} unseen samples "
             f"({trained.config.dataset}, {trained.history.epochs} epochs)", f"outputs in {out_dir}{os.sep}:"]
    lines += [f"  {name:<23}{_DESCRIPTIONS.get(name, '')}" for name in files]
    _print("\n".join(lines))


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
    plot.history(trained.history, test=trained.test, fig=fig)
    fig.suptitle(f"{trained.config.dataset}: {_describe(trained.config)}")
    fig.savefig(path, dpi=100)


def _plot_decision_boundary(trained: _Trained, path: Path) -> None:
    fig = _matplotlib()(figsize=(5.5, 5), layout="constrained")
    ax = plot.decision_regions(trained.model, trained.X_train, trained.y_train,
                               test=(trained.X_test, trained.y_test), ax=fig.subplots(), grid=_GRID)
    accuracy = trained.test.accuracy or 0.0
    ax.set(title=f"{trained.config.dataset}: test accuracy {accuracy:.1%}")
    fig.savefig(path, dpi=100)


def _describe(config: TrainConfig) -> str:
    hidden = ",".join(map(str, config.hidden))
    return (f"hidden {hidden}, {config.activation}, {config.optimizer} lr {config.lr:g}, "
            f"batch {config.batch_size}, seed {config.seed}")


# --------------------------------------------------------------------------------------------------
# chainrule demo


def demo(out: str) -> int:
    """The main job on the built-in default: train on two moons and render a neuron's graph, into ``out``."""
    out_dir = _check_writable_dir(out)
    _matplotlib()
    _print(f"training an MLP on two moons ({_describe(DEMO_CONFIG)}, {DEMO_CONFIG.epochs} epochs)")
    trained = _fit(DEMO_CONFIG, progress=True, max_params=MAX_PARAMS)
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
        # printed before the files move into place: a closed or full stdout leaves nothing written
        lines = ["a neuron, o = tanh(x1*w1 + x2*w2 + b), after backward:"]
        lines += [f"  {v.label:>2}: data={v.data:+.4f}  grad={v.grad:+.4f}" for v in _labelled(root)]
        _print("\n".join(lines))
        if skipped:
            _print(skipped, sys.stderr)
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
# chainrule check-engine


def check_engine(target: str, max_examples: int, seed: int, depth: int) -> int:
    """Run autograd.testing's conformance suite on the engine named ``MODULE:ATTR`` and print its report:
    exit status 0 when no check failed (unsupported ones do not count), 1 when one did."""
    try:
        from autograd import testing
    except ImportError as err:  # Hypothesis is missing
        raise Failure(str(err)) from None
    # NOTE: as `python -m` does: the engine under test usually sits in the current directory, which a
    # console script does not put on sys.path.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        engine = testing.load_engine(target)
    except ValueError as err:
        raise UsageError(str(err)) from None
    _print(f"checking {engine.name}: {len(testing.CHECKS)} checks, up to {max_examples} examples each ...",
           sys.stderr)
    report = testing.check_engine(engine, max_examples=max_examples, seed=seed, depth=depth)
    _print(str(report))  # the writer every command uses: the terminal's encoding, a closed pipe quietly
    if not report.ok:
        _print(f"\n{report.examples()}")
    return 0 if report.ok else 1


# --------------------------------------------------------------------------------------------------
# The parser and main


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a list of layer widths, e.g. 16,16") \
            from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"{_shown(text)}: every layer width must be at least 1")
    return widths


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not an int") from None


def _positive(kind: type) -> Any:
    def parse_positive(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            wanted = "an int" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not {wanted}") from None
        # NOTE: an int is never inf, and math.isfinite(10**400) raises OverflowError
        if not ((kind is int or math.isfinite(value)) and value > 0):
            raise argparse.ArgumentTypeError(f"{_shown(text)}: must be a finite number > 0")
        return value

    return parse_positive


def _momentum(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{_shown(text)}: momentum must be in [0, 1)")
    return value


def _samples(text: str) -> int:
    value = _positive(int)(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"{_shown(text)}: use at least 8 samples (a train and a test set)")
    return int(value)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chainrule", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{graph,train,demo,check-engine}")
    _add_graph(sub)
    _add_train(sub)
    p_demo = sub.add_parser("demo", help="train on two moons and render a neuron's graph")
    p_demo.add_argument("--out", default="out", help="directory for outputs (default: out)")
    _add_check_engine(sub)
    return parser


def _add_graph(sub: Any) -> None:
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


def _add_train(sub: Any) -> None:
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
    add("--seed", type=_integer, default=d.seed, help=f"seeds data, weights and batch order ({default})")
    add("--samples", type=_samples, default=None,
        help=f"dataset size (default: {_TOY_SAMPLES} for moons, circles, spirals; all for digits, faces)")
    add("--out", required=True, help="output directory (its files are written when training succeeds)")
    add("--quiet", action="store_true", help="no progress bar")
    add("--max-params", type=_positive(int), default=MAX_PARAMS, metavar="N",
        help="refuse a model with more parameters (default: %(default)s, about a third of a GB to train)")
    add("--max-samples", type=_positive(int), default=MAX_SAMPLES, metavar="N",
        help="refuse a larger --samples or --batch-size (default: %(default)s)")


def _add_check_engine(sub: Any) -> None:
    p_check = sub.add_parser(
        "check-engine",
        help="property-test a scalar autograd engine (yours) against chainrule's",
        description="Run autograd.testing.check_engine on an engine: every op it has, constants, reused "
        "nodes, random DAGs, a deep chain, repeated backward, higher order. Prints a table and, for each "
        "failed check, the smallest counterexample as code; exit status 0 if no check failed, 1 if one did.",
        epilog="example: chainrule check-engine micrograd.engine:Value --max-examples 50",
    )
    p_check.add_argument("target", metavar="MODULE:ATTR",
                         help="a Value class with micrograd's API (micrograd.engine:Value), an "
                         "autograd.testing.Engine, or a function that returns one "
                         "(autograd.testing:torch_engine)")
    p_check.add_argument("--max-examples", type=_positive(int), default=200,
                         help="cases each Hypothesis search tries (default: %(default)s)")
    p_check.add_argument("--seed", type=int, default=0, help="seeds the searches (default: %(default)s)")
    p_check.add_argument("--depth", type=_positive(int), default=100_000,
                         help="ops in the deep chain (default: %(default)s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 fault of the environment or a failed check,
    2 bad input, 130 interrupted, 141 stdout closed)."""
    parser = _build_parser()
    prog = "chainrule"
    try:
        if argv is not None and any("\0" in arg for arg in argv):
            # only an in-process caller can pass one (the OS cuts arguments at NUL); paths cannot hold it
            raise UsageError("an argument contains a NUL character; remove it")
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
            return train(config, args.out, progress=not args.quiet, max_params=args.max_params,
                         max_samples=args.max_samples)
        if args.command == "check-engine":
            return check_engine(args.target, args.max_examples, args.seed, args.depth)
        return demo(args.out)
    except UsageError as err:
        _complain(f"{err.prog or prog}: error: {err.message}", err.pointer)
        return 2
    except Failure as err:
        _complain(f"{prog}: error: {err}")
        return 1
    except (_PipeClosed, BrokenPipeError):
        _silence()
        return _PIPE_CLOSED
    except MemoryError:
        _complain(f"{prog}: error: out of memory; use a smaller --hidden or --samples, or close other "
                  "programs")
        return 1
    except OSError as err:  # a fault of the environment that no check foresaw (a data file unreadable)
        _complain(f"{prog}: error: {err}")
        return 1
    except KeyboardInterrupt:
        _complain(f"\n{prog}: interrupted; nothing written")
        return 130


def _complain(message: str, pointer: str = "") -> None:
    """The one-line error (and the formula with its caret) on stderr; a broken stderr is not reported."""
    try:
        _print(f"{message}\n{pointer}" if pointer else message, sys.stderr)
    except (_PipeClosed, Failure):
        _silence()


def _silence() -> None:
    """Point stdout and stderr at the null device, once whoever read them has gone.

    NOTE: Python flushes stdout again at exit; on a closed pipe that flush would print "Exception ignored
    ... BrokenPipeError" and change the status to 120.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue  # not a real file (a test's capture): nothing to flush at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())

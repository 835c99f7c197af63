"""Pictures of training with matplotlib: loss and accuracy curves, decision regions, a confusion matrix,
an image grid and per-layer gradient norms. matplotlib is imported here only, when a function is called.

Each function draws on the ``ax`` (or ``fig``) you pass, or on a new pyplot figure, and returns it for
you to adjust (titles, limits, ``savefig``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._checks import integer, is_int
from .module import Module, argmax, check_model, evaluating, model_outputs

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .train import Evaluation, History

__all__ = ["confusion_matrix", "decision_regions", "grad_norms", "history", "images"]

_INSTALL_HINT = "pip install 'chainrule[data]'"
_CLASS_COLOURS = [f"C{k}" for k in range(10)]  # matplotlib's tab10, the default cycle
_BINARY_COLOURS = ["#2166ac", "#b2182b"]  # the blue and red ends of RdBu_r, the binary regions' map


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(f"nn.plot needs matplotlib, which is not installed: {_INSTALL_HINT}") from err
    return plt


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _, new = _pyplot().subplots(figsize=figsize, layout="constrained")
    return new  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------------
# Loss and accuracy curves


def history(history: History, *, test: Evaluation | None = None, fig: Figure | None = None) -> Figure:
    """Loss (and accuracy, when recorded) per epoch, train and validation; returns the Figure.

    ``test``: an ``nn.evaluate`` result drawn as a dashed line, the score on data never trained on.
    ``history.best_epoch`` (set by ``patience``) is marked: its weights are the ones the model keeps.
    """
    if history.epochs == 0:
        raise ValueError("this History has no completed epoch to plot; train for at least one epoch")
    panels = ["loss"] + (["accuracy"] if history.train_accuracy else [])
    if fig is None:
        fig = _pyplot().figure(figsize=(4.4 * len(panels), 3.3), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    epochs = list(range(1, history.epochs + 1))
    series = {"loss": (history.train_loss, history.val_loss), "accuracy": (history.train_accuracy,
                                                                         history.val_accuracy)}
    for ax, panel in zip(axes, panels):
        train, val = series[panel]
        ax.plot(epochs, train, marker=".", color="C0", label="train")
        if val:
            ax.plot(epochs[:len(val)], val, marker=".", color="C1", label="validation")
        if test is not None:
            score = test.loss if panel == "loss" else test.accuracy
            if score is not None:
                ax.axhline(score, color="C3", linestyle="--", label="test (end)")
        if history.best_epoch is not None:
            ax.axvline(history.best_epoch, color="0.4", linestyle=":",
                       label=f"best epoch ({history.best_epoch}), kept")
        ax.set(xlabel="epoch", ylabel=panel, title=panel)
        if panel == "accuracy":
            ax.set_ylim(min(0.0, *train, *val), 1.02)
        ax.legend(loc="upper right" if panel == "loss" else "lower right", fontsize=8)
    if history.stop_reason != "epochs":
        fig.suptitle(f"stopped by {history.stop_reason} after {history.epochs} epochs", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------
# Decision regions


def decision_regions(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    *,
    test: tuple[Sequence[Sequence[float]], Sequence[int]] | None = None,
    ax: Axes | None = None,
    grid: int = 50,
) -> Axes:
    """The classes a 2-input classifier predicts over the plane, with the points ``(X, y)`` on top.

    A one-output model is read as a logit (a probability when its ``output_activation`` is "sigmoid"):
    the background shades P(class 1) and a black line marks 0.5. A model with several outputs colours
    each region by its argmax class. ``test=(X_test, y_test)`` adds those points as triangles. The
    model is evaluated on a ``grid`` x ``grid`` lattice in eval mode under ``no_grad()``, and left in
    the mode it was in.
    """
    model = check_model(model, "decision_regions")
    points = [*X, *(test[0] if test is not None else [])]
    labels = [*y, *(test[1] if test is not None else [])]
    if not points or len(points) != len(labels):
        raise ValueError("decision_regions needs a non-empty X with one label per sample")
    if any(len(p) != 2 for p in points):
        width = next(len(p) for p in points if len(p) != 2)
        raise ValueError(f"decision regions are drawn for 2 input features; this data has {width}")
    if integer("grid", grid) < 2:
        raise ValueError(f"grid must be an int >= 2 (points per axis), got {grid!r}")
    ax = _new_axes(ax, (5.5, 5))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs) - 0.5, max(xs) + 0.5, min(ys) - 0.5, max(ys) + 0.5
    gx = [x0 + (x1 - x0) * i / (grid - 1) for i in range(grid)]
    gy = [y0 + (y1 - y0) * j / (grid - 1) for j in range(grid)]
    palette = _regions(ax, model, gx, gy)
    if any(not 0 <= int(t) < len(palette) for t in labels):
        raise ValueError(f"labels must be classes 0..{len(palette) - 1}, as the model's outputs")
    sets = [(X, y, "o", "train" if test is not None else None)]
    if test is not None:
        sets.append((test[0], test[1], "^", "test"))
    for data, targets, marker, name in sets:
        ax.scatter([p[0] for p in data], [p[1] for p in data], c=[palette[int(t)] for t in targets],
                   marker=marker, s=18, edgecolors="k", linewidths=0.4, label=name)
    if test is not None:
        legend = ax.legend(loc="upper right")
        for handle in legend.legend_handles:  # the markers' shapes matter here, not the first point's colour
            if handle is not None:
                handle.set_facecolor("0.7")  # type: ignore[attr-defined]
    ax.set(xlabel="x0", ylabel="x1")
    return ax


def _regions(ax: Axes, model: Module, gx: list[float], gy: list[float]) -> list[str]:
    """Shade what ``model`` predicts on the lattice ``gx`` x ``gy``; returns the colour of each class."""
    with evaluating(model):
        outputs = [model_outputs(model, [[a, b] for a in gx], "decision_regions") for b in gy]
    if model.nout == 1:
        probability = getattr(model, "output_activation", "linear") == "sigmoid"  # optional (see Module)
        rows = [[o.data if probability else o.sigmoid().data for o in row] for row in outputs]
        filled = ax.contourf(gx, gy, rows, levels=[i / 10 for i in range(11)], cmap="RdBu_r", alpha=0.6)
        ax.contour(gx, gy, rows, levels=[0.5], colors="k", linewidths=1)
        ax.figure.colorbar(filled, ax=ax, label="P(class 1)")
        return _BINARY_COLOURS
    n_classes = model.nout
    rows = [[float(argmax(o)) for o in row] for row in outputs]
    palette = [_CLASS_COLOURS[k % 10] for k in range(n_classes)]
    ax.contourf(gx, gy, rows, levels=[k - 0.5 for k in range(n_classes + 1)], colors=palette, alpha=0.35)
    ax.contour(gx, gy, rows, levels=[k + 0.5 for k in range(n_classes - 1)], colors="k", linewidths=0.6)
    return palette


# ------------------------------------------------------------------------------------------------
# Confusion matrix


def confusion_matrix(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    *,
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    cmap: str = "Blues",
) -> Axes:
    """Counts of (true class, predicted class), one cell each, with the count written in the cell.

    Readable in colour and in greyscale: the colour map's lightness falls as the count grows, and each
    number is white or black, whichever contrasts more with its cell in both. ``labels`` names the
    classes. The title gives the accuracy.
    """
    if len(y_true) != len(y_pred) or not y_true:
        raise ValueError(f"y_true and y_pred must be non-empty and of one length, got {len(y_true)} and "
                         f"{len(y_pred)}")
    for name, ys in (("y_true", y_true), ("y_pred", y_pred)):
        for i, t in enumerate(ys):
            if not is_int(t) or t < 0:
                raise TypeError(f"{name}[{i}] must be a class index (an int >= 0), got {t!r}")
    n = len(labels) if labels is not None else max(*y_true, *y_pred) + 1
    if max(*y_true, *y_pred) >= n:
        raise ValueError(f"a class index is >= {n}, the number of labels given; pass one label per class")
    counts = [[0] * n for _ in range(n)]
    for t, p in zip(y_true, y_pred):
        counts[t][p] += 1
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    ax = _new_axes(ax, (0.45 * n + 2.2, 0.45 * n + 1.8))
    colormap, scale = colormaps[cmap], Normalize(0, max(max(row) for row in counts))
    ax.imshow(counts, cmap=colormap, norm=scale)
    for t in range(n):
        for p in range(n):
            ax.text(p, t, str(counts[t][p]), ha="center", va="center", fontsize=8 if n > 5 else 11,
                    color=_ink(colormap(scale(counts[t][p]))))
    names = [str(k) for k in range(n)] if labels is None else [str(s) for s in labels]
    ax.set_xticks(range(n), names, rotation=0 if n * max(map(len, names)) <= 30 else 45)
    ax.set_yticks(range(n), names)
    correct = sum(counts[k][k] for k in range(n))
    ax.set(xlabel="predicted", ylabel="true", title=f"{correct} of {len(y_true)} right "
                                                    f"({correct / len(y_true):.1%})")
    return ax


def _linear(c: float) -> float:
    """An sRGB channel in [0, 1] as linear light."""
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _luminance(rgb: Sequence[float]) -> float:
    """WCAG relative luminance of an sRGB colour with channels in [0, 1]."""
    return 0.2126 * _linear(rgb[0]) + 0.7152 * _linear(rgb[1]) + 0.0722 * _linear(rgb[2])


def _grey_luminance(rgb: Sequence[float]) -> float:
    """The luminance of the colour printed in greyscale (Rec. 601 luma, as PIL's "L" and most printers)."""
    return _linear(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


def _contrast(a: float, b: float) -> float:
    """WCAG contrast ratio of two luminances, from 1 (none) to 21 (black on white)."""
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


_INKS = {"black": (0.0, 0.0, 0.0), "white": (1.0, 1.0, 1.0)}


def _ink(background: Sequence[float]) -> str:
    """Black or white text, whichever contrasts more with ``background`` both in colour and in greyscale.

    On "Blues" the worse of the two ratios is at least 4.2:1 for every cell (black on navy was 1.6:1).
    """
    def worst(ink: Sequence[float]) -> float:
        return min(_contrast(_luminance(ink), _luminance(background)),
                   _contrast(_grey_luminance(ink), _grey_luminance(background)))

    return max(_INKS, key=lambda name: worst(_INKS[name]))


# ------------------------------------------------------------------------------------------------
# Image grid


def images(
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    *,
    predicted: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    shape: tuple[int, int] | None = None,
    cols: int = 10,
    cmap: str = "gray",
    fig: Figure | None = None,
) -> Figure:
    """A grid of flattened images titled with their true labels (and the predicted ones, when given).

    ``shape=(rows, columns)`` unflattens each image (default: a square). With ``predicted`` each title
    reads "true A / pred B", in red when they differ. ``labels`` names the classes; ``cmap="gray_r"``
    shows ink (1) as black.
    """
    if not X or len(X) != len(y) or (predicted is not None and len(predicted) != len(X)):
        raise ValueError("images needs a non-empty X with one label (and one prediction) per image")
    size = len(X[0])
    if shape is None:
        side = math.isqrt(size)
        if side * side != size:
            raise ValueError(f"images of {size} pixels are not square; pass shape=(rows, columns)")
        shape = (side, side)
    if shape[0] * shape[1] != size or any(len(x) != size for x in X):
        raise ValueError(f"every image must have shape[0] * shape[1] = {shape[0] * shape[1]} pixels")
    if integer("cols", cols) < 1:
        raise ValueError(f"cols must be a positive int, got {cols!r}")
    cols = min(cols, len(X))
    rows = math.ceil(len(X) / cols)
    def name(k: int) -> str:
        return str(labels[k]) if labels is not None else str(k)

    longest = max(len(name(int(k))) for k in [*y, *(predicted or [])]) + 5  # "true " / "pred "
    tall = 1.55 if predicted is not None else 1.3
    if fig is None:
        fig = _pyplot().figure(figsize=(cols * max(1.1, 0.075 * longest), rows * tall), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).flat
    low = min(min(x) for x in X)
    high = max(max(x) for x in X)
    for k, ax in enumerate(axes):
        ax.axis("off")
        if k >= len(X):
            continue
        pixels = X[k]
        ax.imshow([pixels[r * shape[1]:(r + 1) * shape[1]] for r in range(shape[0])], cmap=cmap,
                  vmin=low, vmax=high)
        if predicted is None:
            ax.set_title(name(y[k]), fontsize=8)
        else:
            wrong = predicted[k] != y[k]
            ax.set_title(f"true {name(y[k])}\npred {name(predicted[k])}", fontsize=8,
                         color="#b2182b" if wrong else "black", fontweight="bold" if wrong else "normal")
    return fig


# ------------------------------------------------------------------------------------------------
# Gradient norms per layer


def grad_norms(norms: History | Mapping[str, float], *, epoch: int | None = None, ax: Axes | None = None,
               label: str | None = None) -> Axes:
    """Each layer's gradient norm on a log scale: all of the model's parameters, BatchNorm's included.

    ``norms`` is a History from ``fit(..., grad_norms=True)``, or ``nn.layer_grad_norms(model)`` after
    one backward. Without ``epoch``, a History draws one line per layer over the epochs, coloured from
    the input (dark) to the output (light), BatchNorm1d dashed. With ``epoch=k``, or for one backward's
    norms, it draws them across the layers, input on the left, so vanishing (falling to the left) and
    exploding (rising to the left) show where they happen; pass ``ax`` and ``label`` to compare models.
    """
    if isinstance(norms, Mapping):
        table = {name: [float(v)] for name, v in norms.items()}
        epoch = 1
    else:
        table = {name: list(v) for name, v in norms.grad_norms.items()}
    groups = [(name, values) for name, values in table.items() if values]
    if not groups:
        raise ValueError("no gradient norms to draw: train with fit(..., grad_norms=True), or pass "
                         "nn.layer_grad_norms(model) after a backward")
    names = list(table)
    groups.sort(key=lambda item: _depth(item[0], names))
    if epoch is not None:
        n_epochs = len(groups[0][1])
        if not 1 <= integer("epoch", epoch) <= n_epochs:
            raise ValueError(f"epoch must be an int from 1 to {n_epochs}, the epochs recorded; got {epoch!r}")
        return _norms_across_layers(_new_axes(ax, (6.5, 3.6)), groups, names, epoch, label)
    return _norms_over_epochs(_new_axes(ax, (6.5, 3.6)), groups, names)


def _norms_across_layers(ax: Axes, groups: list[tuple[str, list[float]]], names: list[str], epoch: int,
                         label: str | None) -> Axes:
    """grad_norms at one epoch: a norm per layer, input on the left, BatchNorm1d as squares between."""
    from matplotlib.ticker import MaxNLocator

    layers = [(name, values) for name, values in groups if not name.startswith("norms.")]
    norm_layers = [(name, values) for name, values in groups if name.startswith("norms.")]
    (line,) = ax.plot([_depth(name, names) for name, _ in layers],
                      [values[epoch - 1] for _, values in layers], marker="o", label=label)
    if norm_layers:  # between the layers they follow, in the same colour, as squares
        ax.plot([_depth(name, names) for name, _ in norm_layers],
                [values[epoch - 1] for _, values in norm_layers], marker="s", linestyle="--",
                color=line.get_color(), label=f"{label}: BatchNorm1d" if label else "BatchNorm1d")
    ax.set_yscale("log")
    ax.set(xlabel="layer (0 = nearest the input)", ylabel="gradient norm")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if label is not None or norm_layers:
        ax.legend(fontsize=8)
    return ax


def _norms_over_epochs(ax: Axes, groups: list[tuple[str, list[float]]], names: list[str]) -> Axes:
    """grad_norms over the epochs: a line per layer, coloured from the input (dark) to the output."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    # viridis without its last tenth, too pale a yellow for a line on white
    colormap = LinearSegmentedColormap.from_list(
        "viridis_lines", [colormaps["viridis"](0.9 * i / 255) for i in range(256)])
    depths = [_depth(name, names) for name, _ in groups]
    scale = Normalize(min(depths), max(max(depths), min(depths) + 1))
    has_norm_layers = False
    for (name, values), depth in zip(groups, depths):
        batchnorm = name.startswith("norms.")
        has_norm_layers |= batchnorm
        ax.plot(range(1, len(values) + 1), values, color=colormap(scale(depth)),
                linestyle="--" if batchnorm else "-", linewidth=1.2)
    ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="gradient norm (mean over batches)")
    ax.figure.colorbar(ScalarMappable(norm=scale, cmap=colormap), ax=ax,
                       label="layer (0 = nearest the input)")
    if has_norm_layers:
        ax.plot([], [], color="0.3", linestyle="-", label="Layer")
        ax.plot([], [], color="0.3", linestyle="--", label="BatchNorm1d")
        ax.legend(fontsize=8)
    return ax


_GROUP = re.compile(r"(layers|norms)\.(\d+)$")


def _depth(name: str, names: list[str]) -> float:
    """A group's place from the input: ``layers.i`` at i, ``norms.i`` (after layer i) at i + 0.5."""
    match = _GROUP.match(name)
    if match:
        return int(match.group(2)) + (0.5 if match.group(1) == "norms" else 0.0)
    return float(len(names) + names.index(name))  # anything else ("other"): after the layers

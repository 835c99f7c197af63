"""Tests for nn.plot, headless (Agg): each figure holds the numbers it was given, where they belong."""

import io
import subprocess
import sys

import pytest

matplotlib = pytest.importorskip("matplotlib", reason="nn.plot needs the 'data' extra (matplotlib)")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import nn  # noqa: E402
from nn import plot  # noqa: E402
from nn.data import make_moons  # noqa: E402
from nn.plot import _contrast, _grey_luminance, _luminance  # noqa: E402
from nn.train import History  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_import_nn_does_not_import_matplotlib():
    code = "import sys, nn, nn.plot; print(any(m.startswith('matplotlib') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- history ---------------------------------------------------------------------------------------


def test_history_plots_train_and_validation_loss_and_accuracy():
    X, y = make_moons(60, noise=0.1, seed=0)
    model = nn.MLP(2, [8, 1], seed=0)
    history = nn.fit(model, X, y, epochs=4, batch_size=10, val_split=0.25, patience=10, progress=False)
    test = nn.evaluate(model, X[:10], y[:10])
    fig = history.plot(test=test)  # History.plot is nn.plot.history
    assert isinstance(fig, Figure) and png(fig).startswith(PNG_MAGIC)
    loss_ax, acc_ax = fig.axes
    epochs = [1, 2, 3, 4]
    for ax, train, val, score in ((loss_ax, history.train_loss, history.val_loss, test.loss),
                                  (acc_ax, history.train_accuracy, history.val_accuracy, test.accuracy)):
        lines = lines_by_label(ax)
        assert list(lines["train"].get_xdata()) == epochs and list(lines["train"].get_ydata()) == train
        assert list(lines["validation"].get_ydata()) == val
        assert list(lines["test (end)"].get_ydata()) == [score, score]
        assert list(lines[f"best epoch ({history.best_epoch}), kept"].get_xdata()) == [history.best_epoch] * 2
        assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"train", "validation", "test (end)"}
    assert acc_ax.get_ylim()[1] == pytest.approx(1.02)


def test_history_of_a_regression_has_one_panel_and_an_empty_one_is_refused():
    fig = plot.history(History(train_loss=[3.0, 2.0, 1.5]))
    assert len(fig.axes) == 1 and list(lines_by_label(fig.axes[0])["train"].get_ydata()) == [3.0, 2.0, 1.5]
    own = plt.figure()
    assert plot.history(History(train_loss=[1.0]), fig=own) is own
    with pytest.raises(ValueError, match="no completed epoch"):
        plot.history(History())


def test_history_title_says_why_training_stopped():
    fig = plot.history(History(train_loss=[1.0, 0.5], stop_reason="target_loss"))
    assert fig.get_suptitle() == "stopped by target_loss after 2 epochs"


# -- decision regions ------------------------------------------------------------------------------


def linear_model(nouts):
    """MLP(2, [nouts]) whose scores are fixed by hand: class 1 (or output 1) wins exactly where x0 > 0."""
    model = nn.MLP(2, [nouts], seed=0)
    for k, neuron in enumerate(model.layers[0].neurons):
        sign = 1.0 if k == nouts - 1 else -1.0
        neuron.w[0].data, neuron.w[1].data, neuron.b.data = sign, 0.0, 0.0
    return model


def boundary_xs(ax):
    """x of every vertex of the boundary line(s): the unfilled contours."""
    lines = [c for c in ax.collections if isinstance(c, ContourSet) and not c.filled]
    assert len(lines) == 1
    return [v[0] for path in lines[0].get_paths() for v in path.vertices]


@pytest.mark.parametrize("nouts", [1, 2])
def test_decision_boundary_is_where_the_hand_set_model_changes_its_mind(nouts):
    X = [[-1.0, -1.0], [-0.5, 1.0], [0.5, 0.0], [1.0, 1.0]]
    y = [0, 0, 1, 1]
    ax = plot.decision_regions(linear_model(nouts), X, y, test=([[0.2, -0.5]], [1]), grid=21)
    assert isinstance(ax, Axes) and png(ax.figure).startswith(PNG_MAGIC)
    xs = boundary_xs(ax)
    # one output: the 0.5 contour of sigmoid(x0), exactly x0 = 0. Two: the class switches between the
    # grid points x0 = 0 (a tie, which argmax gives to class 0) and 0.15, so the line runs at 0.075.
    assert xs and all(x == pytest.approx(0.0 if nouts == 1 else 0.075, abs=1e-9) for x in xs)
    train, test = [c for c in ax.collections if c.get_label() in ("train", "test")]
    assert len(train.get_offsets()) == 4 and len(test.get_offsets()) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]


def test_decision_regions_leave_the_model_in_its_mode_and_refuse_other_shapes():
    X, y = make_moons(20, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 1], batchnorm=True, seed=0)
    plot.decision_regions(model, X, y, grid=5)
    assert model.training  # evaluated in eval mode (one sample at a time), then put back
    with pytest.raises(ValueError, match="2 input features; this data has 3"):
        plot.decision_regions(nn.MLP(3, [1], seed=0), [[0.0, 1.0, 2.0]], [0])
    with pytest.raises(ValueError, match="classes 0..1"):
        plot.decision_regions(model, X, [2] * len(X), grid=5)


# -- confusion matrix ------------------------------------------------------------------------------


def cell_texts(ax):
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}


def test_confusion_matrix_counts_each_pair_in_its_cell():
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 0, 1, 1, 1, 2, 2, 0, 2]
    ax = plot.confusion_matrix(y_true, y_pred, labels=["cat", "dog", "owl"])
    expected = [[2, 1, 0], [0, 2, 0], [1, 0, 3]]  # counted by hand: row = true, column = predicted
    texts = cell_texts(ax)
    assert {k: int(t.get_text()) for k, t in texts.items()} == {
        (r, c): expected[r][c] for r in range(3) for c in range(3)}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "owl"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert ax.get_title() == "7 of 9 right (77.8%)"
    assert png(ax.figure).startswith(PNG_MAGIC)


@pytest.mark.parametrize("cmap", ["Blues", "viridis"])
def test_confusion_matrix_numbers_are_readable_in_colour_and_in_greyscale(cmap):
    # counts 0..24 cover the colour map from its lightest to its darkest cell
    n = 5
    y_true, y_pred = [], []
    for t in range(n):
        for p in range(n):
            count = t * n + p
            y_true += [t] * count
            y_pred += [p] * count
    ax = plot.confusion_matrix(y_true, y_pred, cmap=cmap)
    image = ax.get_images()[0]
    for (t, p), text in cell_texts(ax).items():
        cell = image.to_rgba(image.get_array()[t][p])
        ink = to_rgba(text.get_color())
        assert int(text.get_text()) == t * n + p
        assert _contrast(_luminance(ink), _luminance(cell)) >= 4.0, (t, p, text.get_color())
        assert _contrast(_grey_luminance(ink), _grey_luminance(cell)) >= 4.0, (t, p, text.get_color())
    # and the counts keep their order in greyscale: with "Blues" (the default) darker means more,
    # with viridis lighter means more
    greys = [_grey_luminance(image.to_rgba(c)) for c in range(0, n * n)]
    assert greys == sorted(greys, reverse=cmap == "Blues") and len(set(greys)) == n * n


def test_the_contrast_check_rejects_black_on_navy():
    # the figure this replaced: black numbers on "Blues"' darkest cell
    navy = matplotlib.colormaps["Blues"](1.0)
    assert _contrast(_luminance((0, 0, 0)), _luminance(navy)) < 2


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="one length"):
        plot.confusion_matrix([0, 1], [0])
    with pytest.raises(TypeError, match="y_pred\\[1\\] must be a class index"):
        plot.confusion_matrix([0, 1], [0, 0.5])
    with pytest.raises(ValueError, match="one label per class"):
        plot.confusion_matrix([0, 2], [0, 1], labels=["a", "b"])


# -- images ----------------------------------------------------------------------------------------


def test_image_grid_titles_carry_true_and_predicted_labels():
    X = [[k / 4] * 4 for k in range(5)]  # five 2x2 images
    fig = plot.images(X, [0, 1, 1, 0, 1], predicted=[0, 0, 1, 1, 1], labels=["no", "yes"], cols=3)
    assert isinstance(fig, Figure) and png(fig).startswith(PNG_MAGIC)
    axes = fig.axes
    assert len(axes) == 6 and not axes[5].get_images()  # a 2x3 grid, the last cell empty
    titles = [ax.get_title() for ax in axes[:5]]
    assert titles == ["true no\npred no", "true yes\npred no", "true yes\npred yes", "true no\npred yes",
                      "true yes\npred yes"]
    wrong = [to_rgba(ax.title.get_color()) != to_rgba("black") for ax in axes[:5]]
    assert wrong == [False, True, False, True, False]
    assert [list(row) for row in axes[1].get_images()[0].get_array()] == [[0.25, 0.25], [0.25, 0.25]]


def test_image_grid_shapes():
    fig = plot.images([[0.0] * 6], [3], shape=(2, 3))
    assert fig.axes[0].get_images()[0].get_array().shape == (2, 3) and fig.axes[0].get_title() == "3"
    with pytest.raises(ValueError, match="not square; pass shape"):
        plot.images([[0.0] * 6], [3])
    with pytest.raises(ValueError, match="one label"):
        plot.images([[0.0] * 4], [1, 2])


# -- gradient norms --------------------------------------------------------------------------------


def batchnorm_history():
    X, y = make_moons(40, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 4, 1], activation="sigmoid", batchnorm=True, seed=0)
    return nn.fit(model, X, y, epochs=3, batch_size=10, grad_norms=True, progress=False)


def test_grad_norms_over_epochs_draw_every_group_batchnorm_included():
    history = batchnorm_history()
    assert set(history.grad_norms) == {"layers.0", "layers.1", "layers.2", "norms.0", "norms.1"}
    ax = plot.grad_norms(history)
    drawn = [line for line in ax.get_lines() if len(line.get_xdata())]
    assert sorted(tuple(line.get_ydata()) for line in drawn) == sorted(
        tuple(norms) for norms in history.grad_norms.values())
    dashed = {tuple(line.get_ydata()) for line in drawn if line.get_linestyle() == "--"}
    assert dashed == {tuple(history.grad_norms[k]) for k in ("norms.0", "norms.1")}
    assert ax.get_yscale() == "log" and png(ax.figure).startswith(PNG_MAGIC)
    # the colours run from the input side to the output side, in the colour bar's order
    colorbar = ax.figure.axes[-1]
    assert colorbar.get_ylabel() == "layer (0 = nearest the input)"


def test_grad_norms_at_one_epoch_put_the_input_on_the_left():
    history = batchnorm_history()
    ax = plot.grad_norms(history, epoch=2, label="bn")
    layers, norms = ax.get_lines()
    assert list(layers.get_xdata()) == [0, 1, 2] and list(norms.get_xdata()) == [0.5, 1.5]
    assert list(layers.get_ydata()) == [history.grad_norms[f"layers.{i}"][1] for i in range(3)]
    assert list(norms.get_ydata()) == [history.grad_norms[f"norms.{i}"][1] for i in range(2)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["bn", "bn: BatchNorm1d"]
    with pytest.raises(ValueError, match="epoch must be an int from 1 to 3"):
        plot.grad_norms(history, epoch=4)


def test_grad_norms_of_one_backward_are_drawn_across_the_layers():
    X, y = make_moons(8, noise=0.1, seed=0)
    model = nn.MLP(2, [3, 3, 1], seed=0)
    model.zero_grad()
    nn.binary_cross_entropy_with_logits(model(X), y).backward()
    norms = nn.layer_grad_norms(model)
    (line,) = plot.grad_norms(norms).get_lines()
    assert list(line.get_xdata()) == [0, 1, 2]
    assert list(line.get_ydata()) == [norms["layers.0"], norms["layers.1"], norms["layers.2"]]


def test_grad_norms_without_recorded_norms_says_how_to_record_them():
    with pytest.raises(ValueError, match="grad_norms=True"):
        plot.grad_norms(History(train_loss=[1.0]))


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[data\]'"):
        plot.history(History(train_loss=[1.0]))

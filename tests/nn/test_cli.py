"""Tests for the `chainrule` command: outputs that load back, exit codes, one-line errors, nothing written."""

import errno
import io
import json
import math
import os
import stat
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import nn
import nn.cli as cli
from nn import data
from nn.cli import main
from nn.train import evaluate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NEURON = ["tanh(w1*x1 + w2*x2 + b)", "--set", "x1=2", "--set", "x2=0", "--set", "w1=-3", "--set", "w2=1",
          "--set", "b=6.8813735870195432"]
SMALL_TRAIN = ["train", "--samples", "40", "--epochs", "2", "--hidden", "4", "--quiet"]


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def tree(path):
    """Every file and folder under path (hidden ones included), relative to it."""
    return sorted(str(p.relative_to(path)) for p in Path(path).rglob("*"))


def assert_one_line_error(err, command):
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith(f"chainrule {command}: error: "), err


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a command starts training (bad input must be refused before)."""

    def fit(*args, **kwargs):
        raise AssertionError("training started before the input was checked")

    monkeypatch.setattr(cli, "fit", fit)


# -- chainrule graph ------------------------------------------------------------------------------------


def test_graph_svg_is_valid_xml_and_prints_hand_computed_grads(tmp_path, capsys):
    out = tmp_path / "neuron.svg"
    status, stdout, stderr = run(capsys, "graph", *NEURON, "--out", str(out))
    assert status == 0 and stderr == ""
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for name in ("x1", "x2", "w1", "w2", "b", "tanh"):
        assert name in texts
    # o = tanh(n) with n = 0.8814, so do/dn = 1 - o^2 = 0.5; each grad is 0.5 times the other factor
    assert "= 0.707107" in stdout
    for line in ("d/dx1 = -1.5", "d/dw1 = 1", "d/dx2 = 0.5", "d/dw2 = 0", "d/db = 0.5"):
        assert line in stdout
    assert f"wrote {out}" in stdout
    assert tree(tmp_path) == ["neuron.svg"]  # no temporary file left beside it


def test_graph_png_and_dot(tmp_path, capsys):
    assert run(capsys, "graph", "x*y + sin(x)", "--set", "x=2", "--set", "y=3", "--out",
               str(tmp_path / "g.PNG"))[0] == 0
    assert (tmp_path / "g.PNG").read_bytes().startswith(PNG_MAGIC)
    status, stdout, _ = run(capsys, "graph", "x*y + sin(x)", "--set", "x=2", "--set", "y=3", "--out",
                            str(tmp_path / "g.dot"))
    assert status == 0
    source = (tmp_path / "g.dot").read_text()
    assert source.startswith("digraph")
    # hand-derived: d/dx (x y + sin x) = y + cos x = 3 + cos 2 = 2.58385, d/dy = x = 2
    assert f"d/dx = {3 + math.cos(2):.6g}" in stdout and "d/dy = 2" in stdout
    assert "grad 2.584" in source  # draw_graph shows 4 significant digits


def test_graph_replaces_an_existing_file(tmp_path, capsys):
    out = tmp_path / "g.dot"
    out.write_text("old")
    assert run(capsys, "graph", "exp(x)", "--set", "x=0", "--out", str(out))[0] == 0
    assert out.read_text().startswith("digraph")
    assert tree(tmp_path) == ["g.dot"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["x.real", "--set", "x=1"], "attribute access"),
        (["foo(x)", "--set", "x=1"], "unknown function 'foo'"),
        (["tanh(x", "--set", "x=1"], "never closed"),
        (["x*y", "--set", "x=1"], "no value for y; pass --set y=VALUE"),
        (["x*y"], "no value for x, y; pass --set x=VALUE --set y=VALUE"),
        (["x*y1", "--set", "x=1", "--set", "y1=2", "--set", "y2=3"], "y2 does not appear in the formula"),
        (["x + w", "--set", "x=1", "--set", "w=2", "--set", "ww=3"], "did you mean w?"),
        (["x", "--set", "x=1", "--set", "x=2"], "given twice"),
        (["x", "--set", "x"], "is not NAME=VALUE"),
        (["x", "--set", "x=abc"], "'abc' is not a number"),
        (["x", "--set", "x=nan"], "finite"),
        (["log(x)", "--set", "x=-1"], "log needs a positive input"),
        (["2 * 3"], "no names"),
    ],
)
def test_graph_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, words):
    status, stdout, stderr = run(capsys, "graph", *args, "--out", str(tmp_path / "g.svg"))
    assert status == 2
    first = stderr.split("\n")[0]
    assert first.startswith("chainrule graph: error: ") and words in first
    assert tree(tmp_path) == [] and stdout == ""


def test_graph_error_shows_a_caret_under_the_offending_part(tmp_path, capsys):
    status, _, stderr = run(capsys, "graph", "tanh(x) + x.__class__", "--set", "x=1", "--out",
                            str(tmp_path / "g.svg"))
    assert status == 2
    message, formula, carets = stderr.rstrip("\n").split("\n")
    assert message.startswith("chainrule graph: error: attribute access is not allowed")
    start = formula.index("x.__class__")
    assert carets == " " * start + "^" * len("x.__class__")


@pytest.mark.parametrize("where", ["missing/g.svg", "file.txt/g.svg", "g.svg/", "/proc/g.svg", "g.txt", "."])
def test_graph_unwritable_output_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("a file, not a folder")
    (tmp_path / "g.svg").mkdir()
    before = tree(tmp_path)
    status, _, stderr = run(capsys, "graph", "x", "--set", "x=1", "--out", where)
    assert status == 2
    assert_one_line_error(stderr, "graph")
    assert tree(tmp_path) == before


def test_graph_without_graphviz_dot_exits_1_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` on PATH
    status, _, stderr = run(capsys, "graph", "x", "--set", "x=1", "--out", str(tmp_path / "g.svg"))
    assert status == 1
    assert "apt-get install graphviz" in stderr and len(stderr.strip().split("\n")) == 1
    assert tree(tmp_path) == []
    # DOT source needs no `dot` program
    assert run(capsys, "graph", "x", "--set", "x=1", "--out", str(tmp_path / "g.dot"))[0] == 0


def test_usage_errors_are_one_line(capsys):
    cases = ((["graph", "x"], "graph"), (["train", "--dataset", "mnist", "--out", "d"], "train"))
    for argv, command in cases:
        status, _, stderr = run(capsys, *argv)
        assert status == 2
        assert_one_line_error(stderr, command)
    status, _, stderr = run(capsys, "frobnicate")
    assert status == 2 and stderr.startswith("chainrule: error: ") and stderr.count("\n") == 1


# -- chainrule train ------------------------------------------------------------------------------------


def test_train_moons_writes_a_model_that_reproduces_the_reported_accuracy(tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, stderr = run(capsys, *SMALL_TRAIN, "--dataset", "moons", "--seed", "3", "--out", str(out))
    assert status == 0 and stderr == ""
    files = ["decision_boundary.png", "history.json", "loss_curve.png", "model.json"]
    assert sorted(os.listdir(out)) == files
    for png in ("loss_curve.png", "decision_boundary.png"):
        assert (out / png).read_bytes().startswith(PNG_MAGIC)
    history = json.loads((out / "history.json").read_text())
    assert len(history["train_loss"]) == 2 and len(history["train_accuracy"]) == 2
    assert history["n_train"] + history["n_test"] == 40
    assert history["config"]["hidden"] == [4] and history["config"]["seed"] == 3
    model = nn.load(out / "model.json")
    assert isinstance(model, nn.MLP) and model.nin == 2 and model.nouts == [4, 1]
    # the same seeded data and split, scored with the loaded model, give the accuracy the command printed
    X, y = data.make_moons(40, noise=0.1, seed=3)
    _, X_test, _, y_test = data.train_test_split(X, y, test_size=0.25, seed=3, stratify=True)
    accuracy = evaluate(model, X_test, y_test).accuracy
    assert accuracy == history["test_accuracy"]
    assert f"test accuracy: {accuracy:.1%} on {len(X_test)} unseen samples" in stdout
    assert f"outputs in {out}" in stdout
    assert tree(tmp_path) == ["run", *(f"run/{f}" for f in sorted(os.listdir(out)))]  # no staging left


@pytest.mark.parametrize(
    "dataset, nin, nouts",
    [("digits", 64, [4, 10]), ("faces", 100, [4, 1]), ("circles", 2, [4, 1]), ("spirals", 2, [4, 1])],
)
def test_train_every_dataset(tmp_path, capsys, dataset, nin, nouts):
    out = tmp_path / "run"
    status, _, _ = run(capsys, *SMALL_TRAIN, "--dataset", dataset, "--optimizer", "sgd", "--activation",
                       "tanh", "--out", str(out))
    assert status == 0
    model = nn.load(out / "model.json")
    assert model.nin == nin and model.nouts == nouts and model.activation == "tanh"
    assert ("decision_boundary.png" in os.listdir(out)) == (nin == 2)


def test_train_into_an_existing_folder_replaces_only_its_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "model.json").write_text("stale")
    assert run(capsys, *SMALL_TRAIN, "--out", str(out))[0] == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert nn.load(out / "model.json").nouts == [4, 1]
    assert not [p for p in os.listdir(out) if p.startswith(".")]


def test_train_shows_a_progress_bar_unless_quiet(tmp_path, capsys):
    status, _, stderr = run(capsys, "train", "--samples", "40", "--epochs", "2", "--hidden", "4", "--out",
                            str(tmp_path / "run"))
    assert status == 0
    # pytest's stderr is no terminal: one plain line per epoch (fit's tests cover the tqdm bar)
    assert [line.split(" loss ")[0] for line in stderr.splitlines()] == ["epoch 1/2", "epoch 2/2"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["--hidden", "16,x"], "not a list of layer widths"),
        (["--hidden", "16,0"], "at least 1"),
        (["--activation", "swish"], "invalid choice: 'swish'"),
        (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--lr", "0"], "> 0"),
        (["--lr", "-0.1"], "> 0"),
        (["--lr", "nan"], "> 0"),
        (["--lr", "fast"], "not a number"),
        (["--momentum", "1.5"], "[0, 1)"),
        (["--epochs", "0"], "> 0"),
        (["--epochs", "2.5"], "not an int"),
        (["--batch-size", "-1"], "> 0"),
        (["--samples", "3"], "at least 8"),
        (["--seed", "x"], "'x' is not an int"),
    ],
)
def test_train_bad_options_exit_2_before_training(tmp_path, capsys, no_training, args, words):
    status, stdout, stderr = run(capsys, "train", *args, "--out", str(tmp_path / "run"))
    assert status == 2
    assert_one_line_error(stderr, "train")
    assert words in stderr
    assert tree(tmp_path) == [] and stdout == ""


@pytest.mark.parametrize("where", ["missing/run", "file.txt", "file.txt/run", "/proc/run"])
def test_train_unwritable_output_exits_2_before_training(tmp_path, capsys, monkeypatch, no_training, where):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("a file, not a folder")
    status, _, stderr = run(capsys, "train", "--out", where)
    assert status == 2
    assert_one_line_error(stderr, "train")
    assert "--out" in stderr
    assert tree(tmp_path) == ["file.txt"]


def test_train_without_matplotlib_exits_1_naming_the_extra(tmp_path, capsys, monkeypatch, no_training):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if not installed
    status, _, stderr = run(capsys, "train", "--out", str(tmp_path / "run"))
    assert status == 1
    assert "pip install 'chainrule[data]'" in stderr and stderr.count("\n") == 1
    assert tree(tmp_path) == []


def test_train_failure_while_writing_leaves_nothing(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "_plot_decision_boundary", broken)
    status, _, stderr = run(capsys, *SMALL_TRAIN, "--out", str(tmp_path / "run"))
    assert status == 1
    assert_one_line_error(stderr, "train")
    assert "No space left on device" in stderr
    assert tree(tmp_path) == []  # neither the folder nor its staging copy


def test_graph_failure_while_writing_leaves_nothing(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.os, "replace", broken)
    status, _, stderr = run(capsys, "graph", "x", "--set", "x=1", "--out", str(tmp_path / "g.dot"))
    assert status == 1
    assert_one_line_error(stderr, "graph")
    assert tree(tmp_path) == []


def test_train_reports_a_diverged_run_in_one_line(tmp_path, capsys, monkeypatch):
    real_fit = cli.fit

    def diverging(*args, **kwargs):
        history = real_fit(*args, **kwargs)
        history.stop_reason = "non_finite"
        history.message = "training stopped: the loss became nan at epoch 2, batch 1 of 1"
        warnings.warn(history.message, RuntimeWarning, stacklevel=2)
        return history

    monkeypatch.setattr(cli, "fit", diverging)
    status, _, stderr = run(capsys, *SMALL_TRAIN, "--out", str(tmp_path / "run"))
    assert status == 0
    assert stderr == "warning: training stopped: the loss became nan at epoch 2, batch 1 of 1\n"
    assert json.loads((tmp_path / "run" / "history.json").read_text())["stop_reason"] == "non_finite"


# -- chainrule demo -------------------------------------------------------------------------------------


def test_demo_trains_on_moons_and_renders_the_neuron(tmp_path, capsys):
    out = tmp_path / "out"
    status, stdout, _ = run(capsys, "demo", "--out", str(out))
    assert status == 0
    expected = ["decision_boundary.png", "history.json", "loss_curve.png", "model.json", "neuron.dot",
                "neuron.svg"]
    assert sorted(os.listdir(out)) == expected
    assert ET.parse(out / "neuron.svg").getroot().tag.endswith("svg")
    assert (out / "neuron.dot").read_text().startswith("digraph")
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["dataset"] == "moons"
    assert history["test_accuracy"] >= 0.9  # seeded: 0.98 on the 50 test samples
    assert isinstance(nn.load(out / "model.json"), nn.MLP)
    # the neuron's hand-derived values: o = sqrt(2)/2, do/dx1 = w1 (1 - o^2) = -1.5
    assert "x1: data=+2.0000  grad=-1.5000" in stdout and "o: data=+0.7071  grad=+1.0000" in stdout
    assert f"outputs in {out}" in stdout
    for name in expected:
        assert name in stdout


def test_demo_refuses_an_unwritable_output_before_training(tmp_path, capsys, no_training):
    (tmp_path / "out").write_text("a file")
    status, _, stderr = run(capsys, "demo", "--out", str(tmp_path / "out"))
    assert status == 2
    assert_one_line_error(stderr, "demo")


# -- the installed console script, in a real process ------------------------------------------------------


def _console_script():
    script = Path(sys.executable).with_name("chainrule")
    assert script.exists(), "the chainrule console script is missing: pip install -e ."
    return str(script)


def test_console_script_renders_and_refuses(tmp_path):
    out = tmp_path / "graph.svg"
    done = subprocess.run([_console_script(), "graph", *NEURON, "--out", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ET.parse(out).getroot().tag.endswith("svg")
    assert "d/dx1 = -1.5" in done.stdout
    bad = subprocess.run([_console_script(), "graph", "__import__('os').getcwd()", "--out",
                          str(tmp_path / "bad.svg")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.startswith("chainrule graph: error: attribute access is not allowed")
    assert "Traceback" not in bad.stderr
    assert tree(tmp_path) == ["graph.svg"]


# -- names, budgets, hyperparameters and outputs: refused before anything is made (issue 17) -------------


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if a command builds a model (a refused budget must not allocate one)."""

    def build(*args, **kwargs):
        raise AssertionError("a model was built before the budget was checked")

    monkeypatch.setattr(cli, "MLP", build)


def test_graph_names_are_normalized_as_python_normalizes_them(tmp_path, capsys):
    out = tmp_path / "g.dot"
    status, stdout, stderr = run(capsys, "graph", "ｘ*2", "--set", "ｘ=3", "--out", str(out))
    assert status == 0 and stderr == ""
    assert "ｘ*2 = 6" in stdout and "d/dx = 2" in stdout  # Python reads fullwidth ｘ as x
    status, _, stderr = run(capsys, "graph", "x*2", "--set", "ｘ=3", "--set", "x=1", "--out", str(out))
    assert status == 2 and "--set x is given twice" in stderr


@pytest.mark.parametrize("where", ["formula", "set"])
def test_graph_refuses_a_name_too_long_to_draw(tmp_path, capsys, where):
    name = "a" * 17_000
    args = [f"{name}*2", "--set", f"{name}=3"] if where == "set" else [f"{name}*2"]
    status, stdout, stderr = run(capsys, "graph", *args, "--out", str(tmp_path / "g.svg"))
    assert status == 2 and stdout == ""
    assert_one_line_error(stderr, "graph")
    assert "is 17,000 characters long; a name in a graph can have at most 1,000" in stderr
    assert len(stderr) < 300 and tree(tmp_path) == []


def test_graph_when_dot_fails_exits_1_in_one_line(tmp_path, capsys, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"  # a dot that fails as Graphviz does on a label over its 16 KiB limit
    fake.write_text("#!/bin/sh\necho 'Error: <stdin>: syntax error in line 5 scanning a HTML string' >&2\n"
                    "echo 'String starting:<<TABLE' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    out.mkdir()
    status, stdout, stderr = run(capsys, "graph", "x*2", "--set", "x=1", "--out", str(out / "g.svg"))
    assert status == 1 and stdout == ""
    assert_one_line_error(stderr, "graph")
    assert "Graphviz's dot could not render the graph (Error: <stdin>: syntax error" in stderr
    assert "--out FILE.dot" in stderr and tree(out) == []


@pytest.mark.parametrize("command", [["graph", "x", "--set", "x=1"], ["train"], ["demo"]])
def test_an_empty_out_is_refused(tmp_path, capsys, monkeypatch, no_training, command):
    monkeypatch.chdir(tmp_path)
    status, _, stderr = run(capsys, *command, "--out", "")
    assert status == 2
    assert_one_line_error(stderr, command[0])
    assert "--out is empty" in stderr and tree(tmp_path) == []


@pytest.mark.parametrize(
    "args, words",
    [
        (["--hidden", "99999999"], "makes a model of 399,999,997 parameters (about 1.36 TB to train), over "
                                   "the budget of 100,000; use smaller layers or raise it with --max-params "
                                   "399999997"),
        (["--hidden", "3000,3000"], "9,015,001 parameters (about 30.7 GB to train)"),
        (["--hidden", ",".join(["300"] * 300)], "--max-params"),
        (["--hidden", "4", "--max-params", "16"],
         "17 parameters (about 57.8 KB to train), over the budget of 16; use smaller layers or raise it with "
         "--max-params 17"),
        (["--dataset", "digits", "--hidden", "2000"], "150,010 parameters"),  # 65*2000 + 2001*10
    ],
)
def test_train_refuses_a_model_over_the_parameter_budget_before_building_it(tmp_path, capsys, no_training,
                                                                            no_model, args, words):
    status, stdout, stderr = run(capsys, "train", "--samples", "40", *args, "--out", str(tmp_path / "run"))
    assert status == 2 and stdout == ""
    assert_one_line_error(stderr, "train")
    assert words in stderr
    assert tree(tmp_path) == []


@pytest.mark.parametrize(
    "args, words",
    [
        (["--samples", "1000000000"], "--samples 1,000,000,000 is over the budget of 100,000 samples; raise "
                                      "it with --max-samples 1000000000"),
        (["--samples", "41", "--max-samples", "40"], "over the budget of 40 samples"),
        (["--dataset", "digits", "--samples", "5000"], "digits has 1,797 samples; pass at most that many"),
        (["--batch-size", str(10**400)], "--batch-size 100000... (401 digits): must be > 0 and at most the "
                                         "sample budget, 100,000 (raise it with --max-samples)"),
        (["--epochs", "10000000"], "--epochs 10,000,000: must be > 0 and at most 100,000"),
        (["--lr", "1e300"], "--lr 1e+300: must be a finite number > 0 and at most 10"),
        (["--lr", "10.5"], "at most 10"),
        (["--lr", "inf"], "finite number > 0"),
        (["--momentum", "nan"], "[0, 1)"),
        (["--max-params", "0"], "> 0"),
        (["--max-samples", "-3"], "> 0"),
        (["--hidden", ""], "not a list of layer widths"),
        (["--seed", "9" * 5000], "'999999999999999999999999999999'... (5,000 characters) is not an int"),
        (["--samples", "9" * 5000], "(5,000 characters) is not an int"),
        (["--epochs", str(10**400)], "--epochs 100000... (401 digits): must be > 0 and at most 100,000"),
        (["--hidden", ",".join(["3"] * 20) + ",0"],
         "'3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,'... (41 characters): every"),
    ],
)
def test_train_refuses_absurd_sizes_and_hyperparameters_before_loading_data(tmp_path, capsys, monkeypatch,
                                                                            no_training, no_model, args,
                                                                            words):
    if "digits" not in args:  # (digits must be loaded to count its samples)
        def load(*args, **kwargs):
            raise AssertionError("data was loaded before the arguments were checked")

        monkeypatch.setattr(cli, "_load", load)
    status, stdout, stderr = run(capsys, "train", *args, "--out", str(tmp_path / "run"))
    assert status == 2 and stdout == ""
    assert_one_line_error(stderr, "train")
    assert words in stderr and "Traceback" not in stderr
    assert tree(tmp_path) == []


def test_train_within_lowered_budgets_runs(tmp_path, capsys):
    status, _, stderr = run(capsys, *SMALL_TRAIN, "--max-params", "17", "--max-samples", "40", "--batch-size",
                            "40", "--out", str(tmp_path / "run"))
    assert status == 0, stderr
    assert len(nn.load(tmp_path / "run" / "model.json").parameters()) == 17  # (2+1)*4 + (4+1)*1


def test_the_budget_is_checked_by_train_called_in_python(tmp_path, no_training, no_model):
    with pytest.raises(cli.UsageError, match="over the budget of 10; use smaller layers"):
        cli.train(cli.TrainConfig(hidden=(4,), samples=40), str(tmp_path / "run"), max_params=10)
    with pytest.raises(cli.UsageError, match="--lr 20.0: must be a finite number > 0 and at most 10"):
        cli.train(cli.TrainConfig(lr=20.0), str(tmp_path / "run"))
    with pytest.raises(cli.UsageError, match="--dataset 'mnist': choose from moons"):
        cli.train(cli.TrainConfig(dataset="mnist"), str(tmp_path / "run"))
    assert tree(tmp_path) == []


def test_out_names_longer_than_the_file_system_allows_are_refused_first(tmp_path, capsys, no_training):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    too_long = str(tmp_path / ("g" * limit + ".dot"))
    status, _, stderr = run(capsys, "graph", "x", "--set", "x=1", "--out", too_long)
    assert status == 2 and f"bytes long; this file system allows at most {limit}" in stderr
    status, _, stderr = run(capsys, "train", "--out", str(tmp_path / ("r" * (limit + 1))))
    assert status == 2 and "bytes long" in stderr
    assert tree(tmp_path) == []
    longest = tmp_path / ("g" * (limit - 4) + ".dot")  # the longest valid name: its temporary name is short
    status, _, stderr = run(capsys, "graph", "x", "--set", "x=1", "--out", str(longest))
    assert status == 0, stderr
    assert tree(tmp_path) == [longest.name]


def test_graph_out_that_is_a_fifo_is_refused(tmp_path, capsys):
    os.mkfifo(tmp_path / "g.svg")
    status, _, stderr = run(capsys, "graph", "x", "--set", "x=1", "--out", str(tmp_path / "g.svg"))
    assert status == 2 and "is not a regular file" in stderr
    assert tree(tmp_path) == ["g.svg"]


def test_graph_writes_through_a_symlink_and_keeps_the_files_mode(tmp_path, capsys):
    target = tmp_path / "real.dot"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.dot"
    link.symlink_to(target)
    assert run(capsys, "graph", "x", "--set", "x=1", "--out", str(link))[0] == 0
    assert link.is_symlink() and target.read_text().startswith("digraph")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert tree(tmp_path) == ["link.dot", "real.dot"]


class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_ends_quietly_and_writes_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "g.dot"
    out.write_text("old")
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["graph", "x", "--set", "x=1", "--out", str(out)]) == 141
    assert main([*SMALL_TRAIN, "--out", str(tmp_path / "run")]) == 141
    monkeypatch.undo()
    assert capsys.readouterr().err == ""
    assert out.read_text() == "old" and tree(tmp_path) == ["g.dot"]  # nothing written, nothing staged


def test_a_full_stdout_exits_1_in_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    class Full(io.StringIO):
        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sys, "stdout", Full())
    assert main([*SMALL_TRAIN, "--out", str(tmp_path / "run")]) == 1
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert_one_line_error(err, "train")
    assert "cannot write to standard output: No space left on device" in err
    assert tree(tmp_path) == []


@pytest.mark.parametrize(
    "fault, status, words",
    [(MemoryError(), 1, "out of memory; use a smaller --hidden or --samples"),
     (OSError(errno.EIO, "Input/output error"), 1, "Input/output error"),
     (KeyboardInterrupt(), 130, "interrupted; nothing written")],
)
def test_environment_faults_while_training_are_one_line_and_write_nothing(tmp_path, capsys, monkeypatch,
                                                                          fault, status, words):
    def failing(*args, **kwargs):
        raise fault

    monkeypatch.setattr(cli, "fit", failing)
    got, stdout, stderr = run(capsys, *SMALL_TRAIN, "--out", str(tmp_path / "run"))
    assert got == status and stdout == "" and words in stderr
    assert len(stderr.strip().split("\n")) == 1 and "Traceback" not in stderr
    assert tree(tmp_path) == []


def test_disk_full_while_writing_the_graph_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "g.dot"
    out.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    status, stdout, stderr = run(capsys, "graph", "x", "--set", "x=1", "--out", str(out))
    assert status == 1 and stdout == ""
    assert_one_line_error(stderr, "graph")
    assert "No space left on device" in stderr
    assert out.read_text() == "old" and tree(tmp_path) == ["g.dot"]


def test_an_argument_with_a_nul_character_is_refused(tmp_path, capsys):
    status, _, stderr = run(capsys, "graph", "x", "--set", "x=1", "--out", str(tmp_path / "g\0.dot"))
    assert status == 2 and "NUL character" in stderr and tree(tmp_path) == []


# -- the console script, in a real process: pipes, full disks and terminals -----------------------------


def _script(tmp_path, *args, **kwargs):
    return subprocess.run([_console_script(), *args], cwd=tmp_path, timeout=120, **kwargs)


def test_console_script_on_a_closed_pipe_is_quiet_and_writes_nothing(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone, as after `| head -0`
    try:
        done = _script(tmp_path, "graph", "x*2", "--set", "x=1", "--out", "g.dot", stdout=write_end,
                       stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == b""
    assert tree(tmp_path) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_console_script_with_stdout_on_a_full_device_exits_1(tmp_path):
    with open("/dev/full", "w") as full:
        done = _script(tmp_path, "graph", "x*2", "--set", "x=1", "--out", "g.dot", stdout=full,
                       stderr=subprocess.PIPE, text=True)
    assert done.returncode == 1
    assert done.stderr == "chainrule graph: error: cannot write to standard output: No space left on device\n"
    assert tree(tmp_path) == []


def test_console_script_prints_in_an_ascii_terminals_encoding(tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "ascii:strict"}
    done = _script(tmp_path, "graph", "α*2", "--set", "α=3", "--out", "g.dot", capture_output=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("ascii") == "\\u03b1*2 = 6\n  d/d\\u03b1 = 2\nwrote g.dot\n"
    assert tree(tmp_path) == ["g.dot"]
    bad = _script(tmp_path, "graph", "α*β", "--set", "α=3", "--out", "h.dot", capture_output=True, env=env)
    assert bad.returncode == 2
    expected = "chainrule graph: error: no value for \\u03b2; pass --set \\u03b2=VALUE\n"
    assert bad.stderr.decode("ascii") == expected
    # the caret sits under the offending part as the terminal shows it (escaped)
    bad = _script(tmp_path, "graph", "2*α.real", "--out", "h.dot", capture_output=True, env=env)
    assert bad.returncode == 2
    message, formula, carets = bad.stderr.decode("ascii").rstrip("\n").split("\n")
    assert message.startswith("chainrule graph: error: attribute access is not allowed")
    assert formula == "    2*\\u03b1.real" and carets == "      " + "^" * len("\\u03b1.real")
    assert tree(tmp_path) == ["g.dot"]

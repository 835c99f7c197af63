"""Fuzz the `chainrule` command line with Hypothesis-generated argument lists.

Whatever the arguments, the command returns a status and never a traceback: bad input is exit status 2
with a one-line error (plus the formula and a caret for a formula error) and nothing on disk changes. A
`train` or `demo` whose arguments pass every check stops where the model would be built, so the fuzz
trains nothing and stays fast; a `graph` that succeeds writes exactly its --out file.
"""

import contextlib
import io
import os
import tempfile
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nn.cli as cli
from nn.cli import main

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Reached(Exception):
    """Every check passed and the command was about to build its model."""


# --max-params and --max-samples are left out: raising a budget is asking for the memory it allows.
FLAGS = ["--set", "--out", "--dataset", "--hidden", "--activation", "--optimizer", "--lr", "--momentum",
         "--epochs", "--batch-size", "--seed", "--samples", "--quiet", "--", "-x", "--bogus"]
WORDS = ["0", "-1", "nan", "inf", "-inf", "1e300", "1e-320", "99999999", "3000,3000", "16,16", "4", "8", "40",
         "100001", "1000000000", str(10**400), "x=1", "ｘ=3", "x", "x*2", "tanh(x)", "-x", "x**x", "log(x)",
         "moons", "digits", "faces", "spirals", "sgd", "adam", "relu", "swish", "1,2,0", ",", "", " ", "é"]
# Relative names land in the temporary folder the example runs in; the absolute ones cannot be written.
OUTS = ["g.svg", "g.dot", "g.png", "G.DOT", "run", "out", "", ".", "sub/g.dot", "g.txt", "/proc/g.svg",
        "/proc/run", "a" * 300 + ".dot", "r" * 300, "g\0.dot", "/dev/null", "/dev/full.svg", "run/"]

# Values at the edges, for an option's value: empty, non-finite, beyond a float or Python's digit limit,
# longer than a file name may be, with a NUL byte.
EDGES = ["", " ", "0", "-1", "nan", "inf", "-inf", "1e300", "1e-320", str(10**400), "9" * 5000, "99999999",
         "3000,3000", "a" * 300 + ".dot", "g\0.dot", "\0", "é", "ｘ=3", "x=1e400", "/proc/run", "/dev/zero"]
tokens = st.one_of(st.sampled_from(FLAGS), st.sampled_from(WORDS), st.sampled_from(OUTS),
                   st.integers(-5, 3000).map(str), st.text(max_size=12))
loose = st.tuples(st.sampled_from(["graph", "train", "demo", "bogus", ""]), st.lists(tokens, max_size=8))


# Valid command lines the second fuzz starts from; each example edits one in up to three places.
VALID = [
    ["graph", "x*2", "--set", "x=1", "--out", "g.dot"],
    ["graph", "tanh(w*x + b)", "--set", "w=2", "--set", "x=1", "--set", "b=0", "--out", "g.svg"],
    ["graph", "ｘ*2", "--set", "ｘ=3", "--out", "G.DOT"],
    ["train", "--out", "run"],
    ["train", "--dataset", "digits", "--hidden", "8", "--samples", "40", "--lr", "0.1", "--out", "run"],
    ["train", "--optimizer", "sgd", "--momentum", "0.5", "--epochs", "3", "--batch-size", "8", "--seed", "7",
     "--quiet", "--out", "."],
    ["demo", "--out", "out"],
]


values = st.one_of(st.sampled_from(EDGES), st.sampled_from(EDGES), st.sampled_from(WORDS), tokens)


@st.composite
def edited(draw):
    """A valid command line with up to three edits: an option's value changed, an option added, or a token
    replaced, removed or inserted."""
    argv = list(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["value", "value", "pair", "replace", "remove", "insert"]))
        options = [i for i, token in enumerate(argv[:-1]) if token.startswith("--") and token != "--quiet"]
        if action == "value" and options:
            argv[draw(st.sampled_from(options)) + 1] = draw(values)
        elif action == "pair":
            argv[1:1] = [draw(st.sampled_from(FLAGS[:12])), draw(values)]
        else:
            at = draw(st.integers(1, len(argv)))
            if action == "insert" or at == len(argv):
                argv.insert(at, draw(tokens))
            elif action == "replace":
                argv[at] = draw(tokens)
            else:
                del argv[at]
    return argv


def _tree(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, dirs, files in os.walk(folder) for name in dirs + files)


def _run(argv):
    """Run main(argv) in an empty temporary folder; returns (status, stdout, stderr, files after)."""
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as folder:
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            with mock.patch.object(cli, "MLP", side_effect=Reached), contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(err):
                try:
                    status = main(argv)
                except Reached:
                    status = "reached"
        finally:
            os.chdir(cwd)
        return status, out.getvalue(), err.getvalue(), _tree(folder)


def _check(argv):
    status, stdout, stderr, files = _run(argv)
    assert "Traceback" not in stderr
    if status == 2:
        lines = stderr.rstrip("\n").split("\n")
        assert lines[0].startswith("chainrule") and ": error: " in lines[0], stderr
        assert len(lines) == 1 or (len(lines) == 3 and set(lines[2].strip()) == {"^"}), stderr
        assert stdout == "" and files == [], (argv, files)
    elif status == 0:
        assert argv[0] == "graph" and stderr == "", stderr
        last = len(argv) - 1 - argv[::-1].index("--out")  # argparse keeps an option's last value
        assert files == [os.path.normpath(argv[last + 1])], (argv, files)
    elif status == "reached":
        assert argv[0] in ("train", "demo") and files == [], (argv, files)
    else:
        assert status == 1, (argv, status, stderr)
        assert len(stderr.rstrip("\n").split("\n")) == 1 and files == [], (argv, stderr, files)


@FUZZ
@given(case=loose)
def test_random_argument_lists(case):
    command, rest = case
    _check([command, *rest] if command else rest)


@FUZZ
@given(argv=edited())
def test_edited_valid_argument_lists(argv):
    _check(argv)


@FUZZ
@given(data=st.data(), argv=st.sampled_from(VALID), edge=st.sampled_from(EDGES))
def test_one_value_at_the_edges(data, argv, edge):
    """One option's value (or the formula) of a valid command line set to an edge value."""
    at = data.draw(st.sampled_from([i + 1 for i, token in enumerate(argv[:-1])
                                    if token.startswith("--") and token != "--quiet"]
                                   + ([1] if argv[0] == "graph" else [])), label="position")
    _check([*argv[:at], edge, *argv[at + 1:]])


def test_the_fuzz_reaches_success_and_training():
    """The fuzz's three outcomes all happen, so its checks are not vacuous."""
    assert _run(["graph", "x*2", "--set", "x=1", "--out", "g.dot"])[::3] == (0, ["g.dot"])
    assert _run(["train", "--out", "run"])[::3] == ("reached", [])
    assert _run(["train", "--lr", "inf", "--out", "run"])[::3] == (2, [])

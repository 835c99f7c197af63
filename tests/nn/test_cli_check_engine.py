"""`chainrule check-engine`: the report and exit status 0 or 1, and a one-line error with exit status 2 for
an engine that cannot be found or is not an engine."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nn.cli import main

FAST = ["--max-examples", "10", "--depth", "1500"]
HERE_ENGINES = Path(__file__).resolve().parents[1] / "autograd" / "testing" / "toy_engines.py"
CHAINRULE = str(Path(sys.executable).parent / "chainrule")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(err: str, expected: str) -> None:
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0] == f"chainrule check-engine: error: {expected}", err


@pytest.fixture
def engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding the toy engines as `myengine.py`, made the current directory (as a learner runs
    the command from their repo); the module leaves sys.modules afterwards."""
    (tmp_path / "myengine.py").write_text(HERE_ENGINES.read_text())
    (tmp_path / "broken.py").write_text("import numpyy\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("myengine", "broken"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


def test_a_right_engine_prints_the_table_and_exits_0(engines: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "check-engine", "myengine:Value", *FAST, "--seed", "3")
    assert status == 0, out + err
    assert out.startswith("myengine.Value: 16 passed, 0 failed, 10 unsupported (max_examples=10, seed=3, "
                          "depth=1,500)\n")
    assert "  reuse              pass         7 graphs with reused nodes\n" in out
    assert err == "checking myengine.Value: 26 checks, up to 10 examples each ...\n"


def test_a_failed_check_prints_its_example_and_exits_1(engines: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "check-engine", "myengine:WrongRsub", *FAST)
    assert status == 1, out + err
    assert "  constants          FAIL         1 - x0 at x0 = 1.5: out.data is 0.5, expected -0.5\n" in out
    example = out.split("constants: fail: ")[1]
    assert "from myengine import WrongRsub\n" in example and "out = 1 - x0\n" in example


@pytest.mark.parametrize(("target", "message"), [
    ("nosuchmodule:Value", "no module named 'nosuchmodule'; run from the directory that holds it, or pip "
                           "install it"),
    ("myengine:Valeu", "myengine:Valeu: 'myengine' has no attribute 'Valeu'; did you mean 'Value'?"),
    ("myengine:NOT_AN_ENGINE", "myengine:NOT_AN_ENGINE: 42 (int) is not an engine; an engine is a Value "
                               "class with micrograd's API, an autograd.testing.Engine, or a function of no "
                               "arguments that returns one"),
    ("myengine:math", "myengine:math: module 'math' is not an engine; an engine is a Value class with "
                      "micrograd's API, an autograd.testing.Engine, or a function of no arguments that "
                      "returns one"),
    ("myengine", "'myengine' is not MODULE:ATTR; name the engine as in micrograd.engine:Value"),
    ("broken:Value", "importing 'broken' failed: ModuleNotFoundError: No module named 'numpyy'"),
    ("myengine:Engine", "myengine:Engine: myengine.Engine is not an engine: its Values have no grad, "
                        "backward; give a Value class with micrograd's API (Value(x), .data, .grad, "
                        ".backward(), + and *) or an autograd.testing.Engine adapter"),
])
def test_what_is_not_an_engine_is_one_line_and_exit_2(engines: Path, capsys: pytest.CaptureFixture[str],
                                                      target: str, message: str) -> None:
    (engines / "myengine.py").write_text(HERE_ENGINES.read_text() + textwrap.dedent("""
        class Engine:  # data but no grad or backward
            def __init__(self, data):
                self.data = data

            def __add__(self, other):
                return self

            __mul__ = __add__
    """))
    status, out, err = run(capsys, "check-engine", target)
    assert status == 2 and out == ""
    assert_one_line_error(err, message)


@pytest.mark.parametrize(("option", "message"), [
    (["--max-examples", "0"], "argument --max-examples: '0': must be a finite number > 0"),
    (["--depth", "many"], "argument --depth: 'many' is not an int"),
    (["--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
])
def test_bad_options_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], option: list[str],
                                             message: str) -> None:
    status, out, err = run(capsys, "check-engine", "micrograd.engine:Value", *option)
    assert status == 2 and out == ""
    assert_one_line_error(err, message)


def test_the_installed_command_runs_from_the_engines_directory(tmp_path: Path) -> None:
    (tmp_path / "myengine.py").write_text(HERE_ENGINES.read_text())
    env = {**os.environ, "PYTHONPATH": ""}
    ok = subprocess.run([CHAINRULE, "check-engine", "myengine:Value", *FAST], cwd=tmp_path,
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = subprocess.run([CHAINRULE, "check-engine", "myengine:RecursiveOrder", *FAST], cwd=tmp_path,
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "deep_chain         FAIL         out.backward() raised RecursionError" in bad.stdout
    missing = subprocess.run([CHAINRULE, "check-engine", "myengine:Nope"], cwd=tmp_path,
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and missing.stdout == "" and "Traceback" not in missing.stderr
    assert missing.stderr == ("chainrule check-engine: error: myengine:Nope: 'myengine' has no attribute "
                              "'Nope'\n")

"""Every notebook runs top to bottom without error, and matches its percent-format source."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the 'test' extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the 'test' extra (nbclient)")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
assert _spec and _spec.loader
build_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_notebooks)


def test_every_source_has_a_built_notebook() -> None:
    sources = {p.stem for p in (ROOT / "notebooks" / "src").glob("*.py")}
    assert sources, "no notebook sources found"
    assert sources == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_source(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    expected = build_notebooks.cells_of((ROOT / "notebooks" / "src" / f"{path.stem}.py").read_text())
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in expected], (
        f"{path.name} is stale: run `python scripts/build_notebooks.py {path.stem}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    # Executed in a scratch directory, so a notebook that writes files leaves nothing in the checkout.
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


# -- notebooks teach; the library holds the tools ----------------------------------------------------

# What a notebook may define with def/class: the lesson itself, each with the reason it is there.
# Anything else (a plotting, metric, prediction or training helper) belongs in nn, nn.plot or autograd,
# where it is tested, and the notebook should call it from there.
LESSON_CODE = {
    "01_value_and_backprop": {"neuron": "the function whose grads are checked four ways"},
    "02_training_an_mlp": {"MyNeuron": "built from scratch to compare with nn.Neuron",
                           "MyLayer": "built from scratch to compare with nn.Layer"},
    "05_property_testing_gradients": {"softsign_ish": "a user's function under gradcheck",
                                      "test_gradients_match_finite_differences": "the property test taught"},
    "06_higher_order_derivatives": {"newton_step": "Newton's method, the algorithm taught"},
    # the learner's own engine is the notebook's subject: its class and the three fixes made to it
    "07_testing_your_own_engine": {"Value": "the learner's micrograd-style engine under test",
                                   "__mul__": "the fixed product rule", "__pow__": "the fixed power rule",
                                   "_backward": "the fixed rules' closures, as micrograd writes them",
                                   "backward": "the fixed, iterative backward"},
}
# Reaching around the public API: what the library already gives, or should.
FORBIDDEN = {"__import__(": "import the name instead", "__notes__": "print what the error message says"}


def _definitions(source: str) -> list[tuple[str, int]]:
    """(name, line) of every function and class a notebook source defines at any depth, methods of an
    allowed class aside."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.append((child.name, child.lineno))
                if isinstance(child, ast.ClassDef):
                    continue  # its methods are the class's own business
            visit(child)

    visit(ast.parse(source))
    return found


@pytest.mark.parametrize("source", sorted((ROOT / "notebooks" / "src").glob("*.py")), ids=lambda p: p.stem)
def test_notebook_defines_no_library_code(source: Path) -> None:
    text = source.read_text()
    allowed = LESSON_CODE.get(source.stem, {})
    defined = _definitions(text)
    helpers = [f"{name} (line {line})" for name, line in defined if name not in allowed]
    assert not helpers, (
        f"{source.name} defines {', '.join(helpers)}: helpers belong in the library (nn, nn.plot, autograd),"
        " tested there; if one is the lesson itself, add it to LESSON_CODE with the reason"
    )
    stale = sorted(set(allowed) - {name for name, _ in defined})
    assert not stale, f"LESSON_CODE lists {stale} for {source.name}, which no longer defines them"
    for pattern, instead in FORBIDDEN.items():
        assert pattern not in text, f"{source.name} uses {pattern!r}: {instead}"


def test_the_library_code_check_catches_a_helper() -> None:
    # the check itself: a plotting helper in a cell is found, at any depth, and a class's methods are not
    source = ("import x\n\ndef show(images):\n    pass\n\n"
              "class Mine:\n    def method(self):\n        def inner():\n            pass\n")
    assert _definitions(source) == [("show", 3), ("Mine", 6)]
    assert _definitions("if True:\n    def confusion(a):\n        pass\n") == [("confusion", 2)]


# -- fit's progress in Jupyter ---------------------------------------------------------------------


def test_fit_progress_in_jupyter_is_tqdms_widget(tmp_path: Path) -> None:
    code = ("import nn\nfrom nn.data import make_moons\nX, y = make_moons(20, noise=0.1, seed=0)\n"
            "history = nn.fit(nn.MLP(2, [4, 1], seed=0), X, y, epochs=2, batch_size=10)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert [line.split(" loss ")[0] for line in stdout.splitlines()] == ["epoch 1/2", "epoch 2/2"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]  # no red text
    # the widget's last state, saved by nbclient: the bar ran to the end, 2 epochs x 2 batches
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    bars = [m["state"] for m in state.values()
            if m["model_name"] in ("FloatProgressModel", "IntProgressModel")]
    assert len(bars) == 1 and bars[0]["value"] == bars[0]["max"] == 4

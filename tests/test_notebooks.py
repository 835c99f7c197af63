"""Every notebook runs top to bottom without error, and matches its percent-format source."""

from __future__ import annotations

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

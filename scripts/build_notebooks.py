"""Build notebooks/NN_name.ipynb from notebooks/src/NN_name.py (percent format) and execute them.

The .py sources are what we edit and review; the .ipynb files, with their outputs, are what readers
see on a code host. Usage: python scripts/build_notebooks.py [NAME ...]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SRC, OUT = ROOT / "notebooks" / "src", ROOT / "notebooks"
CELL = re.compile(r"^# %%( \[markdown\])?[^\n]*\n", re.MULTILINE)


def cells_of(source: str) -> list[nbformat.NotebookNode]:
    """Split percent-format source into notebook cells (markdown cells have their '# ' stripped)."""
    cells = []
    marks = list(CELL.finditer(source))
    for mark, nxt in zip(marks, [*marks[1:], None]):
        body = source[mark.end() : nxt.start() if nxt else len(source)].strip("\n")
        if mark.group(1):
            lines = body.splitlines()
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines)
            cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cells.append(nbformat.v4.new_code_cell(body))
    return cells


def build(src: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells_of(src.read_text())
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    resources = {"metadata": {"path": str(OUT)}}
    NotebookClient(nb, timeout=120, kernel_name="python3", resources=resources).execute()
    for cell in nb.cells:  # keep diffs small: no execution timestamps
        cell.get("metadata", {}).pop("execution", None)
    target = OUT / f"{src.stem}.ipynb"
    tmp = target.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(target)
    return target


def main(names: list[str]) -> int:
    sources = sorted(SRC.glob("*.py"))
    if names:
        sources = [s for s in sources if any(n in s.stem for n in names)]
    for src in sources:
        print(f"building {build(src).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""examples/learn_test_first.ipynb runs from its first cell to its last, and ends green.

nbclient executes it on a local ipykernel started from this very interpreter (a kernel spec written to
the test's temporary directory, so no kernel installed elsewhere is picked up). Any cell that raises
fails the test; so does a last report that is not OK.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
from helpers import REPO
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from test_where import NEURON

NOTEBOOK = REPO / "examples" / "learn_test_first.ipynb"


def execute(tmp_path: Path, notebook: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    spec = tmp_path / "kernels" / "this-python"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "this", "language": "python"})
    )
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)], ensure_native_kernel=False)
    kernel = KernelManager(kernel_name="this-python", kernel_spec_manager=specs)
    notebook = notebook or nbformat.read(NOTEBOOK, as_version=4)
    # Raises CellExecutionError, naming the cell, if any cell raises.
    NotebookClient(
        notebook, km=kernel, timeout=600, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return notebook


def shown(cell: nbformat.NotebookNode, mime: str = "text/plain") -> str:
    (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return str(result["data"][mime])


def test_the_notebook_walks_red_to_green_and_ends_with_an_ok_report(tmp_path: Path) -> None:
    notebook = execute(tmp_path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not any(o.output_type == "error" for o in cell.outputs) for cell in code)
    # each tdd cell: the step that is red (None: all green), as the lesson's text says
    screens = [shown(cell) for cell in code if cell.source.rstrip().endswith("tdd(Neuron)")]
    red = [re.search(r"^  RED\s+(\d+)\.", s, flags=re.M) for s in screens]
    assert [int(r.group(1)) if r else None for r in red] == [2, 3, 4, 8, None]
    assert screens[-1].endswith("All green.")
    last = code[-1]
    verdict = shown(last).splitlines()[-1]
    assert verdict.startswith("OK: ") and verdict.endswith(" passed, 0 failed, 0 errors, 4 skipped"), verdict
    assert "<table" in shown(last, "text/html")


# test_where's learner, with a typo in forward and no module beside it
TYPO = NEURON.replace("from helpers import refuse\n", "").replace("self.alpha * z", "self.aplha * z")


def test_an_error_in_a_class_of_a_notebook_names_its_cell_and_line(tmp_path: Path) -> None:
    """A class defined in a cell and sent to its process by value still names where it raised."""
    validate = "import golden\ngolden.validate(Neuron, properties=False, cases='single_feature')"
    cells = [nbformat.v4.new_code_cell(TYPO), nbformat.v4.new_code_cell(validate)]
    notebook = execute(tmp_path, nbformat.v4.new_notebook(cells=cells))
    line = next(i for i, text in enumerate(TYPO.splitlines(), 1) if "aplha" in text)
    report = shown(notebook.cells[1])
    assert f"forward raised AttributeError at cell In[1], line {line}: " in report, report

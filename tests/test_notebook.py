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

NOTEBOOK = REPO / "examples" / "learn_test_first.ipynb"


def execute(tmp_path: Path) -> nbformat.NotebookNode:
    spec = tmp_path / "kernels" / "this-python"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "this", "language": "python"})
    )
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)], ensure_native_kernel=False)
    kernel = KernelManager(kernel_name="this-python", kernel_spec_manager=specs)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
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
    assert "<table>" in shown(last, "text/html")

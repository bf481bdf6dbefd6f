"""The README's two walkthroughs of a user's own case set run as written: each block is read out of the
README and run by bash, from a temporary folder standing for the repository's root (it holds the
examples the blocks copy), with this environment's ``neuron-oracle`` and ``python`` first on the PATH."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def block(name: str) -> str:
    """The shell block the README marks ``<!-- walkthrough: NAME -->``."""
    (found,) = re.findall(rf"<!-- walkthrough: {name} -->\n```sh\n(.*?)\n```", README, flags=re.S)
    return str(found)


def walk(name: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run walkthrough `name` with ``set -eu``, as a user pastes it; return the run and its root."""
    root = tmp_path / "repository"
    (root / "examples").mkdir(parents=True)
    for example in ("pure_python.py", "numpy_float32.py"):
        shutil.copy(REPO / "examples" / example, root / "examples" / example)
    env = {k: v for k, v in os.environ.items() if k != "CI"}  # the blocks set CI where they mean it
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HYPOTHESIS_PROFILE"] = "dev"  # 20 examples a property: this tests the walk, not the properties
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block(name)],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run, root


def test_the_engineers_walkthrough_keeps_a_production_shape_case_that_ci_checks(tmp_path: Path) -> None:
    run, root = walk("engineer", tmp_path)
    golden = root / "service" / "tests" / "golden"
    manifest = json.loads((golden / "manifest.json").read_text())
    assert list(manifest["cases"]) == ["production_batch"]
    assert manifest["provenance"]["case_file"] == "tests/my_cases.py"
    case = json.loads((golden / "production_batch.json").read_text())
    assert (len(case["inputs"]["X"]), len(case["inputs"]["X"][0])) == (512, 64)
    assert "tests/golden/production_batch" in run.stdout and "OK: " in run.stdout
    assert run.stdout.rstrip().endswith("tests/golden: every case agrees with tests/my_cases.py")


def test_the_teachers_walkthrough_grades_five_submissions_against_a_hidden_set(tmp_path: Path) -> None:
    run, root = walk("teacher", tmp_path)
    assert "not every submission passed" in run.stdout  # bob and erin fail: validate exits 1
    results = root / "course" / "results"
    graded = {p.stem: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert len(graded) == 5, sorted(graded)
    hidden = {
        who: [t for t in result["tests"] if t["name"].startswith("grader/hidden/")]
        for who, result in graded.items()
    }
    assert all(len(tests) == 3 for tests in hidden.values()), hidden
    assert "FAILED: 3 of 5 implementations OK" in run.stdout  # alice, carol and dave; not bob, erin
    failed = {
        who: [t["name"] for t in result["tests"] if t["status"] == "failed"] for who, result in graded.items()
    }
    assert not failed["alice"] and not failed["carol"]
    kinks = {"v3/zero_z_takes_derivative_one", "v3/zero_z_exact_in_every_precision"}  # z = 0: alpha there
    assert kinks <= set(failed["bob"]) and not any(n.startswith("grader/hidden/") for n in failed["bob"])
    assert {f"grader/hidden/{case}" for case in ("leaky_branch_course_alpha", "four_steps")} <= set(
        failed["erin"]
    )

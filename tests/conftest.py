"""Hypothesis profile: "ci" (derandomized, 100 examples) on CI, else the one named by HYPOTHESIS_PROFILE.

Nothing is written into the toolkit's packages while the suite runs, since a validate in another worker
records every file of them and takes one that appears meanwhile for a change the implementation made:
bytecode goes to a tree of its own in pytest's cache folder (``PYTHONPYCACHEPREFIX``, for the processes
the tests start too), and so does numba's compiled kernel (``NUMBA_CACHE_DIR``). A validate watches
the bytecode of the toolkit under that prefix as well, so each xdist worker has a tree of its own: its
tests run one at a time, and no other worker's processes write there. The bytecode is kept
even where PYTHONDONTWRITEBYTECODE is set: the suite starts some two thousand interpreters, and each
pytest among them would otherwise rewrite the asserts of every module of its plugins again (1.2 s each).
``make test`` compiles our sources into the packages before the suite starts, for the implementations'
children, which run with ``-I -B`` and read bytecode only from there."""

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache"
os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHE / "numba"))
# a tree per worker (see the docstring), and per run where several run at once (.ci/run's variations)
WORKER = os.environ.get("PYTEST_XDIST_WORKER", os.environ.get("NEURON_ORACLE_TEST_TREE", "main"))
os.environ["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix = str(CACHE / "pycache" / WORKER)
os.environ["PYTHONDONTWRITEBYTECODE"] = ""  # empty is unset
sys.dont_write_bytecode = False

import golden.harness.properties  # noqa: E402, F401  (registers the "ci" and "dev" profiles)

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))

sys.path.insert(0, str(Path(__file__).parent))  # tests import broken_neurons


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every snapshot test is marked `reports`: .ci/run runs them again with the numpy kernel, one thread
    and one core, since no snapshot may hold what depends on those."""
    for item in items:
        if "snapshot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.reports)


@pytest.fixture
def hypothesis_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per run of Hypothesis (to draw, or to shrink)."""
    runs: list[int] = []
    from golden.harness import _batch as batch

    under = batch._under_hypothesis

    def counted(*args: Any) -> Any:
        runs.append(1)
        return under(*args)

    monkeypatch.setattr(batch, "_under_hypothesis", counted)
    return runs

"""Hypothesis profile: "ci" (derandomized, 100 examples) on CI, else the one named by HYPOTHESIS_PROFILE."""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

import golden.harness.properties  # noqa: F401  (registers the "ci" and "dev" profiles)

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))

sys.path.insert(0, str(Path(__file__).parent))  # tests import broken_neurons


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every snapshot test is marked `reports`: .ci/run runs them again with the numpy kernel, one thread
    and one core, since no snapshot may hold what depends on those."""
    for item in items:
        if "snapshot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.reports)

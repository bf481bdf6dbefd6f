"""What several test files share: running `neuron-oracle validate` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parent.parent


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m golden validate ARGS` from the repository, under the derandomized "ci" Hypothesis profile
    (so the property runs are the same every time)."""
    return subprocess.run(
        [sys.executable, "-m", "golden", "validate", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "HYPOTHESIS_PROFILE": "ci"},
    )

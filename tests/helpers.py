"""What several test files share: running `neuron-oracle validate` as a user runs it, and snapshots that
hold on every machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m golden validate ARGS --sandbox off` from the repository, under the derandomized "ci"
    Hypothesis profile (so the property runs are the same every time). Unsandboxed: these runs test the
    judging; tests/test_sandbox.py tests the sandbox."""
    return subprocess.run(
        [sys.executable, "-m", "golden", "validate", *args, "--sandbox", "off"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "HYPOTHESIS_PROFILE": "ci"},
    )


# What an implementation computed in floating point depends on the CPU, the BLAS, the thread count and
# numba's split of a sum: a snapshot holds none of it. In a report, that is the value after "got" and the
# error and ratio of a failure; the expected values and bounds are the oracle's, exact, and stay.
NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|nan|inf|-inf"
COMPUTED = (
    (re.compile(rf"(\bgot\s+)(\[[\[\]\s,\-+.\deinaf]*\]|{NUMBER})"), r"\1<computed>"),
    (re.compile(rf"\berror (?:{NUMBER}) is (?:(?:{NUMBER}) ×|above)"), "error <computed> is <computed> ×"),
)


def machine_free(text: str) -> str:
    """`text` with every value an implementation computed replaced by ``<computed>``."""
    for pattern, replacement in COMPUTED:
        text = pattern.sub(replacement, text)
    return text


def machine_free_report(report: dict[str, Any]) -> dict[str, Any]:
    """A JSON report without what depends on the machine: each outcome's ``got`` and the numbers in its
    message masked, and its ``ratios`` reduced to the stages checked, once each ratio is asserted to be
    at most 1 on every stage that agreed (the one a failure names may exceed it), and the address-space
    backstop (it grows with the machine's CPUs) once it is asserted to be at least 4 times the memory."""
    limits = dict(report["isolation"]["limits"])
    assert limits["RLIMIT_AS"] >= 4 * limits["RLIMIT_DATA"], limits
    limits["RLIMIT_AS"] = "<4 x RLIMIT_DATA + CPUs x 256 MiB>"
    outcomes = []
    for outcome in report["outcomes"]:
        for stage, ratio in outcome["ratios"].items():
            if stage != outcome["stage"]:
                assert 0 <= ratio <= 1, (outcome["name"], stage, ratio)
        outcomes.append(
            outcome
            | {
                "got": None if outcome["got"] is None else "<computed>",
                "message": machine_free(outcome["message"]),
                "ratios": sorted(outcome["ratios"]),
            }
        )
    return report | {"isolation": report["isolation"] | {"limits": limits}, "outcomes": outcomes}


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def raise_sites(text: str, head: str, tail: str = "") -> list[tuple[Path, int]]:
    """Every place `text` names in ``HEAD at FILE:LINE TAIL`` (``forward raised RuntimeError at
    tests/x.py:12: boom``), each checked to be a line that raises: the file (relative to the repository,
    or absolute) holds a ``raise`` on that line."""
    sites = []
    for path, number in re.findall(rf"{re.escape(head)} at (\S+?):(\d+){re.escape(tail)}", text):
        file = REPO / path if not Path(path).is_absolute() else Path(path)
        line = file.read_text().splitlines()[int(number) - 1]
        assert line.lstrip().startswith("raise "), f"{path}:{number} is {line!r}, not a raise"
        sites.append((file, int(number)))
    return sites

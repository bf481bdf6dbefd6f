"""Wall time of `neuron-oracle validate` on the bundled Neuron, for git revisions side by side, in one run.

    python benchmarks/validate.py 5078242 a827ab3 HEAD      # medians of 7 runs each, as ratios to the first

Each revision is checked out into a temporary worktree and run with this interpreter (the same numpy,
Hypothesis and machine), from its own folder, with `HYPOTHESIS_PROFILE` unset. The runs are interleaved
(one of each revision per round), so a change in the machine's load touches every revision alike. Each
worktree is compiled first (``compileall``), as pip leaves an installed package: otherwise, where bytecode
is not written (``PYTHONDONTWRITEBYTECODE``, or the sandboxed child's ``-B``), every run compiles every
module again, a cost that grows with the revision's lines and that no installed copy pays.
Extra arguments after `--` go to validate (e.g. `-- --golden v1` to hold every revision to the same cases).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    argv = sys.argv[1:]
    mine, extra = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+", help="git revisions, the first the baseline")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(mine)
    env = {k: v for k, v in os.environ.items() if k not in ("HYPOTHESIS_PROFILE", "PYTHONPATH")}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for rev in args.revisions:
            tree = Path(tmp) / rev.replace("/", "_")
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(tree), rev], check=True
            )
            # compiled as pip leaves an installed package (see the docstring)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree)], check=True)
            trees[rev] = tree
        try:
            times: dict[str, list[float]] = {rev: [] for rev in args.revisions}
            for _ in range(args.rounds):
                for rev, tree in trees.items():
                    start = time.perf_counter()
                    out = subprocess.run(
                        [sys.executable, "-m", "golden", "validate", *extra],
                        cwd=tree,
                        env={**env, "PYTHONPATH": str(tree)},
                        capture_output=True,
                        text=True,
                    )
                    times[rev].append(time.perf_counter() - start)
                    if out.returncode != 0:
                        print(
                            f"{rev}: validate exited {out.returncode}\n{out.stdout[-500:]}{out.stderr[-500:]}"
                        )
                        return 1
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False
                )
    base = statistics.median(times[args.revisions[0]])
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; median of {args.rounds} runs")
    for rev, runs in times.items():
        median = statistics.median(runs)
        spread = f"min {min(runs):.2f}, max {max(runs):.2f}"
        print(f"  {rev:<10} {median:6.2f} s  ({median / base:.2f}× the first; {spread})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Grade 100 submissions with `neuron-oracle validate 'DIR/*.py:Neuron' --jobs 2 --format json`: time, memory.

The submissions are files in a temporary folder, each the module ``tests/broken_neurons.py`` with
``Neuron`` bound to one of its classes: 49 correct (``Textbook``), 49 with one classic mistake or
misbehaviour each (the other classes in turn), one that hangs (``SleepsForever``) and one that ends its
own process (``ExitsTheProcess``). Every run uses the defaults: a 5 s timeout and Hypothesis's default
examples for the nine properties.

Printed: the wall time; the peak resident memory of the largest single process (``getrusage``
RUSAGE_CHILDREN ``ru_maxrss``: the validator or one of its children), that of this script (RUSAGE_SELF),
and the peak of the validator and all its children together, sampled from /proc every 50 ms; and a check
that every correct submission, and no other, was graded OK.

    python benchmarks/grading.py [--jobs 2] [--count 100]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BROKEN = (REPO / "tests" / "broken_neurons.py").read_text()
MISTAKES = (
    "MeanBiasGradient",
    "MeanGradient",
    "MissingActivationDerivative",
    "MissingBiasGradient",
    "WrongUpdateSign",
    "AlphaAtZero",
    "HardcodedAlpha",
    "FullSquaredError",
    "ForwardAsColumn",
    "GradientOfWeightsOnly",
    "ScalesXInPlace",
    "ReturnsNaN",
    "RaisesInForward",
)
PAGE = os.sysconf("SC_PAGE_SIZE")


def submissions(folder: Path, count: int) -> dict[str, str]:
    """Write `count` submissions into `folder`; the class each one binds to Neuron, by file name."""
    broken = count - 2 - (count - 2) // 2
    classes = ["SleepsForever", "ExitsTheProcess"]
    classes += ["Textbook"] * (count - 2 - broken)
    classes += [MISTAKES[i % len(MISTAKES)] for i in range(broken)]
    chosen = {}
    for number, cls in enumerate(classes):
        name = f"student_{number:03d}"
        (folder / f"{name}.py").write_text(f"{BROKEN}\nNeuron = {cls}\n")
        chosen[name] = cls
    return chosen


def tree_rss(root: int) -> int:
    """Resident bytes of process `root` and all its descendants, now (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(statm[1]) * PAGE
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += [child for child, parent in parents.items() if parent == pid]
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        chosen = submissions(folder, args.count)
        command = [
            sys.executable, "-m", "golden", "validate", f"{folder}/*.py:Neuron",
            "--jobs", str(args.jobs), "--format", "json",
        ]  # fmt: skip
        peak, done = 0, threading.Event()
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.05):
                peak = max(peak, tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, err = proc.communicate()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = usage.ru_maxrss / 1024  # KiB on Linux
    if proc.returncode not in (0, 1):
        print(f"validate exited {proc.returncode}: {err.strip().splitlines()[-1:]}")
        return 1
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table = json.loads(out)
    rows = {Path(r["impl"].rpartition(":")[0]).stem: r for r in table["implementations"]}
    ok = sorted(name for name, r in rows.items() if r["ok"])
    correct = sorted(name for name, cls in chosen.items() if cls == "Textbook")
    cpu = os.cpu_count() or 1
    print(f"{len(rows)} submissions, --jobs {args.jobs}, {cpu} cores, Python {sys.version.split()[0]}")
    print(f"  wall time                         {wall:8.1f} s   ({wall / len(rows):.2f} s a submission)")
    print(f"  exit status                       {proc.returncode:8d}")
    cpu_time = usage.ru_utime + usage.ru_stime
    print(
        f"  CPU time, validator and children  {cpu_time:8.1f} s   ({cpu_time / wall / cpu:.0%} of the cores)"
    )
    print(f"  peak RSS, largest process         {children:8.0f} MiB (RUSAGE_CHILDREN ru_maxrss)")
    print(f"  peak RSS, this script             {me:8.0f} MiB (RUSAGE_SELF ru_maxrss)")
    print(f"  peak RSS, validator and children  {peak / 2**20:8.0f} MiB (summed from /proc every 50 ms)")
    print(f"  graded OK                         {len(ok):8d}   (correct submissions: {len(correct)})")
    for label, cls in (("hangs", "SleepsForever"), ("exits", "ExitsTheProcess")):
        r = next(r for n, r in rows.items() if chosen[n] == cls)
        print(f"  the one that {label:<20} {r['score']:g}/{r['max_score']:g}: {r['message'][:60]}")
    if ok != correct or proc.returncode != 1:
        print("MISMATCH: the correct submissions and those graded OK differ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

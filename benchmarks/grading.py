"""Grade 100 submissions with `neuron-oracle validate 'DIR/*.py:Neuron' --jobs 2 --format json`: time, memory.

The submissions are files in a temporary folder, each the module ``tests/broken_neurons.py`` with
``Neuron`` bound to one of its classes: 49 correct (``Textbook``), 49 with one classic mistake or
misbehaviour each (the other classes in turn), one that hangs (``SleepsForever``) and one that ends its
own process (``ExitsTheProcess``). Every run uses the defaults: a 5 s timeout and Hypothesis's default
examples for the properties.

Printed: the wall time; the CPU time per submission, which is the validator's and all its processes'
(``getrusage`` RUSAGE_CHILDREN user + sys, plus what that cannot see: the sandboxed implementations'
processes end with their sandbox, reaped by no process this script waits for, so their CPU time is read
from /proc every 50 ms while they run, where their pid namespace is not this script's), and beside it the
floor: the same for as many empty submissions (``class Neuron: pass``, refused at load: a worker, a
sandboxed process started and stopped, nothing judged); the peak resident memory of the largest single
process (RUSAGE_CHILDREN ``ru_maxrss``: the validator or one of its children), that of this script
(RUSAGE_SELF), and the peak of the validator and all its children together, sampled from /proc every
50 ms; and a check that every correct submission, and no other, was graded OK.

    python benchmarks/grading.py [--jobs 2] [--count 100] [--cluster local] [--seed N]

The batch's seed decides the examples, and so what shrinking the failures costs: runs with fresh seeds (the
default, as a teacher's batch has) differ by up to 0.3 CPU-s a submission here; ``--seed`` fixes it.

With ``--cluster local`` every validate grades on a Dask LocalCluster of ``--jobs`` workers (the dask
extra), whose worker processes are the validator's children: counted as the local workers are.
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
from dataclasses import dataclass
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
TICKS = os.sysconf("SC_CLK_TCK")


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


class Tree:
    """The processes below one root, sampled from /proc: their resident memory together, at its peak, and
    the CPU time of those in another pid namespace (a sandbox's) at their last sample."""

    def __init__(self, root: int) -> None:
        self.root, self.peak = root, 0
        self.namespace = os.readlink("/proc/self/ns/pid")
        self.sandboxed: dict[int, float] = {}  # pid -> seconds of CPU, user + sys, at its last sample

    def sample(self) -> None:
        """Look at every process once."""
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                statm = Path(f"/proc/{entry}/statm").read_text().split()
                namespace = os.readlink(f"/proc/{entry}/ns/pid")
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(statm[1]) * PAGE
            if namespace != self.namespace:
                cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        total, stack = 0, [self.root]
        while stack:
            pid = stack.pop()
            total += rss.get(pid, 0)
            if pid in cpu:
                self.sandboxed[pid] = cpu[pid]
            stack += [child for child, parent in parents.items() if parent == pid]
        self.peak = max(self.peak, total)


@dataclass
class Run:
    """One validate over a folder of submissions."""

    wall: float
    code: int
    out: str
    err: str
    cpu: float  # seconds, user + sys, of the validator and every process below it
    unseen: float  # of which, the sandboxed processes' that RUSAGE_CHILDREN does not count
    tree: Tree


def grade(folder: Path, jobs: int, cluster: str | None = None, seed: int | None = None) -> Run:
    """Run validate on every submission in `folder`, sampling its process tree."""
    command = [
        sys.executable, "-m", "golden", "validate", f"{folder}/*.py:Neuron",
        "--jobs", str(jobs), "--format", "json", *(("--cluster", cluster) if cluster else ()),
        *(("--seed", str(seed)) if seed is not None else ()),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = threading.Event()
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    tree = Tree(proc.pid)

    def sample() -> None:
        while not done.wait(0.05):
            tree.sample()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    unseen = sum(tree.sandboxed.values())
    return Run(wall, proc.returncode, out, err, reaped + unseen, unseen, tree)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--cluster", choices=["local"], help="grade on a Dask LocalCluster of --jobs workers")
    parser.add_argument("--seed", type=int, help="the batch's seed (default: fresh, as validate draws one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, empty = Path(tmp) / "mix", Path(tmp) / "empty"
        folder.mkdir()
        empty.mkdir()
        chosen = submissions(folder, args.count)
        for number in range(args.count):
            (empty / f"student_{number:03d}.py").write_text("class Neuron:\n    pass\n")
        run = grade(folder, args.jobs, args.cluster, args.seed)
        floor = grade(empty, args.jobs, args.cluster, args.seed)
    if run.code not in (0, 1):
        print(f"validate exited {run.code}: {run.err.strip().splitlines()[-1:]}")
        return 1
    return report(run, floor, chosen, args.jobs, args.cluster)


def report(run: Run, floor: Run, chosen: dict[str, str], jobs: int, cluster: str | None = None) -> int:
    """Print what `run` (and the `floor`'s run) measured; 1 if the grades are not the expected ones."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table = json.loads(run.out)
    print(f"seed {table['seed']}")
    rows = {Path(r["impl"].rpartition(":")[0]).stem: r for r in table["implementations"]}
    ok = sorted(name for name, r in rows.items() if r["ok"])
    correct = sorted(name for name, cls in chosen.items() if cls == "Textbook")
    cpu, n, wall, empties = os.cpu_count() or 1, len(rows), run.wall, len(chosen)
    engine = f"--cluster {cluster} " if cluster else ""
    print(f"{n} submissions, {engine}--jobs {jobs}, {cpu} cores, Python {sys.version.split()[0]}")
    print(f"  wall time                         {wall:8.1f} s   ({wall / n:.2f} s a submission)")
    print(f"  exit status                       {run.code:8d}")
    print(f"  CPU time, validator and children  {run.cpu:8.1f} s   ({run.cpu / wall / cpu:.0%} of the cores)")
    per, least = run.cpu / n, floor.cpu / empties
    print(f"  CPU time a submission             {per:8.2f} s   (floor, an empty submission: {least:.2f} s)")
    hidden, hidden_floor = run.unseen / n, floor.unseen / empties
    print(f"    of which sandboxed, from /proc  {hidden:8.2f} s   (floor: {hidden_floor:.2f} s)")
    print(f"  peak RSS, largest process         {children:8.0f} MiB (RUSAGE_CHILDREN ru_maxrss)")
    print(f"  peak RSS, this script             {me:8.0f} MiB (RUSAGE_SELF ru_maxrss)")
    print(f"  peak RSS, validator and children  {run.tree.peak / 2**20:8.0f} MiB (from /proc every 50 ms)")
    print(f"  graded OK                         {len(ok):8d}   (correct submissions: {len(correct)})")
    for label, cls in (("hangs", "SleepsForever"), ("exits", "ExitsTheProcess")):
        r = next(r for name, r in rows.items() if chosen[name] == cls)
        print(f"  the one that {label:<20} {r['score']:g}/{r['max_score']:g}: {r['message'][:60]}")
    if ok != correct or run.code != 1:
        print("MISMATCH: the correct submissions and those graded OK differ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

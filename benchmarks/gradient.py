"""Benchmark: the Neuron's gradient against the floor of one X @ w, on the same data in one run.

    python benchmarks/gradient.py            # the issue's shapes: 2,000,000×32, 250,000×256, 4,096×64
    python benchmarks/gradient.py --quick    # small shapes, to check the script runs

Each method is timed as the best of --repeats runs after a warm-up call (which also compiles the numba
kernel). Times are printed as ratios to the floor, one ``X @ w``, which reads X once. The peak extra
memory of ``Neuron.gradient`` is measured with tracemalloc, as a share of X's size. Targets, on the two
large shapes: the gradient within 1.5× of the floor, at least 2.5× faster than PyTorch autograd, and
extra memory under 5 % of X. Exit status 1 when a target is missed.

Where numba is installed, the column "read X" times a parallel sum of X with no other arithmetic: the
least time in which anything that reads X once can run on this machine. "torch/read" is then the most
any single-pass gradient could gain over torch here.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from neuron import Neuron

SHAPES = [(2_000_000, 32), (250_000, 256), (4_096, 64)]
QUICK = [(20_000, 32), (2_500, 256), (512, 64)]
LARGE = 1_000_000  # shapes with at least this many elements are held to the targets


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """The fastest of `repeats` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_two_pass(X: np.ndarray, w: np.ndarray, b: float, y: np.ndarray) -> tuple[np.ndarray, float]:
    """The textbook numpy gradient: z, a, delta over the whole batch, then delta @ X (reads X twice)."""
    z = X @ w + b
    d = np.where(z < 0, 0.01, 1.0)
    delta = (z * d - y) * d
    return delta @ X, float(delta.sum())


def torch_autograd(X: np.ndarray, w: np.ndarray, b: float, y: np.ndarray) -> Callable[[], Any] | None:
    """PyTorch CPU autograd on the same arrays (no copy), or None where torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run() -> Any:
        wt = torch.tensor(w, requires_grad=True)
        bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        z = Xt @ wt + bt
        a = torch.where(z < 0, 0.01 * z, z)
        (0.5 * ((a - yt) ** 2).sum()).backward()
        return wt.grad, bt.grad

    return run


def bare_read() -> Callable[[np.ndarray], Any] | None:
    """A parallel sum of X compiled with numba (reading X, nothing else), or None without numba."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(parallel=True, fastmath={"reassoc"})
    def read(x: np.ndarray) -> float:  # pragma: no cover  # compiled
        s = 0.0
        for i in numba.prange(x.shape[0]):
            s += x[i]
        return s

    return lambda X: read(X.reshape(-1))


def peak_extra_memory(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated during one call, as tracemalloc sees them (numpy reports its buffers)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def with_kernel(name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    """`fn` run with NEURON_ORACLE_KERNEL set to `name`."""

    def run() -> Any:
        old = os.environ.get("NEURON_ORACLE_KERNEL")
        os.environ["NEURON_ORACLE_KERNEL"] = name
        try:
            return fn()
        finally:
            if old is None:
                del os.environ["NEURON_ORACLE_KERNEL"]
            else:
                os.environ["NEURON_ORACLE_KERNEL"] = old

    return run


def machine() -> str:
    """CPU model, cores and library versions, for the record."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"numpy {np.__version__}"]
    for name in ("numba", "torch"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            versions.append(f"{name} not installed")
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {', '.join(versions)}"


def measure(X: np.ndarray, y: np.ndarray, repeats: int) -> dict[str, float]:
    """Best times (seconds) of each method on (X, y), and the gradient's extra memory as a share of X."""
    neuron = Neuron(X.shape[1], seed=0)
    w, b = neuron.w, neuron.b
    torch_run = torch_autograd(X, w, b, y)
    read = bare_read()
    return {
        "floor": best_time(lambda: X @ w, repeats),
        "read": best_time(lambda: read(X), repeats) if read else float("nan"),
        "gradient": best_time(lambda: neuron.gradient(X, y), repeats),
        "blocks": best_time(with_kernel("numpy", lambda: neuron.gradient(X, y)), repeats),
        "plain": best_time(lambda: plain_two_pass(X, w, b, y), repeats),
        "torch": best_time(torch_run, repeats) if torch_run else float("nan"),  # nan compares False
        "extra": peak_extra_memory(lambda: neuron.gradient(X, y)) / X.nbytes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, to check the script runs")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per method (default 7)")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    header = f"{'shape':>16}  {'floor X@w':>10}  {'read X':>7}  {'gradient':>9}  {'numpy blocks':>12}  "
    header += f"{'two-pass':>9}  {'torch':>7}  {'torch/grad':>10}  {'torch/read':>10}  {'extra memory':>12}"
    print(header)
    missed = []
    rng = np.random.default_rng(0)
    for m, n in QUICK if args.quick else SHAPES:
        r = measure(rng.standard_normal((m, n)), rng.standard_normal(m), args.repeats)
        floor, grad, torch_time = r["floor"], r["gradient"], r["torch"]
        print(
            f"{f'{m:,}×{n}':>16}  {floor * 1e3:>8.2f}ms  {r['read'] / floor:>6.2f}×  {grad / floor:>8.2f}×  "
            f"{r['blocks'] / floor:>11.2f}×  {r['plain'] / floor:>8.2f}×  {torch_time / floor:>6.2f}×  "
            f"{torch_time / grad:>9.2f}×  {torch_time / r['read']:>9.2f}×  {r['extra']:>11.2%}"
        )
        if m * n >= LARGE and not args.quick:
            if grad > 1.5 * floor:
                missed.append(f"{m}×{n}: gradient {grad / floor:.2f}× the floor; target 1.5×")
            if torch_time < 2.5 * grad:
                missed.append(
                    f"{m}×{n}: torch autograd only {torch_time / grad:.2f}× slower; target 2.5× "
                    f"(a bare read of X is {torch_time / r['read']:.2f}× faster than torch)"
                )
            if r["extra"] >= 0.05:
                missed.append(f"{m}×{n}: extra memory {r['extra']:.1%} of X; target under 5 %")
    print("\n".join(f"MISSED {line}" for line in missed) or "all targets met" * (not args.quick))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""What the isolation costs, and how much memory the examples' processes need, measured in one run.

    python benchmarks/isolation.py [--rounds 5] [--batch 20]

1. **Peak data and address space of the implementation's process** for each example (numpy, PyTorch,
   JAX, pure Python): ``neuron-oracle validate EXAMPLE --sandbox off``, the ``VmData`` and ``VmPeak`` of
   every child of the run sampled from /proc every 10 ms (``RLIMIT_DATA``, which ``--max-memory`` sets,
   counts exactly the first; the ``RLIMIT_AS`` backstop the second). An example
   whose library is not installed is left out, saying so.
2. **Wall time with and without the sandbox**, as ratios to ``--sandbox off`` on the same machine and
   data, interleaved round by round: ``validate`` on the bundled Neuron (its defaults: every case and
   property), and a batch of ``--batch`` submissions of ``benchmarks/grading.py``'s mix with ``--jobs 2``.
   The sandbox is had with bubblewrap, and with the standard library's own (bwrap kept off PATH).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from grading import submissions  # noqa: E402  (the same mix as the grading benchmark)

NEURON_ORACLE = str(Path(sys.executable).with_name("neuron-oracle"))
EXAMPLES = {
    "numpy (the bundled Neuron)": ("neuron:Neuron", "numpy"),
    "pure Python": (f"{REPO}/examples/pure_python.py:Neuron", None),
    "numpy float32": (f"{REPO}/examples/numpy_float32.py:Neuron", "numpy"),
    "PyTorch autograd": (f"{REPO}/examples/torch_autograd.py:Neuron", "torch"),
    "JAX float32": (f"{REPO}/examples/jax_float32.py:Neuron", "jax"),
}


def peaks(spec: str) -> dict[str, int]:
    """The largest VmData and VmPeak (address space), in bytes, of any implementation process of one
    validate of `spec`."""
    proc = subprocess.Popen(
        [NEURON_ORACLE, "validate", spec, "--sandbox", "off"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = {"VmData": 0, "VmPeak": 0}

    def sample() -> None:
        while proc.poll() is None:
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    if b"boot.py" not in Path(f"/proc/{entry}/cmdline").read_bytes():
                        continue
                    for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                        key = line.split(":")[0]
                        if key in peak:
                            peak[key] = max(peak[key], int(line.split()[1]) * 1024)
                except OSError:
                    continue
            time.sleep(0.01)

    watcher = threading.Thread(target=sample)
    watcher.start()
    proc.wait()
    watcher.join()
    return peak


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-800:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20)
    args = parser.parse_args()
    info = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in info if "model name" in line), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, uid {os.geteuid()}")

    print("\npeak data (VmData) and address space (VmPeak) of the implementation's process, a validate each")
    for name, (spec, module) in EXAMPLES.items():
        if module and importlib.util.find_spec(module) is None:
            print(f"  {name:<28} not measured: {module} is not installed")
            continue
        peak = peaks(spec)
        data, space = (peak[k] / (1 << 20) for k in ("VmData", "VmPeak"))
        print(f"  {name:<28} {data:8.0f} MiB data, {space:6.0f} MiB address space")

    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bin"  # PATH without bwrap: the standard library's sandbox
        bare.mkdir()
        levels = {"off": (["--sandbox", "off"], env)}
        if shutil.which("bwrap"):
            levels["on, bubblewrap"] = (["--sandbox", "on"], env)
        levels["on, standard library"] = (["--sandbox", "on"], {**env, "PATH": str(bare)})
        subs = Path(tmp) / "subs"
        subs.mkdir()
        submissions(subs, args.batch)
        runs = {
            "validate": [NEURON_ORACLE, "validate"],
            f"batch of {args.batch}": [
                NEURON_ORACLE,
                "validate",
                f"{subs}/*.py:Neuron",
                "--jobs",
                "2",
                "--format",
                "json",
            ],
        }
        for label, argv in runs.items():
            times: dict[str, list[float]] = {level: [] for level in levels}
            rounds = args.rounds if label == "validate" else max(1, args.rounds // 2)
            for _ in range(rounds):
                for level, (flags, level_env) in levels.items():
                    times[level].append(timed([*argv, *flags], Path(tmp), level_env))
            base = statistics.median(times["off"])
            print(f"\n{label}: median of {rounds} interleaved runs")
            for level, took in times.items():
                median = statistics.median(took)
                spread = f"min {min(took):.2f}, max {max(took):.2f}"
                print(f"  {level:<22} {median:7.2f} s  ({median / base:.2f}×; {spread})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the implementation's process may see, reach and use: the isolation level, its limits, its command.

Two levels (``--sandbox``; ``auto`` picks one):

- **off**: the implementation's process starts clean (``golden.harness._boot``: isolated mode, a private
  empty working folder, no bytecode written, undumpable first) under resource limits on memory, file size
  and open files. It runs as you, with your files and your network.
- **on**: the same, inside a sandbox: its own PID, network, IPC and UTS namespaces (it cannot see or
  signal any process of ours, and reaches no network, 127.0.0.1 included), a root filesystem holding only
  the Python installation, its site-packages, this toolkit's package and the implementation's own file or
  folder, all read-only, and a fresh tmpfs as its working folder; as root it also runs as an unprivileged
  uid of its own, so a limit on processes applies. When its first process ends, every process in it ends.
  Had with bubblewrap (``bwrap``) when it is installed, else with the standard library (``boot.confine``:
  ``unshare``, ``mount``, ``pivot_root``).

``auto`` is ``on`` when grading (several IMPLs, or a grading format) as root, which is how every
Gradescope container runs, and ``off`` otherwise. ``on`` refuses, in one line, where it cannot be had.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from golden.errors import SandboxError
from golden.options import DEFAULT_MEMORY, GiB, MiB
from golden.options import SANDBOX_LEVELS as LEVELS

THREAD_RESERVE = 256 * MiB  # per CPU: two threads' 8 MiB stacks and 64 MiB malloc arenas, rounded up
UID_BASE = 61000  # sandboxed as root: uid UID_BASE + the job's slot, a uid no account uses
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group", "hosts")
# The variables the sandboxed process is given (every other one stays out: a grader's tokens among them).
ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "NEURON_ORACLE_KERNEL", "JAX_PLATFORMS")
ENV_SUFFIXES = ("_NUM_THREADS",)  # OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS ...


@dataclass(frozen=True)
class Limits:
    """Resource limits on the implementation's process, each set soft and hard before it loads."""

    memory: int = DEFAULT_MEMORY  # bytes of data (RLIMIT_DATA): heap and private mappings
    file_size: int = 256 * MiB  # bytes of any one file it writes (RLIMIT_FSIZE)
    open_files: int = 1024  # (RLIMIT_NOFILE)
    processes: int = 512  # processes and threads of its uid (RLIMIT_NPROC): in the sandbox, as root
    threads: int | None = None  # each numerical library's thread pool (``THREADS``); None: as they choose

    @property
    def address_space(self) -> int:
        """The backstop on what RLIMIT_DATA does not count (shared and file-backed mappings): an address
        space (RLIMIT_AS) of 4 × ``memory``, plus, per CPU of the machine, what the thread pools that
        numerical libraries start (a thread per CPU each) reserve without using: ``THREAD_RESERVE``."""
        return 4 * self.memory + (os.cpu_count() or 1) * THREAD_RESERVE

    def rlimits(self, processes: bool) -> dict[str, int]:
        """The limits as ``boot.limit`` sets them."""
        limits = {
            "RLIMIT_DATA": self.memory,
            "RLIMIT_AS": self.address_space,
            "RLIMIT_FSIZE": self.file_size,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }
        return limits | ({"RLIMIT_NPROC": self.processes} if processes else {})

    def describe(self, processes: bool) -> str:
        """``memory 2 GiB, files 256 MiB, 1024 open files``."""
        text = f"memory {_size(self.memory)}, files {_size(self.file_size)}, {self.open_files} open files"
        text += f", {self.processes} processes" if processes else ""
        return text + (
            f", {self.threads} BLAS/OpenMP thread{'s' * (self.threads > 1)}" if self.threads else ""
        )

    def environment(self) -> dict[str, str]:
        """The variables that set ``threads`` for the numerical libraries (OpenBLAS, MKL, OpenMP …)."""
        return {name: str(self.threads) for name in THREADS} if self.threads else {}


# Each pool's size, read when its library loads. When grading, a batch runs --jobs implementations at
# once, each in a process of its own on problems of a few rows: a pool of a thread per CPU in each only
# costs its start (a third of importing numpy) and oversubscribes the cores. A variable the user set wins.
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _size(n: int) -> str:
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MiB:g} MiB"


@dataclass(frozen=True)
class Isolation:
    """The level in force for the implementation's process, how it is had, why, and its limits."""

    sandbox: bool
    why: str  # "asked for", "auto: grading as root", "auto: not grading as root" ...
    limits: Limits = field(default_factory=Limits)
    tool: str = ""  # "bubblewrap" or "unshare" when sandboxed
    slot: int = 0  # which job: its own uid, as root

    @property
    def uid(self) -> int | None:
        """The unprivileged uid the sandboxed process runs as (as root), else None: it stays ours."""
        return UID_BASE + self.slot if self.sandbox and os.geteuid() == 0 else None

    def describe(self) -> str:
        """The report's line: ``sandbox on (bubblewrap; auto: grading as root); limits: memory 2 GiB, …``."""
        how = f"{self.tool}; {self.why}" if self.sandbox else self.why
        return (
            f"sandbox {'on' if self.sandbox else 'off'} ({how}); "
            f"limits: {self.limits.describe(self.uid is not None)}"
        )

    def as_dict(self) -> dict[str, object]:
        """For JSON reports."""
        return {
            "sandbox": "on" if self.sandbox else "off",
            "tool": self.tool or None,
            "why": self.why,
            "limits": self.limits.rlimits(self.uid is not None),
        }

    def for_slot(self, slot: int) -> Isolation:
        """The same, for job `slot` (its own uid when sandboxed as root)."""
        return Isolation(self.sandbox, self.why, self.limits, self.tool, slot)


def choose(level: str, grading: bool, limits: Limits | None = None, flag: str = "--sandbox") -> Isolation:
    """The isolation for `level` (auto, on, off); SandboxError when ``on`` cannot be had here."""
    limits = limits or Limits()
    assert level in LEVELS, level  # Options checked it
    root = os.geteuid() == 0
    if level == "off":
        return Isolation(False, "asked for", limits)
    if level == "auto" and not (root and grading):
        why = "not grading" if root else "not root" if grading else "not grading as root"
        return Isolation(False, f"auto: {why}", limits)
    tool, reason = available()
    if tool:
        return Isolation(True, "asked for" if level == "on" else "auto: grading as root", limits, tool)
    if level == "on":
        raise SandboxError(f"{flag} on: no sandbox can be had here: {reason}")
    return Isolation(False, f"auto: grading as root, but no sandbox can be had here: {reason}", limits)


@functools.cache
def available() -> tuple[str, str]:
    """The sandbox tool that works here (``bubblewrap``, else ``unshare``) and, if none does, why not.

    Each is tried once for real, on a trivial command, before it is trusted with an implementation.
    """
    reasons = []
    for tool in ("bubblewrap", "unshare"):
        if tool == "bubblewrap" and not shutil.which("bwrap"):
            reasons.append("bubblewrap (bwrap) is not installed")
            continue
        why = _try(tool)
        if not why:
            return tool, ""
        reasons.append(f"{tool}: {why}")
    return "", "; ".join(reasons)


def _try(tool: str) -> str:
    """Start an interpreter in the sandbox through ``_boot.py``, running ``golden.harness._launch`` (which
    only defines functions); '' when it worked, else what it said."""
    import tempfile

    from golden.harness._launch import boot_command

    with tempfile.TemporaryDirectory(prefix="neuron-oracle-probe-") as scratch:
        isolation = Isolation(True, "probe", Limits(), tool)
        argv = command(isolation, boot_command({"module": "golden.harness._launch", "args": []}), [], scratch)
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                timeout=30,
                env=environment(),
                cwd=scratch,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return str(e)
    if done.returncode == 0:
        return ""
    said = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
    return said[-1][:200] if said else f"exit status {done.returncode}"


def environment(sandbox: bool = True) -> dict[str, str]:
    """The environment of the implementation's process: in the sandbox, only the variables in ``ENV``."""
    if not sandbox:
        return dict(os.environ)
    env = {k: v for k, v in os.environ.items() if k in ENV or k.endswith(ENV_SUFFIXES)}
    return env | {"HOME": "/tmp", "TMPDIR": "/tmp"}


def command(isolation: Isolation, boot: list[str], expose: list[tuple[str, str]], scratch: str) -> list[str]:
    """The argv that starts `boot` (``launch.boot_command``) at `isolation`'s level.

    `expose` are (source, target) pairs: the implementation's own files, bound read-only at `target`;
    `scratch` is an empty folder of ours, where the standard-library sandbox builds its root.
    """
    if not isolation.sandbox:
        return boot
    binds = read_only() + [("ro", source, target) for source, target in expose]
    if isolation.tool == "bubblewrap":
        return _bubblewrap(isolation, binds) + boot
    return _confined(boot, binds, scratch)


Bind = tuple[str, str, str]  # ("ro" | "symlink", source, target)


def read_only() -> list[Bind]:
    """What the sandbox's root holds, read-only: the system's libraries, the Python installation and its
    site-packages, and this toolkit's packages. A path inside one already bound is skipped."""
    from golden.harness._launch import PACKAGE_PARENT

    binds: list[Bind] = []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            binds.append(("symlink", os.readlink(top), top))
        elif os.path.isdir(top):
            binds.append(("ro", top, top))
    binds += [("ro", f"/etc/{name}", f"/etc/{name}") for name in ETC if os.path.exists(f"/etc/{name}")]
    python = [sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix]
    python += [os.path.dirname(os.path.realpath(sys.executable)), *site.getsitepackages()]
    if site.ENABLE_USER_SITE and site.getusersitepackages() in sys.path:
        python.append(site.getusersitepackages())
    packages = [os.path.join(PACKAGE_PARENT, name) for name in ("golden", "oracle", "neuron")]
    seen: list[str] = [b[2] for b in binds]
    for path in [*python, *packages]:
        real = os.path.realpath(path)
        if not os.path.exists(real) or any(_within(real, s) for s in seen):
            continue
        binds.append(("ro", real, real))
        seen.append(real)
        if real != os.path.abspath(path) and not any(_within(os.path.abspath(path), s) for s in seen):
            binds.append(("ro", real, os.path.abspath(path)))  # reached through a symlink: both paths
            seen.append(os.path.abspath(path))
    return binds


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _bubblewrap(isolation: Isolation, binds: list[Bind]) -> list[str]:
    root = os.geteuid() == 0
    # As root, no user namespace: boot then becomes an unprivileged uid itself (needing only these two
    # capabilities until then), so that the uid's limit on processes applies. Otherwise bwrap makes one.
    argv = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try"]
    argv += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if root:
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user"]
    argv += ["--perms", "1777", "--size", str(isolation.limits.file_size), "--tmpfs", "/tmp"]  # before the
    argv += ["--proc", "/proc", "--dev", "/dev"]  # binds: an implementation under /tmp is bound over it
    made: set[str] = {"/tmp", "/proc", "/dev"}
    targets = {target for _, _, target in binds}
    for _, _, target in binds:  # every folder bwrap makes on the way there, readable by the sandbox's uid
        for parent in reversed(Path(target).parents[:-1]):
            if str(parent) not in made and str(parent) not in targets:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
    for kind, source, target in binds:
        argv += ["--symlink", source, target] if kind == "symlink" else ["--ro-bind", source, target]
    argv += ["--chdir", "/tmp", "--"]
    return argv


def _confined(boot: list[str], binds: list[Bind], scratch: str) -> list[str]:
    """`boot` with a ``confine`` entry in its CONFIG: boot enters the standard-library sandbox first."""
    import json

    *head, config = boot
    data = json.loads(config)
    data["confine"] = {"binds": binds, "scratch": scratch, "size": Limits().file_size, "boot": head[-1]}
    return [*head, json.dumps(data)]

"""The first code of the implementation's process: guarded, confined and limited, then the child runs.

The parent starts it as ``python -I -B boot.py CONFIG`` (``golden.harness._launch``). ``-I`` keeps the
working folder, this script's folder and every ``PYTHON*`` variable out of ``sys.path``, so no file beside
the implementation or in the working folder can stand in for a module; ``-B`` writes no bytecode. This file
uses the standard library only and imports ``ctypes`` before anything else, to make the process undumpable
first. CONFIG is JSON:

    package   the folder ``golden``, ``oracle`` and ``neuron`` are imported from (put first on sys.path)
    path      folders put last on sys.path: the parent's site folders, the implementation's own folder
    limits    {"RLIMIT_DATA": bytes, ...}: the soft and hard limits, set before the implementation loads
    uid       an unprivileged uid to become (a sandbox started as root), or null; its keyrings are emptied
    confine   the standard-library sandbox to enter first (``confine``), or null
    module    what to run then, as ``python -m module args`` would; ``args`` its arguments
    replies   the fd on which a failure here is sent, as the load's reply, before this process exits

A step that fails is reported, never skipped: the reply names it and the process exits with status 70.
"""

import ctypes  # first: nothing else runs before the guard
import sys

PR_SET_DUMPABLE, PR_SET_PDEATHSIG = 4, 1
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_REC, MS_PRIVATE, MNT_DETACH = 16384, 1 << 18, 2
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}  # syscall numbers
KEYCTL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_CLEAR = 1, 7
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -4, -5
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
FAILED = 70

_libc: list[ctypes.CDLL] = []


def libc() -> ctypes.CDLL:
    """The C library, loaded once."""
    if not _libc:
        _libc.append(ctypes.CDLL(None, use_errno=True))
    return _libc[0]


def check(result: int, what: str) -> None:
    """Raise OSError naming `what` when a libc call returned -1."""
    if result != 0:
        import os

        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def guard() -> None:
    """Undumpable (Linux): no other process of this user can open our fds or read our memory."""
    if sys.platform.startswith("linux"):
        check(libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def drop(uid: object) -> None:
    """Become `uid` (and its gid), with no supplementary groups; as root this drops every capability."""
    if uid is None:
        return
    import os

    assert isinstance(uid, int)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise OSError(f"uid {uid}: could become root again after dropping to it")


def forget_keys() -> None:
    """Join a new session keyring and empty this uid's user keyrings: the kernel keeps those per uid,
    across processes, so a key an earlier run left for the sandbox's uid would reach the next. Where the
    keyring calls are refused outright (ENOSYS; EPERM from a container's seccomp filter) nothing can be
    kept in a keyring either, and there is nothing to forget."""
    import errno
    import platform

    number = KEYCTL.get(platform.machine())
    if number is None:
        raise OSError(f"keyctl: no syscall number known for {platform.machine()}")
    if libc().syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None) == -1:
        if ctypes.get_errno() in (errno.ENOSYS, errno.EPERM):
            return
        check(-1, "keyctl(KEYCTL_JOIN_SESSION_KEYRING)")
    for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
        check(libc().syscall(number, KEYCTL_CLEAR, ctypes.c_long(ring)), f"keyctl(KEYCTL_CLEAR, {ring})")


def limit(limits: dict) -> None:  # type: ignore[type-arg]
    """Set each resource limit, soft and hard; a hard limit already lower is kept (never raised)."""
    import resource

    for name, value in limits.items():
        which = getattr(resource, name)
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))


def confine(config: dict) -> None:  # type: ignore[type-arg]
    """The standard-library sandbox: new mount, PID, network, IPC and UTS namespaces (and a user namespace
    when not root), a new root holding only the read-only binds asked for, a fresh tmpfs, /proc and a
    few devices; then this script runs again inside it, without ``confine``. This process stays outside,
    waits for the sandbox's first process, and ends as it ended. Only that inner run returns."""
    import json
    import os
    import signal

    spec = config.pop("confine")
    root = os.getuid() == 0
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    check(libc().unshare(flags | (0 if root else CLONE_NEWUSER)), "unshare")
    if not root:  # map ourselves: this uid stays this uid inside
        maps = (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1"))
        for name, text in maps:
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    pid = os.fork()
    if pid:  # outside: end as the sandbox's first process ended (a signal as that signal)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
            os.kill(os.getpid(), os.WTERMSIG(status))
        os._exit(os.waitstatus_to_exitcode(status))
    try:  # inside: PID 1 of the new namespace; when it ends, every process in it ends
        check(libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
        new = spec["scratch"]
        new_root(new, spec["size"], spec["binds"])
        pivot(new)
        os.chdir("/tmp")
        os.execv(sys.executable, [sys.executable, "-I", "-B", spec["boot"], json.dumps(config)])
    except BaseException as e:  # every failure is reported on the reply fd
        fail(config, e, "the sandbox could not be set up")


def new_root(new: str, size: int, binds: list) -> None:  # type: ignore[type-arg]
    """Fill `new` as the sandbox's root: a tmpfs, a /tmp and /dev/shm of `size`, the read-only `binds`
    (``[kind, source, target]``), /proc and a few devices."""
    import os

    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for folder in ("tmp", "proc", "dev", "dev/shm", ".old"):
        os.makedirs(f"{new}/{folder}", exist_ok=True)
    mount("tmpfs", f"{new}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    mount("tmpfs", f"{new}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    for kind, source, target in binds:  # after /tmp: an implementation under /tmp goes over it
        place = new + target
        if kind == "symlink":
            os.makedirs(os.path.dirname(place), exist_ok=True)
            os.symlink(source, place)
            continue
        if os.path.isdir(source):
            os.makedirs(place, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(place), exist_ok=True)
            open(place, "a").close()
        mount(source, place, None, MS_BIND | MS_REC)
        mount(None, place, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked(source))
    mount("proc", f"{new}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for device in DEVICES:
        open(f"{new}/dev/{device}", "a").close()
        mount(f"/dev/{device}", f"{new}/dev/{device}", None, MS_BIND)
    for name, target in (("fd", ""), ("stdin", "/0"), ("stdout", "/1"), ("stderr", "/2")):
        os.symlink(f"/proc/self/fd{target}", f"{new}/dev/{name}")


def pivot(new: str) -> None:
    """Make `new` the root (``pivot_root``) and let go of the old one."""
    import os
    import platform

    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: no syscall number known for {platform.machine()}")
    check(libc().syscall(number, new.encode(), f"{new}/.old".encode()), "pivot_root")
    os.chdir("/")
    check(libc().umount2(b"/.old", MNT_DETACH), "umount2(/.old)")
    os.rmdir("/.old")


def locked(path: str) -> int:
    """The flags of the mount `path` lies on that a read-only remount of its bind must keep (the kernel
    refuses to drop them in a user namespace), with nosuid and nodev always."""
    import os

    flags = os.statvfs(path).f_flag
    keep = MS_NOSUID | MS_NODEV
    return keep | (MS_NOEXEC if flags & os.ST_NOEXEC else 0)


def mount(source: object, target: str, kind: object, flags: int, data: object = None) -> None:
    def c(text: object) -> object:
        return None if text is None else str(text).encode()

    check(libc().mount(c(source), c(target), c(kind), flags, c(data)), f"mount {source} on {target}")


def fail(config: dict, error: BaseException, what: str) -> None:  # type: ignore[type-arg]
    """Send the failure as the load's reply (framed as ``golden.harness._protocol`` frames) and exit."""
    import json
    import os
    import struct

    message = json.dumps(
        {"error": {"type": "SandboxError", "message": f"{what}: {error}", "not_implemented": False}}
    ).encode()
    try:
        os.write(int(config["replies"]), struct.pack(">I", len(message)) + message)
    finally:
        os._exit(FAILED)


def main() -> None:
    guard_error = None
    try:
        guard()
    except BaseException as e:
        guard_error = e
    import json

    config = json.loads(sys.argv[1])
    if guard_error is not None:
        fail(config, guard_error, "the process could not be guarded")
    if config.get("confine"):
        confine(config)  # only the run inside the sandbox returns
    try:
        drop(config.get("uid"))
        if config.get("uid") is not None:
            forget_keys()
        limit(config.get("limits", {}))
    except BaseException as e:
        fail(config, e, "the process could not be limited")
    sys.path.insert(0, config["package"])
    sys.path.extend(p for p in config.get("path", []) if p not in sys.path)
    import runpy

    sys.argv = [config["module"], *config.get("args", [])]
    runpy.run_module(config["module"], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

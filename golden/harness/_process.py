"""The parent's handle on the implementation's child process: start it, send it calls, bound it, end it.

The child starts clean (``golden.harness._launch``: isolated mode, a private empty working folder, guarded
and limited before it imports anything), at the isolation level in force (``golden.harness._sandbox``),
in a session (so a process group) of its own: ``os.killpg(0, …)`` in the implementation reaches only that
group. At a timeout or at the end of the run the whole group is killed, and then whatever left it
(``golden.harness._reap``), so nothing the implementation started outlives the run. Every reply is awaited
with a deadline and read as data under a size cap. The child's stdout and stderr are drained by a thread
onto ours, up to ``MAX_OUTPUT``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from golden._text import short
from golden.errors import ImplError, SandboxError
from golden.harness import _protocol as protocol
from golden.harness import _reap as reap
from golden.harness import _sandbox as sandbox
from golden.harness._copy import TooMuch, bounded, first_error
from golden.harness._launch import boot_command, site_folders
from golden.harness._sandbox import Isolation, Limits
from golden.harness._where import MAX_WHERE, code_places, raised

MAX_OUTPUT = 64 * 1024  # bytes of the implementation's own prints shown per child
ENDING = 1.0  # seconds a child whose pipe closed gets to end of itself (bubblewrap's monitor follows it)


class Lost(BaseException):
    """The child cannot answer: it timed out, ended, or broke the protocol. It has been stopped.

    A BaseException, so that Hypothesis, running a property in the parent, does not take it for a
    falsifying example and shrink: it ends the property at once.
    """

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.message, self.timed_out = message, timed_out


class Child:
    """One child process serving one implementation, started by ``start`` and ended by ``stop``."""

    def __init__(
        self,
        impl: str | type,
        isolation: Isolation | None = None,
        expose_folder: bool = True,
        shown: str | None = None,
    ) -> None:
        """`impl` is a spec (``path/to/file.py:Name``, ``package.module:Name``) or a class, sent by value.

        A class is pickled here, once (``load_request``); ImplError if it cannot be. ``spec`` names it in
        messages as ``module:Name``. The child runs at `isolation`'s level (off by default); sandboxed, it
        is shown a copy of the implementation's own folder, read-only, or of its file alone when not
        `expose_folder` (a folder that holds several submissions). A spec is named `shown` when given.
        """
        self._load: dict[str, Any]
        self.spec, self._load = _spec_request(impl, shown) if isinstance(impl, str) else load_request(impl)
        self.isolation = isolation or Isolation(False, "asked for")
        self.expose_folder = expose_folder
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._to_child = self._from_child = -1
        self._scratch = ""
        self._drain: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """Whether the child is running, has loaded IMPL, and is in step with us."""
        return self._proc is not None and bool(self.info)

    def spawn(self) -> None:
        """Start the child and ask it to load IMPL, without waiting (``start`` waits)."""
        if self._proc is not None:
            return
        self.info = {}
        self._scratch = tempfile.mkdtemp(prefix="neuron-oracle-")
        work = os.path.join(self._scratch, "work")  # its working folder; the sandbox's root, confined
        os.mkdir(work)
        isolation = self.isolation
        expose = self._expose()
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        config = {
            "module": "golden.harness._child",
            "args": [str(requests_r), str(replies_w)],
            "path": site_folders() + self._load.get("path_last", []),
            "limits": isolation.limits.rlimits(isolation.uid is not None),
            "uid": isolation.uid,
            "replies": replies_w,
        }
        try:
            self._proc = subprocess.Popen(
                sandbox.command(isolation, boot_command(config), expose, work),
                pass_fds=(requests_r, replies_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=work,
                env=_environment(isolation.sandbox, work, isolation.limits),
            )
        except BaseException:
            for fd in (requests_w, replies_r):
                os.close(fd)
            raise
        finally:
            os.close(requests_r)
            os.close(replies_w)
        reap.own(self._proc.pid)
        os.set_blocking(requests_w, False)  # a child that stops reading must not block us: see send
        self._to_child, self._from_child = requests_w, replies_r
        self._reader = protocol.Reader(replies_r)
        assert self._proc.stdout is not None
        self._drain = threading.Thread(target=_drain, args=(self._proc.stdout,), daemon=True)
        self._drain.start()
        self._spawned = time.monotonic()
        with contextlib.suppress(OSError):  # a child that ended before reading it: `start` says how
            load = {k: v for k, v in self._load.items() if k not in ("path_last", "file")}
            load["cwd"] = os.getcwd()  # so an error names a file from here (golden.harness._where)
            protocol.send(self._to_child, load)

    def _expose(self) -> list[tuple[str, str]]:
        """What the sandboxed child is shown of the implementation, as (copy, original) binds: a copy of
        its folder (or file), made here with permissions the sandbox's uid can read. The file itself must
        be a regular file, not a symlink (whose target, another submission perhaps, the sandbox would
        show); the folder is copied as it is, symlinks as symlinks, up to ``COPY_LIMITS``."""
        path = self._load.get("file")
        if not self.isolation.sandbox or not path:
            return []
        source = os.path.dirname(path) if self.expose_folder else path
        copy = os.path.join(self._scratch, "impl")
        try:
            kind = os.lstat(path).st_mode
            if not stat.S_ISREG(kind):
                what = "a symlink" if stat.S_ISLNK(kind) else "not a regular file"
                raise ImplError(f"IMPL {self.spec!r}: its file is {what}; expected a regular file")
            if os.path.isdir(source):
                shutil.copytree(source, copy, symlinks=True, ignore=bounded(source))
            else:
                shutil.copyfile(source, copy, follow_symlinks=False)
            for folder, _, files in os.walk(copy):  # never follows a symlink: its target is not ours
                os.chmod(folder, 0o755)
                for name in files:
                    if not os.path.islink(path := os.path.join(folder, name)):
                        os.chmod(path, 0o644)
            os.chmod(self._scratch, 0o755)
        except (OSError, shutil.Error, TooMuch) as e:
            why = first_error(e)
            raise ImplError(f"IMPL {self.spec!r}: cannot be copied into the sandbox: {why}") from None
        return [(copy, source)]

    def start(self, timeout: float) -> dict[str, Any]:
        """Spawn the child if need be and wait until IMPL is loaded, `timeout` seconds from the spawn.

        ImplError, with the child stopped, if IMPL cannot be loaded in that time; SandboxError if its
        process could not be guarded, confined or limited.
        """
        if self.alive:
            return self.info
        self.spawn()
        try:
            reply = self._reader.receive(self._spawned + timeout)
        except protocol.Silent:
            self.stop()
            raise ImplError(f"IMPL {self.spec!r}: loading did not finish within {timeout:g} s") from None
        except (protocol.WireError, OSError):
            code = self.stop(ended=True)
            raise ImplError(f"IMPL {self.spec!r}: loading ended its process ({self.exit(code)})") from None
        if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
            self.stop()
            error = reply["error"]
            kind, message = str(error.get("type", "")), str(error.get("message", ""))
            if kind == "ImplError":  # the loader's own one-line message, naming IMPL
                raise ImplError(short(message, 300))
            if kind == "SandboxError":  # boot's: the process could not be guarded, confined or limited
                raise SandboxError(f"IMPL {self.spec!r}: {short(message, 300)}")
            where = error.get("where")
            where = short(where, MAX_WHERE) if isinstance(where, str) else None
            what = raised(short(kind, 80), where, short(message))
            raise ImplError(f"IMPL {self.spec!r}: loading raised {what}")
        info = reply.get("ready") if isinstance(reply, dict) else None
        if not isinstance(info, dict) or not _valid_info(info):
            self.stop()
            raise ImplError(f"IMPL {self.spec!r}: its process answered the load with something else")
        self.info = info
        return self.info

    def send(self, request: dict[str, Any], deadline: float) -> None:
        """Send `request`, not awaiting the replies (``receive`` awaits each); Lost if the child is gone."""
        self.send_body(protocol.dumps(request), deadline)

    def send_body(self, data: bytes, deadline: float) -> None:
        """Send a request already made bytes (``protocol.dumps``), as ``send`` does."""
        if self._proc is None:
            raise Lost("the implementation's process is not running")
        with self._lost_on_failure():
            protocol.send_body(self._to_child, data, deadline)

    def receive(self, deadline: float) -> bytes:
        """The next reply's bytes, awaited until `deadline`, unread (``read`` reads them); Lost if it does
        not come whole."""
        if self._proc is None:
            raise Lost("the implementation's process is not running")
        with self._lost_on_failure():
            return self._reader.receive_body(deadline)

    def read(self, body: bytes) -> dict[str, Any]:
        """A reply's bytes as data; a reply that is not JSON of the right form stops the child (Lost)."""
        with self._lost_on_failure():
            reply = protocol.parse(body)
        if not isinstance(reply, dict) or not isinstance(reply.get("results"), list):
            self.stop()
            raise Lost("the implementation's process sent a reply of the wrong form; it was stopped")
        return reply

    @contextlib.contextmanager
    def _lost_on_failure(self) -> Iterator[None]:
        """A failure on the pipes stops the child and becomes Lost, saying what happened."""
        try:
            yield
        except protocol.Silent:
            self.stop()
            raise Lost("timed out; its process was stopped", timed_out=True) from None
        except (protocol.Closed, BrokenPipeError, OSError):
            code = self.stop(ended=True)
            raise Lost(f"the implementation ended its process ({self.exit(code)})") from None
        except protocol.WireError as e:
            self.stop()
            raise Lost(f"the implementation's process {e}; it was stopped") from None

    def stop(self, ended: bool = False) -> int | None:
        """Kill the child's whole process group, then whatever it left outside it, and reap them; its exit
        code (None if never started). Its private folder goes too. When it `ended` (its pipe closed), it is
        given a moment to finish ending, so that its own exit code is the one reported."""
        proc, self._proc, self.info = self._proc, None, {}
        for fd in (self._to_child, self._from_child):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to_child = self._from_child = -1
        if proc is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(ENDING if ended else 0)
        code = proc.poll()  # an exit of its own, before our kill, is the one to report
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        reap.disown(proc.pid)
        reap.sweep()  # what left its group (setsid, setpgid) and was adopted by us
        if self._drain is not None:
            self._drain.join(1.0)  # its pipe closes with the last process that held it
            self._drain = None
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = ""
        return code if code is not None else proc.returncode

    def exit(self, code: int | None) -> str:
        """How the child's process ended: ``exit code 3``, ``killed by SIGKILL`` (bubblewrap reports its
        sandbox's death by signal N as exit status 128 + N)."""
        if code is not None and code > 128 and self.isolation.tool == "bubblewrap":
            code = 128 - code
        return _exit(code)


def _environment(sandboxed: bool, work: str, limits: Limits) -> dict[str, str]:
    """The child's environment (``sandbox.environment``), with the thread pools `limits` sets and numba's
    cache in its own folder unless the user chose them: numba caches a compiled kernel beside its module,
    in this toolkit's package, which a run refuses to find changed (``GoldenSet.verify``)."""
    env = sandbox.environment(sandboxed)
    env.setdefault("NUMBA_CACHE_DIR", "/tmp/numba" if sandboxed else os.path.join(work, "numba"))
    return limits.environment() | env  # a thread count the user set wins


def _spec_request(spec: str, shown: str | None) -> tuple[str, dict[str, Any]]:
    """How a spec is named (`shown`, else as given) and its load request. A file's path is made absolute,
    since the child starts in a folder of its own, and named so in messages; a module spec is imported,
    off the sandbox, from this folder too, put last on the child's path."""
    module_part, sep, name = spec.rpartition(":")
    shown = shown or spec
    if sep and (module_part.endswith(".py") or "/" in module_part or "\\" in module_part):
        path = os.path.abspath(module_part)
        return shown, {"load": f"{path}:{name}", "shown": shown, "file": path}
    return shown, {"load": spec, "path_last": [os.getcwd()]}


_BY_VALUE = threading.Lock()  # cloudpickle's registry of modules pickled by value is global


def load_request(impl: type) -> tuple[str, dict[str, Any]]:
    """How messages name class `impl` (``module:Name``), and the request that loads it in the child.

    The class goes by value with cloudpickle: a class of ``__main__`` (a notebook cell, a REPL, a script)
    always does, and so does one from a module of its own that is not part of a package (a file imported
    from beside the notebook, or from a folder put on ``sys.path``), since the child may not find that
    file. A class from a package, and the classes and functions a class refers to from other modules, go
    by reference: the child imports them, with this process's ``sys.path`` added to its own.
    """
    import cloudpickle

    module = sys.modules.get(impl.__module__)
    name = f"{impl.__module__}:{getattr(impl, '__qualname__', impl.__name__)}"
    by_value = (
        module is not None
        and impl.__module__ != "__main__"
        and "." not in impl.__module__
        and not hasattr(module, "__path__")
        and impl.__module__ not in cloudpickle.list_registry_pickle_by_value()
    )
    try:
        with _BY_VALUE:
            if by_value:
                cloudpickle.register_pickle_by_value(module)
            try:
                data = cloudpickle.dumps(impl)
            finally:
                if by_value:
                    cloudpickle.unregister_pickle_by_value(module)
    except Exception as e:
        raise ImplError(
            f"IMPL {name!r}: the class cannot be sent to its process: pickling it raised "
            f"{type(e).__name__}: {short(str(e))}"
        ) from None
    path = [p for p in sys.path if isinstance(p, str)]
    encoded = base64.b64encode(data).decode("ascii")
    return name, {"load_pickled": encoded, "name": name, "path": path, "code": code_places(impl)}


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _valid_info(info: dict[str, Any]) -> bool:
    return (
        isinstance(info.get("name"), str)
        and isinstance(info.get("optional"), list)
        and all(isinstance(m, str) for m in info["optional"])
        and isinstance(info.get("activations"), list)
        and all(isinstance(a, str) for a in info["activations"])
        and isinstance(info.get("precision"), str | None)
        and (info.get("conventions") is None or _strings(info["conventions"]))
    )


def _strings(mapping: Any) -> bool:
    return isinstance(mapping, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    )


def _drain(stream: BinaryIO) -> None:
    """Copy the implementation's output to our stderr, up to MAX_OUTPUT bytes, then only count it."""
    shown = dropped = 0
    out = getattr(sys.stderr, "buffer", None)
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        part = chunk[: max(0, MAX_OUTPUT - shown)]
        shown += len(part)
        dropped += len(chunk) - len(part)
        if part and out is not None:
            with contextlib.suppress(OSError, ValueError):  # our stderr closed: the output is only dropped
                out.write(part)
                out.flush()
    if dropped and out is not None:
        with contextlib.suppress(OSError, ValueError):
            out.write(
                f"\n[neuron-oracle: {dropped:,} more bytes of the implementation's output dropped]\n".encode()
            )
            out.flush()

"""A batch on a Dask cluster (``--cluster local``, ``--scheduler tls://host:8786``): a task per submission,
carrying its bytes, graded on a guarded worker by the same ``run_one`` as a local worker.

A task carries the submission's file, or its folder when the folder is its own (helper modules beside
it), as bytes (``bundle``): a worker needs no file system shared with this machine. The worker writes them
into a fresh private folder and grades them there with ``run_one``: the same sandbox (chosen on the
worker's machine, as a local worker chooses it), the batch's seed, options and golden sets (sent to each
worker once), and every message naming the submission as given here. Its answer streams into the table as
it comes (``done``). A task is sent when a worker thread is free for it, so that none waits on a worker
(losing the worker would count against it too) and a batch of any size holds a few submissions' bytes
in memory, not all of them.

Each worker is guarded as a local pool's worker is (``guard``): by the batch's worker plugin, which the
scheduler runs on every worker before its first task of the batch (on those that join or restart later
too), and by ``dask_setup`` on a worker started with ``--preload golden.grading._dask`` (the SLURM
recipe's), before it takes any task at all. Guarded, a worker is undumpable, the reaper of its
submissions' orphans, deaf to SIGTSTP and its kin, with its stdout on stderr, neither the working folder
nor its own scratch folder (which any process of its user may write) on ``sys.path``, every module
grading needs imported before any task, a slot of its own on its machine (so a sandbox's uid of its own,
as root), and the toolkit's package watched: after each task whatever appeared there is removed, and the
batch ends in GoldenChanged naming it. A worker must run one thread (one submission at a time, as a
local worker: the judging is Python work) and, on a remote cluster, the toolkit this machine runs.

A task whose worker is lost is run again by the scheduler; once its worker has been lost
``allowed-failures`` + 1 times (twice on a LocalCluster) it ends in KilledWorker and the submission is
reported as not graded. No task is retried on an exception, as Dask's ``retries`` would: a submission's
own failure is a grade, returned, not raised. A remote scheduler is reached over TLS only, with the
credentials of Dask's own configuration (``distributed.comm.tls.*``); a LocalCluster listens on
127.0.0.1 over TLS with a key made for it (``Security.temporary``), so that no other user of this machine
can run code on its workers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import fields
from typing import Any, ClassVar

import dask
from distributed import Client, Future, KilledWorker, LocalCluster, WorkerPlugin, as_completed, get_worker
from distributed.security import Security
from hypothesis import settings
from hypothesis.errors import HypothesisDeprecationWarning

from golden._text import short
from golden.errors import GoldenChanged, GuardError, OptionError
from golden.files._watch import package_changes, package_files
from golden.files.store import Sets
from golden.grading._batch import refused, run_one
from golden.harness import _reap as reap
from golden.harness._copy import COPY_LIMITS, TooMuch
from golden.harness._guard import guard_this_process
from golden.harness._launch import PACKAGE_PARENT
from golden.options import Options

Done = Callable[[int, "dict[str, Any] | None", str], None]  # as golden.harness._pool's
LOCAL = {"distributed.scheduler.allowed-failures": 1}  # a LocalCluster's task runs twice at most
TLS = ("ca-file", "client.cert")  # what a client needs of distributed.comm.tls (and client.key, unless
# the certificate's file holds the key too)
MAX_SLOTS = 1000  # grading slots per machine: uids 61000 to 61999 as root, sandboxed
CONNECT = 30  # seconds to reach a remote scheduler


def distribute(
    impls: Sequence[str], golden: Sets, options: Options, seed: int | None, expose: Sequence[bool], done: Done
) -> None:
    """Grade every IMPL of `impls` on the cluster `options` name (`expose`: whether each one's folder is
    its own); `done` is called as each ends, with the worker's answer, or None and why it was not graded.

    GoldenChanged once all are done if the toolkit's package changed on a worker while it graded. Ctrl-C
    (or any error here) cancels every task not done and ends a LocalCluster.
    """
    changes: list[str] = []
    batch = secrets.token_hex(8)
    with _client(options) as client:
        _check_workers(client, options)
        client.register_plugin(Batch(batch, golden), name=f"neuron-oracle-{batch}")
        kit = toolkit() if options.scheduler else None  # a LocalCluster runs this machine's files
        task = (batch, _fields(options), settings.get_current_profile_name(), seed, kit)
        todo, running, finished = iter(range(len(impls))), dict[Future[dict[str, Any]], int](), as_completed()

        def fill() -> None:
            """Send tasks until each worker thread has one: none waits on a worker, where losing the
            worker would count against it too."""
            threads = sum(int(w["nthreads"]) for w in client.scheduler_info()["workers"].values())
            while len(running) < max(1, threads) and (index := next(todo, None)) is not None:
                bundle = _bundle(impls[index], expose[index])
                if "files" not in bundle:  # refused here (a symlink, a folder too large): its answer
                    done(index, bundle, "")
                    continue
                future = client.submit(_grade, bundle, *task, key=f"grade-{batch}-{index}", pure=False)
                running[future] = index
                finished.add(future)

        fill()
        try:
            for future in finished:
                answer, why = _answer(future)
                changes += answer.pop("changes") if answer is not None else []
                done(running.pop(future), answer, why)
                future.release()
                fill()
        finally:
            client.cancel(list(running))
            try:  # the workers forget the batch's golden sets (a hidden set among them, perhaps)
                client.unregister_worker_plugin(f"neuron-oracle-{batch}")
            except Exception as e:  # a cluster gone or unreachable: said, never hidden
                why = short(f"{type(e).__name__}: {e}", 200)
                print(
                    f"neuron-oracle: the Dask workers may still hold this batch's golden sets ({why})",
                    file=sys.stderr,
                )
    if changes:
        raise GoldenChanged(f"on a Dask worker: {'; '.join(sorted(set(changes)))}: removed after the task")


@contextlib.contextmanager
def _client(options: Options) -> Iterator[Client]:
    if options.cluster:  # local
        with (
            tempfile.TemporaryDirectory(prefix="neuron-oracle-dask-") as scratch,
            dask.config.set(LOCAL),
            LocalCluster(
                n_workers=options.jobs,
                threads_per_worker=1,
                processes=True,
                protocol="tls://",
                host="127.0.0.1",
                security=Security.temporary(),
                dashboard_address=None,
                local_directory=scratch,
                memory_limit=0,  # the sandbox limits a submission's memory; Dask's monitor need not
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    address, flag = str(options.scheduler), options.front.spell("scheduler")
    security = Security()  # Dask's configuration: distributed.comm.tls.*, DASK_DISTRIBUTED__COMM__TLS__*
    missing = [name for name in TLS if not dask.config.get(f"distributed.comm.tls.{name}", None)]
    if missing:
        names = ", ".join(f"distributed.comm.tls.{name}" for name in missing)
        raise OptionError(
            f"{flag} {address}: no TLS credentials: set {names} and distributed.comm.tls.client.key in "
            "Dask's configuration (DASK_DISTRIBUTED__COMM__TLS__CA_FILE, …__CLIENT__CERT, …__CLIENT__KEY)"
        )
    try:
        client = Client(address, security=security, timeout=CONNECT)
    except (OSError, TimeoutError, ValueError) as e:
        raise OptionError(f"{flag} {address}: cannot reach the scheduler: {short(str(e))}") from None
    with client:
        yield client


def _check_workers(client: Client, options: Options) -> None:
    """Refuse a cluster whose workers run more than one thread, or (a remote one) another toolkit."""
    where = options.front.spell("scheduler" if options.scheduler else "cluster")
    for address, worker in client.scheduler_info()["workers"].items():
        if worker["nthreads"] != 1:
            raise OptionError(
                f"{where}: worker {address} runs {worker['nthreads']} threads; a worker that grades runs one "
                "(dask worker --nthreads 1), as each grades one submission at a time"
            )
    theirs = client.run(toolkit) if options.scheduler else {}
    if other := sorted(address for address, digest in theirs.items() if digest != toolkit()):
        raise OptionError(
            f"{where}: worker {other[0]} runs another neuron-oracle than this machine (its files differ); "
            "install the same version on every worker"
        )


def _fields(options: Options) -> dict[str, Any]:
    """`options` as plain data, to build the same Options on a worker (Options holds mapping proxies,
    which do not pickle); without the batch's engine, which the worker is."""
    data = {f.name: getattr(options, f.name) for f in fields(options)}
    plain = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    return plain | {"scheduler": None, "cluster": None}


def _answer(future: Future[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    """The worker's answer, or (None, why not)."""
    try:
        answer = future.result()
    except KilledWorker as e:
        times = "twice" if e.allowed_failures == 1 else f"{e.allowed_failures + 1} times"
        return None, f"its grading process (a Dask worker) ended while it ran, {times}"
    except Exception as e:  # the task raised, or was cancelled: our code's failure, not the submission's
        return None, f"its grading task raised {type(e).__name__}: {short(str(e))}"
    well_formed = (
        isinstance(answer, dict)
        and isinstance(answer.get("outcomes"), list)
        and isinstance(answer.get("error"), str | None)
        and isinstance(answer.get("changes"), list)
    )
    return (answer, "") if well_formed else (None, "its Dask worker answered with something else")


def _bundle(spec: str, expose: bool) -> dict[str, Any]:
    """What a task carries of IMPL `spec`: its file's name and class, and the bytes of its folder's files
    (of its file alone when not `expose`); else the answer that refuses it, as ``run_one``'s."""
    answer = refused(spec)
    if answer is not None:
        return answer
    file, _, name = spec.rpartition(":")
    if not file.endswith(".py"):
        error = f"IMPL {spec!r}: a Dask worker grades a file; this names a module"
        return {"impl": spec, "outcomes": [], "error": error}
    path = os.path.abspath(file)
    try:
        files = _read(os.path.dirname(path)) if expose else {os.path.basename(path): _regular(path)}
    except (OSError, TooMuch) as e:
        error = f"IMPL {spec!r}: cannot be sent to a Dask worker: {short(str(e))}"
        return {"impl": spec, "outcomes": [], "error": error}
    return {"spec": spec, "file": os.path.basename(path), "name": name, "expose": expose, "files": files}


def _read(folder: str) -> dict[str, bytes]:
    """Every regular file below `folder` by its relative path, within ``COPY_LIMITS``; no symlink is
    followed or sent (a sandbox's copy shows none's target either)."""
    files: dict[str, bytes] = {}
    count = size = 0
    for top, dirs, names in os.walk(folder):  # never descends into a symlink
        if os.path.relpath(top, folder).count(os.sep) >= COPY_LIMITS["depth"]:
            raise TooMuch(f"{folder}: folders deeper than {COPY_LIMITS['depth']}")
        count += len(dirs) + len(names)
        for name in names:
            path = os.path.join(top, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                files[os.path.relpath(path, folder)] = data = _regular(path)
                size += len(data)
        if count > COPY_LIMITS["entries"] or size > COPY_LIMITS["bytes"]:
            limits = f"{COPY_LIMITS['entries']:,} entries, {COPY_LIMITS['bytes'] >> 20} MiB"
            raise TooMuch(f"{folder}: more than {limits}")
    return files


def _regular(path: str) -> bytes:
    """The bytes of `path`, a regular file (not a symlink, a FIFO or a device): OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        return f.read()


def _grade(
    bundle: dict[str, Any],
    batch: str,
    data: dict[str, Any],
    profile: str,
    seed: int | None,
    kit: str | None,
) -> dict[str, Any]:
    """The task, on a worker: the submission written into a fresh private folder, graded there as a local
    worker grades it, and the worker's answer, with what changed in its toolkit's package meanwhile."""
    worker = get_worker()
    slot = guard(worker)  # a preamble, should the plugin not have run here yet
    golden = _Guarded.sets.get(batch)
    if golden is None:
        raise GuardError(f"this worker has not the golden sets of batch {batch} (its plugin did not run)")
    if kit is not None and kit != toolkit():
        raise GuardError("this worker runs another neuron-oracle than the batch (its files differ)")
    settings.load_profile(profile)  # the batch's Hypothesis profile, so its examples, on every worker
    folder = tempfile.mkdtemp(prefix="task-", dir=worker.local_directory)  # Dask sweeps a lost worker's
    try:
        for relative, content in bundle["files"].items():
            parts = os.path.normpath(relative).split(os.sep)
            if os.path.isabs(relative) or ".." in parts:
                raise GuardError(f"a task's file {relative!r} is not below its folder")
            os.makedirs(os.path.join(folder, *parts[:-1]), exist_ok=True)
            with open(os.path.join(folder, *parts), "xb") as f:
                f.write(content)
        spec = f"{os.path.join(folder, bundle['file'])}:{bundle['name']}"
        answer = run_one(
            spec, golden, Options(**data), slot, bundle["expose"], seed=seed, shown=bundle["spec"]
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        reap.sweep()
    return answer | {"changes": _Guarded.changes()}


class Batch(WorkerPlugin):
    """A batch's plugin: each worker, those that join or restart later included, is guarded (``guard``)
    before it takes a task of the batch, and keeps the batch's golden sets (sent once a worker; a worker
    lost with them loses no other's copy)."""

    def __init__(self, batch: str, golden: Sets) -> None:
        self.batch, self.golden = batch, golden

    def setup(self, worker: Any) -> None:
        guard(worker)
        _Guarded.sets[self.batch] = self.golden

    def teardown(self, worker: Any) -> None:
        _Guarded.sets.pop(self.batch, None)


def dask_setup(worker: Any) -> None:
    """``dask worker --preload golden.grading._dask``: the worker is guarded before it takes any task."""
    guard(worker)


class _Guarded:
    """This process's guard: its slot (None until guarded), the lock that holds it, its package's files."""

    slot: ClassVar[int | None] = None
    lock: ClassVar[int] = -1
    package: ClassVar[dict[Any, tuple[str, str]]] = {}
    sets: ClassVar[dict[str, Sets]] = {}  # each batch's golden sets, by its id
    lock_taken: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def changes(cls) -> list[str]:
        """What appeared or changed in the toolkit's package since the guard (what appeared is removed)."""
        return package_changes(cls.package, package_files())


def guard(worker: Any = None) -> int:
    """Guard this Dask worker process as a local pool's worker is (see the module's docstring), once;
    its grading slot. GuardError if a step cannot be taken."""
    with _Guarded.lock_taken:
        if _Guarded.slot is not None:
            return _Guarded.slot
        state = getattr(worker, "state", None)
        if state is not None and state.nthreads != 1:
            raise GuardError(f"this worker runs {state.nthreads} threads; one grades (--nthreads 1)")
        guard_this_process()
        reap.adopt()  # whatever a submission leaves behind is ours to end, after each task
        if threading.current_thread() is threading.main_thread():
            for stop in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
                signal.signal(stop, signal.SIG_IGN)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        # Dask's own threads draw from the random module (the jitter of heartbeats and retries) while a
        # strategy runs, which Hypothesis takes for the strategy's doing; its examples come from its own.
        warnings.filterwarnings("ignore", "Do not use the `random` module", HypothesisDeprecationWarning)
        scratch = os.path.abspath(getattr(worker, "local_directory", None) or os.getcwd())
        off = {os.path.abspath(os.getcwd()), scratch}
        sys.path[:] = [p for p in sys.path if p == PACKAGE_PARENT or not _below(p, off)]
        import golden.harness.properties  # noqa: F401  (everything grading needs, before any task)

        _Guarded.package = package_files()
        _Guarded.slot = _claim_slot()
        return _Guarded.slot


def _below(entry: str, folders: set[str]) -> bool:
    path = os.path.abspath(entry or ".")
    return any(path == f or path.startswith(os.path.join(f, "")) for f in folders)


def _claim_slot() -> int:
    """The lowest grading slot no other worker on this machine holds, held (a lock) while this lives."""
    folder = os.path.join(tempfile.gettempdir(), f"neuron-oracle-slots-{os.geteuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise GuardError(f"{folder}: expected a folder of this user's alone, to hold the grading slots")
    for slot in range(MAX_SLOTS):
        fd = os.open(os.path.join(folder, str(slot)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _Guarded.lock = fd
        return slot
    raise GuardError(f"{folder}: all {MAX_SLOTS} grading slots of this machine are held")


def toolkit() -> str:
    """A digest of the toolkit's source and golden files, and of the versions of Python, numpy and
    Hypothesis (which draws the examples): two machines with the same grade the same."""
    import hypothesis
    import numpy

    digest = hashlib.sha256(f"{sys.version}\0{numpy.__version__}\0{hypothesis.__version__}\n".encode())
    for path, (kind, detail) in sorted(package_files().items()):
        if kind == "file" and path.suffix in (".py", ".json"):
            digest.update(f"{os.path.relpath(path, PACKAGE_PARENT)}\0{detail}\n".encode())
    return digest.hexdigest()

"""A batch's runs: every IMPL in a worker of its own, the grades in the order of the IMPLs, the command.

Every module grading needs is imported here, before any IMPL runs: the workers are copies of this process
and must import nothing once a submission may have written a file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

from golden.errors import ImplError, OptionError
from golden.files.store import Sets
from golden.grading._cache import Cache, Reuse
from golden.grading._render import STUDENT_FILES, report_all, results_names
from golden.grading._scoring import Graded, load_weights
from golden.grading._similarity import require as require_copydetect
from golden.harness._sandbox import Isolation
from golden.harness.session import MIN_LOAD_TIMEOUT, PROPERTY_FACTOR, run, select
from golden.options import Options
from golden.outcome import Kind, Outcome, Status


def grade(
    impls: Sequence[str],
    golden: Sets,
    options: Options,
    *,
    weights: dict[str, float] | None = None,
    progress: bool = True,
    graded: list[Graded] | None = None,
    shared: set[str] | None = None,
) -> list[Graded]:
    """Run every IMPL on the selected golden cases of `golden` (then the properties), ``options.jobs`` at
    a time.

    Each of the worker processes (``golden.harness._pool``: guarded forks of this process) takes one
    IMPL at a time and runs it in a Session of its own: the judging, Hypothesis included, is Python work
    that threads of one process could not share out. A worker lost with its IMPL (one that kills or stops
    its worker) is replaced and the IMPL graded once more, then reported as not graded. Results come in
    the order of `impls`, appended to `graded` (pass a list to keep what was graded if this raises: Ctrl-C
    stops every worker and child and raises KeyboardInterrupt). A progress bar shows on a terminal
    (stderr) when `progress`. `shared`: the folders holding several IMPLs of the whole batch when `impls`
    are some of them (the rest found in ``--cache``); by default, those of `impls` (``_shared_folders``).
    With ``options.cluster`` or ``options.scheduler``, the workers are a Dask cluster's
    (``golden.grading._dask``), each IMPL a task that carries its files.
    """
    from tqdm import tqdm

    from golden.harness import _pool as pool
    from golden.harness.properties import PROPERTIES

    engine = _engine(options)  # Dask, an extra, is refused in one line before anything runs
    cases = list(select(golden, options))
    items = cases + (list(PROPERTIES) if options.properties else [])
    shared, seed = _shared_folders(impls) if shared is None else shared, batch_seed(options)
    # A worker that answers no more within every case's and property's budget, plus loading, is stopped.
    budget = len(cases) + (PROPERTY_FACTOR * len(PROPERTIES) if options.properties else 0)
    deadline = options.timeout * budget + MIN_LOAD_TIMEOUT + 60
    results: dict[int, Graded] = {}
    out = graded if graded is not None else []
    groups = {key: golden.group(key) for key in cases}  # each case's set: a grade is split by set

    def done(index: int, answer: dict[str, Any] | None, why: str) -> None:
        results[index] = _graded(
            Graded(impls[index], items, weights=weights or {}, groups=groups), answer, why
        )
        while len(out) in results:  # in the order of `impls`, as far as they are done
            out.append(results[len(out)])
        bar.update()

    def one(spec: str, slot: int) -> dict[str, Any]:
        return run_one(spec, golden, options, slot, expose_folder=_folder(spec) not in shared, seed=seed)

    golden.watch_package()  # before any IMPL runs: their workers are copies of this process from now on
    tqdm.monitor_interval = 0  # no monitor thread: this process forks its workers, and stays one thread
    shown = None if progress else True
    with (
        tqdm(total=len(impls), desc="grading", unit="impl", file=sys.stderr, disable=shown) as bar,
        _ignoring_stop_signals(),
    ):
        if engine is None:
            pool.distribute(list(impls), options.jobs, one, deadline, done)
        else:
            engine.distribute(impls, golden, options, seed, [_folder(s) not in shared for s in impls], done)
    return out


def _graded(g: Graded, answer: dict[str, Any] | None, why: str) -> Graded:
    """`g` holding a worker's `answer`, or, when there is none (its worker was lost), `why` not graded."""
    g.error, g.loaded = (why, True) if answer is None else (answer["error"], answer["error"] is None)
    g.seconds = None if answer is None else answer.get("seconds")  # Gradescope's execution_time
    try:
        g.outcomes = [] if answer is None else [_outcome(o) for o in answer["outcomes"]]
    except (ValueError, KeyError, TypeError):
        g.error = "its grading process answered with something else"
    return g


def _engine(options: Options) -> ModuleType | None:
    """``golden.grading._dask`` when the options name a Dask cluster, else None: this machine's workers."""
    if options.scheduler is None and options.cluster is None:
        return None
    try:
        import distributed  # noqa: F401

        if options.cluster is not None:
            import cryptography  # noqa: F401  (the LocalCluster's TLS key: Security.temporary)
    except ImportError as e:
        flag = options.front.spell("scheduler" if options.scheduler else "cluster")
        raise OptionError(
            f"{flag} grades on Dask, which cannot be imported here ({e}): pip install 'neuron-oracle[dask]'"
        ) from None
    from golden.grading import _dask

    return _dask


def batch_seed(options: Options) -> int | None:
    """The seed every submission of a batch is judged under, so that all are judged on the same examples
    (drawn, and their oracle values computed, once per worker): the options', else none under a
    derandomizing Hypothesis profile (its examples are the same for all already), else one drawn now."""
    from hypothesis import settings

    seed: int | None = getattr(options, "seed", None)
    if seed is None and not settings().derandomize:
        seed = secrets.randbelow(2**32)
    return seed


def _folder(spec: str) -> str:
    return os.path.dirname(os.path.abspath(spec.rpartition(":")[0]))


def _shared_folders(impls: Sequence[str]) -> set[str]:
    """The folders of IMPLs that hold another IMPL's file, at any depth (``subs/neuron.py`` beside
    ``subs/alice/neuron.py``): a sandboxed IMPL there sees only its own file."""
    files = [os.path.abspath(spec.rpartition(":")[0]) for spec in impls]
    folders = {os.path.dirname(file) for file in files}
    return {folder for folder in folders if sum(f.startswith(os.path.join(folder, "")) for f in files) > 1}


@contextlib.contextmanager
def _ignoring_stop_signals() -> Iterator[None]:
    """SIGTSTP, SIGTTIN and SIGTTOU are ignored while a batch runs: a submission cannot pause the
    grading with them (SIGSTOP cannot be ignored: see the README)."""
    stops = (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
    before = [signal.signal(s, signal.SIG_IGN) for s in stops]
    try:
        yield
    finally:
        for s, handler in zip(stops, before, strict=True):
            signal.signal(s, handler)


def _outcome(data: dict[str, Any]) -> Outcome:
    """An Outcome from its ``as_dict`` form."""
    return Outcome(**{**data, "status": Status(data["status"]), "kind": Kind(data["kind"])})


def run_one(
    spec: str,
    golden: Sets,
    options: Options,
    slot: int = 0,
    expose_folder: bool = True,
    seed: int | None = None,
    shown: str | None = None,
) -> dict[str, Any]:
    """One IMPL's name and outcomes (as dicts), or why it could not be loaded: a worker's answer. The
    properties draw their examples from `seed` (``Session``); every message names IMPL `shown` when given
    (a Dask worker's copy of a submission, named as the submission)."""
    if (answer := refused(spec)) is not None:
        return answer
    start = time.monotonic()
    try:
        verdict = run(
            spec,
            options,
            golden=golden,
            grading=True,
            slot=slot,
            expose_folder=expose_folder,
            seed=seed,
            shown=shown,
        )
    except ImplError as e:
        return {"impl": shown or spec, "outcomes": [], "error": str(e)}
    outcomes = [o.as_dict() for o in verdict.outcomes]
    return {"impl": verdict.impl, "outcomes": outcomes, "error": None, "seconds": time.monotonic() - start}


def refused(spec: str) -> dict[str, Any] | None:
    """The answer that refuses IMPL `spec` before it runs (its file is a symlink: to another submission,
    perhaps, never graded as it), else None."""
    file = spec.rpartition(":")[0]
    if file.endswith(".py") and os.path.islink(file):
        target = os.readlink(file)
        error = f"IMPL {spec!r}: its file is a symlink (to {target!r}); a batch grades regular files only"
        return {"impl": spec, "outcomes": [], "error": error}
    return None


def command(impls: list[str], options: Options) -> int:
    """``neuron-oracle validate`` grading `impls`: the table (or results.json) out, 0 only if all are OK.

    Every bad option is refused before any IMPL runs (one line, exit 2). A golden file changed on disk
    during the run is a GoldenChanged after the table is out. On Ctrl-C, or any error that ends the batch,
    every grade computed so far is still printed (and written), and then the interruption is raised.
    """
    from golden.errors import GoldenChanged
    from golden.files.store import ROOT, open_sets
    from golden.harness.properties import PROPERTIES

    form, output = options.format, options.output
    if form == "junit":
        raise OptionError(
            "--format junit reports one IMPL; grade several with --format text, csv, json, gradescope or "
            "prairielearn"
        )
    many_files = form in STUDENT_FILES and len(impls) > 1  # gradescope, prairielearn: one file per IMPL
    if many_files and not output:
        raise OptionError(
            f"--format {form} with several IMPLs writes one results file per IMPL: give --output DIR"
        )
    if options.similarity is not None:
        require_copydetect()  # an extra: refused in one line before anything runs
    files = results_names(impls) if many_files else []
    isolation = options.isolation(grading=True)
    golden = open_sets(options.sets, options.root or ROOT)
    select(golden, options)  # a --cases that matches nothing is refused before any IMPL runs
    points = load_weights(options.weights, [*golden.cases, *PROPERTIES]) if options.weights else {}
    options, reuse, shared = _resumed(impls, golden, options, isolation, points)
    graded = reuse.recorder()  # each grade kept in --cache as it comes
    try:
        if todo := reuse.todo:  # the others were found in --cache
            grade(
                todo, golden, options, weights=points, progress=len(impls) > 1, graded=graded, shared=shared
            )
    except BaseException:
        graded = reuse.merge(graded)
        reuse.keep(trusted=not golden.verify())
        if graded:  # what was graded before the batch stopped is not lost
            stopped = f"neuron-oracle: the batch stopped after {len(graded)} of {len(impls)} IMPLs"
            print(stopped, file=sys.stderr)
            report_all(graded, options, isolation, files[: len(graded)], many_files)
        raise
    graded = reuse.merge(graded)
    changes = golden.verify()
    reuse.keep(trusted=not changes)
    report_all(graded, options, isolation, files, many_files)
    if changes:
        raise GoldenChanged(
            f"{'; '.join(changes)}: files of the toolkit changed on disk while the IMPLs ran; the grades "
            "above were judged on what was read before they started"
        )
    return 0 if all(g.ok for g in graded) else 1


def _resumed(
    impls: list[str], golden: Sets, options: Options, isolation: Isolation, points: dict[str, float]
) -> tuple[Options, Reuse, set[str]]:
    """`options` with the batch's seed (printed on stderr only: it is the teacher's), what ``--cache``
    holds of `impls` already (nothing without it), and the folders holding several of them. With
    ``--cache`` and no ``--seed``, the seed is the one it keeps, so late submissions are judged alike."""
    cache = Cache.open(options.cache) if options.cache else None
    if options.properties and (seed := batch_seed(options)) is not None:
        seed = cache.seed(seed, options.seed) if cache else seed
        options = replace(options, seed=seed)
        print(f"neuron-oracle: the properties' examples are those of --seed {seed}", file=sys.stderr)
    shared = _shared_folders(impls)
    exposed = [_folder(spec) not in shared for spec in impls]
    return options, Reuse.find(cache, impls, exposed, golden, options, isolation, points), shared

"""Grading many implementations: expand IMPLs and globs, run them in parallel, score them, tabulate.

Each IMPL gets a ``Session`` of its own, so its own child process: one that hangs, crashes or ends its
process costs itself, never the batch. ``--jobs`` worker processes run the sessions, one IMPL at a time
each, fed from here; they judge, as a single validate does, and send back the outcomes as JSON. (Threads
would not do: the judging, Hypothesis included, is Python work in the judging process, and a second
thread of it ran no faster than one.) A submission that cannot even be loaded is a grade (nothing
earned, the load error as the reason), not an error of the run.

Scoring: an item (a golden case or a property) is worth one point unless a weights file says otherwise,
and earns its points only when it passed. ``gradescope`` writes Gradescope's autograder ``results.json``.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import io
import json
import math
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golden import report
from golden.errors import ImplError, OptionError
from golden.files.atomic import write_atomically  # imported before any IMPL runs, as all that follows is
from golden.files.store import GoldenSet, display
from golden.harness.protocol import encodable, short
from golden.harness.sandbox import Isolation
from golden.harness.session import MIN_LOAD_TIMEOUT, PROPERTY_FACTOR, Session
from golden.outcome import Kind, Outcome, Status

GLOB = re.compile(r"[*?[]")


def expand(impls: Sequence[str]) -> tuple[list[str], bool]:
    """The IMPLs to run, each glob replaced by the files it matches; and whether this is a batch.

    A glob is recognised in the part before the last colon (``'subs/*.py:Neuron'``) and matched as
    ``glob.glob`` would (``**`` included, hidden names only by a part that starts with a dot), sorted, but
    by a walk of its own that does not follow a symlink to a folder (so a loop of them cannot make it
    endless), and a file reached twice, through two names of its folder, is run once. A batch is several
    IMPLs, or any glob, even if it matched one file: its result is a table. ImplError when a glob matches
    no file.
    """
    found: list[str] = []
    seen: set[str] = set()
    batch = len(impls) > 1
    for spec in impls:
        path, sep, name = spec.rpartition(":")
        if not (sep and GLOB.search(path)):
            real = _identity(path) if sep else spec
            if real not in seen:
                seen.add(real)
                found.append(spec)
            continue
        batch = True
        matched = walk_glob(path)
        if not matched:
            raise ImplError(f"IMPL {spec!r}: {path!r} matches no file")
        for file in matched:
            if _identity(file) not in seen:
                seen.add(_identity(file))
                found.append(f"{file}:{name}")
    return found, batch


def _identity(path: str) -> str:
    """What makes two names of an IMPL's file the same IMPL: the real folder, and the name in it. A file
    reached through two names of one folder is run once; a symlink to another file is an IMPL of its own
    (refused by ``run_one``), never a silent duplicate of its target."""
    return os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))


def walk_glob(pattern: str) -> list[str]:
    """The regular files `pattern` matches, sorted, found without following symlinked folders."""
    parts = pattern.split("/")
    fixed: list[str] = []
    while len(parts) > 1 and not GLOB.search(parts[0]):
        fixed.append(parts.pop(0))
    base = "/".join(fixed) or ("/" if pattern.startswith("/") else "")
    start = base or "."
    if not os.path.isdir(start):
        return []
    out = []
    for folder, dirs, files in os.walk(start, followlinks=False):
        dirs.sort()
        rel = os.path.relpath(folder, start)
        prefix = [] if rel == "." else rel.split(os.sep)
        for name in files:
            if _match([*prefix, name], parts) and os.path.isfile(os.path.join(folder, name)):
                out.append(os.path.join(base, *prefix, name) if base else os.path.join(*prefix, name))
    return sorted(out)


def _match(names: list[str], parts: list[str]) -> bool:
    """Whether path components `names` match pattern components `parts`: ``**`` stands for any number
    of folders, and a name that starts with a dot is matched only by a part that does."""
    if not parts:
        return not names
    if parts[0] == "**":
        return any(
            _match(names[i:], parts[1:]) and not any(n.startswith(".") for n in names[:i])
            for i in range(len(names) + 1)
        )
    if not names or (names[0].startswith(".") and not parts[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], parts[0]) and _match(names[1:], parts[1:])


MAX_WEIGHTS = 1 << 20  # bytes of a weights file: a name and a number per case and property


def load_weights(path: str, known: Sequence[str]) -> dict[str, float]:
    """Points per item from `path`, a JSON object mapping case and property names to numbers >= 0.

    Read as golden files are (a regular file of at most MAX_WEIGHTS bytes, parsed strictly, its nesting
    and size bounded), and the points must add up to a finite number. OptionError naming the file and the
    entry for anything else (a missing file, bad JSON, an unknown name, a negative or non-numeric value).
    """
    from golden.errors import GoldenError
    from golden.files.store import parse, read_regular

    where = f"--weights {path}"
    try:
        data = parse(read_regular(Path(path), MAX_WEIGHTS, "a weights file"), Path(path), "a weights file")
    except GoldenError as e:
        raise OptionError(f"--weights {e}") from None
    if not isinstance(data, dict):
        raise OptionError(
            f"{where}: expected an object mapping case and property names to points, "
            f"got {type(data).__name__}"
        )
    weights: dict[str, float] = {}
    for name, points in data.items():
        if name not in known:
            raise OptionError(
                f"{where}: {short(name, 80)!r} is not a golden case or property; "
                "see `neuron-oracle list` and the properties of `neuron-oracle validate`"
            )
        if isinstance(points, bool) or not isinstance(points, int | float) or not math.isfinite(points):
            raise OptionError(f"{where}: {name!r} is {short(repr(points), 40)}; expected a number of points")
        if points < 0:
            raise OptionError(f"{where}: {name!r} is {points!r}; expected a number of points >= 0")
        weights[name] = float(points)
    if not math.isfinite(sum(weights.values())):
        raise OptionError(f"{where}: the points add up to more than a float can hold; use smaller numbers")
    return weights


@dataclass
class Graded:
    """One IMPL's run: its outcomes, or why it was not graded (``error``), and its score."""

    impl: str
    items: list[str]  # every case and property planned, in order, loaded or not
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None  # why nothing was graded: the load error, or its grading process ended
    loaded: bool = True  # False: IMPL could not be loaded
    weights: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Loaded, something passed, and nothing failed or errored."""
        return self.error is None and report.ok(self.outcomes)

    def points(self, name: str) -> float:
        """What item `name` is worth."""
        return self.weights.get(name, 1.0)

    def outcome(self, name: str) -> Outcome:
        """How item `name` went (an error saying why, when nothing was graded)."""
        for o in self.outcomes:
            if o.name == name:
                return o
        return Outcome(name, Status.ERROR, message=self.error or "not run")

    @property
    def score(self) -> float:
        """The points of the items that passed."""
        passed = {o.name for o in self.outcomes if o.status is Status.PASSED}
        return round(float(sum(self.points(n) for n in self.items if n in passed)), 6)

    @property
    def max_score(self) -> float:
        """The points of every item."""
        return round(float(sum(self.points(n) for n in self.items)), 6)

    def first_failure(self) -> Outcome | None:
        """The first case or property, in run order, that failed or errored."""
        return next((o for o in self.outcomes if o.status in (Status.FAILED, Status.ERROR)), None)


@dataclass(frozen=True)
class Options:
    """What every IMPL of a batch is held to, and how it runs."""

    timeout: float
    examples: int | None
    properties: bool
    precision: str | None = None
    conventions: dict[str, str] | None = None
    isolation: Isolation = field(default_factory=lambda: Isolation(False, "asked for"))


def grade(
    impls: Sequence[str],
    golden: GoldenSet,
    options: Options,
    *,
    jobs: int,
    weights: dict[str, float] | None = None,
    progress: bool = True,
    graded: list[Graded] | None = None,
) -> list[Graded]:
    """Run every IMPL on the golden cases of `golden` (then the properties), `jobs` at a time.

    Each of `jobs` worker processes (``golden.harness.pool``: guarded forks of this process) takes one
    IMPL at a time and runs it in a Session of its own: the judging, Hypothesis included, is Python work
    that threads of one process could not share out. A worker lost with its IMPL (one that kills or stops
    its worker) is replaced and the IMPL graded once more, then reported as not graded. Results come in
    the order of `impls`, appended to `graded` (pass a list to keep what was graded if this raises: Ctrl-C
    stops every worker and child and raises KeyboardInterrupt). A progress bar shows on a terminal
    (stderr) when `progress`.
    """
    from tqdm import tqdm

    from golden.harness import pool
    from golden.harness.properties import PROPERTIES

    items = list(golden.cases) + (list(PROPERTIES) if options.properties else [])
    shared = _shared_folders(impls)
    # A worker that answers no more within every case's and property's budget, plus loading, is stopped.
    budget = len(golden.cases) + (PROPERTY_FACTOR * len(PROPERTIES) if options.properties else 0)
    deadline = options.timeout * budget + MIN_LOAD_TIMEOUT + 60
    results: dict[int, Graded] = {}
    out = graded if graded is not None else []

    def done(index: int, answer: dict[str, Any] | None, why: str) -> None:
        g = Graded(impls[index], items, weights=weights or {})
        if answer is None:
            g.error = why
        else:
            g.error, g.loaded = answer["error"], answer["error"] is None
            try:
                g.outcomes = [_outcome(o) for o in answer["outcomes"]]
            except (ValueError, KeyError, TypeError):
                g.error = "its grading process answered with something else"
        results[index] = g
        while len(out) in results:  # in the order of `impls`, as far as they are done
            out.append(results[len(out)])
        bar.update()

    def one(spec: str, slot: int) -> dict[str, Any]:
        return run_one(spec, golden, options, slot, expose_folder=_folder(spec) not in shared)

    golden.watch_package()  # before any IMPL runs: their workers are copies of this process from now on
    tqdm.monitor_interval = 0  # no monitor thread: this process forks its workers, and stays one thread
    shown = None if progress else True
    with (
        tqdm(total=len(impls), desc="grading", unit="impl", file=sys.stderr, disable=shown) as bar,
        _ignoring_stop_signals(),
    ):
        pool.run(list(impls), jobs, one, deadline, done)
    return out


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
    spec: str, golden: GoldenSet, options: Options, slot: int = 0, expose_folder: bool = True
) -> dict[str, Any]:
    """One IMPL's name and outcomes (as dicts), or why it could not be loaded: a worker's answer."""
    outcomes: list[Outcome] = []
    file = spec.rpartition(":")[0]
    if file.endswith(".py") and os.path.islink(file):  # another submission, perhaps: never graded as it
        target = os.readlink(file)
        error = f"IMPL {spec!r}: its file is a symlink (to {target!r}); a batch grades regular files only"
        return {"impl": spec, "outcomes": [], "error": error}
    try:
        with Session(
            spec,
            golden,
            options.timeout,
            options.examples,
            options.precision,
            options.conventions,
            isolation=options.isolation.for_slot(slot),
            expose_folder=expose_folder,
        ) as session:
            spec = session.spec
            outcomes = list(session.run(list(golden.cases.values()), options.properties))
    except ImplError as e:
        return {"impl": spec, "outcomes": [], "error": str(e)}
    return {"impl": spec, "outcomes": [o.as_dict() for o in outcomes], "error": None}


# -- the summary table ---------------------------------------------------------------------------------

COLUMNS = (
    "impl",
    "ok",
    "score",
    "max_score",
    "passed",
    "failed",
    "errors",
    "skipped",
    "first_failure",
    "stage",
    "message",
    "diagnosis",
    "sandbox",
)


def row(g: Graded) -> dict[str, Any]:
    """One IMPL's line of the table: its counts, score, first failing item and stage, why, and the classic
    mistake its values match (the diagnosis) when there is one."""
    counts = Counter(o.status for o in g.outcomes)
    first = g.first_failure()
    if g.error is not None:
        failure, stage, message = "", "" if g.loaded else "load", g.error
    elif first is not None:
        failure, stage, message = first.name, first.stage or "", first.message
    else:
        failure, stage, message = "", "", "" if g.ok else report.verdict(g.outcomes)
    return {
        "impl": encodable(g.impl),
        "ok": g.ok,
        "score": g.score,
        "max_score": g.max_score,
        "passed": counts[Status.PASSED],
        "failed": counts[Status.FAILED],
        "errors": counts[Status.ERROR],
        "skipped": counts[Status.SKIPPED],
        "first_failure": failure,
        "stage": stage,
        "message": short(message, 400),
        "diagnosis": short(first.diagnosis["message"], 400) if first and first.diagnosis else "",
    }


def verdict(graded: list[Graded]) -> str:
    """The table's last line: OK when every IMPL is, else how many are."""
    good = sum(g.ok for g in graded)
    if good == len(graded):
        return f"OK: all {len(graded)} implementations passed"
    return f"FAILED: {good} of {len(graded)} implementations OK"


def text(graded: list[Graded], golden: str, isolation: Isolation) -> str:
    """The table for a terminal: impl, score, passed, failed (with errors), first failure, and the
    diagnosis of it, or the message when there is none; the isolation in force on the second line."""
    header = ("impl", "score", "passed", "failed", "first failure", "message")
    lines = []
    for g in graded:
        r = row(g)
        where = "(load)" if not g.loaded else "(not graded)" if g.error else r["first_failure"]
        if r["first_failure"] and r["stage"] and r["stage"] != r["first_failure"]:
            where += f" ({r['stage']})"
        score = f"{r['score']:g}/{r['max_score']:g}"
        lines.append(
            (
                short(g.impl),
                score,
                str(r["passed"]),
                str(r["failed"] + r["errors"]),
                where,
                f"likely: {r['diagnosis']}" if r["diagnosis"] else r["message"],
            )
        )
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(5)]
    aligns = ("<", ">", ">", ">", "<")

    def fmt(cells: tuple[str, ...]) -> str:
        left = "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells[:5], aligns, widths, strict=True))
        return f"{left}  {short(cells[5], 120)}".rstrip()

    out = [f"validated {len(graded)} implementations against golden {golden}", isolation.describe(), ""]
    out.append(fmt(header))
    out += [fmt(x) for x in lines]
    return "\n".join([*out, "", verdict(graded)])


def as_csv(graded: list[Graded], isolation: Isolation) -> str:
    """The table as CSV, a header then a row per IMPL (a cell that a spreadsheet would run is quoted); the
    ``sandbox`` column says whether each ran sandboxed."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    level = "on" if isolation.sandbox else "off"
    for g in graded:
        writer.writerow({k: _inert(v) for k, v in row(g).items()} | {"sandbox": level})
    return buffer.getvalue().rstrip("\n")


def _inert(value: Any) -> Any:
    """A text cell that starts like a formula (= + - @) prefixed with ', so a spreadsheet shows it."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def as_json(graded: list[Graded], golden: str, isolation: Isolation) -> str:
    """The table as JSON: the golden version, the isolation in force, the verdict, and a row per IMPL."""
    rows = []
    for g in graded:
        r = row(g)
        first = g.first_failure()
        rows.append(
            {
                "impl": r["impl"],
                "loaded": g.loaded,
                "ok": r["ok"],
                "score": r["score"],
                "max_score": r["max_score"],
                "counts": {
                    s.value: r[k]
                    for s, k in zip(Status, ("passed", "failed", "errors", "skipped"), strict=True)
                },
                "first_failure": None
                if first is None or g.error is not None
                else {"name": first.name, "kind": first.kind.value, "stage": first.stage},
                "message": r["message"],
                "diagnosis": r["diagnosis"] or None,
            }
        )
    table = {
        "golden": golden,
        "isolation": isolation.as_dict(),
        "ok": all(g.ok for g in graded),
        "implementations": rows,
    }
    return _json(table)


# -- Gradescope ------------------------------------------------------------------------------------------


def gradescope(g: Graded, isolation: Isolation) -> dict[str, Any]:
    """Gradescope's autograder results.json for one IMPL: a test per case and property, and the score.

    Each test has ``name``, ``score`` (its points if it passed, else 0), ``max_score`` (its points),
    ``status`` (``passed`` or ``failed``: skipped and errored items earn nothing) and ``output`` (why it
    did not pass, and the classic mistake its values match when there is one). An item weighted 0 is left
    out. The top-level ``score`` is the sum; ``output`` is the verdict, or why the IMPL could not be
    loaded, and on a second line the isolation it ran under.
    """
    tests = []
    for name in g.items:
        if g.points(name) == 0:
            continue
        o = g.outcome(name)
        passed = o.status is Status.PASSED
        kind = "golden case" if o.kind is Kind.CASE else "property"
        if g.error is not None:
            why = "not graded: see the output above"
        else:
            why = "passed" if passed else f"{o.status.value}: {short(o.message, 400)}"
            if o.diagnosis:
                why += f"\nlikely: {short(o.diagnosis['message'], 400)}"
        tests.append(
            {
                "name": name,
                "score": g.points(name) if passed else 0.0,
                "max_score": g.points(name),
                "status": "passed" if passed else "failed",
                "output": f"{kind} {name}: {why}",
            }
        )
    output = short(g.error, 400) if g.error is not None else f"{short(g.impl)}: {report.verdict(g.outcomes)}"
    return {"score": g.score, "output": f"{output}\n{isolation.describe()}", "tests": tests}


def results_names(impls: Sequence[str]) -> list[str]:
    """A results file name per IMPL: its path below the folder they share, without .py, as one word.

    ``subs/alice.py:Neuron`` → ``alice.json``; ``submissions/bob/neuron.py:Neuron`` → ``bob_neuron.json``;
    the class name is added (``alice_Neuron.json``) when the IMPLs name different classes. OptionError if
    two IMPLs would get the same name.
    """
    parts = [spec.rpartition(":") for spec in impls]
    paths = [p for p, _, _ in parts]
    files = all(p.endswith(".py") or "/" in p or os.sep in p for p in paths)
    base = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]) if files else ""
    same_class = len({name for _, _, name in parts}) == 1
    names: dict[str, str] = {}
    result = []
    for spec, (path, _, name) in zip(impls, parts, strict=True):
        stem = os.path.relpath(os.path.abspath(path), base).removesuffix(".py") if files else path
        word = (
            re.sub(r"[^A-Za-z0-9._-]+", "_", stem if same_class else f"{stem}_{name}").strip("_.") or "impl"
        )
        if word in names:
            raise OptionError(f"--output: IMPLs {names[word]!r} and {spec!r} would both write {word}.json")
        names[word] = spec
        result.append(f"{word}.json")
    return result


# -- the command -----------------------------------------------------------------------------------------

FORMATS = ("csv", "gradescope")  # formats that grade even a single IMPL


def command(
    impls: list[str],
    *,
    version: str,
    pattern: str | None,
    root: Path,
    options: Options,
    jobs: int,
    form: str,
    output: str | None,
    weights: str | None,
) -> int:
    """``neuron-oracle validate`` grading `impls`: the table (or results.json) out, 0 only if all are OK.

    Every bad option is refused before any IMPL runs (one line, exit 2). A golden file changed on disk
    during the run is a GoldenChanged after the table is out. On Ctrl-C, or any error that ends the batch,
    every grade computed so far is still printed (and written), and then the interruption is raised.
    """
    from golden.errors import GoldenChanged
    from golden.files.store import list_cases, load_set
    from golden.harness.properties import PROPERTIES
    from golden.harness.session import select_cases

    if jobs < 1:
        raise OptionError(f"--jobs is {jobs}; expected at least 1")
    if form == "junit":
        raise OptionError(
            "--format junit reports one IMPL; grade several with --format text, csv, json or gradescope"
        )
    many_files = form == "gradescope" and len(impls) > 1
    if many_files and not output:
        raise OptionError(
            "--format gradescope with several IMPLs writes one results file per IMPL: give --output DIR"
        )
    files = results_names(impls) if many_files else []
    points = load_weights(weights, [*list_cases(version, root), *PROPERTIES]) if weights else {}
    golden = load_set(version, root, select_cases(version, pattern, root))
    graded: list[Graded] = []
    try:
        grade(impls, golden, options, jobs=jobs, weights=points, progress=len(impls) > 1, graded=graded)
    except BaseException:
        if graded:  # what was graded before the batch stopped is not lost
            stopped = f"neuron-oracle: the batch stopped after {len(graded)} of {len(impls)} IMPLs"
            print(stopped, file=sys.stderr)
            _report(graded, version, options.isolation, form, output, files[: len(graded)], many_files)
        raise
    _report(graded, version, options.isolation, form, output, files, many_files)
    changes = golden.verify()
    if changes:
        raise GoldenChanged(
            f"{'; '.join(changes)}: files of the toolkit changed on disk while the IMPLs ran; the grades "
            "above were judged on what was read before they started"
        )
    return 0 if all(g.ok for g in graded) else 1


def _report(
    graded: list[Graded],
    version: str,
    isolation: Isolation,
    form: str,
    output: str | None,
    files: list[str],
    many_files: bool,
) -> None:
    """Print the table, or the format asked for, and write the results files."""
    table = text(graded, version, isolation)
    if many_files:
        assert output is not None
        contents = {name: _json(gradescope(g, isolation)) for name, g in zip(files, graded, strict=True)}
        print(table)  # first: a folder that cannot be written loses no grade
        write_many(Path(output), contents)
        return
    rendered = {
        "text": lambda: table,
        "csv": lambda: as_csv(graded, isolation),
        "json": lambda: as_json(graded, version, isolation),
        "gradescope": lambda: _json(gradescope(graded[0], isolation)),
    }[form]()
    if output:
        print(table)
        write(Path(output), rendered)
    else:
        print(rendered)


def _json(data: Any) -> str:
    return json.dumps(encodable(data), indent=2, ensure_ascii=False)


def write(path: Path, content: str) -> None:
    """Write `content` (and a newline) to `path` atomically; say so on stderr."""
    write_many(path.parent, {path.name: content})


def write_many(directory: Path, contents: dict[str, str]) -> None:
    """Write every file of `contents` into `directory` atomically (none half-written); say so on stderr."""
    write_atomically(directory, {name: (text + "\n").encode() for name, text in contents.items()})
    where = (
        display(directory / next(iter(contents)))
        if len(contents) == 1
        else f"{len(contents)} files to {directory}"
    )
    print(f"neuron-oracle: wrote {where}", file=sys.stderr)

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
import glob
import io
import json
import math
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golden import report
from golden.errors import ImplError, OptionError
from golden.files.store import GoldenSet
from golden.harness.protocol import short
from golden.harness.session import MIN_LOAD_TIMEOUT, PROPERTY_FACTOR, Session
from golden.outcome import Kind, Outcome, Status

GLOB = re.compile(r"[*?[]")


def expand(impls: Sequence[str]) -> tuple[list[str], bool]:
    """The IMPLs to run, each glob replaced by the files it matches; and whether this is a batch.

    A glob is recognised in the part before the last colon (``'subs/*.py:Neuron'``) and expanded with
    ``glob.glob`` (``**`` included), sorted. A batch is several IMPLs, or any glob, even if it matched
    one file: its result is a table. Duplicates are run once. ImplError when a glob matches no file.
    """
    found: list[str] = []
    batch = len(impls) > 1
    for spec in impls:
        path, sep, name = spec.rpartition(":")
        if not (sep and GLOB.search(path)):
            found.append(spec)
            continue
        batch = True
        files = sorted(f for f in glob.glob(path, recursive=True) if os.path.isfile(f))
        if not files:
            raise ImplError(f"IMPL {spec!r}: {path!r} matches no file")
        found += [f"{f}:{name}" for f in files]
    return list(dict.fromkeys(found)), batch


def load_weights(path: str, known: Sequence[str]) -> dict[str, float]:
    """Points per item from `path`, a JSON object mapping case and property names to numbers >= 0.

    OptionError naming the file and the entry for anything else (a missing file, bad JSON, an unknown
    name, a negative or non-numeric value).
    """
    where = f"--weights {path}"
    try:
        data = json.loads(Path(path).read_bytes())
    except OSError as e:
        raise OptionError(f"{where}: {e.strerror or e}") from None
    except ValueError as e:
        raise OptionError(f"{where}: not JSON: {short(str(e))}") from None
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


def grade(
    impls: Sequence[str],
    golden: GoldenSet,
    *,
    timeout: float,
    examples: int | None,
    properties: bool,
    jobs: int,
    weights: dict[str, float] | None = None,
    precision: str | None = None,
    conventions: dict[str, str] | None = None,
    progress: bool = True,
) -> list[Graded]:
    """Run every IMPL on the golden cases of `golden` (then the properties), `jobs` at a time.

    Each of `jobs` worker processes (``python -m golden.grade``) is handed the golden cases as read here,
    then one IMPL at a time, and runs it in a Session of its own: the judging, Hypothesis included, is
    Python work that threads of one process could not share out. A worker lost with its IMPL (one that
    kills its parent) costs that IMPL an error and is replaced. Results come in the order of `impls`. Each
    IMPL is held to `precision` and `conventions`, or to those it declares (or its forward's dtype shows).
    A progress bar
    shows on a terminal (stderr) when `progress`. Ctrl-C stops every worker and child and raises
    KeyboardInterrupt: no verdict.
    """
    from tqdm import tqdm

    from golden.harness.properties import PROPERTIES

    items = list(golden.cases) + (list(PROPERTIES) if properties else [])
    config = {
        "golden": {
            "version": golden.version,
            "root": str(golden.root),
            "documents": [case.document for case in golden.cases.values()],
        },
        "timeout": timeout,
        "examples": examples,
        "properties": properties,
        "precision": precision,
        "conventions": conventions,
    }
    # A worker that answers no more within every case's and property's budget, plus loading, is stopped.
    per_impl = timeout * (len(golden.cases) + (PROPERTY_FACTOR * len(PROPERTIES) if properties else 0))
    deadline = per_impl + MIN_LOAD_TIMEOUT + 60
    results: list[Graded | None] = [None] * len(impls)
    todo = iter(range(len(impls)))
    lock, cancel = threading.Lock(), threading.Event()
    finished: queue.SimpleQueue[int] = queue.SimpleQueue()
    workers: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        worker = subprocess.Popen(
            [sys.executable, "-m", "golden.grade"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_worker_env(),
        )
        with lock:
            workers.append(worker)
        _send(worker, config)
        return worker

    def serve() -> None:
        worker = start()
        while not cancel.is_set():
            with lock:
                index = next(todo, None)
            if index is None:
                break
            graded = Graded(impls[index], items, weights=weights or {})
            reply = _ask(worker, {"impl": impls[index], "nonce": secrets.token_hex(16)}, deadline)
            if reply is None:  # the worker ended, broke its protocol or its time: this IMPL did it, or Ctrl-C
                code = worker.wait()
                graded.error = f"its grading process ended while it ran ({_ended(code)})"
                if not cancel.is_set():
                    worker = start()
            else:
                graded.error, graded.outcomes = reply["error"], reply["outcomes"]
                graded.loaded = reply["error"] is None
            results[index] = graded
            finished.put(index)
        if worker.stdin is not None:
            with contextlib.suppress(OSError):
                worker.stdin.close()
        worker.wait()

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(max(1, min(jobs, len(impls))))]
    for thread in threads:
        thread.start()
    try:
        with tqdm(
            total=len(impls), desc="grading", unit="impl", file=sys.stderr, disable=None if progress else True
        ) as bar:
            done = 0
            while done < len(impls):
                with contextlib.suppress(queue.Empty):
                    finished.get(timeout=0.2)
                    done += 1
                    bar.update()
                if not any(t.is_alive() for t in threads) and finished.empty() and done < len(impls):
                    raise RuntimeError("the grading processes ended before every IMPL was graded")
    except BaseException:
        cancel.set()
        with lock:
            for worker in workers:  # each stops its IMPL's child, then ends
                with contextlib.suppress(ProcessLookupError):
                    worker.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join()
        raise
    for thread in threads:
        thread.join()
    return [g for g in results if g is not None]


def _worker_env() -> dict[str, str]:
    from golden.harness.process import PACKAGE_PARENT

    path = os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _send(worker: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert worker.stdin is not None
    with contextlib.suppress(OSError):
        worker.stdin.write(json.dumps(message) + "\n")
        worker.stdin.flush()


MAX_ANSWER = 64 * 1024 * 1024  # characters of one answer line; a longer one is not a worker's


def _ask(worker: subprocess.Popen[str], message: dict[str, Any], deadline: float) -> dict[str, Any] | None:
    """Send `message` to a worker and read its one-line JSON answer within `deadline` seconds.

    None, with the worker killed, if it ended, took longer, or answered with anything but a well-formed
    answer carrying the request's nonce (a line written into its pipe by someone else lacks it).
    """
    assert worker.stdout is not None
    _send(worker, message)
    watchdog = threading.Timer(deadline, worker.kill)  # SIGKILL ends even a stopped worker
    watchdog.start()
    try:
        line = worker.stdout.readline(MAX_ANSWER)
    finally:
        watchdog.cancel()
    try:
        reply = json.loads(line)
        if reply["nonce"] != message["nonce"] or not isinstance(reply["error"], str | None):
            raise ValueError("a reply to another request")
        reply["outcomes"] = [_outcome(o) for o in reply["outcomes"]]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        with contextlib.suppress(OSError):
            worker.kill()
        return None
    return dict(reply)


def _ended(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _outcome(data: dict[str, Any]) -> Outcome:
    """An Outcome from its ``as_dict`` form."""
    return Outcome(**{**data, "status": Status(data["status"]), "kind": Kind(data["kind"])})


def run_one(
    spec: str,
    golden: GoldenSet,
    timeout: float,
    examples: int | None,
    properties: bool,
    precision: str | None,
    conventions: dict[str, str] | None,
) -> dict[str, Any]:
    """One IMPL's name and outcomes (as dicts), or why it could not be loaded: a worker's answer."""
    outcomes: list[Outcome] = []
    try:
        with Session(spec, golden, timeout, examples, precision, conventions) as session:
            spec = session.spec
            outcomes = list(session.run(list(golden.cases.values()), properties))
    except ImplError as e:
        return {"impl": spec, "outcomes": [], "error": str(e)}
    return {"impl": spec, "outcomes": [o.as_dict() for o in outcomes], "error": None}


def worker() -> None:
    """A grading process: read the run's settings and golden cases, then grade one IMPL per line.

    Answers go to the stdout it started with, one JSON line per IMPL; everything printed in this process
    (the implementations' output, drained by their Sessions) goes to stderr. SIGINT is left to the parent,
    which ends a worker with SIGTERM: the IMPL's child is stopped, and the worker ends quietly.
    """
    from golden.files.case import GoldenCase
    from golden.harness.guard import guard_this_process

    guard_this_process()  # the IMPL's process, of the same user, cannot write into our answers
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        config = json.loads(sys.stdin.readline())
        spec = config["golden"]
        cases = {d["name"]: GoldenCase.from_document(d) for d in spec["documents"]}
        golden = GoldenSet(spec["version"], Path(spec["root"]), cases)
        for line in sys.stdin:
            request = json.loads(line)
            answer = run_one(
                request["impl"],
                golden,
                config["timeout"],
                config["examples"],
                config["properties"],
                config["precision"],
                config["conventions"],
            )
            answers.write(json.dumps({**answer, "nonce": request["nonce"]}, allow_nan=True) + "\n")
            answers.flush()
    except KeyboardInterrupt:
        sys.exit(130)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


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
        "impl": g.impl,
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


def text(graded: list[Graded], golden: str) -> str:
    """The table for a terminal: impl, score, passed, failed (with errors), first failure, and the
    diagnosis of it, or the message when there is none."""
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

    out = [f"validated {len(graded)} implementations against golden {golden}", "", fmt(header)]
    out += [fmt(x) for x in lines]
    return "\n".join([*out, "", verdict(graded)])


def as_csv(graded: list[Graded]) -> str:
    """The table as CSV, a header then a row per IMPL (a cell that a spreadsheet would run is quoted)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for g in graded:
        writer.writerow({k: _inert(v) for k, v in row(g).items()})
    return buffer.getvalue().rstrip("\n")


def _inert(value: Any) -> Any:
    """A text cell that starts like a formula (= + - @) prefixed with ', so a spreadsheet shows it."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def as_json(graded: list[Graded], golden: str) -> str:
    """The table as JSON: the golden version, the verdict, and a row per IMPL."""
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
    table = {"golden": golden, "ok": all(g.ok for g in graded), "implementations": rows}
    return json.dumps(table, indent=2, ensure_ascii=False)


# -- Gradescope ------------------------------------------------------------------------------------------


def gradescope(g: Graded) -> dict[str, Any]:
    """Gradescope's autograder results.json for one IMPL: a test per case and property, and the score.

    Each test has ``name``, ``score`` (its points if it passed, else 0), ``max_score`` (its points),
    ``status`` (``passed`` or ``failed``: skipped and errored items earn nothing) and ``output`` (why it
    did not pass, and the classic mistake its values match when there is one). An item weighted 0 is left
    out. The top-level ``score`` is the sum; ``output`` is the
    verdict, or why the IMPL could not be loaded.
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
    return {"score": g.score, "output": output, "tests": tests}


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
    timeout: float,
    examples: int | None,
    properties: bool,
    jobs: int,
    form: str,
    output: str | None,
    weights: str | None,
    precision: str | None = None,
    conventions: dict[str, str] | None = None,
) -> int:
    """``neuron-oracle validate`` grading `impls`: the table (or results.json) out, 0 only if all are OK.

    Every bad option is refused before any IMPL runs (one line, exit 2). A golden file changed on disk
    during the run is a GoldenChanged after the table is out.
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
    graded = grade(
        impls,
        golden,
        timeout=timeout,
        examples=examples,
        properties=properties,
        jobs=jobs,
        weights=points,
        precision=precision,
        conventions=conventions,
        progress=len(impls) > 1,
    )
    table = text(graded, version)
    if many_files:
        assert output is not None
        contents = {name: _json(gradescope(g)) for name, g in zip(files, graded, strict=True)}
        write_many(Path(output), contents)
        print(table)
    else:
        rendered = {
            "text": lambda: table,
            "csv": lambda: as_csv(graded),
            "json": lambda: as_json(graded, version),
            "gradescope": lambda: _json(gradescope(graded[0])),
        }[form]()
        if output:
            write(Path(output), rendered)
            print(table)
        else:
            print(rendered)
    changes = golden.verify()
    if changes:
        raise GoldenChanged(
            f"{'; '.join(changes)}: golden files changed on disk while the IMPLs ran; the grades above were "
            "judged on the copy read before they started; `neuron-oracle regen --force` restores them"
        )
    return 0 if all(g.ok for g in graded) else 1


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def write(path: Path, content: str) -> None:
    """Write `content` (and a newline) to `path` atomically; say so on stderr."""
    write_many(path.parent, {path.name: content})


def write_many(directory: Path, contents: dict[str, str]) -> None:
    """Write every file of `contents` into `directory` atomically (none half-written); say so on stderr."""
    from golden.files.atomic import write_atomically
    from golden.files.store import display

    write_atomically(directory, {name: (text + "\n").encode() for name, text in contents.items()})
    where = (
        display(directory / next(iter(contents)))
        if len(contents) == 1
        else f"{len(contents)} files to {directory}"
    )
    print(f"neuron-oracle: wrote {where}", file=sys.stderr)


if __name__ == "__main__":
    worker()

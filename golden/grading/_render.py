"""A batch's grades rendered: the text table, CSV, JSON, and Gradescope's ``results.json``.

Every renderer takes ``Graded`` records; nothing here runs or judges an implementation.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from golden import report
from golden._text import encodable, short
from golden.errors import OptionError
from golden.feedback import redact
from golden.files._atomic import write_atomically
from golden.files.store import display
from golden.grading._scoring import Graded
from golden.harness._sandbox import Isolation
from golden.options import VISIBILITIES, Options
from golden.outcome import Kind, Status

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
VISIBLE = VISIBILITIES[0]  # Gradescope's default: a test shown at once


def columns(sets: Sequence[str]) -> list[str]:
    """The CSV's columns: ``COLUMNS`` with one set; among several, each set's ``score SET`` and
    ``max_score SET`` after ``max_score``, and the ``set`` of the first failure after ``first_failure``."""
    if len(sets) <= 1:
        return list(COLUMNS)
    out = []
    for column in COLUMNS:
        out.append(column)
        if column == "max_score":
            out += [f"{word} {name}" for name in sets for word in ("score", "max_score")]
        elif column == "first_failure":
            out.append("set")
    return out


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
        failure, stage, message = "", "", "" if g.ok else report.last_line(g.outcomes)
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
        "set": first.group if first is not None and g.error is None else "",
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


def as_csv(graded: list[Graded], isolation: Isolation, sets: Sequence[str] = ()) -> str:
    """The table as CSV, a header then a row per IMPL (a cell that a spreadsheet would run is quoted); the
    ``sandbox`` column says whether each ran sandboxed. Among several `sets`, each set's score is a pair
    of columns, and the first failure's set one more (``columns``)."""
    buffer = io.StringIO()
    header = columns(sets)
    writer = csv.DictWriter(buffer, header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    level = "on" if isolation.sandbox else "off"
    for g in graded:
        split = {}
        for name in sets:
            split[f"score {name}"], split[f"max_score {name}"] = g.split(name)
        writer.writerow({k: _inert(v) for k, v in (row(g) | split).items()} | {"sandbox": level})
    return buffer.getvalue().rstrip("\n")


def _inert(value: Any) -> Any:
    """A text cell that starts like a formula (= + - @) prefixed with ', so a spreadsheet shows it."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def as_json(graded: list[Graded], golden: str, isolation: Isolation, sets: Sequence[str] = ()) -> str:
    """The table as JSON: the golden sets (``golden``, their names joined), the isolation in force, the
    verdict, and a row per IMPL. Among several `sets`, ``sets`` lists them, each row's ``by_set`` splits
    its score by set, and its first failure names its ``set``; with one, the table is as it always was."""
    rows = []
    several = len(sets) > 1
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
                **({"by_set": {name: _split(g, name) for name in sets}} if several else {}),
                "first_failure": None
                if first is None or g.error is not None
                else {
                    "name": first.name,
                    **({"set": first.group} if several else {}),
                    "kind": first.kind.value,
                    "stage": first.stage,
                },
                "message": r["message"],
                "diagnosis": r["diagnosis"] or None,
            }
        )
    table = {
        "golden": golden,
        **({"sets": list(sets)} if several else {}),
        "isolation": isolation.as_dict(),
        "ok": all(g.ok for g in graded),
        "implementations": rows,
    }
    return _json(table)


def _split(g: Graded, name: str) -> dict[str, float]:
    """`g`'s score on set `name`: ``{"score", "max_score"}``."""
    score, most = g.split(name)
    return {"score": score, "max_score": most}


# -- Gradescope ------------------------------------------------------------------------------------------


def gradescope(
    g: Graded, isolation: Isolation, visibility: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Gradescope's autograder results.json for one IMPL: a test per case and property, and the score.

    Each test has ``name`` (``SET/CASE`` among several sets), ``score`` (its points if it passed, else
    0), ``max_score`` (its points), ``status`` (``passed`` or ``failed``: an errored item earns nothing)
    and ``output`` (why it did not pass, and the classic mistake its values match when there is one). Only
    the items in the grade are tests (``Graded.counts``): one weighted 0, or skipped (not applicable) and
    not named by the weights, is left out, never shown as failed; a skipped one the weights name is a
    failed test worth its points, its output saying it was skipped. Given a `visibility` per set, every
    test has Gradescope's ``visibility``: its set's, else ``visible``. The top-level ``score`` is the sum;
    ``output`` is the verdict over the tests shown at once (or why the IMPL could not be loaded), and on a
    second line the isolation it ran under.
    """
    tests = []
    for name in g.counted:
        o = g.outcome(name)
        passed = o.status is Status.PASSED
        kind = "golden case" if o.kind is Kind.CASE else "property"
        if g.error is not None:
            why = "not graded: see the output above"
        else:
            why = o.status.value + (f": {short(o.message, 400)}" if o.message and not passed else "")
            if o.status is Status.SKIPPED:
                why += f"; it counts, since the weights give it {g.points(name):g} points"
            if (diagnosis := report.likely(o)) is not None:
                why += f"\n{diagnosis}"
        test = {
            "name": name,
            "score": g.points(name) if passed else 0.0,
            "max_score": g.points(name),
            "status": "passed" if passed else "failed",
            "output": f"{kind} {name}: {why}",
        }
        if visibility:
            test["visibility"] = visibility.get(g.group(name), VISIBLE)
        tests.append(test)
    output = (
        short(g.error, 400) if g.error is not None else f"{short(g.impl)}: {_shown_verdict(g, visibility)}"
    )
    return {"score": g.score, "output": f"{output}\n{isolation.describe()}", "tests": tests}


def _shown_verdict(g: Graded, visibility: Mapping[str, str] | None) -> str:
    """The verdict of `g`'s tests shown at once: a set of another visibility is not counted, and named."""
    later = {name: how for name, how in (visibility or {}).items() if how != VISIBLE}
    if not later:
        return report.last_line(g.outcomes)
    shown = [o for o in g.outcomes if g.group(o.name) not in later]
    head = report.last_line(shown) if shown else "no test is shown at once"
    return f"{head}; not counted here: {', '.join(f'{name} ({how})' for name, how in later.items())}"


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


def report_all(
    graded: list[Graded], options: Options, isolation: Isolation, files: list[str], many_files: bool
) -> None:
    """Print the table, or the format asked for (``options.format``), and write the results files, each
    saying only what ``options.feedback`` lets it (``golden.feedback.redact``, on the data first)."""
    graded = [redact(g, options.feedback) for g in graded]
    sets, output, visibility = options.sets, options.output, options.visibility
    version = " + ".join(sets)
    table = text(graded, version, isolation)
    if many_files:
        assert output is not None
        contents = {
            name: _json(gradescope(g, isolation, visibility)) for name, g in zip(files, graded, strict=True)
        }
        print(table)  # first: a folder that cannot be written loses no grade
        write_many(Path(output), contents)
        return
    rendered = {
        "text": lambda: table,
        "csv": lambda: as_csv(graded, isolation, sets),
        "json": lambda: as_json(graded, version, isolation, sets),
        "gradescope": lambda: _json(gradescope(graded[0], isolation, visibility)),
    }[options.format]()
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

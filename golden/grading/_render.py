"""A batch's grades rendered: the text table, CSV, JSON, and a student's results file (Gradescope's,
``golden.grading._gradescope``; PrairieLearn's, ``golden.grading._prairielearn``).

Every renderer takes ``Graded`` records; nothing here runs or judges an implementation. The teacher's
outputs (the table, CSV, JSON) record the batch's seed, and the similarity report when one was asked
for; a student's results file holds neither, unless the feedback level shows the seed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from golden import report
from golden._text import encodable, short
from golden.errors import OptionError
from golden.feedback import redact, seed_shown
from golden.files._atomic import write_atomically
from golden.files.store import display
from golden.grading._gradescope import gradescope
from golden.grading._prairielearn import prairielearn
from golden.grading._scoring import Graded
from golden.grading._similarity import Similarity, similar
from golden.harness._sandbox import Isolation
from golden.options import Options
from golden.outcome import Status

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
SHOWN = 40  # pairs of similar files the table lists, the most similar first
STUDENT_FILES = {"gradescope": gradescope, "prairielearn": prairielearn}  # a results file per IMPL


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


def text(
    graded: list[Graded], golden: str, isolation: Isolation, similarity: Similarity | None = None
) -> str:
    """The table for a terminal: impl, score, passed, failed (with errors), first failure, and the
    diagnosis of it, or the message when there is none; the isolation in force on the second line; after
    the verdict, the `similarity` report when there is one (``similar_code``)."""
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
    out += ["", verdict(graded)]
    return "\n".join(out if similarity is None else [*out, "", similar_code(similarity)])


def similar_code(similarity: Similarity) -> str:
    """The similarity report as the table's last section: what was compared, then a line per pair of
    files at or above the threshold, with the larger share of one file's code found in the other (the
    ``SHOWN`` most similar; the JSON has them all)."""
    pairs, count = similarity.pairs, f"{len(similarity.pairs)} pair{'s' * (len(similarity.pairs) != 1)}"
    head = (
        f"similar code: {count if pairs else 'no pair'} of the {similarity.files} files compared "
        f"share{'s' * (len(pairs) < 2)} {similarity.threshold:g} or more of one file's code "
        f"({similarity.tool}; the scaffold's template left out)"
    )
    lines = [head] + [f"  {p.score:.2f}  {short(p.files[0])}  {short(p.files[1])}" for p in pairs[:SHOWN]]
    if len(pairs) > SHOWN:
        lines.append(f"  and {len(pairs) - SHOWN} more, less similar: --format json lists every pair")
    if similarity.not_compared:
        lines.append(f"  not compared (no file to read): {', '.join(map(short, similarity.not_compared))}")
    return "\n".join(lines)


def as_csv(
    graded: list[Graded], isolation: Isolation, sets: Sequence[str] = (), seed: int | None = None
) -> str:
    """The table as CSV, a header then a row per IMPL (a cell that a spreadsheet would run is quoted); the
    ``sandbox`` column says whether each ran sandboxed. Among several `sets`, each set's score is a pair
    of columns, and the first failure's set one more (``columns``). The batch's `seed`, when it has one,
    is the last column, so that a rerun with it can reproduce every row."""
    buffer = io.StringIO()
    header = columns(sets) + (["seed"] if seed is not None else [])
    writer = csv.DictWriter(buffer, header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    level = "on" if isolation.sandbox else "off"
    for g in graded:
        split = {}
        for name in sets:
            split[f"score {name}"], split[f"max_score {name}"] = g.split(name)
        writer.writerow(
            {k: _inert(v) for k, v in (row(g) | split).items()} | {"sandbox": level, "seed": seed}
        )
    return buffer.getvalue().rstrip("\n")


def _inert(value: Any) -> Any:
    """A text cell that starts like a formula (= + - @) prefixed with ', so a spreadsheet shows it."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def as_json(
    graded: list[Graded],
    golden: str,
    isolation: Isolation,
    sets: Sequence[str] = (),
    seed: int | None = None,
    similarity: Similarity | None = None,
) -> str:
    """The table as JSON: the golden sets (``golden``, their names joined), the batch's ``seed`` (null
    when it has none), the isolation in force, the verdict, and a row per IMPL; then the `similarity`
    report when there is one. Among several `sets`, ``sets`` lists them, each row's ``by_set`` splits its
    score by set, and its first failure names its ``set``; with one, the table is as it always was."""
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
        "seed": seed,
        "isolation": isolation.as_dict(),
        "ok": all(g.ok for g in graded),
        "implementations": rows,
        **({"similarity": similarity.as_dict()} if similarity is not None else {}),
    }
    return _json(table)


def _split(g: Graded, name: str) -> dict[str, float]:
    """`g`'s score on set `name`: ``{"score", "max_score"}``."""
    score, most = g.split(name)
    return {"score": score, "max_score": most}


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
    saying only what ``options.feedback`` lets it (``golden.feedback.redact``, on the data first).

    The teacher's outputs (the table, CSV, JSON) record the batch's seed and hold the similarity report
    (``--similarity``, computed here from the IMPLs' files); a student's results file (Gradescope's,
    PrairieLearn's) holds the seed only where the feedback level shows it, and never the report.
    """
    graded = [redact(g, options.feedback) for g in graded]
    sets, output, visibility, seed = options.sets, options.output, options.visibility, options.seed
    found = similar([g.impl for g in graded], options.similarity) if options.similarity is not None else None
    version = " + ".join(sets)
    table = text(graded, version, isolation, found)
    student = STUDENT_FILES.get(options.format)
    shown_seed = seed_shown(seed, options.feedback)
    if many_files:
        assert output is not None and student is not None
        contents = {
            name: _json(student(g, isolation, visibility, shown_seed))
            for name, g in zip(files, graded, strict=True)
        }
        print(table)  # first: a folder that cannot be written loses no grade
        write_many(Path(output), contents)
        return
    if student is not None:
        rendered = _json(student(graded[0], isolation, visibility, shown_seed))
    else:
        rendered = {
            "text": lambda: table,
            "csv": lambda: as_csv(graded, isolation, sets, seed),
            "json": lambda: as_json(graded, version, isolation, sets, seed, found),
        }[options.format]()
    if output:
        print(table)
        write(Path(output), rendered)
    else:
        print(rendered)
        if found is not None and options.format not in ("text", "json"):  # the report is the teacher's
            print(similar_code(found), file=sys.stderr)


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

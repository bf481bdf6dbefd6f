"""The commands on a user's case set: ``regen`` and ``check`` with ``--case-file``, and the review loop
(``review``, ``accept``, ``reject``) and ``release`` (``golden.files._user`` does the writing)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from golden.errors import Drift, GoldenError
from golden.files import _user as user
from golden.files._diff import ADDED, CHANGED
from golden.files._generate import Change
from golden.files._sets import load_user_set, read_manifest
from golden.files.store import ROOT, display, parse, read_regular, versions

CASE_FILE_TIMEOUT = 300.0  # seconds a case file's import may take, and then each of its cases


def ci() -> bool:
    """Whether this runs in CI (the ``CI`` environment variable set, as CI services set it): then regen
    never changes an existing set."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _files(args: argparse.Namespace) -> tuple[Path, dict[str, bytes]]:
    """The set folder `--golden` names and the files the case file `--case-file` generates for it."""
    from golden.files._casefile import load_case_file

    if args.golden in versions(ROOT if args.root is None else Path(args.root)):
        raise GoldenError(
            f"--golden {args.golden}: with --case-file, expected a folder for the set (tests/golden); "
            "the bundled versions are the toolkit's own"
        )
    generated = load_case_file(Path(args.case_file), timeout=CASE_FILE_TIMEOUT)
    return Path(args.golden), user.set_files(generated.documents, args.case_file, generated.sha256, False)


def regen(args: argparse.Namespace) -> int:
    """``regen --case-file FILE --golden FOLDER``: a new set at once; changes to an existing one pending."""
    folder, files = _files(args)
    done = user.regenerate_set(folder, files, force=args.force, ci=ci())
    for change in done.changes:
        print(change.line())
    if not done.pending:
        return 0
    cases = sorted({c.path.name for c in done.changes})
    if ci():
        raise Drift(
            f"{display(folder)}: {len(cases)} case(s) would change; CI is set, so regen changed nothing"
        )
    raise Drift(
        f"{display(folder)}: {len(cases)} case(s) pending review, nothing replaced: `neuron-oracle review "
        f"{display(folder)}`, or `accept` / `reject` it"
    )


def check(args: argparse.Namespace) -> int:
    """``check --case-file FILE --golden FOLDER``: the set against its case file, regenerated in memory."""
    folder, files = _files(args)
    load_user_set(folder)  # a hand edit, a malformed file: exit 2, the file named
    manifest, _ = read_manifest(folder)
    problems = [c.line() for c in user.compare(folder, manifest, files)]
    problems += [f"{display(p)}: pending review" for p in sorted(folder.glob(f"*{user.NEW}"))]
    for line in problems:
        print(line)
    if problems:
        raise Drift(
            f"{len(problems)} problem(s) in {display(folder)}; `neuron-oracle regen` proposes the changes"
        )
    print(f"{display(folder)}: every case agrees with {args.case_file}")
    return 0


def decide(args: argparse.Namespace) -> int:
    """``accept DIR [CASE …]`` and ``reject DIR [CASE …]``: every pending case when none is named."""
    for change in user.decide(Path(args.folder), args.cases or None, accept=args.command == "accept"):
        print(change.line())
    return 0


def review(args: argparse.Namespace) -> int:
    """``review DIR``: each pending case's diff, then accept, reject or skip it (a, r, s; q quits)."""
    folder = Path(args.folder)
    waiting = user.pending(folder)
    if not waiting:
        print(f"{display(folder)}: nothing pending")
        return 0
    if not sys.stdin.isatty():
        raise GoldenError("review asks at a terminal; without one, use `neuron-oracle accept` or `reject`")
    for number, (name, kind) in enumerate(waiting.items(), 1):
        print(f"\n[{number}/{len(waiting)}] {kind} {display(folder / f'{name}.json')}")
        for line in _diff(folder, name, kind):
            print(f"  {line}")
        answer = _ask()
        if answer == "quit":
            break
        if answer != "skip":
            for change in user.decide(folder, [name], accept=answer == "accept"):
                print(change.line())
    return 0


ANSWERS = ("accept", "reject", "skip", "quit")  # each may be given by its first letters


def _ask() -> str:
    """The answer to the prompt: one of ``ANSWERS``, asked again until it is one."""
    while True:
        try:
            given = input("accept, reject or skip? [a/r/s, q to quit] ").strip().lower()
        except EOFError:  # Ctrl-D: what was decided stays decided
            return ANSWERS[-1]
        found = [word for word in ANSWERS if given and word.startswith(given)]
        if found:
            return found[0]


def _diff(folder: Path, name: str, kind: str) -> list[str]:
    """What accepting `name` would change, field by field."""
    if kind == ADDED:
        return ["a new case"]
    if kind != CHANGED:
        return ["the case file no longer defines it: accepting removes it"]
    old, new = folder / f"{name}.json", folder / f"{name}.json{user.NEW}"
    return user.worded(parse(read_regular(old), old), parse(read_regular(new), new))


def release(args: argparse.Namespace) -> int:
    """``release DIR``: freeze the set; regen then changes it only with ``--force``."""
    change: Change = user.release(Path(args.folder))
    print(change.line())
    return 0

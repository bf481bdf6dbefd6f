"""The command line's grammar: every subcommand of ``neuron-oracle``, its options and their help.

``parser(commands)`` builds it; `commands` maps each subcommand to the function that runs it
(``golden.cli``). Options are read once into ``golden.options.Options``; this module only parses. It
imports nothing of the harness.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from golden.files._versions import CURRENT
from golden.options import (
    CLUSTERS,
    DEFAULT_IMPL,
    DEFAULT_MEMORY,
    DEFAULT_TIMEOUT,
    FEEDBACK,
    FORMATS,
    SANDBOX_LEVELS,
    SIMILARITY,
    VISIBILITIES,
)
from oracle.bounds import PRECISIONS

PROG = "neuron-oracle"
Command = Callable[[argparse.Namespace], int]
Parser = argparse.ArgumentParser


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), not every CPU of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def package_version() -> str:
    """The installed distribution's version, or ``unknown`` when run from a checkout not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("neuron-oracle")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _Renamed(argparse.Action):
    """An option under its old name: it still works, and says on stderr what it is called now."""

    def __call__(self, parser: Parser, ns: argparse.Namespace, value: Any, flag: str | None = None) -> None:
        print(f"{PROG}: {flag} is now --golden ({flag} {value} still works, for now)", file=sys.stderr)
        setattr(ns, self.dest, value)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``neuron-oracle: error: …``) and exit 2, as any other."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message}; see `{self.prog} --help`\n")


def parser(commands: Mapping[str, Command]) -> Parser:
    """The argument parser of every subcommand; each runs ``commands[name]`` (``args.func``)."""
    p = _Parser(prog=PROG, description="Golden cases for one neuron, from an exact oracle.")
    p.add_argument("--root", help=argparse.SUPPRESS)  # another golden folder, for tests
    p.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help: str) -> Parser:
        s: Parser = sub.add_parser(name, help=help, description=help)
        s.set_defaults(func=commands[name])
        return s

    _golden_files(add)
    _validate(add("validate", "hold a neuron implementation to the golden cases and properties"))
    s = add("scaffold", "write a starter neuron to fill in test-first")
    s.add_argument("path", metavar="PATH", help="the .py file to write, e.g. my_neuron.py")
    s.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    _tdd(add("tdd", "red-green-refactor: the first red step of the curriculum and what to do next"))
    _train(add("train", "train the Neuron on scikit-learn's diabetes data (needs the train extra)"))
    return p


def _golden_files(add: Callable[[str, str], Parser]) -> None:
    """The commands that read or write golden files: regen, check, list, mistakes, diff, show."""
    s = add("regen", "regenerate the golden files from the oracle, or a set of yours from its case file")
    _golden_set(s, renamed=True)
    _case_file(s)
    s.add_argument("--force", action="store_true", help="change a released version or set")
    s = add("check", "check the golden files against the oracle, or a set of yours against its case file")
    _golden_set(s, renamed=True)
    _case_file(s)
    _golden_set(add("list", "list the golden cases"), renamed=True)
    add("mistakes", "list the classic mistakes a failed stage is diagnosed against")
    s = add("diff", "what a golden version changed from another: cases, fields, values")
    s.add_argument("old", metavar="OLD", help="a golden set: a version, e.g. v1, or a folder")
    s.add_argument("new", metavar="NEW", help="a later golden set, e.g. v2")
    s = add("show", "show one case's inputs and intermediates")
    s.add_argument("case", help="case name, as `neuron-oracle list` prints it")
    _golden_set(s, renamed=True)
    s.add_argument("--json", action="store_true", help="print the golden file's JSON")
    for name, help in (
        ("review", "walk the cases of a set of yours that regen would change: accept, reject or skip each"),
        ("accept", "apply the pending changes of a set of yours (every case, or those named)"),
        ("reject", "discard the pending changes of a set of yours (every case, or those named)"),
        ("release", "freeze a set of yours: regen then changes it only with --force"),
    ):
        s = add(name, help)
        s.add_argument("folder", metavar="DIR", help="the set's folder, as given to regen --golden")
        if name in ("accept", "reject"):
            s.add_argument("cases", nargs="*", metavar="CASE", help="the cases to decide (default: all)")


def _case_file(s: Parser) -> None:
    s.add_argument(
        "--case-file",
        metavar="FILE",
        help="a Python file of your own @case functions; --golden is then the set's folder",
    )


def _validate(s: Parser) -> None:
    s.add_argument(
        "impl",
        nargs="*",
        default=[DEFAULT_IMPL],
        metavar="IMPL",
        help=f"package.module:Name or path/to/file.py:Name (default {DEFAULT_IMPL}); several, or a quoted "
        "glob of files ('subs/*.py:Neuron'), are graded in parallel into one table",
    )
    _golden_set(s, several=True)
    s.add_argument("--cases", metavar="PATTERN", help="only the cases whose name matches this glob")
    _judging(s)
    s.add_argument(
        "--format",
        default="text",
        metavar="FORMAT",
        help=f"{', '.join(FORMATS)}; csv, gradescope and prairielearn (their autograders' results.json) "
        "grade (default %(default)s)",
    )
    s.add_argument(
        "--jobs",
        type=int,  # a number at all is argparse's to say; its range is the options' (golden.options)
        default=usable_cpus(),
        metavar="N",
        help="IMPLs run at once, each in its own process (default: the CPUs this process may use, "
        "%(default)s)",
    )
    _isolation(s)
    s.add_argument(
        "--output",
        metavar="PATH",
        help="write the report there (atomically) and the text to stdout; with --format gradescope or "
        "prairielearn and several IMPLs, a folder for one results file per IMPL",
    )
    s.add_argument(
        "--weights",
        metavar="FILE.json",
        help="points per case and property name for grading (default 1 each)",
    )
    _feedback(s)
    _budget(s, "per call and per case, at most a day; a property gets ten times this")
    s.add_argument("--no-properties", action="store_true", help="run the golden cases only")
    _batch(s)


def _batch(s: Parser) -> None:
    s.add_argument(
        "--cache",
        metavar="DIR",
        help="keep each IMPL's outcomes there, authenticated: a rerun grades only what changed",
    )
    s.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the workers of a running Dask cluster (tls://host:8786; the dask extra)",
    )
    s.add_argument(
        "--cluster",
        metavar="KIND",
        help=f"{', '.join(CLUSTERS)}: grade on a Dask LocalCluster of --jobs workers here (the dask extra)",
    )
    s.add_argument(
        "--similarity",
        type=float,
        nargs="?",
        const=SIMILARITY,
        metavar="THRESHOLD",
        help=f"report pairs of IMPLs whose code is this similar, 0 to 1 (default {SIMILARITY})",
    )


def _feedback(s: Parser) -> None:
    s.add_argument(
        "--feedback",
        metavar="LEVEL",
        help=f"{', '.join(FEEDBACK)}: how much every report says of each case and property; stage: the "
        "case, the stage and the mistake, never a value; score: passed or failed (default full)",
    )
    s.add_argument(
        "--visibility",
        action="append",
        metavar="SET=VISIBILITY",
        help=f"{'|'.join(VISIBILITIES)}: Gradescope's visibility of a golden set's tests (repeatable; "
        "default visible)",
    )


def _tdd(s: Parser) -> None:
    s.add_argument("impl", metavar="IMPL", help="path/to/file.py:Name or package.module:Name")
    s.add_argument("--watch", action="store_true", help="run again each time the file is saved, until Ctrl-C")
    _golden_set(s, several=True)
    _judging(s)
    _isolation(s)
    _budget(s, "per case")


def _train(s: Parser) -> None:
    s.add_argument("--epochs", type=int, default=3000, help="at most this many (default %(default)s)")
    s.add_argument("--learning-rate", type=float, default=1e-3, help="default %(default)g")
    s.add_argument("--activation", default="leaky_relu", help="default %(default)s")
    s.add_argument("--seed", type=int, default=0, help="for the initial w and b (default %(default)s)")
    s.add_argument(
        "--tol", type=float, default=1e-10, help="stop when an epoch gains less (default %(default)g)"
    )
    s.add_argument("--plot", metavar="FILE.png", help="save the loss curve")


def _golden_set(s: Parser, renamed: bool = False, several: bool = False) -> None:
    if several:  # validate and tdd: --golden v3 --golden grader/hidden
        s.add_argument(
            "--golden",
            action="append",
            metavar="SET",
            help=f"a golden set: a bundled version name or a folder of your own set (default {CURRENT}); "
            "repeat it to judge against several, each a group of its own in the report",
        )
        return
    s.add_argument(
        "--golden",
        default=CURRENT,
        metavar="SET",
        help="the golden set: a bundled version name or a folder of your own set (default %(default)s)",
    )
    if renamed:  # these commands said --version for the golden set before the redesign
        s.add_argument("--version", dest="golden", action=_Renamed, help=argparse.SUPPRESS)


def _judging(s: Parser) -> None:
    s.add_argument(
        "--convention",
        action="append",
        metavar="KEY=VALUE",
        help="derivative_at_zero=one|alpha|midpoint, loss=half_sum|sum|mean|half_mean (repeatable; "
        "overrides the class's `conventions`)",
    )
    s.add_argument(
        "--precision",
        metavar="PRECISION",
        help=f"judge IMPL in {', '.join(PRECISIONS)} (default: the class's `precision`, else forward's "
        "dtype)",
    )
    s.add_argument(
        "--activations",
        metavar="NAMES",
        help="the activations the assignment requires, e.g. leaky_relu,sigmoid: a case of one the class "
        "does not declare fails (default: only leaky_relu, the protocol's; another's cases are skipped)",
    )


def _isolation(s: Parser) -> None:
    s.add_argument(
        "--sandbox",
        default="auto",
        metavar="LEVEL",
        help=f"{', '.join(SANDBOX_LEVELS)}: run IMPL in a sandbox: no network, no view of other processes or "
        "files, as root an unprivileged uid; auto: on when grading as root (default %(default)s)",
    )
    s.add_argument(
        "--max-memory",
        metavar="SIZE",
        help=f"the data IMPL's process may use, e.g. 4G (default {DEFAULT_MEMORY >> 30}G)",
    )


def _budget(s: Parser, per: str) -> None:
    s.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"{per} (default %(default)g)",
    )
    s.add_argument(
        "--examples",
        type=int,
        metavar="N",
        help="Hypothesis examples per property, 1 to 100,000 (default 100, Hypothesis's own; "
        "HYPOTHESIS_PROFILE=dev: 20)",
    )
    s.add_argument(
        "--seed",
        type=int,  # a number at all is argparse's to say; its range is the options' (golden.options)
        metavar="N",
        help="the properties' examples: one seed, the same examples for every IMPL and on every rerun "
        "(default: fresh each run; a batch draws one and prints it)",
    )

"""The ``neuron-oracle`` command (also ``python -m golden``): a thin shell over the three jobs.

Exit status, chosen by the error's type (``golden.errors``): 0 success; 1 a difference found (a failed
verdict, drift, a refused regen, a case whose claim fails); 2 bad input (usage, an option out of range,
an unknown case or version, a malformed golden file, a bad IMPL); 130 interrupted. Errors are one line
on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from golden.errors import GoldenChanged, OptionError, OracleError
from golden.files.store import ROOT, display, load_case, load_set
from golden.files.versions import CURRENT
from golden.options import (
    DEFAULT_IMPL,
    DEFAULT_MEMORY,
    DEFAULT_TIMEOUT,
    FORMATS,
    SANDBOX_LEVELS,
    Options,
)
from oracle import ClaimError
from oracle.bounds import PRECISIONS

PROG = "neuron-oracle"


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


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root) if args.root else ROOT


def cmd_regen(args: argparse.Namespace) -> int:
    """Write the golden files that differ from the oracle."""
    from golden.files import generate as regen_

    for change in regen_.regenerate(args.golden, _root(args), force=args.force):
        print(change.line())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Compare the golden files on disk with the oracle, regenerated in memory."""
    from golden.files import generate as regen_

    problems = regen_.check(args.golden, _root(args))
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in golden {args.golden}; `neuron-oracle regen` rewrites it")
        return 1
    print(f"golden {args.golden}: every file agrees with the oracle")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """What a new golden version changed: cases and fields added or removed, values changed."""
    from golden.files.diff import diff

    for line in diff(args.old, args.new, _root(args)):
        print(line)
    return 0


def cmd_mistakes(args: argparse.Namespace) -> int:
    """The catalogue of classic mistakes a failed stage is diagnosed against."""
    from golden.harness.diagnosis import catalogue

    for line in catalogue():
        print(line)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """One line per case: its name and what it shows."""
    cases = load_set(args.golden, _root(args)).cases  # the manifest read once, every file verified
    width = max(len(n) for n in cases)
    for name, case in cases.items():
        print(f"{name:<{width}}  {case.description}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """A case's inputs and every intermediate, as the seed prints its oracle's dict."""
    doc = load_case(args.case, args.golden, _root(args)).document
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    print(f"{doc['name']}  (golden {args.golden}, schema {doc['schema_version']})")
    print(f"  {doc['description']}")
    print(f"  claim: {doc['claim']}")
    print(f"  arithmetic: {doc['arithmetic']}")
    for section in ("inputs", "expected"):
        print(f"\n{section}")
        for key, value in doc[section].items():
            if key == "trajectory":
                for i, step in enumerate(value, 1):
                    print(f"  step {i:<9} " + ", ".join(f"{k} {_fmt(v)}" for k, v in step.items()))
            else:
                print(f"  {key:<14} {_fmt(value)}")
    if "tolerance" in doc:  # golden v1
        tol = doc["tolerance"]
        print(f"\ntolerance        rtol {tol['rtol']:g}, atol {tol['atol']:g}\n  {tol['reason']}")
        return 0
    bounds = dict(doc["bounds"])
    print(
        f"\nbounds           |computed − expected| <= bound, in each precision\n  {bounds.pop('derivation')}"
    )
    for precision, per in bounds.items():
        if "unavailable" in per:
            print(f"  {precision:<9} none: {per['unavailable']}")
            continue
        shown = ", ".join(f"{k} {_short_floats(v)}" for k, v in per.items() if k != "trajectory")
        print(f"  {precision:<9} {shown}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Hold IMPL to the golden cases and the property suite; exit 0 only when nothing failed.

    Several IMPLs, a glob, or a grading format (csv, gradescope) grade instead: ``golden.grading``.
    """
    from golden import report
    from golden.grading.batch import command
    from golden.grading.expand import expand
    from golden.grading.render import write
    from golden.harness.session import run

    options = Options.from_args(args)
    impls, batch = expand(args.impl)
    if batch or options.grading:
        return command(impls, options)
    if options.weights:
        raise OptionError(
            "--weights scores a grade: give it with --format csv or gradescope, or several IMPLs"
        )
    (spec,) = impls
    verdict = run(spec, options)
    render = {"text": report.text, "json": report.as_json, "junit": report.junit}[options.format]
    if options.output:
        write(Path(options.output), render(verdict))
        print(report.text(verdict))
    else:
        print(render(verdict))
    if verdict.changes:
        raise GoldenChanged.of(verdict.changes)
    return 0 if verdict.ok else 1


def cmd_scaffold(args: argparse.Namespace) -> int:
    """Write a starter neuron and say what to run next."""
    from golden.learn.scaffold import scaffold

    command = scaffold(Path(args.path), force=args.force)
    print(f"wrote {args.path}: a starter neuron, every method raising NotImplementedError")
    print(f"next: {command}")
    return 0


def cmd_tdd(args: argparse.Namespace) -> int:
    """Walk the red-green-refactor curriculum; exit 0 only when all is green."""
    from golden.learn.tdd import run_tdd
    from golden.learn.watch import watch

    options = Options.from_args(args)
    options.isolation(grading=False)  # a sandbox that cannot be had is refused once, before any watching

    def once() -> bool:
        try:
            report = run_tdd(args.impl, options, f"neuron-oracle tdd {args.impl}")
        except OracleError as e:
            if not args.watch:
                raise
            print(f"{PROG}: error: {e}\n(watching for the next save; Ctrl-C to stop)")
            return False
        print(report.screen)
        if args.watch:
            print("\n(watching for the next save; Ctrl-C to stop)")
        return report.green

    if not args.watch:
        return 0 if once() else 1
    try:
        watch(args.impl, once)
    except KeyboardInterrupt:
        print()
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train the Neuron on the diabetes data and compare its loss with least squares."""
    from golden.files.atomic import write_atomically
    from neuron.train import Missing, plot_png, train

    plot = Path(args.plot) if args.plot else None
    if plot is not None and plot.suffix != ".png":
        raise OptionError(f"--plot {args.plot}: expected a .png file")
    if args.epochs < 1:
        raise OptionError(f"--epochs is {args.epochs}; expected at least 1")
    try:
        result = train(args.epochs, args.learning_rate, args.activation, args.seed, args.tol)
        png = plot_png(result) if plot is not None else b""
    except Missing as e:
        raise OptionError(f"{e}, which is not installed: pip install 'neuron-oracle[train]'") from None
    history = result.history
    if len(history) > 1 and history[-1] > history[-2]:  # fit stops at the first epoch that does not gain
        raise OptionError(
            f"training diverged: J rose from {history[-2]:.6g} to {history[-1]:.6g} at epoch {len(history)};"
            f" --learning-rate {args.learning_rate:g} is too large for this data, try a smaller one"
        )
    print(f"{result.neuron} on the diabetes data (442 × 10, features standardized)")
    print(f"  epochs run        {len(result.history)} (learning rate {args.learning_rate:g})")
    print(f"  final loss J      {result.history[-1]:.9g}")
    print(f"  least squares J   {result.optimum:.9g}  (numpy.linalg.lstsq on [X, 1])")
    print(f"  above the optimum {result.ratio - 1:.4%}")
    if plot is not None:
        write_atomically(plot.parent, {plot.name: png})
        print(f"  loss curve        {args.plot}")
    return 0


def _short_floats(value: Any) -> str:
    """Bounds at two significant digits: ``[4.2e-07, 1e-06]``."""
    if isinstance(value, list):
        return "[" + ", ".join(f"{x:.2g}" for x in value) + "]"
    return f"{value:.2g}"


def _fmt(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


class _Renamed(argparse.Action):
    """An option under its old name: it still works, and says once, on stderr, what it is called now."""

    def __call__(
        self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any, flag: str | None = None
    ) -> None:
        print(f"{PROG}: {flag} is now --golden ({flag} {value} still works, for now)", file=sys.stderr)
        setattr(ns, self.dest, value)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``neuron-oracle: error: …``) and exit 2, as any other."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message}; see `{self.prog} --help`\n")


def parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = _Parser(prog=PROG, description="Golden cases for one neuron, from an exact oracle.")
    p.add_argument("--root", help=argparse.SUPPRESS)  # another golden folder, for tests
    p.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help, description=help)
        s.set_defaults(func=func)
        return s

    def precision_option(s: argparse.ArgumentParser) -> None:
        s.add_argument(
            "--convention",
            action="append",
            metavar="KEY=VALUE",
            help="derivative_at_zero=one|alpha|midpoint, loss=half_sum|sum|mean|half_mean (repeatable; "
            "overrides the class's `conventions`)",
        )
        s.add_argument(
            "--precision",
            choices=list(PRECISIONS),
            help="judge IMPL in this precision (default: the class's `precision`, else forward's dtype)",
        )

    def isolation_options(s: argparse.ArgumentParser) -> None:
        s.add_argument(
            "--sandbox",
            choices=SANDBOX_LEVELS,
            default="auto",
            help="run IMPL in a sandbox: no network, no view of other processes or files, as root an "
            "unprivileged uid; auto: on when grading as root (default %(default)s)",
        )
        s.add_argument(
            "--max-memory",
            metavar="SIZE",
            help=f"the data IMPL's process may use, e.g. 4G (default {DEFAULT_MEMORY >> 30}G)",
        )

    def golden_set(s: argparse.ArgumentParser, renamed: bool = False) -> None:
        s.add_argument(
            "--golden",
            default=CURRENT,
            metavar="SET",
            help="the golden set: a bundled version name (default %(default)s)",
        )
        if renamed:  # these commands said --version for the golden set before the redesign
            s.add_argument("--version", dest="golden", action=_Renamed, help=argparse.SUPPRESS)

    s = add("regen", cmd_regen, "regenerate the golden files from the oracle")
    golden_set(s, renamed=True)
    s.add_argument("--force", action="store_true", help="rewrite a released version's values")
    golden_set(add("check", cmd_check, "check the golden files against the oracle"), renamed=True)
    golden_set(add("list", cmd_list, "list the golden cases"), renamed=True)
    add("mistakes", cmd_mistakes, "list the classic mistakes a failed stage is diagnosed against")
    s = add("diff", cmd_diff, "what a golden version changed from another: cases, fields, values")
    s.add_argument("old", metavar="OLD", help="a golden version, e.g. v1")
    s.add_argument("new", metavar="NEW", help="a later golden version, e.g. v2")
    s = add("show", cmd_show, "show one case's inputs and intermediates")
    s.add_argument("case", help="case name, as `neuron-oracle list` prints it")
    golden_set(s, renamed=True)
    s.add_argument("--json", action="store_true", help="print the golden file's JSON")
    s = add("validate", cmd_validate, "hold a neuron implementation to the golden cases and properties")
    s.add_argument(
        "impl",
        nargs="*",
        default=[DEFAULT_IMPL],
        metavar="IMPL",
        help=f"package.module:Name or path/to/file.py:Name (default {DEFAULT_IMPL}); several, or a quoted "
        "glob of files ('subs/*.py:Neuron'), are graded in parallel into one table",
    )
    golden_set(s)
    s.add_argument("--cases", metavar="PATTERN", help="only the cases whose name matches this glob")
    precision_option(s)
    s.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="report format; csv and gradescope (its autograder results.json) grade (default %(default)s)",
    )
    s.add_argument(
        "--jobs",
        type=int,
        default=usable_cpus(),
        metavar="N",
        help="IMPLs run at once, each in its own process (default: the CPUs this process may use, "
        "%(default)s)",
    )
    isolation_options(s)
    s.add_argument(
        "--output",
        metavar="PATH",
        help="write the report there (atomically) and the text to stdout; with --format gradescope and "
        "several IMPLs, a folder for one results file per IMPL",
    )
    s.add_argument(
        "--weights",
        metavar="FILE.json",
        help="points per case and property name for grading (default 1 each)",
    )
    s.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="per call and per case, at most a day; a property gets ten times this (default %(default)g)",
    )
    s.add_argument("--no-properties", action="store_true", help="run the golden cases only")
    s.add_argument("--examples", type=int, metavar="N", help="Hypothesis examples per property")
    s = add("scaffold", cmd_scaffold, "write a starter neuron to fill in test-first")
    s.add_argument("path", metavar="PATH", help="the .py file to write, e.g. my_neuron.py")
    s.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    s = add("tdd", cmd_tdd, "red-green-refactor: the first red step of the curriculum and what to do next")
    s.add_argument("impl", metavar="IMPL", help="path/to/file.py:Name or package.module:Name")
    s.add_argument("--watch", action="store_true", help="run again each time the file is saved, until Ctrl-C")
    golden_set(s)
    precision_option(s)
    isolation_options(s)
    s.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="per case (default %(default)g)",
    )
    s.add_argument("--examples", type=int, metavar="N", help="Hypothesis examples per property")
    s = add("train", cmd_train, "train the Neuron on scikit-learn's diabetes data (needs the train extra)")
    s.add_argument("--epochs", type=int, default=3000, help="at most this many (default %(default)s)")
    s.add_argument("--learning-rate", type=float, default=1e-3, help="default %(default)g")
    s.add_argument("--activation", default="leaky_relu", help="default %(default)s")
    s.add_argument("--seed", type=int, default=0, help="for the initial w and b (default %(default)s)")
    s.add_argument(
        "--tol", type=float, default=1e-10, help="stop when an epoch gains less (default %(default)g)"
    )
    s.add_argument("--plot", metavar="FILE.png", help="save the loss curve")
    return p


EXIT = {ClaimError: 1}  # the oracle's own error, which cannot know golden.errors


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status, chosen by the type of the error if there is one."""
    for stream in (sys.stdout, sys.stderr):  # a name that is not UTF-8 is printed escaped, never fatal
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = parser().parse_args(argv)
    try:
        if args.command in ("validate", "tdd"):
            from golden.harness.guard import guard_this_process

            guard_this_process()
        return int(args.func(args))
    except (OracleError, ClaimError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return (
            e.exit_code
            if isinstance(e, OracleError)
            else next(c for t, c in EXIT.items() if isinstance(e, t))
        )
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted: no verdict; the implementation's processes were stopped, and golden files "
            "are written atomically, so none is half-written",
            file=sys.stderr,
        )
        return 130
    except ValueError as e:  # the Neuron's own argument checks (learning rate, activation ...)
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        where = f"{display(Path(e.filename))}: " if e.filename else ""
        print(f"{PROG}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

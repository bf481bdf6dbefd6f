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
from typing import Any

from golden import _arguments as arguments
from golden._arguments import PROG
from golden.errors import GoldenChanged, OptionError, OracleError
from golden.files.store import ROOT, display, open_set
from golden.options import Options
from golden.outcome import TRAJECTORY
from oracle import ClaimError


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root) if args.root else ROOT


def cmd_regen(args: argparse.Namespace) -> int:
    """Write the golden files that differ from the oracle."""
    from golden.files import _generate as regen_

    if args.case_file:
        from golden.files._commands import regen

        return regen(args)
    for change in regen_.regenerate(args.golden, _root(args), force=args.force):
        print(change.line())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Compare the golden files on disk with the oracle, regenerated in memory."""
    from golden.files import _generate as regen_

    if args.case_file:
        from golden.files._commands import check

        return check(args)
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
    from golden.files._diff import diff

    for line in diff(args.old, args.new, _root(args)):
        print(line)
    return 0


def cmd_mistakes(args: argparse.Namespace) -> int:
    """The catalogue of classic mistakes a failed stage is diagnosed against."""
    from golden.harness._diagnosis import catalogue

    for line in catalogue():
        print(line)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """One line per case: its name and what it shows."""
    cases = open_set(args.golden, _root(args)).cases  # the manifest read once, every file verified
    width = max(len(n) for n in cases)
    for name, case in cases.items():
        print(f"{name:<{width}}  {case.description}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """A case's inputs and every intermediate, as the seed prints its oracle's dict."""
    doc = open_set(args.golden, _root(args), [args.case]).cases[args.case].document
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
            if key == TRAJECTORY.name:
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
        shown = ", ".join(f"{k} {_short_floats(v)}" for k, v in per.items() if k != TRAJECTORY.name)
        print(f"  {precision:<9} {shown}")
    return 0


BATCH_ONLY = {  # the options of a batch, refused for one IMPL named plainly (the detailed report)
    "weights": "scores a grade",
    "cache": "keeps a batch's grades",
    "cluster": "grades a batch on Dask",
    "scheduler": "grades a batch on Dask",
    "similarity": "compares a batch's submissions",
}


def cmd_validate(args: argparse.Namespace) -> int:
    """Hold IMPL to the golden cases and the property suite; exit 0 only when nothing failed.

    Several IMPLs, a glob, or a grading format (csv, gradescope) grade instead: ``golden.grading``.
    """
    from golden import report
    from golden.feedback import redact
    from golden.grading._batch import command
    from golden.grading._expand import expand
    from golden.grading._render import write
    from golden.harness.session import run

    options = Options.from_args(args)
    impls, batch = expand(args.impl)
    if batch or options.grading:
        return command(impls, options)
    for name, does in BATCH_ONLY.items():  # none of these is ignored where it cannot apply
        if getattr(options, name) is not None:
            raise OptionError(
                f"--{name} {does}: give it with several IMPLs, or --format csv, gradescope or prairielearn"
            )
    (spec,) = impls
    verdict = run(spec, options)
    shown = redact(verdict, options.feedback)  # what --feedback lets every format say
    render = {"text": report.text, "json": report.as_json, "junit": report.junit}[options.format]
    if options.output:
        write(Path(options.output), render(shown))
        print(report.text(shown))
    else:
        print(render(shown))
    if verdict.changes:
        raise GoldenChanged.of(verdict.changes)
    return 0 if verdict.ok else 1


def cmd_scaffold(args: argparse.Namespace) -> int:
    """Write a starter neuron and say what to run next."""
    from golden.learn._scaffold import scaffold

    command = scaffold(Path(args.path), force=args.force)
    print(f"wrote {args.path}: a starter neuron, every method raising NotImplementedError")
    print(f"next: {command}")
    return 0


def cmd_tdd(args: argparse.Namespace) -> int:
    """Walk the red-green-refactor curriculum; exit 0 only when all is green."""
    from golden.learn._tdd import run_tdd
    from golden.learn._watch import watch

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
    from golden.files._atomic import write_atomically
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


def cmd_set(args: argparse.Namespace) -> int:
    """review, accept, reject and release: the review loop of a set of yours (``golden.files._commands``)."""
    from golden.files import _commands

    command = {"review": _commands.review, "release": _commands.release}.get(args.command, _commands.decide)
    return command(args)


COMMANDS = {
    "regen": cmd_regen,
    "check": cmd_check,
    "list": cmd_list,
    "mistakes": cmd_mistakes,
    "diff": cmd_diff,
    "show": cmd_show,
    "validate": cmd_validate,
    "scaffold": cmd_scaffold,
    "tdd": cmd_tdd,
    "train": cmd_train,
    "review": cmd_set,
    "accept": cmd_set,
    "reject": cmd_set,
    "release": cmd_set,
}


def parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (``golden._arguments``)."""
    return arguments.parser(COMMANDS)


EXIT = {ClaimError: 1}  # the oracle's own error, which cannot know golden.errors


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status, chosen by the type of the error if there is one."""
    for stream in (sys.stdout, sys.stderr):  # a name that is not UTF-8 is printed escaped, never fatal
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = parser().parse_args(argv)
    try:
        if args.command in ("validate", "tdd"):
            from golden.harness._guard import guard_this_process

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
    except BrokenPipeError:  # `neuron-oracle list | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail
        return 141  # as a shell reports a process ended by SIGPIPE
    except OSError as e:
        where = f"{display(Path(e.filename))}: " if e.filename else ""
        print(f"{PROG}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The ``neuron-oracle`` command (also ``python -m golden``).

Exit status: 0 success; 1 the check or validation found a difference, or regen refused; 2 bad input
(usage, an unknown case or version, a malformed golden file). Errors are one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from golden import regen as regen_
from golden.impl import DEFAULT, ImplError
from golden.store import ROOT, GoldenError, display, list_cases, load_case
from oracle import ClaimError

PROG = "neuron-oracle"


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root) if args.root else ROOT


def cmd_regen(args: argparse.Namespace) -> int:
    """Write the golden files that differ from the oracle."""
    for line in regen_.regen(args.version, _root(args), force=args.force):
        print(line)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Compare the golden files on disk with the oracle, regenerated in memory."""
    problems = regen_.check(args.version, _root(args))
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in golden {args.version}; `neuron-oracle regen` rewrites it")
        return 1
    print(f"golden {args.version}: every file agrees with the oracle")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """One line per case: its name and what it shows."""
    names = list_cases(args.version, _root(args))
    width = max(len(n) for n in names)
    for name in names:
        doc = load_case(name, args.version, _root(args))
        print(f"{name:<{width}}  {doc['description']}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """A case's inputs and every intermediate, as the seed prints its oracle's dict."""
    doc = load_case(args.case, args.version, _root(args))
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    print(f"{doc['name']}  (golden {args.version}, schema {doc['schema_version']})")
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
    tol = doc["tolerance"]
    print(f"\ntolerance        rtol {tol['rtol']:g}, atol {tol['atol']:g}\n  {tol['reason']}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Hold IMPL to the golden cases and the property suite; exit 0 only when nothing failed."""
    from golden import report
    from golden.validate import validate

    _check_budget(args)
    outcomes = validate(
        args.impl,
        args.golden,
        args.cases,
        timeout=args.timeout,
        properties=not args.no_properties,
        examples=args.examples,
        root=_root(args),
    )
    render = {"text": report.text, "json": report.as_json, "junit": report.junit}[args.format]
    print(render(args.impl, args.golden, outcomes))
    return 0 if report.ok(outcomes) else 1


def cmd_scaffold(args: argparse.Namespace) -> int:
    """Write a starter neuron and say what to run next."""
    from golden.scaffold import scaffold

    command = scaffold(Path(args.path), force=args.force)
    print(f"wrote {args.path}: a starter neuron, every method raising NotImplementedError")
    print(f"next: {command}")
    return 0


def cmd_tdd(args: argparse.Namespace) -> int:
    """Walk the red-green-refactor curriculum; exit 0 only when all is green."""
    from golden.tdd import run_tdd, watch

    _check_budget(args)

    def once() -> bool:
        try:
            report = run_tdd(args.impl, timeout=args.timeout, examples=args.examples)
        except (ImplError, GoldenError) as e:
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
    except FileNotFoundError as e:
        raise ImplError(f"IMPL {args.impl!r}: cannot find the file to watch: {e}") from None
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train the Neuron on the diabetes data and compare its loss with least squares."""
    from golden.train import plot, train

    if args.plot and not args.plot.endswith(".png"):
        raise GoldenError(f"--plot {args.plot}: expected a .png file")
    if args.epochs < 1:
        raise GoldenError(f"--epochs is {args.epochs}; expected at least 1")
    result = train(args.epochs, args.learning_rate, args.activation, args.seed, args.tol)
    history = result.history
    if len(history) > 1 and history[-1] > history[-2]:  # fit stops at the first epoch that does not gain
        raise GoldenError(
            f"training diverged: J rose from {history[-2]:.6g} to {history[-1]:.6g} at epoch {len(history)};"
            f" --learning-rate {args.learning_rate:g} is too large for this data, try a smaller one"
        )
    print(f"{result.neuron} on the diabetes data (442 × 10, features standardized)")
    print(f"  epochs run        {len(result.history)} (learning rate {args.learning_rate:g})")
    print(f"  final loss J      {result.history[-1]:.9g}")
    print(f"  least squares J   {result.optimum:.9g}  (numpy.linalg.lstsq on [X, 1])")
    print(f"  above the optimum {result.ratio - 1:.4%}")
    if args.plot:
        plot(result, Path(args.plot))
        print(f"  loss curve        {args.plot}")
    return 0


def _check_budget(args: argparse.Namespace) -> None:
    if args.timeout <= 0:
        raise GoldenError(f"--timeout is {args.timeout:g}; expected a number of seconds > 0")
    if args.examples is not None and args.examples < 1:
        raise GoldenError(f"--examples is {args.examples}; expected at least 1")


def _fmt(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog=PROG, description="Golden cases for one neuron, from an exact oracle.")
    p.add_argument("--root", help=argparse.SUPPRESS)  # another golden folder, for tests
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help, description=help)
        s.set_defaults(func=func)
        return s

    def version(s: argparse.ArgumentParser, flag: str = "--version") -> None:
        s.add_argument(
            flag, default=regen_.CURRENT, metavar="VERSION", help="golden version (default %(default)s)"
        )

    s = add("regen", cmd_regen, "regenerate the golden files from the oracle")
    version(s)
    s.add_argument("--force", action="store_true", help="rewrite a released version's values")
    version(add("check", cmd_check, "check the golden files against the oracle"))
    version(add("list", cmd_list, "list the golden cases"))
    s = add("show", cmd_show, "show one case's inputs and intermediates")
    s.add_argument("case", help="case name, as `neuron-oracle list` prints it")
    version(s)
    s.add_argument("--json", action="store_true", help="print the golden file's JSON")
    s = add("validate", cmd_validate, "hold a neuron implementation to the golden cases and properties")
    s.add_argument(
        "impl",
        nargs="?",
        default=DEFAULT,
        metavar="IMPL",
        help="package.module:Name or path/to/file.py:Name (default %(default)s)",
    )
    version(s, "--golden")
    s.add_argument("--cases", metavar="PATTERN", help="only the cases whose name matches this glob")
    s.add_argument("--format", choices=("text", "json", "junit"), default="text", help="report format")
    s.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="per case (a property gets ten times this; default %(default)g)",
    )
    s.add_argument("--no-properties", action="store_true", help="run the golden cases only")
    s.add_argument("--examples", type=int, metavar="N", help="Hypothesis examples per property")
    s = add("scaffold", cmd_scaffold, "write a starter neuron to fill in test-first")
    s.add_argument("path", metavar="PATH", help="the .py file to write, e.g. my_neuron.py")
    s.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    s = add("tdd", cmd_tdd, "red-green-refactor: the first red step of the curriculum and what to do next")
    s.add_argument("impl", metavar="IMPL", help="path/to/file.py:Name or package.module:Name")
    s.add_argument("--watch", action="store_true", help="run again each time the file is saved, until Ctrl-C")
    s.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="per case (default %(default)g)"
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (GoldenError, ClaimError, ImplError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1 if isinstance(e, ClaimError) or args.command in ("regen", "check") else 2
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; golden files are written atomically, none is half-written", file=sys.stderr
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

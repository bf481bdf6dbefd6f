"""`neuron-oracle tdd IMPL`: walk the seed's curriculum and stop at the first red step, saying what is next.

Each step names a stage of ``golden.outcome.STAGES`` and the golden cases that teach it, simplest first.
Step 1 first makes ``Impl(3)`` alone and reads what its own ``__init__`` stored
(``golden.learn._constructor``). A step is green when its stage agrees on every one of its cases that
ran, and at least one ran; a step whose optional method the class does not define, or whose every case
was skipped, is not checked (``SKIP``), never green. The first red step is shown with the case's
inputs, the expected values next to the ones got, why (when they do not say it: a shape, a NaN, a
raise), the formula and a hint (the diagnosis, when the values match a classic mistake). When every
step is green the property suite runs, as the safety net for refactoring. A class that declares no
Leaky ReLU has nothing to walk: red.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from golden._text import short
from golden.errors import GoldenChanged, OptionError
from golden.files._case import GoldenCase
from golden.harness.properties import PROPERTIES
from golden.harness.session import Session, run
from golden.learn._constructor import EXPECTED, N_FEATURES, own_parameters
from golden.learn._curriculum import CURRICULUM, WALKED, Step
from golden.options import Options
from golden.outcome import PARAMETERS, STAGE, Kind, Outcome, Status

Mark = tuple[str, str]  # a step's mark on the progress list (GREEN, SKIP, RED) and the text after its title


class End(enum.Enum):
    """Where a walk ended."""

    NOTHING_TO_WALK = "the class declares no activation the walk runs"
    RED = "a step is red"
    ALL_SKIPPED = "every golden case was skipped"
    CASES_RED = "every step is green, but golden cases are red"
    PROPERTIES = "every step and case is green: the properties ran"


@dataclass(frozen=True)
class Walked:
    """What a walk found, as data: ``screen`` words it, ``green`` is its verdict.

    `command` is how the screen says to run it again; `marks` the steps walked (GREEN, SKIP, RED), before
    the one `red` names (its number, its first red outcome, and the golden case it ran: None for step 1's
    own-constructor check); `outcomes` what else ran: the red golden cases (CASES_RED), the properties
    (PROPERTIES), or the skip of the first case (ALL_SKIPPED).
    """

    command: str
    end: End
    impl: str = ""
    activations: tuple[str, ...] = ()
    optional: frozenset[str] = frozenset()
    marks: tuple[Mark, ...] = ()
    red: tuple[int, Outcome, GoldenCase | None] | None = None
    outcomes: tuple[Outcome, ...] = ()

    @property
    def green(self) -> bool:
        """Whether every step, case and property is green (the CLI's exit status 0)."""
        return self.end is End.PROPERTIES and all(
            o.status in (Status.PASSED, Status.SKIPPED) for o in self.outcomes
        )

    @property
    def screen(self) -> str:
        """The screen ``neuron-oracle tdd`` prints."""
        return "\n".join(screen(self))


def run_tdd(impl: str | type, options: Options, command: str) -> Walked:
    """Walk the curriculum on `impl`; stop at the first red step, else run every case and property.

    The walk is the run's plan (``golden.harness.session.run``): the golden set is loaded and verified
    before IMPL starts, and verified again at the end, so a change on disk is a GoldenChanged error,
    whatever the walk found. Values are judged as validate judges them. `command` is how the screen says
    to run it again.
    """
    walked: list[Walked] = []

    def plan(session: Session) -> list[Outcome]:
        ran: list[Outcome] = []
        walked.append(walk(command, session, session.golden.cases, ran))
        return ran

    verdict = run(impl, options, plan)
    if verdict.changes:
        raise GoldenChanged.of(verdict.changes)
    return walked[0]


def walk(
    command: str, session: Session, cases: dict[str, GoldenCase], ran: list[Outcome] | None = None
) -> Walked:
    """The curriculum on the implementation `session` runs, up to its first red step, or all of it.

    `command` is how the screen says to run it again (``neuron-oracle tdd my_neuron.py:Neuron``, or
    ``tdd(Neuron)`` from Python); the golden `cases` are loaded and verified already. Every outcome the
    walk ran is appended to `ran`, in order.
    """
    ran = ran if ran is not None else []
    remote = session.remote()
    impl, optional = remote.name, remote.optional  # read now: a child lost later forgets them
    found = Walked(command, End.NOTHING_TO_WALK, impl, remote.activations, optional)
    if WALKED not in remote.activations:
        return found
    outcomes: dict[str, Outcome] = {}

    def outcome(
        case: str,
    ) -> Outcome:  # a case of the curriculum (named in the first set holding it), or a key
        key = case if case in cases else session.golden.find(case)
        if key is None or key not in cases:
            raise OptionError(
                f"tdd walks its curriculum on the bundled cases, and {case} is in none of the golden sets "
                f"({session.golden.version}): give a bundled version too, as in --golden v3 --golden FOLDER"
            )
        if key not in outcomes:
            outcomes[key] = session.case(cases[key], key)
            ran.append(outcomes[key])
        return outcomes[key]

    done: list[Mark] = []
    for number, step in enumerate(CURRICULUM, 1):
        missing = _missing(step, optional)
        if missing:
            done.append(("SKIP", missing))
            continue
        if number == 1 and (own := _own_parameters(session, impl, ran)) is not None:
            return replace(found, end=End.RED, marks=tuple(done), red=(number, own, None))
        mark, red = _verdict(step, map(outcome, step.cases), checked=number == 1)
        if red is not None:
            return replace(found, end=End.RED, marks=tuple(done), red=(number, red, cases[red.name]))
        done.append(mark)
    found = replace(found, marks=tuple(done))
    rest = [outcome(case) for case in cases]
    if all(o.status is Status.SKIPPED for o in rest):
        return replace(found, end=End.ALL_SKIPPED, outcomes=tuple(rest[:1]))
    failing = [o for o in rest if o.status not in (Status.PASSED, Status.SKIPPED)]
    if failing:
        return replace(found, end=End.CASES_RED, outcomes=tuple(failing))
    props = [session.property(name) for name in PROPERTIES]
    ran += props
    return replace(found, end=End.PROPERTIES, outcomes=tuple(props))


def screen(found: Walked) -> list[str]:
    """The lines of the screen of `found`: the progress list, then the red step, or what comes next."""
    command, done, optional = found.command, list(found.marks), found.optional
    lines = [command, ""]
    if found.end is End.NOTHING_TO_WALK:
        return [*lines, *_nothing_to_walk(found.impl, found.activations), "", _next(None, command, [])]
    if found.end is End.RED:
        assert found.red is not None
        number, red, case = found.red
        return lines + _stop(number, red, case, done, optional, command)
    if found.end is End.ALL_SKIPPED:
        why = found.outcomes[0].message if found.outcomes else "no golden case"
        return [
            *lines,
            "Nothing checked: every golden case was skipped.",
            f"  {why}",
            "",
            _next(None, command, []),
        ]
    lines += _progress(done, optional)
    unchecked = sum(mark == "SKIP" for mark, _ in done)
    if found.end is End.CASES_RED:
        every = "Every step checked" if unchecked else "Every step"
        lines += ["", f"{every} is green, but {len(found.outcomes)} more golden case(s) are red:"]
        return lines + [f"  {o.name}: {o.message}" for o in found.outcomes] + ["", _next(None, command, [])]
    steps = f"{len(done) - unchecked} of {len(done)} steps ({unchecked} not checked)" if unchecked else ""
    lines += [
        "",
        f"All green: {steps or f'{len(done)} steps'} and every golden case. "
        "Refactor freely; the property suite is the safety net:",
        "",
    ]
    lines += [
        f"  {'GREEN' if o.status is Status.PASSED else 'RED':<6} {o.name}"
        + ("" if o.status is Status.PASSED else f": {o.message}")
        for o in found.outcomes
    ]
    return [
        *lines,
        "",
        "All green." if found.green else "A property is red: a refactoring broke an invariant.",
    ]


def _stop(
    number: int,
    red: Outcome,
    case: GoldenCase | None,
    done: list[Mark],
    optional: frozenset[str],
    command: str,
) -> list[str]:
    """The rest of the screen when step `number` is red: the progress list, the red screen, what next."""
    step = CURRICULUM[number - 1]
    return [
        *_progress([*done, ("RED", step.formula)], optional),
        "",
        *red_screen(number, step, red, case),
        "",
        _next(number, command, done),
    ]


def _own_parameters(session: Session, impl: str, ran: list[Outcome]) -> Outcome | None:
    """Step 1's first check, on the session's budget: None when ``Impl(3)`` stores w, b and alpha itself."""
    o = session.item(
        f"{impl}({N_FEATURES})", Kind.CASE, session.timeout, lambda subject: own_parameters(subject.remote)
    )
    ran.append(o)
    return None if o.status is Status.PASSED else o


def _verdict(step: Step, outcomes: Iterable[Outcome], checked: bool = False) -> tuple[Mark, Outcome | None]:
    """The step's mark, and its first red outcome (None if there is none); stops at the first red one.

    GREEN needs at least one case that ran (or `checked`: step 1's constructor check passed); when every
    case was skipped, the step is not checked.
    """
    skipped: Outcome | None = None
    for o in outcomes:
        if o.status is Status.SKIPPED:
            skipped = skipped or o
        elif not _green(o, step):
            return ("RED", step.formula), o
        else:
            checked = True
    if checked or skipped is None:
        return ("GREEN", step.formula), None
    return ("SKIP", f"not checked: {short(skipped.message, 70)}"), None


def _green(o: Outcome, step: Step) -> bool:
    return o.status is Status.PASSED or all(s in o.agreed for s in step.stages)


def _missing(step: Step, optional: frozenset[str]) -> str | None:
    """The note ``not checked: no `linear` method`` when the class lacks the optional method of `step`."""
    absent = [STAGE[s].method for s in step.stages if STAGE[s].optional and STAGE[s].method not in optional]
    return f"not checked: no `{absent[0]}` method" if absent else None


def _nothing_to_walk(impl: str, activations: tuple[str, ...]) -> list[str]:
    declared = ", ".join(repr(a) for a in activations) or "nothing"
    return [
        f"RED: nothing checked. {impl} declares no activation the walk can run: "
        f"its supported_activations hold {declared}, not {WALKED!r}.",
        f"  The walk teaches Leaky ReLU: add {WALKED!r} to supported_activations, or leave the attribute "
        "out (Leaky ReLU is the default).",
    ]


def _progress(done: list[Mark], optional: frozenset[str]) -> list[str]:
    """The progress list: the marks of the steps walked, then · for the rest (SKIP for a missing method)."""
    marks = []
    for number, step in enumerate(CURRICULUM, 1):
        if number <= len(done):
            mark, text = done[number - 1]
        else:
            missing = _missing(step, optional)
            mark, text = ("SKIP", missing) if missing else ("·", step.formula)
        marks.append(f"  {mark:<6}{number:>2}. {step.title:<22} {text}")
    return marks


def red_screen(number: int, step: Step, o: Outcome, case: GoldenCase | None) -> list[str]:
    """The screen of red step `number`: what was run, the stage expected and got, why, formula and hint.

    Parameters
    ----------
    number, step
        The red step and its place in ``CURRICULUM``.
    o
        Its first red outcome.
    case
        The golden case `o` ran; None for step 1's own-constructor check (``Impl(3)``, nothing set).

    Returns
    -------
    list of str
        The screen's lines. A ``why`` line follows expected and got when they do not say it all: nothing
        got, a shape that differs, NaN or infinity, the constructor's problems. The hint is the outcome's
        diagnosis when it has one, else the step's.
    """
    stage = o.stage or step.stages[0]
    got = "not implemented yet (NotImplementedError)" if o.not_implemented else _fmt(o.got)
    if case is None:
        out = [
            f"Step {number}, {step.title}: RED on {o.name}, as its own __init__ leaves it",
            f"  tdd makes {o.name} and sets nothing: w, b and alpha must be what __init__ stored.",
            "",
            "  inputs",
            f"    {'n_features':<14} {N_FEATURES}",
        ]
        expected = EXPECTED
        if isinstance(o.got, dict):
            got = ", ".join(f"{attr}: {_fmt(value)}" for attr, value in o.got.items())
        why = not o.not_implemented
    else:
        doc = case.document
        inputs = doc["inputs"]
        shown = ("X", "y_true", "w", "b", "alpha", "learning_rate") + (("steps",) * (inputs["steps"] > 1))
        out = [
            f"Step {number}, {step.title}: RED on case {o.name}",
            f"  {doc['description']}",
            "",
            "  inputs",
            *(f"    {key:<14} {_fmt(inputs[key])}" for key in shown),
        ]
        if stage == PARAMETERS.name:
            expected = (
                f"w, b and alpha stored and read back as set: {inputs['w']}, {inputs['b']}, {inputs['alpha']}"
            )
            why = not o.not_implemented and o.got is None
        else:
            want = o.expected if o.expected is not None else doc["expected"].get(stage)
            expected = _fmt(want)
            why = not o.not_implemented and (o.got is None or _odd(o.got, want))
    out += ["", f"  stage {stage}", f"    expected       {expected}", f"    got            {got}"]
    if why:
        first, *more = o.message.splitlines() or [""]
        out += [f"    why            {first}", *(f"{'':<19}{line}" for line in more)]
    hint = o.diagnosis["message"] if o.diagnosis else step.hint
    return [*out, "", f"  formula   {step.formula}", f"  hint      {hint}"]


def _odd(got: Any, expected: Any) -> bool:
    """Whether `got` differs from `expected` in shape, or holds NaN or infinity (reported as strings)."""
    if np.shape(got) != np.shape(expected):
        return True
    return any(isinstance(x, str) for x in np.ravel(np.asarray(got, dtype=object)))


def _next(number: int | None, command: str, done: list[Mark]) -> str:
    before = ""
    if number and number > 1:
        unchecked = any(mark == "SKIP" for mark, _ in done)
        before = f"Every step before this one is green{' or not checked' if unchecked else ''}. "
    return f"{before}Make it green, then run `{command}` again."


def _fmt(value: Any) -> str:
    return json.dumps(value) if value is not None else "(nothing)"

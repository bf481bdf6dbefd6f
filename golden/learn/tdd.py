"""`neuron-oracle tdd IMPL`: walk the seed's curriculum and stop at the first red step, saying what is next.

Each step names a stage of ``golden.conformance`` and the golden cases that teach it, simplest first. A
step is green when its stage agrees on every one of its cases; the first red one is shown with the
case's inputs, the expected values next to the ones got, the formula and a hint. When every step is
green the property suite runs, as the safety net for refactoring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golden.files.case import GoldenCase
from golden.files.store import ROOT, load_set
from golden.files.versions import CURRENT
from golden.harness.properties import PROPERTIES
from golden.harness.session import DEFAULT_TIMEOUT, Session
from golden.outcome import STAGE, Outcome, Status, stage_index


@dataclass(frozen=True)
class Step:
    """One lesson: the stages it makes green, on which cases, with the formula and a hint."""

    title: str
    stages: tuple[str, ...]
    cases: tuple[str, ...]
    formula: str
    hint: str


CURRICULUM = (
    Step(
        "parameters",
        ("parameters",),
        ("negative_gradients_increase_weights",),
        "w: array (n_features,), b: float, alpha = 0.01",
        "__init__ stores w, b and alpha as attributes the caller can set and read back.",
    ),
    Step(
        "linear part",
        ("z",),
        ("negative_gradients_increase_weights", "seed_worked_example_4x5"),
        "z = X·w + b, shape (m,)",
        "one dot product per row: np.dot(X, self.w) + self.b.",
    ),
    Step(
        "activation",
        ("a",),
        ("negative_gradients_increase_weights", "leaky_branch_negative_z", "non_default_alpha"),
        "a = z where z >= 0, alpha·z where z < 0",
        "Leaky ReLU keeps positive z and scales negative z by self.alpha (not a hard-coded 0.01).",
    ),
    Step(
        "activation derivative",
        ("da_dz",),
        ("leaky_branch_negative_z", "zero_z_takes_derivative_one", "batch_rows_on_both_branches"),
        "da/dz = 1 where z >= 0 (z = 0 included), alpha where z < 0",
        "np.where(z < 0, self.alpha, 1.0): at exactly z = 0 the seed takes 1.",
    ),
    Step(
        "loss",
        ("J",),
        ("negative_gradients_increase_weights", "batch_input_gradients"),
        "J_i = ½ (a_i − y_i)², one value per example",
        "keep the ½ and do not sum: loss returns shape (m,).",
    ),
    Step(
        "weight gradient",
        ("dJ_dw",),
        ("negative_gradients_increase_weights", "leaky_branch_negative_z", "single_feature"),
        "dJ_dw = Σ_i (a_i − y_i)·da_dz_i·X_i",
        "chain rule: error times the activation derivative, then np.dot(delta, X); return (dJ_dw, dJ_db).",
    ),
    Step(
        "bias gradient",
        ("dJ_db",),
        ("negative_gradients_increase_weights", "leaky_branch_negative_z"),
        "dJ_db = Σ_i (a_i − y_i)·da_dz_i   (dz/db = 1)",
        "the same delta as for the weights, summed: delta.sum().",
    ),
    Step(
        "batch",
        ("dJ_dw", "dJ_db"),
        ("batch_input_gradients", "batch_rows_on_both_branches", "seed_worked_example_4x5"),
        "sum over the batch, not the mean",
        "every example adds its share: a sum, never divided by m.",
    ),
    Step(
        "update",
        ("w_new", "b_new"),
        ("negative_gradients_increase_weights", "zero_gradients_no_change", "large_learning_rate"),
        "w ← w − lr·dJ_dw,  b ← b − lr·dJ_db",
        "step against the gradient, in place on self.w and self.b.",
    ),
    Step(
        "training steps",
        ("trajectory",),
        ("training_trajectory",),
        "repeat: gradient, then update_weights",
        "every step must start from the parameters the last update left.",
    ),
)


@dataclass
class Report:
    """What tdd found: the screen to print and whether everything is green."""

    screen: str
    green: bool


def run_tdd(
    spec: str,
    version: str = CURRENT,
    root: Path = ROOT,
    timeout: float = DEFAULT_TIMEOUT,
    examples: int | None = None,
    precision: str | None = None,
) -> Report:
    """Walk the curriculum on IMPL `spec`; stop at the first red step, else run every case and property.

    The golden set is loaded and verified before IMPL starts, and re-verified at the end: a change on
    disk is a GoldenChanged error, whatever the walk found. Values are judged in `precision` (declared,
    or the class's own, or its forward's dtype), as validate judges them.
    """
    golden = load_set(version, root)
    with Session(spec, golden, timeout, examples, precision) as session:
        report = _walk(spec, session, golden.cases)
        session.child.stop()
    changes = golden.verify()
    if changes:
        from golden.errors import GoldenChanged

        raise GoldenChanged(f"{'; '.join(changes)}: golden files changed on disk while IMPL ran")
    return report


def _walk(spec: str, session: Session, cases: dict[str, GoldenCase]) -> Report:
    lines = [f"neuron-oracle tdd {spec}", ""]
    outcomes: dict[str, Outcome] = {}

    def outcome(case: str) -> Outcome:
        if case not in outcomes:
            outcomes[case] = session.case(cases[case])
        return outcomes[case]

    for number, step in enumerate(CURRICULUM, 1):
        red = next((o for o in map(outcome, step.cases) if not _green(o, step)), None)
        if red is not None:
            lines += [
                *_progress(number),
                "",
                *_red_screen(number, step, red, cases[red.name]),
                "",
                _next(number, spec),
            ]
            return Report("\n".join(lines), False)
    rest = [outcome(case) for case in cases]
    if all(o.status is Status.SKIPPED for o in rest):
        why = rest[0].message if rest else "no golden case"
        lines += ["Nothing checked: every golden case was skipped.", f"  {why}", "", _next(None, spec)]
        return Report("\n".join(lines), False)
    lines += _progress(len(CURRICULUM) + 1)
    failing = [o for o in rest if o.status not in (Status.PASSED, Status.SKIPPED)]
    if failing:
        lines += ["", f"Every step is green, but {len(failing)} more golden case(s) are red:"]
        lines += [f"  {o.name}: {o.message}" for o in failing] + ["", _next(None, spec)]
        return Report("\n".join(lines), False)
    lines += [
        "",
        f"All green: {len(CURRICULUM)} steps and every golden case. "
        "Refactor freely; the property suite is the safety net:",
        "",
    ]
    props = [session.property(name) for name in PROPERTIES]
    lines += [
        f"  {'GREEN' if o.status is Status.PASSED else 'RED':<6} {o.name}"
        + ("" if o.status is Status.PASSED else f": {o.message}")
        for o in props
    ]
    green = all(o.status in (Status.PASSED, Status.SKIPPED) for o in props)
    lines += ["", "All green." if green else "A property is red: a refactoring broke an invariant."]
    return Report("\n".join(lines), green)


def _green(o: Outcome, step: Step) -> bool:
    if o.status in (Status.PASSED, Status.SKIPPED):
        return True
    return all(s in o.agreed or _absent(o, s) for s in step.stages)


def _absent(o: Outcome, stage: str) -> bool:
    """An optional stage the implementation has no method for: run_case went past it without it."""
    return (
        STAGE[stage].optional
        and o.stage is not None
        and stage_index(o.stage) > stage_index(stage)
        and stage not in o.agreed
    )


def _progress(red: int) -> list[str]:
    marks = []
    for number, step in enumerate(CURRICULUM, 1):
        mark = "GREEN" if number < red else "RED" if number == red else "·"
        marks.append(f"  {mark:<6}{number:>2}. {step.title:<22} {step.formula}")
    return marks


def _red_screen(number: int, step: Step, o: Outcome, case: GoldenCase) -> list[str]:
    doc = case.document
    inputs = doc["inputs"]
    shown = ("X", "y_true", "w", "b", "alpha", "learning_rate") + (("steps",) if inputs["steps"] > 1 else ())
    stage = o.stage or step.stages[0]
    got = "not implemented yet (NotImplementedError)" if o.not_implemented else _fmt(o.got)
    if stage == "parameters":
        expected = (
            f"w, b and alpha stored and read back as set: {inputs['w']}, {inputs['b']}, {inputs['alpha']}"
        )
    else:
        expected = _fmt(o.expected if o.expected is not None else doc["expected"].get(stage))
    out = [
        f"Step {number}, {step.title}: RED on case {o.name}",
        f"  {doc['description']}",
        "",
        "  inputs",
        *(f"    {key:<14} {_fmt(inputs[key])}" for key in shown),
        "",
        f"  stage {stage}",
        f"    expected       {expected}",
        f"    got            {got}",
    ]
    if not o.not_implemented and o.got is None:
        out.append(f"    why            {o.message}")
    out += ["", f"  formula   {step.formula}", f"  hint      {step.hint}"]
    return out


def _next(number: int | None, spec: str) -> str:
    before = "Every step before this one is green. " if number and number > 1 else ""
    return f"{before}Make it green, then run `neuron-oracle tdd {spec}` again."


def _fmt(value: Any) -> str:
    return json.dumps(value) if value is not None else "(nothing)"

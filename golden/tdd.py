"""`neuron-oracle tdd IMPL`: walk the seed's curriculum and stop at the first red step, saying what is next.

Each step names a stage of ``golden.conformance`` and the golden cases that teach it, simplest first. A
step is green when its stage agrees on every one of its cases; the first red one is shown with the
case's inputs, the expected values next to the ones got, the formula and a hint. When every step is
green the property suite runs, as the safety net for refactoring.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golden.conformance import PASSED, SKIPPED, Outcome
from golden.store import ROOT, list_cases, load_case
from golden.validate import DEFAULT_TIMEOUT, PROPERTY_TIMEOUT_FACTOR
from golden.worker import CaseJob, PropertyJob, Worker

STAGES = ("parameters", "z", "a", "da_dz", "J", "dJ_dw", "dJ_db", "w_new", "b_new", "trajectory")
OPTIONAL = {"z": "linear", "da_dz": "activation_derivative", "J": "loss"}


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
    version: str = "v1",
    root: Path = ROOT,
    timeout: float = DEFAULT_TIMEOUT,
    examples: int | None = None,
) -> Report:
    """Walk the curriculum on IMPL `spec`; stop at the first red step, else run every case and property."""
    lines = [f"neuron-oracle tdd {spec}", ""]
    with Worker(spec) as worker:
        outcomes: dict[str, Outcome] = {}

        def outcome(case: str) -> Outcome:
            if case not in outcomes:
                outcomes[case] = worker.run(CaseJob(load_case(case, version, root)), timeout)
            return outcomes[case]

        for number, step in enumerate(CURRICULUM, 1):
            red = next((o for o in map(outcome, step.cases) if not _green(o, step)), None)
            if red is not None:
                case = load_case(red.name, version, root)
                lines += [
                    *_progress(number),
                    "",
                    *_red_screen(number, step, red, case),
                    "",
                    _next(number, spec),
                ]
                return Report("\n".join(lines), False)
        lines += _progress(len(CURRICULUM) + 1)
        from golden.properties import PROPERTIES  # Hypothesis is imported only when it is needed

        rest = [outcome(case) for case in list_cases(version, root)]
        failing = [o for o in rest if o.status not in (PASSED, SKIPPED)]
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
        props = [
            worker.run(PropertyJob(name, examples), timeout * PROPERTY_TIMEOUT_FACTOR) for name in PROPERTIES
        ]
        lines += [
            f"  {'GREEN' if o.status == PASSED else 'RED':<6} {o.name}"
            + ("" if o.status == PASSED else f": {o.message}")
            for o in props
        ]
        green = all(o.status in (PASSED, SKIPPED) for o in props)
        lines += ["", "All green." if green else "A property is red: a refactoring broke an invariant."]
        return Report("\n".join(lines), green)


def _green(o: Outcome, step: Step) -> bool:
    if o.status in (PASSED, SKIPPED):
        return True
    return all(s in o.agreed or _absent(o, s) for s in step.stages)


def _absent(o: Outcome, stage: str) -> bool:
    """An optional stage the implementation has no method for: run_case went past it without it."""
    return (
        stage in OPTIONAL
        and o.stage is not None
        and _index(o.stage) > _index(stage)
        and stage not in o.agreed
    )


def _index(stage: str) -> int:
    return STAGES.index("trajectory" if stage.startswith("trajectory") else stage)


def _progress(red: int) -> list[str]:
    marks = []
    for number, step in enumerate(CURRICULUM, 1):
        mark = "GREEN" if number < red else "RED" if number == red else "·"
        marks.append(f"  {mark:<6}{number:>2}. {step.title:<22} {step.formula}")
    return marks


def _red_screen(number: int, step: Step, o: Outcome, doc: dict[str, Any]) -> list[str]:
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


def watch_path(spec: str) -> Path:
    """The file to watch for IMPL `spec`: the .py file, or where the module lives."""
    module = spec.rpartition(":")[0]
    if module.endswith(".py") or "/" in module:
        return Path(module)
    import importlib.util

    found = importlib.util.find_spec(module)
    if found is None or found.origin is None:
        raise FileNotFoundError(module)
    return Path(found.origin)


def watch(spec: str, run: Callable[[], object]) -> None:
    """Run `run` now and again each time IMPL's file is saved, until Ctrl-C."""
    import watchfiles

    path = watch_path(spec)
    run()
    for _ in watchfiles.watch(path, debounce=200, raise_interrupt=True):
        print("\033[2J\033[H", end="")  # clear the screen, as a watcher does
        run()

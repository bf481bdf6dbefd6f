"""Hold the implementation to one golden case, stage by stage, and name the first stage that diverges.

The stages are ``golden.outcome.STAGES``, in the seed's order: ``parameters`` (w and b set, then read
back), ``z`` (linear), ``a`` (forward), ``da_dz`` (activation_derivative, at the golden z), ``J`` (loss),
``dJ_dw`` and ``dJ_db`` (gradient), ``w_new`` and ``b_new`` (update_weights, fed the golden gradient so
it is judged on its own), then each step of a trajectory. An optional stage is checked only when the
class defines its method. Every call runs in the child; every comparison runs here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from golden.files.case import GoldenCase
from golden.harness.compare import Checker, Divergence, pair
from golden.harness.conventions import under
from golden.harness.diagnosis import DECOY, diagnose
from golden.harness.protocol import Value
from golden.harness.proxy import Raised, Remote, RemoteNeuron
from golden.harness.subject import Subject
from golden.outcome import Kind, Outcome, Status


def run_case(subject: Subject, case: GoldenCase) -> Outcome:
    """Run every stage of `case` on the implementation, in the precision and under the conventions it is
    judged in (``subject.judged``); stop at the first stage that diverges.

    A golden v2 case is judged by its bounds in that precision (skipped when it has none there: a value
    does not fit); a golden v1 case by its float64 tolerance. Under declared conventions the expected
    values are the oracle's for them. A failed stage is diagnosed against the catalogue of classic mistakes.
    """
    remote, judged = subject.remote, subject.judged
    precision, conventions = judged.precision, judged.conventions
    activation = case.inputs.activation
    if activation == "leaky_relu" and activation not in remote.activations:  # the protocol's own activation
        held = ", ".join(map(repr, remote.activations)) or "nothing"
        reason = (
            f"{remote.name}.supported_activations holds {held}; a neuron of this protocol runs 'leaky_relu'"
        )
        return Outcome(case.name, Status.FAILED, Kind.CASE, "parameters", reason)
    if activation not in remote.activations:
        reason = f"activation {activation!r} is not in {remote.name}.supported_activations"
        return Outcome(case.name, Status.SKIPPED, Kind.CASE, message=reason)
    case = under(case, conventions)
    if why := case.unavailable_in(precision):
        return Outcome(case.name, Status.SKIPPED, Kind.CASE, message=why)
    bounds = case.bounds_in(precision)
    check = Checker(case.rtol, case.atol, precision)
    try:
        _stages(remote, case, check, bounds or {}, judged.forward_dtype)
    except Divergence as d:
        outcome = Outcome(
            case.name, d.status, Kind.CASE, d.stage, d.message, check.agreed, ratios=check.ratios, **d.extra
        )
        if d.status is Status.FAILED and d.got_values is not None and d.stage is not None:
            outcome.diagnosis = diagnose(case, d.stage, d.got_values, precision, conventions.as_dict())
        return outcome
    return Outcome(case.name, Status.PASSED, Kind.CASE, agreed=check.agreed, ratios=check.ratios)


def _stages(
    remote: Remote, case: GoldenCase, check: Checker, bounds: dict[str, Any], forward_dtype: str
) -> None:
    """Each stage in turn; `bounds` holds the bound of each value in the precision judged (v2), or nothing;
    `forward_dtype`, the dtype forward returned when the precision was detected from it (else empty)."""
    inp, exp = case.inputs, case.expected
    bound = bounds.get
    steps = bounds.get("trajectory", [{}] * len(exp.trajectory))
    X, y, m, n, lr = np.array(inp.X), np.array(inp.y_true), inp.m, inp.n, inp.learning_rate

    def fresh() -> RemoteNeuron:
        return remote.new(n, inp.activation, np.array(inp.w), inp.b, inp.alpha)

    neuron = fresh()
    check("parameters", "w", call(neuron, "parameters", "get", "w"), inp.w, (n,), bound("w"))
    check("parameters", "b", call(neuron, "parameters", "get", "b"), inp.b, (), bound("b"))
    if "linear" in remote.optional:
        check("z", "linear", call(neuron, "z", "linear", X), exp.z, (m,), bound("z"))
    a = call(neuron, "a", "forward", X)
    if forward_dtype and a.dtype and a.dtype != forward_dtype:
        why = f"forward returned {a.dtype} here but {forward_dtype} when its precision was detected"
        raise Divergence(Status.FAILED, "a", f"{why}: it is held to one precision")
    check("a", "forward", a, exp.a, (m,), bound("a"))
    if "activation_derivative" in remote.optional:
        da_dz = call(neuron, "da_dz", "activation_derivative", np.array(exp.z))
        check("da_dz", "activation_derivative", da_dz, exp.da_dz, (m,), bound("da_dz"))
    if "loss" in remote.optional:
        check("J", "loss", call(neuron, "J", "loss", X, y), exp.J, (m,), bound("J"))
    call(neuron, "dJ_dw", "forward", DECOY * X)  # a decoy: a gradient that reuses it shows as stale_forward
    dJ_dw, dJ_db = pair(call(neuron, "dJ_dw", "gradient", X, y), "dJ_dw")
    check("dJ_dw", "gradient", dJ_dw, exp.dJ_dw, (n,), bound("dJ_dw"))
    check("dJ_db", "gradient", dJ_db, exp.dJ_db, (), bound("dJ_db"))
    call(neuron, "w_new", "update_weights", np.array(exp.dJ_dw), exp.dJ_db, lr)
    check(
        "w_new", "w after update_weights", call(neuron, "w_new", "get", "w"), exp.w_new, (n,), bound("w_new")
    )
    check("b_new", "b after update_weights", call(neuron, "b_new", "get", "b"), exp.b_new, (), bound("b_new"))
    if exp.trajectory:
        neuron = fresh()
        for k, (step, step_bound) in enumerate(zip(exp.trajectory, steps, strict=True), 1):
            stage = f"trajectory step {k}"
            g_w, g_b = pair(call(neuron, stage, "gradient", X, y), stage)
            grad_w = check(stage, "dJ_dw", g_w, step.dJ_dw, (n,), step_bound.get("dJ_dw"))
            grad_b = check(stage, "dJ_db", g_b, step.dJ_db, (), step_bound.get("dJ_db"))
            call(neuron, stage, "update_weights", grad_w, float(grad_b), lr)
            check(stage, "w", call(neuron, stage, "get", "w"), step.w_new, (n,), step_bound.get("w_new"))
            check(stage, "b", call(neuron, stage, "get", "b"), step.b_new, (), step_bound.get("b_new"))
        check.agreed = [s for s in check.agreed if not s.startswith("trajectory")] + ["trajectory"]


def call(neuron: RemoteNeuron, stage: str, method: str, *args: Any) -> Value:
    """Read an attribute (``get``) or call a method in the child; raising or changing an argument diverges."""
    try:
        value = neuron.get(args[0]) if method == "get" else neuron.call(method, *args)
    except Raised as e:
        raise Divergence(Status.ERROR, stage, e.what, not_implemented=e.not_implemented) from None
    if neuron.changed:
        position = neuron.changed[0] + 1
        raise Divergence(Status.FAILED, stage, f"{method} changed its argument {position} in place")
    return value

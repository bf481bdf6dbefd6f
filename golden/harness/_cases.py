"""Hold the implementation to one golden case, stage by stage, and name the first stage that diverges.

The stages are ``golden.outcome.STAGES``, in the seed's order: ``parameters`` (w and b set, then read
back), ``z`` (linear), ``a`` (forward), ``da_dz`` (activation_derivative, at the golden z), ``J`` (loss),
``dJ_dw`` and ``dJ_db`` (gradient), ``w_new`` and ``b_new`` (update_weights, fed the golden gradient so
it is judged on its own), then each step of a trajectory. An optional stage is checked only when the
class defines its method. Every call runs in the child; every comparison runs here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from golden.files._case import GoldenCase
from golden.harness._compare import Checker, Divergence, pair
from golden.harness._conventions import under
from golden.harness._diagnosis import PROBES, diagnose
from golden.harness._protocol import Value
from golden.harness._proxy import Op, Pending, Raised, Remote, RemoteNeuron
from golden.harness._subject import Subject
from golden.outcome import (
    B_NEW,
    DA_DZ,
    DJ_DB,
    DJ_DW,
    PARAMETERS,
    TRAJECTORY,
    W_NEW,
    A,
    J,
    Kind,
    Outcome,
    Stage,
    Status,
    Z,
    step_name,
)

if TYPE_CHECKING:
    from golden.options import Options


def run_case(subject: Subject, case: GoldenCase, options: Options | None = None) -> Outcome:
    """Run every stage of `case` on the implementation, in the precision and under the conventions it is
    judged in (``subject.judged``); stop at the first stage that diverges.

    A case of an activation the class does not declare fails at ``parameters`` when the activation is
    required (Leaky ReLU, the protocol's own, always is; ``options.activations`` names the others an
    assignment requires), and is skipped (not applicable) otherwise. A golden v2 case is judged by its
    bounds in that precision (skipped when it has none there: a value does not fit); a golden v1 case by
    its float64 tolerance. Under declared conventions the expected values are the oracle's for them. A
    failed stage is diagnosed against the catalogue of classic mistakes.
    """
    remote, judged = subject.remote, subject.judged
    precision, conventions = judged.precision, judged.conventions
    if (undeclared := _undeclared(remote, case, options)) is not None:
        return undeclared
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


def _undeclared(remote: Remote, case: GoldenCase, options: Options | None) -> Outcome | None:
    """The outcome of `case` when the class does not declare its activation: a failure at ``parameters``
    when the protocol or the assignment (``options.activations``) requires it, else a skip; None when the
    class declares it."""
    activation = case.inputs.activation
    if activation in remote.activations:
        return None
    if activation == "leaky_relu":  # the protocol's own activation
        held = ", ".join(map(repr, remote.activations)) or "nothing"
        reason = (
            f"{remote.name}.supported_activations holds {held}; a neuron of this protocol runs 'leaky_relu'"
        )
        return Outcome(case.name, Status.FAILED, Kind.CASE, PARAMETERS.name, reason)
    if options is not None and activation in options.activations:  # the assignment requires it
        flag = options.front.spell("activations")
        where = f"{remote.name}.supported_activations"
        reason = f"activation {activation!r} is required ({flag}) but not in {where}"
        return Outcome(case.name, Status.FAILED, Kind.CASE, PARAMETERS.name, reason)
    reason = f"activation {activation!r} is not in {remote.name}.supported_activations"
    return Outcome(case.name, Status.SKIPPED, Kind.CASE, message=reason)


def _stages(
    remote: Remote, case: GoldenCase, check: Checker, bounds: dict[str, Any], forward_dtype: str
) -> None:
    """Each stage in turn; `bounds` holds the bound of each value in the precision judged (v2), or nothing;
    `forward_dtype`, the dtype forward returned when the precision was detected from it (else empty).
    The calls the diagnosis asks for (``diagnosis.PROBES``) are made before the stage they precede.

    No call's arguments depend on an answer before the trajectory, so they are all made ahead, in one
    message (``Ahead``), and checked in turn: the first to diverge ends the case as before."""
    inp, exp = case.inputs, case.expected
    bound = bounds.get
    steps = bounds.get(TRAJECTORY.name, [{}] * len(exp.trajectory))
    X, y, m, n, lr = np.array(inp.X), np.array(inp.y_true), inp.m, inp.n, inp.learning_rate

    def fresh() -> RemoteNeuron:
        return remote.new(n, inp.activation, np.array(inp.w), inp.b, inp.alpha)

    ahead = Ahead(fresh())
    read = {attr: ahead(PARAMETERS.name, "get", attr) for attr in ("w", "b")}
    probed: dict[str, list[Callable[[], Value]]] = {}
    made: dict[str, Callable[[], Value]] = {}
    for stage, args in (
        (Z, (X,)), (A, (X,)), (DA_DZ, (np.array(exp.z),)), (J, (X, y)), (DJ_DW, (X, y)),
        (W_NEW, (np.array(exp.dJ_dw), exp.dJ_db, lr)),
    ):  # fmt: skip
        probed[stage.name] = [
            ahead(stage.name, p.method, p.scale * X) for p in PROBES if p.before == stage.name
        ]
        if not stage.optional or stage.method in remote.optional:
            made[stage.name] = ahead(stage.name, stage.method, *args)
    after = {"w": ahead(W_NEW.name, "get", "w"), "b": ahead(B_NEW.name, "get", "b")}

    def probes(stage: Stage) -> None:
        for probe in probed[stage.name]:
            probe()

    for attr, value, shape in (("w", inp.w, (n,)), ("b", inp.b, ())):
        check(PARAMETERS.name, attr, read[attr](), value, shape, bound(attr))
    for stage, values in ((Z, exp.z), (A, exp.a), (DA_DZ, exp.da_dz), (J, exp.J)):  # each of shape (m,)
        probes(stage)
        if stage.name not in made:
            continue
        got = made[stage.name]()
        if stage is A and forward_dtype and got.dtype and got.dtype != forward_dtype:
            why = f"forward returned {got.dtype} here but {forward_dtype} when its precision was detected"
            raise Divergence(Status.FAILED, A.name, f"{why}: it is held to one precision")
        check(stage.name, stage.method, got, values, (m,), bound(stage.name))
    probes(DJ_DW)
    dJ_dw, dJ_db = pair(made[DJ_DW.name](), DJ_DW.name)
    check(DJ_DW.name, DJ_DW.method, dJ_dw, exp.dJ_dw, (n,), bound(DJ_DW.name))
    check(DJ_DB.name, DJ_DB.method, dJ_db, exp.dJ_db, (), bound(DJ_DB.name))
    probes(W_NEW)
    made[W_NEW.name]()
    for stage, attr, want, shape in ((W_NEW, "w", exp.w_new, (n,)), (B_NEW, "b", exp.b_new, ())):
        check(stage.name, f"{attr} after {stage.method}", after[attr](), want, shape, bound(stage.name))
    if exp.trajectory:
        _trajectory(fresh(), check, X, y, lr, exp.trajectory, steps)


def _trajectory(
    neuron: RemoteNeuron, check: Checker, X: Any, y: Any, lr: float, trajectory: Any, steps: Any
) -> None:
    """Each step of a trajectory on one fresh instance: gradient, then update_weights fed it and w and b
    read back (made ahead, in one message), checked in turn."""
    n, agreed = X.shape[1], list(check.agreed)
    for k, (step, step_bound) in enumerate(zip(trajectory, steps, strict=True), 1):
        stage = step_name(k)
        g_w, g_b = pair(Ahead(neuron)(stage, DJ_DW.method, X, y)(), stage)
        grad_w = check(stage, DJ_DW.name, g_w, step.dJ_dw, (n,), step_bound.get(DJ_DW.name))
        grad_b = check(stage, DJ_DB.name, g_b, step.dJ_db, (), step_bound.get(DJ_DB.name))
        ahead = Ahead(neuron)
        update = ahead(stage, W_NEW.method, grad_w, float(grad_b), lr)
        w, b = ahead(stage, "get", "w"), ahead(stage, "get", "b")
        update()
        check(stage, "w", w(), step.w_new, (n,), step_bound.get(W_NEW.name))
        check(stage, "b", b(), step.b_new, (), step_bound.get(B_NEW.name))
    check.agreed = [*agreed, TRAJECTORY.name]  # every step agreed: the trajectory did


class Ahead:
    """Calls on one instance made ahead: each is queued as it is named, and all are sent in one message
    when the first value is asked for (``Remote.send_each``), each as a request of its own, so that one
    that raises stops no other.

    A case asks for their values in turn and stops at the first that diverges; the child makes the rest
    all the same, and the session reads their answers once the case is over, within one timeout in all
    (``Remote.settle``), so that one that hangs or ends the process costs no item, and the next item starts
    another process.
    """

    def __init__(self, neuron: RemoteNeuron) -> None:
        self.neuron = neuron
        self.ops: list[Op] = []
        self.sent: list[Pending] = []

    def __call__(self, stage: str, method: str, *args: Any) -> Callable[[], Value]:
        """`method` (``get``: reading attribute args[0]) with `args`, queued; its value is had by calling
        the result, which diverges when the call raised (ERROR) or changed an argument in place (FAILED)."""
        op = self.neuron.read(args[0]) if method == "get" else self.neuron.op(method, *args)
        index = len(self.ops)
        self.ops.append(op)

        def value() -> Value:
            if not self.sent:
                self.sent = self.neuron.remote.send_each([[queued] for queued in self.ops])
            try:
                (got,) = self.sent[index].values()
            except Raised as e:
                raise Divergence(Status.ERROR, stage, e.what, not_implemented=e.not_implemented) from None
            return _unchanged(got, op, stage, method)

        return value


def _unchanged(value: Value, op: Op, stage: str, method: str) -> Value:
    """`value`, unless the call changed one of its arguments in place, which diverges."""
    if op.changed:
        raise Divergence(Status.FAILED, stage, f"{method} changed its argument {op.changed[0] + 1} in place")
    return value

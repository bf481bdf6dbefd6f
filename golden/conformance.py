"""Hold one neuron implementation to one golden case, stage by stage, and name the first that diverges.

Stages, in the seed's order: ``parameters`` (w, b and alpha set and read back), ``z`` (linear, optional),
``a`` (forward), ``da_dz`` (activation_derivative, optional, at the golden z), ``J`` (loss, optional),
``dJ_dw`` and ``dJ_db`` (gradient), ``w_new`` and ``b_new`` (update_weights, fed the golden gradient so
it is judged on its own), then each step of a trajectory. Values are compared as
``|got − expected| <= atol + rtol·|expected|`` with the case's tolerance; shapes must match exactly.
Inputs are handed over as fresh float64 arrays and checked afterwards: changing them is a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from golden.impl import make, supported_activations

PASSED, FAILED, SKIPPED, ERROR = "passed", "failed", "skipped", "error"


@dataclass
class Outcome:
    """How one case (or property) went: status, the first stage that diverged, and why."""

    name: str
    status: str
    stage: str | None = None
    message: str = ""
    agreed: list[str] = field(default_factory=list)
    expected: Any = None
    got: Any = None
    not_implemented: bool = False
    kind: str = "case"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class Divergence(Exception):
    """Raised inside a case run at the first stage that does not agree."""

    def __init__(self, status: str, stage: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.stage, self.message, self.extra = status, stage, message, extra


def run_case(impl: type, doc: dict[str, Any]) -> Outcome:
    """Run every stage of golden case `doc` against `impl`; stop at the first that diverges."""
    name, activation = doc["name"], doc["inputs"]["activation"]
    if activation not in supported_activations(impl):
        reason = f"activation {activation!r} is not in {impl.__name__}.supported_activations"
        return Outcome(name, SKIPPED, message=reason)
    check = _Checker(doc["tolerance"])
    try:
        _stages(impl, doc, check)
    except Divergence as d:
        return Outcome(name, d.status, d.stage, d.message, check.agreed, **d.extra)
    return Outcome(name, PASSED, agreed=check.agreed)


def _stages(impl: type, doc: dict[str, Any], check: _Checker) -> None:
    inp, exp = doc["inputs"], doc["expected"]
    X, y = np.array(inp["X"]), np.array(inp["y_true"])
    m, n, lr = X.shape[0], X.shape[1], inp["learning_rate"]

    def fresh() -> Any:
        return call(
            "parameters",
            "the constructor",
            make,
            impl,
            n,
            inp["activation"],
            np.array(inp["w"]),
            inp["b"],
            inp["alpha"],
        )

    neuron = fresh()
    check("parameters", "w", neuron.w, inp["w"], (n,))
    check("parameters", "b", neuron.b, inp["b"], ())
    if hasattr(neuron, "linear"):
        check("z", "linear", call("z", "linear", neuron.linear, X), exp["z"], (m,))
    check("a", "forward", call("a", "forward", neuron.forward, X), exp["a"], (m,))
    if hasattr(neuron, "activation_derivative"):
        da_dz = call("da_dz", "activation_derivative", neuron.activation_derivative, np.array(exp["z"]))
        check("da_dz", "activation_derivative", da_dz, exp["da_dz"], (m,))
    if hasattr(neuron, "loss"):
        check("J", "loss", call("J", "loss", neuron.loss, X, y), exp["J"], (m,))
    dJ_dw, dJ_db = gradient_pair(call("dJ_dw", "gradient", neuron.gradient, X, y))
    check("dJ_dw", "gradient", dJ_dw, exp["dJ_dw"], (n,))
    check("dJ_db", "gradient", dJ_db, exp["dJ_db"], ())
    call("w_new", "update_weights", neuron.update_weights, np.array(exp["dJ_dw"]), exp["dJ_db"], lr)
    check("w_new", "w after update_weights", neuron.w, exp["w_new"], (n,))
    check("b_new", "b after update_weights", neuron.b, exp["b_new"], ())
    if "trajectory" in exp:
        neuron = fresh()
        for k, step in enumerate(exp["trajectory"], 1):
            stage = f"trajectory step {k}"
            dJ_dw, dJ_db = gradient_pair(call(stage, "gradient", neuron.gradient, X, y), stage)
            call(stage, "update_weights", neuron.update_weights, dJ_dw, dJ_db, lr)
            check(stage, "w", neuron.w, step["w_new"], (n,))
            check(stage, "b", neuron.b, step["b_new"], ())
        check.agreed = [s for s in check.agreed if not s.startswith("trajectory")] + ["trajectory"]


def call(stage: str, method: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the implementation; raising, or changing an array argument in place, diverges here."""
    before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
    try:
        result = fn(*args)
    except NotImplementedError:
        raise Divergence(ERROR, stage, f"{method} is not implemented yet", not_implemented=True) from None
    except Divergence:
        raise
    except Exception as e:
        text = str(e).strip().splitlines()
        raise Divergence(
            ERROR, stage, f"{method} raised {type(e).__name__}: {text[0] if text else ''}"
        ) from None
    for position, (arg, copy) in enumerate(zip(args, before, strict=True)):
        if copy is not None and not np.array_equal(arg, copy):
            raise Divergence(FAILED, stage, f"{method} changed its argument {position + 1} in place")
    return result


def gradient_pair(result: Any, stage: str = "dJ_dw") -> tuple[Any, Any]:
    """The (dJ_dw, dJ_db) that gradient must return."""
    if isinstance(result, tuple | list) and len(result) == 2:
        return result[0], result[1]
    got = f"{len(result)} values" if isinstance(result, tuple | list) else f"one {type(result).__name__}"
    raise Divergence(FAILED, stage, f"gradient returned {got}; expected a pair (dJ_dw, dJ_db)")


def read(value: Any) -> np.ndarray[Any, Any]:
    """Read a result as float64: lists, numpy arrays and CPU torch tensors (detached first) all work."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value, dtype=np.float64)


class _Checker:
    def __init__(self, tolerance: dict[str, Any]) -> None:
        self.rtol, self.atol = tolerance["rtol"], tolerance["atol"]
        self.agreed: list[str] = []

    def __call__(self, stage: str, what: str, value: Any, expected: Any, shape: tuple[int, ...]) -> None:
        try:
            got = read(value)
        except Exception as e:
            raise Divergence(
                FAILED,
                stage,
                f"{what} returned a {type(value).__name__} that numpy cannot read as numbers: {e}",
            ) from None
        want = np.asarray(expected, dtype=np.float64)
        if got.shape != shape:
            raise Divergence(
                FAILED,
                stage,
                f"{what} returned shape {got.shape}; expected {shape}",
                expected=expected,
                got=got.tolist(),
            )
        if not np.isfinite(got).all():
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0]) if got.ndim else ()
            bad = got[index] if index else got
            raise Divergence(
                FAILED,
                stage,
                f"{what} returned {bad} at index {index}; NaN and infinity are errors",
                expected=expected,
                got=got.tolist(),
            )
        if not np.isclose(got, want, rtol=self.rtol, atol=self.atol).all():
            before = (
                f"the stages before it agree ({', '.join(self.agreed)})"
                if self.agreed
                else "no stage before it"
            )
            raise Divergence(
                FAILED,
                stage,
                f"{_label(stage, what)} expected {_fmt(want)}, got {_fmt(got)} "
                f"(rtol {self.rtol:g}, atol {self.atol:g}); {before}",
                expected=expected,
                got=got.tolist(),
            )
        if stage not in self.agreed:
            self.agreed.append(stage)


def _label(stage: str, what: str) -> str:
    if stage == "parameters":
        return f"{what} read back"
    return f"{stage} ({what})" if stage.startswith("trajectory") else stage


def _fmt(values: np.ndarray[Any, Any]) -> str:
    text = repr(values.tolist())
    return text if len(text) <= 120 else text[:117] + "..."

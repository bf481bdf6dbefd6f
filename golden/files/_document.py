"""Turn an oracle case into its golden document, and a document into deterministic bytes."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from golden.outcome import DA_DZ, ROWS, STAGE, STAGES, TRAJECTORY, A, J, Z
from oracle import LOSS, Case, Inputs, Result, Step, to_float
from oracle.bounds import PRECISIONS, Bounded, Model, OutOfRange, Precision, bounds, float_bound, to_fraction
from oracle.exact import PRECISION

# The conventions a golden file's values are computed under: the seed's, the oracle's defaults
SEED = {"derivative_at_zero": Inputs.derivative_at_zero, "loss": Inputs.loss}
SCHEMA_VERSION = 1  # golden v1's; golden v2 is schema 2: a bound per value and precision, no tolerance
RTOL = 1e-12
DERIVATION = (
    "oracle.bounds: a rigorous bound on |computed − expected| for every implementation in that precision "
    "that may round the float64 inputs to it, computes each stage with round-to-nearest in it or in any "
    "higher precision, in any summation order, with or without FMA, and stores each stage in it; sigmoid "
    "and tanh within 4 ulps. Running error analysis in exact rational arithmetic (Higham's γ_k over the "
    "gauge Σ|terms| for sums), plus |expected − exact|; at a kink within its bound of 0 either branch is "
    "admitted. Compare exactly: |got − expected| <= bound"
)

CONTRACTION = (
    "; a trajectory step that is affine on every starting point its bound allows, and whose map "
    "θ ↦ θ − lr·∇J contracts (ρ = ||I − lr·A||_∞ < 1, exactly), carries at most ρ times the error it starts "
    "with, plus its own rounding"
)

DJ_DA = "dJ_da"  # dJ/da: in every golden file's expected values, though no stage compares it
STEP = tuple(s.name for s in STAGES if s.step)  # the values of each step: dJ_dw, dJ_db, w_new, b_new
# The expected values of a golden file, in the order the released files hold them (not the stages'):
# the first step's forward values, then its gradient and update.
EXPECTED = (Z.name, A.name, J.name, DJ_DA, DA_DZ.name, *STEP)

ARITHMETIC = {
    "fraction": "exact rational (fractions.Fraction); each value rounded once to float64",
    "decimal": f"decimal.Decimal at {PRECISION} significant digits; each value rounded once to float64",
}


def floats(values: tuple[Any, ...]) -> list[float]:
    """Round each exact value to float64."""
    return [to_float(v) for v in values]


def size(name: str) -> str | None:
    """How many numbers the expected value `name` holds (``outcome.Stage.size``): ROWS, FEATURES or ONE."""
    return ROWS if name == DJ_DA else STAGE[name].size


def _rounded(value: Any) -> Any:
    """An exact value, or a tuple of them, rounded to float64 (a list for a tuple)."""
    return floats(value) if isinstance(value, tuple) else to_float(value)


def _step_fields(step: Step) -> dict[str, Any]:
    return {name: _rounded(getattr(step, name)) for name in STEP}


def tolerance(inputs: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The (rtol, atol) a float64 implementation is held to on one case, with its reason."""
    numbers = _numbers({k: v for k, v in inputs.items() if k != "steps"}) + _numbers(expected)
    scale = max([1.0, *(abs(x) for x in numbers)])
    atol = float(f"{RTOL * scale:.3g}")
    return {
        "rtol": RTOL,
        "atol": atol,
        "reason": (
            "float64: each value takes a few roundings of relative size 2**-53 ≈ 1.1e-16 of the numbers "
            f"it is made from; rtol {RTOL:g} leaves a margin of 10**3 and stays far below the smallest "
            "formula error (a factor alpha or 1/m); atol = 1e-12 × this case's largest magnitude "
            f"({scale:.6g}) covers values that cancel to 0 exactly, where float64 leaves a residue of "
            "order 1e-16 × that magnitude"
        ),
    }


def build(case: Case, schema_version: int = SCHEMA_VERSION, oracle_version: str = "2") -> dict[str, Any]:
    """The golden document of `case`: its inputs and every intermediate, rounded once to float64.

    Schema 1 (golden v1) holds one tolerance for the case; schema 2 (golden v2, v3) a bound for every
    value in every precision of ``oracle.bounds.PRECISIONS`` instead, made by oracle `oracle_version`
    (from 3 on, a trajectory's bounds follow contraction).
    """
    result: Result = case.run()
    inp = result.inputs
    chosen = {"derivative_at_zero": inp.derivative_at_zero, "loss": inp.loss}
    if chosen != SEED:
        raise ValueError(
            f"{', '.join(f'{k}={v!r}' for k, v in chosen.items())}: a golden file holds the values of the "
            "seed's conventions; a class that follows others declares them (conventions = {...}) and is "
            "judged under them"
        )
    inputs = {
        "X": [floats(row) for row in inp.X],
        "y_true": floats(inp.y_true),
        "w": floats(inp.w),
        "b": to_float(inp.b),
        "learning_rate": to_float(inp.learning_rate),
        "alpha": to_float(inp.alpha),
        "activation": inp.activation,
        "loss": LOSS,
        "steps": inp.steps,
    }
    expected = expected_values(result)
    document = {
        "schema_version": schema_version,
        "name": case.name,
        "description": case.description,
        "claim": case.claim,
        "arithmetic": ARITHMETIC["decimal" if isinstance(inp.b, Decimal) else "fraction"],
        "inputs": inputs,
        "expected": expected,
    }
    if schema_version == 1:
        return {**document, "tolerance": tolerance(inputs, expected)}
    return {**document, "bounds": bounds_in_every_precision(result, oracle_version)}


def expected_values(result: Result) -> dict[str, Any]:
    """A golden document's ``expected``: every intermediate of the first step, rounded once to float64,
    and the trajectory when there are several steps."""
    expected: dict[str, Any] = {name: _rounded(getattr(result.first, name)) for name in EXPECTED}
    if result.inputs.steps > 1:
        expected[TRAJECTORY.name] = [{"loss": to_float(s.loss), **_step_fields(s)} for s in result.steps]
    return expected


def bounds_in_every_precision(result: Result, oracle_version: str) -> dict[str, Any]:
    """A golden document's ``bounds`` (schema 2): the derivation, then each precision's bounds, as oracle
    `oracle_version` derives them (from 3 on, a trajectory's follow contraction)."""
    contraction = int(oracle_version) >= 3
    per_precision = {name: precision_bounds(result, p, contraction) for name, p in PRECISIONS.items()}
    derivation = DERIVATION + (CONTRACTION if contraction else "")
    return {"derivation": derivation, **per_precision}


def precision_bounds(result: Result, precision: Precision, contraction: bool = False) -> dict[str, Any]:
    """Each expected value's bound in `precision`, shaped as `expected`; or why there is none."""
    try:
        stages, steps = bounds(result, precision, contraction)
    except OutOfRange as e:
        return {"unavailable": str(e)}
    first, model = result.first, Model(precision)
    out: dict[str, Any] = {
        "w": _bound(tuple(model.input(to_fraction(x)) for x in result.inputs.w), result.inputs.w),
        "b": _bound(model.input(to_fraction(result.inputs.b)), result.inputs.b),
    }
    out |= {name: _bound(getattr(stages, name), getattr(first, name)) for name in EXPECTED}
    if steps:
        out[TRAJECTORY.name] = [
            {name: _bound(getattr(b, name), getattr(s, name)) for name in STEP}
            for b, s in zip(steps, result.steps, strict=True)
        ]
    return out


def _bound(b: Bounded | tuple[Bounded, ...], exact: Any) -> Any:
    """The bound on |computed − float64(exact)|, for one value or each of a tuple (``float_bound``)."""
    if isinstance(b, tuple):
        return [_bound(x, v) for x, v in zip(b, exact, strict=True)]
    return float_bound(b, exact)


def dumps(document: dict[str, Any]) -> bytes:
    """Deterministic bytes: keys in the order built, floats as their round-tripping repr, final newline."""
    return (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    """Hex sha256 of a file's bytes, as the manifest records it."""
    return hashlib.sha256(data).hexdigest()


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool | str):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []

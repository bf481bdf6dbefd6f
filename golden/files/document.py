"""Turn an oracle case into its golden document, and a document into deterministic bytes."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

from oracle import LOSS, Case, Result, Step, to_float
from oracle.bounds import PRECISIONS, Bounded, Model, OutOfRange, Precision, bounds, round_up, to_fraction
from oracle.exact import PRECISION

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

ARITHMETIC = {
    "fraction": "exact rational (fractions.Fraction); each value rounded once to float64",
    "decimal": f"decimal.Decimal at {PRECISION} significant digits; each value rounded once to float64",
}


def floats(values: tuple[Any, ...]) -> list[float]:
    """Round each exact value to float64."""
    return [to_float(v) for v in values]


def _step_fields(step: Step) -> dict[str, Any]:
    return {
        "dJ_dw": floats(step.dJ_dw),
        "dJ_db": to_float(step.dJ_db),
        "w_new": floats(step.w_new),
        "b_new": to_float(step.b_new),
    }


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
    inp, first = result.inputs, result.first
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
    expected: dict[str, Any] = {
        "z": floats(first.z),
        "a": floats(first.a),
        "J": floats(first.J),
        "dJ_da": floats(first.dJ_da),
        "da_dz": floats(first.da_dz),
        **_step_fields(first),
    }
    if inp.steps > 1:
        expected["trajectory"] = [{"loss": to_float(s.loss), **_step_fields(s)} for s in result.steps]
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
    contraction = int(oracle_version) >= 3
    per_precision = {name: precision_bounds(result, p, contraction) for name, p in PRECISIONS.items()}
    derivation = DERIVATION + (CONTRACTION if contraction else "")
    return {**document, "bounds": {"derivation": derivation, **per_precision}}


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
    out |= {
        name: _bound(getattr(stages, name), getattr(first, name))
        for name in ("z", "a", "J", "dJ_da", "da_dz", "dJ_dw", "dJ_db", "w_new", "b_new")
    }
    if steps:
        out["trajectory"] = [
            {
                name: _bound(getattr(b, name), getattr(s, name))
                for name in ("dJ_dw", "dJ_db", "w_new", "b_new")
            }
            for b, s in zip(steps, result.steps, strict=True)
        ]
    return out


def _bound(b: Bounded | tuple[Bounded, ...], exact: Any) -> Any:
    """The bound on |computed − float64(exact)|: the model's bound plus the rounding of the expected value."""
    if isinstance(b, tuple):
        return [_bound(x, v) for x, v in zip(b, exact, strict=True)]
    return round_up(Fraction(b.e) + abs(Fraction(to_float(exact)) - b.v))  # b.e is measured around b.v


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

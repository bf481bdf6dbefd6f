"""A golden case as the harness reads it: typed fields instead of a ``dict[str, Any]``.

A case is built from a document that has already passed the schema and the shape checks
(``golden.files.store``), so every field is present and sized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from golden.outcome import TRAJECTORY


@dataclass(frozen=True)
class Inputs:
    """X (m rows of n), y_true (m), w (n), b, learning rate, alpha, activation, and the number of steps."""

    X: list[list[float]]
    y_true: list[float]
    w: list[float]
    b: float
    learning_rate: float
    alpha: float
    activation: str
    steps: int

    @property
    def m(self) -> int:
        """Rows."""
        return len(self.X)

    @property
    def n(self) -> int:
        """Features."""
        return len(self.w)


@dataclass(frozen=True)
class StepValues:
    """One step of a trajectory: the loss before it, its gradients and the parameters after it."""

    loss: float
    dJ_dw: list[float]
    dJ_db: float
    w_new: list[float]
    b_new: float


@dataclass(frozen=True)
class Expected:
    """Every intermediate of the first step, and the trajectory when there are several."""

    z: list[float]
    a: list[float]
    J: list[float]
    dJ_da: list[float]
    da_dz: list[float]
    dJ_dw: list[float]
    dJ_db: float
    w_new: list[float]
    b_new: float
    trajectory: tuple[StepValues, ...]

    def stage(self, name: str) -> Any:
        """The expected value of stage `name` (z, a, da_dz, J, dJ_dw, dJ_db, w_new, b_new)."""
        return getattr(self, name)


@dataclass(frozen=True)
class GoldenCase:
    """One golden case: what it shows, its inputs, its expected values and the tolerance it allows."""

    name: str
    description: str
    claim: str
    arithmetic: str
    inputs: Inputs
    expected: Expected
    rtol: float  # schema 1: one tolerance for every value (0 in schema 2)
    atol: float
    reason: str
    document: dict[str, Any]
    bounds: dict[str, Any] | None = None  # schema 2: per precision, a bound shaped as each expected value
    oracle: str = "2"  # the oracle version that made it (its manifest's): how its bounds were derived

    def unavailable_in(self, precision: str) -> str | None:
        """Why this case has no bounds in `precision` (a value does not fit there), or None."""
        why = self.bounds[precision].get("unavailable") if self.bounds is not None else None
        return f"no {precision} bounds: {why}" if why else None

    def bounds_in(self, precision: str) -> dict[str, Any] | None:
        """The bounds of `precision` (None for a schema 1 case, or where ``unavailable_in`` says why)."""
        if self.bounds is None or self.unavailable_in(precision):
            return None
        return dict(self.bounds[precision])

    @classmethod
    def from_document(cls, doc: dict[str, Any], oracle: str = "2") -> GoldenCase:
        """Read a checked document, made by oracle version `oracle`."""
        exp = dict(doc["expected"])
        steps = tuple(StepValues(**s) for s in exp.pop(TRAJECTORY.name, []))
        inputs = {k: v for k, v in doc["inputs"].items() if k != "loss"}
        tol = doc.get(
            "tolerance", {"rtol": 0.0, "atol": 0.0, "reason": doc.get("bounds", {}).get("derivation", "")}
        )
        return cls(
            name=doc["name"],
            description=doc["description"],
            claim=doc["claim"],
            arithmetic=doc["arithmetic"],
            inputs=Inputs(**inputs),
            expected=Expected(**exp, trajectory=steps),
            rtol=tol["rtol"],
            atol=tol["atol"],
            reason=tol["reason"],
            document=doc,
            bounds={k: v for k, v in doc["bounds"].items() if k != "derivation"} if "bounds" in doc else None,
            oracle=oracle,
        )

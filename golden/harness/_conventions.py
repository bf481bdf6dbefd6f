"""Conventions an implementation may declare, and the golden values the oracle computes under them.

Two choices differ between libraries and are not mistakes:

- ``derivative_at_zero``: Leaky ReLU's derivative at the kink z = 0. ``"one"`` (the seed's
  ``np.where(z < 0, alpha, 1)``), ``"alpha"`` (PyTorch's and TensorFlow's), ``"midpoint"`` ((1 + alpha)/2,
  HIPS autograd's ``np.maximum``). Every subgradient lies between alpha and 1; these are the three in use.
- ``loss``: ``"half_sum"`` (the seed's ½Σ(a − y)²), ``"sum"`` (Σ(a − y)²), ``"mean"`` ((1/m)Σ(a − y)²,
  PyTorch's ``nn.MSELoss`` and Keras's "mse"), ``"half_mean"`` ((1/2m)Σ(a − y)², CS229's J).

A class declares them with ``conventions = {"derivative_at_zero": "alpha"}``; ``--convention KEY=VALUE``
(repeatable; pytest: ``--neuron-convention``) overrides a key. Under anything but the seed's, every
expected value and its bound is the oracle's, computed exactly for those conventions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from golden.files._case import GoldenCase
from golden.files._document import SEED as SEED  # the seed's: a golden file's values are computed under it


@dataclass(frozen=True)
class Conventions:
    """The conventions in force, and where each came from."""

    derivative_at_zero: str = "one"
    loss: str = "half_sum"
    sources: tuple[tuple[str, str], ...] = ()  # (key, "declared by Neuron.conventions" | "--convention")

    @property
    def seed(self) -> bool:
        """Whether these are the seed's own conventions (the golden files' values apply as stored)."""
        return self.as_dict() == SEED

    def as_dict(self) -> dict[str, str]:
        """The conventions as ``{key: value}``."""
        return {"derivative_at_zero": self.derivative_at_zero, "loss": self.loss}

    def describe(self) -> str:
        """``derivative_at_zero=alpha (declared by Neuron.conventions), loss=half_sum (the seed's)``."""
        sources = dict(self.sources)
        return ", ".join(f"{k}={v} ({sources.get(k, 'the seed')})" for k, v in self.as_dict().items())


def resolve(
    option: dict[str, str], declared: dict[str, str] | None, owner: str, flag: str = "--convention"
) -> Conventions:
    """The conventions in force: the seed's, then the class's declaration, then the option's (`flag`)."""
    chosen, sources = dict(SEED), {}
    for key, value in (declared or {}).items():
        chosen[key], sources[key] = value, f"declared by {owner}.conventions"
    for key, value in option.items():
        chosen[key], sources[key] = value, flag
    return Conventions(chosen["derivative_at_zero"], chosen["loss"], tuple(sources.items()))


_COMPUTED: dict[tuple[str, str, str, str, str], GoldenCase] = {}


def under(case: GoldenCase, conventions: Conventions) -> GoldenCase:
    """`case` with its expected values (and bounds) computed by the oracle under `conventions`."""
    if conventions.seed:
        return case
    inputs = json.dumps(case.document["inputs"], sort_keys=True)  # the same name may hold other inputs
    key = (case.name, inputs, case.oracle, conventions.derivative_at_zero, conventions.loss)
    if key not in _COMPUTED:
        _COMPUTED[key] = _under(case, conventions.derivative_at_zero, conventions.loss)
    return _COMPUTED[key]


def _under(case: GoldenCase, derivative_at_zero: str, loss: str) -> GoldenCase:
    """`case` with the oracle's values for its inputs under these conventions, and their bounds."""
    from golden.files._document import bounds_in_every_precision, expected_values
    from oracle import create_backprop_test_case

    inp = case.inputs
    result = create_backprop_test_case(
        inp.X,
        inp.y_true,
        inp.w,
        inp.b,
        inp.learning_rate,
        alpha=inp.alpha,
        activation=inp.activation,
        steps=inp.steps,
        derivative_at_zero=derivative_at_zero,
        loss=loss,
    )
    document = {**case.document, "expected": expected_values(result)}
    if case.bounds is not None:  # golden v1 has none: its tolerance still applies
        document["bounds"] = bounds_in_every_precision(result, case.oracle)
    return GoldenCase.from_document(document, case.oracle)

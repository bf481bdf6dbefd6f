"""The implementation under test as the judging sees it: its calls, what it is judged in, the oracle's helper.

The transport (``proxy.Remote`` over ``process.Child``) knows calls and values only; what the answers are
held to (``outcome.Judged``: the precision, the conventions, the dtype forward was detected by) and the
helper that computes the oracle's values (``beside.Beside``) travel beside it, here, so that no layer
carries another's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from golden.harness._beside import Beside
from golden.harness._proxy import Remote, RemoteNeuron
from golden.outcome import Judged


@dataclass
class Subject:
    """What the case runner and the properties judge: `remote`, held to `judged`, with `helper`."""

    remote: Remote
    judged: Judged
    helper: Beside = field(default_factory=Beside)  # one never started computes nothing: values come here

    @property
    def precision(self) -> str:
        """The precision the answers are held to: float64, float32, float16 or bfloat16."""
        return self.judged.precision

    @property
    def conventions(self) -> dict[str, str]:
        """The conventions in force, as ``{key: value}``."""
        return self.judged.conventions.as_dict()

    @property
    def activations(self) -> tuple[str, ...]:
        """The activations the class declares."""
        return self.remote.activations

    def new(self, n_features: int, activation: str, w: Any, b: float, alpha: float) -> RemoteNeuron:
        """A fresh instance with w, b and alpha set (``Remote.new``)."""
        return self.remote.new(n_features, activation, w, b, alpha)

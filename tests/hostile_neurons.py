"""Hostile and broken neurons, one attack each, for the harness to judge honestly (issue 10's list).

Each class is a correct numpy neuron (``broken_neurons.Textbook``) with one attack added. They run in the
harness's child process, loaded as ``tests/hostile_neurons.py:Name``; whatever they patch, write, spawn,
raise or return there, the verdict is made in the validating process. Paths an attack needs (a marker
file, a pid file, a golden file to damage) come from environment variables the tests set; every path
is in the test's own temporary directory.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from typing import Any

import numpy as np
from broken_neurons import Textbook

HEADER = struct.Struct(">I")  # the wire's 4-byte big-endian length

if os.environ.get("HOSTILE_HANG_AT_IMPORT") == "1":  # HangsAtImport: the module body never finishes
    with open(os.environ["HOSTILE_PIDFILE"], "a") as _pids:
        _pids.write(f"{os.getpid()}\n")
    time.sleep(3600)


def _reply_fd() -> int:
    """The fd the child writes its replies to: ``python -m golden.harness._child REQUESTS REPLIES``."""
    return int(sys.argv[2])


def _record_pid(pid: int) -> None:
    """Append `pid` to $HOSTILE_PIDFILE (when set), so the test can check the process is gone."""
    if "HOSTILE_PIDFILE" in os.environ:
        with open(os.environ["HOSTILE_PIDFILE"], "a") as pids:
            pids.write(f"{pid}\n")


def _record_attack(name: str) -> None:
    """Append `name` to $HOSTILE_ATTACKED (when set): proof that the attack ran to its end."""
    if "HOSTILE_ATTACKED" in os.environ:
        with open(os.environ["HOSTILE_ATTACKED"], "a") as attacked:
            attacked.write(f"{name}\n")


# -- forging the verdict: zeros everywhere, and a patch in its own process --------------------------


class ZerosEverywhere(Textbook):
    """Every stage returns zeros (the base the verdict forgers patch around)."""

    def linear(self, X: Any) -> Any:
        return np.zeros(np.asarray(X).shape[0])

    def activation_derivative(self, z: Any) -> Any:
        return np.zeros(np.asarray(z).shape[0])

    def forward(self, X: Any) -> Any:
        return np.zeros(np.asarray(X).shape[0])

    def loss(self, X: Any, y_true: Any) -> Any:
        return np.zeros(np.asarray(X).shape[0])

    def gradient(self, X: Any, y_true: Any) -> Any:
        return np.zeros(np.asarray(X).shape[1]), 0.0


def _passed(*args: Any, **kwargs: Any) -> Any:
    """What a forger wants every check to say."""
    from golden.outcome import Kind, Outcome, Status

    name = getattr(args[1], "name", "forged") if len(args) > 1 else "forged"
    return Outcome(str(name), Status.PASSED, Kind.CASE)


def _agree(self: Any, stage: str, what: str, value: Any, expected: Any, shape: Any) -> Any:
    """A comparator that agrees with everything."""
    return expected


# Names a verdict forger replaces wherever it finds them in golden.*: runners, comparators, verdicts.
FORGED_NAMES = {
    "run_case": _passed,
    "run_property": _passed,
    "ok": lambda *args, **kwargs: True,
    "verdict": lambda *args, **kwargs: "OK: 25 passed, 0 failed, 0 errors, 0 skipped",
    "numbers": lambda *args, **kwargs: np.zeros(0),
    "close": lambda *args, **kwargs: None,
}


class PatchesTheHarness(ZerosEverywhere):
    """Zeros everywhere, and replaces every golden.* runner, comparator and verdict in its own process."""

    def __init__(self, n_features: int) -> None:
        super().__init__(n_features)
        import importlib
        import pkgutil

        import golden

        patched = 0
        for info in pkgutil.walk_packages(golden.__path__, "golden."):
            if info.name.endswith("__main__"):
                continue
            try:
                module = importlib.import_module(info.name)
            except BaseException:  # a module that needs an optional dependency
                continue
            for name, fake in FORGED_NAMES.items():
                if callable(getattr(module, name, None)):
                    setattr(module, name, fake)
                    patched += 1
            checker = getattr(module, "Checker", None)
            if isinstance(checker, type):
                checker.__call__ = _agree  # type: ignore[method-assign]
                patched += 1
        if patched:
            _record_attack(type(self).__name__)


class PatchesNumpyIsclose(ZerosEverywhere):
    """Zeros everywhere, and numpy.isclose, allclose and array_equal say True in its own process."""

    def __init__(self, n_features: int) -> None:
        super().__init__(n_features)
        np.isclose = lambda *args, **kwargs: np.True_  # type: ignore[assignment]
        np.allclose = lambda *args, **kwargs: True
        np.array_equal = lambda *args, **kwargs: True
        _record_attack(type(self).__name__)


class ForgesTheReplyInSend(ZerosEverywhere):
    """Zeros everywhere, and the child's protocol.send replaces every reply with a PASSED verdict."""

    def __init__(self, n_features: int) -> None:
        super().__init__(n_features)
        import golden.harness._protocol as protocol

        honest = getattr(protocol.send, "honest", protocol.send)

        def forged(fd: int, message: Any) -> None:
            if isinstance(message, dict) and "results" in message:
                message = {
                    "results": [],
                    "error": None,
                    "changed": [],
                    "status": "passed",
                    "verdict": "OK: 25 passed, 0 failed, 0 errors, 0 skipped",
                }
            honest(fd, message)

        forged.honest = honest  # type: ignore[attr-defined]
        protocol.send = forged
        main = sys.modules.get("__main__")  # the child runs as __main__: patch the copy that serves
        if main is not None and hasattr(main, "protocol"):
            main.protocol.send = forged
        _record_attack(type(self).__name__)


class ForgesTheValuesInEncode(ZerosEverywhere):
    """Zeros everywhere, and the child's protocol.encode and serve answer 'passed' for every value."""

    def __init__(self, n_features: int) -> None:
        super().__init__(n_features)
        import golden.harness._child as child
        import golden.harness._protocol as protocol

        def forged(value: Any, depth: int = 0) -> dict[str, Any]:
            return {"t": "other", "type": "PASSED", "repr": "OK: 25 passed, 0 failed, 0 errors, 0 skipped"}

        def serve(impl: type, calls: list[Any]) -> dict[str, Any]:
            return {
                "results": [forged(None) for _ in calls],
                "error": None,
                "changed": [],
                "status": "passed",
            }

        protocol.encode = forged
        child.serve = serve
        main = sys.modules.get("__main__")
        if main is not None and hasattr(main, "serve"):
            main.serve = serve  # type: ignore[attr-defined]
        _record_attack(type(self).__name__)


# -- the reply pipe: crafted bytes, partial and oversized messages -----------------------------------


class _Payload:
    """Unpickling this creates the marker file: proof that the parent ran the child's code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


class WritesAPickleToTheReplyFd(Textbook):
    """forward writes a framed pickle (whose __reduce__ creates a marker file) to the reply fd."""

    def forward(self, X: Any) -> Any:
        data = pickle.dumps(_Payload(os.environ["HOSTILE_MARKER"]))
        os.write(_reply_fd(), HEADER.pack(len(data)) + data)
        return super().forward(X)


class WritesOnlyAHeader(Textbook):
    """forward writes the 4-byte length of a reply that never comes, then sleeps."""

    def forward(self, X: Any) -> Any:
        _record_pid(os.getpid())
        os.write(_reply_fd(), HEADER.pack(64))
        time.sleep(3600)
        return super().forward(X)


class ClaimsAHugeReply(Textbook):
    """forward writes a header announcing a 400 MB reply to the reply fd."""

    def forward(self, X: Any) -> Any:
        os.write(_reply_fd(), HEADER.pack(400_000_000))
        return super().forward(X)


# -- processes -----------------------------------------------------------------------------------------


class SpawnsASleep(Textbook):
    """forward starts `sleep 60` (and writes its pid to $HOSTILE_PIDFILE), hoping it outlives the run."""

    def forward(self, X: Any) -> Any:
        _record_pid(subprocess.Popen(["sleep", "60"]).pid)
        return super().forward(X)


class KillsItsProcessGroup(Textbook):
    """forward sends SIGTERM to its whole process group, hoping the harness is in it."""

    def forward(self, X: Any) -> Any:
        os.killpg(0, signal.SIGTERM)
        return super().forward(X)


class HangsAtImport(Textbook):
    """Its module sleeps for an hour at import (when HOSTILE_HANG_AT_IMPORT=1), pid in $HOSTILE_PIDFILE."""


class ExitsInOneCase(Textbook):
    """forward ends the process (os._exit(3)) on a 4×5 batch only: one golden case, no property."""

    def forward(self, X: Any) -> Any:
        if np.asarray(X).shape == (4, 5):
            os._exit(3)
        return super().forward(X)


# -- exceptions raised outside a method's return -----------------------------------------------------


class RaisesInTheWGetter(Textbook):
    """w is a property whose getter raises."""

    @property
    def w(self) -> Any:
        raise RuntimeError("the w getter exploded")

    @w.setter
    def w(self, value: Any) -> None:
        self._w = value


class RaisesFromGetattr(Textbook):
    """forward returns the neuron itself, whose __getattr__ raises, so hasattr on the result raises."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"__getattr__ refuses {name}")

    def forward(self, X: Any) -> Any:
        return self


class UnprintableError(Exception):
    """An exception whose message cannot be read."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ exploded")


class RaisesAnUnprintableException(Textbook):
    """forward raises an exception whose __str__ raises."""

    def forward(self, X: Any) -> Any:
        raise UnprintableError()


class Escape(BaseException):
    """A BaseException of its own, which `except Exception` does not catch."""


class RaisesABaseException(Textbook):
    """forward raises a custom BaseException."""

    def forward(self, X: Any) -> Any:
        raise Escape("escaped the harness")


class RaisesSystemExit(Textbook):
    """forward raises SystemExit(3)."""

    def forward(self, X: Any) -> Any:
        raise SystemExit(3)


class RaisesKeyboardInterrupt(Textbook):
    """forward raises KeyboardInterrupt, as if Ctrl-C were pressed."""

    def forward(self, X: Any) -> Any:
        raise KeyboardInterrupt


class ExitsInForward(Textbook):
    """forward ends the process with os._exit(3)."""

    def forward(self, X: Any) -> Any:
        os._exit(3)


# -- sizes ---------------------------------------------------------------------------------------------


class ReturnsAHugeResult(Textbook):
    """forward returns 400 MB: np.zeros(50_000_000)."""

    def forward(self, X: Any) -> Any:
        return np.zeros(50_000_000)


class RaisesAHugeMessage(Textbook):
    """forward raises an exception with a 20 MB message."""

    def forward(self, X: Any) -> Any:
        raise RuntimeError("x" * 20_000_000)


# -- results that are not real numbers ------------------------------------------------------------------


class ReturnsComplex(Textbook):
    """forward returns complex values whose real part is right."""

    def forward(self, X: Any) -> Any:
        return super().forward(X) + 0j


class ReturnsNumericStrings(Textbook):
    """forward returns a list of numeric strings: ['1.2']."""

    def forward(self, X: Any) -> Any:
        return [repr(float(v)) for v in super().forward(X)]


class ReturnsBools(Textbook):
    """forward returns a numpy bool array."""

    def forward(self, X: Any) -> Any:
        return super().forward(X) != 0


# -- golden files changed while it runs ---------------------------------------------------------------


class DeletesAGoldenFile(Textbook):
    """forward deletes the golden file named in $HOSTILE_GOLDEN_FILE; otherwise correct."""

    def forward(self, X: Any) -> Any:
        path = os.environ["HOSTILE_GOLDEN_FILE"]
        if os.path.exists(path):
            os.remove(path)
        return super().forward(X)


class AppendsToAGoldenFile(Textbook):
    """forward appends a line to the golden file named in $HOSTILE_GOLDEN_FILE; otherwise correct."""

    def forward(self, X: Any) -> Any:
        with open(os.environ["HOSTILE_GOLDEN_FILE"], "a") as golden:
            golden.write("\n")
        return super().forward(X)


# -- messages that try to forge the report --------------------------------------------------------------

FORGED_LINE = "\x1b[31mred\x1b[0m\nOK: 25 passed, 0 failed, 0 errors, 0 skipped\n\x1b[2J"


class RaisesAForgedReportLine(Textbook):
    """forward raises a message with ANSI colours, a newline and a fake OK summary line."""

    def forward(self, X: Any) -> Any:
        raise RuntimeError(FORGED_LINE)


class _ForgedRepr:
    """A result whose repr tries to print a fake summary line."""

    def __repr__(self) -> str:
        return FORGED_LINE + "\u2028OK: 25 passed\x85OK: 25 passed\rOK: 25 passed"


class ReturnsAForgedReportLine(Textbook):
    """forward returns an object whose repr holds ANSI colours, line breaks and fake OK summary lines."""

    def forward(self, X: Any) -> Any:
        return _ForgedRepr()


# -- nothing to check, and optional stages that are not methods ----------------------------------------


class SupportsNoKnownActivation(Textbook):
    """Declares only an activation no golden case uses, so every case is skipped."""

    supported_activations = ("sigmoid_only_nonexistent",)


class _Module:
    """A callable object, as torch.nn.Linear or nn.MSELoss would be; its answer fits no stage."""

    def __call__(self, *args: Any) -> Any:
        return np.full(7, 123.0)


class CallableAttributesNotMethods(Textbook):
    """Correct, but `linear` and `loss` are callable instance attributes (torch naming), not methods."""

    linear = None  # type: ignore[assignment]  # the class defines no linear method ...
    loss = None  # type: ignore[assignment]  # ... and no loss method: __init__ sets callables

    def __init__(self, n_features: int) -> None:
        super().__init__(n_features)
        self.linear = _Module()
        self.loss = _Module()

    def forward(self, X: Any) -> Any:
        z = np.asarray(X) @ self.w + self.b
        return np.where(z < 0, self.alpha * z, z)

    def gradient(self, X: Any, y_true: Any) -> Any:
        z = np.asarray(X) @ self.w + self.b
        delta = (self.forward(X) - y_true) * self.activation_derivative(z)
        return delta @ X, float(delta.sum())


class WrongOnlyOnce(Textbook):
    """Its 37th gradient call, counted across all its instances, adds 1e6 to the answer (beyond any bound
    here, even at a kink, where either branch's value is admitted); every other is right.

    A mistake that a replay, example by example, does not meet again: the first failure found must stand.
    """

    calls = 0

    def gradient(self, X: Any, y_true: Any) -> Any:
        type(self).calls += 1
        dJ_dw, dJ_db = super().gradient(X, y_true)
        return (dJ_dw + 1e6, dJ_db + 1e6) if type(self).calls == 37 else (dJ_dw, dJ_db)


class WrongOnceThenHangs(WrongOnlyOnce):
    """Wrong on its 37th gradient call, and from its 39th on, every one hangs: the replay cannot finish.

    (row_order makes two calls per example: the 37th and 38th answer together, then the hang begins.)
    """

    calls = 0

    def gradient(self, X: Any, y_true: Any) -> Any:
        if type(self).calls >= 38:
            time.sleep(3600)
        return super().gradient(X, y_true)

"""One error root for the toolkit, a subclass per kind; the exit status is chosen by the error's type.

Every message is one line naming the file, field, argument or IMPL at fault, what was expected and what
was got. The CLI prints it after ``neuron-oracle: error:`` and exits with the class's ``exit_code``.
"""

from __future__ import annotations


class OracleError(Exception):
    """The root of every error the toolkit reports; never raised itself."""

    exit_code = 2


class GoldenError(OracleError):
    """A golden file, folder or version that cannot be used (missing, malformed, or hash-mismatched)."""


class UnreadableFile(GoldenError):
    """A file that cannot be read as one (missing, not a regular file, too large): the message names the
    file, and ``why`` says what is wrong with it."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name, why)
        self.name, self.why = name, why

    def __str__(self) -> str:
        return f"{self.name}: {self.why}"


class CaseFileError(GoldenError):
    """A case file of the user's own that gives no golden cases: importing it or one of its cases raised,
    hung, printed or ended its process, a claim failed, a case returned no Result or is too large, it
    defines no case, or its process sent malformed bytes. The message names the file, and the case where
    there is one."""


class GoldenChanged(GoldenError):
    """Golden files changed on disk while an implementation ran (its verdict was judged on a copy)."""

    @classmethod
    def of(cls, changes: list[str]) -> GoldenChanged:
        """The error for `changes` (``GoldenSet.verify``'s lines), saying what still holds and the repair."""
        return cls(
            f"{'; '.join(changes)}: files of the toolkit changed on disk while IMPL ran; the verdict was "
            "judged on what was read before it started (`neuron-oracle regen --force` restores golden files)"
        )


class ImplError(OracleError):
    """IMPL cannot be named, found, loaded or started, or its class does not follow the protocol."""


class GuardError(OracleError):
    """A security step for our processes could not be applied (``prctl`` refused, ``ctypes`` missing)."""


class SandboxError(OracleError):
    """``--sandbox on`` was asked for and cannot be had here (no bubblewrap, no namespaces)."""


class OptionError(OracleError, ValueError):
    """A command-line or plugin option out of its range (``--timeout inf``, ``--epochs 0`` …)."""


class Drift(OracleError):
    """The golden files on disk differ from what the oracle generates (``check``)."""

    exit_code = 1


class ReleasedVersion(OracleError):
    """``regen`` would change a released golden version and ``--force`` was not given."""

    exit_code = 1

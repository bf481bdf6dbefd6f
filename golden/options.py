"""The options every front end shares: their defaults and their checks, in one place.

It imports nothing of the harness, so that a command which runs no implementation (``list``, ``show``)
loads none of it. Each check names the option as the front end spells it (`flag`: ``--`` for the CLI,
``--neuron-`` for the pytest plugin, nothing for the Python API).
"""

from __future__ import annotations

import math

from golden.errors import OptionError
from oracle.bounds import PRECISIONS

DEFAULT_IMPL = "neuron:Neuron"
DEFAULT_TIMEOUT = 5.0  # seconds each call and each case may take
MAX_TIMEOUT = 86_400.0  # a day
MAX_EXAMPLES = 100_000
SANDBOX_LEVELS = ("auto", "on", "off")
MiB = 1 << 20
GiB = 1 << 30
# Peak data size (RLIMIT_DATA counts private writable mappings, reserved or touched) of the examples' whole
# validate, measured by benchmarks/isolation.py: numpy 0.13 GiB, torch 0.23 GiB, JAX 0.5 GiB. Four times
# JAX's, rounded up. The address space (RLIMIT_AS) counts every mapping, and torch and JAX reserve far more
# than they use (peak VmPeak 0.6 and 1.7 GiB), so it is only a backstop: see sandbox.Limits.address_space.
DEFAULT_MEMORY = 2 * GiB


def check_budget(timeout: float, examples: int | None, flag: str = "--") -> None:
    """Refuse a timeout that is not a number of seconds in (0, a day] or examples outside [1, 100,000]."""
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
        raise OptionError(
            f"{flag}timeout is {timeout:g}; expected a number of seconds > 0 and at most {MAX_TIMEOUT:g}"
        )
    if examples is not None and not 1 <= examples <= MAX_EXAMPLES:
        raise OptionError(f"{flag}examples is {examples}; expected an integer from 1 to {MAX_EXAMPLES:,}")


def check_precision(precision: str | None, where: str = "--precision") -> None:
    """Refuse a precision the bounds do not cover."""
    if precision is not None and precision not in PRECISIONS:
        raise OptionError(f"{where} is {precision!r}; expected one of {', '.join(PRECISIONS)}")

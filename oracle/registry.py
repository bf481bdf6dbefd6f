"""The case API, public and stable: ``case`` registers a function as a named case, and
``create_backprop_test_case`` computes one exactly (``oracle.backprop``'s, which first asks the active
registry whether a case of its size may run).

``case`` registers into the active registry: ``CASES``, the bundled cases (``oracle.cases``), unless a
case file of the user's own is being read (``collecting``), which gets a fresh registry of its own, so
that its cases never join the bundled ones and may share their names.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ParamSpec

from oracle import backprop
from oracle.backprop import Result

P = ParamSpec("P")
NAME = re.compile(r"[a-z][a-z0-9_]*")  # a case's name is its golden file's: the schema's pattern


class ClaimError(ValueError):
    """A case's claim does not hold on its own exact result."""


class NotAResult(TypeError):
    """A case's function returned something other than a ``Result`` (``create_backprop_test_case``'s)."""


@dataclass(frozen=True)
class Case:
    """A named case: how to build it, what it shows, and the claim that must hold."""

    name: str
    description: str
    claim: str
    check: Callable[[Result], bool]
    build: Callable[[], Result]
    since: int = 1  # the first golden version that holds the case; a released version never changes

    def run(self) -> Result:
        """Compute the case and check its claim; a failed claim raises ClaimError with the reason, a
        function that returns anything but a Result NotAResult."""
        result = self.build()
        if not isinstance(result, Result):
            raise NotAResult(
                f"case {self.name} returned {_kind(result)}, not a Result: a case returns "
                "create_backprop_test_case(...)"
            )
        if not self.check(result):
            raise ClaimError(f"case {self.name}: claim does not hold: {self.claim}")
        return result


def _kind(value: object) -> str:
    """``None``, or ``a dict``: what a case returned instead of a Result."""
    return "None" if value is None else f"a {type(value).__name__}"


CASES: dict[str, Case] = {}


@dataclass(frozen=True)
class _Registry:
    """Where ``case`` registers, and what a case may compute: ``admit(m, n, steps)`` is called before
    each ``create_backprop_test_case`` of m rows, n features and `steps` steps, and may refuse it by
    raising."""

    cases: dict[str, Case]
    admit: Callable[[int, int, int], None] | None = None


_BUNDLED = _Registry(CASES)
_ACTIVE: ContextVar[_Registry | None] = ContextVar("registry", default=None)


def _active() -> _Registry:
    """The registry ``case`` registers into now: a case file's while it is collected, else the bundled."""
    return _ACTIVE.get() or _BUNDLED


@contextmanager
def collecting(admit: Callable[[int, int, int], None] | None = None) -> Iterator[dict[str, Case]]:
    """Make a fresh registry active while a case file is imported and its cases run; yields it.

    Inside, ``case`` registers into it (in definition order), not into ``CASES``, and `admit`, if given,
    is called with (m, n, steps) before the oracle computes any case of m rows and n features, so that a
    case too large is refused before the work.
    """
    registry = _Registry({}, admit)
    token = _ACTIVE.set(registry)
    try:
        yield registry.cases
    finally:
        _ACTIVE.reset(token)


def case(
    claim: str, check: Callable[[Result], bool], since: int = 1
) -> Callable[[Callable[[], Result]], Callable[[], Result]]:
    """Register the decorated function as a case named after it, with its docstring as description.

    Public and stable (``from oracle import case``). The name must be a golden file's: lower-case letters,
    digits and ``_``, starting with a letter; a name defined twice in one registry is refused. `claim`
    says what the case shows, and `check` decides it on the exact result. `since` is the first bundled
    golden version that holds it: v1's sixteen cases never change, and a new case goes into a new version
    (a case file of the user's own has no versions: it leaves `since` alone).
    """

    def register(build: Callable[[], Result]) -> Callable[[], Result]:
        name, cases = build.__name__, _active().cases
        if not NAME.fullmatch(name):
            raise ValueError(
                f"case {name!r}: a case is named as its golden file: lower-case letters, digits and _, "
                "starting with a letter"
            )
        if name in cases:
            raise ValueError(f"case {name} is defined twice")
        doc = inspect.getdoc(build) or ""
        cases[name] = Case(name, doc, claim, check, build, since)
        return build

    return register


def _length(value: Any) -> int:
    """len(value), or 0 for what has none: the oracle then says what is wrong with it."""
    try:
        return len(value)
    except TypeError:
        return 0


def _admitted(compute: Callable[P, Result]) -> Callable[P, Result]:
    """`compute` (``oracle.backprop.create_backprop_test_case``), its signature and docstring kept, that
    first asks the active registry's ``admit`` (``collecting``) whether a case of its size may run."""
    signature = inspect.signature(compute)

    @functools.wraps(compute)
    def admitted(*args: P.args, **kwargs: P.kwargs) -> Result:
        admit = _active().admit
        if admit is not None:
            given = signature.bind(*args, **kwargs).arguments  # a TypeError as the call itself raises
            steps = given.get("steps", 1)
            steps = steps if isinstance(steps, int) and steps > 0 else 1  # a bad one: the oracle says so
            admit(_length(given["X"]), _length(given["w"]), steps)
        return compute(*args, **kwargs)

    return admitted


create_backprop_test_case = _admitted(backprop.create_backprop_test_case)

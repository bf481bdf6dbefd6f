"""The options of a run: one frozen object, built once by each front end and checked once, here.

``Options.from_args`` (the CLI), ``Options.from_pytest`` (the pytest plugin) and ``Options.from_kwargs``
(the Python API) build it; every check names the option as that front end spells it (``--timeout``,
``--neuron-timeout``, ``timeout``). Nothing downstream checks an option again.

It imports nothing of the harness, so that a command which runs no implementation (``list``, ``show``)
loads none of it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from golden._text import short
from golden.errors import OptionError
from golden.files._versions import CURRENT
from oracle.backprop import DERIVATIVES_AT_ZERO, LOSSES
from oracle.bounds import PRECISIONS
from oracle.exact import ACTIVATIONS

if TYPE_CHECKING:
    import argparse

    import pytest

    from golden.harness._sandbox import Isolation

DEFAULT_IMPL = "neuron:Neuron"
DEFAULT_TIMEOUT = 5.0  # seconds each call and each case may take
MAX_TIMEOUT = 86_400.0  # a day
MAX_EXAMPLES = 100_000
MAX_SEED = 2**64  # a seed is an integer below it (Hypothesis takes any integer; a batch prints it)
SANDBOX_LEVELS = ("auto", "on", "off")
FORMATS = ("text", "json", "junit", "csv", "gradescope", "prairielearn")
GRADING_FORMATS = ("csv", "gradescope", "prairielearn")  # formats that grade even a single IMPL
CLUSTERS = ("local",)  # --cluster: a distributed.LocalCluster of --jobs workers here
SIMILARITY = 0.8  # --similarity's threshold when none is given: golden.grading._similarity
FEEDBACK = ("full", "stage", "score")  # how much a report says of each outcome: golden.feedback
FULL = FEEDBACK[0]
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's, per test
MiB = 1 << 20
GiB = 1 << 30
# Peak data size (RLIMIT_DATA counts private writable mappings, reserved or touched) of the examples' whole
# validate, measured by benchmarks/isolation.py: numpy 0.13 GiB, torch 0.23 GiB, JAX 0.5 GiB. Four times
# JAX's, rounded up. The address space (RLIMIT_AS) counts every mapping, and torch and JAX reserve far more
# than they use (peak VmPeak 0.6 and 1.7 GiB), so it is only a backstop: see sandbox.Limits.address_space.
DEFAULT_MEMORY = 2 * GiB
MIN_MEMORY = 64 * MiB
MAX_MEMORY = 1 << 50
CONVENTIONS: dict[str, tuple[str, ...]] = {"derivative_at_zero": DERIVATIVES_AT_ZERO, "loss": tuple(LOSSES)}


class Front(enum.Enum):
    """The front end that built the options, which decides how an option is spelled in a message."""

    CLI = "--"
    PYTEST = "--neuron-"
    PYTHON = ""

    def spell(self, name: str) -> str:
        """``--max-memory``, ``--neuron-max-memory`` or ``max_memory`` for the field `name`."""
        if self is Front.PYTHON:
            return name
        flag = {"conventions": "convention", "properties": "no-properties"}.get(name, name)
        prefix: str = self.value
        return prefix + flag.replace("_", "-")


@dataclass(frozen=True)
class Options:
    """Everything a run is held to and how it runs; checked when built (OptionError names the option).

    Attributes
    ----------
    golden
        The golden set: a bundled version name (``v3``), or the folder of a user's set (``tests/golden``);
        or several, as a tuple, each a group of its own in every report (stored as a tuple: ``sets``).
    root
        The folder holding the bundled versions (None: the package's own).
    cases
        Only the golden cases whose name matches this glob.
    timeout
        Seconds each call and each golden case may take; a property gets ten times this.
    examples
        Hypothesis examples per property (None: each property's own number).
    seed
        The properties' examples (None: fresh each run; a batch draws one): one seed, the same examples for
        every implementation and on every rerun (``golden.harness._batch``).
    properties
        Whether the property suite runs after the golden cases.
    precision
        The precision to judge in (None: the class's declared one, else its forward's dtype).
    activations
        The activations an assignment requires (``("leaky_relu", "sigmoid")``; a string is split at its
        commas): a case of one the class does not declare fails, as a case of Leaky ReLU, the protocol's
        own, always does, where it would be skipped (not applicable) if not required.
    conventions
        Conventions to hold the implementation to (``{"loss": "mean"}``), over the class's own.
    sandbox, max_memory
        The isolation level (auto, on, off) and the bytes of data its process may use.
    format, jobs, output, weights
        The report's format, the IMPLs graded at once, where the report is written, a weights file.
    feedback
        How much every report says of each outcome (``FEEDBACK``): ``full``, ``stage`` (the case, the
        stage, the mistake, never a value) or ``score`` (passed or failed); see ``golden.feedback``.
    visibility
        Gradescope's visibility of each set's tests (``{"grader/hidden": "hidden"}``); ``visible`` when
        not given.
    cache
        A batch's folder of authenticated outcomes, so that a rerun grades only what changed.
    scheduler, cluster
        Where a batch's submissions are graded: a running Dask scheduler's address (``tls://host:8786``),
        or ``local`` (a LocalCluster of ``jobs`` workers); None for both: this machine's own workers.
    similarity
        The threshold (0 to 1) above which a pair of a batch's submissions is reported as similar; None:
        no similarity report.
    front
        Who built these options: how each option is spelled in a message.
    """

    golden: str | tuple[str, ...] = CURRENT
    root: Path | None = None
    cases: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    examples: int | None = None
    seed: int | None = None
    properties: bool = True
    precision: str | None = None
    activations: tuple[str, ...] = ()
    conventions: Mapping[str, str] = field(default_factory=dict)
    sandbox: str = "auto"
    max_memory: int = DEFAULT_MEMORY
    format: str = "text"
    jobs: int = 1
    output: str | None = None
    weights: str | None = None
    feedback: str = FULL
    visibility: Mapping[str, str] = field(default_factory=dict)
    cache: str | None = None
    scheduler: str | None = None
    cluster: str | None = None
    similarity: float | None = None
    front: Front = Front.PYTHON

    def __post_init__(self) -> None:
        spell = self.front.spell
        t = self.timeout
        if not (_number(t) and math.isfinite(t) and 0 < t <= MAX_TIMEOUT):
            shown = f"{t:g}" if _number(t) else repr(t)
            raise OptionError(
                f"{spell('timeout')} is {shown}; expected a number of seconds > 0 and at most {MAX_TIMEOUT:g}"
            )
        e = self.examples
        if e is not None and not (_integer(e) and 1 <= e <= MAX_EXAMPLES):
            raise OptionError(f"{spell('examples')} is {e!r}; expected an integer from 1 to {MAX_EXAMPLES:,}")
        seed = self.seed
        if seed is not None and not (_integer(seed) and 0 <= seed < MAX_SEED):
            raise OptionError(f"{spell('seed')} is {seed!r}; expected an integer from 0 to 2**64 - 1")
        if self.precision is not None:
            _one_of(self.precision, tuple(PRECISIONS), spell("precision"))
        object.__setattr__(self, "activations", check_activations(self.activations, spell("activations")))
        golden = (self.golden,) if isinstance(self.golden, str) else self.golden
        if not (isinstance(golden, tuple | list) and golden and all(isinstance(g, str) for g in golden)):
            raise OptionError(f"{spell('golden')} is {self.golden!r}; expected a set's name, or several")
        if twice := sorted({g for g in golden if golden.count(g) > 1}):
            raise OptionError(f"{spell('golden')} {twice[0]} is given twice; give each set once")
        object.__setattr__(self, "golden", tuple(golden))
        for name in ("cases", "output", "weights", "cache", "scheduler"):
            value = getattr(self, name)
            if not (isinstance(value, str) or value is None):
                raise OptionError(f"{spell(name)} is {value!r}; expected a string")
        root: Any = self.root
        if not (root is None or isinstance(root, Path)):
            raise OptionError(f"{spell('root')} is {root!r}; expected a folder (a str or a Path)")
        conventions = check_conventions(self.conventions, spell("conventions"))
        object.__setattr__(self, "conventions", MappingProxyType(conventions))  # frozen, as the rest
        _one_of(self.sandbox, SANDBOX_LEVELS, spell("sandbox"))
        _one_of(self.format, FORMATS, spell("format"))
        if not (_integer(self.jobs) and self.jobs >= 1):
            raise OptionError(f"{spell('jobs')} is {self.jobs!r}; expected at least 1")
        memory = self.max_memory
        if not (_integer(memory) and MIN_MEMORY <= memory <= MAX_MEMORY):
            shown = f"{memory / MiB:g}M" if _integer(memory) else repr(memory)
            raise OptionError(
                f"{spell('max_memory')} is {shown}; expected a size of at least 64M "
                "(bytes, or text such as 2G)"
            )
        if not isinstance(self.properties, bool):
            raise OptionError(f"{spell('properties')} is {self.properties!r}; expected True or False")
        _one_of(self.feedback, FEEDBACK, spell("feedback"))
        visibility = check_visibility(self.visibility, self.sets, spell("visibility"))
        object.__setattr__(self, "visibility", MappingProxyType(visibility))
        self._check_batch()

    def _check_batch(self) -> None:
        """The options of a batch's engine and reports: --scheduler, --cluster, --similarity."""
        spell = self.front.spell
        if self.cluster is not None:
            _one_of(self.cluster, CLUSTERS, spell("cluster"))
        if self.cluster is not None and self.scheduler is not None:
            raise OptionError(f"{spell('scheduler')} and {spell('cluster')} are given; give one of them")
        if self.scheduler is not None and not self.scheduler.startswith("tls://"):
            raise OptionError(
                f"{spell('scheduler')} is {short(self.scheduler, 60)!r}; expected a TLS address such as "
                "tls://host:8786 (anyone who reaches an open scheduler can run code on its workers)"
            )
        s = self.similarity
        if s is not None and not (_number(s) and 0 < s <= 1):
            raise OptionError(f"{spell('similarity')} is {s!r}; expected a threshold above 0 and at most 1")

    @property
    def sets(self) -> tuple[str, ...]:
        """The golden sets to judge against, in order: bundled version names and folders of a user's sets."""
        return (self.golden,) if isinstance(self.golden, str) else tuple(self.golden)

    @property
    def grading(self) -> bool:
        """Whether the format asks for a grade (csv, gradescope, prairielearn), even of a single IMPL."""
        return self.format in GRADING_FORMATS

    def isolation(self, grading: bool) -> Isolation:
        """The isolation these options ask for; SandboxError when ``on`` cannot be had here."""
        from golden.harness._sandbox import Limits, choose

        limits = Limits(memory=self.max_memory, threads=1 if grading else None)  # see sandbox.THREADS
        return choose(self.sandbox, grading, limits, self.front.spell("sandbox"))

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Options:
        """The Python API's options: keyword arguments named as the fields; ``max_memory`` may be ``"4G"``."""
        known = {f.name for f in fields(cls)} - {"front"}
        for name in kwargs:
            if name not in known:
                raise OptionError(f"unknown option {name!r}; expected one of {', '.join(sorted(known))}")
        if isinstance(kwargs.get("max_memory"), str):
            kwargs["max_memory"] = parse_size(kwargs["max_memory"], "max_memory")
        if isinstance(kwargs.get("root"), str):
            kwargs["root"] = Path(kwargs["root"])
        if kwargs.get("max_memory") is None:
            kwargs.pop("max_memory", None)
        return cls(**{k: v for k, v in kwargs.items() if not (k == "conventions" and v is None)})

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        """The CLI's options, from a parsed command line (each subcommand has the options it shows)."""
        return cls._from(lambda name: getattr(args, name, None), Front.CLI)

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> Options:
        """The pytest plugin's options, from ``--neuron-*``."""
        return cls._from(lambda name: config.getoption(f"neuron_{name}", None), Front.PYTEST)

    @classmethod
    def _from(cls, get: Any, front: Front) -> Options:
        size = get("max_memory")
        given = {
            "golden": tuple(g) if isinstance(g := get("golden"), list) else g,
            "root": Path(get("root")) if get("root") else None,
            "cases": get("cases"),
            "timeout": get("timeout"),
            "examples": get("examples"),
            "seed": get("seed"),
            "properties": not get("no_properties"),
            "precision": get("precision"),
            "activations": get("activations"),
            "conventions": parse_conventions(get("convention"), front.spell("conventions")),
            "sandbox": get("sandbox"),
            "max_memory": parse_size(size, front.spell("max_memory")) if size else None,
            "format": get("format"),
            "jobs": get("jobs"),
            "output": get("output"),
            "weights": get("weights"),
            "feedback": get("feedback"),
            "visibility": parse_visibility(get("visibility"), front.spell("visibility")),
            "cache": get("cache"),
            "scheduler": get("scheduler"),
            "cluster": get("cluster"),
            "similarity": get("similarity"),
        }
        return cls(**{k: v for k, v in given.items() if v is not None}, front=front)


def check_conventions(conventions: Mapping[str, Any], where: str) -> dict[str, str]:
    """`conventions` checked: every key known, every value one of its values; OptionError naming `where`."""
    if not isinstance(conventions, Mapping):
        raise OptionError(f"{where} is {type(conventions).__name__}; expected a dict of convention names")
    for key, value in conventions.items():
        if key not in CONVENTIONS:
            raise OptionError(f"{where}: unknown convention {key!r}; known: {', '.join(CONVENTIONS)}")
        if value not in CONVENTIONS[key]:
            raise OptionError(f"{where}: {key} is {value!r}; expected one of {', '.join(CONVENTIONS[key])}")
    return {str(k): str(v) for k, v in conventions.items()}


def check_activations(activations: Any, where: str) -> tuple[str, ...]:
    """`activations` (names, or one string of them separated by commas) as a tuple of known activation
    names (``oracle.exact.ACTIVATIONS``), each once; OptionError naming `where` and the name."""
    names = activations.split(",") if isinstance(activations, str) else activations
    if not (isinstance(names, tuple | list) and all(isinstance(a, str) for a in names)):
        raise OptionError(f"{where} is {activations!r}; expected activation names, e.g. leaky_relu,sigmoid")
    names = [name.strip() for name in names]
    for name in names:
        if name not in ACTIVATIONS:
            shown = repr(short(name, 40)) if name else "an empty name"
            raise OptionError(f"{where}: {shown} is not an activation; expected {', '.join(ACTIVATIONS)}")
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise OptionError(f"{where}: {twice[0]} is given twice; give each activation once")
    return tuple(names)


def check_visibility(visibility: Mapping[str, Any], sets: tuple[str, ...], where: str) -> dict[str, str]:
    """`visibility` checked: every key one of `sets`, every value one of ``VISIBILITIES``; OptionError
    naming `where` and the set or value."""
    if not isinstance(visibility, Mapping):
        raise OptionError(f"{where} is {type(visibility).__name__}; expected a dict of set names")
    for key, value in visibility.items():
        if key not in sets:
            raise OptionError(
                f"{where}: {key!r} is not a golden set of this run; the sets are {', '.join(sets)}"
            )
        if value not in VISIBILITIES:
            raise OptionError(f"{where}: {key} is {value!r}; expected one of {', '.join(VISIBILITIES)}")
    return {str(k): str(v) for k, v in visibility.items()}


def parse_visibility(items: list[str] | None, flag: str) -> dict[str, str]:
    """``["grader/hidden=hidden", …]`` from a command line, as ``{"grader/hidden": "hidden"}`` (checked
    with the options); a set named twice is refused."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.rpartition("=")
        if not sep or not key:
            raise OptionError(f"{flag} {item!r}: expected SET=VISIBILITY, e.g. {flag} grader/hidden=hidden")
        if key in out:
            raise OptionError(f"{flag} {key} is given twice; give each set once")
        out[key] = value
    return out


def check_precision(precision: Any, where: str) -> str:
    """A precision the bounds cover (a class's declared ``precision``); OptionError naming `where`."""
    _one_of(precision, tuple(PRECISIONS), where)
    return str(precision)


def parse_conventions(items: list[str] | None, flag: str) -> dict[str, str]:
    """``["loss=mean", …]`` from a command line, as ``{"loss": "mean"}`` (checked with the options)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise OptionError(f"{flag} {item!r}: expected KEY=VALUE, e.g. {flag} derivative_at_zero=alpha")
        out[key.strip()] = value.strip()
    return out


def parse_size(text: str, flag: str) -> int:
    """``2G``, ``512M``, ``1073741824``: a number of bytes (K, M, G, T are powers of 1024)."""
    units = {"K": 1 << 10, "M": MiB, "G": GiB, "T": 1 << 40}
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    scale = units.get(raw[-1:], 1)
    number = raw[:-1] if raw[-1:] in units else raw
    try:
        value = float(number) * scale
    except ValueError:
        raise OptionError(f"{flag} is {text!r}; expected a size such as 2G, 512M or 1073741824") from None
    if not math.isfinite(value):
        raise OptionError(f"{flag} is {text!r}; expected a size such as 2G, 512M or 1073741824")
    return int(value)  # its range is checked with the other options (Options.__post_init__)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_of(value: Any, allowed: tuple[str, ...], where: str) -> None:
    if not (isinstance(value, str) and value in allowed):
        raise OptionError(f"{where} is {value!r}; expected one of {', '.join(allowed)}")

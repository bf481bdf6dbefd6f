"""A property's examples in batches: Hypothesis draws them here, and many examples cost one round trip.

A property is written as a *plan*: a generator function of the arguments Hypothesis draws. It yields the
ops it needs (a tuple of ``proxy.Op``), is sent back a ``proxy.Pending`` for them, and asserts on their
values; it may yield again (a request that depends on the first one's answers). A plan draws from
``st.data()`` and rejects an example (``reject_unless``, Hypothesis's ``assume`` where Hypothesis may not be
running) only before its first yield: after it, the example has left Hypothesis.

``check`` runs a plan in up to three steps:

1. Hypothesis draws the examples; each plan runs up to its first request, which is kept, not sent. With a
   fixed seed (``seeded``, or a derandomizing profile) the examples depend on nothing the implementation
   answers, only on what it is judged in: they are drawn once per process and replayed for every later
   implementation judged the same way (``_kept.Drawn``), so that a batch's submissions cost Hypothesis once.
2. Every ``CHUNK`` examples (``_chunk``), their requests go to the child in one message, and the child
   answers them one by one. Each plan resumes with its ``Pending``: it computes the oracle's values while
   the child is still computing, then judges. The requests a round of plans yields form the next round.
   With a fixed seed, an example given, byte for byte, the replies on which it passed before ends there
   unjudged (``_kept.Ended``): a batch's correct submissions mostly answer alike, and are judged once.
   Each request is kept as the bytes sent (``_kept.Requests``): the next implementation is sent them,
   round after round, without the example being read or its plan started, until a reply differs.
3. Only when an example fails: the plan runs again under Hypothesis from the same seed, example by example,
   so that Hypothesis finds the failure and shrinks it, as it reports any other, for ``SHRINK_BUDGET``
   examples past the first failure at most (``_shrinking``). If that run passes (an implementation that
   fails only now and then), the failure step 2 found is raised as it was found. Each run is kept
   (``_kept.Runs``): a later implementation that fails the same example in the same way is judged on the
   run's examples in batches instead, and when each gives what it gave then, the property ends where
   that run ended, without Hypothesis (``_kept.replay``): a batch's repeated mistake is shrunk once.

Why: a round trip per example made validate's properties cost more in waiting than in checking (issue
10; ``benchmarks/validate.py`` measures it). The verdict is the same: every example is judged here, on the
implementation's own answers, and a failure is reported through Hypothesis whenever it can be replayed.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import pickle
import secrets
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable, UnsatisfiedAssumption

from golden._text import first_line, short
from golden.harness._chunk import Batch, Found
from golden.harness._constants import no_local_constants
from golden.harness._kept import DRAWN, Key, Plan, Recording, replay
from golden.harness._process import Lost
from golden.harness._proxy import Remote
from golden.harness._shrinking import FOUND, Enough, Shrinking, found
from golden.harness._subject import Subject

# Hypothesis keeps what it stores (no example database here, but caches) in a folder of this process's own,
# removed at exit: never .hypothesis/ in the working folder.
_STORAGE = tempfile.mkdtemp(prefix="neuron-oracle-hypothesis-")
set_hypothesis_home_dir(_STORAGE)
atexit.register(shutil.rmtree, _STORAGE, True)

QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

# Numeric code: no deadline (a first call may compile or warm a cache), no health check for slow data,
# no example database (nothing is written to the user's working directory), one failure reported.
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, suppress_health_check=QUIET, database=None
)
settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=QUIET, database=None)
if os.environ.get("HYPOTHESIS_PROFILE") in ("ci", "dev"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

HYPOTHESIS_NOTES = ("Falsifying", "Failing")  # how Hypothesis's own notes word a shrunk example
_SEED: ContextVar[int | None] = ContextVar("neuron_oracle_seed", default=None)


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Within it, every ``check`` draws its examples from `seed` (None: as the profile says): the same seed
    gives the same examples to every implementation judged the same way, in any process."""
    token = _SEED.set(seed)
    try:
        yield
    finally:
        _SEED.reset(token)


def check(
    subject: Subject,
    plan: Callable[..., Plan],
    max_examples: int | None,
    **strategies: st.SearchStrategy[Any],
) -> None:
    """Run `plan` on the examples Hypothesis draws from `strategies`; AssertionError (or the implementation's
    ``Raised``) with Hypothesis's report of the failing example when one fails."""
    # No explain phase: it reruns a shrunk failure hundreds of times to annotate which parts vary, which
    # no report of ours shows, and it took most of a failing property's time (39 s of 40 for one).
    phases = tuple(phase for phase in settings().phases if phase is not Phase.explain)
    chosen = settings(
        deadline=None, suppress_health_check=QUIET, database=None, report_multiple_bugs=False, phases=phases
    )
    if max_examples is not None:
        chosen = settings(chosen, max_examples=max_examples)
    given_seed = _SEED.get()
    start = seed_for(plan, chosen, given_seed)
    fixed = given_seed is not None or chosen.derandomize  # the examples are known before they are drawn
    key = _key(subject, plan, chosen, start, strategies) if fixed else None
    batch = Batch(subject.remote, subject.helper, plan, key)

    def hypothesis(test: Callable[..., None]) -> Callable[[], None]:
        return _under_hypothesis(test, plan, chosen, start, strategies)

    _judge_all(batch, plan, key, hypothesis)
    if batch.failure is None:
        if batch.drawn_in_all and not batch.judged:
            raise Unsatisfiable(f"none of the {batch.drawn_in_all} examples drawn could be judged")
        return
    with contextlib.suppress(Lost):  # the replay ran out of time, or the child ended: the failure stands
        _shrink(subject.remote, plan, key, batch, hypothesis)
    raise batch.failure


def _shrink(
    remote: Remote,
    plan: Callable[..., Plan],
    key: Key | None,
    batch: Batch,
    hypothesis: Callable[[Callable[..., None]], Callable[[], None]],
) -> None:
    """Step 3: raises the failure to report, found by a run kept for `key` (``_kept.replay``) or else by
    Hypothesis, whose run is kept; returns when neither meets a failure again."""
    assert batch.failure is not None
    replayed = replay(remote, plan, key, batch.failure, batch.failed_on)
    if replayed is not None:
        if replayed.error is not None and replayed.example is not None:
            if replayed.end == "enough":
                found(replayed.error, replayed.example)
            raise replayed.error
        return
    shrinking = Shrinking(remote, plan)

    def live(**example: Any) -> None:
        shrinking.live(**example)

    try:
        hypothesis(live)()
    except Enough:
        shrinking.keep(key, "enough")
        raise shrinking.smallest() from None
    except Exception as e:
        shrinking.keep(key, "raised", e)
        raise
    shrinking.keep(key, "passed")


def _judge_all(
    batch: Batch,
    plan: Callable[..., Plan],
    key: Key | None,
    hypothesis: Callable[[Callable[..., None]], Callable[[], None]],
) -> None:
    """Steps 1 and 2: every example drawn (by `hypothesis` around a test, or replayed from ``DRAWN`` when
    its `key` was drawn before) and judged in batches, until the first failure (``batch.failure``)."""
    known = DRAWN.get(key)
    recorded: list[bytes] | None = None if known is not None or key is None else []

    def collect(**example: Any) -> None:
        if recorded is not None and "data" in example:
            example["data"] = Recording(example["data"])
        batch.add(plan(**example), example)
        if recorded is not None:
            recorded.append(pickle.dumps(example))

    with batch.helper.batching(), contextlib.suppress(Found):  # Found: an example failed, step 1 ends there
        if known is not None:
            for blob in known:
                if not batch.add_sent(blob):  # no first request kept for it
                    collect(**pickle.loads(blob))  # drawn here, by this code: nobody else's bytes
        else:
            hypothesis(collect)()
            if key is not None and recorded is not None:
                DRAWN.keep(key, recorded)  # every example was drawn: none failed before the last
        batch.flush()


def seed_for(plan: Callable[..., Plan], chosen: settings, given: int | None = None) -> int:
    """The seed of steps 1 and 3 (the same examples in both): from the `given` seed and the plan's name
    when there is one (each property its own examples, the same for every implementation), else fixed
    per plan when the profile derandomizes, else fresh from the OS (not from the random module, which the
    caller may have seeded). Hypothesis's ``@seed`` takes it, overriding ``derandomize``."""
    if given is not None:
        digest = hashlib.sha256(f"{given}/{plan.__qualname__}".encode()).digest()
        return int.from_bytes(digest[:8], "big")
    return zlib.crc32(plan.__qualname__.encode()) if chosen.derandomize else secrets.randbits(64)


def _key(
    subject: Subject,
    plan: Callable[..., Plan],
    chosen: settings,
    start: int,
    strategies: dict[str, st.SearchStrategy[Any]],
) -> Key:
    """What a plan's examples depend on: the plan, its seed and settings, and what the strategies and the
    plan's start read of the subject (the precision, the activations declared, the conventions)."""
    conventions = tuple(sorted(subject.conventions.items()))
    where = (plan.__module__, plan.__qualname__, start, repr(chosen), tuple(strategies))
    return (*where, subject.precision, subject.activations, conventions)


def reject_unless(condition: Any) -> None:
    """Hypothesis's ``assume`` for a plan's start: rejects the example unless `condition`, under Hypothesis
    (which takes UnsatisfiedAssumption for a rejection) and in a replay of step 1's examples alike."""
    if not condition:
        raise UnsatisfiedAssumption


def _under_hypothesis(
    test: Callable[..., None],
    plan: Callable[..., Plan],
    chosen: settings,
    start: int,
    strategies: dict[str, st.SearchStrategy[Any]],
) -> Callable[[], None]:
    """`test` as a Hypothesis test named and signed like `plan`, drawing from `strategies`, seeded `start`,
    and from nothing else (``no_local_constants``)."""
    named: Callable[..., None] = functools.wraps(plan)(test)
    drawing: Callable[[], None] = seed(start)(chosen(given(**strategies)(named)))

    def run() -> None:
        with no_local_constants():
            drawing()

    return run


def describe_failure(e: BaseException, prefix: str = "") -> str:
    """The failure's first line, then the example: as the batch found it, or as Hypothesis's own note
    words it after shrinking (its words, not ours: ``Falsifying example: …``)."""
    first = first_line(e)
    notes = [n for n in getattr(e, "__notes__", []) if n.startswith(HYPOTHESIS_NOTES)]
    example = getattr(e, FOUND, None) or next(iter(notes), "")
    return short(" ".join("; ".join(x for x in (prefix, first, example) if x).split()), 400)

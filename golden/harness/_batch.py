"""A property's examples in batches: Hypothesis draws them here, and many examples cost one round trip.

A property is written as a *plan*: a generator function of the arguments Hypothesis draws. It yields the
ops it needs (a tuple of ``proxy.Op``), is sent back a ``proxy.Pending`` for them, and asserts on their
values; it may yield again (a request that depends on the first one's answers). A plan draws from
``st.data()`` and calls ``assume`` only before its first yield: after it, the example has left Hypothesis.

``check`` runs a plan in up to three steps:

1. Hypothesis draws the examples; each plan runs up to its first request, which is kept, not sent.
2. Every ``CHUNK`` examples, their requests go to the child in one message, and the child answers them one
   by one. Each plan resumes with its ``Pending``: it computes the oracle's values while the child is still
   computing, then judges. The requests a round of plans yields form the next round.
3. Only when an example fails: the plan runs again under Hypothesis from the same seed, example by example,
   so that Hypothesis finds the failure and shrinks it, as it reports any other. If that run passes (an
   implementation that fails only now and then), the failure step 2 found is raised as it was found.

Why: a round trip per example made validate's properties cost more in waiting than in checking (issue
10; ``benchmarks/validate.py`` measures it). The verdict is the same: every example is judged here, on the
implementation's own answers, and a failure is reported through Hypothesis whenever it can be replayed.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import secrets
import shutil
import tempfile
import zlib
from collections.abc import Callable, Generator
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable, UnsatisfiedAssumption

from golden._text import short
from golden.harness._beside import Beside
from golden.harness._process import Lost
from golden.harness._proxy import Op, Pending, Remote
from golden.harness._subject import Subject

# Hypothesis keeps what it stores (no example database here, but caches) in a folder of this process's own,
# removed at exit: never .hypothesis/ in the working folder.
_STORAGE = tempfile.mkdtemp(prefix="neuron-oracle-hypothesis-")
set_hypothesis_home_dir(_STORAGE)
atexit.register(shutil.rmtree, _STORAGE, True)

CHUNK = 25  # examples per message: small enough to overlap drawing and the helper, 40 kB at most
QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
FOUND = "neuron_oracle_example"  # the attribute of a failure a batch found: the example, worded

Plan = Generator[tuple[Op, ...], Pending, None]


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
    start = seed_for(plan, chosen)
    remote, helper = subject.remote, subject.helper
    batch = Batch(remote, helper)

    def collect(**example: Any) -> None:
        batch.add(plan(**example), example)

    with helper.batching(), contextlib.suppress(Found):  # Found: an example failed, step 1 ends there
        _under_hypothesis(collect, plan, chosen, start, strategies)()
        batch.flush()
    if batch.failure is None:
        if batch.drawn_in_all and not batch.judged:
            raise Unsatisfiable(f"none of the {batch.drawn_in_all} examples drawn could be judged")
        return

    def live(**example: Any) -> None:
        replay(remote, plan(**example))

    with contextlib.suppress(Lost):  # the replay ran out of time, or the child ended: the failure stands
        _under_hypothesis(live, plan, chosen, start, strategies)()
    raise batch.failure


def seed_for(plan: Callable[..., Plan], chosen: settings) -> int:
    """The seed of steps 1 and 3 (the same examples in both): fixed per plan when the profile derandomizes,
    else fresh from the OS (not from the random module, which the caller may have seeded)."""
    return zlib.crc32(plan.__qualname__.encode()) if chosen.derandomize else secrets.randbits(64)


def replay(remote: Remote, steps: Plan) -> None:
    """Run one example's plan with a round trip per request (how step 3 replays it)."""
    try:
        ops = next(steps)
        while True:
            ops = steps.send(remote.send(*ops))
    except StopIteration:
        return


class Found(BaseException):
    """An example failed: step 1 ends there. A BaseException, so that Hypothesis lets it through instead of
    taking it for a failure of the example it is drawing."""


Started = tuple[Plan, tuple[Op, ...], dict[str, Any]]  # a plan at its first request, and its example


class Batch:
    """Plans started by Hypothesis and waiting for their first answers, judged CHUNK at a time.

    A chunk is judged once the next one is drawn: meanwhile the oracle's `helper` has
    computed the values its plans asked for with ``beside.Later``, on another core.
    """

    def __init__(self, remote: Remote, helper: Beside) -> None:
        self.remote, self.helper = remote, helper
        self.drawn: list[Started] = []  # being drawn; their oracle values are queued for the helper
        self.sent: list[Started] = []  # drawn; their oracle values are with the helper
        self.failure: Exception | None = None  # the first example that failed, its FOUND naming it
        self.drawn_in_all = 0  # examples Hypothesis drew and whose plan asked for something
        self.judged = 0  # examples whose plan ran to its end

    def add(self, steps: Plan, example: dict[str, Any]) -> None:
        """Start a plan (an ``assume`` there rejects the example, as Hypothesis does) and keep its request."""
        try:
            ops = next(steps)
        except StopIteration:
            return
        self.drawn.append((steps, ops, example))
        self.drawn_in_all += 1
        if len(self.drawn) >= CHUNK:
            self.rotate()
            if self.failure is not None:
                raise Found

    def rotate(self) -> None:
        """The chunk just drawn goes to the helper; the one drawn before it is judged."""
        ready, self.sent, self.drawn = self.sent, self.drawn, []
        self.helper.collect()  # the answers for `ready`, computed while this chunk was drawn
        self.helper.send()
        self.judge(ready)

    def flush(self) -> None:
        """Judge every chunk drawn (at the end of step 1)."""
        self.rotate()
        self.rotate()

    def judge(self, now: list[Started]) -> None:
        """Send the chunk's requests in one message and judge each example as its answers come, round after
        round, until every plan has finished or one has failed."""
        while now and self.failure is None:
            then = []
            for (steps, _, example), answers in zip(
                now, self.remote.send_each([r for _, r, _ in now]), strict=True
            ):
                try:
                    then.append((steps, steps.send(answers), example))
                except StopIteration:
                    self.judged += 1
                except UnsatisfiedAssumption:
                    continue  # out of the oracle's range: an example Hypothesis would redraw
                except Exception as e:  # AssertionError, Raised, or a plan's own error: step 3 replays it
                    setattr(e, FOUND, f"Failing example: {_describe(example)}")
                    self.failure = e
                    break
            now = then


def _under_hypothesis(
    test: Callable[..., None],
    plan: Callable[..., Plan],
    chosen: settings,
    start: int,
    strategies: dict[str, st.SearchStrategy[Any]],
) -> Callable[[], None]:
    """`test` as a Hypothesis test named and signed like `plan`, drawing from `strategies`, seeded `start`."""
    named: Callable[..., None] = functools.wraps(plan)(test)
    result: Callable[[], None] = seed(start)(chosen(given(**strategies)(named)))
    return result


def _describe(example: dict[str, Any]) -> str:
    drawn = ", ".join(f"{name}={value!r}" for name, value in example.items() if name != "data")
    return short(f"test({drawn})", 300)

"""Step 2 of a property's check (``golden.harness._batch``): examples judged ``CHUNK`` at a time, the requests
of a chunk in one message, round after round, each example as its answers come.

Under a fixed seed, what was kept for the implementations judged before decides what is sent and judged
(``golden.harness._kept``): an example given the replies on which it ended before ends there
(``ENDED``), and an example whose requests were sent before is sent them as bytes, its plan started only
when its replies differ (``REQUESTS``).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any, NamedTuple

from hypothesis.errors import UnsatisfiedAssumption

from golden.harness import _kept as kept
from golden.harness._beside import Beside
from golden.harness._kept import Key, Plan
from golden.harness._proxy import Op, Pending, Remote
from golden.harness._shrinking import found

CHUNK = 25  # examples per message: small enough to overlap drawing and the helper, 40 kB at most


class Found(BaseException):
    """An example failed: step 1 ends there. A BaseException, so that Hypothesis lets it through instead of
    taking it for a failure of the example it is drawing."""


class Started(NamedTuple):
    """A plan at a request, its example, the example's place among those drawn, the ``_kept.trail`` of
    the replies it was given so far, and those replies; or an example not started, pickled (`blob`), sent
    as its request the bytes kept for it (`ops`: ``_kept.REQUESTS``)."""

    steps: Plan | None
    ops: tuple[Op, ...] | bytes
    example: dict[str, Any] | None
    at: int
    trail: bytes = kept.NO_TRAIL
    blob: bytes = b""
    replies: tuple[Pending, ...] = ()


class Batch:
    """Plans started by Hypothesis and waiting for their first answers, judged CHUNK at a time.

    A chunk is judged once the next one is drawn: meanwhile the oracle's `helper` has
    computed the values its plans asked for with ``beside.Later``, on another core. Under a fixed seed
    (a `key`), an example given the very replies that made it pass before ends there (``_kept.ENDED``).
    """

    def __init__(
        self, remote: Remote, helper: Beside, plan: Callable[..., Plan], key: Key | None = None
    ) -> None:
        self.remote, self.helper, self.plan, self.key = remote, helper, plan, key
        self.drawn: list[Started] = []  # being drawn; their oracle values are queued for the helper
        self.sent: list[Started] = []  # drawn; their oracle values are with the helper
        self.failure: Exception | None = None  # the first example that failed, its FOUND naming it
        self.failed_on: dict[str, Any] = {}  # that example
        self.started = 0  # plans started and not rejected there: the place of the next example kept
        self.drawn_in_all = 0  # examples Hypothesis drew and whose plan asked for something
        self.judged = 0  # examples whose plan ran to its end

    def add(self, steps: Plan, example: dict[str, Any]) -> None:
        """Start a plan (an ``assume`` there rejects the example, as Hypothesis does) and keep its request.

        An example rejected there takes no place: ``DRAWN`` keeps only the others, so an example's place
        is the same when drawn and when replayed (``_kept.ENDED`` knows it by its place)."""
        at = self.started
        try:
            with self.remote.naming(f"{at}.0."):
                ops = next(steps)
        except StopIteration:
            self.started += 1
            return
        self.started += 1
        self._added(Started(steps, ops, example, at))

    def add_sent(self, blob: bytes) -> bool:
        """Add the example pickled as `blob` by the first request kept for it (``_kept.REQUESTS``), its plan
        not started; False when none is kept."""
        data = kept.REQUESTS.get(self.key, self.started, kept.NO_TRAIL)
        if data is None:
            return False
        self.started += 1
        self._added(Started(None, data, None, self.started - 1, blob=blob))
        return True

    def _added(self, started: Started) -> None:
        self.drawn.append(started)
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
            for started, answers in zip(now, self.remote.send_each([s.ops for s in now]), strict=True):
                at, given = started.at, kept.trail(started.trail, answers.wait())
                kept.REQUESTS.keep(self.key, at, started.trail, answers.data)
                end = kept.ENDED.get(self.key, at, given)
                if end is not None:
                    if started.steps is not None:
                        started.steps.close()
                    self.judged += end == kept.PASSED
                    continue
                if started.steps is None:  # sent as the bytes kept
                    sent = kept.REQUESTS.get(self.key, at, given)
                    if sent is not None:  # its next request is kept too: its plan is still not started
                        then.append(
                            started._replace(ops=sent, trail=given, replies=(*started.replies, answers))
                        )
                        continue
                    started, adopted = self._restart(started, answers)  # its plan starts on the replies
                    if adopted is None:  # it asked for other calls: sent in the next round, from its start
                        then.append(started)
                        continue
                    answers = adopted
                steps = started.steps
                assert steps is not None
                try:
                    with self.remote.naming(f"{at}.{len(started.replies) + 1}."):
                        ops = steps.send(answers)
                    then.append(
                        Started(steps, ops, started.example, at, given, replies=(*started.replies, answers))
                    )
                except StopIteration:
                    self._ended(at, given, kept.PASSED)
                except UnsatisfiedAssumption:  # out of the oracle's range: an example Hypothesis would redraw
                    self._ended(at, given, kept.REJECTED)
                except Exception as e:  # AssertionError, Raised, or a plan's own error: step 3 replays it
                    example = started.example or {}
                    found(e, example)
                    self.failure, self.failed_on = e, example
                    break
            now = then

    def _ended(self, at: int, given: bytes, end: str) -> None:
        """The example at `at` ended as `end` on the replies `given` digests."""
        self.judged += end == kept.PASSED
        kept.ENDED.keep(self.key, at, given, end)

    def _restart(self, started: Started, answers: Pending) -> tuple[Started, Pending | None]:
        """The plan of an example sent as the bytes kept, started on its example and given its replies so
        far, each as the answer to the very calls it makes (``Remote.adopt``), with `answers`, adopted
        likewise, as its current request's; when it makes other calls, the plan started afresh, to be sent
        (and None): nothing is judged on the answers to other calls."""
        example = pickle.loads(started.blob)  # drawn here, by this code: nobody else's bytes
        steps = self.plan(**example)
        again = self._replayed(steps, started, (*started.replies, answers))
        if again is not None:
            return started._replace(steps=steps, ops=again[0], example=example), again[1]
        steps.close()
        example = pickle.loads(started.blob)  # afresh: the first plan's draws used up the example's values
        steps = self.plan(**example)
        with self.remote.naming(f"{started.at}.0."):
            ops = next(steps)
        return Started(steps, ops, example, started.at, blob=started.blob), None

    def _replayed(
        self, steps: Plan, started: Started, replies: tuple[Pending, ...]
    ) -> tuple[Any, Pending] | None:
        """`steps` given `replies` in turn, each adopted as the answer to the calls it makes then: its last
        ops and the last reply adopted; None when it makes other calls, or ends or raises where it went on
        before."""
        try:
            with self.remote.naming(f"{started.at}.0."):
                ops = next(steps)
            for round_, sent in enumerate(replies):
                adopted = self.remote.adopt(ops, sent)
                if adopted is None or round_ == len(replies) - 1:
                    return None if adopted is None else (ops, adopted)
                with self.remote.naming(f"{started.at}.{round_ + 1}."):
                    ops = steps.send(adopted)
        except Exception:  # StopIteration, or a failure: not what this plan did on these replies before
            return None
        return None

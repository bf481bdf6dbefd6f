"""What a property's check (``golden.harness._batch``) keeps for the next implementation judged the same way:
the examples step 1 drew (``Drawn``), and the runs of step 3 (``Runs``), so that a batch's repeated
mistakes cost Hypothesis once; where step 2's examples ended (``Ended``) and the requests they sent
(``Requests``), so that a batch's repeated answers cost neither judging nor the plans' own work.

Under a fixed seed, what Hypothesis runs in step 3 depends only on what each example it runs gives: it
passes, is rejected, or fails, and a failure is told apart by its exception's type and where it was
raised (Hypothesis's "interesting origin": the type, the innermost frame, the same of its context). A run
is kept as every example it ran, in order, each with what it gave (``what``: the type and every frame
below the one that caught it, a finer distinction than Hypothesis's), and how it ended. A later
implementation whose step 2 failed on that run's first failing example, in the same way, is judged on the
run's examples from there on, ``CHUNK`` at a time (``replay``): when every one gives what it gave
before, Hypothesis would have run exactly these examples on it, in this order, and ended where the run
ended; the property then ends there, with this implementation's own failure. At the first example that
gives anything else, the replay stops and Hypothesis runs as before. So a replay never decides a verdict
(step 2 did) and reports the example Hypothesis would have reported: its cost is a batch of examples, not
Hypothesis's shrinker.
"""

from __future__ import annotations

import hashlib
import pickle
import traceback
from collections import OrderedDict
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import UnsatisfiedAssumption

from golden.harness._proxy import Op, Pending, Remote

Key = tuple[Any, ...]
Plan = Generator[tuple[Op, ...], Pending, None]
Sig = Hashable  # what an example gave: None (it passed), REJECTED, or a failure's type and frames
REJECTED = "rejected"
CHUNK = 25  # examples per message, as step 2 sends them


class Drawn:
    """Step 1's examples, per plan and what they were drawn for, as pickles (a copy for each replay), the
    most recently used kept up to ``LIMIT`` bytes: a batch's kinds of implementation (one or a few) take
    a few MiB."""

    LIMIT = 64 * 2**20

    def __init__(self) -> None:
        self._examples: OrderedDict[Key, list[bytes]] = OrderedDict()
        self.size = 0
        self.fresh: list[Key] = []  # kept since the last ``_share.export``: what other workers lack
        self.journal = False  # whether to note what is fresh: only a pool's worker exports (``_share``)

    def get(self, key: Key | None) -> list[bytes] | None:
        """The examples drawn for `key`, or None."""
        if key is None or key not in self._examples:
            return None
        self._examples.move_to_end(key)
        return self._examples[key]

    def keep(self, key: Key, examples: list[bytes], fresh: bool = True) -> None:
        """Keep `examples` for `key` (`fresh`: drawn here, not had from another worker); the least
        recently used go past ``LIMIT``."""
        if key in self._examples:
            return
        self._examples[key] = examples
        if fresh and self.journal:
            self.fresh.append(key)
        self.size += sum(map(len, examples))
        while self.size > self.LIMIT and len(self._examples) > 1:
            _, old = self._examples.popitem(last=False)
            self.size -= sum(map(len, old))

    def clear(self) -> None:
        """Forget every example (the next check draws them again)."""
        self._examples.clear()
        self.fresh.clear()
        self.size = 0


DRAWN = Drawn()


class Recording:
    """A property's ``st.data()`` that remembers what it drew, so that the example pickles as its values."""

    def __init__(self, data: st.DataObject) -> None:
        self._data, self._drawn = data, Replay([])

    def draw(self, strategy: st.SearchStrategy[Any], label: Any = None) -> Any:
        value = self._data.draw(strategy, label=label)
        self._drawn.values.append(value)
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (Replay, (self._drawn.values,))


class Replay:
    """``st.data()`` of an example drawn before: each draw gives the value drawn then, in turn."""

    def __init__(self, values: list[Any]) -> None:
        self.values, self._at = values, 0

    def __reduce__(self) -> tuple[Any, ...]:
        return (Replay, (self.values,))  # as a recording pickles: the same example, the same bytes

    def draw(self, strategy: st.SearchStrategy[Any], label: Any = None) -> Any:
        value, self._at = self.values[self._at], self._at + 1
        return value


def what(e: BaseException | None, depth: int = 0) -> Sig:
    """What an example gave: None when it passed (`e` is None), REJECTED for a rejection, else the failure's
    type and the frames it went through below the one that caught it, and the same of its context."""
    if e is None:
        return None
    if isinstance(e, UnsatisfiedAssumption):
        return REJECTED
    frames = tuple((f.f_code.co_filename, line) for f, line in traceback.walk_tb(e.__traceback__))[1:]
    context = what(e.__context__, depth + 1) if e.__context__ is not None and depth < 8 else None
    return (type(e).__module__, type(e).__qualname__, frames, context)


@dataclass
class Run:
    """One run of step 3: every example Hypothesis ran, pickled, with what it gave, and how it ended:
    ``raised`` (Hypothesis reported the last example's failure, with its `notes`), ``enough`` (the
    shrinking budget ran out: the last failure met is reported) or ``passed`` (no failure met again)."""

    tried: list[tuple[bytes, Sig]]
    end: str = "passed"
    notes: tuple[str, ...] = ()
    first: int = field(init=False)  # the index of the first failure, -1 when none

    def __post_init__(self) -> None:
        self.first = next((i for i, (_, s) in enumerate(self.tried) if s not in (None, REJECTED)), -1)


class Runs:
    """Step 3's runs by what their examples were drawn for (``Drawn``'s key), the most recent first, a few
    per key (one per kind of mistake met), up to ``LIMIT`` bytes of examples in all."""

    LIMIT = 16 * 2**20
    PER_KEY = 8

    def __init__(self) -> None:
        self._runs: OrderedDict[Key, list[Run]] = OrderedDict()
        self.size = 0
        self.fresh: list[tuple[Key, Run]] = []  # kept since the last ``_share.export``
        self.journal = False  # as ``Drawn.journal``

    def get(self, key: Key | None) -> list[Run]:
        """The runs kept for `key`, the most recent first."""
        if key is None or key not in self._runs:
            return []
        self._runs.move_to_end(key)
        return list(self._runs[key])

    def keep(self, key: Key, run: Run, fresh: bool = True) -> None:
        """Keep `run` for `key` (`fresh`: run here); the oldest go past PER_KEY for a key, or LIMIT in all."""
        if run.first < 0:
            return  # no failure met: nothing to replay from
        if fresh and self.journal:
            self.fresh.append((key, run))
        runs = self._runs.setdefault(key, [])
        self._runs.move_to_end(key)
        runs.insert(0, run)
        self.size += _size(run)
        while len(runs) > self.PER_KEY:
            self.size -= _size(runs.pop())
        while self.size > self.LIMIT and len(self._runs) > 1:
            _, old = self._runs.popitem(last=False)
            self.size -= sum(map(_size, old))

    def clear(self) -> None:
        """Forget every run."""
        self._runs.clear()
        self.fresh.clear()
        self.size = 0


def _size(run: Run) -> int:
    return sum(len(blob) for blob, _ in run.tried)


RUNS = Runs()


class Ended:
    """Where step 2's examples ended, by the replies the implementation gave them: an example whose plan,
    given these very bytes, passed (``PASSED``) or rejected them (``REJECTED``) ends so again, without
    being read or judged, since a plan is a function of its example and of the replies it is given.

    Kept by the key its examples were drawn for (``Drawn``'s), the example's place among them, and the
    ``trail``: a digest of every reply it was given, in order (``trail``). A failure is never kept: it
    is judged, and step 3 reports it. The most recently used ``LIMIT`` trails are kept, in this process
    only (a plan's arithmetic is this machine's).
    """

    LIMIT = 200_000  # about 150 bytes each: a few correct implementations' worth of every property

    def __init__(self) -> None:
        self._ends: OrderedDict[tuple[Key, int, bytes], str] = OrderedDict()

    def get(self, key: Key | None, at: int, trail: bytes) -> str | None:
        """How the example at `at` ended when given the replies `trail` digests, or None."""
        if key is None:
            return None
        end = self._ends.get((key, at, trail))
        if end is not None:
            self._ends.move_to_end((key, at, trail))
        return end

    def keep(self, key: Key | None, at: int, trail: bytes, end: str) -> None:
        """Keep that the example at `at`, given `trail`, ended as `end` (``PASSED`` or ``REJECTED``)."""
        if key is None:
            return
        self._ends[key, at, trail] = end
        if len(self._ends) > self.LIMIT:
            self._ends.popitem(last=False)

    def clear(self) -> None:
        """Forget every end."""
        self._ends.clear()


PASSED = "passed"
ENDED = Ended()


class Requests:
    """Each request of step 2's examples, as the bytes sent, by the example's place and the ``trail`` of
    the replies before it: a plan's requests are a function of its example and of those replies (its
    instances named by its place and round: ``Remote.naming``), so a later implementation whose replies
    are the same bytes is sent the next request kept without the example being read or its plan started.
    Only a reply that neither ``ENDED`` nor this knows starts the plan, given the replies come so far
    (``Remote.adopt``: they must answer the very calls it makes).

    Kept by ``Drawn``'s key, the place and the trail, the most recently used up to ``LIMIT`` bytes, in this
    process only, as ``Ended``.
    """

    LIMIT = 64 * 2**20  # a correct implementation's requests take about 2 MB

    def __init__(self) -> None:
        self._sent: OrderedDict[tuple[Key, int, bytes], bytes] = OrderedDict()
        self.size = 0

    def get(self, key: Key | None, at: int, trail: bytes) -> bytes | None:
        """The request the example at `at` made after the replies `trail` digests, or None."""
        if key is None:
            return None
        data = self._sent.get((key, at, trail))
        if data is not None:
            self._sent.move_to_end((key, at, trail))
        return data

    def keep(self, key: Key | None, at: int, trail: bytes, data: bytes) -> None:
        """Keep `data` as the request the example at `at` made after the replies `trail` digests."""
        if key is None or (key, at, trail) in self._sent:
            return
        self._sent[key, at, trail] = data
        self.size += len(data)
        while self.size > self.LIMIT:
            _, old = self._sent.popitem(last=False)
            self.size -= len(old)

    def clear(self) -> None:
        """Forget every request."""
        self._sent.clear()
        self.size = 0


REQUESTS = Requests()


def trail(before: bytes, reply: bytes) -> bytes:
    """The digest of the replies `before` digests (``NO_TRAIL``: none yet), then of the bytes of `reply`:
    each prefix is 16 bytes, so no two sequences of replies run together into the same bytes."""
    return hashlib.blake2b(before + reply, digest_size=16).digest()


NO_TRAIL = bytes(16)  # the trail of an example given no reply yet


@dataclass
class Replayed:
    """Where a kept run ends on this implementation: its `end`, and the failure to report (with its
    example) for ``raised`` and ``enough``."""

    end: str
    error: Exception | None = None
    example: dict[str, Any] | None = None


def replay(
    remote: Remote, plan: Callable[..., Plan], key: Key | None, failure: Exception, example: dict[str, Any]
) -> Replayed | None:
    """Step 3 for the implementation behind `remote`, whose step 2 met `failure` on `example`, by a run kept
    for `key` that met the same failure there first (``Runs``); None when none gives, example by example,
    what it gave before."""
    runs = RUNS.get(key)
    if not runs:
        return None
    start = (pickle.dumps(example), what(failure))
    for run in runs:
        if run.tried[run.first] != start:
            continue
        # Every example the run tried, from its first: Hypothesis's run starts again from the first example
        # drawn, so that the implementation's process is sent the calls it would be sent without the kept
        # run (an implementation that counts its calls answers later properties as it would alone).
        got = _judged(remote, plan, run.tried)
        if got is None:
            continue
        if run.end == "passed":
            return Replayed("passed")
        failed = [(e, ex) for e, ex in got if what(e) not in (None, REJECTED)]
        error, last = failed[-1]
        if run.end == "raised":
            for note in run.notes:
                error.add_note(note)
        return Replayed(run.end, error, last)
    return None


def _judged(
    remote: Remote, plan: Callable[..., Plan], tried: list[tuple[bytes, Sig]]
) -> list[tuple[Any, dict[str, Any]]] | None:
    """Each example of `tried` judged on `remote`, CHUNK at a time, with what it raised (None: it passed);
    None as soon as one gives other than it gave before. ``Lost`` goes through."""
    out: list[tuple[Any, dict[str, Any]]] = []
    for at in range(0, len(tried), CHUNK):
        part = tried[at : at + CHUNK]
        examples = [pickle.loads(blob) for blob, _ in part]  # ours: pickled by step 3, in this process
        errors = _judge_chunk(remote, plan, examples)
        for (_, sig), error, example in zip(part, errors, examples, strict=True):
            if what(error) != sig:
                return None
            out.append((error, example))
    return out


def _judge_chunk(remote: Remote, plan: Callable[..., Plan], examples: list[dict[str, Any]]) -> list[Any]:
    """What each of `examples` raised (None: it passed), their requests sent together, round after round."""
    errors: list[Any] = [None] * len(examples)
    now: list[tuple[int, Plan, tuple[Op, ...]]] = []
    for i, example in enumerate(examples):
        steps = plan(**example)
        try:
            now.append((i, steps, next(steps)))
        except StopIteration:
            pass
        except Exception as e:  # UnsatisfiedAssumption (a rejection), or a failure at the plan's start
            errors[i] = e
    while now:
        then = []
        for (i, steps, _), answers in zip(now, remote.send_each([ops for _, _, ops in now]), strict=True):
            try:
                then.append((i, steps, steps.send(answers)))
            except StopIteration:
                pass
            except Exception as e:
                errors[i] = e
        now = then
    return errors

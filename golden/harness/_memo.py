"""Values the oracle computed, kept by what they were computed from, for every session of a process.

Under a fixed seed every implementation of a batch is judged on the same generated problems: their
oracle values (``beside.compute``, ``beside.gradient``) are worth computing once per grading worker, not
once per submission. A ``Memo`` keeps them by the exact request (inputs, precision, conventions), within a
budget of bytes, least recently used out first. It holds numbers the toolkit computed (or its own
helper did): nothing a submission sends ever goes into it.
"""

from __future__ import annotations

import hashlib
import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


class Memo:
    """Answers by request, the most recently used kept up to ``LIMIT`` bytes of numbers: each list of
    floats of an answer (its values, its bounds) as a read-only float64 array and every other list as a
    tuple, so that nothing inside can be changed; given back in a fresh dict (or as the tuple it is)."""

    LIMIT = 64 * 2**20  # a batch's problems under one precision take a few MiB; a worker keeps this at most

    def __init__(self) -> None:
        self._kept: OrderedDict[bytes, Any] = OrderedDict()
        self._sizes: dict[bytes, int] = {}
        self.size = 0  # bytes of numbers kept
        self.hits = self.misses = 0
        self.fresh: list[bytes] = []  # keys kept since the last ``_share.export``
        self.journal = False  # whether to note them: only a pool's worker exports (``_share.journal``)

    @staticmethod
    def key(request: dict[str, Any], kind: str = "compute") -> bytes:
        """The request's identity: its exact inputs (floats as their 8 bytes, so -0.0 is not 0.0), kind
        first. A pickle, a fifth of JSON's cost: the same request built in another order of keys is only a
        value computed again."""
        return hashlib.sha256(pickle.dumps((kind, request), protocol=5)).digest()

    def get(self, key: bytes) -> tuple[bool, Any]:
        """(True, what was kept for `key`) or (False, None)."""
        if key not in self._kept:
            self.misses += 1
            return False, None
        self.hits += 1
        self._kept.move_to_end(key)
        return True, _revive(self._kept[key])

    def put(self, key: bytes, value: Any, fresh: bool = True) -> None:
        """Keep `value` (an answer, or a gradient) for `key` (`fresh`: computed here, not had from another
        worker); the least recently used go past LIMIT."""
        if key in self._kept:
            return
        stored = _stored(value)
        size = 64 + sum(a.nbytes for a in _arrays(stored))
        self._kept[key], self._sizes[key] = stored, size
        if fresh and self.journal:
            self.fresh.append(key)
        self.size += size
        while self.size > self.LIMIT and len(self._kept) > 1:
            old, _ = self._kept.popitem(last=False)
            self.size -= self._sizes.pop(old)

    def stored(self, key: bytes) -> Any:
        """What is kept for `key` as kept (read-only arrays in containers), or None."""
        return self._kept.get(key)

    def absorb(self, key: bytes, stored: Any) -> None:
        """Keep what another worker kept for `key` (``stored``'s form), as ``put`` keeps an answer."""
        for array in _arrays(stored):
            array.flags.writeable = False
        self.put(key, stored, fresh=False)

    def clear(self) -> None:
        """Forget every answer."""
        self._kept.clear()
        self._sizes.clear()
        self.fresh.clear()
        self.size = 0

    def recall(self, request: dict[str, Any], kind: str, work: Callable[[dict[str, Any]], Any]) -> Any:
        """What `work` gives for `request`: kept, or computed now and kept."""
        key = self.key(request, kind)
        found, value = self.get(key)
        if not found:
            value = work(request)
            self.put(key, value)
        return value


def _stored(value: Any) -> Any:
    """Lists of floats as read-only float64 arrays, other lists and tuples as tuples (a shape, a list of
    ints), within dicts."""
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(type(x) is float for x in value):
        array = np.array(value, dtype=np.float64)
        array.flags.writeable = False
        return array
    if isinstance(value, list | tuple):
        return tuple(_stored(v) for v in value)
    return value


def _revive(stored: Any) -> Any:
    """What was kept: a dict copied (its entries are tuples and read-only arrays, which every caller
    shares), anything else as it is."""
    return dict(stored) if isinstance(stored, dict) else stored


def _arrays(stored: Any) -> Iterator[np.ndarray]:
    if isinstance(stored, np.ndarray):
        yield stored
    elif isinstance(stored, dict | list | tuple):
        for v in stored.values() if isinstance(stored, dict) else stored:
            yield from _arrays(v)


SHARED = Memo()  # the process's: the sessions of a batch (each under the batch's seed) share it

"""``--cache DIR``: a batch's outcomes kept between runs, authenticated, so a rerun grades only what changed.

**The key** of an IMPL's entry (``golden.grading._cache_key``) is the sha256 of what its outcomes depend
on: its files, the case sets' manifests, the options that change a verdict, the seed and the toolkit.

**An entry** is a file per key, ``<key>.entry``, written atomically (``golden.files._atomic``): a line with
the HMAC-SHA256 (hex) of the rest, then the JSON of ``{"format", "key", "impl", "outcomes", "seconds"}``
(the run's time, for Gradescope's ``execution_time``). It is read as a regular file of at most
``MAX_ENTRY`` bytes, no symlink followed; its MAC is checked (``hmac.compare_digest``) before a byte of it
is parsed, and its key must be the one looked up. A corrupt, truncated, forged or changed entry, or one
made with another key, is ignored with a line on stderr and its IMPL graded again: never an error, never
trusted. ``seed.entry`` keeps the seed of the last batch: one with no ``--seed`` takes it, so late
submissions are judged on the examples the others were.

**The HMAC key** is kept outside the cache: ``$NEURON_ORACLE_CACHE_KEY`` (16 characters or more), else the
file ``$XDG_CONFIG_HOME/neuron-oracle/cache.key`` (``~/.config`` by default), 32 random bytes made on first
use, mode 0600; a key file that others may read, not ours, or inside the cache is refused by name. The
sandboxed child reaches neither: it is shown the Python installation, the toolkit and a copy of the IMPL's
own file or folder, nothing else (``golden.harness._sandbox``). Off the sandbox a submission runs as you,
and could read the key and forge an entry: a batch says so on stderr.

**Not cached**: an IMPL not graded (not loaded, its worker lost or answering something else): a load error
is found again at once, a lost worker may be an accident; an IMPL with an outcome decided by a timeout,
which depends on the machine's load (kept, it would freeze a transient). Each grade is stored as it comes
(``Reuse.recorder``), so a batch stopped or killed keeps what it had graded; what a batch stored is
removed when the toolkit's files changed during it (``Sets.verify``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golden._text import printable, short
from golden.errors import OptionError, UnreadableFile
from golden.files._atomic import write_atomically
from golden.files._read import read_regular
from golden.files.store import Sets
from golden.grading._cache_key import FORMAT, context, impl_key, planned, within
from golden.grading._scoring import Graded
from golden.harness._sandbox import Isolation
from golden.options import MAX_SEED, Options
from golden.outcome import Kind, Outcome, Status

MAX_ENTRY = 65 << 20  # bytes: a worker's answer may hold 64 MiB (golden.harness._pool.MAX_ANSWER)
KEY_VARIABLE = "NEURON_ORACLE_CACHE_KEY"
MIN_KEY = 16  # characters of a key given in KEY_VARIABLE
KEY_BYTES = 32  # of a key file made on first use
MAX_KEY = 4096  # bytes of a key file
SEED = "seed"  # the entry holding the seed of the last batch


def key_file() -> Path:
    """Where the HMAC key is kept when ``$NEURON_ORACLE_CACHE_KEY`` is not set."""
    config = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return base / "neuron-oracle" / "cache.key"


def secret(cache: Path) -> bytes:
    """The HMAC key: ``$NEURON_ORACLE_CACHE_KEY``, else the key file (made, 0600, on first use).
    OptionError naming the variable or the file when it cannot be used."""
    given = os.environ.get(KEY_VARIABLE)
    if given is not None:
        if len(given) < MIN_KEY:
            raise OptionError(
                f"{KEY_VARIABLE} holds {len(given)} characters; expected at least {MIN_KEY} "
                "(python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return given.encode("utf-8")
    path = key_file()
    where = f"--cache's key file {printable(str(path), 200)}"
    if within(path.resolve(), cache.resolve()):
        raise OptionError(
            f"{where}: inside the cache; keep it outside (set XDG_CONFIG_HOME or {KEY_VARIABLE})"
        )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
    except FileExistsError:
        pass  # made by an earlier batch: read below
    except OSError as e:
        raise OptionError(f"{where}: cannot be made: {e.strerror or e}") from None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        raise OptionError(f"{where}: cannot be read: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise OptionError(
                f"{where}: expected a regular file of ours that only we may read (mode 0600), got mode "
                f"{stat.S_IMODE(info.st_mode):04o} of uid {info.st_uid}: chmod 600 it, or remove it"
            )
        data = f.read(MAX_KEY + 1)
    if not MIN_KEY <= len(data) <= MAX_KEY:
        raise OptionError(f"{where}: holds {len(data)} bytes; expected {MIN_KEY} to {MAX_KEY}: remove it")
    return data


@dataclass
class Cache:
    """The folder of entries and the key that authenticates them."""

    folder: Path
    secret: bytes = field(repr=False)

    @classmethod
    def open(cls, folder: str) -> Cache:
        """The cache in `folder`, made (0700) if missing; OptionError when it cannot be used."""
        path = Path(folder)
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise OptionError(f"--cache {short(folder, 200)}: not a folder") from None
        except OSError as e:
            raise OptionError(f"--cache {short(folder, 200)}: cannot be made: {e.strerror or e}") from None
        return cls(path, secret(path))

    def mac(self, payload: bytes) -> bytes:
        """The HMAC-SHA256 of `payload`, as hex."""
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest().encode("ascii")

    def read(self, key: str) -> tuple[Any, str]:
        """The payload kept under `key`, or None and why not ('' when there is no entry)."""
        path = self.folder / f"{key}.entry"
        if not os.path.lexists(path):
            return None, ""
        try:  # bounded, and a regular file, as every file the toolkit reads (a symlink's MAC is checked too)
            data = read_regular(path, MAX_ENTRY, "a cache entry")
        except UnreadableFile as e:
            return None, e.why
        mac, _, payload = data.partition(b"\n")
        if not hmac.compare_digest(mac, self.mac(payload)):
            return None, "its MAC does not match: corrupt, truncated, forged, or made with another key"
        try:
            value = json.loads(payload.decode("utf-8"))
        except ValueError:
            return None, "it is not JSON"
        if not (isinstance(value, dict) and value.get("format") == FORMAT and value.get("key") == key):
            return None, f"it is not an entry of {FORMAT} for this key"
        return value, ""

    def write(self, key: str, payload: dict[str, Any]) -> None:
        """Keep `payload` under `key`, atomically; one too large is not kept."""
        data = json.dumps({"format": FORMAT, "key": key, **payload}, allow_nan=True).encode("utf-8")
        if len(data) + 65 <= MAX_ENTRY:
            write_atomically(self.folder, {f"{key}.entry": self.mac(data) + b"\n" + data})

    def seed(self, drawn: int, given: int | None) -> int:
        """The seed to judge under: `given` (``--seed``), else the last batch's, else `drawn`; kept."""
        kept, why = self.read(SEED) if given is None else (None, "")
        if why:
            self.note(f"the seed it keeps is not trusted ({why}); drawing one")
        value: Any = kept.get("seed") if isinstance(kept, dict) else None
        valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_SEED
        seed = given if given is not None else value if valid else drawn
        if seed != value:
            try:
                self.write(SEED, {"seed": seed})
            except OSError as e:
                self.note(f"cannot keep the seed: {short(str(e), 200)}")
        return seed

    def note(self, text: str) -> None:
        """A line on stderr about this cache."""
        print(f"neuron-oracle: --cache {short(str(self.folder), 200)}: {text}", file=sys.stderr)


@dataclass
class Reuse:
    """A batch's IMPLs split by the cache: the grades found there, by index, and the rest, to grade."""

    impls: list[str]
    cache: Cache | None = None
    keys: list[str | None] = field(default_factory=list)
    found: dict[int, Graded] = field(default_factory=dict)
    stored: list[str] = field(default_factory=list)  # the keys this batch stored

    @classmethod
    def find(
        cls,
        cache: Cache | None,
        impls: Sequence[str],
        exposed: Sequence[bool],
        golden: Sets,
        options: Options,
        isolation: Isolation,
        weights: dict[str, float],
    ) -> Reuse:
        """Look every IMPL up in `cache` (None: none is), `exposed` saying whose folder its sandbox shows;
        says on stderr how many were found, and which entries were not trusted."""
        reuse = cls(list(impls), cache)
        if cache is None:
            return reuse
        items = planned(golden, options)
        cases = golden.cases
        groups = {key: golden.group(key) for key in items if key in cases}
        batch = context(golden, options, isolation)
        reuse.keys = [impl_key(batch, s, e, cache.folder) for s, e in zip(impls, exposed, strict=True)]
        for index, (spec, key) in enumerate(zip(impls, reuse.keys, strict=True)):
            kept, why = cache.read(key) if key else (None, "")
            outcomes = _outcomes(kept, items)
            if why or (kept is not None and outcomes is None):
                why = why or "it holds no outcomes of these items"
                cache.note(f"the entry of IMPL {short(spec, 200)!r} is not trusted ({why}); grading it again")
            if outcomes is not None:
                g = reuse.found[index] = Graded(spec, items, outcomes, weights=weights, groups=groups)
                g.seconds = _seconds(kept)  # of the run that graded it
        if not isolation.sandbox:
            cache.note(
                "the sandbox is off: a submission runs as you and could reach the key and forge entries"
            )
        shown = short(str(cache.folder), 200)
        print(
            f"neuron-oracle: {len(reuse.found)} of {len(impls)} IMPLs reused from --cache {shown}",
            file=sys.stderr,
        )
        return reuse

    @property
    def todo(self) -> list[str]:
        """The IMPLs to grade: those not found, in order."""
        return [spec for index, spec in enumerate(self.impls) if index not in self.found]

    def merge(self, graded: list[Graded]) -> list[Graded]:
        """The grades in the order of the IMPLs, those found and `graded` (the ``todo``'s, in order), as
        far as every IMPL before is graded (a batch that stopped graded some only)."""
        fresh, out = iter(graded), []
        for index in range(len(self.impls)):
            g = self.found.get(index) or next(fresh, None)
            if g is None:
                break
            out.append(g)
        return out

    def recorder(self) -> list[Graded]:
        """The list for ``grade`` to append the ``todo``'s grades to, in order: each one that may be kept is
        stored as it comes, so a batch that is killed loses none it had graded."""
        todo = [index for index in range(len(self.impls)) if index not in self.found]
        return _Recorder(lambda k, g: self._store(todo[k], g))

    def _store(self, index: int, g: Graded) -> None:
        key = self.keys[index] if self.cache is not None else None
        if self.cache is None or key is None or not _settled(g):
            return
        try:
            outcomes = [o.as_dict() for o in g.outcomes]
            self.cache.write(key, {"impl": g.impl, "outcomes": outcomes, "seconds": g.seconds})
            self.stored.append(key)
        except (OSError, TypeError, ValueError) as e:
            self.cache.note(f"cannot keep the grades: {short(str(e), 200)}")
            self.cache = None  # said once; the grades are still reported

    def keep(self, trusted: bool) -> None:
        """Keep what this batch stored, when `trusted` (the toolkit's files did not change while the IMPLs
        ran, ``Sets.verify``); else remove it."""
        if self.cache is not None and not trusted and self.stored:
            for key in self.stored:
                (self.cache.folder / f"{key}.entry").unlink(missing_ok=True)
            self.cache.note(f"{len(self.stored)} entries removed: the toolkit's files changed during the run")


class _Recorder(list[Graded]):
    """A list that calls `record` with each item's index and the item as it is appended."""

    def __init__(self, record: Callable[[int, Graded], None]) -> None:
        super().__init__()
        self.record = record

    def append(self, g: Graded) -> None:
        super().append(g)
        self.record(len(self) - 1, g)


def _settled(g: Graded) -> bool:
    """Whether `g` may be kept: graded (loaded, answered), and no outcome decided by a timeout."""
    return g.error is None and g.loaded and bool(g.outcomes) and not any(o.timed_out for o in g.outcomes)


def _outcomes(kept: Any, items: Sequence[str]) -> list[Outcome] | None:
    """The outcomes an entry holds, each of an item planned; None when it holds none, or anything else."""
    if kept is None:
        return None
    try:
        outcomes = [
            Outcome(**{**o, "status": Status(o["status"]), "kind": Kind(o["kind"])}) for o in kept["outcomes"]
        ]
    except (TypeError, ValueError, KeyError):
        return None
    return outcomes if outcomes and all(o.name in items for o in outcomes) else None


def _seconds(kept: Any) -> float | None:
    """How long the run that graded an entry took, if it says so as a number of seconds."""
    value = kept.get("seconds") if isinstance(kept, dict) else None
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None

"""The golden versions the oracle generates: each one's schema, the oracle that made it, which are released.

A released version never changes: new cases (``@case(since=…)`` in ``oracle/cases.py``) and new fields go
into a new version, and ``regen`` refuses to change a released one without ``--force``. This table, not a
manifest on disk, says which versions are released, so a missing or corrupt manifest cannot lift that
guard.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Version:
    """What a golden version holds: its case files' schema, and the oracle that made it."""

    schema: int
    oracle: str
    summary: str


VERSIONS = {
    "v1": Version(1, "1", "the seed's six cases and ten more; one float64 tolerance per case"),
    "v2": Version(2, "2", "v1's cases and four more; a rigorous bound per value in four precisions"),
    "v3": Version(
        2, "3", "v2's cases and three past block and tile edges and a long trajectory; bounds that contract"
    ),
}
RELEASED = frozenset({"v1", "v2", "v3"})
CURRENT = "v3"  # the newest: what validate, tdd and the pytest plugin use by default

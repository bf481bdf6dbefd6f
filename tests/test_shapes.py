"""The properties' problems reach the shapes where blocking and tiling bugs live, and the oracle keeps up.

Drawn under fixed seeds, so each claim holds on every run: tall problems up to 1,100 rows and wide ones
up to 300 features come up among the small ones, at sizes just past powers of two and tile sizes, with
all-zero rows and columns; in float16 and bfloat16 the shapes stop where a sum still has a bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from golden.harness._beside import compute
from golden.harness._problems import TALL, WIDE, Problem, oracle_request, problems


@dataclass
class Stand:
    """What ``problems`` reads of the implementation: its precision, activations and conventions."""

    precision: str = "float64"
    activations: tuple[str, ...] = ("leaky_relu",)
    conventions: dict[str, str] = field(default_factory=dict)


def drawn(precision: str = "float64", count: int = 1500) -> list[Problem]:
    found: list[Problem] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(problems(Stand(precision)))  # type: ignore[arg-type]
    def collect(p: Problem) -> None:
        found.append(p)

    collect()
    return found


@pytest.fixture(scope="module")
def float64() -> list[Problem]:
    return drawn()


def test_tall_and_wide_problems_come_up_among_the_small_ones(float64: list[Problem]) -> None:
    rows = {p.X.shape[0] for p in float64}
    features = {p.X.shape[1] for p in float64}
    assert max(TALL) >= 1100 and max(WIDE) >= 300  # what may be drawn
    assert max(rows) > 1000 and max(features) > 256  # and what was, here
    assert len(rows & set(TALL)) >= 5 and len(features & set(WIDE)) >= 4
    large = [p for p in float64 if max(p.X.shape) > 4]
    assert 0.03 < len(large) / len(float64) < 0.5  # a fair share, not most


def test_large_problems_hold_all_zero_rows_and_columns(float64: list[Problem]) -> None:
    large = [p for p in float64 if max(p.X.shape) > 4]
    assert any((p.X == 0).all(axis=1).any() for p in large if p.X.shape[0] > 4)
    assert any((p.X == 0).all(axis=0).any() for p in large if p.X.shape[1] > 4)


def test_the_last_row_of_a_tall_problem_is_one_of_its_own(float64: list[Problem]) -> None:
    """A block bug drops the last rows: the last row differs from the pattern, so dropping it shows."""
    tall = [p for p in float64 if p.X.shape[0] > 8]
    assert tall
    assert all(not any(np.array_equal(p.X[-1], row) for row in p.X[:-1]) or p.X.shape[1] == 1 for p in tall)


@pytest.mark.parametrize(("precision", "most"), [("float16", 1023), ("bfloat16", 127)])
def test_low_precisions_stop_where_a_sum_still_has_a_bound(precision: str, most: int) -> None:
    shapes = [p.X.shape for p in drawn(precision, 600)]
    assert max(max(s) for s in shapes) <= most
    assert any(max(s) > 4 for s in shapes)


def test_the_oracle_answers_a_tall_problem_at_the_cost_of_its_distinct_rows(float64: list[Problem]) -> None:
    """compute() on the tallest problem drawn gives as many values as rows, each with a bound."""
    tallest = max(float64, key=lambda p: p.X.shape[0])
    answer = compute(oracle_request(tallest, Stand(), 0.01))  # type: ignore[arg-type]
    assert answer is not None
    values, limits, shape = answer["z"]
    assert shape == [tallest.X.shape[0]] and len(values) == len(limits) == tallest.X.shape[0]
    assert all(limit >= 0 for limit in limits)

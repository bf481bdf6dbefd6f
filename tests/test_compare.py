"""How a comparison names its stage in a message (by the table, a trajectory's step by its number), and
that its search for the worst element gives one answer whichever way it is computed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from golden.harness._compare import FEW, Checker, Divergence, _split, _split_few, label
from golden.harness._problems import updates_agree
from golden.harness._protocol import Value
from golden.outcome import PARAMETERS, Status, step_name


def test_a_stage_is_named_as_itself_and_a_parameter_as_read_back() -> None:
    assert label("dJ_db", "gradient") == "dJ_db"
    assert label(PARAMETERS.name, "w") == "w read back"


def test_a_step_of_a_trajectory_is_named_with_what_it_compares() -> None:
    assert label(step_name(2), "w") == "trajectory step 2 (w)"
    assert label("dJ_dw", "gradient") == "dJ_dw"  # a stage of the table is named as itself


def test_a_step_that_diverges_says_which_value_of_it() -> None:
    check = Checker(rtol=0.0, atol=0.0)
    value = Value(np.array([1.0, 2.5]), "float64")
    with pytest.raises(Divergence) as diverged:
        check(step_name(3), "dJ_dw", value, [1.0, 2.0], (2,))
    assert diverged.value.status is Status.FAILED and diverged.value.stage == step_name(3)
    assert diverged.value.message.startswith("trajectory step 3 (dJ_dw) expected [1.0, 2.0], got [1.0, 2.5]")
    check("dJ_db", "gradient", Value(np.array(0.5), "float64"), 0.5, ())
    assert check.agreed == ["dJ_db"]


def test_a_large_array_that_diverges_names_its_first_index_with_plain_numbers() -> None:
    check = Checker(rtol=0.0, atol=0.0)
    want = [0.5] * 20
    got = np.array(want)
    got[7] = -0.25
    with pytest.raises(Divergence) as diverged:
        check("a", "forward", Value(got, "float64"), want, (20,))
    message = diverged.value.message
    assert message.startswith("a differs first at index 7: expected 0.5, got -0.25; "), message
    assert "np.float64" not in message


# (w, b) after three updates, exactly, and each one's bound: the first exact (bound 0), then 1e-3.
UPDATES_EXACT = [([1.0, 0.5], [0.0, 0.0]), ([0.75, 0.25], [1e-3, 1e-3]), ([0.5, 0.0], [1e-3, 1e-3])]


def _updates(*rows: list[float]) -> list[np.ndarray]:
    return [np.array(r) for r in rows]


def test_updates_within_their_bounds_agree() -> None:
    """Every update equal to the exact one, or off by less than its bound, passes."""
    updates_agree(_updates([1.0, 0.5], [0.7505, 0.25], [0.5, 0.0]), UPDATES_EXACT, "float64", 3)


def test_the_first_update_beyond_its_bound_is_named() -> None:
    """b off by 0.01 after update 2 (bound 1e-3) is named as update 2, though update 3 is off too."""
    with pytest.raises(
        AssertionError, match=r"^after update 2 of 3 on one instance, \(w, b\) = \[0.75, 0.26\]"
    ):
        updates_agree(_updates([1.0, 0.5], [0.75, 0.26], [0.5, 0.1]), UPDATES_EXACT, "float64", 3)


def test_an_earlier_update_beyond_its_bound_is_named_before_a_later_wrong_shape() -> None:
    """Update 1 off by 2**-20 where its bound is 0 is the error, not update 2's shape (3,)."""
    with pytest.raises(AssertionError, match=r"^after update 1 of 3 on one instance"):
        updates_agree(_updates([1.0, 0.5 + 2**-20], [0.75, 0.25, 0.0]), UPDATES_EXACT, "float64", 3)


def test_an_update_of_another_shape_is_named_by_its_shape() -> None:
    """(w, b) of shape (3,) after update 2, update 1 exact: the shape is the error."""
    with pytest.raises(AssertionError, match=r"^after update 2, w and b have shape \(3,\)$"):
        updates_agree(_updates([1.0, 0.5], [0.75, 0.25, 0.0]), UPDATES_EXACT, "float64", 3)


# Every float64 (infinities and NaN too), with the edges where rounding and overflow decide drawn often.
EDGES = st.sampled_from([0.0, -0.0, 5e-324, 2.0**-1022, 1.0, math.nextafter(1.0, 2.0), 1e308, -1e308])
FLOATS = st.one_of(EDGES, st.floats(), st.floats(-4.0, 4.0))


@st.composite
def triples(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """got, want and bound of one size up to FEW: a got near want half of the time, as they mostly are."""
    n = draw(st.integers(1, FEW))
    want = draw(st.lists(FLOATS, min_size=n, max_size=n))
    nudges = st.lists(st.one_of(st.just(0.0), FLOATS), min_size=n, max_size=n)
    got = [w + d * 1e-12 for w, d in zip(want, draw(nudges), strict=True)] if draw(st.booleans()) else None
    got = got or draw(st.lists(FLOATS, min_size=n, max_size=n))
    bound = draw(st.lists(st.one_of(st.just(0.0), FLOATS.map(abs)), min_size=n, max_size=n))
    return tuple(np.array(v, dtype=np.float64) for v in (got, want, bound))  # type: ignore[return-value]


@given(triples())
def test_the_worst_element_of_a_few_is_the_one_numpy_finds(arrays: tuple[np.ndarray, ...]) -> None:
    """The Python-float search for a few elements (FEW) picks the element, error, ratio and bound that the
    numpy search picks, and leaves the same elements to be compared in Fractions."""
    assert _split_few(*arrays) == _split(*arrays)

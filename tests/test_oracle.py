"""The oracle, held to values derived by hand: exact comparisons, since the oracle computes exactly.

Values marked "seed" are the ones the seed printed from its own oracle; the rest were worked out by hand
with the formulas in ``oracle/backprop.py``. Sigmoid and tanh are held to libm's float64 instead, which is
an independent computation accurate to about one ulp, hence rel = 4e-16 (two ulps at these magnitudes).
"""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import pytest

from oracle import CASES, Case, ClaimError, create_backprop_test_case, to_float


def exact(*values: str) -> tuple[Fraction, ...]:
    """Exact decimals."""
    return tuple(Fraction(v) for v in values)


def test_oracle_imports_neither_numpy_nor_neuron() -> None:
    code = "import oracle, oracle.cases, sys; print(sorted({'numpy', 'neuron'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_float_is_read_as_the_decimal_it_spells() -> None:
    r = create_backprop_test_case([[0.1]], 0.0, [1.0], 0.2, 0.0, activation="identity")
    assert r.first.z == (Fraction(3, 10),)  # 0.1 + 0.2 is exactly 0.3 here, unlike in float64


def test_batch_input_gradients_matches_the_hand_derivation() -> None:
    s = CASES["batch_input_gradients"].run().first
    assert s.z == exact("1.2", "0.65")
    assert s.dJ_da == exact("-0.3", "-0.15")
    assert s.dJ_dw == exact("-0.375", "-0.75")
    assert s.dJ_db == Fraction("-0.45")
    assert s.w_new == exact("0.30375", "0.4075")
    assert s.b_new == Fraction("0.1045")


def test_negative_gradients_case_matches_the_seed() -> None:
    s = CASES["negative_gradients_increase_weights"].run().first
    assert (s.z, s.J, s.dJ_dw, s.dJ_db) == (
        exact("1.2"),
        exact("0.045"),
        exact("-0.3", "-0.6"),
        Fraction("-0.3"),
    )
    assert (s.w_new, s.b_new) == (exact("0.303", "0.406"), Fraction("0.103"))


def test_leaky_branch_case_matches_the_seed_printed_dict() -> None:
    s = CASES["leaky_branch_negative_z"].run().first
    assert (s.z, s.a, s.J) == (exact("-0.4"), exact("-0.004"), exact("1.131008"))
    assert (s.dJ_da, s.da_dz) == (exact("-1.504"), exact("0.01"))
    assert (s.dJ_dw, s.dJ_db) == (exact("-0.01504", "0.03008"), Fraction("-0.01504"))
    assert (s.w_new, s.b_new) == (exact("0.3001504", "0.3996992"), Fraction("0.1001504"))


def test_zero_gradients_case_is_exactly_zero_unlike_the_seed_float64() -> None:
    s = CASES["zero_gradients_no_change"].run().first
    assert s.dJ_dw == (0, 0) and s.dJ_db == 0
    assert s.J == (0,)


def test_derivative_at_z_zero_is_one() -> None:
    s = CASES["zero_z_takes_derivative_one"].run().first
    assert (s.z, s.da_dz, s.dJ_dw, s.dJ_db) == ((0,), (1,), exact("-1", "-2"), Fraction(-1))


def test_seed_worked_example_matches_the_hand_derivation() -> None:
    s = CASES["seed_worked_example_4x5"].run().first
    assert s.z == exact("6.5", "12", "15.5", "-21")
    assert s.a == exact("6.5", "12", "15.5", "-0.21")
    assert s.dJ_dw == exact("-2609.979", "-1567.0231", "1103.9748", "-8179.0336", "-10298.958")
    assert s.dJ_db == Fraction("-570.0021")
    assert exact("4371.125", "17672", "40470.125", "80084.02205") == s.J


def test_extreme_gradients_match_the_hand_derivation() -> None:
    s = CASES["extreme_gradients"].run().first
    assert (s.z, s.dJ_dw, s.dJ_db) == (exact("110.1"), exact("-38990", "-77980"), Fraction("-389.9"))
    assert (s.w_new, s.b_new) == (exact("39.29", "78.38"), Fraction("0.4899"))


def test_training_trajectory_second_step_matches_the_hand_derivation() -> None:
    # after step 1: w = [0.31875, 0.4375], b = 0.1225, so z = [1.31625, 0.719375], u = [−0.18375, −0.080625]
    r = CASES["training_trajectory"].run()
    assert len(r.steps) == 5
    assert r.steps[1].dJ_dw == exact("-0.2240625", "-0.448125")
    assert r.steps[1].dJ_db == Fraction("-0.264375")
    assert r.steps[0].loss == Fraction("0.05625")


def test_relu_below_zero_has_exactly_zero_gradient() -> None:
    s = CASES["relu_negative_z_stops_learning"].run().first
    assert (s.a, s.da_dz, s.dJ_dw, s.dJ_db) == ((0,), (0,), (0, 0), 0)


def test_identity_gradient_is_cs229s() -> None:
    s = CASES["identity_is_linear_regression"].run().first
    assert (s.dJ_dw, s.dJ_db) == (exact("-2.2", "3.2"), Fraction("-2.2"))


@pytest.mark.parametrize(
    ("name", "f", "df"),
    [
        ("sigmoid_batch", lambda z: 1 / (1 + math.exp(-z)), lambda a: a * (1 - a)),
        ("tanh_batch", math.tanh, lambda a: 1 - a * a),
    ],
)
def test_exp_based_activations_agree_with_libm(name: str, f: object, df: object) -> None:
    s = CASES[name].run().first
    for z, a, d in zip(s.z, s.a, s.da_dz, strict=True):
        a_libm = f(float(z))  # type: ignore[operator]
        assert to_float(a) == pytest.approx(a_libm, rel=4e-16)
        assert to_float(d) == pytest.approx(df(a_libm), rel=4e-15)  # type: ignore[operator]  # 1 − a loses a digit


def test_sigmoid_is_correctly_rounded_where_libm_is_one_ulp_low() -> None:
    a = to_float(CASES["sigmoid_batch"].run().first.a[0])
    assert a == 0.7685247834990176  # 0.768524783499017643… (60-digit decimal) rounds up
    assert 1 / (1 + math.exp(-1.2)) == 0.7685247834990175


@pytest.mark.parametrize("name", list(CASES))
def test_every_case_claim_holds(name: str) -> None:
    CASES[name].run()


def test_a_case_whose_claim_fails_is_refused_with_the_reason() -> None:
    broken = Case(
        "wrong_sign",
        "claims the gradient is positive",
        "dJ_db > 0",
        lambda r: r.first.dJ_db > 0,
        CASES["negative_gradients_increase_weights"].build,
    )
    with pytest.raises(ClaimError, match="case wrong_sign: claim does not hold: dJ_db > 0"):
        broken.run()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X": [[1.0, 2.0], [1.0]]}, r"X\[1\] has 1 numbers; expected 2"),
        ({"y_true": [1.0, 2.0]}, "y_true has 2 numbers; expected 1"),
        ({"activation": "gelu"}, "activation: unknown 'gelu'"),
        ({"X": [[float("nan"), 1.0]]}, "expected a finite number, got nan"),
        ({"learning_rate": -0.1}, "learning_rate is -0.1"),
        ({"steps": 0}, "steps is 0"),
    ],
)
def test_bad_oracle_input_names_the_argument(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"X": [[1.0, 2.0]], "y_true": 1.0, "w": [0.3, 0.4], "b": 0.1}
    args |= {"learning_rate": 0.1} | kwargs
    with pytest.raises((ValueError, TypeError), match=message):
        create_backprop_test_case(**args)  # type: ignore[arg-type]

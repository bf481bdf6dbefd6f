"""The named golden cases: one function each, named as its file in ``golden/v1/``.

A case's docstring says what it shows; its ``claim`` is checked on the exact result whenever the case is
generated, and a case whose claim fails is refused. The comment beside each case gives the values derived
by hand, as the seed printed its oracle's dict. They register into ``CASES`` (``oracle.registry``, the
case API a user's case file uses too).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from oracle.backprop import Result
from oracle.registry import CASES as CASES
from oracle.registry import NAME as NAME
from oracle.registry import Case as Case
from oracle.registry import ClaimError as ClaimError
from oracle.registry import NotAResult as NotAResult
from oracle.registry import case, create_backprop_test_case
from oracle.registry import collecting as collecting

SEED_W, SEED_B = [0.3, 0.4], 0.1


# -- the seed's six cases, with the seed's inputs ---------------------------------------------------


@case(
    "every gradient is < 0, so w and b both increase",
    lambda r: (
        all(g < 0 for g in r.first.dJ_dw)
        and r.first.dJ_db < 0
        and all(new > old for new, old in zip(r.first.w_new, r.inputs.w, strict=True))
        and r.first.b_new > r.inputs.b
    ),
)
def negative_gradients_increase_weights() -> Result:
    """The seed's first case: a prediction below its target pulls every parameter up."""
    # z = 0.3 + 0.8 + 0.1 = 1.2; dJ_da = −0.3; dJ_dw = [−0.3, −0.6]; w_new = [0.303, 0.406]; b_new = 0.103
    return create_backprop_test_case([[1.0, 2.0]], 1.5, SEED_W, SEED_B, 0.01)


@case(
    "the prediction equals y_true: dJ_dw and dJ_db are exactly 0 and w_new == w, b_new == b exactly",
    lambda r: (
        all(g == 0 for g in r.first.dJ_dw)
        and r.first.dJ_db == 0
        and r.first.w_new == r.inputs.w
        and r.first.b_new == r.inputs.b
    ),
)
def zero_gradients_no_change() -> Result:
    """A perfect prediction gives no gradient, so the update changes nothing."""
    # z = 1.2 = y_true; every gradient 0. In float64 the seed got 2.22e-16 here: 0.1 is not binary.
    return create_backprop_test_case([[1.0, 2.0]], 1.2, SEED_W, SEED_B, 0.01)


@case(
    "with lr = 0.1 the step is large but still lowers the batch loss",
    lambda r: r.loss_at(r.first.w_new, r.first.b_new) < r.first.loss,
)
def large_learning_rate() -> Result:
    """Ten times the seed's learning rate moves the parameters ten times as far."""
    # z = 1.2; dJ_da = −0.8; dJ_dw = [−0.8, −1.6]; w_new = [0.38, 0.56]; b_new = 0.18
    # then z = 0.38 + 1.12 + 0.18 = 1.68, so J falls from 0.32 to 0.0512
    return create_backprop_test_case([[1.0, 2.0]], 2.0, SEED_W, SEED_B, 0.1)


@case(
    "the batch gradient is the sum, not the mean, of the two rows' gradients",
    lambda r: _is_sum_of_rows(r),
)
def batch_input_gradients() -> Result:
    """Two examples: gradients add up over the batch, as the seed derived for the bias."""
    # z = [1.2, 0.65]; dJ_da = [−0.3, −0.15]
    # dJ_dw = −0.3·[1, 2] − 0.15·[0.5, 1] = [−0.375, −0.75]; dJ_db = −0.45
    return create_backprop_test_case([[1.0, 2.0], [0.5, 1.0]], [1.5, 0.8], SEED_W, SEED_B, 0.01)


@case(
    "with a single feature equal to 1, dJ_dw[0] == dJ_db",
    lambda r: r.first.dJ_dw[0] == r.first.dJ_db,
)
def single_feature() -> Result:
    """One feature: w has one element and the shapes must still be (1,), not scalars."""
    # z = 0.3 + 0.1 = 0.4; dJ_da = −0.1; dJ_dw = [−0.1]; dJ_db = −0.1; w_new = [0.301]; b_new = 0.101
    return create_backprop_test_case([[1.0]], 0.5, [0.3], SEED_B, 0.01)


@case(
    "gradients above 10^4 make even lr = 0.001 overshoot: the loss after the step is larger",
    lambda r: (
        min(abs(g) for g in r.first.dJ_dw) > 10**4 and r.loss_at(r.first.w_new, r.first.b_new) > r.first.loss
    ),
)
def extreme_gradients() -> Result:
    """Large inputs give large gradients; the seed's 'smaller LR for stability' is still too large."""
    # z = 30 + 80 + 0.1 = 110.1; dJ_da = −389.9; dJ_dw = [−38990, −77980]; dJ_db = −389.9
    # w_new = [39.29, 78.38]; b_new = 0.4899; the next z = 19605.4899, far past y_true = 500
    return create_backprop_test_case([[100.0, 200.0]], 500.0, SEED_W, SEED_B, 0.001)


# -- the cases the seed's own bugs call for -------------------------------------------------------


@case(
    "z < 0, so da_dz == alpha, and dJ_dw has mixed signs: the second weight decreases",
    lambda r: (
        r.first.z[0] < 0 and r.first.da_dz[0] == r.inputs.alpha and r.first.dJ_dw[0] < 0 < r.first.dJ_dw[1]
    ),
)
def leaky_branch_negative_z() -> Result:
    """The seed's X = [[1, -2]] variant, printed under the name 'negative gradients' it does not show."""
    # z = 0.3 − 0.8 + 0.1 = −0.4; a = −0.004; dJ_da = −1.504; da_dz = 0.01; J = 1.131008
    # dJ_dw = [−0.01504, 0.03008]; dJ_db = −0.01504; w_new = [0.3001504, 0.3996992]; b_new = 0.1001504
    return create_backprop_test_case([[1.0, -2.0]], 1.5, SEED_W, SEED_B, 0.01)


@case(
    "z is exactly 0 (also in float64) and da_dz there is 1, the seed's np.where(z < 0, alpha, 1)",
    lambda r: r.first.z[0] == 0 and r.first.da_dz[0] == 1,
)
def zero_z_takes_derivative_one() -> Result:
    """At the kink z = 0 the derivative is 1, not alpha: the convention pinned down."""
    # Dyadic inputs so float64 also gets z = 0.5 − 0.5 + 0 = 0 exactly; a = 0; dJ_da = −1; da_dz = 1
    # dJ_dw = [−1, −2]; dJ_db = −1; w_new = [0.6, −0.05]; b_new = 0.1
    return create_backprop_test_case([[1.0, 2.0]], 1.0, [0.5, -0.25], 0.0, 0.1)


@case(
    "one row on each branch: da_dz == [1, alpha]",
    lambda r: r.first.da_dz == (1, r.inputs.alpha),
)
def batch_rows_on_both_branches() -> Result:
    """A batch whose rows take different branches of Leaky ReLU, so the derivative is per row."""
    # z = [1.2, −0.4]; a = [1.2, −0.004]; dJ_da = [−0.3, −1.504]; dJ_dz = [−0.3, −0.01504]
    # dJ_dw = [−0.31504, −0.56992]; dJ_db = −0.31504
    return create_backprop_test_case([[1.0, 2.0], [1.0, -2.0]], 1.5, SEED_W, SEED_B, 0.01)


@case(
    "three rows take the linear branch and one the leaky branch: da_dz == [1, 1, 1, alpha]",
    lambda r: r.first.da_dz == (1, 1, 1, r.inputs.alpha),
)
def seed_worked_example_4x5() -> Result:
    """The seed's 4×5 X of F.1 and its targets [100, 200, 300, 400], with fixed w and b."""
    # z = [6.5, 12, 15.5, −21]; a = [6.5, 12, 15.5, −0.21]; dJ_dz = [−93.5, −188, −284.5, −4.0021]
    # dJ_dw = [−2609.979, −1567.0231, 1103.9748, −8179.0336, −10298.958]; dJ_db = −570.0021
    X = [[-1, 2, 3, 13, 17], [4, -5, 6, 14, 18], [7, 8, -9, 15, 19], [-10, 11, 12, 16, -20]]
    return create_backprop_test_case(X, [100, 200, 300, 400], [1.0, 0, 0, 0, 0.5], -1.0, 0.0001)


@case(
    "da_dz == alpha == 0.2, not the default 0.01",
    lambda r: r.first.da_dz[0] == r.inputs.alpha == Fraction("0.2"),
)
def non_default_alpha() -> Result:
    """alpha is a parameter of the neuron: an implementation that hard-codes 0.01 fails here."""
    # z = −0.4; a = −0.08; dJ_da = −0.08; da_dz = 0.2; dJ_dw = [−0.016, 0.032]; dJ_db = −0.016
    return create_backprop_test_case([[1.0, -2.0]], 0.0, SEED_W, SEED_B, 0.1, alpha=0.2)


@case(
    "the batch loss falls at every one of five steps",
    lambda r: all(s.loss < prev.loss for prev, s in zip(r.steps, r.steps[1:], strict=False)),
)
def training_trajectory() -> Result:
    """Five gradient-descent steps on the seed's batch, each step recorded."""
    # step 1 as batch_input_gradients: dJ_dw = [−0.375, −0.75], dJ_db = −0.45
    # so w = [0.31875, 0.4375], b = 0.1225 after it, and J 0.05625 before it
    return create_backprop_test_case([[1.0, 2.0], [0.5, 1.0]], [1.5, 0.8], SEED_W, SEED_B, 0.05, steps=5)


# -- the other activations ------------------------------------------------------------------------


@case(
    "z < 0 under ReLU: the gradient is exactly 0 and w, b do not move (a dying ReLU)",
    lambda r: r.first.da_dz == (0,) and r.first.w_new == r.inputs.w and r.first.b_new == r.inputs.b,
)
def relu_negative_z_stops_learning() -> Result:
    """Plain ReLU on the seed's leaky-branch input: the 'dying ReLU' that Leaky ReLU exists to fix."""
    # z = −0.4; a = 0; dJ_da = −1.5; da_dz = 0; dJ_dw = [0, 0]; dJ_db = 0
    return create_backprop_test_case([[1.0, -2.0]], 1.5, SEED_W, SEED_B, 0.01, activation="relu")


@case(
    "identity: dJ_dw_j == (z − y)·x_j, the seed's CS229 derivation, on both sides of 0",
    lambda r: all(
        r.first.dJ_dw[j] == sum((r.first.z[i] - r.inputs.y_true[i]) * r.inputs.X[i][j] for i in range(2))
        for j in range(2)
    ),
)
def identity_is_linear_regression() -> Result:
    """With no activation the neuron is linear regression, and its gradient is CS229's."""
    # z = [1.2, −0.4]; dJ_da = [−0.3, −1.9]; dJ_dw = −0.3·[1, 2] − 1.9·[1, −2] = [−2.2, 3.2]; dJ_db = −2.2
    return create_backprop_test_case(
        [[1.0, 2.0], [1.0, -2.0]], 1.5, SEED_W, SEED_B, 0.01, activation="identity"
    )


@case(
    "0 < a < 1, and 0 < da_dz <= 1/4 with da_dz == a·(1 − a)",
    lambda r: all(0 < a < 1 for a in r.first.a) and all(0 < d <= Decimal("0.25") for d in r.first.da_dz),
)
def sigmoid_batch() -> Result:
    """Sigmoid on rows either side of 0, in 60-digit decimal arithmetic."""
    # z = [1.2, −0.4]; a_1 = 1/(1 + e^−1.2) = 0.768524783499017643…, which rounds to …0176 (the float64
    # formula 1/(1 + math.exp(−1.2)) gives …0175, one ulp low); a_2 = 1/(1 + e^0.4) = 0.401312339887548
    return create_backprop_test_case(
        [[1.0, 2.0], [1.0, -2.0]], [1.0, 0.0], SEED_W, SEED_B, 0.1, activation="sigmoid"
    )


@case(
    "-1 < a < 1 and 0 < da_dz <= 1",
    lambda r: all(-1 < a < 1 for a in r.first.a) and all(0 < d <= 1 for d in r.first.da_dz),
)
def tanh_batch() -> Result:
    """Tanh on rows either side of 0, in 60-digit decimal arithmetic."""
    # z = [1.2, −0.4]; a = (e^2z − 1)/(e^2z + 1) = [0.8336546070121552, −0.3799489622552249]
    # (libm's tanh gives the same)
    return create_backprop_test_case(
        [[1.0, 2.0], [1.0, -2.0]], [0.5, -0.5], SEED_W, SEED_B, 0.1, activation="tanh"
    )


# -- golden v2: cases a fixed tolerance or the seed's batch of two cannot judge ----------------------


@case(
    "three rows on both branches: the mean loss's gradients (× 2/m) differ from the seed's ½Σ's",
    lambda r: (
        len(r.inputs.X) == 3
        and r.first.da_dz[0] == 1
        and r.first.da_dz[1] == r.inputs.alpha
        and all(g != 0 for g in r.first.dJ_dw)
        and r.first.dJ_db != 0
    ),
    since=2,
)
def batch_of_three_rows() -> Result:
    """Three rows, so that the mean squared error's gradients (× 2/m = 2/3) cannot pass for the seed's."""
    # z = [1.2, −0.4, 0.65]; a = [1.2, −0.004, 0.65]; dJ_da = [−0.3, −1.504, 0.15]; da_dz = [1, 0.01, 1]
    # delta = [−0.3, −0.01504, 0.15]; dJ_db = −0.16504
    # dJ_dw = [−0.3 − 0.01504 + 0.075, −0.6 + 0.03008 + 0.15]
    # = [−0.24004, −0.41992]. nn.MSELoss would give (2/3)·2 = 4/3 times these: visible at any precision.
    return create_backprop_test_case(
        [[1.0, 2.0], [1.0, -2.0], [0.5, 1.0]], [1.5, 1.5, 0.5], SEED_W, SEED_B, 0.01
    )


@case(
    "the terms of z cancel: |z| is less than a thousandth of Σ|X_ij·w_j| + |b|",
    lambda r: (
        1000 * abs(r.first.z[0]) < sum(abs(x * w) for x, w in zip(r.inputs.X[0], r.inputs.w, strict=True))
    ),
    since=2,
)
def cancellation_in_z() -> Result:
    """Large terms cancel to a small z: float32 rounding of the terms is large next to z, yet correct."""
    # z = 300.1·1.5 − 299.9·1.5 + 0 = 450.15 − 449.85 = 0.3; a = 0.3; dJ_da = −0.7
    # dJ_dw = [−210.07, −209.93]; dJ_db = −0.7. numpy float32 gives z = 0.30004883 (error 4.9e-5): outside
    # torch.testing's float32 tolerance (atol 1e-5, rtol 1.3e-6), inside this case's float32 bound (3.2e-4).
    return create_backprop_test_case([[300.1, 299.9]], 1.0, [1.5, -1.5], 0.0, 0.0001)


@case(
    "64 features: z sums 65 terms, so the summation order changes the low bits",
    lambda r: len(r.inputs.w) == 64 and all(zi > 0 for zi in r.first.z),
    since=2,
)
def many_features() -> Result:
    """Sixty-four features in two rows, where a sum's order matters and the bound must allow for it."""
    # row 1: x_j = (j + 1)/10; row 2: x_j = (−1)^j·(j + 1)/20; w_j = 1/(j + 1) → z = [6.4 + 0.1, 0.1]
    X = [[(j + 1) / 10 for j in range(64)], [(-1) ** j * (j + 1) / 20 for j in range(64)]]
    w = [1 / (j + 1) for j in range(64)]
    return create_backprop_test_case(X, [7.0, 0.0], w, 0.1, 0.001)


@case(
    "z is exactly 0 in every precision (inputs exact in bfloat16 and float16) and da_dz there is 1",
    lambda r: r.first.z[0] == 0 and r.first.da_dz[0] == 1,
    since=2,
)
def zero_z_exact_in_every_precision() -> Result:
    """At z = 0 with inputs that bfloat16 and float16 hold exactly, the derivative 1 is pinned everywhere."""
    # z = 1·0.5 + 2·(−0.25) + 0 = 0; a = 0; dJ_da = −1; da_dz = 1; dJ_dw = [−1, −2]; dJ_db = −1
    # w_new = [0.5 + 0.125, −0.25 + 0.25] = [0.625, 0]; b_new = 0.125
    return create_backprop_test_case([[1.0, 2.0]], 1.0, [0.5, -0.25], 0.0, 0.125)


def _contracts_by_three_quarters(r: Result) -> bool:
    """θ_k = θ* + (3/4)^k·(θ_0 − θ*) at every step, θ* = (0.5, 0.5, 2) the exact fit."""
    best, start = (Fraction(1, 2), Fraction(1, 2), Fraction(2)), (*r.inputs.w, r.inputs.b)
    return all(
        (*s.w_new, s.b_new)
        == tuple(t + Fraction(3, 4) ** k * (t0 - t) for t, t0 in zip(best, start, strict=True))
        for k, s in enumerate(r.steps, 1)
    )


def _is_sum_of_rows(r: Result) -> bool:
    """dJ_dw and dJ_db of the batch equal the sums of those of each row computed alone."""
    inp = r.inputs
    rows = [
        create_backprop_test_case([x], [y], inp.w, inp.b, inp.learning_rate, alpha=inp.alpha).first
        for x, y in zip(inp.X, inp.y_true, strict=True)
    ]
    dJ_dw = tuple(sum(g) for g in zip(*(s.dJ_dw for s in rows), strict=True))
    return dJ_dw == r.first.dJ_dw and sum(s.dJ_db for s in rows) == r.first.dJ_db


# -- golden v3: shapes past the block and tile edges where reductions go wrong, and a long trajectory --


TALL = 1025  # one row past every power-of-two block up to 1024, and 25 past a block of 1000


def _tall_rows() -> tuple[list[list[float]], list[float]]:
    """1025 rows of three features in {−1, 0, 1}; y_i = z_i except on every eighth row and the last,
    where y_i = z_i + 1: there (a − y) = −1, elsewhere 0."""
    w, b = [0.5, -0.25, 0.75], Fraction("2.125")
    X, y = [], []
    for i in range(TALL):
        row = [1 if i % 2 else -1, i % 3 - 1, 1 if i // 4 % 2 else 0]
        z = sum((x * Fraction(str(wj)) for x, wj in zip(row, w, strict=True)), b)
        X.append([float(x) for x in row])
        y.append(float(z + (1 if i % 8 == 7 or i == TALL - 1 else 0)))
    return X, y


def _partial_blocks(r: Result) -> bool:
    """Every partial last block of 8, 16, 64 and 1000 rows adds to dJ_db, so dropping it shows."""
    delta = [g * d for g, d in zip(r.first.dJ_da, r.first.da_dz, strict=True)]
    return all(sum(delta[len(delta) // k * k :]) != 0 for k in (8, 16, 64, 1000))


@case(
    "1025 rows, every z > 0: the last partial block of 8, 16, 64 or 1000 rows changes dJ_db, the mean "
    "(dJ_db / 1025) is far from the sum, and every value is exact in every precision",
    lambda r: len(r.inputs.X) == TALL and all(z > 0 for z in r.first.z) and _partial_blocks(r),
    since=3,
)
def tall_batch_past_block_edges() -> Result:
    """1025 rows: a reduction that blocks, tiles or splits its rows must keep the last partial block."""
    # z_i ∈ {11/8, …, 27/8}; (a − y) = −1 on rows 7, 15, …, 1023 and 1024 (129 rows), 0 elsewhere
    # dJ_db = −129; the last partial block of 8, 16 or 64 rows (row 1024 alone) holds −1 of it, that of
    # 1000 rows (rows 1000 to 1024) −4; every sum of these integers is exact, even in bfloat16
    X, y = _tall_rows()
    return create_backprop_test_case(X, y, [0.5, -0.25, 0.75], "2.125", "0.0009765625")


WIDE = 300  # features: past tiles of 32, 128 and 256
_ROW_0: dict[int, int | str] = {
    0: 1,
    31: 1,
    33: -1,
    127: 1,
    128: 1,
    131: "-0.5",
    255: 1,
    256: -1,
    257: 1,
    299: 1,
}
_ROW_1: dict[int, int | str] = {1: -1, 34: -1, 130: -1, 258: -1, 298: -1}


def _truncated_z_differs(r: Result) -> bool:
    """z of the first row changes when the features from 32, 128 or 256 on are left out."""
    X, w, b = r.inputs.X[0], r.inputs.w, r.inputs.b
    return all(
        sum((x * wj for x, wj in zip(X[:k], w[:k], strict=True)), b) != r.first.z[0] for k in (32, 128, 256)
    )


@case(
    "300 features, an all-zero row and mostly zero columns: leaving out the features from 32, 128 or 256 on "
    "changes z and dJ_dw, and every value is exact in every precision",
    lambda r: (
        len(r.inputs.w) == WIDE
        and _truncated_z_differs(r)
        and all(r.first.dJ_dw[j] != 0 for j in (256, 257, 299))
        and all(x == 0 for x in r.inputs.X[2])
    ),
    since=3,
)
def wide_batch_past_feature_tiles() -> Result:
    """Three rows of 300 features: a dot product that tiles its features must reach the last one."""
    # w_j = ((j mod 5) − 2)/4; row 0 is 1 at features 0, 31, 127, 128, 255, 257, 299, −1 at 33, 256 and
    # −0.5 at 131, so z = −0.5 − 0.25 − 0.25 + 0 + 0.25 + 0.125 − 0.5 + 0.25 + 0 + 0.5 + b = 0.125 (b = 0.5);
    # without the features from 32 on z would be −0.25, from 128 on −0.5, from 256 on −0.625
    # row 1 is −1 at features 1, 34, 130, 258, 298: z = 0.25; row 2 is all zeros: z = b = 0.5
    # y = z + [−1, 0.5, −0.25], so dJ_da = [1, −0.5, 0.25], dJ_db = 0.75, dJ_dw[299] = 1, dJ_dw[258] = 0.5
    rows: list[list[int | str]] = [
        [_ROW_0.get(j, 0) for j in range(WIDE)],
        [_ROW_1.get(j, 0) for j in range(WIDE)],
    ]
    rows.append([0] * WIDE)
    w = [Fraction((j % 5) - 2, 4) for j in range(WIDE)]
    z = [sum((Fraction(str(x)) * wj for x, wj in zip(row, w, strict=True)), Fraction(1, 2)) for row in rows]
    y = [z[0] - 1, z[1] + Fraction(1, 2), z[2] - Fraction(1, 4)]
    X = [[float(Fraction(str(x))) for x in row] for row in rows]
    return create_backprop_test_case(X, [float(t) for t in y], [float(x) for x in w], 0.5, "0.0078125")


@case(
    "60 steps on one instance from the same start: the loss falls at every step, and each step contracts "
    "the error it carries by 3/4 (the rows are orthogonal: A = 4·I, lr = 1/16)",
    lambda r: (
        len(r.steps) == 60
        and all(s.loss < prev.loss for prev, s in zip(r.steps, r.steps[1:], strict=False))
        and all(z > 0 for s in r.steps for z in s.z)
        and _contracts_by_three_quarters(r)
    ),
    since=3,
)
def long_trajectory_contracts() -> Result:
    """Sixty steps on one instance: an update wrong after its 5th, 10th or 40th call shows; bounds shrink."""
    # X̃ = [x, 1] has orthogonal columns, so θ_k = θ* + (3/4)^k·(θ_0 − θ*) with θ* = (w, b) = (0.5, 0.5, 2),
    # the exact fit of y = [3, 2, 2, 1]; from w = [0, 0], b = 1.5 every z stays in [1, 3] (no kink)
    # step 1: z = 1.5 for every row, dJ_da = [−1.5, −0.5, −0.5, 0.5], dJ_dw = [−2, −2], dJ_db = −2
    X = [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]
    return create_backprop_test_case(X, [3.0, 2.0, 2.0, 1.0], [0.0, 0.0], 1.5, "0.0625", steps=60)

"""The named golden cases: one function each, named as its file in ``golden/v1/``.

A case's docstring says what it shows; its ``claim`` is checked on the exact result whenever the case is
generated, and a case whose claim fails is refused. The comment beside each case gives the values derived
by hand, as the seed printed its oracle's dict.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from oracle.backprop import Result, create_backprop_test_case


class ClaimError(ValueError):
    """A case's claim does not hold on its own exact result."""


@dataclass(frozen=True)
class Case:
    """A named case: how to build it, what it shows, and the claim that must hold."""

    name: str
    description: str
    claim: str
    check: Callable[[Result], bool]
    build: Callable[[], Result]
    since: int = 1  # the first golden version that holds the case; a released version never changes

    def run(self) -> Result:
        """Compute the case and check its claim; a failed claim raises ClaimError with the reason."""
        result = self.build()
        if not self.check(result):
            raise ClaimError(f"case {self.name}: claim does not hold: {self.claim}")
        return result


CASES: dict[str, Case] = {}


def case(
    claim: str, check: Callable[[Result], bool], since: int = 1
) -> Callable[[Callable[[], Result]], Callable[[], Result]]:
    """Register the decorated function as a case named after it, with its docstring as description.

    `since` is the first golden version that holds it: v1's sixteen cases never change, and a new case
    goes into a new version.
    """

    def register(build: Callable[[], Result]) -> Callable[[], Result]:
        if build.__name__ in CASES:
            raise ValueError(f"case {build.__name__} is defined twice")
        doc = inspect.getdoc(build) or ""
        CASES[build.__name__] = Case(build.__name__, doc, claim, check, build, since)
        return build

    return register


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


def _is_sum_of_rows(r: Result) -> bool:
    """dJ_dw and dJ_db of the batch equal the sums of those of each row computed alone."""
    inp = r.inputs
    rows = [
        create_backprop_test_case([x], [y], inp.w, inp.b, inp.learning_rate, alpha=inp.alpha).first
        for x, y in zip(inp.X, inp.y_true, strict=True)
    ]
    dJ_dw = tuple(sum(g) for g in zip(*(s.dJ_dw for s in rows), strict=True))
    return dJ_dw == r.first.dJ_dw and sum(s.dJ_db for s in rows) == r.first.dJ_db

"""The production Neuron, held to values derived by hand from the seed.

Tolerances: every expected value below is exact in decimal; the Neuron computes in float64, where each
value passes through a handful of roundings of relative size 2**-53 ≈ 1.1e-16. rtol = 1e-12 leaves
10**3 headroom over that and is still far below any formula error (the smallest, a factor alpha, is 1e-2).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from neuron import ACTIVATIONS, Neuron

RTOL = 1e-12

SEED_X = [
    [-1, 2, 3, 13, 17],
    [4, -5, 6, 14, 18],
    [7, 8, -9, 15, 19],
    [-10, 11, 12, 16, -20],
]
SEED_Y = [100, 200, 300, 400]


def seed_neuron(w: list[float] | None = None, b: float = 0.1, **kwargs: object) -> Neuron:
    n = Neuron(len(w or [0.3, 0.4]), **kwargs)  # type: ignore[arg-type]
    n.w = w or [0.3, 0.4]
    n.b = b
    return n


def worked_example() -> Neuron:
    """The seed's 4×5 X of F.1 with w = [1, 0, 0, 0, 0.5], b = -1: three rows z > 0, one z < 0."""
    return seed_neuron([1, 0, 0, 0, 0.5], b=-1)


# -- the seed's values ------------------------------------------------------------------------


def test_gradient_matches_seed_negative_gradients_case() -> None:
    # z = 0.3·1 + 0.4·2 + 0.1 = 1.2; dJ_da = 1.2 − 1.5 = −0.3; da_dz = 1
    dJ_dw, dJ_db = seed_neuron().gradient([[1.0, 2.0]], 1.5)
    assert_allclose(dJ_dw, [-0.3, -0.6], rtol=RTOL)
    assert dJ_db == pytest.approx(-0.3, rel=RTOL)


def test_update_weights_matches_seed_red_test() -> None:
    n = seed_neuron()
    n.update_weights(np.array([-0.3, -0.6]), -0.3, 0.01)
    assert_allclose(n.w, [0.303, 0.406], rtol=RTOL)
    assert n.b == pytest.approx(0.103, rel=RTOL)


def test_worked_example_linear_and_forward() -> None:
    n = worked_example()
    # z_1 = −1 + 0.5·17 − 1 = 6.5; z_4 = −10 + 0.5·(−20) − 1 = −21, so a_4 = 0.01·(−21)
    assert_allclose(n.linear(SEED_X), [6.5, 12.0, 15.5, -21.0], rtol=RTOL)
    assert_allclose(n.forward(SEED_X), [6.5, 12.0, 15.5, -0.21], rtol=RTOL)


def test_worked_example_loss_is_per_example_half_squared_error() -> None:
    # u = a − y = [−93.5, −188, −284.5, −400.21]; J_i = ½u_i²
    J = worked_example().loss(SEED_X, SEED_Y)
    assert_allclose(J, [4371.125, 17672.0, 40470.125, 80084.02205], rtol=RTOL)


def test_worked_example_gradient_sums_over_the_batch() -> None:
    # delta = u·f'(z) = [−93.5, −188, −284.5, −4.0021]; dJ_db = Σ delta; dJ_dw = deltaᵀ·X
    dJ_dw, dJ_db = worked_example().gradient(SEED_X, SEED_Y)
    assert_allclose(dJ_dw, [-2609.979, -1567.0231, 1103.9748, -8179.0336, -10298.958], rtol=RTOL)
    assert dJ_db == pytest.approx(-570.0021, rel=RTOL)


def test_batch_gradient_matches_seed_batch_case() -> None:
    # z = [1.2, 0.15 + 0.4 + 0.1 = 0.65]; u = a − y = [−0.3, −0.15]
    # dJ_dw = −0.3·[1, 2] + (−0.15)·[0.5, 1] = [−0.375, −0.75]; dJ_db = −0.45
    dJ_dw, dJ_db = seed_neuron().gradient([[1.0, 2.0], [0.5, 1.0]], [1.5, 0.8])
    assert_allclose(dJ_dw, [-0.375, -0.75], rtol=RTOL)
    assert dJ_db == pytest.approx(-0.45, rel=RTOL)


# -- methods ----------------------------------------------------------------------------------


def test_one_row_counts_as_a_batch_of_one() -> None:
    n = seed_neuron()
    assert n.forward([1.0, 2.0]).shape == (1,)
    assert_array_equal(n.forward([1.0, 2.0]), n.forward([[1.0, 2.0]]))


def test_scalar_y_true_is_broadcast_over_the_batch() -> None:
    n = seed_neuron()
    X = [[1.0, 2.0], [0.5, 1.0]]
    assert_array_equal(n.loss(X, 1.5), n.loss(X, [1.5, 1.5]))


def test_activation_derivative_is_one_at_zero_and_alpha_below() -> None:
    n = Neuron(1, alpha=0.25)
    assert_array_equal(n.activation_derivative([-2.0, -1e-300, 0.0, 3.0]), [0.25, 0.25, 1.0, 1.0])


def test_relu_derivative_is_one_at_zero_as_leaky_relu() -> None:
    assert_array_equal(Neuron(1, activation="relu").activation_derivative([-1.0, 0.0]), [0.0, 1.0])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_matches_central_difference(name: str) -> None:
    # Away from the kink at 0 (|z| >= 0.1 >> h). Central difference error: h²·|f'''|/6 + eps·|f|/h,
    # about 1e-12 + 1e-10 here; rtol = atol = 1e-7 is a margin of 10**3 over both.
    n = Neuron(1, activation=name, alpha=0.05)
    z = np.array([-3.0, -0.7, -0.1, 0.1, 0.4, 2.5])
    h = 1e-6
    numeric = (n._activation.f(z + h, n.alpha) - n._activation.f(z - h, n.alpha)) / (2 * h)
    assert_allclose(n.activation_derivative(z), numeric, rtol=1e-7, atol=1e-7)


def test_gradient_matches_central_difference_of_the_batch_loss() -> None:
    # Same error budget as above, on J summed over a 2-row batch of values of order 1.
    n = seed_neuron([0.3, -0.4], b=0.2, activation="tanh")
    X, y = np.array([[1.0, 2.0], [-0.5, 1.5]]), np.array([0.3, -0.2])
    dJ_dw, dJ_db = n.gradient(X, y)
    h, w0, b0 = 1e-6, n.w.copy(), n.b
    numeric_w = []
    for j in range(2):
        e = np.eye(2)[j] * h
        n.w = w0 + e
        up = n.loss(X, y).sum()
        n.w = w0 - e
        numeric_w.append((up - n.loss(X, y).sum()) / (2 * h))
    n.w = w0
    n.b = b0 + h
    up = n.loss(X, y).sum()
    n.b = b0 - h
    numeric_b = (up - n.loss(X, y).sum()) / (2 * h)
    assert_allclose(dJ_dw, numeric_w, rtol=1e-7, atol=1e-7)
    assert dJ_db == pytest.approx(numeric_b, rel=1e-7, abs=1e-7)


def test_sigmoid_is_stable_for_large_z() -> None:
    n = Neuron(1, activation="sigmoid")
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is right
        a = n._activation.f(np.array([-1000.0, 1000.0]), 0.0)
    assert_array_equal(a, [0.0, 1.0])


def test_unknown_activation_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown 'gelu'; known: identity, leaky_relu, relu"):
        Neuron(2, activation="gelu")


def test_zero_gradient_leaves_weights_unchanged() -> None:
    n = seed_neuron()
    n.update_weights([0.0, 0.0], 0.0, 0.5)
    assert_array_equal(n.w, [0.3, 0.4])
    assert n.b == 0.1


def test_step_returns_the_batch_loss_before_the_update() -> None:
    n = seed_neuron()
    loss = n.step([[1.0, 2.0]], 1.5, 0.01)
    assert loss == pytest.approx(0.045, rel=RTOL)  # ½·0.3²
    assert_allclose(n.w, [0.303, 0.406], rtol=RTOL)
    assert n.b == pytest.approx(0.103, rel=RTOL)


def test_fit_reduces_the_loss_on_a_learnable_problem() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 3.0  # mostly positive: learnable through Leaky ReLU
    n = Neuron(3, seed=1, activation="identity")
    history = n.fit(X, y, learning_rate=0.005, epochs=200)
    assert len(history) == 200
    assert history[-1] < 1e-6 * history[0]
    assert_allclose(n.w, [1.5, -2.0, 0.5], atol=1e-3)


def test_fit_with_mini_batches_is_reproducible_from_the_shuffle_seed() -> None:
    X = np.linspace(-1, 1, 40).reshape(20, 2)
    y = X.sum(axis=1) + 2
    runs = []
    for _ in range(2):
        n = Neuron(2, seed=3)
        runs.append((n.fit(X, y, 0.05, epochs=5, batch_size=6, shuffle_seed=7), n.w.copy()))
    assert runs[0][0] == runs[1][0]
    assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][0][-1] < runs[0][0][0]


def test_seed_makes_initial_weights_reproducible() -> None:
    assert_array_equal(Neuron(4, seed=5).w, Neuron(4, seed=5).w)
    assert Neuron(4, seed=5).b == Neuron(4, seed=5).b


def test_float32_dtype_keeps_float32() -> None:
    n = seed_neuron(dtype=np.float32)
    assert n.w.dtype == np.float32
    assert n.forward([[1.0, 2.0]]).dtype == np.float32
    assert n.gradient([[1.0, 2.0]], 1.5)[0].dtype == np.float32


def test_repr_names_features_activation_and_alpha() -> None:
    assert repr(Neuron(2)) == "Neuron(n_features=2, activation='leaky_relu', alpha=0.01)"


# -- bad input --------------------------------------------------------------------------------

BAD_CALLS = [
    ("forward", ([[1.0, 2.0, 3.0]],), ValueError, r"X has 3 features \(shape \(1, 3\)\); expected 2"),
    ("forward", ([[[1.0, 2.0]]],), ValueError, r"X has shape \(1, 1, 2\); expected \(m, 2\)"),
    ("forward", ([[1.0, 2.0], [1.0]],), ValueError, "X is ragged"),
    ("forward", ([[1.0, 2.0], 3.0],), ValueError, "X is ragged"),
    ("forward", ((np.zeros(2), [1.0]),), ValueError, "X is ragged"),
    ("forward", (np.array([[1.0, 2.0], [1.0]], dtype=object),), ValueError, "X is ragged"),
    ("forward", ([range(2), range(1)],), ValueError, "X is ragged"),
    ("forward", ([[1.0, 2.0], np.array(3.0)],), ValueError, "X is ragged"),
    ("forward", ([[[1.0], [1.0, 2.0]]],), ValueError, "X is ragged"),
    ("forward", (np.zeros((0, 2)),), ValueError, "X has no rows"),
    ("forward", ([["a", "b"]],), TypeError, "X must hold numbers"),
    ("gradient", ([[np.nan, 2.0]], 1.0), ValueError, r"X contains nan at index \(0, 0\)"),
    ("gradient", ([[1.0, 2.0]], np.inf), ValueError, "y_true contains inf"),
    (
        "gradient",
        ([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0, 3.0]),
        ValueError,
        r"y_true has shape \(3,\); expected a scalar or shape \(2,\)",
    ),
    ("gradient", ([[1.0, 2.0]], [[1.0]]), ValueError, r"y_true has shape \(1, 1\)"),
    ("step", ([[1.0, 2.0]], 1.0, -0.1), ValueError, "learning_rate is -0.1; expected a finite"),
    ("step", ([[1.0, 2.0]], 1.0, np.nan), ValueError, "learning_rate is nan"),
    ("update_weights", ([0.1, 0.2], 0.1, np.inf), ValueError, "learning_rate is inf"),
    ("update_weights", ([0.1], 0.1, 0.1), ValueError, r"dJ_dw has shape \(1,\); expected \(2,\)"),
    ("update_weights", ([0.1, np.nan], 0.1, 0.1), ValueError, "dJ_dw contains nan"),
    ("update_weights", ([0.1, 0.2], [0.1, 0.2], 0.1), ValueError, r"dJ_db has shape \(2,\)"),
    ("fit", ([[1.0, 2.0]], 1.0, 0.1, -1), ValueError, "epochs is -1"),
    ("fit", ([[1.0, 2.0]], 1.0, 0.1, 1, 0), ValueError, "batch_size is 0"),
]


@pytest.mark.parametrize(
    ("method", "args", "error", "message"), BAD_CALLS, ids=[c[3][:40] for c in BAD_CALLS]
)
def test_bad_input_names_the_argument_and_changes_nothing(
    method: str, args: tuple[object, ...], error: type[Exception], message: str
) -> None:
    n = seed_neuron()
    with pytest.raises(error, match=message):
        getattr(n, method)(*args)
    assert_array_equal(n.w, [0.3, 0.4])
    assert n.b == 0.1


def test_overflow_in_z_is_an_error_not_a_value() -> None:
    n = seed_neuron([2.0, 2.0])
    with pytest.raises(ValueError, match="z = X·w \\+ b contains inf"):
        n.forward([[1e308, 1e308]])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_features": 0}, ValueError, "n_features is 0; expected at least 1"),
        ({"n_features": 2.0}, TypeError, "n_features must be an int; got float"),
        ({"n_features": 2, "dtype": np.int64}, ValueError, "dtype is int64"),
        ({"n_features": 2, "alpha": np.nan}, ValueError, "alpha is nan"),
    ],
)
def test_bad_constructor_arguments_are_named(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Neuron(**kwargs)  # type: ignore[arg-type]


def test_w_accepts_a_list_and_rejects_the_wrong_shape() -> None:
    n = Neuron(2)
    n.w = [1, 2]
    assert n.w.dtype == np.float64
    with pytest.raises(ValueError, match=r"w has shape \(3,\); expected \(2,\)"):
        n.w = [1.0, 2.0, 3.0]
    assert_array_equal(n.w, [1.0, 2.0])


def test_w_is_copied_so_callers_cannot_alias_it() -> None:
    n = Neuron(2)
    w = np.array([1.0, 2.0])
    n.w = w
    w[0] = 99.0
    assert n.w[0] == 1.0

"""The seed's curriculum, as data: ten steps, each a stage (``golden.outcome.STAGES``) and the golden cases
that teach it, simplest first, with the formula and a hint. ``golden.learn._tdd`` walks it.
"""

from __future__ import annotations

from dataclasses import dataclass

from golden.outcome import B_NEW, DA_DZ, DJ_DB, DJ_DW, PARAMETERS, TRAJECTORY, W_NEW, A, J, Z

WALKED = "leaky_relu"  # the activation the curriculum teaches


@dataclass(frozen=True)
class Step:
    """One lesson: the stages it makes green, on which cases, with the formula and a hint."""

    title: str
    stages: tuple[str, ...]
    cases: tuple[str, ...]
    formula: str
    hint: str


CURRICULUM = (
    Step(
        PARAMETERS.name,
        (PARAMETERS.name,),
        ("negative_gradients_increase_weights",),
        "w: array (n_features,), b: float, alpha = 0.01",
        "__init__ itself sets self.w (n_features numbers), self.b and self.alpha = 0.01; all three can be "
        "reassigned.",
    ),
    Step(
        "linear part",
        (Z.name,),
        ("negative_gradients_increase_weights", "seed_worked_example_4x5"),
        "z = X·w + b, shape (m,)",
        "one dot product per row: np.dot(X, self.w) + self.b.",
    ),
    Step(
        "activation",
        (A.name,),
        ("negative_gradients_increase_weights", "leaky_branch_negative_z", "non_default_alpha"),
        "a = z where z >= 0, alpha·z where z < 0",
        "Leaky ReLU keeps positive z and scales negative z by self.alpha (not a hard-coded 0.01).",
    ),
    Step(
        "activation derivative",
        (DA_DZ.name,),
        ("leaky_branch_negative_z", "zero_z_takes_derivative_one", "batch_rows_on_both_branches"),
        "da/dz = 1 where z >= 0 (z = 0 included), alpha where z < 0",
        "np.where(z < 0, self.alpha, 1.0): at exactly z = 0 the seed takes 1.",
    ),
    Step(
        "loss",
        (J.name,),
        ("negative_gradients_increase_weights", "batch_input_gradients"),
        "J_i = ½ (a_i − y_i)², one value per example",
        "keep the ½ and do not sum: loss returns shape (m,).",
    ),
    Step(
        "weight gradient",
        (DJ_DW.name,),
        ("negative_gradients_increase_weights", "leaky_branch_negative_z", "single_feature"),
        "dJ_dw = Σ_i (a_i − y_i)·da_dz_i·X_i",
        "chain rule: error times the activation derivative, then np.dot(delta, X); return (dJ_dw, dJ_db).",
    ),
    Step(
        "bias gradient",
        (DJ_DB.name,),
        ("negative_gradients_increase_weights", "leaky_branch_negative_z"),
        "dJ_db = Σ_i (a_i − y_i)·da_dz_i   (dz/db = 1)",
        "the same delta as for the weights, summed: delta.sum().",
    ),
    Step(
        "batch",
        (DJ_DW.name, DJ_DB.name),
        ("batch_input_gradients", "batch_rows_on_both_branches", "seed_worked_example_4x5"),
        "sum over the batch, not the mean",
        "every example adds its share: a sum, never divided by m.",
    ),
    Step(
        "update",
        (W_NEW.name, B_NEW.name),
        ("negative_gradients_increase_weights", "zero_gradients_no_change", "large_learning_rate"),
        "w ← w − lr·dJ_dw,  b ← b − lr·dJ_db",
        "step against the gradient, in place on self.w and self.b.",
    ),
    Step(
        "training steps",
        (TRAJECTORY.name,),
        ("training_trajectory",),
        "repeat: gradient, then update_weights",
        "every step must start from the parameters the last update left.",
    ),
)

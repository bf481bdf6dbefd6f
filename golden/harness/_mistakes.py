"""The catalogue of classic mistakes, as data: each mistake's id, what it is, what to tell a learner whose
values it explains, and how to predict those values (``golden.harness._predictions``). A library's
convention that the seed does not follow (PyTorch's da/dz at 0, a mean loss) is a mistake only until it is
declared: ``declares`` says how. Its message names it as the mistake a learner makes (a ``<=`` for a
``<``, a forgotten ½); the declaration is offered after it, to whoever ports code from a library that
does this (``porting``), never in its place. ``neuron-oracle mistakes`` prints the catalogue (``catalogue``);
``golden.harness._diagnosis`` matches a failed stage against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from golden.harness._predictions import (
    Predict,
    dot,
    gradient,
    hard_coded_alpha,
    learning_rate_factor,
    loss_scale,
    mean,
    negated,
    redone,
    stale,
    update,
    zero_at_kink,
)


@dataclass(frozen=True)
class Mistake:
    """A classic mistake: its id, what to say (``{stage}``, ``{m}`` and the constants it names
    are filled in), and how to predict its values on a case.

    ``stage_message`` says it with no number of the case (its rows, an inferred constant), ``{stage}``
    alone filled in, for ``--feedback stage`` (``golden.feedback``); empty when ``message`` has none.
    """

    id: str
    summary: str
    message: str
    predict: Predict
    declares: tuple[tuple[str, str], ...] = ()  # a library's convention: what declaring it sets
    porting: str = ""  # for a convention: which libraries do this, said to whoever ports their code
    inferred: bool = False  # its constant is inferred: looked for only when no other mistake matches
    stage_message: str = ""  # the message without the case's numbers (--feedback stage); "": message

    @property
    def declaration(self) -> str:
        """The class attribute that declares this convention: ``conventions = {"loss": "mean"}``."""
        pairs = ", ".join(f'"{k}": "{v}"' for k, v in self.declares)
        return f"conventions = {{{pairs}}}" if pairs else ""


CATALOGUE: tuple[Mistake, ...] = (
    Mistake(
        "derivative_alpha_at_zero",
        "da/dz at z = 0 taken as alpha (z <= 0 where the seed has z < 0; PyTorch's F.leaky_relu does this)",
        "{stage} takes da/dz = alpha at z = 0, as np.where(z <= 0, alpha, 1) does; Leaky ReLU's derivative "
        "at z = 0 is 1 here, as the seed decided: np.where(z < 0, alpha, 1)",
        redone(conv={"derivative_at_zero": "alpha"}),
        declares=(("derivative_at_zero", "alpha"),),
        porting="PyTorch's F.leaky_relu and TensorFlow take alpha at z = 0",
    ),
    Mistake(
        "derivative_midpoint_at_zero",
        "da/dz at z = 0 taken as (1 + alpha)/2 (HIPS autograd's np.maximum splits the tie)",
        "{stage} takes da/dz = (1 + alpha)/2 at z = 0, as autograd's np.maximum does; Leaky ReLU's "
        "derivative at z = 0 is 1 here, as the seed decided: np.where(z < 0, alpha, 1)",
        redone(conv={"derivative_at_zero": "midpoint"}),
        declares=(("derivative_at_zero", "midpoint"),),
        porting="HIPS autograd's np.maximum takes (1 + alpha)/2 at z = 0",
    ),
    Mistake(
        "derivative_zero_at_zero",
        "da/dz at z = 0 taken as 0 (micrograd's relu(z) − alpha·relu(−z)): no subgradient of Leaky ReLU",
        "{stage} takes da/dz = 0 at z = 0, as relu(z) − alpha·relu(−z) does under autodiff; no convention "
        "allows that: Leaky ReLU's slopes either side are alpha and 1; take one, np.where(z < 0, alpha, 1)",
        zero_at_kink,
    ),
    Mistake(
        "loss_without_half",
        "J = Σ(a − y)² without the ½: every gradient doubled",
        "{stage} is twice the expected: J = Σ(a − y)² is missing the ½, and its derivative 2(a − y) has the "
        "2 that the ½ cancels; the seed's J = ½Σ(a − y)² has dJ/da = a − y",
        redone(conv={"loss": "sum"}),
        declares=(("loss", "sum"),),
        porting="a loss of Σ(a − y)², with no ½, is some libraries' choice",
    ),
    Mistake(
        "mean_loss",
        "J = (1/m)Σ(a − y)², a mean without the ½ (nn.MSELoss, Keras 'mse'): every gradient × 2/m",
        "{stage} is that of J = (1/m)Σ(a − y)², the mean over the {m} rows without the ½: 2/m times the "
        "expected; the seed's J = ½Σ(a − y)² sums over the rows, and has dJ/da = a − y",
        redone(conv={"loss": "mean"}),
        declares=(("loss", "mean"),),
        porting="PyTorch's nn.MSELoss and Keras's 'mse' take the mean",
        stage_message="{stage} is that of J = (1/m)Σ(a − y)², the mean over the rows without the ½; the "
        "seed's J = ½Σ(a − y)² sums over the rows, and has dJ/da = a − y",
    ),
    Mistake(
        "missing_activation_derivative",
        "the chain rule stops at a: da/dz left out of the gradient",
        "{stage} leaves out da/dz: the chain rule is dJ/dw = (a − y)·da/dz·x, and on the leaky branch da/dz "
        "is alpha, not 1",
        gradient(lambda m, delta, s: (dot(m, list(s.dJ_da), s), m.sum(list(s.dJ_da)))),
    ),
    Mistake(
        "relu_instead_of_leaky_relu",
        "plain ReLU where Leaky ReLU belongs: 0 instead of alpha·z below the kink",
        "{stage} is ReLU's: for z < 0 Leaky ReLU gives alpha·z (and slope alpha), not 0",
        redone(activation="relu"),
    ),
    Mistake(
        "hard_coded_alpha",
        "alpha fixed (0.01, 0.1 …: inferred from the values) instead of the neuron's own self.alpha",
        "{stage} uses alpha = {alpha}, not self.alpha ({own} here): use self.alpha",
        hard_coded_alpha,
        stage_message="{stage} uses a fixed alpha, not the neuron's own: use self.alpha",
    ),
    Mistake(
        "bias_missing_in_forward",
        "z = X·w without + b",
        "{stage} leaves the bias out: z = X·w + b",
        redone(b="0"),
    ),
    Mistake(
        "bias_gradient_mean",
        "dJ_db averaged over the batch instead of summed",
        "dJ_db equals the mean over the {m} rows instead of the sum: the bias is shared by every example, so "
        "its gradient adds up",
        gradient(lambda m, delta, s: (s.dJ_dw, mean(m, m.sum(delta), len(delta)))),
        stage_message="dJ_db equals the mean over the rows instead of the sum: the bias is shared by every "
        "example, so its gradient adds up",
    ),
    Mistake(
        "weight_gradient_mean",
        "dJ_dw averaged over the batch instead of summed",
        "dJ_dw equals the mean over the {m} rows instead of the sum: every example adds its share",
        gradient(lambda m, delta, s: (tuple(mean(m, g, len(delta)) for g in dot(m, delta, s)), s.dJ_db)),
        stage_message="dJ_dw equals the mean over the rows instead of the sum: every example adds its share",
    ),
    Mistake(
        "bias_gradient_first_row",
        "dJ_db from the first row only",
        "dJ_db is the first row's alone: sum delta_i over all {m} rows",
        gradient(lambda m, delta, s: (s.dJ_dw, delta[0])),
        stage_message="dJ_db is the first row's alone: sum delta_i over all the rows",
    ),
    Mistake(
        "first_row_only",
        "the gradient of the first row only, as if the batch had one example",
        "{stage} is the first row's alone: a batch's gradient sums every row's",
        gradient(lambda m, delta, s: (tuple(m.mul(delta[0], x) for x in s.X[0]), delta[0])),
    ),
    Mistake(
        "gradient_sign_flipped",
        "the gradient's sign flipped: (y − a) instead of (a − y)",
        "{stage} has the wrong sign: the error is a − y, so dJ/dw = (a − y)·da/dz·x",
        gradient(lambda m, delta, s: (negated(s.dJ_dw), negated(s.dJ_db))),
    ),
    Mistake(
        "update_sign_flipped",
        "gradient ascent: w + lr·dJ_dw",
        "{stage} moves up the gradient: descent is w ← w − lr·dJ_dw",
        update(lambda m, x, g, lr: m.add(x, m.mul(lr, g))),
    ),
    Mistake(
        "bias_not_scaled_by_learning_rate",
        "b ← b − dJ_db, without the learning rate",
        "{stage} leaves out the learning rate on the bias: b ← b − lr·dJ_db",
        update(lambda m, x, g, lr: m.sub(x, g)),
    ),
    Mistake(
        "update_not_in_place",
        "update_weights computes new values but does not store them",
        "{stage} did not change: update_weights must store the new w and b on the neuron (self.w = …)",
        update(lambda m, x, g, lr: x),
    ),
    Mistake(
        "stale_forward",
        "gradient reuses the a of an earlier forward call (the seed's 'self.forward dependency problem')",
        "{stage} uses the values of the previous forward call, not of this X: call forward inside "
        "gradient, as the seed decided",
        stale,
    ),
    Mistake(
        "learning_rate_factor",
        "an update that moves c·lr·dJ_dw (c inferred): the learning rate scaled, or applied twice",
        "{stage} moves {c} times as far as lr·dJ_dw: w ← w − lr·dJ_dw takes the learning rate once, as given",
        learning_rate_factor,
        inferred=True,
        stage_message="{stage} moves a multiple of lr·dJ_dw: w ← w − lr·dJ_dw takes the learning rate once, "
        "as given",
    ),
    Mistake(
        "loss_scale",
        "every gradient c times the seed's (c inferred, such as 1/m, 2/m or 4): a factor in the loss",
        "{stage} is {c} times the expected: a factor in the loss or in its derivative; the seed's "
        "J = ½Σ(a − y)² has dJ/da = a − y",
        loss_scale,
        inferred=True,
        stage_message="{stage} is a multiple of the expected: a factor in the loss or in its derivative; the "
        "seed's J = ½Σ(a − y)² has dJ/da = a − y",
    ),
)
LOWER_PRECISION = Mistake(
    "lower_precision",
    "the values of a lower precision than the dtype returned (float32 math returned as float64)",
    "{stage} is {lower}-accurate, not {precision}: compute in the precision you return, or return {lower} "
    'and be judged by its bounds (or declare precision = "{lower}")',
    lambda p: ({}, {}),
    stage_message="{stage} has the accuracy of a lower precision than the dtype it is returned in: compute "
    "in the precision you return, or declare the lower one",
)
BY_ID = {m.id: m for m in (*CATALOGUE, LOWER_PRECISION)}


def catalogue() -> list[str]:
    """The catalogue as lines: id, what it is, and for a library's convention how to declare it."""
    lines = []
    for mistake in (*CATALOGUE, LOWER_PRECISION):
        declare = f"  (a convention: {mistake.declaration})" if mistake.declares else ""
        lines.append(f"{mistake.id:<34} {mistake.summary}{declare}")
    return lines

"""The property suite: invariants every neuron implementation keeps, checked with Hypothesis in the parent.

Hypothesis runs here, in the validating process; each example calls the implementation through a
``Remote`` (its methods are requests to the child), and every assertion is made here on the numbers that
came back. A property is a function ``f(remote, max_examples=None)`` that raises AssertionError with the
reason when an example breaks it.

Domains are small and bounded (at most 4 rows and 3 features, values in [-10, 10]), so every float64
quantity carries an absolute rounding error below 1e-11; ``RTOL`` = 1e-9 and ``ATOL`` = 1e-8 leave a
margin of 10**3 and still catch any formula error (mean instead of sum is off by a factor m >= 2).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from golden.harness.compare import Divergence, numbers, pair
from golden.harness.protocol import Value, short
from golden.harness.proxy import Op, Raised, Remote, RemoteNeuron
from golden.outcome import Kind, Outcome, Status
from oracle.exact import ACTIVATIONS

RTOL, ATOL = 1e-9, 1e-8
QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

# Numeric code: no deadline (a first call may compile or warm a cache), no health check for slow data,
# no example database (nothing is written to the user's working directory), one failure reported.
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, suppress_health_check=QUIET, database=None
)
settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=QUIET, database=None)
if os.environ.get("HYPOTHESIS_PROFILE") in ("ci", "dev"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Problem:
    """A small neuron problem: data, parameters and activation."""

    X: Array
    y: Array
    w: Array
    b: float
    alpha: float
    activation: str

    def neuron(self, remote: Remote, delta: Array | None = None) -> RemoteNeuron:
        """A fresh instance with these parameters, (w, b) moved by `delta` (n weights, then the bias)."""
        n = self.X.shape[1]
        w, b = (self.w, self.b) if delta is None else (self.w + delta[:n], self.b + float(delta[n]))
        return remote.new(n, self.activation, w, b, self.alpha)

    @property
    def z(self) -> Array:
        """z = X·w + b, computed here in float64 (not by the implementation)."""
        z: Array = self.X @ self.w + self.b
        return z


@st.composite
def problems(draw: st.DrawFn, remote: Remote, bound: float = 10.0, min_rows: int = 1) -> Problem:
    """Problems for the implementation: 1 to 3 features, `min_rows` to 4 rows, values in [-bound, bound]."""
    n = draw(st.integers(1, 3))
    m = draw(st.integers(min_rows, 4))
    value = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return Problem(
        X=draw(arrays(np.float64, (m, n), elements=value)),
        y=draw(arrays(np.float64, (m,), elements=value)),
        w=draw(arrays(np.float64, (n,), elements=value)),
        b=draw(value),
        alpha=draw(st.floats(0, 1)),
        activation=draw(st.sampled_from(known_activations(remote))),
    )


def known_activations(remote: Remote) -> tuple[str, ...]:
    """The activations the class declares that the oracle knows, in the order declared."""
    return tuple(a for a in remote.activations if a in ACTIVATIONS)


def read(value: Value, what: str) -> Array:
    """The numbers in `value`, or an AssertionError saying what else came back."""
    try:
        return numbers(value, what, what)
    except Divergence as d:
        raise AssertionError(d.message) from None


def close(got: Array, want: Any, what: str) -> None:
    """Assert |got − want| <= ATOL + RTOL·|want| elementwise, saying where it does not hold."""
    w = np.asarray(want, dtype=np.float64)
    assert got.shape == w.shape, f"{what}: shape {got.shape}, expected {w.shape}"
    assert np.isclose(got, w, rtol=RTOL, atol=ATOL).all(), f"{what}: {got.tolist()} != {w.tolist()}"


def as_gradient(value: Value) -> tuple[Array, float]:
    """A gradient's (dJ_dw, dJ_db), read as float64."""
    try:
        dJ_dw, dJ_db = pair(value, "gradient")
    except Divergence as d:
        raise AssertionError(d.message) from None
    return read(dJ_dw, "gradient's dJ_dw"), float(read(dJ_db, "gradient's dJ_db").reshape(-1)[0])


def loss(a: Array, y: Array) -> float:
    """½ Σ (a − y)², computed here from the implementation's forward."""
    u = a - y
    return float(0.5 * u @ u)


def before_and_after(remote: Remote, neuron: RemoteNeuron, op: Op) -> tuple[Array, Array, Array, Array]:
    """w and b read before and after `op`, in one round trip."""
    reads = neuron.read("w"), neuron.read("b")
    w0, b0, _, w1, b1 = remote.gather(*reads, op, neuron.read("w"), neuron.read("b"))
    return (
        read(w0, "w"),
        read(b0, "b"),
        read(w1, "w after update_weights"),
        read(b1, "b after update_weights"),
    )


def _run(test: Callable[[], None], max_examples: int | None) -> None:
    """Run a @given test under the current profile, without deadline or database, reporting one failure."""
    chosen = settings(deadline=None, suppress_health_check=QUIET, database=None, report_multiple_bugs=False)
    if max_examples is not None:
        chosen = settings(chosen, max_examples=max_examples)
    chosen(test)()


# -- the properties --------------------------------------------------------------------------------


def zero_gradient_leaves_weights_unchanged(remote: Remote, max_examples: int | None = None) -> None:
    """update_weights with a zero gradient leaves w and b unchanged, bit for bit (w − lr·0 keeps −0.0)."""

    @given(p=problems(remote), lr=st.floats(0, 10))
    def test(p: Problem, lr: float) -> None:
        neuron = p.neuron(remote)
        update = neuron.op("update_weights", np.zeros(p.X.shape[1]), 0.0, lr)
        w0, b0, w1, b1 = before_and_after(remote, neuron, update)
        assert w1.tobytes() == w0.tobytes(), f"w changed: {w1.tolist()} from {w0.tolist()}"
        assert b1.tobytes() == b0.tobytes(), f"b changed: {b1.tolist()} from {b0.tolist()}"

    _run(test, max_examples)


def zero_learning_rate_leaves_weights_unchanged(remote: Remote, max_examples: int | None = None) -> None:
    """update_weights with learning rate 0 leaves w and b unchanged, whatever the gradient.

    Equal as numbers, not bit for bit: w − 0·g turns −0.0 into +0.0 when g < 0, as IEEE 754 requires.
    """

    @given(p=problems(remote), data=st.data())
    def test(p: Problem, data: st.DataObject) -> None:
        neuron = p.neuron(remote)
        g = data.draw(arrays(np.float64, p.w.shape, elements=st.floats(-1e6, 1e6)))
        update = neuron.op("update_weights", g, data.draw(st.floats(-1e6, 1e6)), 0.0)
        w0, b0, w1, b1 = before_and_after(remote, neuron, update)
        assert np.array_equal(w1, w0), f"w changed: {w1.tolist()} from {w0.tolist()}"
        assert np.array_equal(b1, b0), f"b changed: {b1.tolist()} from {b0.tolist()}"

    _run(test, max_examples)


def batch_gradient_is_the_sum_of_its_parts(remote: Remote, max_examples: int | None = None) -> None:
    """The gradient of a batch is the sum of the gradients of its parts (a mean would not be)."""

    @given(p=problems(remote, min_rows=2), data=st.data())
    def test(p: Problem, data: st.DataObject) -> None:
        k = data.draw(st.integers(1, p.X.shape[0] - 1), label="split")
        neuron = p.neuron(remote)
        parts = ((p.X, p.y), (p.X[:k], p.y[:k]), (p.X[k:], p.y[k:]))
        whole, first, rest = map(as_gradient, remote.gather(*(neuron.op("gradient", X, y) for X, y in parts)))
        close(whole[0], first[0] + rest[0], "dJ_dw of the batch vs the sum of its parts")
        close(np.array(whole[1]), first[1] + rest[1], "dJ_db of the batch vs the sum of its parts")

    _run(test, max_examples)


def row_order_does_not_change_the_gradient(remote: Remote, max_examples: int | None = None) -> None:
    """Permuting the rows of X (and y with them) does not change the gradient."""

    @given(p=problems(remote, min_rows=2), data=st.data())
    def test(p: Problem, data: st.DataObject) -> None:
        order = np.array(data.draw(st.permutations(range(p.X.shape[0])), label="order"))
        neuron = p.neuron(remote)
        ops = neuron.op("gradient", p.X, p.y), neuron.op("gradient", p.X[order], p.y[order])
        g, g_perm = map(as_gradient, remote.gather(*ops))
        close(g_perm[0], g[0], "dJ_dw with rows permuted")
        close(np.array(g_perm[1]), g[1], "dJ_db with rows permuted")

    _run(test, max_examples)


def forward_is_row_wise(remote: Remote, max_examples: int | None = None) -> None:
    """forward on a batch equals forward on each row alone."""

    @given(p=problems(remote))
    def test(p: Problem) -> None:
        neuron = p.neuron(remote)
        ops = [neuron.op("forward", X) for X in (p.X, *(p.X[i : i + 1] for i in range(p.X.shape[0])))]
        batch, *rows = (read(v, "forward") for v in remote.gather(*ops))
        close(batch, np.concatenate(rows), "forward of the batch vs forward of each row")

    _run(test, max_examples)


def gradient_matches_central_differences(remote: Remote, max_examples: int | None = None) -> None:
    """The gradient agrees with central differences of ½Σ(a − y)² away from the kink at z = 0.

    Values in [-3, 3] and h = 1e-6: rounding in the difference is below 2.2e-16·J/h ≈ 1e-6, and the
    truncation error (h²·J''') below 1e-9, so rtol = atol = 1e-5 leaves a margin of 10 over both.
    """
    h = 1e-6

    @given(p=problems(remote, bound=3.0))
    def test(p: Problem) -> None:
        assume(np.abs(p.z).min() > 1e-3)  # a step of h·|x| <= 3e-6 never crosses the kink
        steps = [s * h * e for e in np.eye(p.w.size + 1) for s in (1, -1)]
        ops = [
            p.neuron(remote).op("gradient", p.X, p.y),
            *(p.neuron(remote, d).op("forward", p.X) for d in steps),
        ]
        grad, *a = remote.gather(*ops)
        dJ_dw, dJ_db = as_gradient(grad)
        J = [loss(read(v, "forward"), p.y) for v in a]
        numeric = [(up - down) / (2 * h) for up, down in zip(J[::2], J[1::2], strict=True)]
        got = np.append(dJ_dw, dJ_db)
        assert np.isclose(got, numeric, rtol=1e-5, atol=1e-5).all(), (
            f"(dJ_dw, dJ_db) = {got.tolist()}; central differences give {numeric}"
        )

    _run(test, max_examples)


def small_step_does_not_increase_the_loss(remote: Remote, max_examples: int | None = None) -> None:
    """One update with a small enough learning rate does not increase the batch loss.

    lr = 1e-3 / ((1 + max|y|)·(1 + Σ_i(|x_i|² + 1))) is far below 2 / (the loss's curvature), so the
    step descends whenever the gradient is right; no row may cross the kink during the step.
    """

    @given(p=problems(remote, bound=3.0))
    def test(p: Problem) -> None:
        neuron = p.neuron(remote)
        lr = 1e-3 / ((1 + np.abs(p.y).max()) * (1 + float((p.X**2).sum()) + p.X.shape[0]))
        grad, a = remote.gather(neuron.op("gradient", p.X, p.y), neuron.op("forward", p.X))
        dJ_dw, dJ_db = as_gradient(grad)
        assume(np.abs(p.z).min() > lr * (np.abs(p.X @ dJ_dw).max() + abs(dJ_db)) + 1e-9)
        before = loss(read(a, "forward"), p.y)
        _, a = remote.gather(neuron.op("update_weights", dJ_dw, dJ_db, float(lr)), neuron.op("forward", p.X))
        after = loss(read(a, "forward"), p.y)
        assert after <= before + 1e-12 * (1 + before), f"loss rose from {before!r} to {after!r} (lr {lr:g})"

    _run(test, max_examples)


def inputs_are_not_mutated(remote: Remote, max_examples: int | None = None) -> None:
    """forward, gradient and update_weights leave the arrays they are given unchanged."""

    @given(p=problems(remote))
    def test(p: Problem) -> None:
        neuron = p.neuron(remote)
        forward, grad = neuron.op("forward", p.X), neuron.op("gradient", p.X, p.y)
        update = neuron.op("update_weights", p.w - p.X[0], p.b, 0.01)  # any gradient will do
        remote.gather(forward, grad, update)
        assert not forward.changed, "forward changed X"
        assert not grad.changed, "gradient changed X or y"
        assert not update.changed, "update_weights changed dJ_dw"

    _run(test, max_examples)


def agrees_with_the_oracle(remote: Remote, max_examples: int | None = None) -> None:
    """On small generated cases, forward, gradient and update agree with the exact oracle."""
    from oracle import create_backprop_test_case, to_float

    @given(p=problems(remote), lr=st.floats(0, 1))
    def test(p: Problem, lr: float) -> None:
        exact = create_backprop_test_case(
            p.X.tolist(), p.y.tolist(), p.w.tolist(), p.b, lr, alpha=p.alpha, activation=p.activation
        ).first
        # a float and the decimal the oracle reads can fall on two sides of the kink when |z| is tiny
        assume(all(abs(to_float(z)) > 1e-6 for z in exact.z))
        neuron = p.neuron(remote)
        exact_dJ_dw, exact_dJ_db = np.array([to_float(g) for g in exact.dJ_dw]), to_float(exact.dJ_db)
        ops = neuron.op("forward", p.X), neuron.op("gradient", p.X, p.y)
        update = neuron.op("update_weights", exact_dJ_dw, exact_dJ_db, lr)  # judged on its own
        a, grad, _, w, b = remote.gather(*ops, update, neuron.read("w"), neuron.read("b"))
        close(read(a, "forward"), [to_float(x) for x in exact.a], "forward vs the oracle's a")
        dJ_dw, dJ_db = as_gradient(grad)
        close(dJ_dw, exact_dJ_dw, "dJ_dw vs the oracle")
        close(np.array(dJ_db), exact_dJ_db, "dJ_db vs the oracle")
        close(read(w, "w"), [to_float(x) for x in exact.w_new], "w after the update vs the oracle")
        close(read(b, "b"), to_float(exact.b_new), "b after the update vs the oracle")

    _run(test, max_examples)


PROPERTIES: dict[str, Callable[..., None]] = {
    f.__name__: f
    for f in (
        zero_gradient_leaves_weights_unchanged,
        zero_learning_rate_leaves_weights_unchanged,
        batch_gradient_is_the_sum_of_its_parts,
        row_order_does_not_change_the_gradient,
        forward_is_row_wise,
        gradient_matches_central_differences,
        small_step_does_not_increase_the_loss,
        inputs_are_not_mutated,
        agrees_with_the_oracle,
    )
}


def run_property(remote: Remote, name: str, max_examples: int | None = None) -> Outcome:
    """Run one property and report it as an Outcome, with Hypothesis's falsifying example.

    ``process.Lost`` (a timeout, an ended or misbehaving child) is not caught: the session reports it.
    """
    if not known_activations(remote):
        why = f"{remote.name}.supported_activations names none of {', '.join(ACTIVATIONS)}"
        return Outcome(name, Status.SKIPPED, Kind.PROPERTY, message=why)
    try:
        PROPERTIES[name](remote, max_examples)
    except AssertionError as e:
        return Outcome(name, Status.FAILED, Kind.PROPERTY, name, _describe(e))
    except Raised as e:
        return Outcome(
            name, Status.ERROR, Kind.PROPERTY, name, _describe(e), not_implemented=e.not_implemented
        )
    except Exception as e:  # Hypothesis's own errors (an unsatisfiable property, say)
        return Outcome(name, Status.ERROR, Kind.PROPERTY, name, _describe(e, f"raised {type(e).__name__}"))
    return Outcome(name, Status.PASSED, Kind.PROPERTY)


def _describe(e: BaseException, prefix: str = "") -> str:
    first = (str(e).strip().splitlines() or [""])[0]
    notes = [n for n in getattr(e, "__notes__", []) if n.startswith(("Falsifying", "Failing"))]
    return short(" ".join("; ".join(x for x in (prefix, first, *notes[:1]) if x).split()), 400)

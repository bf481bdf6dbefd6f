"""The property suite: invariants every neuron implementation keeps, checked with Hypothesis in the parent.

Hypothesis runs here, in the validating process. A property is a function ``f(subject, max_examples=None)``
that raises AssertionError with the reason when an example breaks it. Each example is a *plan*
(``golden.harness._batch``): it yields the calls it needs on the implementation (``subject.remote``,
whose methods are requests to the child) and asserts, here, on the numbers that came back. Plans ask for
the oracle's values with ``later`` before they yield, so that the oracle's helper computes them meanwhile.

Every tolerance is derived for the precision the implementation is held to (``subject.judged``): the
oracle computes each generated problem exactly and, with ``oracle.bounds``, a rigorous bound on what any
correct implementation in that precision may return; the properties compare within those bounds,
exactly. Domains are small (at most 4 rows and 3 features, values in [-10, 10], or [-3, 3] in float16 and
bfloat16 so that no value overflows float16's 65504), so a formula error (a mean instead of a sum is off
by a factor m >= 2) stays far outside the bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.errors import UnsatisfiedAssumption
from hypothesis.reporting import with_reporter

from golden.harness._batch import check, describe_failure, reject_unless, seeded
from golden.harness._beside import gradient, updates
from golden.harness._compare import SHOWN, beyond, worst
from golden.harness._kept import Plan
from golden.harness._problems import (
    DYADIC,
    Problem,
    as_gradient,
    before_and_after,
    known_activations,
    later,
    loss,
    loss_bound,
    oracle_request,
    problems,
    read,
    share,
    unchanged,
    updates_agree,
)
from golden.harness._proxy import Op, Raised
from golden.harness._subject import Subject
from golden.outcome import B_NEW, DJ_DB, DJ_DW, W_NEW, A, Kind, Outcome, Status
from oracle.bounds import round_up
from oracle.exact import ACTIVATIONS


def zero_gradient_leaves_weights_unchanged(subject: Subject, max_examples: int | None = None) -> None:
    """update_weights with a zero gradient leaves w and b unchanged, bit for bit (w − lr·0 keeps −0.0)."""

    def test(p: Problem, lr: float) -> Plan:
        neuron = p.neuron(subject)
        update = neuron.op("update_weights", np.zeros(p.X.shape[1]), 0.0, lr)
        w0, b0, w1, b1 = yield from before_and_after(neuron, update)
        assert unchanged(w0, w1, subject.precision, True), f"w changed: {w1.tolist()} from {w0.tolist()}"
        assert unchanged(b0, b1, subject.precision, True), f"b changed: {b1.tolist()} from {b0.tolist()}"

    check(subject, test, max_examples, p=problems(subject), lr=st.floats(0, 10))


def zero_learning_rate_leaves_weights_unchanged(subject: Subject, max_examples: int | None = None) -> None:
    """update_weights with learning rate 0 leaves w and b unchanged, whatever the gradient.

    Equal as numbers, not bit for bit: w − 0·g turns −0.0 into +0.0 when g < 0, as IEEE 754 requires.
    """

    def test(p: Problem, data: st.DataObject) -> Plan:
        neuron = p.neuron(subject)
        g = np.array(
            data.draw(st.lists(st.floats(-1e3, 1e3), min_size=p.w.size, max_size=p.w.size), label=DJ_DW.name)
        )
        update = neuron.op("update_weights", g, data.draw(st.floats(-1e3, 1e3)), 0.0)
        w0, b0, w1, b1 = yield from before_and_after(neuron, update)
        assert unchanged(w0, w1, subject.precision, False), f"w changed: {w1.tolist()} from {w0.tolist()}"
        assert unchanged(b0, b1, subject.precision, False), f"b changed: {b1.tolist()} from {b0.tolist()}"

    check(subject, test, max_examples, p=problems(subject), data=st.data())


def batch_gradient_is_the_sum_of_its_parts(subject: Subject, max_examples: int | None = None) -> None:
    """The gradient of a batch is the sum of the gradients of its parts (a mean would not be).

    Each of the three gradients lies within its own bound of the exact one, so the batch's and the sum of
    the parts' may differ by the sum of the three bounds, compared exactly. Under a declared mean loss,
    each part's gradient is weighted by its rows: m·batch = k·first + (m − k)·rest.
    """

    def test(p: Problem, data: st.DataObject) -> Plan:
        k = data.draw(st.integers(1, p.X.shape[0] - 1), label="split")
        parts = (p, p.part(slice(None, k)), p.part(slice(k, None)))
        oracle = [later(q, subject) for q in parts]
        neuron = p.neuron(subject)
        sent = yield tuple(neuron.op("gradient", q.X, q.y) for q in parts)
        bounds_ = [e() for e in oracle]
        whole, first, rest = (as_gradient(v, p.w.size) for v in sent.values())
        m = p.X.shape[0]
        mean = subject.conventions.get("loss") in ("mean", "half_mean")
        weights = [Fraction(rows, m) if mean else Fraction(1) for rows in (m, k, m - k)]
        for i, name in ((0, DJ_DW.name), (1, DJ_DB.name)):
            limit = sum(
                float(wt) * np.atleast_1d(e.bounds[name])
                for wt, e in zip(weights[1:], bounds_[1:], strict=True)
            )
            limit = limit + np.atleast_1d(bounds_[0].bounds[name])
            got = np.atleast_1d(np.asarray(whole[i], dtype=np.float64))
            pairs = zip(np.atleast_1d(first[i]).tolist(), np.atleast_1d(rest[i]).tolist(), strict=True)
            parts_sum = [weights[1] * Fraction(f) + weights[2] * Fraction(r) for f, r in pairs]
            exact_whole = np.atleast_1d(bounds_[0].values[name]).tolist()
            rows = f"rows 1 to {k} and {k + 1} to {m}"
            values = zip(got.tolist(), parts_sum, np.atleast_1d(limit).tolist(), exact_whole, strict=True)
            for j, (g, s, b, x) in enumerate(values):
                gap = abs(Fraction(g) - s)
                assert gap <= Fraction(round_up(Fraction(b) * (1 + Fraction(1, 2**40)))), (
                    f"{name}{f'[{j}]' if got.size > 1 else ''}: the batch's {g!r} and the sum of its parts' "
                    f"({rows}) {float(s)!r} differ by {float(gap)!r}, more than the three "
                    f"{subject.precision} bounds allow ({b!r}); exactly, it is {x!r}"
                )

    check(subject, test, max_examples, p=problems(subject, min_rows=2), data=st.data())


def row_order_does_not_change_the_gradient(subject: Subject, max_examples: int | None = None) -> None:
    """Permuting the rows of X (and y with them) does not change the gradient beyond twice its bound."""

    def test(p: Problem, data: st.DataObject) -> Plan:
        m = p.X.shape[0]
        if m <= 8:
            order = np.array(data.draw(st.permutations(range(m)), label="order"))
        else:  # a tall batch: reversed and rotated, which moves every block's rows to other blocks
            order = np.roll(np.arange(m)[::-1], data.draw(st.integers(0, m - 1), label="rotation"))
        oracle, neuron = later(p, subject), p.neuron(subject)
        sent = yield neuron.op("gradient", p.X, p.y), neuron.op("gradient", p.X[order], p.y[order])
        e = oracle()
        g, g_perm = (as_gradient(v, p.w.size) for v in sent.values())
        for i, name in ((0, DJ_DW.name), (1, DJ_DB.name)):
            twice = 2 * np.atleast_1d(e.bounds[name])
            permuted, ordered = np.atleast_1d(g_perm[i]), np.atleast_1d(g[i])
            exactly = np.atleast_1d(e.values[name])
            error, ratio, _ = worst(permuted, ordered, twice)
            if ratio <= 1:
                continue
            if permuted.size > SHOWN:  # a wide problem: the first element beyond its bound, not all of them
                at, _ = beyond(permuted, ordered, np.broadcast_to(twice, permuted.shape))
                name, permuted, ordered, exactly = f"{name}[{at}]", permuted[at], ordered[at], exactly[at]
                error = float(abs(permuted - ordered))
            raise AssertionError(
                f"{name} with the rows permuted, {permuted.tolist()}, and in their order, "
                f"{ordered.tolist()}: {error!r} apart, beyond twice the {subject.precision} bound; "
                f"exactly, it is {exactly.tolist()}"
            )

    check(subject, test, max_examples, p=problems(subject, min_rows=2), data=st.data())


def forward_is_row_wise(subject: Subject, max_examples: int | None = None) -> None:
    """forward on a batch equals forward on each row alone, within twice the bound of a (for a tall
    batch, on its first two rows, one in the middle and its last two)."""

    def test(p: Problem) -> Plan:
        oracle, neuron = later(p, subject), p.neuron(subject)
        m = p.X.shape[0]
        chosen = list(range(m)) if m <= 8 else [0, 1, m // 2, m - 2, m - 1]
        sent = yield tuple(neuron.op("forward", X) for X in (p.X, *(p.X[i : i + 1] for i in chosen)))
        e = oracle()
        whole, *each = sent.values()
        batch = read(whole, "forward", (m,))
        alone = np.concatenate([read(v, "forward", (1,)) for v in each])
        error, ratio, _ = worst(batch[chosen], alone, 2 * e.bounds[A.name][chosen])
        assert ratio <= 1, (
            f"forward of the batch on rows {chosen}, {batch[chosen].tolist()}, vs of each row alone, "
            f"{alone.tolist()}: {error!r} apart, beyond twice the {subject.precision} bound of a"
        )

    check(subject, test, max_examples, p=problems(subject))


def gradient_matches_central_differences(subject: Subject, max_examples: int | None = None) -> None:
    """The gradient is the derivative of the loss that forward computes, away from the kink at z = 0.

    In float64: central differences of ½Σ(a − y)² with values in [-3, 3] and h = 1e-6; rounding in the
    difference is below 2.2e-16·J/h ≈ 1e-6 and the truncation error (h²·J''') below 1e-9, so rtol = atol =
    1e-5 leaves a margin of 10 over both. In a lower precision a difference quotient says nothing useful
    (u/h is large for any h the curvature allows), so the gradient is held to the exact derivative of the
    exact loss, the limit the differences approach, within its bound.
    """
    h = 1e-6

    def test(p: Problem) -> Plan:
        reject_unless(np.abs(p.z).min() > 1e-3)  # a step of h·|x| <= 3e-6 never crosses the kink
        if subject.precision != "float64":
            oracle = later(p, subject)
            sent = yield (p.neuron(subject).op("gradient", p.X, p.y),)
            e = oracle()
            (grad,) = sent.values()
            dJ_dw, dJ_db = as_gradient(grad, p.w.size)
            e.check(dJ_dw, DJ_DW.name, "dJ_dw vs the exact derivative", subject.precision)
            e.check(np.array(dJ_db), DJ_DB.name, "dJ_db vs the exact derivative", subject.precision)
            return
        steps = [s * h * e for e in np.eye(p.w.size + 1) for s in (1, -1)]
        moved = (p.neuron(subject, d).op("forward", p.X) for d in steps)
        grad, *a = (yield (p.neuron(subject).op("gradient", p.X, p.y), *moved)).values()
        dJ_dw, dJ_db = as_gradient(grad, p.w.size)
        J = [float(loss(read(v, "forward", p.y.shape), p.y, share(subject, len(p.y)))) for v in a]
        numeric = [(up - down) / (2 * h) for up, down in zip(J[::2], J[1::2], strict=True)]
        got = np.append(dJ_dw, dJ_db)
        assert np.isclose(got, numeric, rtol=1e-5, atol=1e-5).all(), (
            f"(dJ_dw, dJ_db) = {got.tolist()}; central differences of the loss forward gives (h = {h:g}) "
            f"give {numeric}: beyond rtol = atol = 1e-05"
        )

    check(subject, test, max_examples, p=problems(subject, bound=3.0, kinks=False, large=False))


def small_step_does_not_increase_the_loss(subject: Subject, max_examples: int | None = None) -> None:
    """One update with a small enough learning rate does not increase the batch loss.

    lr <= 1e-3 / ((1 + max|y|)·(1 + Σ_i(|x_i|² + 1))) keeps lr·(the loss's curvature) below 1e-3, so with
    the exact gradient g the exact loss falls by about lr·|g|². The implementation's gradient ĝ may be off
    by its bound e_g, which can raise the exact loss by at most lr·(|g|·|e_g| + 1e-3·(|g| + |e_g|)²); and
    each loss is computed here from forward values that may be off by their bound. The loss after may
    exceed the loss before by no more than those terms. lr is also at most half the step by ĝ that would
    carry a row across the kink (z_i moves by lr·|x_i·ĝ_w + ĝ_b|), so the loss is one quadratic all the way.
    """

    def test(p: Problem) -> Plan:
        z = np.abs(p.z) - 1e-9  # p.z is computed here in float64: off by far less than 1e-9
        reject_unless(z.min() > 0)  # no row at the kink
        oracle, c, neuron = later(p, subject), share(subject, len(p.y)), p.neuron(subject)
        grad, a = (yield neuron.op("gradient", p.X, p.y), neuron.op("forward", p.X)).values()
        before_a = read(a, "forward", p.y.shape)  # first: a wrong forward is why a gradient is wrong too
        dJ_dw, dJ_db = as_gradient(grad, p.w.size)
        e = oracle()
        lr = float(1e-3 / ((1 + np.abs(p.y).max()) * (1 + float((p.X**2).sum()) + p.X.shape[0])))
        with np.errstate(divide="ignore", over="ignore"):  # a row that does not move cannot cross
            lr = min(lr, 0.5 * float((z / np.abs(p.X @ dJ_dw + dJ_db)).min()))
        sent = yield neuron.op("update_weights", dJ_dw, dJ_db, lr), neuron.op("forward", p.X)
        stepped = Problem(p.X, p.y, p.w - lr * dJ_dw, p.b - lr * dJ_db, p.alpha, p.activation)
        e_after = later(stepped, subject)()  # while the child steps
        _, a_after = sent.values()
        after_a = read(a_after, "forward", p.y.shape)
        g = np.abs(np.append(e.values[DJ_DW.name], e.values[DJ_DB.name]))
        e_g = np.append(e.bounds[DJ_DW.name], e.bounds[DJ_DB.name])
        drift = Fraction(round_up(Fraction(lr * (float(g @ e_g) + 1e-3 * float((g + e_g) @ (g + e_g)))) * 2))
        # the stepped parameters carry the update's own rounding too: twice the bound of a there
        slack = (
            loss_bound(before_a, p.y, e.bounds[A.name], c)
            + loss_bound(after_a, p.y, 2 * e_after.bounds[A.name], c)
            + drift
        )
        before, after = loss(before_a, p.y, c), loss(after_a, p.y, c)
        assert after <= before + slack, (
            f"loss rose from {float(before)!r} to {float(after)!r} (lr {lr:g}), "
            f"beyond the {subject.precision} bounds ({float(slack):.2g})"
        )

    check(subject, test, max_examples, p=problems(subject, bound=3.0, kinks=False, large=False))


def inputs_are_not_mutated(subject: Subject, max_examples: int | None = None) -> None:
    """forward, gradient and update_weights leave the arrays they are given unchanged."""

    def test(p: Problem) -> Plan:
        neuron = p.neuron(subject)
        forward, grad = neuron.op("forward", p.X), neuron.op("gradient", p.X, p.y)
        update = neuron.op("update_weights", p.w - p.X[0], p.b, 0.01)  # any gradient will do
        (yield forward, grad, update).values()
        assert not forward.changed, "forward changed X"
        assert not grad.changed, "gradient changed X or y"
        assert not update.changed, "update_weights changed dJ_dw"

    check(subject, test, max_examples, p=problems(subject))


def agrees_with_the_oracle(subject: Subject, max_examples: int | None = None) -> None:
    """On small generated cases, w and b read back, forward, gradient and update agree with the exact oracle.

    Each value within its bound in the precision judged; the update is fed the exact gradient (as float64),
    so it is judged on its own.
    """

    def test(p: Problem, lr: float) -> Plan:
        oracle, neuron = later(p, subject, lr), p.neuron(subject)
        exact_dJ_dw, exact_dJ_db = subject.helper.recall(oracle_request(p, subject, lr), "gradient", gradient)
        reads = neuron.read("w"), neuron.read("b")
        ops = neuron.op("forward", p.X), neuron.op("gradient", p.X, p.y)
        update = neuron.op("update_weights", np.array(exact_dJ_dw), exact_dJ_db, lr)
        sent = yield *reads, *ops, update, neuron.read("w"), neuron.read("b")
        e = oracle()
        w0, b0, a, grad, _, w, b = sent.values()
        precision = subject.precision
        e.check(read(w0, "w"), "w", "w read back vs the one set", precision)
        e.check(read(b0, "b"), "b", "b read back vs the one set", precision)
        e.check(read(a, "forward", p.y.shape), A.name, "forward vs the oracle's a", precision)
        dJ_dw, dJ_db = as_gradient(grad, p.w.size)
        e.check(dJ_dw, DJ_DW.name, "dJ_dw vs the oracle", precision)
        e.check(np.array(dJ_db), DJ_DB.name, "dJ_db vs the oracle", precision)
        e.check(read(w, "w"), W_NEW.name, "w after the update vs the oracle", precision)
        e.check(read(b, "b"), B_NEW.name, "b after the update vs the oracle", precision)

    check(subject, test, max_examples, p=problems(subject), lr=st.floats(0, 1))


UPDATES = 50  # calls of update_weights on one instance: past a fifth, a tenth and a fortieth


def many_updates_on_one_instance_follow_the_exact_ones(
    subject: Subject, max_examples: int | None = None
) -> None:
    """One instance, updated 50 times in a row with the same gradient, is where the exact updates put it
    after each call: w_k = w_0 − k·lr·dJ_dw, b_k likewise. An update that keeps state (a step count, a
    schedule, a momentum) and goes wrong after some calls shows.

    Each update's bound is the model's (``oracle.bounds.Model``) for w ← w − lr·g, step after step, in the
    precision judged: the update map moves every error by nothing but its own rounding, so the bound grows
    by one update's rounding per call. A quarter of the examples (they make 150 calls each).
    """

    def test(p: Problem, lr: float, data: st.DataObject) -> Plan:
        g_w = np.array(data.draw(st.lists(st.sampled_from(DYADIC), min_size=p.w.size, max_size=p.w.size)))
        g_b = data.draw(st.sampled_from(DYADIC), label=DJ_DB.name)
        neuron = p.neuron(subject)
        ops: list[Op] = []
        for _ in range(UPDATES):
            ops += [neuron.op("update_weights", g_w, g_b, lr), neuron.read("w"), neuron.read("b")]
        sent = yield tuple(ops)
        request = {"w": p.w.tolist(), "b": p.b, "g": [*g_w.tolist(), g_b], "lr": lr, "updates": UPDATES}
        expected = subject.helper.recall(request | {"precision": subject.precision}, "updates", updates)
        values, gots = sent.values(), []
        for k in range(len(expected)):  # up to the first of another shape than (w, b)'s
            gots.append(np.append(read(values[3 * k + 1], "w"), read(values[3 * k + 2], "b")))
            if gots[-1].shape != (p.w.size + 1,):
                break
        updates_agree(gots, expected, subject.precision, UPDATES)
        if len(expected) < UPDATES:
            raise UnsatisfiedAssumption  # the updates leave the precision's range: no bound exists there

    examples = max(1, (max_examples or settings().max_examples) // 4)
    rates = st.sampled_from((0.0625, 0.01, 0.001, 0.5))
    check(subject, test, examples, p=problems(subject, large=False), lr=rates, data=st.data())


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
        many_updates_on_one_instance_follow_the_exact_ones,
    )
}


def run_property(
    subject: Subject, name: str, max_examples: int | None = None, seed: int | None = None
) -> Outcome:
    """Run one property and report it as an Outcome, with Hypothesis's falsifying example.

    With a `seed`, its examples are those the seed gives (``batch.seeded``): the same for every
    implementation held to the same precision, activations and conventions, and on every rerun; without
    one, as the Hypothesis profile says (fresh ones each run, unless it derandomizes).
    ``process.Lost`` (a timeout, an ended or misbehaving child) is not caught: the session reports it.
    """
    if not known_activations(subject):
        why = f"{subject.remote.name}.supported_activations names none of {', '.join(ACTIVATIONS)}"
        return Outcome(name, Status.SKIPPED, Kind.PROPERTY, message=why)
    try:
        with with_reporter(lambda text: None), seeded(seed):  # its prints would break a report
            PROPERTIES[name](subject, max_examples)
    except AssertionError as e:
        return Outcome(name, Status.FAILED, Kind.PROPERTY, name, describe_failure(e))
    except Raised as e:
        return Outcome(
            name, Status.ERROR, Kind.PROPERTY, name, describe_failure(e), not_implemented=e.not_implemented
        )
    except Exception as e:  # Hypothesis's own errors (an unsatisfiable property, say)
        why = describe_failure(e, f"raised {type(e).__name__}")
        return Outcome(name, Status.ERROR, Kind.PROPERTY, name, why)
    return Outcome(name, Status.PASSED, Kind.PROPERTY)

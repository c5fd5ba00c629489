"""The dart relay (one-way communication): single-party functions, message, law."""

from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
from coupling.proofs.communication_laws import relay_law_dp
from coupling.simulate import wmh_darts_sample
from coupling.simulate.communication import (
    Message,
    alice_message,
    bob_decode,
    expected_bits,
    relay_exact,
    relay_pairs,
)
from scipy import stats

P = np.array([0.5, 0.0, 0.2, 0.25, 0.05])
Q = np.array([0.1, 0.3, 0.2, 0.0, 0.4])


def test_alice_is_literal_wmh_and_bob_agrees_with_the_batch_kernel():
    keys = range(60)
    for extra in (0, 3):
        a_batch, b_batch, bits = relay_pairs(P, Q, seed=5, key=np.arange(60), extra=extra)
        for k in keys:
            a, msg = alice_message(P, seed=5, key=k, extra=extra)
            assert a == wmh_darts_sample(P, seed=5, key=k)  # same public darts
            assert a == a_batch[k]
            assert len(msg.bits) == bits[k]
            assert bob_decode(Q, msg, seed=5, key=k) == b_batch[k]


def test_equal_distributions_always_collide():
    a, b, _ = relay_pairs(P, P, seed=1, key=np.arange(2_000))
    assert np.array_equal(a, b)


def test_law_matches_exact_formula_by_monte_carlo():
    trials = 40_000
    for extra in (0, 4):
        a, b, bits = relay_pairs(P, Q, seed=2, key=np.arange(trials), extra=extra)
        exact = relay_exact(P, Q, extra=extra)
        se = np.sqrt(exact.collision * (1 - exact.collision) / trials)
        assert abs(np.mean(a == b) - exact.collision) < 5 * se
        law = np.asarray(exact.bob_law)
        live = law > 0
        counts = np.bincount(b, minlength=P.size)
        assert counts[~live].sum() == 0
        assert stats.chisquare(counts[live], law[live] * trials).pvalue > 1e-5
        assert stats.chisquare(np.bincount(a, minlength=5)[P > 0], P[P > 0] * trials).pvalue > 1e-5
        bits_se = np.std(bits) / np.sqrt(trials)
        assert abs(np.mean(bits) - float(expected_bits(P.size, extra=extra))) < 5 * bits_se


def test_exact_law_properties():
    p = [Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)]
    q = [Fraction(1, 6), Fraction(1, 6), Fraction(2, 3)]
    D = Fraction(1, 2)
    for extra in range(4):
        law = relay_law_dp(p, q, extra)
        assert sum(law.values()) == 1
        exact = relay_exact(p, q, extra=extra)
        f = 1 / (1 + D) ** (extra + 1)
        assert exact.D == D and exact.failure == f * D
        assert exact.collision >= 1 - D
        assert exact.bob_tv <= f * D
        alice = [sum(w for (a, _), w in law.items() if a == i) for i in range(3)]
        bob = [sum(w for (_, b), w in law.items() if b == i) for i in range(3)]
        assert alice == p and bob == exact.bob_law
        assert sum(w for (a, b), w in law.items() if a == b) == exact.collision
    # more extra darts, smaller error: Bob's marginal tends to q
    errors = [relay_exact(p, q, extra=e).bob_tv for e in range(6)]
    assert all(x > y for x, y in pairwise(errors))


def test_bad_input():
    _, msg = alice_message(P, seed=0, key=0, extra=1)
    with pytest.raises(ValueError, match="n = 5"):
        bob_decode(np.full(4, 0.25), msg, seed=0, key=0)
    with pytest.raises(ValueError, match="0/1"):
        bob_decode(Q, Message("01x", 5), seed=0, key=0)
    with pytest.raises(ValueError, match="truncated"):
        bob_decode(Q, Message("111", 5), seed=0, key=0)
    with pytest.raises(TypeError, match="Message"):
        bob_decode(Q, "0101", seed=0, key=0)
    with pytest.raises(ValueError, match="extra"):
        alice_message(P, seed=0, key=0, extra=-1)
    with pytest.raises(TypeError, match="one integer"):
        alice_message(P, seed=0, key=[1, 2])
    with pytest.raises(ValueError):
        alice_message([0.5, 0.6], seed=0, key=0)
    with pytest.raises(ValueError, match="different lengths"):
        relay_exact([0.5, 0.5], [1.0])
    with pytest.raises(TypeError):
        relay_exact([0.5, 0.5], [0.5, 0.5], 1)  # extra is keyword-only

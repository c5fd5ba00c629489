"""Exact collision probabilities against brute force, exact rationals, and the theorems."""

from fractions import Fraction
from itertools import permutations

import numpy as np
import pytest
from coupling.proofs.exact_rational import gumbel_rational
from coupling.simulate import (
    collision_probability,
    gumbel_collision,
    gumbel_lower_bound,
    independent_collision,
    tv_distance,
    weighted_jaccard,
    wmh_collision,
    wmh_joint_law,
    worst_case_bound,
)
from coupling.simulate.families import kset_pair
from coupling.simulate.reference import gumbel_collision_quadratic
from hypothesis import given
from hypothesis import strategies as st
from strategies import distribution_pairs

# Floating-point slack for comparisons of quantities that are mathematically ordered or equal.
TOL = 1e-10


def wmh_by_darts_fraction(p, q):
    """WMH from the dart process: condition on the first dart that is below either bar."""
    p = [Fraction(x) for x in p]
    q = [Fraction(x) for x in q]
    big = sum(max(a, b) for a, b in zip(p, q))
    win = Fraction(0)
    for i in range(len(p)):
        m, hi = min(p[i], q[i]), max(p[i], q[i])
        win += m  # same dart, both below
        # dart in (m, hi]: the party with the higher bar stops at i; the other draws afresh
        win += (hi - m) * (q[i] if p[i] > q[i] else p[i])
    return win / big


@given(distribution_pairs())
def test_inequality_chain(pair):
    p, q = pair
    D = tv_distance(p, q)
    g = gumbel_collision(p, q)
    lb = gumbel_lower_bound(p, q)
    wc = worst_case_bound(D)
    assert 1 - D + TOL >= g
    assert g + TOL >= lb
    assert lb + TOL >= wc
    assert wc + TOL >= 1 - 2 * D
    assert 0.0 <= g <= 1.0


@given(distribution_pairs())
def test_pareto_gumbel_beats_wmh(pair):
    """The Pareto claim (v3/v4): report any counterexample loudly, with the pair."""
    p, q = pair
    g, w = gumbel_collision(p, q), wmh_collision(p, q)
    assert g + TOL >= w, (
        f"PARETO COUNTEREXAMPLE: gumbel {g!r} < wmh {w!r}\np={p.tolist()}\nq={q.tolist()}"
    )


@given(distribution_pairs())
def test_wmh_above_weighted_jaccard_and_worst_case(pair):
    p, q = pair
    w = wmh_collision(p, q)
    assert w + TOL >= weighted_jaccard(p, q)
    assert abs(weighted_jaccard(p, q) - worst_case_bound(tv_distance(p, q))) < 1e-9


@given(distribution_pairs(max_n=300))
def test_gumbel_matches_quadratic_formula(pair):
    p, q = pair
    assert gumbel_collision(p, q) == pytest.approx(
        gumbel_collision_quadratic(p, q), rel=1e-12, abs=1e-300
    )


@given(distribution_pairs(max_n=300), st.randoms(use_true_random=False))
def test_symmetric_and_permutation_invariant(pair, rnd):
    p, q = pair
    perm = np.array(rnd.sample(range(p.size), p.size))
    for f in (gumbel_collision, wmh_collision):
        assert f(p, q) == pytest.approx(f(q, p), rel=1e-12, abs=1e-300)
        assert f(p, q) == pytest.approx(f(p[perm], q[perm]), rel=1e-12, abs=1e-300)


@given(
    st.lists(st.integers(0, 9), min_size=1, max_size=6),
    st.lists(st.integers(0, 9), min_size=1, max_size=6),
)
def test_exact_rationals(a, b):
    """Float formulas against exact rational arithmetic on small rational pairs."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    if sum(a) == 0 or sum(b) == 0:
        return
    pf = [Fraction(x, sum(a)) for x in a]
    qf = [Fraction(x, sum(b)) for x in b]
    p = np.array([float(x) for x in pf])
    q = np.array([float(x) for x in qf])
    assert gumbel_collision(p, q) == pytest.approx(float(gumbel_rational(pf, qf)), rel=1e-12)
    assert wmh_collision(p, q) == pytest.approx(float(wmh_by_darts_fraction(pf, qf)), rel=1e-12)


def test_wmh_joint_law_is_a_coupling():
    rng = np.random.default_rng(4)
    for _ in range(20):
        n = int(rng.integers(1, 9))
        p, q = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(n))
        p[rng.random(n) < 0.3] = 0
        if p.sum() == 0:
            p[0] = 1
        p /= p.sum()
        law = wmh_joint_law(p, q)
        assert (law >= 0).all()
        np.testing.assert_allclose(law.sum(axis=1), p, atol=1e-15)
        np.testing.assert_allclose(law.sum(axis=0), q, atol=1e-15)
        assert np.trace(law) == pytest.approx(wmh_collision(p, q), rel=1e-12)


@pytest.mark.parametrize(
    ("n", "k", "overlap"), [(10, 3, 1), (50, 10, 7), (1000, 100, 0), (40, 20, 20)]
)
def test_hard_instance_equalities(n, k, overlap):
    pair = kset_pair(n, seed=1, k=k, overlap=overlap)
    expected = overlap / (2 * k - overlap)  # |A & B| / |A | B|
    assert pair.D == pytest.approx(tv_distance(pair.p, pair.q), abs=1e-15)
    for value in (
        gumbel_collision(pair.p, pair.q),
        wmh_collision(pair.p, pair.q),
        weighted_jaccard(pair.p, pair.q),
        gumbel_lower_bound(pair.p, pair.q),
        worst_case_bound(pair.D),
    ):
        assert value == pytest.approx(expected, abs=1e-12)


@given(distribution_pairs(max_n=500))
def test_point_mass_gives_optimal(pair):
    _, q = pair
    p = np.zeros_like(q)
    p[int(np.argmax(q))] = 1.0
    assert gumbel_collision(p, q) == pytest.approx(1 - tv_distance(p, q), abs=1e-12)
    assert gumbel_collision(q, p) == pytest.approx(1 - tv_distance(p, q), abs=1e-12)


def test_disjoint_and_identical():
    p = np.array([0.5, 0.5, 0, 0])
    q = np.array([0, 0, 0.25, 0.75])
    for proto in ("gumbel", "wmh", "optimal", "independent"):
        assert collision_probability(p, q, proto) == 0.0
        assert collision_probability(p, p, proto) == pytest.approx(
            1.0 if proto != "independent" else 0.5
        )


def test_tiny_entries_do_not_break_the_order():
    """Ratios that underflow in p/q are ordered correctly through logs."""
    p = np.array([1e-300, 1 - 1e-300, 0.0])
    q = np.array([0.5, 0.0, 0.5])
    assert gumbel_collision(p, q) == pytest.approx(
        gumbel_collision_quadratic(p, q), rel=1e-12, abs=1e-310
    )
    assert gumbel_collision(p, q) > 0


def test_independent_and_dispatch():
    rng = np.random.default_rng(2)
    p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    assert independent_collision(p, q) == pytest.approx(sum(p * q))
    assert collision_probability(p, q, "optimal") == pytest.approx(1 - tv_distance(p, q))
    with pytest.raises(ValueError, match="protocol"):
        collision_probability(p, q, "minhash")


def test_brute_force_permutation_check_of_n2():
    """n = 2 closed form: Pr = p1 q1 / max(...) ... checked against all relabelings."""
    p, q = np.array([0.3, 0.7]), np.array([0.6, 0.4])
    values = {round(gumbel_collision(p[list(s)], q[list(s)]), 15) for s in permutations(range(2))}
    assert len(values) == 1
    # items ordered by p/q: 0.5 < 1.75 -> J = 1/(1 + 0.4/0.6... ) computed by hand:
    # i=0: max(1, 1) + max(0.7/0.3, 0.4/0.6) = 1 + 7/3; i=1: max(0.3/0.7, 0.6/0.4) + 1 = 2.5
    assert gumbel_collision(p, q) == pytest.approx(1 / (1 + 7 / 3) + 1 / 2.5, rel=1e-14)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.3", True])
def test_worst_case_bound_rejects(bad):
    with pytest.raises((ValueError, TypeError)):
        worst_case_bound(bad)

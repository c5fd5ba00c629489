"""Per-item collision probabilities: Gumbel dominates WMH item by item (claim 4 per item),
against exact Fractions, Monte Carlo per item, the note's equality cases, and the gap figure."""

from fractions import Fraction

import numpy as np
import pytest
from coupling.figures.pareto import pareto_gap_figure
from coupling.proofs.exact_rational import (
    gumbel_items_rational,
    gumbel_rational,
    optimal_items_rational,
    wmh_items_rational,
    wmh_rational,
)
from coupling.simulate import (
    PROTOCOLS,
    collision_probability,
    gap_split,
    per_item_collision,
    sample_pairs,
    wmh_joint_law,
)
from coupling.simulate.families import make_pair
from coupling.simulate.reference import gumbel_collision_quadratic
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from strategies import distribution_pairs

# G_i >= W_i up to rounding: relative to the larger of the two (sums of up to 10^4 terms;
# 1.7e-14 is the worst seen in 3000 examples), plus an absolute floor for subnormal values,
# which carry only a few significant digits.
DOMINANCE_RTOL = 1e-9
DOMINANCE_ATOL = 1e-300
# Float per-item values against exact Fractions on small pairs (absolute).
EXACT_TOL = 1e-13
# Monte Carlo per-item frequencies must lie within this many standard errors (5.7e-7 each).
Z_MAX = 5.0


@given(distribution_pairs())
def test_gumbel_dominates_wmh_item_by_item(pair):
    p, q = pair
    g = per_item_collision(p, q, "gumbel")
    w = per_item_collision(p, q, "wmh")
    assert g.shape == w.shape == p.shape
    assert np.all(g >= w - DOMINANCE_RTOL * np.maximum(g, w) - DOMINANCE_ATOL)
    # G_i <= m_i (claim 3, term i)
    assert np.all(g <= np.minimum(p, q) * (1 + DOMINANCE_RTOL) + DOMINANCE_ATOL)


@given(distribution_pairs(max_n=2000))
def test_items_sum_to_the_collision_probability(pair):
    p, q = pair
    for protocol in PROTOCOLS:
        items = per_item_collision(p, q, protocol)
        assert np.all(items >= 0)
        assert collision_probability(p, q, protocol) == pytest.approx(
            min(1.0, items.sum()), abs=1e-12
        )
    assert per_item_collision(p, q, "wmh") == pytest.approx(
        np.diag(wmh_joint_law(p, q)), rel=1e-12, abs=1e-300
    )


@given(distribution_pairs(max_n=300))
def test_gumbel_items_sum_to_the_quadratic_formula(pair):
    p, q = pair
    assert per_item_collision(p, q, "gumbel").sum() == pytest.approx(
        gumbel_collision_quadratic(p, q), rel=1e-10, abs=1e-300
    )


rationals = st.lists(st.integers(0, 12), min_size=1, max_size=6).filter(lambda v: sum(v) > 0)


@given(rationals, rationals)
def test_per_item_matches_fractions(a, b):
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    if sum(a) == 0 or sum(b) == 0:
        return
    p = [Fraction(x, sum(a)) for x in a]
    q = [Fraction(x, sum(b)) for x in b]
    pf, qf = np.array(p, float), np.array(q, float)
    pf, qf = pf / pf.sum(), qf / qf.sum()
    twins = {"gumbel": gumbel_items_rational, "wmh": wmh_items_rational,
             "optimal": optimal_items_rational,
             "independent": lambda p, q: [x * y for x, y in zip(p, q)]}  # fmt: skip
    for protocol, twin in twins.items():
        exact = np.array([float(x) for x in twin(p, q)])
        assert np.allclose(per_item_collision(pf, qf, protocol), exact, rtol=0, atol=EXACT_TOL)
    assert sum(gumbel_items_rational(p, q)) == gumbel_rational(p, q)
    assert sum(wmh_items_rational(p, q)) == wmh_rational(p, q)
    assert all(g >= w for g, w in zip(gumbel_items_rational(p, q), wmh_items_rational(p, q)))


def _equal_items(p, q):
    g, w = gumbel_items_rational(p, q), wmh_items_rational(p, q)
    assert g == w  # exactly, item by item
    pf, qf = np.array(p, float), np.array(q, float)
    fg, fw = per_item_collision(pf, qf, "gumbel"), per_item_collision(pf, qf, "wmh")
    assert np.allclose(fg, [float(x) for x in g], atol=EXACT_TOL)
    assert np.allclose(fw, fg, rtol=DOMINANCE_RTOL, atol=0)
    return g


def test_equality_when_p_equals_q():
    p = [Fraction(1, 2), Fraction(1, 3), Fraction(1, 6), Fraction(0)]
    assert _equal_items(p, p) == p  # both parties always agree: G_i = W_i = p_i


@pytest.mark.parametrize("swap", [False, True])
def test_equality_for_a_point_mass(swap):
    p = [Fraction(0), Fraction(1), Fraction(0), Fraction(0)]
    q = [Fraction(1, 5), Fraction(2, 5), Fraction(1, 10), Fraction(3, 10)]
    if swap:
        p, q = q, p
    assert _equal_items(p, q) == [0, Fraction(2, 5), 0, 0]  # the point mass's item, w.p. q_i


def test_equality_for_disjoint_supports():
    p = [Fraction(1, 2), Fraction(1, 2), Fraction(0), Fraction(0)]
    q = [Fraction(0), Fraction(0), Fraction(1, 4), Fraction(3, 4)]
    assert _equal_items(p, q) == [0, 0, 0, 0]


def test_a_strict_gap_where_the_note_says_so():
    # two items with p_j > q_j, both q_j > 0 and r > 1: step 2 of the proof is strict
    p = [Fraction(1, 2), Fraction(3, 10), Fraction(1, 5)]
    q = [Fraction(1, 5), Fraction(1, 2), Fraction(3, 10)]
    g, w = gumbel_items_rational(p, q), wmh_items_rational(p, q)
    assert all(x > y for x, y in zip(g[1:], w[1:])) and g[0] == w[0] == Fraction(1, 5)


MC_CASES = [("dirichlet", 6, {"alpha": 0.7}), ("zipf", 8, {}), ("point-mass", 5, {}),
            ("kset", 8, {"k": 4, "overlap": 2})]  # fmt: skip


@pytest.mark.parametrize(("family", "n", "params"), MC_CASES)
@pytest.mark.parametrize("protocol", ["gumbel", "wmh", "optimal"])
def test_monte_carlo_per_item(family, n, params, protocol):
    pair = make_pair(family, n, seed=11, **params)
    trials = 60_000
    a, b = sample_pairs(pair.p, pair.q, protocol, seed=12, key=np.arange(trials),
                        engine="faithful")  # fmt: skip
    hits = np.bincount(a[a == b], minlength=n) / trials
    truth = per_item_collision(pair.p, pair.q, protocol)
    se = np.sqrt(np.maximum(truth * (1 - truth), 1.0 / trials) / trials)
    assert np.all(np.abs(hits - truth) <= Z_MAX * se), (hits, truth)
    assert np.all(hits[truth == 0] == 0)


def test_gap_split():
    pair = make_pair("dirichlet", 50, seed=3, alpha=0.5)
    s = gap_split(pair.p, pair.q, top=5)
    gaps = per_item_collision(pair.p, pair.q, "gumbel") - per_item_collision(pair.p, pair.q, "wmh")
    assert s.total == pytest.approx(
        collision_probability(pair.p, pair.q, "gumbel")
        - collision_probability(pair.p, pair.q, "wmh"),
        abs=1e-12,
    )
    assert np.all(np.diff(s.top) <= 0) and np.allclose(s.top, gaps[s.items])
    assert s.top[0] == gaps.max()
    short = gap_split([0.5, 0.5], [1.0, 0.0], top=4)
    assert short.items.tolist()[2:] == [-1, -1] and short.top[2:].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="top must be at least 1"):
        gap_split(pair.p, pair.q, top=0)
    with pytest.raises(TypeError, match="top must be an int"):
        gap_split(pair.p, pair.q, top=2.0)


def test_gap_figure():
    splits = [gap_split(*(lambda r: (r.p, r.q))(make_pair("llm-softmax", 300, seed=s)), top=10)
              for s in range(40)]  # fmt: skip
    totals = np.array([s.total for s in splits])
    tops = np.array([s.top for s in splits])
    totals[3] = tops[3] = 0.0  # a position where Gumbel = WMH
    fig = pareto_gap_figure(totals, tops, segments=[("a", 25), ("b", 15)])
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    with pytest.raises(ValueError, match="segments cover 30"):
        pareto_gap_figure(totals, tops, segments=[("a", 30)])
    with pytest.raises(ValueError, match="ks must lie"):
        pareto_gap_figure(totals, tops, ks=(1, 20))
    with pytest.raises(ValueError, match="shapes"):
        pareto_gap_figure(totals, tops[:5])

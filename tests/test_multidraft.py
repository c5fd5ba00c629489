"""The list coupling (K drafts): exact value, bound, samplers and both Monte Carlo engines."""

from fractions import Fraction

import numba
import numpy as np
import pytest
from coupling.proofs.multidraft import list_matching_rational, verify_list_matching
from coupling.simulate import (
    collision_probability,
    estimate,
    gls_drafts,
    gls_sample,
    gls_target,
    gumbel_collision,
    list_matching,
    list_matching_bound,
    list_matching_probability,
    sample_pairs,
)
from coupling.simulate.families import make_pair
from coupling.simulate.multidraft import REL_TOL
from coupling.simulate.reference import (
    gls_numpy,
    list_matching_bound_quadratic,
    list_matching_nested_quad,
)
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from strategies import distribution_pairs

Z_MAX = 5.0  # Monte Carlo estimates within this many standard errors (two-sided 5.7e-7)
P_MIN = 1e-6  # chi-square p-values below this fail (a correct sampler: once in 10^6 per test)
DRAFTS = st.sampled_from([1, 2, 3, 8, 33])


def within(est, truth, trials):
    se = np.sqrt(max(truth * (1 - truth), 1.0 / trials) / trials)
    return abs(est - truth) <= Z_MAX * se


def pooled_chisquare_pvalue(counts, expected, smallest=5.0):
    """Chi-square goodness of fit against the law ``expected`` (any scale), cells with an
    expected count below ``smallest`` pooled into one."""
    counts = np.asarray(counts, float)
    expected = np.asarray(expected, float) * (counts.sum() / np.sum(expected))
    small = expected < smallest
    if small.any():
        counts = np.append(counts[~small], counts[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
    keep = expected > 0
    assert counts[~keep].sum() == 0, "a draw fell where the law has no mass"
    return stats.chisquare(counts[keep], expected[keep]).pvalue


# ---------------------------------------------------------------- exact value and bound


@given(distribution_pairs())
def test_one_draft_is_the_gumbel_coupling(pair):
    p, q = pair
    assert list_matching_probability(p, q, 1) == pytest.approx(gumbel_collision(p, q), rel=1e-12)
    assert list_matching_bound(p, q, 1) == pytest.approx(gumbel_collision(p, q), rel=1e-12)


@given(distribution_pairs(), DRAFTS)
def test_identical_distributions_always_match(pair, k):
    p, _ = pair
    assert list_matching_probability(p, p, k) == pytest.approx(1.0, abs=1e-12)


@given(distribution_pairs(), DRAFTS)
def test_lemma_below_exact_below_the_per_item_cap(pair, k):
    """Pr[Y = j in list] <= min(Pr[Y = j], Pr[j in list]) = min(p_j, 1 - (1 - q_j)^K)."""
    p, q = pair
    result = list_matching(p, q, k)
    with np.errstate(divide="ignore"):  # q_j = 1: the item is always in the list
        cap = np.minimum(p, -np.expm1(k * np.log1p(-q)))
    assert result.lemma <= result.value * (1 + 1e-12)
    assert result.lemma == list_matching_bound(p, q, k)
    assert np.all(result.by_item <= cap * (1 + 1e-9) + 1e-300)
    assert result.value <= np.sum(cap) * (1 + 1e-9)
    assert result.error_bound <= REL_TOL * result.value


@given(distribution_pairs(), st.integers(1, 20))
def test_non_decreasing_in_the_number_of_drafts(pair, k):
    p, q = pair
    assert list_matching_probability(p, q, k + 1) >= list_matching_probability(p, q, k) * (
        1 - 2 * REL_TOL
    )


@given(distribution_pairs(max_n=64), DRAFTS)
def test_bound_is_the_printed_lemma(pair, k):
    p, q = pair
    assert list_matching_bound(p, q, k) == pytest.approx(
        list_matching_bound_quadratic(p, q, k), rel=1e-12, abs=1e-300
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [2, 3, 8])
def test_exact_value_equals_the_per_column_fraction(seed, k):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    p = rng.dirichlet(np.full(n, 0.5))
    q = rng.dirichlet(np.full(n, 0.5))
    exact = float(list_matching_rational(p, q, k))  # the floats, taken exactly
    assert list_matching_probability(p, q, k) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize(
    ("p", "q", "k"),
    [
        ([0.6, 0.3, 0.1], [0.1, 0.3, 0.6], 2),
        ([0.7, 0.2, 0.1], [0.05, 0.05, 0.9], 8),
        ([0.5, 0.5, 0.0], [0.2, 0.3, 0.5], 3),
    ],
)
def test_exact_value_equals_nested_scipy_quadrature(p, q, k):
    assert list_matching_probability(p, q, k) == pytest.approx(
        list_matching_nested_quad(p, q, k), rel=1e-9
    )


def test_known_value_and_parts():
    result = list_matching([0.5, 0.5], [0.9, 0.1], 2)
    assert result.value == pytest.approx(101 / 150, rel=1e-12)
    assert list_matching_rational([Fraction(1, 2)] * 2, [Fraction(9, 10), Fraction(1, 10)], 2) == (
        Fraction(101, 150)
    )
    assert result.lemma == pytest.approx(2 / 3, rel=1e-15)
    assert result.by_item.sum() == pytest.approx(result.value, rel=1e-15)
    assert result.nodes > 0 and list_matching([0.5, 0.5], [0.9, 0.1], 1).nodes == 0


def test_disjoint_supports_and_point_masses():
    assert list_matching_probability([1.0, 0.0], [0.0, 1.0], 5) == 0.0
    # A point-mass drafter drafts its item K times: the lemma is exact (note, section 2).
    p = np.array([0.2, 0.5, 0.3])
    q = np.array([0.0, 1.0, 0.0])
    assert list_matching_probability(p, q, 4) == pytest.approx(0.5, rel=1e-12)  # Y = 1
    assert list_matching_bound(p, q, 4) == pytest.approx(0.5, rel=1e-12)


def test_collision_probability_dispatch_and_drafts_rules():
    p, q = [0.5, 0.5], [0.9, 0.1]
    assert collision_probability(p, q, "gls", drafts=2) == list_matching_probability(p, q, 2)
    with pytest.raises(ValueError, match="drafts"):
        collision_probability(p, q, "gls")
    with pytest.raises(ValueError, match="drafts"):
        collision_probability(p, q, "gumbel", drafts=2)
    with pytest.raises(ValueError, match="k must be >= 1"):
        list_matching_probability(p, q, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        list_matching_probability(p, q, 2.0)
    with pytest.raises(ValueError, match="at most 2"):
        list_matching_probability(p, q, 2**31 + 1)


# ---------------------------------------------------------------- samplers


@given(distribution_pairs(max_n=300), st.integers(1, 5), st.integers(0, 2**32))
def test_kernels_equal_the_numpy_twin_draw_for_draw(pair, k, seed):
    p, q = pair
    keys = np.arange(40) * 977
    target, drafts = gls_numpy(p, q, k, seed=seed, keys=keys)
    sample = gls_sample(p, q, k, seed=seed, key=keys)
    assert np.array_equal(sample.target, target)
    assert np.array_equal(sample.drafts, drafts)
    assert np.array_equal(sample.matched, (drafts == target[:, None]).any(axis=1))


@given(distribution_pairs(max_n=2000))
def test_one_draft_is_the_gumbel_race_draw_for_draw(pair):
    """K = 1 uses exactly gumbel_sample's noise: DISD is the one-draft case. Slot 0 of any K
    is the same draft."""
    p, q = pair
    keys = np.arange(100)
    a, b = sample_pairs(p, q, "gumbel", seed=11, key=keys, engine="faithful")
    one = gls_sample(p, q, 1, seed=11, key=keys)
    assert np.array_equal(one.target, a) and np.array_equal(one.drafts[:, 0], b)
    assert np.array_equal(gls_drafts(q, 6, seed=11, key=keys)[:, 0], b)


@given(distribution_pairs(max_n=500), st.integers(1, 6))
def test_target_never_depends_on_the_drafter(pair, k):
    p, q = pair
    keys = np.arange(60)
    other = np.roll(q, 1)
    first = gls_sample(p, q, k, seed=5, key=keys)
    second = gls_sample(p, other, k, seed=5, key=keys)
    assert np.array_equal(first.target, second.target)
    assert np.array_equal(first.target, gls_target(p, k, seed=5, key=keys))
    assert np.array_equal(first.drafts, gls_drafts(q, k, seed=5, key=keys))


def test_laws_of_the_drafts_and_the_target():
    pair = make_pair("dirichlet", 30, seed=4, alpha=0.5)
    k = 4
    sample = gls_sample(pair.p, pair.q, k, seed=9, key=np.arange(40_000))
    target_counts = np.bincount(sample.target, minlength=30)
    assert pooled_chisquare_pvalue(target_counts, pair.p) > P_MIN
    for slot in range(k):
        draft_counts = np.bincount(sample.drafts[:, slot], minlength=30)
        assert pooled_chisquare_pvalue(draft_counts, pair.q) > P_MIN
    # columns are independent: slot 0 and slot 1 agree as often as independent draws from q
    agree = np.mean(sample.drafts[:, 0] == sample.drafts[:, 1])
    assert within(agree, float(np.dot(pair.q, pair.q)), sample.target.size)


def test_shapes_and_scalars():
    p, q = [0.2, 0.3, 0.5], [0.5, 0.3, 0.2]
    one = gls_sample(p, q, 3, seed=0, key=7)
    assert isinstance(one.target, int) and isinstance(one.matched, bool)
    assert one.drafts.shape == (3,)
    grid = gls_sample(p, q, 3, seed=0, key=np.arange(12).reshape(3, 4))
    assert grid.target.shape == (3, 4) and grid.drafts.shape == (3, 4, 3)
    assert grid.drafts[1, 2].tolist() == gls_sample(p, q, 3, seed=0, key=6).drafts.tolist()
    assert gls_target(p, 3, seed=0, key=7) == one.target
    assert gls_drafts(q, 3, seed=0, key=7).tolist() == one.drafts.tolist()
    with pytest.raises(ValueError, match="q sums"):
        gls_drafts([0.5, 0.6], 2, seed=0, key=0)


# ---------------------------------------------------------------- Monte Carlo engines

ENGINE_CASES = [
    ("fast", "dirichlet", 200, {"alpha": 0.3}, 2),
    ("fast", "zipf", 500, {}, 8),
    ("fast", "kset", 60, {"k": 10, "overlap": 4}, 3),
    ("fast", "llm-softmax", 1000, {"temperature": 0.7}, 8),
    ("fast", "point-mass", 50, {}, 4),
    ("faithful", "dirichlet", 200, {"alpha": 0.3}, 2),
    ("faithful", "zipf", 300, {}, 8),
    ("faithful", "kset", 60, {"k": 10, "overlap": 4}, 3),
]
ENGINE_TRIALS = {"fast": 400_000, "faithful": 40_000}


@pytest.mark.parametrize(("engine", "family", "n", "params", "k"), ENGINE_CASES)
def test_engines_match_the_exact_value(engine, family, n, params, k):
    pair = make_pair(family, n, seed=2, **params)
    truth = list_matching_probability(pair.p, pair.q, k)
    r = estimate(pair.p, pair.q, "gls", ENGINE_TRIALS[engine], seed=3, engine=engine, drafts=k)
    assert r.protocol == "gls" and r.engine == engine
    assert within(r.value, truth, r.trials), (r, truth)


@pytest.mark.parametrize(("engine", "trials"), [("fast", 300_000), ("faithful", 40_000)])
def test_engines_joint_law_of_target_and_match(engine, trials):
    """Pr[Y = j, matched] = p_j I_j and Pr[Y = j, not matched] = p_j (1 - I_j), item by item."""
    pair = make_pair("dirichlet", 12, seed=8, alpha=0.6)
    k = 3
    exact = list_matching(pair.p, pair.q, k).by_item
    a, b = sample_pairs(
        pair.p, pair.q, "gls", seed=4, key=np.arange(trials), engine=engine, drafts=k
    )
    matched = a == b
    assert np.all(b[~matched] == -1)
    counts = np.concatenate(
        [np.bincount(a[matched], minlength=12), np.bincount(a[~matched], minlength=12)]
    )
    assert pooled_chisquare_pvalue(counts, np.concatenate([exact, pair.p - exact])) > P_MIN


@pytest.mark.parametrize(("engine", "trials"), [("fast", 200_000), ("faithful", 4_000)])
def test_bit_for_bit_across_threads_and_chunking(engine, trials, restore_threads):
    pair = make_pair("dirichlet", 300, seed=7, alpha=0.5)
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        results.append(estimate(pair.p, pair.q, "gls", trials, seed=8, engine=engine, drafts=3))
    steps = []
    chunked = estimate(
        pair.p, pair.q, "gls", trials, seed=8, engine=engine, drafts=3, progress=steps.append
    )
    assert results[0] == results[1] == chunked and len(steps) > 1


def test_estimate_needs_drafts_for_gls_only():
    with pytest.raises(ValueError, match="drafts"):
        estimate([0.5, 0.5], [0.5, 0.5], "gls", 10, seed=0)
    with pytest.raises(ValueError, match="drafts"):
        estimate([0.5, 0.5], [0.5, 0.5], "wmh", 10, seed=0, drafts=2)
    with pytest.raises(ValueError, match="drafts must be >= 1"):
        estimate([0.5, 0.5], [0.5, 0.5], "gls", 10, seed=0, drafts=0)


# ---------------------------------------------------------------- certificate


def test_certificate_is_verified_and_refutes_the_lemma():
    cert = verify_list_matching(random_pairs=4)
    assert cert.verdict == "verified", cert.counterexample
    assert all(case["zero"] for case in cert.detail["symbolic_cases"])
    assert cert.detail["max_relative_error"] < 1e-12
    wrong = verify_list_matching(list_matching_bound, symbolic_sizes=(), random_pairs=0)
    assert wrong.verdict == "refuted" and wrong.counterexample["failed"] == ["agrees"]


def test_certificate_refutes_a_formula_off_by_one_column():
    def all_columns_like_the_others(p, q, k):
        return list_matching_probability(p, q, k + 1) if k > 1 else gumbel_collision(p, q)

    cert = verify_list_matching(all_columns_like_the_others, symbolic_sizes=(), random_pairs=0)
    assert cert.verdict == "refuted"


def test_bench_rows_for_the_list_coupling():
    """``coupling bench`` rows run end to end at small sizes (no timing is asserted)."""
    from coupling.simulate.bench import _gls_rows, _list_matching_row

    pair = make_pair("zipf", 300, seed=0)
    rows = _gls_rows("zipf", pair.p, pair.q, 3, 20_000, 40, 1, numba.get_num_threads())
    rows.append(_list_matching_row(500, 3, 1))
    assert [r.unit for r in rows] == ["ns per trial x item x draft", "trials per second", "ms"]
    assert all(r.value > 0 and r.speedup > 0 for r in rows)

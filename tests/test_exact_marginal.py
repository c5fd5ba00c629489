"""The exact-marginal protocols: twins, marginals, agreement, bits, the one-way bound."""

import math
from fractions import Fraction

import numpy as np
import pytest
from coupling.proofs._core import grid_distributions
from coupling.proofs.communication_laws import interactive_law_rules, marginals, quantized_law_rules
from coupling.simulate.digits import compare_digits
from coupling.simulate.exact_marginal import (
    INTERACTIVE_DOMAINS,
    QUANTIZED_DOMAINS,
    index_bits,
    interactive_exact,
    interactive_sample,
    quantize,
    quantized_exact,
    quantized_sample,
)
from coupling.simulate.randomness import DOMAINS, uniform
from hypothesis import given, settings
from scipy import stats
from strategies import distribution_pairs

TRIALS = 20_000
Z = 5.0  # standard errors
CHI2_FLOOR = 1e-6  # p-value floor: a few dozen goodness-of-fit tests in this file
SMALL_CELL = 5

# Pairs whatever the other party's distribution: disjoint supports, a point mass, equal,
# zeros on either side, spread, and the cases where one contains the other.
PAIRS = {
    "mixed": ([0.5, 0.0, 0.2, 0.25, 0.05], [0.1, 0.3, 0.2, 0.0, 0.4]),
    "disjoint": ([0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.25, 0.75]),
    "point-mass": ([1.0, 0.0, 0.0], [0.2, 0.3, 0.5]),
    "to-point-mass": ([0.2, 0.3, 0.5], [0.0, 0.0, 1.0]),
    "equal": ([0.3, 0.7], [0.3, 0.7]),
    "spread": tuple(np.random.default_rng(5).dirichlet(np.full(8, 0.5), size=2)),
}


def inverse_cdf(w, u):
    """Smallest i with w_0 + ... + w_i > u * sum(w) (float cumulative sums, as the kernels)."""
    cdf = np.cumsum(np.asarray(w, dtype=float))
    return int(np.searchsorted(cdf, u * cdf[-1], side="right"))


def interactive_twin(p, q, seed, key):
    """The interactive protocol step by step: public uniforms, exact digit exchanges."""
    p, q = np.asarray(p) / np.sum(p), np.asarray(q) / np.sum(q)
    draw = dict(zip(("alice", "accept", "propose", "threshold"), INTERACTIVE_DOMAINS))

    def u(name, index=0):
        return float(uniform(seed=seed, key=key, index=index, domain=draw[name]))

    L = index_bits(p.size)
    a = inverse_cdf(p, u("alice"))
    c = compare_digits(Fraction(u("accept")) * Fraction(p[a]), q[a])  # Alice: U p_a
    bits = L + c.bits
    if c.less or not np.any(q > p):
        return a, a, bits
    for t in range(10**6):
        c = inverse_cdf(q, u("propose", t))
        x = compare_digits(p[c], Fraction(u("threshold", t)) * Fraction(q[c]))  # Bob: V q_c
        bits += L + x.bits
        if x.less:
            return a, c, bits
    raise AssertionError("no residual draw in a million trials")


def quantized_twin(p, q, k, seed, key):
    p, q = np.asarray(p) / np.sum(p), np.asarray(q) / np.sum(q)
    draw = dict(zip(("flag", "alice", "accept", "residual", "bob"), QUANTIZED_DOMAINS))

    def u(name):
        return float(uniform(seed=seed, key=key, index=0, domain=draw[name]))

    f = np.array(quantize(p, k), dtype=float) / 2**k
    s = f.sum()
    if u("flag") < s:
        a = inverse_cdf(f, u("alice"))
        big_f = f / s
        res = np.maximum(q - big_f, 0)
        keep = u("accept") * big_f[a] < q[a] or res.sum() == 0
        b = a if keep else inverse_cdf(res, u("residual"))
        return a, b, 1 + p.size * k + index_bits(p.size)
    return inverse_cdf(p - f, u("alice")), inverse_cdf(q, u("bob")), 1


@pytest.mark.parametrize("name", list(PAIRS))
def test_kernels_equal_their_step_by_step_twins(name):
    p, q = PAIRS[name]
    keys = np.arange(150)
    a, b, bits = interactive_sample(p, q, seed=3, key=keys)
    assert [interactive_twin(p, q, 3, int(k)) for k in keys] == list(zip(a, b, bits))
    for k in (1, 3, 8):
        a, b, bits = quantized_sample(p, q, k, seed=3, key=keys)
        assert [quantized_twin(p, q, k, 3, int(t)) for t in keys] == list(zip(a, b, bits))


def pvalue(counts, law):
    """Chi-square goodness of fit, cells expected below SMALL_CELL pooled."""
    expected = np.asarray(law, dtype=float) * counts.sum()
    assert counts[expected == 0].sum() == 0
    big = expected >= SMALL_CELL
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    keep = exp > 0
    if keep.sum() < 2:
        return 1.0
    return stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue


def check_run(p, q, run, agreement, bits):
    a, b, spent = run
    n = len(p)
    assert pvalue(np.bincount(a, minlength=n), p) > CHI2_FLOOR
    assert pvalue(np.bincount(b, minlength=n), q) > CHI2_FLOOR
    hit = float(agreement)
    assert abs(np.mean(a == b) - hit) <= Z * math.sqrt(hit * (1 - hit) / len(a)) + 1e-12
    assert abs(np.mean(spent) - float(bits)) <= Z * np.std(spent) / math.sqrt(len(a)) + 1e-9


@pytest.mark.parametrize("name", list(PAIRS))
def test_interactive_marginals_agreement_and_bits(name):
    p, q = PAIRS[name]
    law = interactive_exact(p, q)
    D = 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum()
    assert float(law.agreement) == pytest.approx(1 - D, abs=1e-12)
    run = interactive_sample(p, q, seed=11, key=np.arange(TRIALS))
    check_run(p, q, run, law.agreement, law.bits)
    assert np.mean(run[2]) < law.bits_bound


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("k", [1, 4, 10])
def test_quantized_marginals_agreement_and_bits(name, k):
    p, q = PAIRS[name]
    law = quantized_exact(p, q, k)
    check_run(
        p, q, quantized_sample(p, q, k, seed=12, key=np.arange(TRIALS)), law.agreement, law.bits
    )


def test_at_n_1000():
    from coupling.simulate.families import make_pair

    pair = make_pair("llm-softmax", 1000, seed=4)
    law = interactive_exact(pair.p, pair.q)
    run = interactive_sample(pair.p, pair.q, seed=13, key=np.arange(TRIALS))
    check_run(pair.p, pair.q, run, law.agreement, law.bits)
    assert float(law.bits) < law.bits_bound
    qlaw = quantized_exact(pair.p, pair.q, 12)
    run = quantized_sample(pair.p, pair.q, 12, seed=13, key=np.arange(TRIALS))
    check_run(pair.p, pair.q, run, qlaw.agreement, qlaw.bits)


def dyadic_pairs(n, den):
    grid = grid_distributions(n, den)
    return [(list(p), list(q)) for p in grid for q in grid]


def test_interactive_exact_law_on_small_pairs():
    """Joint law through the exact digit-exchange laws: marginals p and q, Pr[a = b] = 1 - D,
    and the expected bits of the Wald form equal the first-step analysis."""
    for p, q in dyadic_pairs(2, 8) + dyadic_pairs(3, 4):
        rules = interactive_law_rules(p, q)
        alice, bob, hit = marginals(rules.joint, len(p))
        law = interactive_exact(p, q)
        assert (alice, bob) == (p, q)
        assert hit == law.agreement == 1 - law.D
        assert rules.bits == law.bits
        assert float(law.bits) <= law.bits_bound


def test_quantized_exact_law_on_small_pairs():
    for p, q in dyadic_pairs(3, 6):
        for k in (1, 2, 3):
            alice, bob, hit = marginals(quantized_law_rules(p, q, k), 3)
            law = quantized_exact(p, q, k)
            assert (alice, bob) == (p, q)
            assert hit == law.agreement >= law.bound
            assert hit <= 1 - law.D


@settings(max_examples=60)
@given(distribution_pairs(max_n=300))
def test_quantized_bound_holds(pair):
    p, q = pair
    for k in (2, 8, 20):
        law = quantized_exact(p, q, k)
        assert law.agreement >= law.bound
        assert law.agreement >= law.kept * (law.kept - law.D)  # the sharper form
        assert 1 - law.kept <= Fraction(len(p), 2**k)


def test_interactive_agreement_is_one_minus_d_exactly_for_fractions():
    p = [Fraction(1, 2), Fraction(1, 4), Fraction(1, 4), Fraction(0)]
    q = [Fraction(1, 8), Fraction(1, 8), Fraction(1, 4), Fraction(1, 2)]
    law = interactive_exact(p, q)
    assert law.D == Fraction(1, 2) and law.agreement == Fraction(1, 2)


def test_scalar_key_gives_ints_and_shapes_follow_keys():
    p, q = PAIRS["mixed"]
    out = interactive_sample(p, q, seed=0, key=5)
    assert all(type(x) is int for x in out)
    out = quantized_sample(p, q, 3, seed=0, key=np.arange(6).reshape(2, 3))
    assert all(x.shape == (2, 3) for x in out)
    assert (
        interactive_sample(p, q, seed=0, key=[5])[0][0]
        == interactive_sample(p, q, seed=0, key=5)[0]
    )


def test_domains_are_registered():
    assert set(INTERACTIVE_DOMAINS + QUANTIZED_DOMAINS) <= set(DOMAINS)


def test_bad_input():
    p, q = PAIRS["mixed"]
    with pytest.raises(ValueError, match="bits_per_entry"):
        quantized_sample(p, q, 0, seed=0, key=0)
    with pytest.raises(ValueError, match="bits_per_entry"):
        quantized_sample(p, q, 53, seed=0, key=0)
    with pytest.raises(ValueError, match="different lengths"):
        interactive_sample(p, [0.25] * 4, seed=0, key=0)
    with pytest.raises(ValueError, match="sums to"):
        interactive_sample([0.5, 0.6], [0.5, 0.5], seed=0, key=0)
    with pytest.raises(TypeError, match="key"):
        interactive_sample(p, q, seed=0, key=0.5)
    with pytest.raises(ValueError, match="dyadic"):
        interactive_exact([Fraction(1, 3), Fraction(2, 3)], [Fraction(1, 2), Fraction(1, 2)])
    with pytest.raises(ValueError, match="sum 1"):
        quantized_exact([Fraction(1, 2)], [Fraction(1)], 2)

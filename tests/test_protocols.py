"""Single-party samplers: marginals, communication-freeness, twins, equality in law."""

import numpy as np
import pytest
from coupling.simulate import (
    gumbel_sample,
    independent_sample,
    optimal_coupling_sample,
    tv_distance,
    uniform,
    wmh_darts_sample,
    wmh_joint_law,
    wmh_sample,
)
from coupling.simulate.montecarlo import sample_pairs
from coupling.simulate.reference import gumbel_pairs_numpy, wmh_darts_loop, wmh_records_loop
from scipy import stats

# A correct sampler fails a goodness-of-fit test at this p-value less than once in 10^5 runs.
GOF_PVALUE = 1e-5

P = np.array([0.5, 0.0, 0.2, 0.25, 0.05])
Q = np.array([0.1, 0.3, 0.2, 0.0, 0.4])


def chi_square_pvalue(samples, probs):
    """Goodness of fit of integer samples to ``probs``; zero-probability items must not occur."""
    counts = np.bincount(samples.ravel(), minlength=probs.size)
    assert counts[probs == 0].sum() == 0, "an item of zero probability was drawn"
    live = probs > 0
    return stats.chisquare(counts[live], probs[live] * samples.size).pvalue


@pytest.mark.parametrize(
    "sampler",
    [
        lambda p, keys: gumbel_sample(p, seed=3, key=keys),
        lambda p, keys: wmh_sample(p, seed=3, key=keys),
        lambda p, keys: wmh_darts_sample(p, seed=3, key=keys),
    ],
    ids=["gumbel", "wmh-records", "wmh-darts"],
)
@pytest.mark.parametrize(
    "p", [P, Q, np.full(7, 1 / 7), np.array([1.0]), np.array([1e-3, 1 - 1e-3])]
)
def test_marginal_goodness_of_fit(sampler, p):
    samples = sampler(p, np.arange(100_000))
    assert samples.shape == (100_000,)
    if p.size > 1:
        assert chi_square_pvalue(samples, p) > GOF_PVALUE
    else:
        assert (samples == 0).all()


@pytest.mark.parametrize("fn", [optimal_coupling_sample, independent_sample])
def test_baseline_marginals(fn):
    a, b = fn(P, Q, seed=9, key=np.arange(100_000))
    assert chi_square_pvalue(a, P) > GOF_PVALUE
    assert chi_square_pvalue(b, Q) > GOF_PVALUE


def test_optimal_coupling_collides_at_one_minus_d():
    a, b = optimal_coupling_sample(P, Q, seed=1, key=np.arange(200_000))
    rate = np.mean(a == b)
    target = 1 - tv_distance(P, Q)
    assert abs(rate - target) < 5 * np.sqrt(target * (1 - target) / a.size)


@pytest.mark.parametrize("sampler", [gumbel_sample, wmh_sample])
def test_communication_free(sampler):
    """A party's output depends on its own distribution and the seed only."""
    keys = np.arange(2_000)
    alice = sampler(P, seed=5, key=keys)
    rng = np.random.default_rng(0)
    for _ in range(3):
        q = rng.dirichlet(np.ones(P.size))
        a, _ = sample_pairs(
            P,
            q,
            "gumbel" if sampler is gumbel_sample else "wmh",
            seed=5,
            key=keys,
            engine="faithful",
        )
        assert np.array_equal(a, alice)
    assert not np.array_equal(sampler(P, seed=6, key=keys), alice)


def test_gumbel_matches_numpy_twin():
    rng = np.random.default_rng(1)
    for n in (1, 3, 255, 256, 257, 1000):
        p = rng.dirichlet(np.full(n, 0.3))
        q = rng.dirichlet(np.full(n, 0.3))
        p[rng.random(n) < 0.2] = 0.0
        p = p / p.sum() if p.sum() > 0 else q
        keys = np.arange(300)
        a, b = sample_pairs(p, q, "gumbel", seed=n, key=keys, engine="faithful")
        a_np, b_np = gumbel_pairs_numpy(p, q, seed=n, key=keys)
        assert np.array_equal(a, a_np)
        assert np.array_equal(b, b_np)


def test_gumbel_ties_break_to_lowest_index():
    """Duplicated weights: the winner is numpy's argmin of the noise (first of equal values)."""
    p = np.full(64, 1 / 64)
    keys = np.arange(500)
    e = -np.log(uniform(seed=2, key=keys[:, None], index=np.arange(64)[None, :], domain="gumbel"))
    assert np.array_equal(gumbel_sample(p, seed=2, key=keys), np.argmin(e, axis=1))
    # two items with identical weight and (forced) identical noise: only the lower can win
    q = np.array([0.25, 0.25, 0.5])
    a, _ = gumbel_pairs_numpy(q, q, seed=0, key=np.arange(2000))
    assert set(np.unique(a)) <= {0, 1, 2}


def test_darts_kernel_matches_python_loop():
    keys = np.arange(40)
    got = wmh_darts_sample(P, seed=4, key=keys)
    assert got.tolist() == [wmh_darts_loop(P, seed=4, key=int(k)) for k in keys]


@pytest.mark.parametrize("n", [1, 5, 300, 700])
def test_records_kernel_matches_python_loop(n):
    """The kernel's warm start and pre-filter change its work, never its answer."""
    rng = np.random.default_rng(n)
    p = rng.dirichlet(np.full(n, 0.2))
    p[rng.random(n) < 0.2] = 0.0
    p = p / p.sum() if p.sum() > 0 else np.full(n, 1 / n)
    keys = np.arange(25)
    got = wmh_sample(p, seed=n, key=keys)
    assert got.tolist() == [wmh_records_loop(p, seed=n, key=int(k)) for k in keys]


@pytest.mark.parametrize("method", ["wmh", "wmh-darts"])
def test_wmh_joint_law(method):
    """Both WMH procedures produce the dart process's joint law of (a, b)."""
    a, b = sample_pairs(P, Q, method, seed=8, key=np.arange(200_000), engine="faithful")
    law = wmh_joint_law(P, Q)
    counts = np.zeros_like(law)
    np.add.at(counts, (a, b), 1)
    assert counts[law == 0].sum() == 0
    live = law > 0
    assert stats.chisquare(counts[live], law[live] * a.size).pvalue > GOF_PVALUE


def test_vectorised_keys_keep_shape_and_scalar_is_int():
    keys = np.arange(12).reshape(3, 4)
    assert gumbel_sample(P, seed=1, key=keys).shape == (3, 4)
    out = gumbel_sample(P, seed=1, key=7)
    assert isinstance(out, int)
    assert out == gumbel_sample(P, seed=1, key=np.array([7]))[0]


def test_point_mass_always_wins():
    p = np.zeros(1000)
    p[417] = 1.0
    assert (gumbel_sample(p, seed=0, key=np.arange(100)) == 417).all()
    assert (wmh_sample(p, seed=0, key=np.arange(100)) == 417).all()


def test_tiny_probabilities_are_handled():
    p = np.array([1e-300, 0.5, 0.5 - 1e-300, 5e-324])
    for s in (
        gumbel_sample(p, seed=1, key=np.arange(5000)),
        wmh_sample(p, seed=1, key=np.arange(5000)),
    ):
        assert set(np.unique(s)) <= {1, 2}

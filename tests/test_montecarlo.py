"""Monte Carlo engines: agreement with exact values and each other, and reproducibility."""

import numba
import numpy as np
import pytest
from scipy import stats

from simulate import collision_probability, estimate, sample_pairs, wilson_interval
from simulate.families import make_pair

# Estimates must lie within this many standard errors of the truth (two-sided 5.7e-7).
Z_MAX = 5.0
FAMILY_CASES = [
    ("dirichlet", 200, {"alpha": 0.3}),
    ("zipf", 500, {}),
    ("kset", 60, {"k": 10, "overlap": 4}),
    ("point-mass", 50, {}),
    ("llm-softmax", 1000, {"temperature": 0.7}),
    ("mixture", 30, {"lam": 0.4}),
]


def within(est, truth, trials):
    se = np.sqrt(max(truth * (1 - truth), 1.0 / trials) / trials)
    return abs(est - truth) <= Z_MAX * se


ENGINE_TRIALS = {"fast": 400_000, "faithful": 100_000}
ENGINE_CASES = [("fast", *case) for case in FAMILY_CASES] + [
    ("faithful", *case) for case in FAMILY_CASES[:4]
]


@pytest.mark.parametrize(("engine", "family", "n", "params"), ENGINE_CASES)
@pytest.mark.parametrize("protocol", ["gumbel", "wmh", "optimal", "independent"])
def test_engine_matches_exact(engine, family, n, params, protocol):
    pair = make_pair(family, n, seed=2, **params)
    truth = collision_probability(pair.p, pair.q, protocol)
    r = estimate(pair.p, pair.q, protocol, ENGINE_TRIALS[engine], seed=3, engine=engine)
    assert within(r.value, truth, r.trials), (r, truth)


@pytest.mark.parametrize("protocol", ["gumbel", "wmh"])
def test_engines_agree_on_the_joint_law(protocol):
    """The fast engine's (a, b) pairs and the faithful ones come from the same joint law."""
    pair = make_pair("dirichlet", 6, seed=5, alpha=0.7)
    keys = np.arange(200_000)
    tables = []
    for engine in ("fast", "faithful"):
        a, b = sample_pairs(pair.p, pair.q, protocol, seed=6, key=keys, engine=engine)
        t = np.zeros((6, 6), np.int64)
        np.add.at(t, (a, b), 1)
        tables.append(t.ravel())
    both = np.array(tables)
    both = both[:, both.sum(axis=0) > 0]
    assert stats.chi2_contingency(both).pvalue > 1e-5


def test_fast_engine_marginals_are_exact():
    pair = make_pair("zipf", 40, seed=1)
    a, b = sample_pairs(pair.p, pair.q, "gumbel", seed=2, key=np.arange(300_000), engine="fast")
    for s, w in ((a, pair.p), (b, pair.q)):
        counts = np.bincount(s, minlength=40)
        assert stats.chisquare(counts, w * s.size).pvalue > 1e-5


@pytest.mark.parametrize("engine", ["fast", "faithful"])
@pytest.mark.parametrize("protocol", ["gumbel", "wmh"])
def test_bit_for_bit_across_threads_and_chunking(engine, protocol, restore_threads):
    pair = make_pair("dirichlet", 300, seed=7, alpha=0.5)
    trials = 150_000 if engine == "fast" else 20_000
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        results.append(estimate(pair.p, pair.q, protocol, trials, seed=8, engine=engine))
    steps = []
    chunked = estimate(
        pair.p, pair.q, protocol, trials, seed=8, engine=engine, progress=steps.append
    )
    assert results[0] == results[1] == chunked
    assert sum(steps) == trials and len(steps) > 1


def test_key_ranges_compose():
    pair = make_pair("zipf", 100, seed=1)
    whole = estimate(pair.p, pair.q, "gumbel", 20_000, seed=1, engine="faithful")
    first = estimate(pair.p, pair.q, "gumbel", 12_000, seed=1, engine="faithful")
    rest = estimate(pair.p, pair.q, "gumbel", 8_000, seed=1, engine="faithful", key=12_000)
    assert whole.hits == first.hits + rest.hits


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_estimate_result_fields():
    r = estimate([0.5, 0.5], [1.0, 0.0], "optimal", 10_000, seed=0)
    assert r.trials == 10_000 and r.protocol == "optimal" and r.engine == "fast"
    assert r.ci_low <= r.value <= r.ci_high
    assert r.stderr == pytest.approx(np.sqrt(r.value * (1 - r.value) / r.trials))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"protocol": "gumbel", "trials": 0}, ValueError, "trials"),
        ({"protocol": "gumbel", "trials": 10.0}, TypeError, "trials"),
        ({"protocol": "nope", "trials": 10}, ValueError, "protocol"),
        ({"protocol": "gumbel", "trials": 10, "engine": "gpu"}, ValueError, "engine"),
        ({"protocol": "gumbel", "trials": 10, "key": -1}, ValueError, "key"),
        ({"protocol": "gumbel", "trials": 10, "progress": 3}, TypeError, "progress"),
    ],
)
def test_estimate_rejects_bad_arguments(kwargs, error, match):
    kwargs.setdefault("engine", "fast")
    with pytest.raises(error, match=match):
        estimate([0.5, 0.5], [0.5, 0.5], seed=0, **kwargs)

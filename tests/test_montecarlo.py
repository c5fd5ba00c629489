"""Monte Carlo engines: agreement with exact values and each other, and reproducibility."""

import os
import signal
import threading
import time
import tracemalloc

import numba
import numpy as np
import pytest
from coupling.simulate import (
    _pieces,
    collision_probability,
    estimate,
    montecarlo,
    sample_pairs,
    wilson_interval,
)
from coupling.simulate.exact import PROTOCOLS
from coupling.simulate.families import make_pair
from coupling.simulate.montecarlo import ENGINES, KEY_SPACE, run_memory, z_score
from scipy import stats

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


def test_z_score_takes_the_error_at_the_exact_value():
    assert z_score(0.5, 0.4, 100) == pytest.approx(0.1 / np.sqrt(0.4 * 0.6 / 100))
    assert z_score(0.0, 0.52, 3) == pytest.approx(-0.52 / np.sqrt(0.52 * 0.48 / 3))  # own SE 0
    assert z_score(1.0, 1.0, 10) == 0.0 and z_score(0.0, 0.0, 10) == 0.0
    assert z_score(0.1, 0.0, 10) == np.inf and z_score(0.9, 1.0, 10) == -np.inf
    with pytest.raises(ValueError, match=r"exact must be <= 1\.0"):
        z_score(0.5, 1.5, 10)


@pytest.mark.parametrize("engine", ["fast", "faithful"])
def test_pieces_never_change_the_result(engine, monkeypatch):
    pair = make_pair("dirichlet", 50, seed=4)
    trials = 400_000 if engine == "fast" else 1_000
    whole = estimate(pair.p, pair.q, "wmh", trials, seed=5, engine=engine, key=7)
    # pieces that never grow past the first, with small kernel chunks: many pieces, each cut
    # across the kernel's chunk boundaries differently from the run above
    monkeypatch.setattr(_pieces, "PIECE_GROWTH", 1)
    monkeypatch.setattr(montecarlo, "FAST_CHUNK", 4096)
    steps = []
    pieces = estimate(pair.p, pair.q, "wmh", trials, seed=5, engine=engine, key=7,
                      progress=steps.append)  # fmt: skip
    assert pieces == whole and sum(steps) == trials and len(steps) > 1
    assert max(steps) <= 4096 * numba.get_num_threads()


class _Stop(Exception):
    pass


def test_progress_moves_on_a_huge_run():
    steps = []

    def progress(k):
        steps.append(k)
        if len(steps) == 4:
            raise _Stop

    with pytest.raises(_Stop):
        estimate([0.5, 0.5], [0.25, 0.75], "gumbel", 10**12, seed=0, progress=progress)
    assert 0 < max(steps) < 10**10


@pytest.mark.parametrize("trials", [10**12, 2**63 - 1])
def test_ctrl_c_is_seen_between_pieces(trials):
    """A SIGINT during a run of 10**12 trials (or 2**63 - 1, which returned 0.0 at once through
    an int64 overflow) raises KeyboardInterrupt at the end of the running piece."""
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            estimate([0.5, 0.5], [0.25, 0.75], "gumbel", trials, seed=0)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 30  # a deadline, not a speed target: pieces are short


def test_trials_are_bounded_by_the_key_space():
    estimate([1.0], [1.0], "optimal", 1, seed=0, key=KEY_SPACE - 1)  # the very last key
    with pytest.raises(ValueError, match=r"trials must be <= 2\*\*63 - key = 1 "):
        estimate([1.0], [1.0], "optimal", 2, seed=0, key=KEY_SPACE - 1)
    with pytest.raises(ValueError, match="9223372036854775808"):
        estimate([1.0], [1.0], "optimal", 2**63 + 1, seed=0)


@pytest.mark.parametrize(("family", "params"), [("dirichlet", {}), ("kset", {"k": 900,
                                                 "overlap": 100}), ("zipf", {})])  # fmt: skip
def test_run_memory_bounds_the_peak(family, params):
    """What a simulate run allocates (tracemalloc sees numpy's buffers) stays within
    run_memory(n): the pair, every exact value, both engines' tables, the list coupling's."""
    n = 50_000
    runs = [(protocol, {}) for protocol in PROTOCOLS] + [("gls", {"drafts": 8})]

    def run(pair):
        for protocol, drafts in runs:
            collision_probability(pair.p, pair.q, protocol, **drafts)
            for engine in ENGINES:
                estimate(pair.p, pair.q, protocol, 20, seed=0, engine=engine, **drafts)

    run(make_pair("zipf", 20, seed=0))
    tracemalloc.start()  # after loading the kernels: a one-off cost, not one per item
    try:
        run(make_pair(family, n, seed=0, **params))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= run_memory(n)

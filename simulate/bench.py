"""Throughput measurements for ``coupling bench``: each fast path against its baseline,
measured in the same run on the same inputs. Returns rows; printing is the CLI's job."""

import time
from functools import partial
from typing import NamedTuple

import numba
import numpy as np
from coupling.simulate.exact import gumbel_collision
from coupling.simulate.families import dirichlet_pair, llm_softmax_pair, zipf_pair
from coupling.simulate.montecarlo import estimate, sample_pairs
from coupling.simulate.multidraft import gls_sample, list_matching
from coupling.simulate.reference import gls_numpy, gumbel_collision_quadratic, gumbel_pairs_numpy

__all__ = ["BenchRow", "run_benchmarks"]


class BenchRow(NamedTuple):
    """One measurement of ``coupling bench``: a value, and how many times faster it is than a
    baseline measured in the same run on the same inputs (a ratio, never an absolute target)."""

    name: str
    value: float
    unit: str
    baseline: str  #: what the speed-up is measured against, in the same run
    speedup: float  #: how many times faster than the baseline (nan if none)
    target: str  #: the stated goal, as text


def _best_time(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _gls_rows(label, p, q, k, fast_trials, faithful_trials, repeats, threads):
    """The list coupling's engines on one pair: faithful vs the numpy twin, fast vs faithful."""
    n = p.size
    keys = np.arange(8)
    target, drafts = gls_numpy(p, q, k, seed=1, keys=keys)  # also warms up
    sample = gls_sample(p, q, k, seed=1, key=keys)
    if not (np.array_equal(target, sample.target) and np.array_equal(drafts, sample.drafts)):
        raise RuntimeError("gls kernels and numpy twin disagree; benchmark void")
    numpy_keys = np.arange(24)
    t_np = _best_time(partial(gls_numpy, p, q, k, seed=1, keys=numpy_keys), 1)
    ns_np = t_np / (numpy_keys.size * n * k) * 1e9
    run = partial(estimate, p, q, "gls", seed=1, drafts=k)
    run(16, engine="faithful")
    t_nb = _best_time(partial(run, faithful_trials, engine="faithful"), repeats)
    ns_nb = t_nb / (faithful_trials * n * k) * 1e9
    run(1000)
    t_fast = _best_time(partial(run, fast_trials), repeats)
    name = f"{label}, n={n}, k={k}, {threads} threads"
    return [
        BenchRow(
            f"faithful gls, {name}",
            ns_nb,
            "ns per trial x item x draft",
            f"numpy twin ({ns_np:.1f} ns)",
            ns_np / ns_nb,
            "the literal K races",
        ),
        BenchRow(
            f"fast gls, {name}",
            fast_trials / t_fast,
            "trials per second",
            "faithful gls engine",
            (fast_trials / t_fast) / (faithful_trials / t_nb),
            ">= 1e6 trials/s",
        ),
    ]


def _list_matching_row(vocab, k, repeats):
    """Exact Pr[match] on a language-model-like pair, against the fast engine's time to a
    standard error of 1e-4 (v (1 - v) / 1e-8 trials at its rate measured here)."""
    pair = llm_softmax_pair(vocab, seed=0)
    list_matching(pair.p, pair.q, k)
    t_exact = _best_time(lambda: list_matching(pair.p, pair.q, k), repeats)
    value = list_matching(pair.p, pair.q, k).value
    trials = 1_000_000
    t_mc = _best_time(partial(estimate, pair.p, pair.q, "gls", trials, seed=1, drafts=k), 1)
    t_target_se = value * (1 - value) / 1e-8 / trials * t_mc
    return BenchRow(
        f"exact list matching, llm-softmax pair, V={vocab}, k={k}",
        t_exact * 1e3,
        "ms",
        "fast engine to a standard error of 1e-4",
        t_target_se / t_exact,
        "<= 1000 ms, relative error <= 1e-9",
    )


def run_benchmarks(
    *,
    n=50_000,
    faithful_trials=2_000,
    fast_trials=10_000_000,
    repeats=3,
    drafts=8,
    gls_faithful_trials=200,
    vocab=49_152,
):
    """Faithful Gumbel engine vs vectorised numpy, fast engine, exact J_P at n = 2**18; the
    list coupling's engines with ``drafts`` drafts and its exact value at ``vocab`` items."""
    threads = numba.get_num_threads()
    rows = []
    pairs = {
        "zipf": zipf_pair(n, seed=0),
        "dirichlet(0.05)": dirichlet_pair(n, seed=0, alpha=0.05),
    }
    for label, pair in pairs.items():
        p, q = pair.p, pair.q
        keys = np.arange(64)
        a_np, b_np = gumbel_pairs_numpy(p, q, seed=1, key=keys)  # also warms up
        a_nb, b_nb = sample_pairs(p, q, "gumbel", seed=1, key=keys, engine="faithful")
        if not (np.array_equal(a_np, a_nb) and np.array_equal(b_np, b_nb)):
            raise RuntimeError("faithful engine and numpy twin disagree; benchmark void")
        numpy_keys = np.arange(200)
        t_np = _best_time(partial(gumbel_pairs_numpy, p, q, seed=1, key=numpy_keys), 1)
        ns_np = t_np / (numpy_keys.size * n) * 1e9
        t_nb = _best_time(
            partial(estimate, p, q, "gumbel", faithful_trials, seed=1, engine="faithful"), repeats
        )
        ns_nb = t_nb / (faithful_trials * n) * 1e9
        rows.append(
            BenchRow(
                f"faithful gumbel, {label}, n={n}, {threads} threads",
                ns_nb,
                "ns per trial x item",
                f"vectorised numpy race ({ns_np:.1f} ns)",
                ns_np / ns_nb,
                "<= 1.5 ns and >= 10x numpy",
            )
        )
        estimate(p, q, "gumbel", 1000, seed=1)
        t_fast = _best_time(partial(estimate, p, q, "gumbel", fast_trials, seed=1), repeats)
        rows.append(
            BenchRow(
                f"fast gumbel, {label}, n={n}, {threads} threads",
                fast_trials / t_fast,
                "trials per second",
                "faithful engine",
                (fast_trials / t_fast) / (faithful_trials / t_nb),
                ">= 1e7 trials/s",
            )
        )
        rows += _gls_rows(
            label, p, q, drafts, fast_trials // 4, gls_faithful_trials, repeats, threads
        )
    rows.append(_list_matching_row(vocab, drafts, repeats))
    big = dirichlet_pair(262_144, seed=0)
    gumbel_collision(big.p, big.q)
    t_exact = _best_time(lambda: gumbel_collision(big.p, big.q), repeats)
    pairs_n2 = dirichlet_pair(2_048, seed=0)
    t_n2 = (
        _best_time(lambda: gumbel_collision_quadratic(pairs_n2.p, pairs_n2.q), 1)
        * (262_144 / 2_048) ** 2
    )
    rows.append(
        BenchRow(
            "exact J_P, n=262144",
            t_exact * 1e3,
            "ms",
            "O(n^2) formula, extrapolated from n=2048",
            t_n2 / t_exact,
            "< 100 ms",
        )
    )
    return rows

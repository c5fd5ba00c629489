"""Slow, obvious twins of the fast paths, in plain numpy: for tests and benchmark baselines.

They follow the written specification, not the kernels: the hash in numpy uint64 arithmetic
(which wraps modulo 2**64), the race as an argmin over the full noise matrix.
"""

import numpy as np

from simulate.randomness import domain_tag
from simulate.validation import as_distribution, as_key_array, as_pair, as_seed

__all__ = [
    "gumbel_collision_quadratic",
    "gumbel_pairs_numpy",
    "uniform_numpy",
    "wmh_darts_loop",
    "wmh_records_loop",
]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform_numpy(*, seed, key, index, domain):
    """:func:`simulate.randomness.uniform`, computed with numpy arrays only."""
    seed = np.asarray(as_seed(seed), dtype=np.uint64)
    keys, idx = np.broadcast_arrays(as_key_array(key, "key"), as_key_array(index, "index"))
    with np.errstate(over="ignore"):
        state = _mix(_mix(_mix(seed + _GAMMA) ^ domain_tag(domain)) ^ keys)
        word = _mix(state + (idx + np.uint64(1)) * _GAMMA)
    return ((word >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def gumbel_pairs_numpy(p, q, *, seed, key):
    """Both parties' exponential-race outputs for each key: argmin of E / p and of E / q."""
    p, q = as_pair(p, q)
    keys = as_key_array(key, "key").reshape(-1)
    e = -np.log(
        uniform_numpy(
            seed=seed, key=keys[:, None], index=np.arange(p.size)[None, :], domain="gumbel"
        )
    )
    with np.errstate(divide="ignore"):
        return np.argmin(e / p, axis=1), np.argmin(e / q, axis=1)


def wmh_darts_loop(p, *, seed, key):
    """Literal dart throwing, one Python-level dart at a time."""
    p = as_distribution(p)
    n = p.size
    k = 0
    while True:
        i = min(int(uniform_numpy(seed=seed, key=key, index=k, domain="wmh-dart-item") * n), n - 1)
        if uniform_numpy(seed=seed, key=key, index=k, domain="wmh-dart-height") <= p[i]:
            return i
        k += 1


def wmh_records_loop(p, *, seed, key):
    """The record process of every column in order, each until its time passes the best.

    Column i's records come at times t += -ln(u_time) / h with heights h *= u_height, the
    uniforms at index i + (record number << 32); the party takes the column at its first
    record with height <= p_i and outputs the column taken earliest (ties to the lower).
    """
    p = as_distribution(p)
    best, winner = np.inf, p.size
    for i in np.flatnonzero(p > 0):
        t, h, j = 0.0, 1.0, 0
        while True:
            idx = int(i) + (j << 32)
            t += -np.log(uniform_numpy(seed=seed, key=key, index=idx, domain="wmh-record-time")) / h
            j += 1
            if t >= best:  # the columns go in order, so a tie stays with the lower one
                break
            h *= uniform_numpy(seed=seed, key=key, index=idx, domain="wmh-record-height")
            if h <= p[i]:
                best, winner = t, int(i)
                break
    return winner


def gumbel_collision_quadratic(p, q):
    """J_P by its O(n^2) definition: sum over i of 1 / sum_j max(p_j / p_i, q_j / q_i)."""
    p, q = as_pair(p, q)
    total = 0.0
    with np.errstate(over="ignore"):  # ratios to entries near 1e-300 may be inf: correctly
        for i in np.flatnonzero((p > 0) & (q > 0)):
            total += 1.0 / np.sum(np.maximum(p / p[i], q / q[i]))
    return total

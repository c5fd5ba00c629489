"""Slow, obvious twins of the fast paths, in plain numpy: for tests and benchmark baselines.

They follow the written specification, not the kernels: the hash in numpy uint64 arithmetic
(which wraps modulo 2**64), the race as an argmin over the full noise matrix.
"""

import math

import numpy as np
from coupling.simulate.randomness import domain_tag
from coupling.simulate.validation import as_distribution, as_key_array, as_pair, as_seed
from scipy import integrate

__all__ = [
    "gls_numpy",
    "gumbel_collision_quadratic",
    "gumbel_pairs_numpy",
    "list_matching_bound_quadratic",
    "list_matching_nested_quad",
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
    """:func:`coupling.simulate.randomness.uniform`, computed with numpy arrays only."""
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


def gls_numpy(p, q, k, *, seed, keys):
    """The list coupling from the full noise array E[key, slot, item] = -ln u(seed, "gumbel",
    key, item + slot * 2**32): drafts[key, slot] = argmin_i E / q_i and target[key] =
    argmin_i min_slot E / p_i (lowest index at ties, as numpy's argmin)."""
    p, q = as_pair(p, q)
    keys = as_key_array(keys, "keys").reshape(-1)
    index = np.arange(p.size)[None, :] + (np.arange(k)[:, None] << 32)
    e = -np.log(uniform_numpy(seed=seed, key=keys[:, None, None], index=index, domain="gumbel"))
    with np.errstate(divide="ignore"):
        return np.argmin(e.min(axis=1) / p, axis=1), np.argmin(e / q, axis=2)


def list_matching_bound_quadratic(p, q, k):
    """The list matching lemma as printed: sum_j K / (sum_i max(p_i/p_j, q_i/q_j) + (K-1)/p_j)."""
    p, q = as_pair(p, q)
    total = 0.0
    with np.errstate(over="ignore"):
        for j in np.flatnonzero((p > 0) & (q > 0)):
            total += k / (np.sum(np.maximum(p / p[j], q / q[j])) + (k - 1) / p[j])
    return total


def list_matching_nested_quad(p, q, k):
    """The exact matching probability by scipy's adaptive quadrature, straight from the note:
    sum_j p_j int K e^(-Kt) [1 - (1 - e^(-t c_j)) (1 - g_j(t))^(K-1)] dt with
    g_j(t) = q_j t int_{r_j}^oo e^(-t psi(w)) dw, psi(w) = sum_i (q_i w - p_i)^+ summed
    directly. Each integral is cut at the kinks (inner: the ratios; outer, in x = t (K + c_j):
    where t psi_s = x) and scaled to its own decay. Slow: for n up to about 8."""
    p, q = as_pair(p, q)
    live = q > 0
    ratios = np.unique(p[live] / q[live]).tolist()
    weights = list(zip(q.tolist(), p.tolist()))

    def psi(w):  # plain floats: numpy's per-call overhead dominates at this size
        return sum(max(qi * w - pi, 0.0) for qi, pi in weights)

    def quad(f, a, b, points=None):
        return integrate.quad(f, a, b, points=points, epsabs=1e-14, epsrel=1e-11, limit=200)[0]

    total = 0.0
    for j in np.flatnonzero((p > 0) & live):
        r, c = p[j] / q[j], psi(p[j] / q[j])
        later = [x for x in ratios if x > r]
        scale = k + c  # x = t * scale: the lemma's part decays at rate one in x

        def g(t, r=r, later=later, qj=q[j]):
            # t int_a^b e^(-t psi(w)) dw = int_0^(t (b - a)) e^(-t psi(a + y / t)) dy
            total_g = 0.0
            for a, b in zip([r, *later], [*later, np.inf]):
                top = t * (b - a)
                total_g += quad(lambda y, a=a: math.exp(-t * psi(a + y / t)), 0.0, min(top, 60.0))
            return qj * total_g

        def integrand(x, c=c, g=g, scale=scale):
            t = x / scale
            miss = (1.0 - math.exp(-t * c)) * (1.0 - g(t)) ** (k - 1)
            return k * math.exp(-k * t) * (1.0 - miss) / scale

        kinks = sorted({min(scale / psi(b), 50.0) for b in later if psi(b) > 0} | {1.0})
        total += p[j] * (quad(integrand, 0.0, 60.0, kinks) + quad(integrand, 60.0, np.inf))
    return total

r"""The exact best pair of maps on a type of pairs: :func:`local_optimum`, :func:`type_optimum`.

A protocol composed with a shared uniformly random relabelling of [n] agrees on every pair of
one type (|A| = |B| = k, |A n B| = k - m, so D = m/k) with the original protocol's average over
that type. So the best a protocol can guarantee on the type is at most the best type-average
of one deterministic pair of maps (f, g) with f(A) in A, g(B) in B (and min-hash reaches
(k - m)/(k + m)). For a fixed f the best g is pointwise: each B takes the item that most of
its partners A send to. :func:`type_search` maximises over f exactly, by the branch and bound
of :mod:`coupling.proofs._optimality_kernels` (f up to relabellings of [n], g by best
response, integers only), from an incumbent found by a plateau-walking local search.

:func:`type_optimum` (k, m, n) is that optimum over [n]; :func:`local_optimum` (k, m) the one
on the k + m points the type needs (Lemma L: every type optimum is at most it). The same
search with every ordered pair of K-sets as partners gives Theorem A's optimum
(:func:`independent_optimum`). :func:`brute_force_optimum` is the slow twin: every f, g by
best response, in plain Python.
"""

from fractions import Fraction
from itertools import combinations, product
from typing import NamedTuple

import numpy as np
from coupling.proofs._optimality_kernels import climb, initial_state, search_type, type_value

__all__ = [
    "CHUNK_NODES",
    "MAX_ITEMS",
    "MAX_SETS",
    "TypeOptimum",
    "brute_force_optimum",
    "independent_optimum",
    "local_optimum",
    "type_optimum",
    "type_search",
]

MAX_ITEMS = 62  # items are bits of an int64 mask in the kernel
MAX_SETS = 4000  # C(n, k) above this is refused outright (memory: sets x partners)
CHUNK_NODES = 200_000  # nodes per kernel call: progress and Ctrl-C within well under a second
# the local search seeding the branch and bound (its quality changes the speed only)
INCUMBENT_STARTS = 8
INCUMBENT_MOVES_PER_SET = 500


class TypeOptimum(NamedTuple):
    """The best deterministic pair of maps on one type of pairs of k-subsets of [n]."""

    k: int
    m: int  #: the type: |A| = |B| = k, |A n B| = k - m (every overlap: m is None)
    n: int
    optimum: Fraction  #: exact when ``finished``; otherwise the best pair found (a lower bound)
    upper: Fraction  #: an upper bound on the optimum (= optimum when ``finished``)
    finished: bool  #: the search closed
    agreeing: int  #: agreeing ordered pairs of the best pair found
    pairs: int  #: ordered pairs of the type
    f: tuple  #: the best f found: f(S) for the k-subsets S in lexicographic order
    g: tuple  #: its best response g(T), same order
    bound: Fraction  #: min-hash's type-average, (k - m)/(k + m) on a type
    nodes: int  #: branch-and-bound nodes visited


class _Family(NamedTuple):
    sets: list
    items: np.ndarray
    member: np.ndarray
    set_mask: np.ndarray
    nb_ptr: np.ndarray
    nb_idx: np.ndarray


def _check(k, m, n):
    for name, v in (("k", k), ("m", m), ("n", n)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"{name} must be an int, got {v!r}")
    if not 1 <= m < k:
        raise ValueError(f"need 1 <= m < k (overlap k - m >= 1), got k={k}, m={m}")
    if n < k + m:
        raise ValueError(f"two {k}-sets meeting in {k - m} items need n >= {k + m}, got {n}")
    if n > MAX_ITEMS:
        raise ValueError(f"n = {n} items: the search keeps items as bits, n <= {MAX_ITEMS}")


def _family(n, k, overlaps):
    sets = list(combinations(range(n), k))
    if len(sets) > MAX_SETS:
        raise ValueError(f"C({n}, {k}) = {len(sets)} sets: above {MAX_SETS} for an exact search")
    member = np.zeros((len(sets), n), np.bool_)
    for s, chosen in enumerate(sets):
        member[s, list(chosen)] = True
    meet = member.astype(np.int64) @ member.T.astype(np.int64)
    partner = np.isin(meet, list(overlaps))
    ptr = np.concatenate([[0], np.cumsum(partner.sum(axis=1))]).astype(np.int64)
    idx = np.nonzero(partner)[1].astype(np.int64)
    mask = np.array([sum(1 << x for x in chosen) for chosen in sets], np.int64)
    return _Family(sets, np.array(sets, np.int64), member, mask, ptr, idx)


def _best_response(fam, n, choice):
    """g(T) as item indices: the item of T that most partners S with f(S) = items[S, choice[S]]
    send to (lowest index among ties)."""
    f_items = fam.items[np.arange(len(fam.sets)), choice]
    g = np.zeros(len(fam.sets), np.int64)
    for t in range(len(fam.sets)):
        counts = np.bincount(f_items[fam.nb_idx[fam.nb_ptr[t] : fam.nb_ptr[t + 1]]], minlength=n)
        g[t] = int(np.argmax(counts[fam.items[t]]))
    return g


def _incumbent(fam, n, seed):
    """The best f of a plateau-walking local search from min-hash and seeded random maps."""
    rng = np.random.default_rng(seed)
    m_sets, k = fam.items.shape
    best, arg = -1, None
    for run in range(INCUMBENT_STARTS):
        f = np.zeros(m_sets, np.int64) if run == 0 else rng.integers(0, k, m_sets)
        moves = INCUMBENT_MOVES_PER_SET * m_sets
        value = climb(fam.items, fam.nb_ptr, fam.nb_idx, n, f, rng.integers(0, m_sets, moves),
                      rng.integers(0, k, moves))  # fmt: skip
        if value > best:
            best, arg = value, f
    return best, arg


def _open_bound(score, ncand, pos, depth, bound, best):
    """An upper bound on the optimum when the search stopped short: the incumbent, the node
    being explored, and every candidate still to be tried above it."""
    top = max(best, bound)
    for d in range(min(depth + 1, len(pos))):
        if pos[d] < 0:  # not entered: its bound is the node above's
            continue
        for c in range(pos[d] + 1, ncand[d]):
            top = max(top, int(score[d, c]))
    return top


def _search(n, k, overlaps, *, max_nodes, seed, progress):
    """Exact max of v(f) by the branch and bound, from the incumbent; returns (family, best,
    upper, finished, nodes, f, g) with f, g as items per set."""
    fam = _family(n, k, overlaps)
    m_sets = len(fam.sets)
    reachable, choice = _incumbent(fam, n, seed)
    val = np.zeros((m_sets, n), np.int64)
    term = np.zeros(m_sets, np.int64)
    top = np.zeros(m_sets, np.int64)
    root = initial_state(fam.items, fam.member, fam.nb_ptr, fam.nb_idx, n, val, term, top)
    label = np.zeros((m_sets + 1, n), np.int64)
    cand = np.zeros((m_sets, k), np.int64)
    score = np.zeros((m_sets, k), np.int64)
    ncand = np.zeros(m_sets, np.int64)
    pos = np.full(m_sets, -1, np.int64)
    order = np.full(m_sets, -1, np.int64)
    chosen = np.full(m_sets, -1, np.int64)
    scalars = np.array([0 if reachable < root else -1, 0, root, reachable], np.int64)
    done = reachable >= root  # the incumbent meets the root bound: nothing to search
    while not done and scalars[1] < max_nodes:
        before = int(scalars[1])
        done = search_type(fam.items, fam.member, fam.set_mask, fam.nb_ptr, fam.nb_idx, val,
                           term, top, chosen, label, cand, ncand, pos, score, order,
                           choice, scalars, min(CHUNK_NODES, max_nodes - before))  # fmt: skip
        if progress is not None:
            progress(int(scalars[1]) - before)
    depth, nodes, bound, best = (int(v) for v in scalars)
    upper = best if done else _open_bound(score, ncand, pos, depth, bound, best)
    if type_value(fam.items, fam.nb_ptr, fam.nb_idx, n, choice) != best:
        raise RuntimeError(f"(n, k) = ({n}, {k}): the search's best does not recount")
    g = _best_response(fam, n, choice)
    rows = np.arange(m_sets)
    return (fam, best, upper, done, nodes,
            tuple(int(x) for x in fam.items[rows, choice]),
            tuple(int(x) for x in fam.items[rows, g]))  # fmt: skip


def type_search(k, m, n=None, *, max_nodes=10**10, seed=0, progress=None):
    """The best pair of maps on the pairs of k-subsets of [n] meeting in k - m items.

    ``n`` defaults to k + m (the local type). The search stops after ``max_nodes``
    branch-and-bound nodes; then ``finished`` is False and [optimum, upper] brackets the
    optimum. ``progress(nodes)`` is called after each chunk of the search (about a tenth of
    a second); the search is interruptible between chunks. Returns a :class:`TypeOptimum`.

    Examples
    --------
    >>> type_search(2, 1).optimum  # D = 1/2 on 3 points: cyclic maps beat 1/3
    Fraction(1, 2)
    """
    n = k + m if n is None else n
    _check(k, m, n)
    fam, best, upper, done, nodes, f, g = _search(
        n, k, (k - m,), max_nodes=max_nodes, seed=seed, progress=progress
    )
    pairs = int(fam.nb_ptr[-1])
    return TypeOptimum(k, m, n, Fraction(best, pairs), Fraction(upper, pairs), done, best,
                       pairs, f, g, Fraction(k - m, k + m), nodes)  # fmt: skip


def _closed(result):
    if not result.finished:
        raise RuntimeError(
            f"type (k, m) = ({result.k}, {result.m}) on n = {result.n}: the search stopped "
            f"after {result.nodes:,} nodes with the optimum in [{result.optimum}, "
            f"{result.upper}]; raise max_nodes or use type_search for the bracket"
        )
    return result.optimum


def local_optimum(k, m, *, max_nodes=10**10, progress=None):
    """The exact best type-average over all pairs of maps on the k + m points of type (k, m).

    Examples
    --------
    >>> local_optimum(4, 2)  # D = 1/2: (1 - D)/(1 + D) exactly
    Fraction(1, 3)
    """
    return _closed(type_search(k, m, max_nodes=max_nodes, progress=progress))


def type_optimum(k, m, n, *, max_nodes=10**10, progress=None):
    """The exact best type-average over all pairs of maps on [n], type (k, m).

    Examples
    --------
    >>> type_optimum(2, 1, 4)
    Fraction(3, 8)
    """
    return _closed(type_search(k, m, n, max_nodes=max_nodes, progress=progress))


def independent_optimum(n, K, *, max_nodes=10**10):
    """max over f, g of Pr[f(A) = g(B)] for independent uniform K-subsets A, B of [n]
    (every ordered pair, A = B included, is a partner), exactly; Theorem A says it is
    sum_t w_t^2. Returns (optimum as a Fraction, f)."""
    if not (isinstance(n, int) and isinstance(K, int) and 1 <= K <= n <= MAX_ITEMS):
        raise ValueError(f"need integers 1 <= K <= n <= {MAX_ITEMS}, got n={n!r}, K={K!r}")
    fam, best, _, done, nodes, f, _ = _search(
        n, K, range(K + 1), max_nodes=max_nodes, seed=0, progress=None
    )
    if not done:
        raise RuntimeError(f"(n, K) = ({n}, {K}): stopped after {nodes:,} nodes")
    return Fraction(best, len(fam.sets) ** 2), f


def brute_force_optimum(k, m, n=None):
    """The slow twin of :func:`type_search`: every f (one item per k-subset), g by best
    response, counted in plain Python. Feasible for k^C(n, k) up to about 10^5."""
    n = k + m if n is None else n
    _check(k, m, n)
    sets = list(combinations(range(n), k))
    if k ** len(sets) > 10**6:
        raise ValueError(f"{k}^{len(sets)} maps: too many for the brute force")
    partners = [[s for s, S in enumerate(sets) if len(set(S) & set(T)) == k - m] for T in sets]
    best = -1
    for f in product(*sets):
        value = 0
        for t, T in enumerate(sets):
            counts = {}
            for s in partners[t]:
                counts[f[s]] = counts.get(f[s], 0) + 1
            value += max((counts.get(x, 0) for x in T), default=0)
        best = max(best, value)
    return Fraction(best, sum(len(p) for p in partners))

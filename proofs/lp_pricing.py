r"""The exact pricing problem of claim 5's LP: the best deterministic strategy pair for
integer weights on the overlaps, and the k-subset family it runs on.

For weights :math:`w_\ell \ge 0` on the overlaps, the pricing value is
:math:`\max_{f, g} \sum_{S, T} w_{|S \cap T|} [f(S) = g(T)]` over choices f(S) in S and
g(T) in T. For a fixed f the best g is pointwise (each T takes the item most weight sends to),
so the search runs over f only: a depth-first branch and bound (:func:`_price_bnb`) whose bound
at a node gives every unassigned S to every T's best item at once, in exact int64 arithmetic;
the first set's choice is fixed by symmetry. :func:`_price_enumerate` (every f, mixed radix)
is the tests' reference. :func:`best_response_value` is the public entry point: rational
weights in, the exact maximum and a maximising pair out. The exact type search of the
optimality claim (:mod:`coupling.proofs.optimality_search`) is the independent second method
that these LP values are checked against.
"""

from fractions import Fraction
from itertools import combinations
from math import gcd

import numpy as np
from numba import njit

__all__ = [
    "MAX_NODES",
    "MAX_SETS",
    "KSetFamily",
    "best_response",
    "best_response_value",
    "overlap_range",
    "strategy_profile",
]

MAX_SETS = 64  # C(n, k) above this is refused outright
MAX_NODES = 2_000_000_000  # branch-and-bound nodes before the pricing gives up (minutes)


def overlap_range(n, k):
    """The overlaps of two distinct k-subsets of [n]: at least 2k - n items, and not all k."""
    return range(max(1, 2 * k - n), k)


class KSetFamily:
    """The k-subsets of [n], their items and the overlap of every ordered pair."""

    def __init__(self, n, k):
        if not (isinstance(n, int) and isinstance(k, int) and 2 <= k < n):
            raise ValueError(f"need integers 2 <= k < n, got n={n!r}, k={k!r}")
        self.n, self.k = n, k
        self.sets = list(combinations(range(n), k))
        self.items = np.array(self.sets, dtype=np.int64)
        m = len(self.sets)
        member = np.zeros((m, n), dtype=np.int64)
        for s, items in enumerate(self.sets):
            member[s, list(items)] = 1
        self.overlap = member @ member.T  # (m, m) ints
        self.pairs = {ell: int(np.sum(self.overlap == ell)) for ell in range(k + 1)}
        if m > MAX_SETS:
            raise ValueError(
                f"(n, k) = ({n}, {k}) has C(n, k) = {m} sets; the exact pricing searches "
                f"one item per set and is refused above {MAX_SETS} sets"
            )


@njit(cache=True)
def _price_enumerate(items, overlap, weights, n):
    """max over f of sum_T max_{j in T} sum_{S: f(S) = j} weights[overlap(S, T)] (int64).

    f runs over every choice of one item per set (mixed radix) with the first set's choice
    fixed to its first item: a permutation fixing that set maps any f to one such, and the
    objective depends on overlaps only. Returns the value and the maximising choice vector.
    Kept as the tests' reference for :func:`_price_bnb` (k^(C(n,k)-1) strategies)."""
    m, k = items.shape
    choice = np.zeros(m, np.int64)
    best = np.int64(-1)
    best_choice = choice.copy()
    acc = np.zeros(n, np.int64)
    total = k ** (m - 1)
    for _ in range(total):
        value = np.int64(0)
        for t in range(m):
            for j in range(k):
                acc[items[t, j]] = 0
            for s in range(m):
                acc[items[s, choice[s]]] += weights[overlap[s, t]]
            top = acc[items[t, 0]]
            for j in range(1, k):
                top = max(top, acc[items[t, j]])
            value += top
        if value > best:
            best = value
            best_choice[:] = choice
        for s in range(1, m):  # next choice vector
            choice[s] += 1
            if choice[s] < k:
                break
            choice[s] = 0
    return best, best_choice


@njit(cache=True, inline="always")
def _term(cnt, rem, items, t):
    best = 0
    for j in range(items.shape[1]):
        v = cnt[t, items[t, j]] + rem[t, items[t, j]]
        if v > best:
            best = v
    return best


@njit(cache=True, inline="always")
def _move(s, c, sign, items, member, nb_ptr, nb_idx, nb_w, cnt, rem, term):
    """Assign (sign = 1) or unassign (sign = -1) item c to set s; returns the bound's change."""
    delta = 0
    for e in range(nb_ptr[s], nb_ptr[s + 1]):
        t = nb_idx[e]
        w = nb_w[e]
        for j in range(items.shape[1]):
            cj = items[s, j]
            if member[t, cj]:
                rem[t, cj] -= sign * w
        if member[t, c]:
            cnt[t, c] += sign * w
        new = _term(cnt, rem, items, t)
        delta += new - term[t]
        term[t] = new
    return delta


@njit(cache=True)
def _price_bnb(items, nb_ptr, nb_idx, nb_w, n, max_nodes, start):
    """max over f of sum_T max_{j in T} sum_{S -> T: f(S) = j} w(S, T), by depth-first branch
    and bound over one item per set (the first set's choice fixed by symmetry).

    ``nb_*``: for each set S, the sets T it counts towards with integer weight w(S, T) > 0.
    The bound at a node is sum_T max_j (assigned weight to j + unassigned weight that could
    still go to j): every completion scores at most this, so pruning nodes whose bound does
    not beat the incumbent loses no optimum. ``start`` is a value known to be reachable
    minus one (or -1): the search then only explores nodes that can reach it. Returns
    (value, choice vector, nodes, finished).
    """
    m, k = items.shape
    member = np.zeros((m, n), np.bool_)
    for s in range(m):
        for j in range(k):
            member[s, items[s, j]] = True
    cnt = np.zeros((m, n), np.int64)
    rem = np.zeros((m, n), np.int64)
    for s in range(m):
        for e in range(nb_ptr[s], nb_ptr[s + 1]):
            for j in range(k):
                if member[nb_idx[e], items[s, j]]:
                    rem[nb_idx[e], items[s, j]] += nb_w[e]
    term = np.zeros(m, np.int64)
    bound = 0
    for t in range(m):
        term[t] = _term(cnt, rem, items, t)
        bound += term[t]
    choice = np.full(m, -1, np.int64)
    best = np.int64(start)
    best_choice = np.zeros(m, np.int64)
    depth = 0
    nodes = 0
    while depth >= 0:
        s = depth
        if choice[s] >= 0:  # take back this depth's current choice
            bound += _move(
                s, items[s, choice[s]], -1, items, member, nb_ptr, nb_idx, nb_w, cnt, rem, term
            )
        choice[s] += 1
        if choice[s] >= (1 if s == 0 else k):
            choice[s] = -1
            depth -= 1
            continue
        bound += _move(
            s, items[s, choice[s]], 1, items, member, nb_ptr, nb_idx, nb_w, cnt, rem, term
        )
        nodes += 1
        if nodes > max_nodes:
            return best, best_choice, nodes, False
        if bound <= best:
            continue
        if depth == m - 1:  # a leaf: nothing unassigned, the bound is the value
            best = bound
            best_choice[:] = choice
            continue
        depth += 1
    return best, best_choice, nodes, True


def _neighbours(fam, weights):
    """CSR lists: for each S, the T at an overlap of positive weight, with that weight."""
    ptr, idx, w = [0], [], []
    for s in range(len(fam.sets)):
        for t in range(len(fam.sets)):
            weight = int(weights[fam.overlap[s, t]])
            if weight > 0:
                idx.append(t)
                w.append(weight)
        ptr.append(len(idx))
    return (np.array(ptr, np.int64), np.array(idx, np.int64), np.array(w, np.int64))


def best_response(fam, f_items, weights):
    """g(T): the item of T that most S's (weighted by overlap) send to under f."""
    g = []
    for t, T in enumerate(fam.sets):
        score = {j: 0 for j in T}
        for s in range(len(fam.sets)):
            if f_items[s] in score:
                score[f_items[s]] += int(weights[fam.overlap[s, t]])
        g.append(max(T, key=lambda j: (score[j], -j)))
    return g


def strategy_profile(fam, f_items, g_items):
    """c_l(f, g) for every overlap l, as exact Fractions."""
    hits = {ell: 0 for ell in range(fam.k + 1)}
    for s in range(len(fam.sets)):
        for t in range(len(fam.sets)):
            if f_items[s] == g_items[t]:
                hits[int(fam.overlap[s, t])] += 1
    return {ell: Fraction(hits[ell], fam.pairs[ell]) for ell in hits if fam.pairs[ell]}


def _integer_weights(fam, y):
    """Integer weights w[l] proportional to y_l / N_l (N_l = ordered pairs at overlap l)."""
    scaled = {ell: Fraction(v) / fam.pairs[ell] for ell, v in y.items()}
    den = 1
    for v in scaled.values():
        den = den * v.denominator // gcd(den, v.denominator)
    weights = np.zeros(fam.k + 1, dtype=np.int64)
    for ell, v in scaled.items():
        w = v * den
        if w.denominator != 1 or w.numerator >= 2**62 // (len(fam.sets) ** 2):
            raise OverflowError("dual weights too large for exact int64 pricing")
        weights[ell] = int(w)
    return weights, Fraction(1, den)


def best_response_value(n, k, y, *, reachable=None):
    """Exact max over strategy pairs of sum_l y_l c_l(f, g) (``y``: {overlap: weight >= 0}).

    ``reachable``: a value some pair is known to reach (speeds the search; a wrong one
    makes the result wrong only if it is larger than the true maximum, which raises).
    Returns (value as a Fraction, f, g) with f, g the maximising pair as item lists."""
    fam = KSetFamily(n, k)
    for ell, v in y.items():
        if not (isinstance(ell, int) and 0 <= ell <= k) or Fraction(v) < 0:
            raise ValueError(f"dual weight {v!r} at overlap {ell!r}: need 0 <= l <= k, y >= 0")
    weights, unit = _integer_weights(fam, {e: v for e, v in y.items() if fam.pairs.get(e)})
    start = -1
    if reachable is not None:
        start = int(Fraction(reachable) / unit) - 1  # floor, then one below
    value, choice, nodes, finished = _price_bnb(
        fam.items, *_neighbours(fam, weights), n, MAX_NODES, max(start, -1)
    )
    if not finished:
        raise RuntimeError(
            f"pricing for (n, k) = ({n}, {k}) stopped after {nodes:,} branch-and-bound nodes"
        )
    if value <= start:
        raise RuntimeError(f"no strategy pair reaches the claimed value {reachable}")
    f_items = [fam.sets[s][c] for s, c in enumerate(choice)]
    g_items = best_response(fam, f_items, weights)
    return Fraction(int(value)) * unit, f_items, g_items

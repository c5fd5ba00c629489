r"""Claim 5 for symmetric protocols: a counting proof at D = 1/k, and the search at D = m/k.

A protocol is *symmetric* when both parties apply the same map F(distribution, randomness)
(Gumbel and WMH are). Exact marginals force F(P, R) into the support of P.

**Theorem.** For every k >= 1 and every symmetric communication-free protocol there is a pair
P, Q at :math:`D = 1/k` on k + 1 items with :math:`\Pr[a = b] \le (k-1)/(k+1) = (1-D)/(1+D)`;
min-hash with a fixed order of the items meets it, so it is the symmetric optimum there.

**Proof.** Take :math:`U = \{0..k\}`, :math:`S_y = U \setminus \{y\}` and the uniform laws on
them; two distinct ones are at D = 1/k. Fix the randomness R and let h(y) = F(uniform on
:math:`S_y`, R), so h(y) != y. With :math:`c_x = \#\{y: h(y) = x\}`: :math:`c_x \le k`,
:math:`\sum_x c_x = k + 1`, and the agreeing unordered pairs number
:math:`\sum_x c_x (c_x - 1)/2`. With :math:`c = \max_x c_x` the others sum to k + 1 - c and
:math:`a(a-1) + b(b-1) \le (a+b)(a+b-1)` (the difference is 2ab) gives
:math:`\sum_x c_x (c_x - 1) \le \varphi(c) = c(c-1) + (k+1-c)(k-c)`, and
:math:`k(k-1) - \varphi(c) = 2(c-1)(k-c) \ge 0` for :math:`1 \le c \le k`. So for every R at most
k(k-1)/2 of the (k+1)k/2 pairs agree: the average over the pairs is at most (k-1)/(k+1),
hence so is the protocol's average, and its worst pair is at or below its average. sympy
checks each step symbolically in k (slacks as in :mod:`coupling.proofs.chain`); an enumeration of
every choice function h checks the maximum for small k.

**Beyond D = 1/k.** On the k-subsets of a (k+m)-set, pairs at overlap k - m are at D = m/k.
Conjugating by a uniformly random permutation of the items keeps a protocol symmetric, makes
every marginal exact and every pair's collision the average over the pairs, so the symmetric
optimum there is *exactly* the largest fraction of the pairs at that overlap on which one
deterministic choice function h(S) in S agrees. :func:`symmetric_optimum` computes it by an
exact depth-first branch and bound (plain enumeration kept as the tests' reference); an
optimum above :math:`(k-m)/(k+m)` is a counterexample to the symmetric bound *on k + m
items* (the worst-case theorem itself lets the universe grow, see ``lp-optimality``).
"""

from fractions import Fraction
from itertools import combinations, product
from typing import NamedTuple

import numpy as np
import sympy as sp
from coupling.proofs._core import Certificate, timed
from coupling.proofs.chain import nonnegative_certificate
from numba import njit

__all__ = [
    "FULL_EXTENSION",
    "FULL_KS",
    "QUICK_EXTENSION",
    "QUICK_KS",
    "SymmetricOptimum",
    "counting_steps",
    "one_out_optimum",
    "symmetric_optimum",
    "verify_symmetric_optimality",
]

QUICK_KS = tuple(range(1, 7))  # every choice function at D = 1/k, k^(k+1) of them
FULL_KS = tuple(range(1, 8))
# (k, m): the k-subsets of a (k + m)-set at overlap k - m, D = m/k
QUICK_EXTENSION = ((3, 2), (4, 2), (4, 3), (5, 2))
FULL_EXTENSION = (*QUICK_EXTENSION, (6, 2), (7, 2))
MAX_NODES = 2_000_000_000  # branch-and-bound nodes before a search gives up (minutes)


def _worst_case(d):
    return (1 - d) / (1 + d)


def counting_steps(bound=_worst_case):
    """The counting proof, symbolically in k: name -> bool. ``bound(D)`` is the claimed
    symmetric optimum at D = 1/k (sympy-compatible)."""
    a, b = sp.symbols("a b", nonnegative=True)
    kk = sp.Symbol("k", positive=True)
    c = 1 + a  # the largest class, 1 <= c <= k
    k = c + b
    phi = c * (c - 1) + (k + 1 - c) * (k - c)  # the other classes merged into one
    best = kk * (kk - 1) / 2
    return {
        "a(a-1) + b(b-1) <= (a+b)(a+b-1)": nonnegative_certificate(
            (a + b) * (a + b - 1) - a * (a - 1) - b * (b - 1), (a, b)
        ),
        "phi(c) <= k(k-1) for 1 <= c <= k": nonnegative_certificate(k * (k - 1) - phi, (a, b)),
        # min-hash in the order 0 < 1 < ...: h(0) = 1, h(y) = 0 otherwise: classes (k, 1)
        "phi(k) = k(k-1): min-hash's classes (k, 1) reach it": sp.expand(
            phi.subs({a: kk - 1, b: 0}) - 2 * best
        )
        == 0,
        "k(k-1)/2 of (k+1)k/2 pairs = (1-D)/(1+D) at D = 1/k": sp.simplify(
            best / ((kk + 1) * kk / 2) - _worst_case(1 / kk)
        )
        == 0,
        "bound under test = (k-1)/(k+1)": sp.simplify(bound(1 / kk) - (kk - 1) / (kk + 1)) == 0,
    }


def one_out_optimum(k):
    """Exact max over every h: {0..k} -> {0..k} with h(y) != y of the fraction of the
    (k+1)k/2 pairs {y, y'} with h(y) = h(y'), by enumerating all k^(k+1) of them.

    Returns (optimum as a Fraction, a maximising h as a tuple)."""
    if not (isinstance(k, int) and 1 <= k <= 8):
        raise ValueError(f"k must be an int in [1, 8] (k^(k+1) functions), got {k!r}")
    best, arg = -1, None
    for start in range(0, k ** (k + 1), 1 << 20):  # chunks of ~1M functions
        idx = np.arange(start, min(start + (1 << 20), k ** (k + 1)), dtype=np.int64)
        digits = (idx[:, None] // k ** np.arange(k + 1, dtype=np.int64)) % k
        h = digits + (digits >= np.arange(k + 1))  # the digit-th item of U \ {y}
        counts = np.stack([np.sum(h == x, axis=1) for x in range(k + 1)], axis=1)
        agree = np.sum(counts * (counts - 1) // 2, axis=1)
        i = int(np.argmax(agree))
        if agree[i] > best:
            best, arg = int(agree[i]), tuple(int(v) for v in h[i])
    return Fraction(best, (k + 1) * k // 2), arg


class SymmetricOptimum(NamedTuple):
    """The best symmetric protocol on the k-subsets of [n] at one overlap."""

    n: int
    k: int
    overlap: int
    optimum: Fraction  #: largest fraction of the pairs at ``overlap`` one h agrees on
    agreeing: int  #: agreeing unordered pairs of the best h
    pairs: int  #: unordered pairs of k-subsets at ``overlap``
    choice: tuple  #: the best h: one item per k-subset, sets in lexicographic order
    minhash: Fraction  #: min-hash's fraction, l / (2k - l)
    nodes: int  #: branch-and-bound nodes visited


def _family(n, k, overlap):
    if not (isinstance(n, int) and isinstance(k, int) and isinstance(overlap, int)):
        raise TypeError(f"n, k, overlap must be ints, got {n!r}, {k!r}, {overlap!r}")
    if not (1 <= k < n and max(0, 2 * k - n) <= overlap < k):
        raise ValueError(f"no two distinct {k}-subsets of [{n}] meet in {overlap} items")
    sets = list(combinations(range(n), k))
    if len(sets) > 2000:
        raise ValueError(f"C({n}, {k}) = {len(sets)} sets: too many for an exact search")
    member = np.zeros((len(sets), n), np.int64)
    for s, items in enumerate(sets):
        member[s, list(items)] = 1
    return sets, (member @ member.T) == overlap


def _agreeing(sets, adjacent, choice):
    return int(sum(adjacent[s, t] for s, t in combinations(range(len(sets)), 2)
                   if choice[s] == choice[t]))  # fmt: skip


def _enumerate_optimum(n, k, overlap):
    """Every h with the first set's choice fixed (the tests' reference; k^(C(n,k)-1))."""
    sets, adjacent = _family(n, k, overlap)
    best, arg = -1, None
    for rest in product(*sets[1:]):
        choice = (sets[0][0], *rest)
        value = _agreeing(sets, adjacent, choice)
        if value > best:
            best, arg = value, choice
    return best, arg


@njit(cache=True, inline="always")
def _term(s, cnt, rem, items, chosen):
    """Set s's share of the bound on the ordered agreeing pairs. Chosen: its agreeing chosen
    neighbours (each agreeing chosen pair counted once from each end). Not chosen: at its
    best item x, 2 per chosen neighbour at x (the pair counted from this end only) plus 1 per
    open neighbour containing x (each open pair counted once from each end)."""
    if chosen[s] >= 0:
        return cnt[s, chosen[s]]
    best = 0
    for j in range(items.shape[1]):
        v = 2 * cnt[s, items[s, j]] + rem[s, items[s, j]]
        if v > best:
            best = v
    return best


@njit(cache=True)
def _move(s, x, sign, items, member, nb_ptr, nb_idx, cnt, rem, chosen, term):
    """Assign (sign = 1) or take back (sign = -1) item x for set s; returns the bound's change."""
    chosen[s] = x if sign > 0 else -1
    delta = 0
    for e in range(nb_ptr[s], nb_ptr[s + 1]):
        t = nb_idx[e]
        for j in range(items.shape[1]):
            if member[t, items[s, j]]:
                rem[t, items[s, j]] -= sign
        if member[t, x]:
            cnt[t, x] += sign
        new = _term(t, cnt, rem, items, chosen)
        delta += new - term[t]
        term[t] = new
    new = _term(s, cnt, rem, items, chosen)
    delta += new - term[s]
    term[s] = new
    return delta


@njit(cache=True)
def _refine(label, member_row, x, out):
    """Atoms after choosing item x for a set: split by membership, x alone (labels 0..).

    Also the exact type search's (:mod:`coupling.proofs._optimality_kernels`). Numba's cache
    does not notice edits to a function compiled into another file's kernels: after changing
    this one, clear the cached kernels (``__pycache__/*.nbi``, ``*.nbc``)."""
    n = label.size
    for y in range(n):
        out[y] = -1
        for z in range(y):
            if label[z] == label[y] and member_row[z] == member_row[y] and z != x and y != x:
                out[y] = out[z]
                break
        if out[y] < 0:
            out[y] = y


@njit(cache=True)
def _symmetric_bnb(items, nb_ptr, nb_idx, n, start, max_nodes):
    """max over h (h(S) in S) of the ordered agreeing neighbour pairs, by depth-first branch
    and bound in the sets' order, children best-first.

    The bound (sum over sets of :func:`_term`) is at least every completion's value, so
    pruning at bound <= incumbent loses no optimum; ``start`` is one below a value known to
    be reachable. Orbits: a permutation of the items that fixes every chosen set (as a set)
    and every chosen item maps any completion to one of equal value and the same prefix, so
    of the candidate items of a set that lie in one atom of the partition cut out by the
    chosen sets (chosen items alone) only one need be tried (at depth 0: one item in all).
    Returns (value, choice as item per set, nodes, finished)."""
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
                    rem[nb_idx[e], items[s, j]] += 1
    chosen = np.full(m, -1, np.int64)
    term = np.zeros(m, np.int64)
    bound = 0
    for s in range(m):
        term[s] = _term(s, cnt, rem, items, chosen)
        bound += term[s]
    label = np.zeros((m + 1, n), np.int64)  # label[s]: atoms before set s is chosen
    cand = np.zeros((m, k), np.int64)
    ncand = np.zeros(m, np.int64)
    pos = np.full(m, -1, np.int64)
    score = np.empty(k, np.int64)
    ordered = np.empty(k, np.int64)
    best = np.int64(start)
    best_choice = np.zeros(m, np.int64)
    depth = 0
    nodes = 0
    while depth >= 0:
        s = depth
        if pos[s] >= 0:
            bound += _move(s, chosen[s], -1, items, member, nb_ptr, nb_idx, cnt, rem, chosen, term)
        else:  # entering: one item per atom, most potential agreement first
            for j in range(k):
                score[j] = 2 * cnt[s, items[s, j]] + rem[s, items[s, j]]
            for j in range(k):  # insertion sort, best first, stable
                ordered[j] = j
                i = j
                while i > 0 and score[ordered[i - 1]] < score[j]:
                    ordered[i] = ordered[i - 1]
                    i -= 1
                ordered[i] = j
            ncand[s] = 0
            for j in ordered:
                fresh = True
                for c in range(ncand[s]):
                    if label[s, items[s, cand[s, c]]] == label[s, items[s, j]]:
                        fresh = False
                if fresh:
                    cand[s, ncand[s]] = j
                    ncand[s] += 1
        pos[s] += 1
        if pos[s] >= ncand[s]:
            pos[s] = -1
            depth -= 1
            continue
        x = items[s, cand[s, pos[s]]]
        bound += _move(s, x, 1, items, member, nb_ptr, nb_idx, cnt, rem, chosen, term)
        nodes += 1
        if nodes > max_nodes:
            return best, best_choice, nodes, False
        if bound <= best + 1 - best % 2:  # values are even: beating an even best takes 2
            continue
        if depth == m - 1:  # every set chosen: the bound is the value
            best = bound
            best_choice[:] = chosen
            continue
        _refine(label[s], member[s], x, label[s + 1])
        depth += 1
    return best, best_choice, nodes, True


def _local_search(sets, adjacent, choice):
    """Single-set moves while one adds agreeing pairs: a reachable value to start from."""
    choice = list(choice)
    nbrs = [np.flatnonzero(adjacent[s]) for s in range(len(sets))]
    improved = True
    while improved:
        improved = False
        for s, items in enumerate(sets):
            gain = {x: sum(choice[t] == x for t in nbrs[s]) for x in items}
            x = max(items, key=lambda y: (gain[y], y == choice[s]))
            if gain[x] > gain[choice[s]]:
                choice[s] = x
                improved = True
    return choice


def symmetric_optimum(n, k, overlap, *, max_nodes=MAX_NODES, seed=0):
    """The best symmetric protocol on uniform k-subsets of [n] against pairs at ``overlap``.

    By the symmetrisation above it is the largest fraction of the unordered pairs of
    k-subsets meeting in ``overlap`` items on which one choice function h(S) in S agrees,
    found exactly by branch and bound from the best of min-hash and local searches (seeded
    random starts; only the speed depends on them). Returns a :class:`SymmetricOptimum`.

    Examples
    --------
    >>> symmetric_optimum(3, 2, 1).optimum  # D = 1/2 on 3 items: (1 - D)/(1 + D)
    Fraction(1, 3)
    """
    sets, adjacent = _family(n, k, overlap)
    pairs = int(np.sum(adjacent)) // 2
    minhash = [s[0] for s in sets]
    rng = np.random.default_rng(seed)
    starts = [minhash] + [[s[i] for s, i in zip(sets, rng.integers(0, k, len(sets)))]
                          for _ in range(8)]  # fmt: skip
    incumbent = max((_local_search(sets, adjacent, c) for c in starts),
                    key=lambda c: _agreeing(sets, adjacent, c))  # fmt: skip
    reachable = _agreeing(sets, adjacent, incumbent)
    # breadth-first from set 0: neighbours get chosen early, so the bound bites early
    order, seen = [0], {0}
    for s in order:
        for t in np.flatnonzero(adjacent[s]):
            if int(t) not in seen:
                seen.add(int(t))
                order.append(int(t))
    order += [s for s in range(len(sets)) if s not in seen]
    where = {s: i for i, s in enumerate(order)}
    items = np.array([sets[s] for s in order], np.int64)
    ptr, idx = [0], []
    for s in order:
        idx += [where[int(t)] for t in np.flatnonzero(adjacent[s])]
        ptr.append(len(idx))
    value, choice, nodes, finished = _symmetric_bnb(
        items, np.array(ptr, np.int64), np.array(idx, np.int64), n, 2 * reachable - 1, max_nodes
    )
    if not finished:
        raise RuntimeError(f"({n}, {k}, {overlap}): stopped after {nodes:,} nodes")
    best = [0] * len(sets)
    for i, s in enumerate(order):
        best[s] = int(choice[i])
    agreeing = _agreeing(sets, adjacent, best)
    if 2 * agreeing != value or agreeing < reachable:
        raise RuntimeError(f"({n}, {k}, {overlap}): the search's count does not recount")
    return SymmetricOptimum(n, k, overlap, Fraction(agreeing, pairs), agreeing, pairs,
                            tuple(best), Fraction(overlap, 2 * k - overlap), nodes)  # fmt: skip


def _fraction(value):
    if isinstance(value, (Fraction, int)):
        return Fraction(value)
    value = sp.nsimplify(value)
    if not value.is_Rational:
        raise ValueError(f"bound value {value} is not rational")
    return Fraction(int(value.p), int(value.q))


def _witness(sets, choice):
    return [[list(s), x] for s, x in zip(sets, choice)]


@timed
def verify_symmetric_optimality(bound=_worst_case, *, ks=QUICK_KS, extension=QUICK_EXTENSION):
    """Certificate for claim 5 restricted to symmetric protocols; ``bound(D)`` is the claimed
    symmetric optimum at D = 1/k on k + 1 items (default (1 - D)/(1 + D)).

    ``proved``: the counting steps hold symbolically in k, the bound under test equals
    (k-1)/(k+1), and for each k in ``ks`` the enumeration of every choice function (and the
    branch and bound) reaches exactly (k-1)/(k+1). ``refuted``: some k in ``ks`` has an
    optimum other than ``bound(1/k)`` (the pair, the value and a best choice function).
    ``extension`` lists (k, m): the exact symmetric optimum on the k-subsets of a (k+m)-set
    at D = m/k goes to ``detail["extension"]``, and every optimum above (k-m)/(k+m) to
    ``detail["extension_counterexamples"]`` (the symmetric bound fails on k + m items)."""
    steps = counting_steps(bound)
    method = ("sympy counting proof (every k) + every choice function (k <= "
              f"{max(ks)}) + exact branch and bound at D = m/k")  # fmt: skip
    detail = {"steps": steps, "one_out": [], "extension": [], "extension_counterexamples": []}
    for k in ks:
        opt, h = one_out_optimum(k)
        claimed = _fraction(bound(Fraction(1, k)))
        row = {"k": k, "D": str(Fraction(1, k)), "optimum": str(opt), "claimed": str(claimed),
               "best_h": list(h)}  # fmt: skip
        if k >= 2:  # the same optimum by the branch and bound, on the sets S_y = U \ {y}
            row["branch_and_bound"] = str(symmetric_optimum(k + 1, k, k - 1).optimum)
        detail["one_out"].append(row)
        if opt != claimed:
            row["why"] = (
                "a symmetric choice function beats the claimed value"
                if opt > claimed
                else "every symmetric protocol stays below the claimed value"
            )
            return Certificate("symmetric-optimality", method, "refuted", cases=len(ks),
                               detail=detail, counterexample=row)  # fmt: skip
        if opt != Fraction(k - 1, k + 1) or row.get("branch_and_bound", str(opt)) != str(opt):
            detail["why"] = f"k = {k}: enumeration, branch and bound and counting disagree"
            return Certificate("symmetric-optimality", method, "failed", detail=detail)
    if not all(steps.values()):
        detail["why"] = "steps that do not hold: " + ", ".join(k for k, v in steps.items() if not v)
        return Certificate("symmetric-optimality", method, "failed", detail=detail)
    for k, m in extension:
        r = symmetric_optimum(k + m, k, k - m)
        row = {"k": k, "m": m, "n": k + m, "D": str(Fraction(m, k)), "optimum": str(r.optimum),
               "optimum_float": float(r.optimum), "bound": str(r.minhash),
               "holds": r.optimum == r.minhash, "agreeing_pairs": r.agreeing,
               "pairs": r.pairs, "nodes": r.nodes}  # fmt: skip
        detail["extension"].append(row)
        if r.optimum < r.minhash:  # min-hash is one of the choice functions searched
            detail["why"] = f"(k, m) = ({k}, {m}): the search missed min-hash"
            return Certificate("symmetric-optimality", method, "failed", detail=detail)
        if r.optimum > r.minhash:
            sets = list(combinations(range(k + m), k))
            detail["extension_counterexamples"].append({**row, "choice": _witness(sets, r.choice)})
    return Certificate("symmetric-optimality", method, "proved",
                       cases=len(ks) + len(extension), detail=detail)  # fmt: skip

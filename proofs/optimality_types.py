r"""Exact types: Theorem B (D = 1/k, every protocol, k >= 3) and Lemma L (local decomposition).

A type (k, m): |A| = |B| = k, |A n B| = k - m, so D = m/k and (1 - D)/(1 + D) = (k-m)/(k+m).
V(n) is the best type-average over pairs of maps on [n] (the most a protocol can guarantee on
the type, by the relabelling reduction of :mod:`coupling.proofs.optimality_search`).

**Lemma L.** Every pair of the type lies in exactly one (k + m)-set U = A u B, and every U
holds the same number of pairs, so a type-average over [n] is the mean over U of type-averages
on U, each of one pair of maps on k + m points: V(n) <= V(k + m), the local optimum. Each pair
also lies in the same number, n + 1 - k - m, of the n-subsets of [n + 1]: V(n + 1) <= V(n).
:func:`lemma_l_steps` checks the counting identity symbolically in n, k, m;
:func:`lemma_l_decomposition` checks both decompositions exactly on random maps.

**Theorem B.** On k + 1 points the sets are S_y = [k+1] \ {y}; f is a fixed-point-free map
phi (f(S_y) = phi(y) != y), g another, psi. With c_x = |phi^-1(x)|, d_x = |psi^-1(x)| (each
at most k, summing to k + 1) and e = #{y : phi(y) = psi(y)}, the agreeing ordered pairs
(y != y') number sum_x c_x d_x - e, and the claim is that this is at most k(k - 1), the
fraction (k - 1)/(k + 1) = (1 - D)/(1 + D) of the (k + 1)k pairs. Cases on a = max c, b = max d:

* a <= k - 2: sum c_x d_x <= a (k + 1) < k(k - 1) (b <= k - 2 likewise);
* a = k: phi sends every y != x1 to x1 and x1 to some x2; then the count is (k - 1) d_{x1} + r
  with r = #{y not in {x1, x2} : psi(y) = x2} and d_{x1} + r <= k (b = k likewise);
* a = b = k - 1: by rearrangement sum c_x d_x <= (k - 1)^2 + 4 <= k(k - 1) for k >= 5;
* k = 3, 4: every pair (phi, psi) enumerated.

Min-hash reaches k(k - 1). For k = 2 cyclic maps reach 3 > 2 (local optimum 1/2), the only
failure; through Lemma L the bound (k - 1)/(k + 1) holds for every n >= k + 1, k >= 3.
"""

from fractions import Fraction
from itertools import combinations, permutations, product

import numpy as np
import sympy as sp
from coupling.proofs.chain import nonnegative_certificate

__all__ = [
    "CASES",
    "agreeing_pairs",
    "derangement_maps",
    "lemma_l_decomposition",
    "lemma_l_steps",
    "random_derangements",
    "random_map",
    "theorem_b_cases",
    "theorem_b_steps",
    "type_average",
]

CASES = ("a <= k-2 or b <= k-2", "a = k or b = k", "a = b = k-1")


def theorem_b_steps():
    """Theorem B's inequalities symbolically in k, with nonnegative slack symbols: name ->
    bool. In the case a = k the count (k-1) d + r with d + r + u = k is rewritten as
    k(k-1) - count = (k-2) r + (k-1) u, an identity, then k = 2 + v."""
    a, s, u, v, r, d, kk = sp.symbols("a s u v r d k", nonnegative=True)
    k = a + 2 + s  # a <= k - 2
    full = kk * (kk - 1) - ((kk - 1) * d + r) - ((kk - 2) * r + (kk - 1) * u)
    k5 = 5 + s  # a = b = k - 1 needs k >= 5
    return {
        "a <= k-2: k(k-1) - a(k+1) >= 1": nonnegative_certificate(
            k * (k - 1) - a * (k + 1) - 1, (a, s)
        ),
        "a = k: k(k-1) - ((k-1)d + r) = (k-2)r + (k-1)u when d + r + u = k": sp.expand(
            full.subs(kk, d + r + u)
        )
        == 0,
        "a = k: (k-2)r + (k-1)u >= 0 for k >= 2": nonnegative_certificate(
            v * r + (1 + v) * u, (v, r, u)
        ),
        "a = b = k-1, k >= 5: k(k-1) - ((k-1)^2 + 4) >= 0": nonnegative_certificate(
            k5 * (k5 - 1) - ((k5 - 1) ** 2 + 4), (s,)
        ),
        "min-hash (classes k, 1 for both, e = k+1) reaches k(k-1)": sp.expand(
            kk * kk + 1 - (kk + 1) - kk * (kk - 1)
        )
        == 0,
    }


def derangement_maps(k):
    """Every fixed-point-free map phi of {0..k} (phi(y) != y), as rows of an int array."""
    digits = np.array(list(product(range(k), repeat=k + 1)), np.int64)
    return digits + (digits >= np.arange(k + 1))  # the digit-th item of {0..k} minus y


def random_derangements(k, count, rng):
    """``count`` fixed-point-free maps of {0..k}: half uniformly random, half with a class of
    k or k - 1 (so that every case of the proof is met)."""
    maps = rng.integers(0, k, (count, k + 1))
    maps += maps >= np.arange(k + 1)
    for row in maps[count // 2 :]:
        x1 = int(rng.integers(0, k + 1))
        others = np.delete(np.arange(k + 1), x1)
        row[rng.choice(others, size=k - int(rng.integers(0, 2)), replace=False)] = x1
    return maps


def agreeing_pairs(phi, psi):
    """#{(y, y') : y != y', phi(y) = psi(y')}: the agreeing ordered pairs of the protocol
    table f(S_y) = phi(y), g(S_y') = psi(y') on S_y = {0..k} minus y."""
    return sum(1 for y, x in enumerate(phi) for z, w in enumerate(psi) if y != z and x == w)


def _cases(k, phi, psi):
    """Per pair of maps (rows of phi, psi): its agreeing count, its case of the proof, and
    whether that case's claim holds for it."""
    onehot = np.eye(k + 1, dtype=np.int64)
    c, d = onehot[phi].sum(axis=1), onehot[psi].sum(axis=1)
    count = np.einsum("ij,ij->i", c, d) - (phi == psi).sum(axis=1)
    a, b = c.max(axis=1), d.max(axis=1)
    case = np.where((a <= k - 2) | (b <= k - 2), 0, np.where((a == k) | (b == k), 1, 2))
    small = np.minimum(a, b)
    holds = np.where(case == 0, (count <= small * (k + 1)) & (small * (k + 1) < k * (k - 1)), True)
    full = case == 1  # the map with the class of k, and the other (the count is symmetric)
    big = np.where((a == k)[:, None], phi, psi)[full]
    other = np.where((a == k)[:, None], psi, phi)[full]
    x1 = np.argmax(np.where((a == k)[:, None], c, d)[full], axis=1)
    x2 = big[np.arange(len(big)), x1]
    d1 = (other == x1[:, None]).sum(axis=1)
    y = np.arange(k + 1)
    r = ((other == x2[:, None]) & (y != x1[:, None]) & (y != x2[:, None])).sum(axis=1)
    holds[full] = (count[full] == (k - 1) * d1 + r) & (d1 + r <= k)
    sorted_dot = np.einsum("ij,ij->i", np.sort(c, axis=1), np.sort(d, axis=1))
    tight = case == 2
    holds[tight] = (np.einsum("ij,ij->i", c, d) <= sorted_dot)[tight] & (
        (sorted_dot <= (k - 1) ** 2 + 4)[tight] | (k < 5)
    )  # k = 3, 4: enumeration instead
    return count, case, holds


def _conjugacy_representatives(maps):
    """The maps that are the lexicographically smallest of their orbit under
    phi -> sigma phi sigma^-1 (sigma a permutation of the items): one per orbit."""
    size = maps.shape[1]
    perms = np.array(list(permutations(range(size))), np.int64)
    inverse = np.argsort(perms, axis=1)
    moved = maps[:, inverse].transpose(1, 0, 2)  # [sigma, map, y] = phi(sigma^-1(y))
    images = perms[np.arange(len(perms))[:, None, None], moved]  # sigma(phi(sigma^-1(y)))
    weights = size ** np.arange(size - 1, -1, -1)
    codes = images @ weights  # lexicographic order as integers
    return maps[codes.min(axis=0) == maps @ weights]


def theorem_b_cases(k, *, pairs=None, rng=None, bound=None):
    """Every pair of fixed-point-free maps on k + 1 points (or ``pairs`` seeded random ones,
    :func:`random_derangements`): the largest count of agreeing ordered pairs, a pair
    reaching it, and per case of the proof how many pairs fell in it and whether its claim
    held for all of them (the case a = b = k - 1 is claimed for k >= 5 only; k = 3, 4 rest on
    the count). ``bound`` (default k(k-1)) is the claimed maximum."""
    if pairs is None:  # phi up to relabelling (the count is invariant), psi all
        maps = derangement_maps(k)
        reps = _conjugacy_representatives(maps)
        phi, psi = np.repeat(reps, len(maps), axis=0), np.tile(maps, (len(reps), 1))
    else:
        phi, psi = random_derangements(k, pairs, rng), random_derangements(k, pairs, rng)
    count, case, holds = _cases(k, phi, psi)
    top = int(np.argmax(count))
    return {
        "k": k,
        "pairs": len(count),
        "max_agreeing": int(count[top]),
        "claimed": k * (k - 1) if bound is None else bound,
        "witness": [phi[top].tolist(), psi[top].tolist()],
        "cases": {
            name: {"pairs": int(np.sum(case == i)), "holds": bool(np.all(holds[case == i]))}
            for i, name in enumerate(CASES)
        },
    }


def lemma_l_steps():
    """Lemma L's count symbolically in n, k, m: C(n, k) C(k, k-m) C(n-k, m) ordered pairs
    of the type on [n] = C(n, k+m) times the pairs on k + m points. name -> bool."""
    n, k, m = sp.symbols("n k m", positive=True, integer=True)
    on_n = sp.binomial(n, k) * sp.binomial(k, k - m) * sp.binomial(n - k, m)
    local = sp.binomial(k + m, k) * sp.binomial(k, k - m)
    return {"pairs on [n] = C(n, k+m) x pairs on k+m points": sp.combsimp(
        on_n / (sp.binomial(n, k + m) * local)) == 1}  # fmt: skip


def random_map(sets, rng):
    """A seeded random map f(S) in S on ``sets`` (tuples): one draw rng.integers(0, |S|) per
    set, in order (dict from each set to its item)."""
    return {S: S[int(rng.integers(0, len(S)))] for S in sets}


def type_average(f, g, k, m, universe):
    """The exact average of [f(A) = g(B)] over the ordered pairs of k-subsets of
    ``universe`` meeting in k - m items (f, g: dicts from sorted tuples to items)."""
    sets = list(combinations(sorted(universe), k))
    hits = pairs = 0
    for A in sets:
        for B in sets:
            if len(set(A) & set(B)) == k - m:
                pairs += 1
                hits += f[A] == g[B]
    return Fraction(hits, pairs)


def lemma_l_decomposition(k, m, n, rng):
    """For random maps f, g on [n + 1]: the type-average over [n] equals the mean over the
    (k + m)-subsets U of the averages on U, and the one over [n + 1] the mean over the
    n-subsets. Returns the four averages' equalities as a dict name -> bool."""
    sets = list(combinations(range(n + 1), k))
    f, g = random_map(sets, rng), random_map(sets, rng)
    over_n = type_average(f, g, k, m, range(n))
    locals_ = [type_average(f, g, k, m, U) for U in combinations(range(n), k + m)]
    over_n1 = type_average(f, g, k, m, range(n + 1))
    subs = [type_average(f, g, k, m, U) for U in combinations(range(n + 1), n)]
    return {
        f"({k},{m}) on [{n}] = mean over its (k+m)-sets": over_n == sum(locals_) / len(locals_),
        f"({k},{m}) on [{n + 1}] = mean over its {n}-sets": over_n1 == sum(subs) / len(subs),
    }

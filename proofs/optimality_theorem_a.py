r"""Theorem A, exact steps: the inequality chain on vectors and the optimum over all maps.

For maps f, g (f(A) in A, g(B) in B) and A, B independent uniform K-subsets of [n], agreement
is :math:`\sum_x \alpha_x \beta_x` with :math:`\alpha_x = \Pr[f(A) = x]`,
:math:`\beta_x = \Pr[g(B) = x]`. A set X of t items receives at most Pr[A meets X] = W_t, so
the decreasingly sorted :math:`\alpha` has prefix sums :math:`A_t \le W_t` (and likewise B_t).
Then

.. math:: \sum \alpha_x \beta_x \le \sum a_t b_t = \sum A_t (b_t - b_{t+1})
          \le \sum W_t (b_t - b_{t+1}) = \sum w_t b_t = \sum B_t (w_t - w_{t+1})
          \le \sum W_t (w_t - w_{t+1}) = \sum w_t^2

(a, b sorted; rearrangement; summation by parts, :mod:`coupling.proofs.optimality_sums`; the
inequalities need :math:`b_t \ge b_{t+1}` and :math:`w_t \ge w_{t+1}`).
:func:`chain_steps` evaluates every link exactly (Fractions) for given vectors;
:func:`random_profiles` draws vectors that satisfy the prefix constraints (those of random
maps and mixtures of them), and a point mass, which violates them, is the planted violation
whose chain must break. :func:`optimum_table` compares the exact optimum over all pairs of
maps (:func:`~coupling.proofs.optimality_search.independent_optimum`) with sum w_t^2.
"""

from fractions import Fraction
from itertools import combinations
from math import comb

import numpy as np
from coupling.proofs.optimality_search import independent_optimum
from coupling.proofs.optimality_sums import minhash_weight, sum_of_squares

__all__ = ["LINKS", "chain_steps", "map_profile", "optimum_table", "random_profiles"]

LINKS = (
    "prefix sums of a within W",
    "prefix sums of b within W",
    "sum alpha beta <= sum a_t b_t (sorted)",
    "sum a_t b_t = sum A_t (b_t - b_t+1)",
    "sum A_t (b_t - b_t+1) <= sum W_t (b_t - b_t+1)",
    "sum W_t (b_t - b_t+1) = sum w_t b_t",
    "sum w_t b_t = sum B_t (w_t - w_t+1)",
    "sum B_t (w_t - w_t+1) <= sum W_t (w_t - w_t+1)",
    "sum W_t (w_t - w_t+1) = sum w_t^2",
)


def _prefix(values):
    out, run = [], Fraction(0)
    for v in values:
        run += v
        out.append(run)
    return out


def chain_steps(alpha, beta, n, K, weight=minhash_weight):
    """Every link of the chain for the item laws ``alpha``, ``beta`` (Fractions, length n)
    against ``weight(n, K, t)`` (the w_t under test): dict link -> bool, with the two ends.

    Returns ``(links, agreement, bound)``: ``links`` maps each name of :data:`LINKS` to
    whether it holds exactly; agreement = sum alpha beta, bound = sum w_t^2."""
    w = [Fraction(weight(n, K, t)) for t in range(1, n + 1)]
    w_next = [*w[1:], Fraction(0)]
    big_w = _prefix(w)
    a = sorted(alpha, reverse=True)
    b = sorted(beta, reverse=True)
    b_next = [*b[1:], Fraction(0)]
    big_a, big_b = _prefix(a), _prefix(b)
    agreement = sum((x * y for x, y in zip(alpha, beta)), Fraction(0))
    sorted_sum = sum((x * y for x, y in zip(a, b)), Fraction(0))
    by_parts_a = sum((p * (y - z) for p, y, z in zip(big_a, b, b_next)), Fraction(0))
    by_parts_w = sum((p * (y - z) for p, y, z in zip(big_w, b, b_next)), Fraction(0))
    w_dot_b = sum((x * y for x, y in zip(w, b)), Fraction(0))
    by_parts_b = sum((p * (y - z) for p, y, z in zip(big_b, w, w_next)), Fraction(0))
    by_parts_ww = sum((p * (y - z) for p, y, z in zip(big_w, w, w_next)), Fraction(0))
    bound = sum((x * x for x in w), Fraction(0))
    values = (
        all(p <= q for p, q in zip(big_a, big_w)),
        all(p <= q for p, q in zip(big_b, big_w)),
        agreement <= sorted_sum,
        sorted_sum == by_parts_a,
        by_parts_a <= by_parts_w,
        by_parts_w == w_dot_b,
        w_dot_b == by_parts_b,
        by_parts_b <= by_parts_ww,
        by_parts_ww == bound,
    )
    return dict(zip(LINKS, values)), agreement, bound


def map_profile(f_items, n, K):
    """alpha_x = Pr[f(A) = x] for a map given as f(S) per K-subset S (lexicographic order)."""
    counts = np.bincount(np.asarray(f_items, np.int64), minlength=n)
    return [Fraction(int(c), comb(n, K)) for c in counts]


def random_profiles(n, K, count, rng):
    """``count`` item laws satisfying the prefix constraints: those of uniformly random maps
    (every other one a mixture of two, still feasible: the constraints are linear)."""
    sets = list(combinations(range(n), K))
    profiles = []
    for i in range(count):
        law = map_profile([S[j] for S, j in zip(sets, rng.integers(0, K, len(sets)))], n, K)
        if i % 2:
            other = map_profile([S[j] for S, j in zip(sets, rng.integers(0, K, len(sets)))],
                                n, K)  # fmt: skip
            mix = Fraction(int(rng.integers(1, 10)), 10)
            law = [mix * x + (1 - mix) * y for x, y in zip(law, other)]
        profiles.append([law[x] for x in rng.permutation(n)])
    return profiles


def optimum_table(sizes, weight=minhash_weight):
    """For each (n, K): the exact optimum over all pairs of maps against sum weight^2.

    Rows: n, K, optimum, claimed (sum of squares of ``weight``), equal, and E[J] for
    reference."""
    rows = []
    for n, K in sizes:
        opt, _ = independent_optimum(n, K)
        claimed = sum_of_squares(n, K, weight)
        rows.append({"n": n, "K": K, "optimum": str(opt), "claimed": str(claimed),
                     "equal": opt == claimed})  # fmt: skip
    return rows

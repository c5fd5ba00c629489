r"""Theorem A, symbolic steps: the MinHash weights and the summation by parts.

A, B independent uniform K-subsets of [n]; :math:`w_t = \binom{n-t}{K-1}/\binom{n}{K}` is
Pr[min A = t] (t = 1..n) and :math:`W_t = \sum_{s \le t} w_s = 1 - \binom{n-t}{K}/\binom{n}{K}`
is Pr[A meets a given t-set].

**Identity** :math:`\sum_t w_t^2 = E[J(A, B)]`, J the Jaccard similarity. *Proof for every K:*
by independence :math:`\sum_t w_t^2 = \Pr[\min A = \min B]`; relabel [n] by a uniformly random
permutation (A and B stay independent and uniform), and given A u B and A n B the smallest
item of A u B is uniform in it, so min A = min B with probability
:math:`|A \cap B| / |A \cup B|`. *Machine check for each K* (:func:`weight_identity`), symbolic
in n: with :math:`L(n) = \sum_t \binom{n-t}{K-1}^2 = \sum_{u < n} \binom{u}{K-1}^2` and
:math:`R(n) = \binom{n}{K} \sum_i \binom{K}{i}\binom{n-K}{K-i} \frac{i}{2K-i}` (the
hypergeometric law of :math:`I = |A \cap B|`, :math:`J = I/(2K - I)`, times
:math:`\binom{n}{K}^2`), sympy checks the polynomial identity
:math:`R(n) - R(n-1) = \binom{n-1}{K-1}^2` and :math:`R(K-1) = 0 = L(K-1)`; since
:math:`L(n) - L(n-1)` is the same square, L = R for every integer n >= K - 1 (binomials as
falling-factorial polynomials, exact for the arguments that occur).

**Summation by parts** (:func:`abel_identities`): for vectors a, b of length N with
:math:`b_{N+1} = 0` and prefix sums A, :math:`\sum a_t b_t = \sum A_t (b_t - b_{t+1})`, checked
by sympy on symbolic vectors; with a = w it gives :math:`\sum W_t (b_t - b_{t+1}) =
\sum w_t b_t`, and with the roles swapped :math:`\sum w_t b_t = \sum B_t (w_t - w_{t+1})`.
:func:`weight_steps` checks symbolically in n and t that the prefix sums of w are W and that
:math:`w_t - w_{t+1} = \binom{n-t-1}{K-2}/\binom{n}{K} \ge 0` (W concave).
"""

from fractions import Fraction
from math import comb

import sympy as sp

__all__ = [
    "abel_identities",
    "binomial_polynomial",
    "expected_jaccard",
    "jaccard_numerator_polynomial",
    "minhash_weight",
    "sum_of_squares",
    "weight_identity",
    "weight_steps",
]


def binomial_polynomial(x, j):
    """C(x, j) as the polynomial x (x - 1) ... (x - j + 1) / j! (sympy), j >= 0."""
    if j < 0:
        return sp.Integer(0)
    return sp.Mul(*[x - r for r in range(j)]) / sp.factorial(j)


def minhash_weight(n, K, t):
    """w_t = C(n - t, K - 1) / C(n, K) = Pr[min A = t] for a uniform K-subset A of [n].

    Exact (a Fraction) for integers; a sympy expression when ``n`` or ``t`` is a symbol."""
    if all(isinstance(v, int) for v in (n, K, t)):
        return Fraction(comb(n - t, K - 1), comb(n, K)) if 1 <= t <= n else Fraction(0)
    return binomial_polynomial(n - t, K - 1) / binomial_polynomial(n, K)


def sum_of_squares(n, K, weight=minhash_weight):
    """sum_{t=1}^{n} weight(n, K, t)^2 as a Fraction (integers n >= K >= 1)."""
    return sum((Fraction(weight(n, K, t)) ** 2 for t in range(1, n + 1)), Fraction(0))


def expected_jaccard(n, K):
    """E[|A n B| / |A u B|] for independent uniform K-subsets of [n], from the hypergeometric
    law of the intersection, as a Fraction."""
    total = comb(n, K)
    return sum((Fraction(comb(K, i) * comb(n - K, K - i), total) * Fraction(i, 2 * K - i)
                for i in range(K + 1)), Fraction(0))  # fmt: skip


def jaccard_numerator_polynomial(n, K):
    """R(n) = C(n, K) sum_i C(K, i) C(n-K, K-i) i/(2K - i) (sympy in ``n``): E[J(A, B)] for
    independent uniform K-subsets of [n], times C(n, K)^2."""
    return binomial_polynomial(n, K) * sp.Add(
        *[binomial_polynomial(K, i) * binomial_polynomial(n - K, K - i) * sp.Rational(i, 2 * K - i)
          for i in range(K + 1)])  # fmt: skip


def weight_identity(K, weight=minhash_weight):
    """Check sum_t weight(n, K, t)^2 = E[J(A, B)] for every integer n >= K, symbolically in n.

    ``weight(n, K, t)`` is the formula under test (sympy-compatible in n, t). With
    L(n) = C(n, K)^2 sum_t weight^2 written as sum_{u < n} c(u)^2 where
    c(n - t) = C(n, K) weight(n, K, t) must not depend on n and t but through n - t, and R(n)
    the hypergeometric side, the check is: c is a polynomial of u alone, R(n) - R(n - 1) =
    c(n - 1)^2 and R(K - 1) = 0 = L(K - 1). Returns a dict of those facts (all True: proved).
    """
    n, t, u = sp.symbols("n t u")
    scaled = sp.expand(sp.cancel(weight(n, K, t) * binomial_polynomial(n, K)))
    c_of_u = sp.expand(scaled.subs(t, n - u))
    depends_on_gap_only = not c_of_u.has(n)
    r = sp.Poly(jaccard_numerator_polynomial(n, K), n)
    step = r - r.compose(sp.Poly(n - 1, n)) - sp.Poly(c_of_u.subs(u, n - 1) ** 2, n)
    base_l = sum(c_of_u.subs(u, v) ** 2 for v in range(K - 1))  # L(K - 1) = sum_{u < K-1}
    return {
        "C(n,K) w_t depends on n - t only": depends_on_gap_only,
        "R(n) - R(n-1) = c(n-1)^2": depends_on_gap_only and step.is_zero,
        "R(K-1) = 0": r.eval(K - 1) == 0,
        "L(K-1) = 0": depends_on_gap_only and sp.simplify(base_l) == 0,
    }


def abel_identities(length):
    """Summation by parts on symbolic vectors of the given length: name -> bool."""
    a = sp.symbols(f"a1:{length + 1}")
    b = sp.symbols(f"b1:{length + 1}")
    b_next = (*b[1:], 0)
    prefix = [sp.Add(*a[: t + 1]) for t in range(length)]
    lhs = sp.Add(*[x * y for x, y in zip(a, b)])
    rhs = sp.Add(*[p * (y - z) for p, y, z in zip(prefix, b, b_next)])
    return {f"sum a_t b_t = sum A_t (b_t - b_(t+1)), N = {length}": sp.expand(lhs - rhs) == 0}


def weight_steps(K, weight=minhash_weight):
    """Symbolic in n and t: the prefix sums of the weights are W_t = 1 - C(n-t, K)/C(n, K)
    (telescoping: C(n, K)(W_t - W_(t-1)) = C(n, K) w_t and W_0 = 0), and
    w_t - w_(t+1) = C(n-t-1, K-2)/C(n, K) (nonnegative: W is concave). name -> bool."""
    n, t = sp.symbols("n t")
    scale = binomial_polynomial(n, K)
    big_w = scale - binomial_polynomial(n - t, K)  # C(n, K) W_t
    increment = sp.expand(big_w - big_w.subs(t, t - 1) - sp.cancel(weight(n, K, t) * scale))
    drop = sp.cancel((weight(n, K, t) - weight(n, K, t + 1)) * scale)
    return {
        f"K = {K}: sum_(s<=t) w_s = 1 - C(n-t,K)/C(n,K)": increment == 0
        and sp.expand(big_w.subs(t, 0)) == 0,
        f"K = {K}: w_t - w_(t+1) = C(n-t-1,K-2)/C(n,K)": sp.expand(
            drop - binomial_polynomial(n - t - 1, K - 2)
        )
        == 0,
    }

r"""Upper bounds on the type optimum V(n) as n grows: Lemma CS, Theorem C, and the blow-up.

**Lemma CS** (D = 1/2, type (2, 1)). Draw the common item c, then S, T i.i.d. uniform among
the other n - 1 items; A = {c, S}, B = {c, T}. Given c, f(A) and g(B) are independent, so
Cauchy-Schwarz (over the items, then over c) gives P = Pr[f(A) = g(B)] <= sqrt(P_f P_g) with
P_f = Pr[f(A) = f(A')], A' an independent copy. The type is this law conditioned on S != T,
eta = Pr[S = T] = 1/(n - 1); on S = T the pair (f, f) agrees surely, and a symmetric pair
has type-average at most 1/3 (the symmetric counting proof at k = 2, every n by Lemma L), so
P_f <= (1 - eta)/3 + eta, and the type-average is at most P/(1 - eta) <= 1/3 + eta/(1 - eta)
= 1/3 + 1/(n - 2). :func:`cs_links` evaluates every link exactly for a pair of maps.

**Theorem C** (overlap one, type (k, k - 1), D = (k - 1)/k). An agreeing pair at x has
A n B = {x}, so the agreeing pairs number at most sum_x |f^-1(x)| |g^-1(x)|
= C(n, k)^2 sum_x alpha_x beta_x <= C(n, k)^2 sum_t w_t^2 (Theorem A's chain, K = k); over
the k C(n, k) C(n - k, k - 1) ordered pairs of the type this is B_k(n), a rational function
(:data:`CLOSED_FORMS`) tending to 1/(2k - 1), the bound.

**Blow-up.** A protocol on [n] x [t] gives one on [n] at least as good: on A, run it on
A x [t] and keep the first coordinate (it lies in A; agreement of the pairs implies agreement
of their projections). (A x [t], B x [t]) has type (tk, tm) and the same D, so hardness of
(k, m) passes to (tk, tm). :func:`blow_up_check` enumerates every pair of maps on the
product sets of one instance.
"""

from fractions import Fraction
from itertools import combinations, product

import numpy as np
import sympy as sp
from coupling.proofs.optimality_sums import (
    binomial_polynomial,
    jaccard_numerator_polynomial,
    sum_of_squares,
)

__all__ = [
    "CLOSED_FORMS",
    "blow_up_check",
    "closed_form_steps",
    "cs_bound",
    "cs_links",
    "cs_steps",
    "overlap_one_links",
    "proven_upper_bounds",
    "theorem_c_bound",
]

_N = sp.Symbol("n")
#: Theorem C's bound B_k(n) on the type (k, k - 1) over [n], as stated (the statement under
#: test; :func:`closed_form_steps` derives it).
CLOSED_FORMS = {
    2: (2 * _N - 1) / (6 * (_N - 2)),
    3: (3 * _N**2 - 6 * _N + 1) / (15 * (_N - 3) * (_N - 4)),
    4: (2 * _N - 3) * (5 * _N**2 - 15 * _N + 1) / (70 * (_N - 4) * (_N - 5) * (_N - 6)),
    5: (35 * _N**4 - 280 * _N**3 + 685 * _N**2 - 500 * _N + 12)
    / (315 * (_N - 5) * (_N - 6) * (_N - 7) * (_N - 8)),
}


def cs_bound(n):
    """Lemma CS's bound at D = 1/2: 1/3 + 1/(n - 2) (sympy-compatible in n)."""
    return sp.Rational(1, 3) + 1 / (n - 2) if isinstance(n, sp.Basic) else (
        Fraction(1, 3) + Fraction(1, n - 2))  # fmt: skip


def cs_steps(bound=cs_bound):
    """Lemma CS symbolically in n: eta = 1/(n - 1) and 1/3 + eta/(1 - eta) = bound(n)."""
    n = sp.Symbol("n", positive=True)
    eta = 1 / (n - 1)  # S, T uniform on the n - 1 items other than c
    derived = sp.Rational(1, 3) + eta / (1 - eta)
    return {"1/3 + eta/(1 - eta) with eta = 1/(n-1) equals the bound": sp.simplify(
        derived - bound(n)) == 0}  # fmt: skip


def cs_links(f, g, n):
    """Every link of Lemma CS for maps f, g on the 2-subsets of [n] (dicts from sorted
    pairs to items), exactly: dict link -> bool and the type-average."""
    triples = [(c, s, t) for c in range(n) for s in range(n) for t in range(n)
               if c not in (s, t)]  # fmt: skip
    eta = Fraction(1, n - 1)

    def pr(h1, h2, distinct=None):
        rows = [(c, s, t) for c, s, t in triples if distinct is None or (s != t) == distinct]
        hits = sum(h1[tuple(sorted((c, s)))] == h2[tuple(sorted((c, t)))] for c, s, t in rows)
        return Fraction(hits, len(rows))

    both, alice, bob = pr(f, g), pr(f, f), pr(g, g)
    typed, symmetric_f, symmetric_g = pr(f, g, True), pr(f, f, True), pr(g, g, True)
    return {
        "type-average <= P/(1 - eta)": typed <= both / (1 - eta),
        "P^2 <= P_f P_g (Cauchy-Schwarz)": both**2 <= alice * bob,
        "symmetric type-averages <= 1/3": max(symmetric_f, symmetric_g) <= Fraction(1, 3),
        "P_f, P_g <= (1 - eta)/3 + eta": max(alice, bob) <= (1 - eta) / 3 + eta,
        "type-average <= 1/3 + 1/(n-2)": typed <= cs_bound(n),
    }, typed


def closed_form_steps(k, closed_form):
    """Theorem C at k symbolically in n: C(n, k) sum_t w_t^2 / (k C(n-k, k-1)) equals the
    stated closed form, and its limit is 1/(2k - 1). Uses the polynomial R(n) =
    sum_t C(n-t, k-1)^2 (:func:`~coupling.proofs.optimality_sums.jaccard_numerator_polynomial`,
    equal to that sum by :func:`~coupling.proofs.optimality_sums.weight_identity`)."""
    n = _N
    derived = jaccard_numerator_polynomial(n, k) / (
        binomial_polynomial(n, k) * k * binomial_polynomial(n - k, k - 1))  # fmt: skip
    return {
        f"k = {k}: B_k(n) = stated closed form": sp.cancel(derived - closed_form) == 0,
        f"k = {k}: B_k(n) -> 1/(2k-1)": sp.limit(closed_form, n, sp.oo)
        == sp.Rational(1, 2 * k - 1),
    }


def overlap_one_links(f, g, k, n):
    """Theorem C's counting for maps f, g on the k-subsets of [n] (dicts), exactly: the
    agreeing pairs at overlap one, sum_x |f^-1(x)||g^-1(x)|, and C(n,k)^2 sum_t w_t^2."""
    sets = list(combinations(range(n), k))
    agree = sum(f[A] == g[B] for A in sets for B in sets if len(set(A) & set(B)) == 1)
    classes = sum(sum(f[A] == x for A in sets) * sum(g[B] == x for B in sets) for x in range(n))
    return {
        "agreeing pairs <= sum_x |f^-1(x)||g^-1(x)|": agree <= classes,
        "sum_x |f^-1(x)||g^-1(x)| <= C(n,k)^2 sum w_t^2": classes
        <= len(sets) ** 2 * sum_of_squares(n, k),
    }


def blow_up_check(k, m, copies, local_value, projection=None):
    """The blow-up lemma on one instance: every pair of maps (f', g') on the product sets
    A x [copies] of the k-subsets A of [k + m] (items as pairs (a, i)).

    ``projection(item)`` (default: the first coordinate) turns f' into a map on [k + m]; the
    checks are that it lands in A, that the projected pair agrees on every type (k, m) pair
    where (f', g') agreed on the blown-up pair, that the blown-up pairs have type
    (copies k, copies m), and that the best blown-up average equals ``local_value``."""
    projection = projection or (lambda item: item[0])
    n = k + m
    sets = list(combinations(range(n), k))
    blown = [tuple(product(A, range(copies))) for A in sets]
    partners = [(s, t) for s in range(len(sets)) for t in range(len(sets))
                if len(set(sets[s]) & set(sets[t])) == k - m]  # fmt: skip
    typed = all(len(set(blown[s]) & set(blown[t])) == copies * (k - m) for s, t in partners)
    maps = list(product(*blown))
    lands = all(projection(f[s]) in sets[s] for f in maps for s in range(len(sets)))
    best, dominated = -1, True
    codes = {item: i for i, item in enumerate(sorted({x for B in blown for x in B}))}
    coded = np.array([[codes[x] for x in f] for f in maps])
    projected = np.array([[projection(x) for x in f] for f in maps])
    left = np.array([s for s, _ in partners])
    right = np.array([t for _, t in partners])
    for i in range(len(maps)):
        agree = (coded[i, left][None, :] == coded[:, right]).sum(axis=1)
        agree_projected = (projected[i, left][None, :] == projected[:, right]).sum(axis=1)
        dominated &= bool(np.all(agree <= agree_projected))
        best = max(best, int(agree.max()))
    return {
        f"blown-up pairs have type ({copies * k}, {copies * m})": typed,
        "projection lands in A": lands,
        "projected agreement >= blown-up agreement, every pair of maps": dominated,
        "best blown-up average = local value": Fraction(best, len(partners)) == local_value,
    }


def theorem_c_bound(k, n, closed_forms=CLOSED_FORMS):
    """Theorem C's B_k(n) = ``closed_forms[k]`` at the integer n, as a Fraction. Where it
    applies is the caller's rule: the type (k, k - 1) exists for n >= 2k - 1, and the forms'
    poles lie at n <= 2k - 2."""
    return Fraction(str(closed_forms[k].subs(_N, n)))


def proven_upper_bounds(k, m, n, local_value):
    """The proven upper bounds on V(n) of type (k, m), as Fractions by name: Lemma L's
    ``local_value``, Lemma CS's (type (2, 1), n >= 4) and Theorem C's B_k(n) (type
    (k, k - 1), k in :data:`CLOSED_FORMS`, n >= 2k - 1, above the form's poles)."""
    out = {"Lemma L": Fraction(local_value)}
    if (k, m) == (2, 1) and n >= 4:
        out["Lemma CS"] = cs_bound(n)
    if m == k - 1 and k in CLOSED_FORMS and n >= 2 * k - 1:
        out["Theorem C"] = theorem_c_bound(k, n)
    return out

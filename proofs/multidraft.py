r"""Claim 7: the exact matching probability of the list coupling (K drafts).

The formula under test (``coupling.simulate.list_matching_probability``, section 3 of the project's
note ``MULTIDRAFT.md``) conditions on the target's winning clock over all K n clocks. The
certificate checks it against a second derivation that conditions column by column instead.

**Per-column derivation.** The K columns are independent copies of one column of n clocks
:math:`S_i \sim \mathrm{Exp}(1)`, with :math:`Z = \min_i S_i / p_i` (the column's best value
for the target), :math:`Y_1` its argmin and :math:`X = \arg\min_i S_i / q_i` the column's
draft. The target wins in the column with the smallest Z, so by symmetry

.. math::

    \Pr[\text{match}] = K \sum_j \int_0^\infty \bigl[\varphi_j(z) \Pr[Z > z]^{K-1}
        - (\varphi_j(z) - D_j(z)) (\Pr[Z > z] - H_j(z))^{K-1}\bigr]\,dz

where, straight from one column's joint density, :math:`\varphi_j(z) = p_j e^{-z \sum p}` is
the density of :math:`(Z, Y_1) = (z, j)`, :math:`D_j(z) = p_j e^{-z \sum_i \max(p_i, q_i
p_j/q_j)}` that of :math:`(Z, Y_1, X) = (z, j, j)` and

.. math::

    H_j(z) = \Pr[Z > z, X = j] = \int_{p_j z}^\infty e^{-s} \prod_{i \ne j}
        e^{-\max(p_i z, q_i s / q_j)}\,ds

(the draft is j with clock s; every other clock clears both the target's bar and the draft's).
Each of these is a finite sum of exponentials :math:`c e^{-\lambda z}` with rational c and
:math:`\lambda` when p and q are rational (the inner integral is piecewise exponential between
the kinks :math:`s = z q_j p_i / q_i`), so the whole expression is an exact Fraction. No
memorylessness argument, no :math:`\psi`, no quadrature.

**Symbolic reductions** (sympy, symbolic positive weights, n = 2 and 3, every ordering of the
ratios :math:`p_i/q_i`): the note's integrand with K = 1 integrates to
:math:`p_j / (1 + c_j)`, which is J_P's term :math:`1/\sum_i \max(p_i/p_j, q_i/q_j)`; with
:math:`g_j = 0` it integrates to :math:`K p_j/(K + c_j)`, the lemma's term
:math:`K / (\sum_i \max(p_i/p_j, q_i/q_j) + (K-1)/p_j)`; and the segment-by-segment closed form
of :math:`g_j` used by the float code equals its defining integral.
"""

import itertools
import random
from collections import defaultdict
from fractions import Fraction

import sympy as sp
from coupling.proofs._core import Certificate, grid_distributions, timed
from coupling.proofs.exact_rational import gumbel_rational
from coupling.proofs.gumbel_formula import _ordered_weights, _resolve_max

__all__ = [
    "lemma_rational",
    "list_matching_rational",
    "symbolic_reductions",
    "verify_list_matching",
]

CLAIM = "list-matching"
REL_TOL = 1e-9  # the float formula's stated accuracy


def _times(a, b):
    out = defaultdict(Fraction)
    for ra, ca in a.items():
        for rb, cb in b.items():
            out[ra + rb] += ca * cb
    return {r: c for r, c in out.items() if c}


def _power(a, k):
    out = {Fraction(0): Fraction(1)}
    while k:
        if k & 1:
            out = _times(out, a)
        a = _times(a, a)
        k >>= 1
    return out


def _plus(*terms):
    out = defaultdict(Fraction)
    for sign, a in terms:
        for r, c in a.items():
            out[r] += sign * c
    return {r: c for r, c in out.items() if c}


def _integral(a):
    """int_0^oo sum_r c e^(-r z) dz; every rate is positive here."""
    return sum((c / r for r, c in a.items()), Fraction(0))


def _column_draft_survival(p, q, j):
    """H_j(z) = Pr[Z > z, X = j] as {rate: coefficient}: with s = u z the integrand is
    e^(-z Phi(u)), Phi(u) = u + sum_{i != j} max(p_i, q_i u / q_j), linear between kinks."""
    n = len(p)
    if q[j] == 0:
        return {}
    kinks = sorted({q[j] * p[i] / q[i] for i in range(n) if i != j and q[i] > 0} - {p[j]})
    edges = [p[j], *(u for u in kinks if u > p[j])]

    def phi(u):
        return u + sum(max(p[i], q[i] * u / q[j]) for i in range(n) if i != j)

    out = defaultdict(Fraction)
    for a, b in zip(edges, [*edges[1:], None]):
        inside = a + 1 if b is None else (a + b) / 2
        slope = 1 + sum(q[i] / q[j] for i in range(n) if i != j and q[i] * inside > p[i] * q[j])
        out[phi(a)] += 1 / Fraction(slope)
        if b is not None:
            out[phi(b)] -= 1 / Fraction(slope)
    return {r: c for r, c in out.items() if c}


def list_matching_rational(p, q, k):
    """Pr[target's item in the list] for K = ``k`` drafts, as a Fraction, by the per-column
    derivation (module docstring); ``p`` and ``q`` are taken exactly (Fractions or floats)."""
    p = [Fraction(x) for x in p]
    q = [Fraction(x) for x in q]
    n = len(p)
    mass = sum(p)
    beaten = {mass: Fraction(1)}  # Pr[Z > z] = e^(-z sum p)
    total = Fraction(0)
    for j in range(n):
        if p[j] == 0:
            continue
        density = {mass: p[j]}
        both = {}
        if q[j] > 0:
            both = {sum(max(p[i], q[i] * p[j] / q[j]) for i in range(n)): p[j]}
        clear = _plus((1, beaten), (-1, _column_draft_survival(p, q, j)))
        hit = _integral(_times(density, _power(beaten, k - 1)))
        miss = _integral(_times(_plus((1, density), (-1, both)), _power(clear, k - 1)))
        total += k * (hit - miss)
    return total


def lemma_rational(p, q, k):
    """The list matching lemma as printed: sum_j K / (sum_i max(p_i/p_j, q_i/q_j) + (K-1)/p_j)."""
    p = [Fraction(x) for x in p]
    q = [Fraction(x) for x in q]
    return sum((k / (sum(max(a / pj, b / qj) for a, b in zip(p, q)) + (k - 1) / pj)
                for pj, qj in zip(p, q) if pj > 0 and qj > 0), Fraction(0))  # fmt: skip


def symbolic_reductions(sizes=(2, 3)):
    """The three sympy checks of the module docstring; returns a list of per-case dicts with
    ``zero`` true when the difference is identically 0."""
    t, c, kk = sp.symbols("t c K", positive=True)
    g = sp.Function("g")

    def integral(cols, gj):
        integrand = cols * sp.exp(-cols * t) * (1 - (1 - sp.exp(-c * t)) * (1 - gj) ** (cols - 1))
        return sp.integrate(integrand, (t, 0, sp.oo))

    one_column = integral(1, g(t))  # K = 1: the other columns' factor is (1 - g)^0
    no_others = integral(kk, 0)  # g = 0: only the winning column can match
    cases = [
        {"check": "K=1 integral", "zero": _rational_zero(one_column - 1 / (1 + c))},
        {"check": "g=0 integral", "zero": _rational_zero(no_others - kk / (kk + c))},
    ]
    for n in sizes:
        for order in itertools.permutations(range(n)):
            p, q, ratio = _ordered_weights(n, order)
            norm = {p[-1]: 1 - sp.Add(*p[:-1])}  # sum p = 1
            for j in range(n):
                below = [i for i in order[: order.index(j)]]  # ratio_i < ratio_j
                cj = sp.Add(*[q[i] * ratio[j] - p[i] for i in below])
                spread = _resolve_max(
                    sp.Add(*[sp.Max(p[i] / p[j], q[i] / q[j]) for i in range(n)]), ratio, p, q
                )
                ours_jp = (p[j] * one_column).subs(c, cj)
                ours_lemma = (p[j] * no_others).subs(c, cj)
                paper_lemma = kk / (spread + (kk - 1) / p[j])
                where = {"n": n, "order": list(order), "j": j}
                cases.append(
                    {
                        "check": "K=1 is J_P's term",
                        **where,
                        "zero": _rational_zero((ours_jp - 1 / spread).subs(norm)),
                    }
                )
                cases.append(
                    {
                        "check": "g=0 is the lemma's term",
                        **where,
                        "zero": _rational_zero((ours_lemma - paper_lemma).subs(norm)),
                    }
                )
                cases.append(
                    {
                        "check": "closed form of g_j",
                        **where,
                        "zero": _closed_form_g_matches(n, order, j),
                    }
                )
    return cases  # fmt: skip


def _closed_form_g_matches(n, order, j):
    """t q_j int_{r_j}^oo e^(-t psi(w)) dw, integrated by sympy segment by segment (the items
    below the segment are the live terms of psi), against the float code's closed form
    q_j sum_s (e^(-t psi_s) - e^(-t psi_(s+1))) / A_s over the breakpoints from r_j up."""
    t, w = sp.symbols("t w", positive=True)
    p = sp.symbols(f"p0:{n}", positive=True)
    q = sp.symbols(f"q0:{n}", positive=True)
    rank = order.index(j)
    points = [p[i] / q[i] for i in order[rank:]]
    defined = 0
    closed = 0
    for s, a in enumerate(points):
        live = order[: rank + s + 1]
        psi = sp.Add(*[q[i] * w - p[i] for i in live])
        slope = sp.Add(*[q[i] for i in live])
        b = points[s + 1] if s + 1 < len(points) else sp.oo
        defined += sp.integrate(sp.exp(-t * psi), (w, a, b))
        far = 0 if b == sp.oo else sp.exp(-t * psi.subs(w, b))
        closed += (sp.exp(-t * psi.subs(w, a)) - far) / slope
    return _identically_zero(q[j] * t * defined - q[j] * closed)


def _rational_zero(expr):
    """A rational function is zero iff its combined, cancelled form is (a decision procedure)."""
    return sp.cancel(sp.together(expr)) == 0


def _identically_zero(expr):
    """True only if the expression, a sum of rational functions times exponentials of rational
    functions, is identically zero: exponents are put in canonical form (cancelled), terms
    grouped by their exponential factors, and every group's coefficient must cancel. (Sufficient:
    a False can only mean the grouping missed a cancellation, never a wrong True.)"""
    canonical = expr.replace(sp.exp, lambda a: sp.exp(sp.cancel(sp.together(a))))
    expr = sp.expand(canonical, power_exp=False)
    groups = defaultdict(list)
    for term in sp.Add.make_args(expr):
        factors = sp.Mul.make_args(term)
        exps = tuple(sorted((f for f in factors if isinstance(f, sp.exp)), key=sp.default_sort_key))
        groups[exps].append(sp.Mul(*[f for f in factors if not isinstance(f, sp.exp)]))
    return all(_rational_zero(sp.Add(*coeffs)) for coeffs in groups.values())


def _random_pair(rng, n, den):
    def one():
        cuts = sorted(rng.randint(0, den) for _ in range(n - 1))
        return tuple(Fraction(b - a, den) for a, b in zip([0, *cuts], [*cuts, den]))

    return one(), one()


@timed
def verify_list_matching(formula=None, *, symbolic_sizes=(2,), sizes=(2, 3), denominator=4,
                         drafts=(1, 2, 3, 8), random_pairs=20, random_sizes=(4, 5),
                         seed=0):  # fmt: skip
    """Certificate for claim 7; ``formula(p, q, k)`` (floats in, float out) is under test
    (default: ``coupling.simulate.list_matching_probability``).

    The sympy reductions (the integrals, then every ratio order for n in ``symbolic_sizes``);
    then on every grid pair (``sizes`` items, probabilities in (1/denominator) Z) and
    ``random_pairs`` seeded random rational pairs (``random_sizes`` items), for each K in
    ``drafts``: the per-column Fraction must agree with ``formula`` to relative ``REL_TOL``,
    equal J_P exactly at K = 1, lie at or above the printed lemma, and not decrease in K.
    """
    if formula is None:
        from coupling.simulate.multidraft import list_matching_probability as formula
    detail = {"symbolic_cases": symbolic_reductions(symbolic_sizes), "drafts": list(drafts)}
    bad = [case for case in detail["symbolic_cases"] if not case["zero"]]
    if bad:
        return Certificate(CLAIM, "sympy reductions", "refuted", counterexample=bad[0],
                           detail=detail)  # fmt: skip
    rng = random.Random(seed)
    pairs = [(p, q) for n in sizes for p in grid_distributions(n, denominator)
             for q in grid_distributions(n, denominator)]  # fmt: skip
    pairs += [_random_pair(rng, rng.choice(random_sizes), rng.randint(3, 9))
              for _ in range(random_pairs)]  # fmt: skip
    worst = 0.0
    for p, q in pairs:
        previous = Fraction(0)
        for k in sorted(drafts):
            exact = list_matching_rational(p, q, k)
            claimed = formula([float(x) for x in p], [float(x) for x in q], k)
            error = abs(claimed - float(exact))
            worst = max(worst, error / float(exact) if exact else error)
            facts = {
                "agrees": error <= REL_TOL * float(exact),
                "J_P at K=1": k != 1 or exact == gumbel_rational(p, q),
                "above the lemma": exact >= lemma_rational(p, q, k),
                "non-decreasing in K": exact >= previous,
            }
            previous = exact
            failed = [name for name, ok in facts.items() if not ok]
            if failed:
                return Certificate(CLAIM, "exact rationals (per-column derivation)", "refuted",
                                   counterexample={"p": [str(x) for x in p],
                                                   "q": [str(x) for x in q], "k": k,
                                                   "exact": str(exact), "claimed": claimed,
                                                   "failed": failed},
                                   detail=detail)  # fmt: skip
    detail.update(pairs=len(pairs), max_relative_error=worst)
    cases = len(detail["symbolic_cases"]) + len(pairs) * len(drafts)
    checks = "K=1 -> J_P, g=0 -> the lemma"
    if symbolic_sizes:
        sizes_text = ",".join(map(str, symbolic_sizes))
        checks += f", closed form of g_j; n={sizes_text}, every ratio order"
    method = f"sympy reductions ({checks}) + exact rationals from a per-column derivation"
    return Certificate(CLAIM, method, "verified", cases=cases, detail=detail)

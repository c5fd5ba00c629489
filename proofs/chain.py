r"""Claim 3: :math:`1-D \ge J_P \ge \mathrm{LB} \ge (1-D)/(1+D) \ge 1-2D`.

Each step reduces to term-wise inequalities. Every term-wise inequality is written with slack
symbols that are nonnegative by definition, and sympy checks that ``lhs - rhs`` becomes a
rational function whose numerator and denominator are polynomials with only nonnegative
coefficients in nonnegative symbols: a sum of nonnegative terms.

* 1-D >= J_P, term i: :math:`\sum_j \max(p_j/p_i, q_j/q_i) = 1/p_i + \sum_j s_j`
  (:math:`s_j \ge 0` the slack of each max over its first argument), so term i is at most
  :math:`p_i`, and likewise at most :math:`q_i`: at most :math:`m_i`.
* J_P >= LB, pair (i, j): :math:`M_j/m_i - p_j/p_i \ge 0` with :math:`p_j = M_j - u`,
  :math:`p_i = m_i + v` (and the same for q); then :math:`\sum_j \max(\cdot) \le
  (m_i + \sum M - M_i)/m_i`.
* LB >= (1-D)/(1+D), term i: :math:`m_i/(m_i + R) - m_i/(m_i + w + R)` with
  :math:`M_i = m_i + w`, :math:`R = \sum_{j \ne i} M_j`; and :math:`\sum m/\sum M =
  (1-D)/(1+D)` because :math:`\sum m = 1 - D`, :math:`\sum M = 1 + D`.
* (1-D)/(1+D) - (1-2D) = 2D^2/(1+D).

The exact-rational grid then checks the whole chain on every pair of distributions with
denominator 6 on 3 items and denominator 4 on 4 items.
"""

import itertools

import sympy as sp
from coupling.proofs._core import Certificate, grid_distributions, timed
from coupling.proofs.exact_rational import gumbel_rational, lower_bound_rational, tv_rational

__all__ = ["STEPS", "nonnegative_certificate", "verify_chain"]


def nonnegative_certificate(expr, symbols):
    """True when ``expr`` is a ratio of polynomials in ``symbols`` with nonnegative coefficients.

    With every symbol nonnegative (and the denominator not identically zero) such an expression
    is a sum of nonnegative terms divided by one, so it is >= 0.
    """
    num, den = sp.fraction(sp.factor(sp.together(expr)))
    for poly_expr in (num, den):
        poly = sp.Poly(sp.expand(poly_expr), *symbols)
        if any(c < 0 for c in poly.coeffs()):
            return False
    return True


def _steps():
    m_i, M_j, u, v, w, R, D, p_i, s = sp.symbols("m_i M_j u v w R D p_i s", nonnegative=True)
    return {
        # S_i - 1/p_i with S_i = 1/p_i + s (s: total slack of the maxes): lhs - rhs = s
        "1-D >= gumbel": ((1 / p_i + s) - 1 / p_i, (p_i, s)),
        # M_j/m_i - p_j/p_i with p_j = M_j - u, p_i = m_i + v
        "gumbel >= lower_bound": (M_j / m_i - (M_j - u) / (m_i + v), (M_j, m_i, u, v)),
        # m_i/(m_i + R) - m_i/(m_i + w + R)
        "lower_bound >= (1-D)/(1+D)": (m_i / (m_i + R) - m_i / (m_i + w + R), (m_i, R, w)),
        "(1-D)/(1+D) >= 1-2D": ((1 - D) / (1 + D) - (1 - 2 * D), (D,)),
    }


STEPS = tuple(_steps())


def _pair_record(p, q, values):
    return {"p": [str(x) for x in p], "q": [str(x) for x in q],
            "chain": [str(x) for x in values]}  # fmt: skip


def _chain_values(p, q, lower_bound):
    d = tv_rational(p, q)
    return [1 - d, gumbel_rational(p, q), lower_bound(p, q), (1 - d) / (1 + d), 1 - 2 * d]


@timed
def verify_chain(lower_bound=lower_bound_rational, steps=None, *, grids=((3, 6), (4, 4))):
    """Certificate for claim 3. ``lower_bound(p, q)`` is the bound under test (Fractions);
    ``steps`` maps a step name to ``(lhs - rhs expression, nonnegative symbols)``."""
    steps = _steps() if steps is None else steps
    detail = {"steps": {}}
    for name, (expr, symbols) in steps.items():
        ok = nonnegative_certificate(expr, symbols)
        detail["steps"][name] = ok
        if not ok:
            return Certificate("inequality-chain", "sympy nonnegative-coefficient certificates",
                               "failed", detail=detail)  # fmt: skip
    m = sp.symbols("m0:3", nonnegative=True)
    big = sp.symbols("M0:3", nonnegative=True)
    d = sp.Symbol("D", nonnegative=True)
    identity = sp.simplify((1 - d) / (1 + d) - sp.Add(*m) / sp.Add(*big)
                           ).subs({big[2]: 2 - sum(m) - big[0] - big[1]})  # fmt: skip
    detail["sum_identity"] = str(sp.simplify(identity.subs(m[2], 1 - d - m[0] - m[1])))
    cases = 0
    for n, den in grids:
        dists = grid_distributions(n, den)
        for p in dists:
            for q in dists:
                values = _chain_values(p, q, lower_bound)
                cases += 1
                if any(a < b for a, b in itertools.pairwise(values)):
                    return Certificate(
                        "inequality-chain",
                        "exact rational grid",
                        "refuted",
                        cases=cases,
                        detail=detail,
                        counterexample=_pair_record(p, q, values),
                    )
    if detail["sum_identity"] != "0":
        return Certificate("inequality-chain", "sympy identity", "failed", detail=detail)
    return Certificate("inequality-chain", "sympy nonnegative-coefficient certificates + exact "
                       "rational grid", "proved", cases=cases, detail=detail)  # fmt: skip

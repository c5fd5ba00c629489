r"""Claim 4: Gumbel is a Pareto improvement on index-level WMH, :math:`J_P \ge \mathrm{WMH}`.

Status: not proved here for general n. What is certified:

* n = 2, symbolically: with :math:`p = (b + d, 1 - b - d)`, :math:`q = (b, 1 - b)` (item 0
  has the larger ratio, which is no loss of generality), ``J_P - WMH`` is a ratio of
  polynomials with nonnegative coefficients in the nonnegative slacks ``b, d, e = 1 - b - d``.
* n <= 4, exhaustively in exact rationals on grids (denominator 24, 8 and 6).
* n <= 12, an optimiser (differential evolution + L-BFGS-B on the exact formulas, in
  :mod:`simulate.search`) minimising ``J_P - WMH``; the smallest margin is reported.

A negative margin anywhere refutes the claim with the pair as counterexample.
"""

import sympy as sp

from proofs._core import Certificate, grid_distributions, timed
from proofs.chain import nonnegative_certificate
from proofs.exact_rational import gumbel_rational, wmh_rational

__all__ = ["verify_pareto"]

QUICK_GRIDS = ((2, 24), (3, 8), (4, 6))
QUICK_SEARCH = (3, 4, 6, 8, 12)


def _symbolic_n2():
    """J_P - WMH for n = 2 as a nonnegative-coefficient rational function of b, d, e >= 0."""
    b, d, e = sp.symbols("b d e", nonnegative=True)
    one = b + d + e  # homogenised: p = (b + d, e), q = (b, d + e) both sum to one
    p, q = (b + d, e), (b, d + e)
    # item 0 has ratio (b + d)/b >= 1 >= e/(d + e): max(p1/p0, q1/q0) = q1/q0 and
    # max(p0/p1, q0/q1) = p0/p1; m = (b, e), M = (b + d, d + e), D = d / one
    jp = 1 / (1 + q[1] / q[0]) + 1 / (p[0] / p[1] + 1)
    m = (b, e)
    wmh = (one * sum(m) + sum((a - mi) * c + (c - mi) * a for a, c, mi in zip(p, q, m))) / (
        one * (one + d)
    )
    return nonnegative_certificate(jp - wmh, (b, d, e))


@timed
def verify_pareto(wmh=wmh_rational, *, grids=QUICK_GRIDS, search_sizes=QUICK_SEARCH,
                  maxiter=60, seed=0):  # fmt: skip
    """Certificate for claim 4; ``wmh(p, q)`` is the index-level WMH value under test."""
    detail = {}
    smallest = None
    cases = 0
    for n, den in grids:
        dists = grid_distributions(n, den)
        for p in dists:
            for q in dists:
                margin = gumbel_rational(p, q) - wmh(p, q)
                cases += 1
                if smallest is None or margin < smallest[0]:
                    smallest = (margin, p, q)
                if margin < 0:
                    return Certificate("pareto", "exact rational grid", "refuted", cases=cases,
                                       counterexample={"p": [str(x) for x in p],
                                                       "q": [str(x) for x in q],
                                                       "margin": str(margin)},
                                       detail=detail)  # fmt: skip
    detail["grid_smallest_margin"] = float(smallest[0])
    detail["grid_smallest_pair"] = {"p": [str(x) for x in smallest[1]],
                                    "q": [str(x) for x in smallest[2]]}  # fmt: skip
    from fractions import Fraction

    from simulate.search import search

    searched = {}
    for n in search_sizes:
        res = search(lambda p, q: _float_margin(p, q, wmh, Fraction), n, seed=seed,
                     maxiter=maxiter)  # fmt: skip
        searched[n] = res.value
        if res.value < -1e-12:
            return Certificate("pareto", "optimiser search", "refuted", cases=cases,
                               counterexample={"p": res.p.tolist(), "q": res.q.tolist(),
                                               "margin": res.value}, detail=detail)  # fmt: skip
    detail["search_smallest_margin"] = {str(k): v for k, v in searched.items()}
    detail["n2_symbolic_proof"] = _symbolic_n2()
    method = ("sympy (n=2) + exhaustive exact grids (n<=4) + optimiser search (n<=" +
              f"{max(search_sizes)})")  # fmt: skip
    return Certificate("pareto", method, "verified", cases=cases + len(searched), detail=detail)


def _float_margin(p, q, wmh, fraction):
    from simulate.exact import gumbel_collision, wmh_collision

    if wmh is wmh_rational:
        return gumbel_collision(p, q) - wmh_collision(p, q)
    return gumbel_collision(p, q) - float(wmh([fraction(x) for x in p], [fraction(x) for x in q]))

r"""Claim 4: Gumbel dominates index-level weighted MinHash item by item, for every n.

With :math:`m_i = \min(p_i, q_i)` and :math:`D = \sum_j (p_j - q_j)^+`, the probabilities that
both parties output item i are

* Gumbel: :math:`G_i = p_i q_i / S_i`, :math:`S_i = \sum_j \max(p_i q_j, p_j q_i)`;
* index-level WMH: :math:`W_i = (m_i + (p_i - m_i) q_i + (q_i - m_i) p_i) / (1 + D)`.

**Theorem.** :math:`G_i \ge W_i` for every item of every pair; summing, :math:`J_P \ge
\mathrm{WMH}`. Proof, each step machine-checked below:

0. Both sides are symmetric in (P, Q), so take :math:`p_i \ge q_i`, :math:`\delta = p_i - q_i`.
   If :math:`q_i = 0` both sides are 0.
1. :math:`\max(a, b) = a + (b - a)^+` gives, with :math:`r = p_i / q_i \ge 1` and
   :math:`\sum_j q_j = 1`, :math:`S_i = p_i + q_i \sum_j (p_j - r q_j)^+`.
2. :math:`(p_j - r q_j)^+ \le (p_j - q_j)^+` for :math:`r \ge 1`; the j = i term is 0 and the
   others sum to :math:`D - \delta`, so :math:`S_i \le p_i + q_i (D - \delta)`; :math:`G_i`
   decreases in :math:`S_i`.
3. :math:`p_i q_i / (p_i + q_i (D - \delta)) - W_i \ge 0`: in the slacks
   :math:`e = D - \delta`, :math:`q_i = s/(s + t)` (so :math:`1 - q_i = t/(s + t)`) it is a
   ratio of polynomials with nonnegative coefficients, :math:`\propto e\,\delta\, s\, t`
   (zero when :math:`D = \delta`: the case split of the note).

Every inequality is checked as in :mod:`coupling.proofs.chain`: the difference, with every sign case
written in nonnegative slack symbols, is a ratio of nonnegative-coefficient polynomials. The
per-item terms under test are arguments (``gumbel_item(p_i, q_i, S_i)``,
``wmh_item(p_i, q_i, D)``, sympy-compatible callables); an exact rational grid evaluates them
item by item (a negative margin refutes, with the pair) and checks that they sum to J_P and
WMH as :mod:`coupling.proofs.exact_rational` defines them. ``search_sizes`` adds an optimiser search
of the smallest per-item margin of :mod:`coupling.simulate.exact`'s float code (supporting
evidence).
"""

from fractions import Fraction

import sympy as sp
from coupling.proofs._core import Certificate, grid_distributions, timed
from coupling.proofs.chain import nonnegative_certificate
from coupling.proofs.exact_rational import gumbel_rational, tv_rational, wmh_rational
from sympy.printing.pycode import PythonCodePrinter

__all__ = ["QUICK_GRIDS", "gumbel_item", "lemmas", "verify_pareto", "wmh_item"]

QUICK_GRIDS = ((2, 24), (3, 8), (4, 4))


def gumbel_item(p_i, q_i, s_i):
    """G_i = p_i q_i / S_i (the Gumbel race's Pr[a = b = i])."""
    return p_i * q_i / s_i


def wmh_item(p_i, q_i, d):
    """W_i = (m_i + (p_i - m_i) q_i + (q_i - m_i) p_i) / (1 + D)."""
    m_i = sp.Min(p_i, q_i)
    return (m_i + (p_i - m_i) * q_i + (q_i - m_i) * p_i) / (1 + d)


def _pos(x):
    return sp.Max(sp.expand(x), 0)


def _zero(expr):
    return sp.simplify(expr) == 0


def lemmas():
    """The input-free steps, every sign case in nonnegative slacks: name -> bool."""
    a = sp.Symbol("a", real=True)
    c = sp.Symbol("c", positive=True)
    s, t, rho, p, q, pj, qj = sp.symbols("s t rho p q p_j q_j", nonnegative=True)
    qi, qjp = sp.symbols("q_i q_j+", positive=True)
    pi = sp.Symbol("p_i", nonnegative=True)
    out = {}
    # step 1: max(a, b) = a + (b - a)^+, cases b >= a and b <= a
    out["max(a,b) = a + (b-a)^+"] = all(
        _zero(sp.Max(a, b) - (a + _pos(b - a))) for b in (a + s, a - s)
    )
    # pulling q_i > 0 out: (c x)^+ = c x^+, and p_j q_i - p_i q_j = q_i (p_j - r q_j)
    out["(c x)^+ = c x^+ for c > 0"] = all(_zero(_pos(c * x) - c * _pos(x)) for x in (s, -s))
    r = pi / qi
    out["p_j q_i - p_i q_j = q_i (p_j - r q_j), r = p_i/q_i"] = _zero(
        pj * qi - pi * qj - qi * (pj - r * qj)
    )
    out["j = i term: p_i - r q_i = 0"] = _zero(pi - r * qi)
    # step 2: (p_j - r q_j)^+ <= (p_j - q_j)^+ with r = 1 + rho, three sign cases
    cases = (  # (p_j, q_j, r, slacks)
        ((1 + rho) * qj + s, qj, 1 + rho, (qj, rho, s)),  # p_j - r q_j = s >= 0
        (qjp + s, qjp, 1 + (s + t) / qjp, (qjp, s, t)),  # p_j - r q_j = -t <= 0 <= p_j - q_j
        (qj - s, qj, 1 + rho, (qj, rho, s)),  # p_j - q_j = -s <= 0
    )
    out["(p_j - r q_j)^+ <= (p_j - q_j)^+ for r >= 1"] = all(
        nonnegative_certificate(_pos(x - y) - _pos(x - r_ * y), syms) for x, y, r_, syms in cases
    )
    # D = sum (p_j - q_j)^+ = 1 - sum m_j = sum (q_j - p_j)^+ (the last as sum p = sum q)
    out["(p-q)^+ = p - min(p,q) and (q-p)^+ - (p-q)^+ = q - p"] = all(
        _zero(_pos(x - y) - (x - sp.Min(x, y))) and _zero(_pos(y - x) - _pos(x - y) - (y - x))
        for x, y in ((p, p + s), (q + s, q))
    )
    # S_i(P, Q) = S_i(Q, P): each max is symmetric
    out["max(p_i q_j, p_j q_i) symmetric in (P, Q)"] = _zero(
        sp.Max(pi * qj, pj * qi) - sp.Max(qi * pj, qj * pi)
    )
    return out


def _input_steps(g_item, w_item):
    """The steps that depend on the terms under test: name -> (bool, note)."""
    q, delta, s, t, u = sp.symbols("q delta s t u", nonnegative=True)
    big_s, ep = sp.symbols("S e", positive=True)
    d = sp.Symbol("D", nonnegative=True)
    out = {}
    p = q + delta  # WLOG p_i >= q_i
    out["symmetry: G_i(P, Q) = G_i(Q, P)"] = _zero(g_item(p, q, big_s) - g_item(q, p, big_s))
    out["symmetry: W_i(P, Q) = W_i(Q, P)"] = _zero(w_item(p, q, d) - w_item(q, p, d))
    out["case q_i = 0: G_i = W_i = 0"] = _zero(g_item(delta, 0, big_s)) and _zero(
        w_item(delta, 0, d)
    )
    out["G_i nonincreasing in S_i"] = nonnegative_certificate(
        g_item(p, q, big_s) - g_item(p, q, big_s + u), (q, delta, big_s, u)
    )
    qs = s / (s + t)  # q_i in [0, 1]: s = q_i, t = 1 - q_i
    ps = qs + delta

    def margin(slack):  # G_i at the bound on S_i, minus W_i, at D = delta + slack
        diff = g_item(ps, qs, ps + qs * slack) - w_item(ps, qs, delta + slack)
        return sp.factor(sp.together(diff))

    at_equal = margin(0)
    out["case D = delta: G_i bound - W_i >= 0"] = nonnegative_certificate(at_equal, (s, t, delta))
    general = margin(ep)
    out["case D > delta: (G_i bound - W_i)/(D - delta) >= 0"] = nonnegative_certificate(
        sp.factor(general / ep), (s, t, delta, ep)
    )
    notes = {
        "case D = delta": str(at_equal),
        "step 3 margin, e = D - delta, q_i = s/(s+t)": str(general),
    }
    return out, notes


class _FractionPrinter(PythonCodePrinter):
    """Prints rationals as Fractions so the lambdified terms compute exactly."""

    def _print_Rational(self, expr):
        return f"Fraction({expr.p}, {expr.q})"


def _exact(term):
    """``term`` as a fast function of three Fractions returning a Fraction: lambdified with
    Fraction constants (sympy's own arithmetic is 10x slower), falling back to sympy when the
    compiled code leaves the rationals (a float or a root in the term under test)."""
    args = sp.symbols("x y z", nonnegative=True)
    fast = sp.lambdify(args, term(*args), modules=[{"Fraction": Fraction, "min": min,
                       "max": max}], printer=_FractionPrinter)  # fmt: skip

    def call(*values):
        value = fast(*values)
        if isinstance(value, (Fraction, int)):
            return Fraction(value)
        value = sp.nsimplify(term(*map(sp.Rational, values)), rational=False)
        if not value.is_Rational:
            raise ValueError(f"term is not rational at {values}: {value}")
        return Fraction(int(value.p), int(value.q))

    return call


def _grid(g_item, w_item, grids):
    """Per-item margins G_i - W_i of the terms under test on exact grids; returns
    (cases, smallest, counterexample or None, link failures)."""
    g_exact, w_exact = _exact(g_item), _exact(w_item)
    cases = 0
    smallest = None
    link_failures = []
    for n, den in grids:
        dists = grid_distributions(n, den)
        for p in dists:
            for q in dists:
                d = tv_rational(p, q)
                gs, ws = [], []
                for i in range(n):
                    s_i = sum(max(p[i] * qj, pj * q[i]) for pj, qj in zip(p, q))
                    gs.append(g_exact(p[i], q[i], s_i) if s_i else Fraction(0))
                    ws.append(w_exact(p[i], q[i], d))
                    margin = gs[-1] - ws[-1]
                    cases += 1
                    if smallest is None or margin < smallest[0]:
                        smallest = (margin, p, q, i)
                    if margin < 0:
                        return cases, smallest, _record(smallest), link_failures
                if len(link_failures) < 3 and (
                    sum(gs) != gumbel_rational(p, q) or sum(ws) != wmh_rational(p, q)
                ):
                    link_failures.append(_record((None, p, q, None)))
    return cases, smallest, None, link_failures


def _record(entry):
    margin, p, q, i = entry
    rec = {"p": [str(x) for x in p], "q": [str(x) for x in q]}
    if i is not None:
        rec.update(item=i, margin=str(margin))
    return rec


def _search(search_sizes, maxiter, seed):
    """Smallest per-item margin of simulate's float G_i - W_i found by the optimiser."""
    from coupling.simulate.exact import per_item_collision
    from coupling.simulate.search import search

    def margin(p, q):
        return float(min(per_item_collision(p, q, "gumbel") - per_item_collision(p, q, "wmh")))

    return {str(n): search(margin, n, seed=seed, maxiter=maxiter).value for n in search_sizes}


@timed
def verify_pareto(g_item=gumbel_item, w_item=wmh_item, *, grids=QUICK_GRIDS, search_sizes=(),
                  maxiter=60, seed=0):  # fmt: skip
    """Certificate for claim 4, per item and for every n; ``g_item(p_i, q_i, S_i)`` and
    ``w_item(p_i, q_i, D)`` are the per-item terms under test (sympy-compatible callables).

    ``proved`` when every step holds symbolically and the terms sum to J_P and WMH on the
    grids; ``refuted`` with the pair and item when a grid item has G_i < W_i; ``failed`` when
    a step does not go through but the grid finds no counterexample."""
    steps = lemmas()
    input_steps, notes = _input_steps(g_item, w_item)
    steps.update(input_steps)
    cases, smallest, counterexample, link_failures = _grid(g_item, w_item, grids)
    detail = {
        "case_split": {
            "p_i < q_i": "swap P and Q (the symmetry steps)",
            "q_i = 0": steps["case q_i = 0: G_i = W_i = 0"],
            "D = delta": steps["case D = delta: G_i bound - W_i >= 0"],
            "D > delta": steps["case D > delta: (G_i bound - W_i)/(D - delta) >= 0"],
        },
        "steps": steps,
        "reductions": notes,
        "grid_items": cases,
        "grid_smallest_margin": str(smallest[0]),
        "grid_smallest_at": _record(smallest),
    }
    method = "sympy nonnegative-slack certificates, every n, per item + exact rational grids"
    if counterexample is not None:
        return Certificate("pareto", method, "refuted", cases=cases, detail=detail,
                           counterexample=counterexample)  # fmt: skip
    if search_sizes:
        detail["search_smallest_item_margin"] = _search(search_sizes, maxiter, seed)
    if not all(steps.values()):
        detail["why"] = "steps that do not hold: " + ", ".join(k for k, v in steps.items() if not v)
        return Certificate("pareto", method, "failed", cases=cases, detail=detail)
    if link_failures:
        detail["why"] = "the per-item terms do not sum to J_P and WMH"
        detail["link_failures"] = link_failures
        return Certificate("pareto", method, "failed", cases=cases, detail=detail)
    return Certificate("pareto", method, "proved", cases=cases, detail=detail)

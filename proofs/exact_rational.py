"""The collision formulas in exact rational arithmetic (Fractions), written from the brief's
definitions independently of simulate.exact's float code.

The ``*_items_rational`` functions give Pr[a = b = i] for every item i; each total is the sum
of its items."""

from fractions import Fraction

__all__ = [
    "gumbel_items_rational",
    "gumbel_rational",
    "lower_bound_rational",
    "optimal_items_rational",
    "tv_rational",
    "wmh_items_rational",
    "wmh_rational",
]


def tv_rational(p, q):
    """D = 1 - sum_i min(p_i, q_i), exactly for Fractions."""
    return 1 - sum(min(a, b) for a, b in zip(p, q))


def gumbel_items_rational(p, q):
    """G_i = 1 / sum_j max(p_j/p_i, q_j/q_i) where p_i q_i > 0, else 0; floats taken exactly."""
    p = [Fraction(x) for x in p]
    q = [Fraction(x) for x in q]
    return [1 / sum(max(pj / pi, qj / qi) for pj, qj in zip(p, q)) if pi > 0 and qi > 0
            else Fraction(0) for pi, qi in zip(p, q)]  # fmt: skip


def gumbel_rational(p, q):
    """J_P = sum_{i: p_i q_i > 0} 1 / sum_j max(p_j/p_i, q_j/q_i); floats are taken exactly."""
    return sum(gumbel_items_rational(p, q), Fraction(0))


def wmh_items_rational(p, q):
    """W_i = (m_i + (p_i - m_i) q_i + (q_i - m_i) p_i) / (1 + D)."""
    p = [Fraction(x) for x in p]
    q = [Fraction(x) for x in q]
    one_plus_d = 1 + tv_rational(p, q)
    return [(min(a, b) + (a - min(a, b)) * b + (b - min(a, b)) * a) / one_plus_d
            for a, b in zip(p, q)]  # fmt: skip


def wmh_rational(p, q):
    """(sum m + sum (p_i - m_i) q_i + sum (q_i - m_i) p_i) / (1 + D)."""
    return sum(wmh_items_rational(p, q), Fraction(0))


def optimal_items_rational(p, q):
    """m_i = min(p_i, q_i): the maximal coupling puts all of a = b on the diagonal m."""
    return [min(Fraction(a), Fraction(b)) for a, b in zip(p, q)]


def lower_bound_rational(p, q):
    """sum_i m_i / (m_i + sum_j M_j - M_i)."""
    m = [min(a, b) for a, b in zip(p, q)]
    big = [max(a, b) for a, b in zip(p, q)]
    total_big = sum(big)
    return sum((Fraction(mi) / (mi + total_big - bi) for mi, bi in zip(m, big) if mi > 0),
               Fraction(0))  # fmt: skip

"""The collision formulas in exact rational arithmetic (Fractions), written from the brief's
definitions independently of simulate.exact's float code."""

from fractions import Fraction

__all__ = ["gumbel_rational", "lower_bound_rational", "tv_rational", "wmh_rational"]


def tv_rational(p, q):
    return 1 - sum(min(a, b) for a, b in zip(p, q))


def gumbel_rational(p, q):
    """J_P = sum_{i: p_i q_i > 0} 1 / sum_j max(p_j/p_i, q_j/q_i); floats are taken exactly."""
    p = [Fraction(x) for x in p]
    q = [Fraction(x) for x in q]
    total = Fraction(0)
    for pi, qi in zip(p, q):
        if pi > 0 and qi > 0:
            total += 1 / sum(max(pj / pi, qj / qi) for pj, qj in zip(p, q))
    return total


def wmh_rational(p, q):
    """(sum m + sum (p_i - m_i) q_i + sum (q_i - m_i) p_i) / (1 + D)."""
    m = [min(a, b) for a, b in zip(p, q)]
    num = sum(m) + sum((a - mi) * b + (b - mi) * a for a, b, mi in zip(p, q, m))
    return Fraction(num) / (1 + tv_rational(p, q))


def lower_bound_rational(p, q):
    """sum_i m_i / (m_i + sum_j M_j - M_i)."""
    m = [min(a, b) for a, b in zip(p, q)]
    big = [max(a, b) for a, b in zip(p, q)]
    total_big = sum(big)
    return sum((Fraction(mi) / (mi + total_big - bi) for mi, bi in zip(m, big) if mi > 0),
               Fraction(0))  # fmt: skip

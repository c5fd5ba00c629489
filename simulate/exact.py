r"""Exact collision probabilities and the bounds of Daliri, Musco and Suresh (2024).

With :math:`m_i = \min(p_i, q_i)`, :math:`M_i = \max(p_i, q_i)` and
:math:`D = D_{TV}(P, Q)`:

* Gumbel (exponential race), Moulton and Jiang's probability Jaccard:
  :math:`J_P = \sum_{i: p_i q_i > 0} 1 / \sum_j \max(p_j/p_i, q_j/q_i)`.
* Weighted MinHash (darts, index level):
  :math:`(\sum_i m_i + \sum_i (p_i - m_i) q_i + \sum_i (q_i - m_i) p_i) / (1 + D)`.
* Optimal coupling :math:`1 - D`; independent sampling :math:`\sum_i p_i q_i`.
* Bounds: :math:`\sum_i m_i / (m_i + \sum_j M_j - M_i)` (Gumbel) and
  :math:`(1 - D)/(1 + D)` (worst case over pairs at distance D).
* The list coupling with K drafts (``"gls"``, :mod:`simulate.multidraft`): Pr[target's item in
  the list], by :func:`simulate.multidraft.list_matching_probability`.
"""

import numpy as np

from simulate.multidraft import list_matching_probability
from simulate.validation import as_choice, as_pair

__all__ = [
    "LIST_PROTOCOLS",
    "PROTOCOLS",
    "collision_probability",
    "gumbel_collision",
    "gumbel_lower_bound",
    "independent_collision",
    "tv_distance",
    "weighted_jaccard",
    "wmh_collision",
    "wmh_joint_law",
    "worst_case_bound",
]

#: Every protocol by name; "wmh-darts" (literal dart throwing) has the law of "wmh" (records).
PROTOCOLS = ("gumbel", "wmh", "wmh-darts", "optimal", "independent")
#: Protocols where the second party proposes a list of ``drafts`` items; success is the first
#: party's item being in the list. Kept apart from PROTOCOLS, which need no ``drafts``.
LIST_PROTOCOLS = ("gls",)


def tv_distance(p, q, *, normalize=False):
    """Total variation distance :math:`D = \\tfrac12 \\sum_i |p_i - q_i|`."""
    p, q = as_pair(p, q, normalize=normalize)
    return _tv(p, q)


def _tv(p, q):
    return min(1.0, 0.5 * float(np.sum(np.abs(p - q))))


def gumbel_collision(p, q, *, normalize=False):
    """Pr[a = b] for the Gumbel / exponential race, in O(n log n).

    Sorting items by the log-ratio :math:`\\ell_j = \\ln p_j - \\ln q_j`,
    :math:`\\sum_j \\max(p_j/p_i, q_j/q_i) = A_i / p_i + B_i / q_i` with
    :math:`A_i = \\sum_{\\ell_j \\ge \\ell_i} p_j` and :math:`B_i = \\sum_{\\ell_j < \\ell_i} q_j`.
    Comparing logs (not p/q) keeps the order exact for entries near 1e-300, and both partial
    sums are accumulated from their own end so no difference of near-equal sums is taken.

    Examples
    --------
    >>> gumbel_collision([0.5, 0.5], [0.5, 0.5])
    1.0
    """
    p, q = as_pair(p, q, normalize=normalize)
    return _gumbel(p, q)


def _gumbel(p, q):
    live = (p > 0) | (q > 0)
    pl, ql = p[live], q[live]
    with np.errstate(divide="ignore"):
        ratio = np.log(pl) - np.log(ql)  # +inf where q = 0, -inf where p = 0
    order = np.argsort(ratio)
    r_sorted, p_sorted, q_sorted = ratio[order], pl[order], ql[order]
    # items tied in ratio form runs; every member of a run counts the whole run as ">="
    k = np.arange(r_sorted.size)
    run_start = np.maximum.accumulate(np.where(np.r_[True, r_sorted[1:] != r_sorted[:-1]], k, 0))
    p_suffix = np.cumsum(p_sorted[::-1])[::-1]  # accumulated from its own (top) end
    q_prefix = np.r_[0.0, np.cumsum(q_sorted)]
    both = (p_sorted > 0) & (q_sorted > 0)
    start = run_start[both]
    with np.errstate(over="ignore"):
        denom = p_suffix[start] / p_sorted[both] + q_prefix[start] / q_sorted[both]
    return float(min(1.0, np.sum(1.0 / denom)))  # rounding can exceed 1 by an ulp


def wmh_joint_law(p, q, *, normalize=False):
    """Joint law of (a, b) under dart-throwing weighted MinHash, an (n, n) matrix.

    :math:`\\Pr[a=i, b=j] = ([i=j] m_i + (p_i - m_i) q_j + p_i (q_j - m_j)) / (1 + D)`:
    the first dart below either bar lands in column i w.p. :math:`M_i / (1 + D)`; below
    :math:`m_i` both stop, otherwise the party still running draws afresh from its own law.
    """
    p, q = as_pair(p, q, normalize=normalize)
    m = np.minimum(p, q)
    law = np.outer(p - m, q) + np.outer(p, q - m)
    law[np.diag_indices_from(law)] += m
    return law / float(np.sum(np.maximum(p, q)))


def wmh_collision(p, q, *, normalize=False):
    """Pr[a = b] for dart-throwing weighted MinHash, counting different darts in a column."""
    p, q = as_pair(p, q, normalize=normalize)
    return _wmh(p, q)


def _wmh(p, q):
    m = np.minimum(p, q)
    num = np.sum(m) + np.sum((p - m) * q) + np.sum((q - m) * p)
    return float(min(1.0, num / np.sum(np.maximum(p, q))))


def weighted_jaccard(p, q, *, normalize=False):
    """Same-dart part of WMH: :math:`\\sum_i m_i / \\sum_i M_i = (1 - D)/(1 + D)`."""
    p, q = as_pair(p, q, normalize=normalize)
    return float(np.sum(np.minimum(p, q)) / np.sum(np.maximum(p, q)))


def independent_collision(p, q, *, normalize=False):
    """Pr[a = b] for independent sampling, :math:`\\sum_i p_i q_i`."""
    p, q = as_pair(p, q, normalize=normalize)
    return float(np.dot(p, q))


def gumbel_lower_bound(p, q, *, normalize=False):
    """The paper's bound :math:`\\sum_i m_i / (m_i + \\sum_j M_j - M_i) \\le J_P`."""
    p, q = as_pair(p, q, normalize=normalize)
    m = np.minimum(p, q)
    big = np.maximum(p, q)
    total = float(np.sum(big))
    live = m > 0
    return float(np.sum(m[live] / (m[live] + (total - big[live]))))


def worst_case_bound(D):
    """:math:`(1 - D)/(1 + D)`, the best guarantee at distance D (Bavarian et al. 2020)."""
    if isinstance(D, (bool, np.bool_)) or not isinstance(D, (int, float, np.floating, np.integer)):
        raise TypeError(f"D must be a real number, got {D!r}")
    D = float(D)
    if not 0.0 <= D <= 1.0:
        raise ValueError(f"D must lie in [0, 1], got {D!r}")
    return (1.0 - D) / (1.0 + D)


def collision_probability(p, q, protocol, *, normalize=False, drafts=None):
    """Exact Pr[a = b] for ``protocol`` in ``PROTOCOLS``, or for ``"gls"`` Pr[a in the list of
    ``drafts`` drafts] (``drafts`` is required for ``"gls"`` and refused for the others).

    Examples
    --------
    >>> collision_probability([1.0, 0.0], [0.5, 0.5], "optimal")
    0.5
    >>> collision_probability([0.5, 0.5], [0.5, 0.5], "gls", drafts=2)
    1.0
    """
    as_choice(protocol, "protocol", PROTOCOLS + LIST_PROTOCOLS)
    _check_drafts(protocol, drafts)
    p, q = as_pair(p, q, normalize=normalize)
    if protocol == "gls":
        return list_matching_probability(p, q, drafts)
    if protocol == "gumbel":
        return _gumbel(p, q)
    if protocol in ("wmh", "wmh-darts"):
        return _wmh(p, q)
    if protocol == "optimal":
        return 1.0 - _tv(p, q)
    return float(np.dot(p, q))


def _check_drafts(protocol, drafts):
    """``drafts`` must be given for a list protocol and left out (None) for the others."""
    if protocol in LIST_PROTOCOLS and drafts is None:
        raise ValueError(f"protocol {protocol!r} needs drafts=K, the number of drafts")
    if protocol not in LIST_PROTOCOLS and drafts is not None:
        raise ValueError(f"drafts applies to {', '.join(LIST_PROTOCOLS)} only, not {protocol!r}")

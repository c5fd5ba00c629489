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
* The list coupling with K drafts (``"gls"``, :mod:`coupling.simulate.multidraft`): Pr[target's item
in
  the list], by :func:`coupling.simulate.multidraft.list_matching` (per item: its ``by_item``).
"""

from typing import NamedTuple

import numpy as np
from coupling.simulate.multidraft import list_matching
from coupling.simulate.validation import as_choice, as_pair, as_real

__all__ = [
    "LIST_PROTOCOLS",
    "PROTOCOLS",
    "GapSplit",
    "collision_probability",
    "gap_split",
    "gumbel_collision",
    "gumbel_lower_bound",
    "independent_collision",
    "per_item_collision",
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
    Comparing logs (not p/q) keeps the order exact for entries near 1e-300, both partial
    sums are accumulated from their own end so no difference of near-equal sums is taken, and
    each term is evaluated as :math:`m_i / (A_i m_i/p_i + B_i m_i/q_i)`, which cannot
    overflow (subnormal entries included).

    Examples
    --------
    >>> gumbel_collision([0.5, 0.5], [0.5, 0.5])
    1.0
    """
    p, q = as_pair(p, q, normalize=normalize)
    return _gumbel(p, q)


def _gumbel(p, q):
    return float(min(1.0, np.sum(_gumbel_items(p, q))))  # rounding can exceed 1 by an ulp


def _gumbel_items(p, q):
    """G_i = 1 / (A_i / p_i + B_i / q_i) for items with p_i q_i > 0, zero elsewhere."""
    out = np.zeros(p.size)
    live = np.flatnonzero((p > 0) | (q > 0))
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
    pb, qb = p_sorted[both], q_sorted[both]
    # 1 / (A/p + B/q) = m / (A m/p + B m/q) with m = min(p, q): both ratios are <= 1, so
    # nothing overflows even for subnormal p_i or q_i, and the result is not flushed to 0
    m = np.minimum(pb, qb)
    out[live[order[both]]] = m / (p_suffix[start] * (m / pb) + q_prefix[start] * (m / qb))
    return out


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
    return float(min(1.0, np.sum(_wmh_items(p, q))))


def _wmh_items(p, q):
    m = np.minimum(p, q)
    return (m + (p - m) * q + (q - m) * p) / np.sum(np.maximum(p, q))


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
    D = as_real(D, "D", 0.0, 1.0)
    return (1.0 - D) / (1.0 + D)


def per_item_collision(p, q, protocol, *, normalize=False, drafts=None):
    """Pr[a = b = i] for every item i under ``protocol`` in ``PROTOCOLS``, an (n,) array; for
    ``"gls"`` (``drafts`` = K, required there and refused elsewhere) Pr[the target's item is i
    and i is in the list], :func:`coupling.simulate.multidraft.list_matching`'s ``by_item``.

    * ``gumbel``: :math:`G_i = p_i q_i / \\sum_j \\max(p_i q_j, p_j q_i)` (0 unless
      :math:`p_i q_i > 0`), in O(n log n) as in :func:`gumbel_collision`;
    * ``wmh`` and ``wmh-darts``: :math:`W_i = (m_i + (p_i - m_i) q_i + (q_i - m_i) p_i)/(1 + D)`,
      the diagonal of :func:`wmh_joint_law`;
    * ``optimal``: :math:`m_i = \\min(p_i, q_i)`; ``independent``: :math:`p_i q_i`.

    Each sums to the protocol's Pr[a = b]. :math:`G_i \\ge W_i` for every item
    (``proofs/pareto.py`` proves it for every n), with equality for example when P = Q,
    when either is a point mass, or when the supports are disjoint.

    Examples
    --------
    >>> per_item_collision([0.5, 0.5, 0.0], [0.5, 0.0, 0.5], "optimal")
    array([0.5, 0. , 0. ])
    """
    as_choice(protocol, "protocol", PROTOCOLS + LIST_PROTOCOLS)
    _check_drafts(protocol, drafts)
    p, q = as_pair(p, q, normalize=normalize)
    if protocol == "gls":
        return list_matching(p, q, drafts).by_item
    return _ITEMS[protocol](p, q)


def collision_probability(p, q, protocol, *, normalize=False, drafts=None):
    """Exact Pr[a = b] for ``protocol`` in ``PROTOCOLS``, or for ``"gls"`` Pr[a in the list of
    ``drafts`` drafts] (``drafts`` is required for ``"gls"`` and refused for the others): the
    sum of :func:`per_item_collision` (clipped to 1 against rounding).

    Examples
    --------
    >>> collision_probability([1.0, 0.0], [0.5, 0.5], "optimal")
    0.5
    >>> collision_probability([0.5, 0.5], [0.5, 0.5], "gls", drafts=2)
    1.0
    """
    items = per_item_collision(p, q, protocol, normalize=normalize, drafts=drafts)
    return float(min(1.0, np.sum(items)))


def _check_drafts(protocol, drafts):
    """``drafts`` must be given for a list protocol and left out (None) for the others."""
    if protocol in LIST_PROTOCOLS and drafts is None:
        raise ValueError(f"protocol {protocol!r} needs drafts=K, the number of drafts")
    if protocol not in LIST_PROTOCOLS and drafts is not None:
        raise ValueError(f"drafts applies to {', '.join(LIST_PROTOCOLS)} only, not {protocol!r}")


_ITEMS = {
    "gumbel": _gumbel_items,
    "wmh": _wmh_items,
    "wmh-darts": _wmh_items,
    "optimal": np.minimum,
    "independent": np.multiply,
}


class GapSplit(NamedTuple):
    """How the gap J_P - WMH splits over the items (:func:`gap_split`)."""

    total: float  #: J_P - WMH = sum over items of G_i - W_i (every term >= 0)
    top: np.ndarray  #: (top,) the largest G_i - W_i, descending; zero-padded when n < top
    items: np.ndarray  #: (top,) their item indices, -1 for padding


def gap_split(p, q, *, top=10, normalize=False):
    """The per-item gaps :math:`G_i - W_i` between Gumbel and index-level WMH, largest first.

    ``top`` (an int >= 1) is how many items to keep; the share of the gap carried by the
    first k of them is ``cumsum(top_gaps)[k - 1] / total``. Returns a :class:`GapSplit`.

    Examples
    --------
    >>> s = gap_split([0.5, 0.3, 0.2], [0.2, 0.5, 0.3], top=2)
    >>> round(s.total, 4), s.items.tolist()
    (0.0474, [2, 1])
    """
    if isinstance(top, (bool, np.bool_)) or not isinstance(top, (int, np.integer)):
        raise TypeError(f"top must be an int, got {top!r}")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    p, q = as_pair(p, q, normalize=normalize)
    gaps = _gumbel_items(p, q) - _wmh_items(p, q)
    keep = min(int(top), gaps.size)
    idx = np.argsort(-gaps, kind="stable")[:keep]
    out_gaps = np.zeros(int(top))
    out_items = np.full(int(top), -1, np.int64)
    out_gaps[:keep] = gaps[idx]
    out_items[:keep] = idx
    return GapSplit(float(np.sum(gaps)), out_gaps, out_items)

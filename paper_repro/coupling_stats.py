r"""What the coupling experiment records at one position: the paper's quantities for a pair of
next-token distributions, how the Gumbel-WMH gap splits over the items, and the list
coupling's matching probability with K drafts.

Per item i (with :math:`m_i = \min(p_i, q_i)`), the probability that both parties output i is

.. math:: G_i = \frac{p_i q_i}{\sum_j \max(p_i q_j, p_j q_i)} \ \text{(Gumbel)}, \qquad
          W_i = \frac{m_i + (p_i - m_i) q_i + (q_i - m_i) p_i}{1 + D} \ \text{(WMH)},

and :math:`\sum_i G_i - W_i` is the gap :math:`J_P - \text{WMH} \ge 0` (every term is >= 0,
the Pareto claim); :func:`coupling.simulate.exact.gap_split` keeps the largest terms. With K drafts
(:mod:`coupling.simulate.multidraft`), the target's token is in the drafter's list with the exact
probability :func:`~coupling.simulate.multidraft.list_matching_probability` (K = 1 is :math:`J_P`),
at least the list matching lemma :func:`~coupling.simulate.multidraft.list_matching_bound`.
"""

import numpy as np
from coupling.simulate import exact
from coupling.simulate.montecarlo import estimate
from coupling.simulate.multidraft import list_matching_bound, list_matching_probability

__all__ = ["TOP_ITEMS", "list_row", "position_row", "tv_and_wmh"]

#: Items kept per position in the split of the Gumbel-WMH gap.
TOP_ITEMS = 10


def position_row(p, q, *, position, mc_trials, seed):
    """The paper's quantities for target ``p`` and drafter ``q`` at output ``position``.

    D_TV, the exact Pr[a = b] of Gumbel and WMH, their Monte Carlo estimates (``mc_trials``
    trials, keys ``position * 2**32 + trial``) with standard errors, 1 - D, (1 - D)/(1 + D),
    the Gumbel lower bound, the exact gap and its top per-item terms (``gap_items``, the items
    of the :data:`TOP_ITEMS` largest terms, and ``gap_values``, those terms, descending).
    """
    tv = exact.tv_distance(p, q)
    row = {"position": position, "tv": tv, "optimal": 1.0 - tv,
           "bound": exact.worst_case_bound(tv),
           "lower_bound": exact.gumbel_lower_bound(p, q)}  # fmt: skip
    for proto in ("gumbel", "wmh"):
        row[f"{proto}_exact"] = exact.collision_probability(p, q, proto)
        mc = estimate(p, q, proto, mc_trials, seed=seed, key=position * 2**32)
        row[f"{proto}_mc"], row[f"{proto}_se"] = mc.value, mc.stderr
    row["gap"] = row["gumbel_exact"] - row["wmh_exact"]
    split = exact.gap_split(p, q, top=TOP_ITEMS)
    row["gap_items"], row["gap_values"] = split.items.tolist(), split.top.tolist()
    return row


def list_row(p, q, drafts):
    """The list coupling at one position: ``{"drafts": [K...], "list_exact": [...],
    "list_bound": [...]}``, the exact Pr[target's token in the K-draft list] and the lemma's
    lower bound for each K in ``drafts``."""
    return {"drafts": list(drafts),
            "list_exact": [list_matching_probability(p, q, k) for k in drafts],
            "list_bound": [list_matching_bound(p, q, k) for k in drafts]}  # fmt: skip


def tv_and_wmh(p, q):
    """D_TV and WMH's exact Pr[a = b] for each row of two (N, V) arrays of distributions:
    :math:`D = 1 - \\sum_i m_i` and :math:`(\\sum_i m_i + (p_i - m_i) q_i + (q_i - m_i) p_i)
    / (1 + D)`, vectorised over the rows (the per-pair twins are in
    :mod:`coupling.simulate.exact`)."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    m = np.minimum(p, q)
    tv = 0.5 * np.abs(p - q).sum(axis=1)
    num = m.sum(axis=1) + ((p - m) * q).sum(axis=1) + ((q - m) * p).sum(axis=1)
    return tv, np.minimum(1.0, num / (1.0 + tv))

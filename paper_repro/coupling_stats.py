r"""What the coupling experiment records at one position: the paper's quantities for a pair of
next-token distributions, and how the Gumbel-WMH gap splits over the items.

Per item i (with :math:`m_i = \min(p_i, q_i)`), the probability that both parties output i is

.. math:: G_i = \frac{p_i q_i}{\sum_j \max(p_i q_j, p_j q_i)} \ \text{(Gumbel)}, \qquad
          W_i = \frac{m_i + (p_i - m_i) q_i + (q_i - m_i) p_i}{1 + D} \ \text{(WMH)},

and :math:`\sum_i G_i - W_i` is the gap :math:`J_P - \text{WMH} \ge 0` (every term is >= 0,
the Pareto claim). :func:`top_item_gaps` keeps the largest terms; since
:math:`G_i \le m_i` (the denominator is at least :math:`\max(p_i, q_i)`), an item with
:math:`m_i` below the current k-th largest gap cannot enter, so only the items of largest
:math:`m_i` are evaluated, each by the direct O(n) formula above.
"""

import numpy as np

from simulate import exact
from simulate.montecarlo import estimate

__all__ = ["TOP_ITEMS", "position_row", "top_item_gaps", "tv_and_wmh"]

#: Items kept per position in the split of the Gumbel-WMH gap.
TOP_ITEMS = 10


def top_item_gaps(p, q, top=TOP_ITEMS):
    """The ``top`` largest per-item gaps :math:`G_i - W_i`: (items, gaps), gaps descending.

    Examples
    --------
    >>> items, gaps = top_item_gaps(np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.5, 0.3]), 2)
    >>> items, np.round(gaps, 4).tolist()
    ([2, 1], [0.0243, 0.0231])
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    D = 0.5 * float(np.abs(p - q).sum())
    m = np.minimum(p, q)
    found, seen = [], set()  # (gap, item), best first
    width = min(m.size, 8 * top)  # candidates by largest m_i; all of them if the bound says so
    while True:
        head = np.argpartition(-m, width - 1)[:width] if width < m.size else np.arange(m.size)
        for i in head[np.lexsort((head, -m[head]))]:
            if i in seen:
                continue
            seen.add(int(i))
            if m[i] <= 0 or (len(found) >= top and m[i] <= found[top - 1][0]):
                return [i for _, i in found[:top]], [float(g) for g, _ in found[:top]]
            g = p[i] * q[i] / float(np.maximum(p[i] * q, p * q[i]).sum())
            w = (m[i] + (p[i] - m[i]) * q[i] + (q[i] - m[i]) * p[i]) / (1.0 + D)
            found.append((g - w, int(i)))
            found.sort(key=lambda f: (-f[0], f[1]))
        if width == m.size:
            break
        width = min(m.size, 4 * width)
    return [i for _, i in found[:top]], [float(g) for g, _ in found[:top]]


def position_row(p, q, *, position, mc_trials, seed):
    """The paper's quantities for target ``p`` and drafter ``q`` at output ``position``.

    D_TV, the exact Pr[a = b] of Gumbel and WMH, their Monte Carlo estimates (``mc_trials``
    trials, keys ``position * 2**32 + trial``) with standard errors, 1 - D, (1 - D)/(1 + D),
    the Gumbel lower bound, the exact gap and its top per-item terms.
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
    row["gap_items"], row["gap_values"] = top_item_gaps(p, q)
    return row


def tv_and_wmh(p, q):
    """D_TV and WMH's exact Pr[a = b] for each row of two (N, V) arrays of distributions:
    :math:`D = 1 - \\sum_i m_i` and :math:`(\\sum_i m_i + (p_i - m_i) q_i + (q_i - m_i) p_i)
    / (1 + D)`, vectorised over the rows (the per-pair twins are in :mod:`simulate.exact`)."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    m = np.minimum(p, q)
    tv = 0.5 * np.abs(p - q).sum(axis=1)
    num = m.sum(axis=1) + ((p - m) * q).sum(axis=1) + ((q - m) * p).sum(axis=1)
    return tv, np.minimum(1.0, num / (1.0 + tv))

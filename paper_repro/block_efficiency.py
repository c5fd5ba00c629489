r"""Block efficiency of speculative decoding from the acceptance flags along a path.

A run emits ``tokens`` tokens in rounds. A round starting at position :math:`t_0` drafts
:math:`g = \min(\gamma, N - t_0 - 1)` tokens and makes one target call; if the drafts at
:math:`t_0, \dots, t_0 + j - 1` are accepted and the one at :math:`t_0 + j` is not, it emits
:math:`j + 1` tokens (the accepted drafts and the target's token), and :math:`g + 1` when all
are accepted (the bonus). Block efficiency is tokens per target call, :math:`N / \text{calls}`.

* DISD: the draft at t is accepted iff the drafter's coupled sample equals the target's, given
  the true prefix, and the emitted tokens are the target's autoregressive path whatever the
  drafter. So the flags along the autoregressive path, one per position, determine the whole
  run for every gamma: :func:`replay` gives exactly what the decoder does.
* In law, given the path :math:`y`, every method's flags are independent across positions with
  :math:`\Pr[\text{flag}_t = 1 \mid y] = \alpha_t`: at a position whose prefix is fixed, the
  emitted token has law :math:`p_t` and the draft matches it with probability
  :math:`c_t(y_t) / p_t(y_t)`, where :math:`c_t(i)` is the per-item collision probability:
  :math:`\min(p_i, q_i)` for standard SD (accepted drafts of item i), :math:`G_i` for Gumbel,
  :math:`W_i` for WMH (:func:`acceptance_rates`). :func:`expected_block_efficiency` computes
  :math:`E[N/\text{calls} \mid \alpha]` exactly (a dynamic programme over round starts), which
  is the Rao-Blackwellised estimate of a method's block efficiency on that path.

Speed-up over autoregressive decoding for a drafter costing ``c`` target steps per token, a
verify pass costing one step (Leviathan et al. 2023): :math:`\text{BE} / (1 + \gamma c)`.
"""

from typing import NamedTuple

import numpy as np

__all__ = [
    "Replay",
    "acceptance_rates",
    "acceptance_rates_path",
    "expected_block_efficiency",
    "replay",
    "round_lengths",
    "speedup",
]


class Replay(NamedTuple):
    """What a decoder with these flags does (the counters of :class:`DecodeStats`)."""

    tokens: int
    target_calls: int
    drafter_calls: int
    drafted: int
    accepted: int
    accept_flags: list  #: the flags the decoder reads, in order (bonus positions read none)

    @property
    def block_efficiency(self):
        """Tokens emitted per target call."""
        return self.tokens / self.target_calls


def _check_gamma(gamma):
    if isinstance(gamma, bool) or not isinstance(gamma, (int, np.integer)) or gamma < 1:
        raise ValueError(f"gamma must be an int >= 1, got {gamma!r}")
    return int(gamma)


def replay(flags, gamma):
    """The run of a speculative decoder whose draft at position t is accepted iff ``flags[t]``.

    ``flags``: one bool per position of the emitted path (its length is the run's token count;
    the last position is never drafted). Returns a :class:`Replay`.

    Examples
    --------
    >>> r = replay([True, False, True, True, False, True], 2)
    >>> r.target_calls, r.accept_flags
    (3, [True, False, True, True])
    """
    gamma = _check_gamma(gamma)
    flags = [bool(f) for f in flags]
    n = len(flags)
    if n < 1:
        raise ValueError("flags must cover at least one position")
    t0 = calls = drafter_calls = drafted = accepted = 0
    read = []
    while t0 < n:
        g = min(gamma, n - t0 - 1)
        calls += 1
        drafter_calls += g
        j = 0
        while j < g and flags[t0 + j]:
            j += 1
        read += flags[t0 : t0 + min(j + 1, g)]
        drafted += min(j + 1, g)
        accepted += j
        t0 += j + 1
    return Replay(n, calls, drafter_calls, drafted, accepted, read)


def round_lengths(alpha, gamma):
    """Law of the tokens a round emits from each start: ``out[t0, k]`` is the probability that
    a round starting at ``t0`` emits ``k + 1`` tokens, flags independent with means ``alpha``."""
    a = np.asarray(alpha, dtype=float)
    n = a.size
    out = np.zeros((n, gamma + 1))
    for t0 in range(n):
        g = min(gamma, n - t0 - 1)
        run = 1.0  # probability that the first j drafts are accepted
        for j in range(g):
            out[t0, j] = run * (1.0 - a[t0 + j])
            run *= a[t0 + j]
        out[t0, g] = run
    return out


def expected_block_efficiency(alpha, gamma):
    """:math:`E[N / \\text{calls}]` for independent flags with ``Pr[flag_t] = alpha[t]``.

    A dynamic programme over (round start, calls so far), O(N^2 gamma). With 0/1 ``alpha`` it
    equals ``replay(alpha, gamma).block_efficiency``.
    """
    gamma = _check_gamma(gamma)
    a = np.asarray(alpha, dtype=float)
    if a.ndim != 1 or a.size < 1 or not np.all((a >= 0) & (a <= 1)):
        raise ValueError("alpha must be a non-empty vector of probabilities")
    n = a.size
    steps = round_lengths(a, gamma)
    law = np.zeros((n + 1, n + 1))  # law[t0, c]: P(a round starts at t0 after c calls)
    law[0, 0] = 1.0
    for t0 in range(n):
        if not law[t0].any():
            continue
        for k in range(min(gamma, n - t0 - 1) + 1):
            if steps[t0, k] > 0:
                law[t0 + k + 1, 1:] += steps[t0, k] * law[t0, :-1]
    calls = np.arange(n + 1)
    return float(np.sum(law[n, 1:] * n / calls[1:]))


def acceptance_rates(p, q, y, D=None):
    """Per-method probabilities that a draft matches the emitted token ``y``, given the prefix.

    Returns ``(sd, gumbel, wmh)``: :math:`\\min(p_y, q_y)/p_y`, :math:`G_y/p_y` with
    :math:`G_y = p_y q_y / \\sum_j \\max(p_y q_j, p_j q_y)`, and :math:`W_y / p_y` with
    :math:`W_y = (m_y + (p_y - m_y) q_y + (q_y - m_y) p_y) / (1 + D)`. Their expectations over
    :math:`y \\sim p` are 1 - D, Gumbel's and WMH's Pr[a = b].
    """
    py, qy = float(p[y]), float(q[y])
    if py <= 0:
        raise ValueError(f"the emitted token {y} has probability 0 under p")
    if D is None:
        D = 0.5 * float(np.abs(p - q).sum())
    m = min(py, qy)
    g = py * qy / float(np.maximum(py * q, p * qy).sum()) if qy > 0 else 0.0
    w = (m + (py - m) * qy + (qy - m) * py) / (1.0 + D)
    return m / py, g / py, w / py


def acceptance_rates_path(p, q, y, D):
    """:func:`acceptance_rates` at every position of a path at once: ``p``, ``q`` of shape
    (T, V) (the target's and drafter's distributions at each position), ``y`` the emitted
    tokens (T,), ``D`` their total variation distances (T,). Returns three (T,) arrays."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    rows = np.arange(p.shape[0])
    y = np.asarray(y, dtype=np.int64)
    py, qy = p[rows, y], q[rows, y]
    if np.any(py <= 0):
        t = int(np.flatnonzero(py <= 0)[0])
        raise ValueError(f"the emitted token {y[t]} has probability 0 under p at position {t}")
    m = np.minimum(py, qy)
    denom = np.maximum(py[:, None] * q, p * qy[:, None]).sum(axis=1)
    g = np.where(qy > 0, py * qy / np.where(qy > 0, denom, 1.0), 0.0)
    w = (m + (py - m) * qy + (qy - m) * py) / (1.0 + np.asarray(D, dtype=float))
    return m / py, g / py, w / py


def speedup(block_efficiency, gamma, cost_ratio):
    """Speed-up over autoregressive decoding: ``BE / (1 + gamma * c)``."""
    return block_efficiency / (1.0 + gamma * cost_ratio)

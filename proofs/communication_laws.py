"""Exact joint laws of the three communication protocols, written from their rules.

Each function follows its protocol step by step with Fractions and none of the closed forms
of :mod:`coupling.simulate.communication` and :mod:`coupling.simulate.exact_marginal`, so the
certificate of claim 6 (:mod:`coupling.proofs.communication`) can hold those closed forms against
them.
"""

from fractions import Fraction
from typing import NamedTuple

from coupling.simulate.digits import comparison_law
from coupling.simulate.exact_marginal import index_bits, quantize

__all__ = [
    "InteractiveRules",
    "interactive_law_rules",
    "marginals",
    "quantized_law_rules",
    "relay_law_dp",
]


class InteractiveRules(NamedTuple):
    """The interactive protocol followed through its digit exchanges (Fractions)."""

    joint: dict  #: {(a, b): probability}
    acceptance: list  #: Pr[the exchange keeps a | a], per item (p_a > 0; else None)
    trial_success: Fraction  #: Pr[one residual trial is taken]
    bits: Fraction  #: expected bits, by first-step analysis of the trial loop


def marginals(joint, n):
    """(Alice's law, Bob's law, Pr[a = b]) of a joint law {(a, b): probability}."""
    alice = [Fraction(0)] * n
    bob = [Fraction(0)] * n
    for (a, b), w in joint.items():
        alice[a] += w
        bob[b] += w
    return alice, bob, sum(w for (a, b), w in joint.items() if a == b)


def _add(joint, a, b, w):
    if w:
        joint[(a, b)] = joint.get((a, b), 0) + w


def interactive_law_rules(p, q):
    """Joint law and expected bits of the interactive protocol for dyadic Fractions p, q.

    Acceptance of a: the exchange of Alice's U p_a against Bob's q_a says "less"
    (:func:`~coupling.simulate.digits.comparison_law`, U uniform). A residual trial proposes c with
    probability q_c and is taken when the exchange of Alice's p_c against Bob's V q_c says
    "less". Bits: L for a, the acceptance exchange, and on rejection T = expected cost of the
    trial loop, which satisfies T = L + sum_c q_c (C'(c) + (1 - taken_c) T).
    """
    n = len(p)
    L = index_bits(n)
    accept = [comparison_law(x, y, random_party="alice") if x else None for x, y in zip(p, q)]
    trial = [comparison_law(y, x, random_party="bob") if y else None for x, y in zip(p, q)]
    taken = [q[c] * trial[c].less if q[c] else Fraction(0) for c in range(n)]
    success = sum(taken)
    rejected = sum(p[a] * (1 - accept[a].less) for a in range(n) if p[a])
    joint = {}
    for a in range(n):
        if not p[a]:
            continue
        _add(joint, a, a, p[a] * accept[a].less)
        for c in range(n):  # geometric series over trials: sum_t (1 - S)^t taken_c
            if taken[c]:
                _add(joint, a, c, p[a] * (1 - accept[a].less) * taken[c] / success)
    bits = L + sum(p[a] * accept[a].bits for a in range(n) if p[a])
    if rejected:
        loop = (L + sum(q[c] * trial[c].bits for c in range(n) if q[c])) / success
        bits += rejected * loop
    acceptance = [accept[a].less if p[a] else None for a in range(n)]
    return InteractiveRules(joint, acceptance, success, bits)


def quantized_law_rules(p, q, bits_per_entry):
    """Joint law {(a, b): probability} of the quantized one-way protocol (Fractions).

    Flag F (probability s = sum f): a ~ F = f / s, Bob keeps a with probability
    min(1, q_a / F_a), else draws from (q - F)+; flag R: a ~ (p - f) / (1 - s), b ~ q.
    """
    n = len(p)
    f = [Fraction(c, 2**bits_per_entry) for c in quantize(p, bits_per_entry)]
    s = sum(f)
    joint = {}
    if s:
        big_f = [x / s for x in f]
        residual = [max(y - x, 0) for x, y in zip(big_f, q)]
        total = sum(residual)
        for a in range(n):
            if not big_f[a]:
                continue
            keep = min(1, q[a] / big_f[a])
            _add(joint, a, a, s * big_f[a] * keep)
            for b in range(n):
                if residual[b]:
                    _add(joint, a, b, s * big_f[a] * (1 - keep) * residual[b] / total)
    for a in range(n):
        for b in range(n):
            _add(joint, a, b, (p[a] - f[a]) * q[b])
    return joint


def relay_law_dp(p, q, extra):
    """Exact joint law {(a, b): probability} of the dart relay, by its cell chain.

    Relevant darts fall in A_i (under both bars), P'_i (under p only) or Q'_i (under q only)
    with probabilities min(p_i, q_i), (p_i - q_i)+, (q_i - p_i)+ over 1 + D."""
    n = len(p)
    A = [min(a, b) for a, b in zip(p, q)]
    Pp = [max(a - b, 0) for a, b in zip(p, q)]
    Qp = [max(b - a, 0) for a, b in zip(p, q)]
    rel = 1 + sum(Pp)  # total weight of relevant darts (A, P', Q')
    law = {}

    def search(a, weight, p_darts_left):
        """Bob looks for a Q' dart before the next ``p_darts_left`` P-darts; else q."""
        for _ in range(p_darts_left):
            for j in range(n):  # a Q' dart comes first
                if Qp[j]:
                    _add(law, a, j, weight * Qp[j] / rel)
            weight = weight * 1 / rel  # a P-dart comes first (A or P': weight sum p = 1)
        for j in range(n):  # failure: the first Q-dart after N, law q
            _add(law, a, j, weight * q[j])

    # Phase 0: relevant darts before Alice's first P-dart.
    # (i) the first relevant dart is a Q' dart j: Bob keeps j; the P-dart then has law p.
    for j in range(n):
        if Qp[j]:
            w = Qp[j] / rel
            for i in range(n):
                _add(law, i, i, w * A[i])
                _add(law, i, j, w * Pp[i])
    # (ii) the first relevant dart is a P-dart: in A (collision) or in P' (Bob searches).
    for i in range(n):
        _add(law, i, i, A[i] / rel)
        if Pp[i]:
            search(i, Pp[i] / rel, extra)
    return law

r"""Multi-draft DISD is exact in law, strongly invariant in its strong variant: exact enumeration.

The toy problem of :mod:`coupling.proofs.disd_exact` (vocabulary 3, horizon 3, draft length 2, a
target and two drafters as tables of conditional probabilities with denominator ``N``) with K draft
chains. The decoder's control flow is run as ``coupling.decoding.multidraft`` runs it:
chain k drafts with slot k's noise, the target's token at each position is a race over the slots in
A_t (``strong``: all K; ``conditional``: the chains that matched every token of the round so
far, all K at the round's first position), chains that differ from it drop out, no survivor
ends the round with the target's token, a surviving chain earns the bonus.

What the exactness argument uses of the list race is only this: for a fixed set A of slots,
the race over A on fresh noise is a draw from the target's distribution, and slot k's draft a
draw from the drafter's. The enumeration uses a discrete list race with exactly that property,
as disd_exact uses the grid inverse CDF for the Gumbel race: per position, a uniformly random
order of the K slots and a grid uniform :math:`u_k = (m_k + 1/2)/N` per slot; slot k's draft
is the inverse CDF of q at :math:`u_k`, and the race over A is the inverse CDF of p at the
:math:`u_k` of A's first slot in the order (the slot whose clock wins, in the real race).
Enumerating all :math:`(K!\, N^K)^3` public outcomes gives each variant's output law as exact
Fractions; it must equal the target's autoregressive law for both drafters, and the strong
variant's output must be the same for both drafters on every outcome.
"""

import itertools
import math
from fractions import Fraction

from coupling.proofs._core import Certificate, timed
from coupling.proofs.disd_exact import GAMMA, HORIZON, _inverse_cdf, _str, target_law, toy_models

__all__ = ["multidraft_law", "verify_multidraft_exact"]

VARIANTS = ("strong", "conditional")


def _run(target, drafter, outcome, variant, k, denominator, mismatch_emits_draft=False):
    """One public outcome: ``outcome[t] = (order of the slots, grid index per slot)``."""

    def sample(probs, t, slot):
        return _inverse_cdf(probs, Fraction(2 * outcome[t][1][slot] + 1, 2 * denominator))

    def race(probs, t, slots):
        return sample(probs, t, min(slots, key=outcome[t][0].index))

    out = []
    while len(out) < HORIZON:
        t0 = len(out)
        g = min(GAMMA, HORIZON - t0 - 1)
        chains = [[] for _ in range(k)]
        for slot, chain in enumerate(chains):
            for j in range(g):
                chain.append(sample(drafter[tuple(out + chain)], t0 + j, slot))
        alive = list(range(k))
        emitted = None
        for j in range(g + 1):
            racers = range(k) if variant == "strong" or j == 0 else alive
            y = race(target[tuple(out)], t0 + j, racers)
            survivors = [c for c in alive if j < g and chains[c][j] == y]
            if not survivors:
                emitted = chains[alive[0]][j] if mismatch_emits_draft and j < g else y
                break
            alive = survivors
            out.append(y)
        out.append(emitted)
    return tuple(out[:HORIZON])


def multidraft_law(target, drafter, variant, k, denominator, **kwargs):
    """Exact output law of the variant with ``k`` chains and its output on every outcome."""
    per_position = [(order, ms) for order in itertools.permutations(range(k))
                    for ms in itertools.product(range(denominator), repeat=k)]  # fmt: skip
    weight = Fraction(1, len(per_position) ** HORIZON)
    law, outputs = {}, {}
    for outcome in itertools.product(per_position, repeat=HORIZON):
        seq = _run(target, drafter, outcome, variant, k, denominator, **kwargs)
        outputs[outcome] = seq
        law[seq] = law.get(seq, 0) + weight
    return law, outputs


@timed
def verify_multidraft_exact(*, seed=0, denominator=3, drafts=2, mismatch_emits_draft=False):
    """Certificate: both variants' output laws equal the target's for two drafters, and the
    strong variant's output never depends on the drafter. ``mismatch_emits_draft`` injects a
    wrong rule (a rejected position emits the surviving chain's draft)."""
    target, d1, d2 = toy_models(seed, denominator)
    truth = target_law(target)
    outcomes = math.factorial(drafts) * denominator**drafts  # per position
    detail = {"vocab": 3, "horizon": HORIZON, "gamma": GAMMA, "drafts": drafts,
              "public_outcomes": outcomes**HORIZON}  # fmt: skip
    for variant in VARIANTS:
        laws = []
        for name, drafter in (("drafter 1", d1), ("drafter 2", d2)):
            law, outputs = multidraft_law(target, drafter, variant, drafts, denominator,
                                          mismatch_emits_draft=mismatch_emits_draft)  # fmt: skip
            if law != truth:
                return Certificate("multidraft-exact", "exact enumeration", "refuted",
                                   detail=detail, counterexample={
                                       "variant": variant, "decoder": name, "law": _str(law),
                                       "target": _str(truth)})  # fmt: skip
            laws.append(outputs)
        differing = sum(laws[0][o] != laws[1][o] for o in laws[0])
        detail[f"{variant}_outcomes_differing_between_drafters"] = differing
        if variant == "strong" and differing:
            return Certificate("multidraft-exact", "exact enumeration", "refuted", detail=detail)
    return Certificate("multidraft-exact", "exact enumeration of every public outcome of a "
                       "discrete list race (both variants, two drafters)", "proved",
                       cases=4 * outcomes**HORIZON, detail=detail)  # fmt: skip

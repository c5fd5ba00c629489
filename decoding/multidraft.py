r"""Multi-draft drafter-invariant speculative decoding (Rowan, Phan, Khisti 2025, Algorithm 2,
and its strongly invariant variant).

Public noise :math:`S_i^{(t,k)}` keyed by the token's absolute position t (from the first real
token: :func:`~coupling.decoding.token_key`) and slot k
(:func:`coupling.simulate.gls_columns`: slot 0 is DISD-Gumbel's noise). Each round one drafter
proposes K chains of g tokens: chain k's token at position t is slot k's race on the drafter's
distribution given the chain's prefix (chains share their drafter calls while their prefixes
agree). One target pass scores all K chains
(:meth:`~coupling.decoding.lm.CachedLM.branch_logits`, a batch of K rows). At position t the
target's token is :math:`Y_t = \arg\min_{(i, k \in A_t)} S_i^{(t,k)} / p_i` with

* ``strong``: A_t = all K slots, always. Y_t is a function of the seed, the context and the
  target alone: the tokens are those of autoregressive sampling with the K-slot race
  (``reference_rule(seed, "gls", drafts=K)``), whatever the drafter.
* ``conditional``: A_t = the slots whose chains have matched every token of the round so far
  (all K at the round's first position). The output law is the target's, and the tokens
  depend on the drafts only through the draft tokens, not on the model that made them.

Chains whose token differs from Y_t drop out; when none is left Y_t is emitted and the round
ends; if some chain survives all g positions the target adds its bonus token
:math:`Y_{t_0+g}`. Both are exact in law: :math:`A_t` is a function of the noise at earlier
positions, so :math:`Y_t` is a race over a fixed set of fresh columns, a draw from
:math:`p_t` (``coupling.proofs.multidraft_exact`` enumerates it).
"""

import numpy as np
from coupling.decoding._loop import (
    DecodeResult,
    DecodeStats,
    as_tensor,
    at_eos,
    check_backend,
    check_draft,
    check_run,
    emit,
    host,
    resolve_backend,
    token_key,
)
from coupling.simulate import GLSColumns, gls_columns, gls_pick
from coupling.simulate.validation import as_seed

__all__ = ["MAX_DRAFTS", "VARIANTS", "MultiDraftRule", "check_drafts", "decode_multidraft",
           "multidraft"]  # fmt: skip

VARIANTS = ("strong", "conditional")
#: More chains than this would make one verify pass a batch of this many sequences.
MAX_DRAFTS = 64


def check_drafts(drafts):
    """Refuse a number of drafts that is not an int in [1, MAX_DRAFTS]."""
    if isinstance(drafts, bool) or not isinstance(drafts, (int, np.integer)):
        raise TypeError(f"drafts must be an int, got {drafts!r}")
    if not 1 <= drafts <= MAX_DRAFTS:
        raise ValueError(f"drafts must lie in [1, {MAX_DRAFTS}], got {drafts}")
    return int(drafts)


class MultiDraftRule:
    """The K-slot race at each position, over all slots (``strong``) or the surviving ones
    (``conditional``).

    ``sample(p, t)`` is the K-slot race (the strong variant's reference); ``draft_slots(q, t)``
    the K slots' drafts from one drafter distribution; ``verify_chains(P, chains, t0)`` one
    round; ``verify_block`` the same for a single chain in slot 0, so the rule also runs in
    :func:`~coupling.decoding.decode` (with ``gamma=0``: the reference). With ``torch``
    a round races every row of the block on the device at once and resolves the surviving slots
    there, reading back two integers; with ``numba`` the host races the rows of the surviving
    chain position by position. Both pick the lowest surviving chain's row and agree token
    for token (near-ties aside, :mod:`coupling.simulate._torch`).
    """

    def __init__(self, seed, drafts, variant="strong", backend="auto"):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.seed = as_seed(seed)
        self.drafts = check_drafts(drafts)
        self.variant = variant
        self.backend = check_backend(backend)

    def _columns(self, p, key):
        if resolve_backend(self.backend, p) == "torch":
            return gls_columns(as_tensor(p), self.drafts, seed=self.seed, key=key, normalize=True)
        return gls_columns(host(p), self.drafts, seed=self.seed, key=key, normalize=True)

    def sample(self, p, t):
        """The K-slot race on ``p`` at t (an int): the strong variant's reference token."""
        return int(gls_pick(self._columns(p, t), np.ones(self.drafts, bool)))

    def draft_slots(self, q, t):
        """Slot k's draft from ``q`` at position t, for k = 0 .. K-1 (a list of ints)."""
        items = self._columns(q, t).item
        return [int(x) for x in (items.tolist() if hasattr(items, "tolist") else items)]

    def draft(self, q, t):
        """Slot 0's draft from ``q`` at t (DISD-Gumbel's draft)."""
        return self.draft_slots(q, t)[0]

    def verify_block(self, P, Q, drafts, t0):
        """One round with a single chain in slot 0: (accepted drafts, next token)."""
        return self.verify_chains(P[None], [list(drafts)], t0)[:2]

    def _racers(self, alive, j):
        """The slots racing at the round's position j, given the surviving chains."""
        mask = np.ones(self.drafts, bool)
        if self.variant == "conditional" and j > 0:
            mask[:] = False
            mask[alive] = True
        return mask

    def verify_chains(self, P, chains, t0):
        """One round: ``P`` (C, g + 1, V) the target's distributions along the C <= K chains
        (``P[c, j]`` after the context and ``chains[c][:j]``), chain c drafted in slot c.
        Returns (accepted, token, chain): the accepted count, the token emitted after them and
        the lowest chain holding the accepted tokens."""
        g = len(chains[0])
        if resolve_backend(self.backend, P) == "numba":
            P = host(P)
            alive = list(range(len(chains)))
            for j in range(g + 1):
                y = gls_pick(self._columns(P[alive[0], j], t0 + j), self._racers(alive, j))
                if j == g:
                    return g, y, alive[0]
                survivors = [c for c in alive if chains[c][j] == y]
                if not survivors:
                    return j, y, alive[0]
                alive = survivors
        return self._verify_torch(as_tensor(P), chains, t0)

    def _verify_torch(self, P, chains, t0):
        import torch

        c, rows, v = P.shape
        dev = P.device
        keys = torch.arange(t0, t0 + rows, device=dev).repeat(c)
        clock, item = self._columns(P.reshape(-1, v), keys)
        clock, item = clock.reshape(c, rows, -1), item.reshape(c, rows, -1)
        x = torch.tensor(chains, dtype=torch.int64).reshape(c, rows - 1).to(dev)
        alive = torch.ones(c, dtype=torch.bool, device=dev)
        every = torch.ones(self.drafts, dtype=torch.bool, device=dev)
        ys, survived, reps = [], [], []
        for j in range(rows):
            row = torch.argmax(alive.to(torch.int8))  # the lowest surviving chain (0 if none)
            reps.append(row)
            mask = every
            if self.variant == "conditional" and j > 0:
                mask = torch.zeros_like(every)
                mask[:c] = alive
                mask = mask | ~alive.any()  # past the round's end: any slots, never read
            ys.append(gls_pick(GLSColumns(clock[row, j], item[row, j]), mask))
            if j < rows - 1:
                alive = alive & (x[:, j] == ys[-1])
                survived.append(alive.any())
        # survival only ever stops, so the count of surviving positions is the accepted prefix
        accepted = torch.stack(survived).sum().reshape(1) if survived else torch.zeros(
            1, dtype=torch.int64, device=dev)  # fmt: skip
        token = torch.stack(ys).index_select(0, accepted)
        chain = torch.stack(reps).index_select(0, accepted)
        return tuple(torch.cat([accepted, token, chain]).tolist())


def _draft_chains(drafter, rule, sampling, context, g, t0, stats, target):
    """K chains of g drafts, chain k from slot k; one drafter call per distinct prefix,
    depth first so that a cached drafter only rolls back to where chains part."""
    chains = [[] for _ in range(rule.drafts)]
    slots_at = {}  # a drafted prefix -> the K slots' drafts after it
    for k, chain in enumerate(chains):
        for j in range(g):
            node = tuple(chain)
            if node not in slots_at:
                q = sampling.probs(drafter.next_token_logits(context + chain))
                if stats.drafter_calls == 0:
                    check_draft(q, target)
                stats.drafter_calls += 1
                slots_at[node] = rule.draft_slots(q, t0 + j)
            chain.append(slots_at[node][k])
    return chains


def decode_multidraft(target, drafter, rule, prompt_ids, *, gamma, max_new_tokens, sampling,
                      eos_token_id=None):  # fmt: skip
    """Generate with ``target`` (a :class:`~coupling.decoding.lm.CachedLM`), ``drafter`` and a
    :class:`MultiDraftRule`: per round K chains of ``g = min(gamma, remaining - 1)`` drafts,
    one batched target pass, then the accepted prefix and one token. Counters as for
    :func:`~coupling.decoding.decode`; ``drafter_calls`` counts distinct drafted
    prefixes."""
    prompt = [int(t) for t in prompt_ids]
    check_run(prompt, gamma, max_new_tokens, drafter)
    if drafter is None:
        raise ValueError("multi-draft decoding needs a drafter")
    import time

    stats = DecodeStats()
    out = []
    ends = at_eos(eos_token_id)
    start = time.perf_counter()
    target.reset()
    drafter.reset()
    while len(out) < max_new_tokens:
        g = min(gamma, max_new_tokens - len(out) - 1)
        key = token_key(len(prompt), len(out))
        context = prompt + out
        chains = _draft_chains(drafter, rule, sampling, context, g, key, stats, target)
        logits = target.branch_logits(context, chains) if g else target.logits(context, 1)[None]
        stats.target_calls += 1
        probs = sampling.probs(logits.reshape(-1, logits.shape[-1])).reshape(logits.shape)
        accepted, token, chain = rule.verify_chains(probs, chains if g else [[]], key)
        if emit(out, stats, chains[chain], accepted, token, ends):
            break
    stats.tokens = len(out)
    stats.seconds = time.perf_counter() - start
    return DecodeResult(out, stats)


def multidraft(target, drafter, prompt_ids, *, seed, drafts, gamma, max_new_tokens, sampling,
               variant="strong", eos_token_id=None, backend="auto"):  # fmt: skip
    """Multi-draft DISD with ``drafts`` chains of ``gamma`` tokens per target pass; returns a
    :class:`~coupling.decoding.DecodeResult`."""
    rule = MultiDraftRule(seed, drafts, variant, backend)
    return decode_multidraft(target, drafter, rule, prompt_ids, gamma=gamma,
                             max_new_tokens=max_new_tokens, sampling=sampling,
                             eos_token_id=eos_token_id)  # fmt: skip

r"""Multi-draft DISD runs replayed along their emitted paths, in batches.

A chain that survives a round holds exactly the tokens emitted so far, so its drafter's next
distribution is the drafter's :math:`q_t` along the emitted path; a round of
:func:`~coupling.decoding.decode_multidraft` is therefore fixed by the target's
:math:`p_t` and the drafter's :math:`q_t` along that path. At position t (round position j, active
slots A) the target's token is the race over A of slot columns ``gls_columns(p_t, K, key=t)``
(t the absolute position, :func:`~coupling.decoding.token_key`; all K slots for ``strong`` or
at j = 0); slot k's draft is ``gls_columns(q_t, K, key=t).item[k]``
with the same seed; slots whose draft differs from :math:`Y_t` leave A. The round ends after
:math:`Y_t` when A is empty, or after the bonus token at j = g (raced over the survivors) with
:math:`g = \min(\gamma, N - t_0 - 1)`: exactly the decoder's rounds, token for token, with one
target call per round and no K-row verify passes.

* :func:`replay_conditional` steps the target and the drafter in lockstep (one
  ``DynamicCache`` batch each, one row per (seed, K)): the path depends on the drafts.
* :func:`replay_strong` samples the K-slot race's autoregressive path once per (seed, K) (it
  does not depend on the drafter) and reads each drafter's logits along it teacher-forced.

Slot k's column does not depend on K, so rows with different K share one race of the largest.
"""

from typing import NamedTuple

import numpy as np
from coupling.decoding import token_key
from coupling.decoding.compat import forward, new_cache
from coupling.decoding.multidraft import VARIANTS, check_drafts
from coupling.paper_repro.paths import path_logits
from coupling.simulate import gls_columns, gls_pick

__all__ = ["MultiDraftReplay", "Rounds", "replay_conditional", "replay_strong", "strong_paths"]


class MultiDraftReplay(NamedTuple):
    """One replayed run: the decoder's tokens and counters."""

    seed: int
    drafts: int
    tokens: list
    target_calls: int
    accepted: int

    @property
    def block_efficiency(self):
        """Tokens emitted per target call."""
        return len(self.tokens) / self.target_calls


class Rounds:
    """The rounds of one run, fed position by position: :meth:`racers` (the slots the
    target's token at the next position races over), :meth:`drafting` (whether that position
    is drafted), then :meth:`advance` with the emitted token and the slots' drafts there."""

    def __init__(self, drafts, gamma, tokens, variant):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.k, self.gamma, self.n, self.variant = check_drafts(drafts), gamma, tokens, variant
        self.t = self.t0 = self.calls = self.accepted = 0
        self.alive = np.ones(self.k, bool)
        self.tokens = []

    def _g(self):
        return min(self.gamma, self.n - self.t0 - 1)

    def racers(self):
        """The slots the target's race runs over at the current position."""
        if self.variant == "strong" or self.t == self.t0:
            return np.ones(self.k, bool)
        return self.alive

    def drafting(self):
        """Whether the current position is still inside the round's drafts."""
        return self.t - self.t0 < self._g()

    def advance(self, y, drafts=None):
        """Emit ``y`` at the current position; ``drafts`` (K ints) when it was drafted."""
        j, g = self.t - self.t0, self._g()
        self.tokens.append(int(y))
        self.t += 1
        if j < g:
            self.alive = self.alive & (np.asarray(drafts[: self.k]) == y)
            if self.alive.any():
                return
        self.accepted += min(j, g)
        self.calls += 1
        self.t0 = self.t
        self.alive = np.ones(self.k, bool)


def _races(probs, rows, key):
    """Slot columns of each row's distribution at ``key``, one race of max K per seed."""
    clock = np.empty((len(rows), max(k for _, k in rows)))
    item = np.empty(clock.shape, np.int64)
    for seed in {s for s, _ in rows}:
        idx = [r for r, (s, _) in enumerate(rows) if s == seed]
        c = gls_columns(probs[idx], clock.shape[1], seed=seed, key=np.full(len(idx), key),
                        normalize=True)  # fmt: skip
        clock[idx], item[idx] = c.clock, c.item
    return clock, item


def _probs(sampling, logits):
    return np.array([sampling.probs(z) for z in logits])


def _check(rows, gamma, tokens):
    if not rows:
        raise ValueError("a replay needs at least one (seed, K) row")
    for _, k in rows:
        check_drafts(k)
    for name, v in (("gamma", gamma), ("tokens", tokens)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an int >= 1, got {v!r}")


def _lockstep(target_model, drafter, prompt_ids, rows, gamma, tokens, sampling, variant,
              temperatures=()):  # fmt: skip
    """Step the target (and the drafter, if any) along each row's emitted path. Without a
    drafter every position races all K slots and only the tokens are kept, with the draft
    items of the target at each of ``temperatures`` (arrays (rows, tokens, max K))."""
    import torch

    device = target_model.get_output_embeddings().weight.device
    models = [target_model]
    if drafter is not None and drafter.lm.model is not target_model:
        models.append(drafter.lm.model)
    caches = [new_cache(m) for m in models]
    runs = [Rounds(k, gamma, tokens, variant) for _, k in rows]
    kmax = max(k for _, k in rows)
    items = {temp: np.empty((len(rows), tokens, kmax), np.int64) for temp in temperatures}
    ids = torch.tensor([list(prompt_ids)] * len(rows), device=device)
    with torch.inference_mode():
        for t in range(tokens):
            outs = [forward(m, ids, c)[:, -1].to(torch.float64).cpu().numpy()
                    for m, c in zip(models, caches)]  # fmt: skip
            key = token_key(len(prompt_ids), t)
            clock, item = _races(_probs(sampling, outs[0]), rows, key)
            drafts = None
            if drafter is not None:
                zq = outs[-1] if len(outs) > 1 else outs[0]
                drafts = _races(_probs(sampling, zq / drafter.temperature), rows, key)[1]
            for temp, out in items.items():
                out[:, t] = _races(_probs(sampling, outs[0] / temp), rows, key)[1]
            ys = []
            for r, run in enumerate(runs):
                mask = np.zeros(clock.shape[1], bool)
                mask[: run.k] = run.racers()
                ys.append(int(gls_pick((clock[r], item[r]), mask)))
                if drafter is None:
                    run.tokens.append(ys[-1])
                else:
                    run.advance(ys[-1], drafts[r])
            ids = torch.tensor([[y] for y in ys], device=device)
    return runs, items


def _result(rows, runs):
    return [MultiDraftReplay(s, k, run.tokens, run.calls, run.accepted)
            for (s, k), run in zip(rows, runs)]  # fmt: skip


def replay_conditional(target_model, drafter, prompt_ids, rows, *, gamma, tokens, sampling):
    """The conditional variant's runs, one per ``(seed, K)`` row, continuing ``prompt_ids``:
    a list of :class:`MultiDraftReplay`. ``drafter`` is a
    :class:`~coupling.paper_repro.drafters.ModelDrafter` (its model and temperature are read)."""
    _check(rows, gamma, tokens)
    runs, _ = _lockstep(target_model, drafter, prompt_ids, rows, gamma, tokens, sampling,
                        "conditional")  # fmt: skip
    return _result(rows, runs)


def strong_paths(target_model, prompt_ids, rows, *, tokens, sampling, temperatures=()):
    """The K-slot race's autoregressive path of each ``(seed, K)`` row (token lists: the
    strong variant's tokens whatever the drafter), and ``{T: items}``: the slots' drafts of
    the target at temperature T along them, shape (rows, tokens, max K)."""
    _check(rows, 1, tokens)
    runs, items = _lockstep(target_model, None, prompt_ids, rows, 1, tokens, sampling,
                            "strong", temperatures)  # fmt: skip
    return [run.tokens for run in runs], items


def replay_strong(target_model, drafters, prompt_ids, rows, *, gamma, tokens, sampling):
    """The strong variant's runs per drafter: ``{name: [MultiDraftReplay per row]}`` for a
    dict of drafters. The path is sampled once; a drafter that is the target at another
    temperature is read along it in the same steps, any other teacher-forced."""
    _check(rows, gamma, tokens)
    same = {d.temperature for d in drafters.values() if d.lm.model is target_model}
    paths, same_items = strong_paths(target_model, prompt_ids, rows, tokens=tokens,
                                     sampling=sampling, temperatures=sorted(same))  # fmt: skip
    kmax = max(k for _, k in rows)
    out = {}
    for name, drafter in drafters.items():
        if drafter.lm.model is target_model:
            items = same_items[drafter.temperature]
        else:
            zq = path_logits(drafter.lm.model, prompt_ids, paths) / drafter.temperature
            keys = token_key(len(prompt_ids), np.arange(tokens))
            items = [gls_columns(_probs(sampling, z), kmax, seed=seed, key=keys,
                                 normalize=True).item
                     for (seed, _), z in zip(rows, zq)]  # fmt: skip
        runs = []
        for (_, k), path, row_items in zip(rows, paths, items):
            run = Rounds(k, gamma, tokens, "strong")
            for t, y in enumerate(path):
                run.advance(y, row_items[t] if run.drafting() else None)
            runs.append(run)
        out[name] = _result(rows, runs)
    return out

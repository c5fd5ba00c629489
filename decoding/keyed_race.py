r"""The public-randomness race as a transformers logits processor.

:class:`KeyedRace` turns a row of next-token scores into a point mass on the token that the
communication-free sampler picks:

.. math::

    y = \arg\min_i \frac{-\ln u(\text{seed}, t, i)}{p_i}, \qquad
    p = \mathrm{SamplingConfig}(T, k, p_{top})(\text{scores}),

the Gumbel race (or weighted MinHash with ``coupling="wmh"``) keyed by the seed, the token's
absolute position t in its sequence (counted from the row's first real token, so left padding
does not count: :func:`~coupling.decoding.token_key`) and the token id i. The scores it returns
are -inf everywhere but the winner (0 there), so greedy decoding (``do_sample=False``) emits
the race's winner: exactly the tokens of :func:`~coupling.decoding.autoregressive` with the same
seed and sampling settings.

With ``assistant_model=drafter`` the same call is drafter-invariant speculative decoding in
unmodified transformers: its assisted generation hands the logits processors of the call to
the assistant's own ``generate`` (``AssistedCandidateGenerator`` passes ``logits_processor``
through), so the drafter proposes the race's winner on its distribution, and the target, which
checks candidates against the argmax of its processed scores, accepts a draft iff it equals
the target's own race winner at that position. The emitted tokens are therefore the target's
race winners whatever the drafter (the acceptance rate, not the text, depends on it).
"""

import numpy as np
import torch
from coupling.decoding._loop import check_backend
from coupling.decoding.disd import COUPLINGS, DisdRule
from coupling.decoding.plan import as_row_seeds, check_left_mask, sampling_config
from transformers import LogitsProcessor

__all__ = ["KeyedRace", "race_rows"]


def race_rows(rules, seeds, probs, keys):
    """The race winner of each row of ``probs`` (R, V): row r raced by ``rules[seeds[r]]`` at
    ``keys[r]``. Rows sharing a seed are raced in one call. Returns an int64 tensor (R,) on
    ``probs``' device."""
    keys = torch.as_tensor(keys, dtype=torch.int64)
    out = torch.empty(len(seeds), dtype=torch.int64, device=probs.device)
    seeds_arr = np.asarray(seeds, dtype=np.uint64)
    for seed in dict.fromkeys(seeds):
        rows = torch.as_tensor(np.flatnonzero(seeds_arr == np.uint64(seed)))
        idx = rows.to(probs.device)
        tokens = rules[seed].sample_rows(probs[idx], keys[rows])
        out[idx] = torch.as_tensor(tokens, dtype=torch.int64).to(probs.device)
    return out


class KeyedRace(LogitsProcessor):
    r"""Scores that keep only the public-randomness race winner (see the module notes).

    Parameters
    ----------
    seed : int or sequence of int
        The public seed: one for every row, or one per row of the batch.
    temperature, top_k, top_p : float, int, float
        Applied to the scores exactly as :class:`~coupling.decoding.SamplingConfig` applies
        them (float64; top-k and top-p ties to the lowest index), before the race.
    coupling : {"gumbel", "wmh"}
        The race: Gumbel (exponential race) or weighted MinHash.
    attention_mask : tensor (B, L) or None
        The prompt's mask when the batch is left-padded: row r's positions then count from
        its first real token. Not needed for an unpadded prompt.
    backend : {"auto", "numba", "torch"}
        Where the race runs (``auto``: on the scores' device when it is an accelerator, numba
        on the CPU; the reference it is compared with must use the same).

    A logits processor first sees the batch at ``generate``'s first step (after the prompt's
    pass): a seed list or ``attention_mask`` of the wrong number of rows is refused there.

    Examples
    --------
    >>> import torch
    >>> race = KeyedRace(seed=0)
    >>> scores = torch.tensor([[0.0, 1.0, 2.0]])
    >>> out = race(torch.tensor([[5, 6]]), scores)
    >>> out.isinf().sum().item(), out.argmax().item() == race.winners(torch.tensor([[5, 6]]),
    ...                                                               scores).item()
    (2, True)
    """

    def __init__(self, seed, *, temperature=1.0, top_k=0, top_p=1.0, coupling="gumbel",
                 attention_mask=None, backend="auto"):  # fmt: skip
        if coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {', '.join(COUPLINGS)}, got {coupling!r}")
        self.sampling = sampling_config(temperature, top_k, top_p, "for greedy decoding call "
                                        "generate(do_sample=False) without KeyedRace")
        self.coupling = coupling
        self.backend = check_backend(backend)
        self.seeds = as_row_seeds(seed)
        self.per_row = isinstance(seed, list | tuple) or getattr(seed, "ndim", 0) == 1
        self._rules = {s: DisdRule(s, coupling, backend) for s in self.seeds}
        self.pads = None
        if attention_mask is not None:
            mask = check_left_mask(attention_mask)
            self.pads = mask.shape[1] - mask.to(torch.int64).sum(dim=1)
        if self.per_row and self.pads is not None and len(self.pads) != len(self.seeds):
            raise ValueError(f"seed lists {len(self.seeds)} seeds but attention_mask has "
                             f"{len(self.pads)} rows")  # fmt: skip

    def keys(self, input_ids):
        """Each row's key: the absolute position of the token about to be chosen, counted from
        the row's first real token (the sequence length less the row's left padding)."""
        rows, length = input_ids.shape
        keys = torch.full((rows,), length, dtype=torch.int64)
        if self.pads is not None:
            if len(self.pads) != rows:
                raise ValueError(f"KeyedRace was given an attention_mask of {len(self.pads)} "
                                 f"rows, but the batch has {rows}")  # fmt: skip
            keys -= self.pads
        return keys

    def winners(self, input_ids, scores):
        """The race winner of every row: an int64 tensor (rows,) on the scores' device."""
        rows = scores.shape[0]
        seeds = self.seeds if self.per_row else self.seeds * rows
        if len(seeds) != rows:
            raise ValueError(f"KeyedRace has {len(seeds)} seeds, one per row, but the batch has "
                             f"{rows} rows")  # fmt: skip
        probs = self.sampling.probs(scores)
        return race_rows(self._rules, seeds, probs, self.keys(input_ids))

    def __call__(self, input_ids, scores):
        """Scores (rows, V) -> the same shape and dtype, -inf but 0 at each row's winner."""
        won = self.winners(input_ids, scores)
        out = torch.full_like(scores, -torch.inf)
        return out.scatter_(1, won[:, None].to(scores.device), 0.0)

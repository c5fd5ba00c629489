"""A batch of sequences behind one KV cache whose rows advance by different amounts.

Speculative decoding in a batch feeds every row the same number of columns per pass, but rows
accept different numbers of drafts. :class:`BatchStream` keeps one rectangular
:class:`~transformers.DynamicCache` and a boolean mask over its columns: a rejected draft's
column is not cropped (a row of a rectangular cache cannot be shortened alone) but masked, so no
later query attends to it, and each row's position ids count only its real tokens. A row that
feeds fewer tokens than the widest row is right-aligned with masked holes on its left, so the
last ``keep`` columns always hold every row's newest predictions. Left padding of a prompt is
the same thing: holes before the first real token.

Row r's logits are those of its real tokens alone, at their true positions: masking a column
removes it from every attention softmax (weight exactly 0), so the batch changes results only
through the order of floating-point sums, not through what is attended to. Holes are bounded:
the columns every row drops are cropped at once, and :meth:`BatchStream.compact` re-packs the
cache (each row's real columns moved together, right-aligned) once the holes exceed a slack,
so the cache stays within the padded prompt, the new tokens and a few rounds of drafts. A
sliding attention window (Gemma-2's local layers, Mistral) counts cache columns, so a row's
left padding and its remaining holes shorten its window in a batch: a batched row equals its
single run while its padded length stays within the window (transformers' own batched
generation shares the padding part of this).
"""

import torch
from coupling.decoding.compat import forward, new_cache

__all__ = ["HOLE", "BatchStream"]

#: The token id fed in a masked column (any valid id: nothing attends to it).
HOLE = 0


def _gather_columns(x, index):
    """``x`` (B, H, S, D) keeping columns ``index`` (B, W) of each row: (B, H, W, D)."""
    rows, heads, _, dim = x.shape
    return x.gather(2, index[:, None, :, None].expand(rows, heads, index.shape[1], dim))


class BatchStream:
    """One model's KV cache over a batch of rows, with per-row masks and positions.

    Parameters
    ----------
    model : transformers PreTrainedModel
        A decoder-only causal LM (see :func:`coupling.decoding.compat.supports_masked_cache`).
    rows : int
        The batch size.
    """

    def __init__(self, model, rows):
        self.model = model
        self.device = model.get_output_embeddings().weight.device
        self.cache = new_cache(model)
        self.mask = torch.zeros((rows, 0), dtype=torch.bool, device=self.device)
        self.pos = torch.zeros(rows, dtype=torch.int64, device=self.device)
        self.calls = 0

    @property
    def rows(self):
        """The current number of rows."""
        return self.mask.shape[0]

    def feed(self, tokens, keep):
        """Feed each row its list of new tokens (lists of different lengths are right-aligned
        with holes); return the logits of the last ``keep`` columns, (rows, keep, V), on the
        model's output device. Row r's ``[r, -1]`` predicts the token after its last fed one."""
        width = max(len(t) for t in tokens)
        if width == 0 or keep > width:
            raise ValueError(f"cannot keep {keep} columns of a feed {width} wide")
        ids = torch.full((len(tokens), width), HOLE, dtype=torch.int64)
        valid = torch.zeros((len(tokens), width), dtype=torch.bool)
        for r, row in enumerate(tokens):
            if row:
                ids[r, width - len(row) :] = torch.as_tensor(row, dtype=torch.int64)
                valid[r, width - len(row) :] = True
        ids, valid = ids.to(self.device), valid.to(self.device)
        mask = torch.cat([self.mask, valid], dim=1)
        positions = (self.pos[:, None] + valid.cumsum(dim=1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = forward(self.model, ids, self.cache, logits_to_keep=keep,
                             attention_mask=mask.to(torch.int64),
                             position_ids=positions)  # fmt: skip
        self.mask = mask
        self.pos = self.pos + valid.sum(dim=1)
        self.calls += 1
        return logits[:, -keep:]

    def drop_last(self, counts):
        """Hide each row's last ``counts[r]`` real tokens (rejected drafts) from later passes:
        the columns every row drops are cropped from the cache (a batch of one keeps no
        holes), the rest masked."""
        counts = [int(c) for c in counts]  # host ints: deciding on them reads nothing back
        if not any(counts):
            return
        common = self._trailing_real(min(counts))
        if common:
            self.cache.crop(-common)  # negative: columns to drop from the end
            self.mask = self.mask[:, :-common]
            self.pos = self.pos - common
            counts = [c - common for c in counts]
            if not any(counts):
                return
        drop = torch.as_tensor(counts, dtype=torch.int64).to(self.device)
        # a column is dropped when fewer than counts[r] real columns lie at or after it
        at_or_after = self.mask.flip(1).to(torch.int64).cumsum(dim=1).flip(1)
        self.mask = self.mask & (at_or_after > drop[:, None])
        self.pos = self.pos - drop

    def _trailing_real(self, tail):
        """``tail`` (every row's least drop) when the last ``tail`` columns are real in every
        row, so every row drops them all; else 0."""
        if tail == 0:
            return 0
        return tail if bool(self.mask[:, -tail:].all()) else 0

    def holes(self):
        """Columns some row does not use: the cache's length less the longest row's."""
        return self.mask.shape[1] - int(self.mask.sum(dim=1).max()) if self.rows else 0

    def compact(self, slack):
        """Re-pack the cache when more than ``slack`` columns are holes: each row's real
        columns, in order, right-aligned over the longest row's length (shorter rows keep
        masked columns on the left). Positions and logits do not change."""
        if self.holes() <= slack:
            return
        width = int(self.mask.sum(dim=1).max())
        columns = torch.arange(self.mask.shape[1], device=self.device)
        kept = torch.where(self.mask, columns, -1).sort(dim=1, stable=True).values[:, -width:]
        self.mask = kept >= 0
        index = kept.clamp(min=0)
        for layer in self.cache.layers:
            layer.keys, layer.values = (_gather_columns(x, index) for x in (layer.keys,
                                                                           layer.values))

    def select(self, index):
        """Keep the rows ``index`` (a list or int64 tensor of row numbers, in that order)."""
        index = torch.as_tensor(index, dtype=torch.int64, device=self.device)
        if self.mask.shape[1]:  # an empty cache has no rows to select yet
            self.cache.batch_select_indices(index)
        self.mask = self.mask.index_select(0, index)
        self.pos = self.pos.index_select(0, index)

    def repeat(self, times):
        """Repeat every row ``times`` times in place (row r becomes rows r*times .. +times-1)."""
        if times == 1:
            return
        if self.mask.shape[1]:  # an empty cache has no rows yet: the first feed makes them
            self.cache.batch_repeat_interleave(times)
        self.mask = self.mask.repeat_interleave(times, dim=0)
        self.pos = self.pos.repeat_interleave(times, dim=0)

"""A causal LM behind a prefix-reusing KV cache: logits for the last positions of a context.

Each call passes the whole context. The cache keeps the tokens it has seen; the longest common
prefix with the new context is kept, the rest of the cache is cropped (rollback after rejected
drafts) and only the new tokens are fed. A verify pass is one call with ``count = gamma + 1``;
a multi-draft verify pass is one :meth:`CachedLM.branch_logits` call: the K draft chains as a
batch of K rows over a copy of the cached context each (a batch rather than a tree with a shared
prefix: every causal LM takes a batch, while a tree needs custom attention masks per model).
The logits stay on the model's device (as float64): nothing but token ids crosses to the host.
"""

from coupling.decoding.compat import forward, new_cache

__all__ = ["CachedLM"]


def _common_prefix(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class CachedLM:
    """Next-token logits of a Hugging Face causal LM with automatic cache rollback.

    Parameters
    ----------
    model : transformers PreTrainedModel
        In eval mode; called through :func:`coupling.decoding.compat.forward` (its KV cache
        under the argument name the installed transformers takes).
    """

    def __init__(self, model):
        self.model = model
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])
        self.calls = 0
        self.reset()

    def reset(self):
        """Forget the cache (a new prompt)."""
        self._cache = None
        self._ids = []
        self._rows = None  # after branch_logits: the token ids of each row of the cache

    def _one_row(self, context):
        """After a batched pass keep the cache row that shares the most with ``context``."""
        if self._rows is None:
            return
        import torch

        shared = [_common_prefix(ids, context) for ids in self._rows]
        best = shared.index(max(shared))
        self._cache.batch_select_indices(torch.tensor([best], device=self.device))
        self._ids = self._rows[best]
        self._rows = None

    def _cropped_cache(self, keep):
        """The cache holding the first ``keep`` tokens of :attr:`cached_tokens` (a fresh one
        when none is kept)."""
        if self._cache is None or keep == 0:
            self._cache = new_cache(self.model)
        elif keep < len(self._ids):
            self._cache.crop(keep - len(self._ids))  # negative: tokens to drop
        return self._cache

    @property
    def cached_tokens(self):
        """The tokens whose keys and values are in the cache (after a batched pass, those of
        its first row)."""
        return list(self._ids if self._rows is None else self._rows[0])

    @property
    def device(self):
        """The torch device of the model's output head, where :meth:`logits` returns."""
        return self.model.get_output_embeddings().weight.device

    def logits(self, context, count=1):
        """Float64 logits, a torch tensor of shape (count, V) on :attr:`device`: row j
        predicts the token after ``context[:len(context) - count + 1 + j]``.

        ``np.asarray`` reads a CPU result as an array without a copy."""
        import torch

        context = [int(t) for t in context]
        if not 1 <= count <= len(context):
            raise ValueError(f"count must lie in [1, {len(context)}], got {count}")
        self._one_row(context)
        keep = min(_common_prefix(self._ids, context), len(context) - count)
        cache = self._cropped_cache(keep)
        new = context[keep:]
        with torch.inference_mode():
            logits = forward(self.model, torch.tensor([new], device=self.device), cache,
                             logits_to_keep=count)  # fmt: skip
        self.calls += 1
        self._ids = context
        return logits[0, -count:].to(torch.float64)

    def branch_logits(self, context, branches):
        """Float64 logits, a tensor of shape (B, L + 1, V) on :attr:`device`, for B branches
        of one length L continuing ``context``, in one batched pass: ``[b, j]`` predicts the
        token after ``context + branches[b][:j]``.

        The cached part of ``context`` is copied to B rows and each row is fed the uncached
        rest of ``context`` and its branch. The cache then holds all B rows; the next call
        keeps the row that shares the most with its context (the accepted branch)."""
        import torch

        context = [int(t) for t in context]
        branches = [[int(t) for t in b] for b in branches]
        if not context:
            raise ValueError("the context is empty: give at least one token")
        if not branches or len({len(b) for b in branches}) != 1:
            raise ValueError("branches must be a non-empty list of token lists of one length")
        self._one_row(context)
        keep = min(_common_prefix(self._ids, context), len(context) - 1)
        cache = self._cropped_cache(keep)
        cache.batch_repeat_interleave(len(branches))
        count = len(branches[0]) + 1
        new = context[keep:]
        ids = torch.tensor([new + b for b in branches], device=self.device)
        with torch.inference_mode():
            logits = forward(self.model, ids, cache, logits_to_keep=count)
        self.calls += 1
        self._rows = [context + b for b in branches]
        return logits[:, -count:].to(torch.float64)

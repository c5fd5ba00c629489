"""A causal LM behind a prefix-reusing KV cache: logits for the last positions of a context.

Each call passes the whole context. The cache keeps the tokens it has seen; the longest common
prefix with the new context is kept, the rest of the cache is cropped (rollback after rejected
drafts) and only the new tokens are fed. A verify pass is one call with ``count = gamma + 1``.
The logits stay on the model's device (as float64): nothing but token ids crosses to the host.
"""

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
        In eval mode; called with ``input_ids``, ``past_key_values`` and ``use_cache=True``.
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

    @property
    def cached_tokens(self):
        """The tokens whose keys and values are in the cache."""
        return list(self._ids)

    @property
    def device(self):
        """The torch device of the model's output head, where :meth:`logits` returns."""
        return self.model.get_output_embeddings().weight.device

    def logits(self, context, count=1):
        """Float64 logits, a torch tensor of shape (count, V) on :attr:`device`: row j
        predicts the token after ``context[:len(context) - count + 1 + j]``.

        ``np.asarray`` reads a CPU result as an array without a copy."""
        import torch
        from transformers import DynamicCache

        context = [int(t) for t in context]
        if not 1 <= count <= len(context):
            raise ValueError(f"count must lie in [1, {len(context)}], got {count}")
        keep = min(_common_prefix(self._ids, context), len(context) - count)
        if self._cache is None:
            self._cache = DynamicCache(config=self.model.config)
        if keep < len(self._ids):
            self._cache.crop(keep - len(self._ids))  # negative: tokens to drop
        new = context[keep:]
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([new], device=self.device),
                past_key_values=self._cache,
                use_cache=True,
                logits_to_keep=count,
            )
        self.calls += 1
        self._ids = context
        return out.logits[0, -count:].to(torch.float64)

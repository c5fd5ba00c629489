"""The one place that speaks to transformers' model call, for today's and tomorrow's releases.

transformers 5.x renamed the cache argument of a model's ``forward`` from ``past_key_values`` to
``cache`` (the old name still works with a FutureWarning and goes away in a later release);
releases before the rename know only ``past_key_values``. :func:`forward` reads the model's own
signature and passes the cache under the name the installed transformers takes, so no
deprecation warning is ever printed and the release that removes the old name changes nothing
here. :func:`new_cache` builds an empty :class:`~transformers.DynamicCache` in the form the
installed release accepts. Every model call of the engine and of the experiments goes through
these two functions; ``tests/test_compat.py`` runs them with FutureWarning as an error.
"""

import functools
import inspect

__all__ = ["cache_argument", "forward", "new_cache", "supports_masked_cache"]


@functools.cache
def _cache_argument_of(model_class):
    params = inspect.signature(model_class.forward).parameters
    if "cache" in params:
        return "cache"
    if "past_key_values" in params:
        return "past_key_values"
    raise TypeError(f"{model_class.__name__}.forward takes no KV cache argument")


def cache_argument(model):
    """``"cache"`` where the model's ``forward`` takes it, else ``"past_key_values"``.

    Examples
    --------
    >>> class Model:
    ...     def forward(self, input_ids, cache=None): ...
    >>> cache_argument(Model())
    'cache'
    """
    return _cache_argument_of(type(model))


def new_cache(model):
    """An empty DynamicCache whose every layer keeps every token.

    Built without ``model``'s config on purpose: from a config, transformers gives a
    sliding-window layer (Gemma-2, Mistral) a cache that drops keys once its window is full
    and then refuses ``crop``, which every rollback after a rejected draft needs. The
    attention mask still applies each layer's window, so the logits are the same; the cache
    holds the whole sequence (``kv_cache_bytes(..., windowed=False)``)."""
    from transformers import DynamicCache

    del model  # one kind of cache for every model; the argument keeps call sites explicit
    return DynamicCache()


def supports_masked_cache(model):
    """Whether the batched engine can run ``model``: a decoder-only causal LM whose KV cache is
    a :class:`~transformers.DynamicCache` (a column of which a 2-D attention mask can hide,
    and whose rows can be repeated and selected). Recurrent and custom-cache architectures
    (Mamba, RWKV, xLSTM, ...) cannot drop a rejected draft from their state."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    supports = getattr(type(model), "_supports_default_dynamic_cache", None)
    if supports is not None and not supports():
        return False
    try:
        cache_argument(model)
    except TypeError:
        return False
    model_type = str(getattr(config, "model_type", "")).lower()
    return not any(kind in model_type for kind in ("mamba", "rwkv", "xlstm", "recurrent"))


def forward(model, input_ids, cache, *, logits_to_keep=1, attention_mask=None,
            position_ids=None):  # fmt: skip
    """``model(input_ids, <cache>=cache, use_cache=True, ...)``: the logits of the last
    ``logits_to_keep`` positions, a tensor (B, logits_to_keep, V) on the model's output device.

    ``cache`` is updated in place; ``attention_mask`` (B, cached + new) and ``position_ids``
    (B, new) are passed when given."""
    kwargs = {cache_argument(model): cache, "use_cache": True, "logits_to_keep": logits_to_keep}
    if attention_mask is not None:
        kwargs["attention_mask"] = attention_mask
    if position_ids is not None:
        kwargs["position_ids"] = position_ids
    return model(input_ids=input_ids, **kwargs).logits

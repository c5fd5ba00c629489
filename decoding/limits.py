r"""A causal LM's limits, read from its config before its weights are loaded: how many
positions it takes, and what its KV cache will occupy.

A run of a prompt of P tokens and N new tokens makes a sequence of P + N positions, so it needs

.. math:: P + N \le L, \qquad L = \texttt{max\_position\_embeddings}

(the last new token is never fed back, but the sequence it ends has P + N positions; counting
them all is what ``generate`` checks too). A KV cache of T fed tokens in B rows holds, summed
over the layers,

.. math:: \text{bytes} = \sum_{\ell} 2 \cdot H_{kv} \cdot d_{head} \cdot T_\ell \cdot B \cdot s

with :math:`H_{kv}` the key-value heads (``num_key_value_heads``, else every attention head),
:math:`d_{head}` the head size (``head_dim``, else ``hidden_size / num_attention_heads``),
:math:`s` the bytes of the dtype and :math:`T_\ell = T` on a full-attention layer, but
:math:`\min(T, W - 1)` on a sliding-window layer of window W (Gemma-2's every other layer,
Mistral's every layer): transformers' cache keeps only the W - 1 keys the next token can see.

These are the checks a decoder runs up front (``coupling decode`` runs them after tokenizing
the prompt and before loading any weights); they take the transformers config only.
"""

from coupling.simulate.validation import as_count, check_memory

__all__ = ["check_context", "check_kv_memory", "context_limit", "kv_cache_bytes"]

#: Layer kinds whose cache keeps at most ``window - 1`` tokens (transformers' names).
_WINDOWED = {"sliding_attention": "sliding_window", "chunked_attention": "attention_chunk_size"}
#: Layer kinds that keep no keys or values of their own (shared or attention-free layers).
_CACHELESS = ("dummy", "moe", "mlp")


def _text_config(config):
    """The decoder's config (a multimodal config nests it)."""
    get = getattr(config, "get_text_config", None)
    return get(decoder=True) if get is not None else config


def _field(config, name):
    value = getattr(config, name, None)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"the model's config has no usable {name} (got {value!r}); cannot "
                         "size its KV cache")  # fmt: skip
    return value


def context_limit(config):
    """The most positions the model takes: its config's ``max_position_embeddings`` (GPT-2's
    ``n_positions`` through transformers' attribute map), or None when the config names none.

    A sliding window is not a context limit: it bounds how far back some layers look, not how
    many positions the model numbers (Gemma-2 takes 8,192 positions with a 4,096 window on
    every other layer); it only shrinks the cache (:func:`kv_cache_bytes`). Extended-context
    configs (rope scaling) already state the extended length in this field.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> context_limit(SimpleNamespace(max_position_embeddings=8192))
    8192
    """
    limit = getattr(_text_config(config), "max_position_embeddings", None)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        return None
    return limit


def check_context(config, prompt_tokens, max_new_tokens, *, batch=1):
    """Refuse a run of ``prompt_tokens`` + ``max_new_tokens`` positions beyond the model's
    :func:`context_limit`; returns the positions the run needs.

    Parameters
    ----------
    config : transformers config
    prompt_tokens : int >= 1
        The prompt's length in tokens (in a batch, the longest row's: rows are padded to it).
    max_new_tokens : int >= 1
    batch : int >= 1
        Rows decoded together; they share the context limit (it is per row) and only name
        themselves in the message.

    Raises
    ------
    ValueError
        One line naming the prompt, the new tokens, their sum and the limit.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> check_context(SimpleNamespace(max_position_embeddings=8192), 8180, 12)
    8192
    """
    prompt_tokens = as_count(prompt_tokens, "prompt_tokens")
    max_new_tokens = as_count(max_new_tokens, "max_new_tokens")
    batch = as_count(batch, "batch")
    total = prompt_tokens + max_new_tokens
    limit = context_limit(config)
    if limit is not None and total > limit:
        rows = f" (in each of {batch} rows)" if batch > 1 else ""
        raise ValueError(
            f"a prompt of {prompt_tokens:,} tokens and {max_new_tokens:,} new tokens need "
            f"{total:,} positions{rows}; the model takes at most {limit:,} "
            "(max_position_embeddings in its config)"
        )
    return total


def _dtype_bytes(dtype):
    import torch

    if isinstance(dtype, str):
        named = getattr(torch, dtype, None)
        if not isinstance(named, torch.dtype):
            raise ValueError(f"unknown torch dtype {dtype!r}")
        dtype = named
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch dtype or its name, got {dtype!r}")
    return dtype.itemsize


def kv_cache_bytes(config, tokens, *, batch=1, dtype, windowed=True):
    """Bytes of the keys and values a transformers ``DynamicCache`` holds after ``tokens``
    positions of ``batch`` rows (the sum in the module docstring): one built from the config
    (``windowed``: sliding-window layers keep their window only), or one whose every layer
    keeps every token (``windowed=False``: the engine's
    :func:`coupling.decoding.compat.new_cache`, which can roll back).

    Parameters
    ----------
    config : transformers config
        Read: ``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads`` (absent:
        every head has its own keys, as GPT-2), ``head_dim`` (absent or None:
        ``hidden_size // num_attention_heads``, Llama's rule), ``layer_types`` and
        ``sliding_window`` (Gemma-2 names each layer's kind; a config with a window and no
        kinds, such as Mistral's, windows every layer). A layer of another kind counts as full
        attention, an upper bound.
    tokens : int >= 0
    batch : int >= 1
    dtype : torch.dtype or its name ("float32", "bfloat16", ...)
    windowed : bool

    Examples
    --------
    >>> import transformers
    >>> cfg = transformers.LlamaConfig(num_hidden_layers=30, hidden_size=576,
    ...                                num_attention_heads=9, num_key_value_heads=3)
    >>> kv_cache_bytes(cfg, 8192, dtype="float32") / 2**20  # SmolLM2-135M at full context
    360.0
    """
    tokens = as_count(tokens, "tokens", minimum=0)
    batch = as_count(batch, "batch")
    size = _dtype_bytes(dtype)
    text = _text_config(config)
    layers = _field(text, "num_hidden_layers")
    heads = _field(text, "num_attention_heads")
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or _field(text, "hidden_size") // heads
    window = getattr(text, "sliding_window", None)
    kinds = getattr(text, "layer_types", None)
    if kinds is None:  # transformers' own rule when a config names no layer kinds
        kinds = ["sliding_attention" if window else "full_attention"] * layers
    held = 0
    for kind in kinds[:layers]:
        if kind in _CACHELESS:
            continue
        span = getattr(text, _WINDOWED[kind], None) if windowed and kind in _WINDOWED else None
        held += min(tokens, span - 1) if span else tokens
    return 2 * kv_heads * head_dim * held * batch * size


def _device_free(device):
    """Free bytes of an accelerator (summed over every GPU for ``"auto"``), None if unknown."""
    import torch

    if device == "auto":
        if not torch.cuda.is_available():
            return None
        return sum(torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count()))
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.mem_get_info(dev)[0]
    return None


def check_kv_memory(needed, device="cpu", what="the KV cache"):
    """Refuse (ValueError) ``needed`` bytes of KV cache (:func:`kv_cache_bytes`) that the
    memory of ``device`` cannot hold now: the host's available memory for ``"cpu"`` (as every
    other memory check, :func:`coupling.simulate.validation.check_memory`), the free memory of
    the GPU (of every GPU for ``"auto"``) for CUDA; a no-op where it is unknown (other devices).

    Run before the weights are loaded, it refuses what cannot fit even in an empty device; the
    weights then take their share too.
    """
    needed = as_count(needed, "needed", minimum=0)
    if str(device).startswith("cpu"):
        check_memory(needed, what)
        return
    free = _device_free(device)
    if free is not None and needed > free:
        raise ValueError(f"{what} needs about {needed / 2**30:,.2f} GiB; device {device!r} has "
                         f"{free / 2**30:,.2f} GiB free")  # fmt: skip

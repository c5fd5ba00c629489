r"""Everything :func:`~coupling.decoding.disd_generate` checks before any model work, and the
plan it runs: the batch as left-padded ids and a mask, one rule per row, the sampling settings,
how rows stop. A mistake is one ValueError or TypeError naming it:

* methods, couplings and drafts that cannot go together; ``gamma`` and ``max_new_tokens``
  below 1; a seed list of the wrong length; ``temperature <= 0`` (greedy decoding is
  ``generate(do_sample=False)``);
* two models over different vocabularies (output heads, and the tokenizers when both are
  given), a drafter whose logits land on another device, a model whose KV cache cannot be
  masked and cropped (encoder-decoder, recurrent, custom caches);
* a model in training mode (dropout would make the tokens depend on more than the seed);
* token ids out of range (the prompt's, and EOS and pad ids given), a mask of another shape,
  right padding, a padded batch without a mask, a prompt beyond either model's context, KV
  caches beyond the device's memory;
* stop strings without a tokenizer, a streamer with more than one row, stopping criteria that
  are not callables.

Integers may be Python ints, numpy integers or 0-d integer tensors.
"""

from dataclasses import dataclass

from coupling.decoding._loop import check_backend, eos_ids
from coupling.decoding.compat import supports_masked_cache
from coupling.decoding.disd import COUPLINGS, DisdRule
from coupling.decoding.limits import check_context, check_kv_memory, kv_cache_bytes
from coupling.decoding.multidraft import MultiDraftRule, check_drafts
from coupling.decoding.sampling import SamplingConfig
from coupling.decoding.standard import StandardRule
from coupling.simulate.validation import as_count, as_seed, is_int

__all__ = ["GENERATE_METHODS", "GenerationPlan", "as_row_seeds", "check_left_mask",
           "check_vocabularies", "plan_generation", "sampling_config"]  # fmt: skip

#: ``disd_generate``'s methods: DISD (``coupling`` gumbel or wmh), standard SD, multi-draft DISD.
GENERATE_METHODS = ("disd", "sd", "mdisd-strong", "mdisd-conditional")


def _scalar(value):
    """A 0-d array or tensor as its Python number; anything else as it is."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "tolist"):
        return value.tolist()
    return value


def _token_ids(value, name, vocab):
    """``value`` (an int, or a list / 1-D tensor of ints) as a list of ids in [0, vocab)."""
    if is_int(_scalar(value)):
        values = [_scalar(value)]
    elif isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a token id (int) or a list of them, got {value!r}")
    else:
        values = value.tolist() if hasattr(value, "tolist") else list(value)
        if not all(is_int(x) for x in values):
            raise TypeError(f"{name} must be a token id (int) or a list of them, got {value!r}")
    ids = [int(x) for x in values]
    outside = [x for x in ids if not 0 <= x < vocab]
    if outside:
        raise ValueError(f"{name} {outside[0]} lies outside the vocabulary [0, {vocab})")
    return ids


def sampling_config(temperature, top_k, top_p, greedy_hint):
    """The :class:`SamplingConfig` of the engine's entries; a temperature that is not a number
    > 0 is refused with ``greedy_hint`` (where that entry's user finds greedy decoding)."""
    try:
        return SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p)
    except (TypeError, ValueError) as exc:
        if "temperature" not in str(exc):
            raise
        raise type(exc)(f"temperature must be a number > 0, got {temperature!r}: "
                        f"{greedy_hint}") from None  # fmt: skip


def _check_eval(model, name):
    if getattr(model, "training", False):
        raise ValueError(f"{name} is in training mode (dropout on), so its tokens would not be "
                         f"fixed by the seed: call {name}.eval() first")  # fmt: skip


def check_left_mask(attention_mask, shape=None):
    """``attention_mask`` as a (B, L) bool tensor on the CPU, checked: (B, L) (``shape`` when
    given), only 0 and 1, a real token in every row, left padding only (no 0 after a 1)."""
    import torch

    mask = torch.as_tensor(attention_mask).to("cpu")
    if shape is None and mask.ndim != 2:
        raise ValueError(f"attention_mask must be (batch, length), got shape {tuple(mask.shape)}")
    if shape is not None and tuple(mask.shape) != tuple(shape):
        raise ValueError(f"attention_mask has shape {tuple(mask.shape)}, input_ids "
                         f"{tuple(shape)}: they must match")  # fmt: skip
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("attention_mask must hold only 0 and 1")
    mask = mask.to(torch.bool)
    if not bool(mask.any(dim=1).all()):
        raise ValueError("a row of attention_mask is all 0: every prompt needs a token")
    if bool((mask[:, :-1] & ~mask[:, 1:]).any()):
        raise ValueError("attention_mask has padding after a real token: decoder-only "
                         "generation needs left padding (tokenizer padding_side='left')")
    return mask


def _head(model, name):
    head = getattr(model, "get_output_embeddings", lambda: None)()
    if head is None or not hasattr(model, "config"):
        raise TypeError(f"{name} must be a transformers causal LM (PreTrainedModel with an "
                        f"output head), got {type(model).__name__}")  # fmt: skip
    if not supports_masked_cache(model):
        raise ValueError(f"{name} ({type(model).__name__}) has no KV cache whose rows can be "
                         "masked and cropped (an encoder-decoder, recurrent or custom-cache "
                         "model): speculative decoding needs a DynamicCache")  # fmt: skip
    return head.weight


def check_vocabularies(target, drafter, tokenizer=None, drafter_tokenizer=None):
    """Refuse a drafter whose vocabulary is not the target's: the output heads' sizes, and
    the token -> id maps when both tokenizers are given."""
    vt, vd = _head(target, "target").shape[0], _head(drafter, "drafter").shape[0]
    if vt != vd:
        raise ValueError(f"target and drafter vocabularies differ ({vt} vs {vd} output tokens): "
                         "speculative decoding needs one vocabulary")  # fmt: skip
    if tokenizer is not None and drafter_tokenizer is not None:
        a, b = tokenizer.get_vocab(), drafter_tokenizer.get_vocab()
        if a != b:
            only = len(set(a.items()) ^ set(b.items()))
            raise ValueError(f"target and drafter tokenizers differ ({len(a)} vs {len(b)} tokens, "
                             f"{only} token-id pairs not shared): speculative decoding needs "
                             "one vocabulary")  # fmt: skip


def _check_prompt(input_ids, attention_mask, vocab, pads, bos_token_id):
    """The batch as (ids (B, L) int64 on the CPU, mask (B, L) bool): 2-D, token ids in range,
    left padding only, a mask wherever the batch looks padded (a row starting with one of the
    ``pads`` ids that is not the BOS)."""
    import torch

    ids = torch.as_tensor(input_ids)
    if ids.ndim == 1:
        ids = ids[None]
    if ids.ndim != 2 or ids.shape[1] == 0 or ids.shape[0] == 0:
        raise ValueError(f"input_ids must be a non-empty (batch, length) tensor, got shape "
                         f"{tuple(ids.shape)}")  # fmt: skip
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"input_ids must hold token ids (integers), got {ids.dtype}")
    ids = ids.to("cpu", torch.int64)
    low, high = int(ids.min()), int(ids.max())
    if attention_mask is None:
        for pad in sorted({p for p in pads if p is not None and p != bos_token_id}):
            if ids.shape[0] > 1 and bool((ids[:, 0] == pad).any()):
                raise ValueError(f"the batch looks left-padded (rows start with pad token "
                                 f"{pad}) but no attention_mask was given: pass the "
                                 "tokenizer's attention_mask")  # fmt: skip
        mask = torch.ones_like(ids, dtype=torch.bool)
    else:
        mask = check_left_mask(attention_mask, ids.shape)
        real = ids[mask]
        low, high = int(real.min()), int(real.max())
    if low < 0 or high >= vocab:
        raise ValueError(f"input_ids hold token ids outside [0, {vocab}): {low}..{high}")
    return ids, mask


def _check_limits(target, drafter, ids, mask, max_new_tokens, gamma, chains):
    """Both models' context (the longest prompt plus the new tokens) and the memory of their
    KV caches, every layer keeping every column: the padded prompt, the new tokens, one
    round's drafts and at most two rounds of masked holes (a batch re-packs its cache beyond
    one round of holes; a batch of one keeps none), in ``chains`` rows per sequence."""
    longest = int(mask.sum(dim=1).max())
    columns = ids.shape[1] + max_new_tokens + gamma + 2 * (gamma + 1)
    rows = ids.shape[0] * chains
    needed = 0
    for name, model in (("target", target), ("drafter", drafter)):
        try:
            check_context(model.config, longest, max_new_tokens, batch=ids.shape[0])
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        weight = model.get_output_embeddings().weight
        needed += kv_cache_bytes(model.config, columns, batch=rows, dtype=weight.dtype,
                                 windowed=False)  # fmt: skip
    check_kv_memory(needed, weight.device, "the two models' KV caches")


def as_row_seeds(seed, rows=None):
    """``seed`` as a list of per-row seeds: an int gives the same seed to every row; a
    sequence (or a 1-D tensor or array) gives one per row and must have ``rows`` entries when
    ``rows`` is known. Each seed is checked like every public seed (an int in [0, 2^64))."""
    seed = _scalar(seed)  # one seed (a numpy or 0-d tensor int) for every row
    if hasattr(seed, "tolist") and hasattr(seed, "ndim"):  # a numpy array or torch tensor
        if seed.ndim != 1:
            shape = tuple(seed.shape)
            raise ValueError(f"seed must be an int or one int per row, got shape {shape}")
        seed = seed.tolist()
    if isinstance(seed, list | tuple):
        if not seed:
            raise ValueError("seed is an empty list: give an int or one int per row")
        seeds = [as_seed(s) for s in seed]
        if rows is not None and len(seeds) != rows:
            raise ValueError(f"seed lists {len(seeds)} seeds for a batch of {rows} rows: give "
                             "one per row, or one int for every row")  # fmt: skip
        return seeds
    one = as_seed(seed)
    return [one] * (1 if rows is None else rows)


def _rules(method, seeds, coupling, drafts, backend):
    if method == "disd":
        return [DisdRule(s, coupling, backend) for s in seeds]
    if method == "sd":
        return [StandardRule(s, backend=backend) for s in seeds]
    return [MultiDraftRule(s, drafts, method.split("-")[1], backend) for s in seeds]


@dataclass
class GenerationPlan:
    """A checked batch and how to decode it (built by :func:`plan_generation`)."""

    ids: object  #: int64 tensor (B, L) on the CPU
    mask: object  #: bool tensor (B, L)
    rules: list
    chains: int
    gamma: int
    max_new_tokens: int
    sampling: SamplingConfig
    eos: frozenset
    pad: int
    criteria: object  #: a transformers StoppingCriteriaList
    streamer: object
    device: object = "cpu"  #: where ``input_ids`` lay (the output's sequences go there)


def plan_generation(target, drafter, input_ids, *, seed, attention_mask, gamma, max_new_tokens,
          temperature, top_k, top_p, coupling, method, drafts, eos_token_id, pad_token_id,
          stopping_criteria, stop_strings, tokenizer, drafter_tokenizer, streamer,
          backend):  # fmt: skip
    """Check every argument of :func:`~coupling.decoding.disd_generate` (the same names) and
    return the :class:`GenerationPlan`; no model is called."""
    if method not in GENERATE_METHODS:
        raise ValueError(f"method must be one of {', '.join(GENERATE_METHODS)}, got {method!r}")
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling must be one of {', '.join(COUPLINGS)}, got {coupling!r}")
    if method != "disd" and coupling != "gumbel":
        raise ValueError(f"coupling={coupling!r} applies to method='disd' only (method "
                         f"{method!r} has its own rule)")  # fmt: skip
    if method.startswith("mdisd"):
        if drafts is None:
            raise ValueError(f"method {method!r} needs drafts (the number of draft chains K)")
        drafts = check_drafts(drafts)
    elif drafts is not None:
        raise ValueError(f"drafts applies to the mdisd methods only, not to {method!r}")
    gamma = as_count(_scalar(gamma), "gamma")
    max_new_tokens = as_count(_scalar(max_new_tokens), "max_new_tokens")
    check_backend(backend)
    sampling = sampling_config(temperature, top_k, top_p,
                               "DISD samples; for greedy decoding call "
                               "target.generate(input_ids, do_sample=False)")  # fmt: skip
    check_vocabularies(target, drafter, tokenizer, drafter_tokenizer)
    _check_eval(target, "target")
    _check_eval(drafter, "drafter")
    t_dev = target.get_output_embeddings().weight.device
    d_dev = drafter.get_output_embeddings().weight.device
    if t_dev != d_dev:
        raise ValueError(f"the drafter's logits land on {d_dev}, the target's on {t_dev}: load "
                         "the drafter on the target's device")  # fmt: skip
    config = target.generation_config
    vocab = target.get_output_embeddings().weight.shape[0]
    if eos_token_id is None:  # the model's own: ids as its config gives them
        eos = config.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    else:
        eos = _token_ids(eos_token_id, "eos_token_id", vocab)
    if pad_token_id is not None:
        if not is_int(_scalar(pad_token_id)):
            raise TypeError(f"pad_token_id must be one token id (int), got {pad_token_id!r}")
        pad = _token_ids(pad_token_id, "pad_token_id", vocab)[0]
    else:
        pad = config.pad_token_id if config.pad_token_id is not None else (eos or [0])[0]
    pads = (pad, getattr(tokenizer, "pad_token_id", None))
    ids, mask = _check_prompt(input_ids, attention_mask, vocab, pads, config.bos_token_id)
    eos = eos_ids(eos)
    seeds = as_row_seeds(seed, ids.shape[0])
    _check_limits(target, drafter, ids, mask, max_new_tokens, gamma, drafts or 1)
    from transformers import StoppingCriteriaList, StopStringCriteria

    if stopping_criteria is None:
        stopping_criteria = []
    elif not isinstance(stopping_criteria, list | tuple):
        stopping_criteria = [stopping_criteria]  # one criterion
    if not all(callable(c) for c in stopping_criteria):
        raise TypeError("stopping_criteria must be a StoppingCriteria or a list of them, got "
                        f"{stopping_criteria!r}")  # fmt: skip
    criteria = StoppingCriteriaList(stopping_criteria)
    if stop_strings:
        if tokenizer is None:
            raise ValueError("stop_strings needs the tokenizer (tokenizer=...) to match them")
        strings = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings)
        criteria.append(StopStringCriteria(tokenizer=tokenizer, stop_strings=strings))
    if streamer is not None and ids.shape[0] > 1:
        raise ValueError(f"a streamer takes one sequence; the batch has {ids.shape[0]} rows")
    return GenerationPlan(ids, mask, _rules(method, seeds, coupling, drafts, backend), drafts or 1,
                          gamma, max_new_tokens, sampling, eos, int(pad), criteria, streamer,
                          getattr(input_ids, "device", "cpu"))  # fmt: skip

r"""Drafter-invariant speculative decoding on any transformers causal LM, in batches.

:func:`disd_generate` runs the decoders of this package on plain ``PreTrainedModel`` objects:
each round the drafter proposes up to ``gamma`` tokens per row with the public-randomness race
(:class:`~coupling.decoding.DisdRule`), the target scores every row's block in one batched
pass, and each row keeps its accepted prefix and one token (its own race winner at the first
mismatch, or the bonus). Token ``i`` of row r is keyed by its absolute position
``len(prompt_r) + i`` (padding never counts) and row r's seed, so row r's tokens are those of
:func:`~coupling.decoding.autoregressive` on that prompt alone with that seed, whatever the
drafter, the batch or its padding. ``method="sd"`` runs standard speculative decoding
(Leviathan et al.) and ``method="mdisd-strong"`` / ``"mdisd-conditional"`` multi-draft DISD with
``drafts`` chains through the same rounds, so comparisons share one code path.

Rows accept different numbers of drafts in one pass: the rejected drafts' cache columns are
masked rather than cropped (:class:`~coupling.decoding.streams.BatchStream`), and a row that
finishes (EOS, ``max_new_tokens``, a stopping criterion or a stop string, each applied token by
token inside accepted blocks) leaves the batch: it costs no more drafter or target work.
"""

from dataclasses import dataclass

import torch
from coupling.decoding._loop import DecodeStats, check_backend, token_key
from coupling.decoding.compat import supports_masked_cache
from coupling.decoding.disd import COUPLINGS, DisdRule
from coupling.decoding.keyed_race import as_row_seeds
from coupling.decoding.limits import check_context, check_kv_memory, kv_cache_bytes
from coupling.decoding.multidraft import MultiDraftRule, check_drafts
from coupling.decoding.sampling import SamplingConfig
from coupling.decoding.standard import StandardRule
from coupling.decoding.streams import BatchStream
from transformers import StoppingCriteriaList, StopStringCriteria
from transformers.generation.utils import GenerateDecoderOnlyOutput

__all__ = ["GENERATE_METHODS", "DisdGenerateOutput", "disd_custom_generate", "disd_generate"]

#: ``disd_generate``'s methods: DISD (``coupling`` gumbel or wmh), standard SD, multi-draft DISD.
GENERATE_METHODS = ("disd", "sd", "mdisd-strong", "mdisd-conditional")


@dataclass
class DisdGenerateOutput(GenerateDecoderOnlyOutput):
    """transformers' generate output (``sequences``: each row's prompt, as given, then its new
    tokens, right-padded with ``pad_token_id`` after it stops) and per-row counters (int64 or
    float64 tensors of shape (B,)): ``new_tokens``, ``target_calls`` (verify passes the row
    took part in), ``drafter_calls``, ``drafted`` (drafts examined: the accepted ones and the
    first rejected), ``accepted``, ``block_efficiency`` (new tokens per target call)."""

    new_tokens: torch.LongTensor | None = None
    target_calls: torch.LongTensor | None = None
    drafter_calls: torch.LongTensor | None = None
    drafted: torch.LongTensor | None = None
    accepted: torch.LongTensor | None = None
    block_efficiency: torch.DoubleTensor | None = None


def _int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


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


def _check_prompt(input_ids, attention_mask, vocab, pad_token_id, bos_token_id):
    """The batch as (ids (B, L) int64 on the CPU, mask (B, L) bool): 2-D, token ids in range,
    left padding only, a mask wherever the batch looks padded."""
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
        if ids.shape[0] > 1 and pad_token_id is not None and pad_token_id != bos_token_id and \
                bool((ids[:, 0] == pad_token_id).any()):  # fmt: skip
            raise ValueError(f"the batch looks left-padded (rows start with pad token "
                             f"{pad_token_id}) but no attention_mask was given: pass the "
                             "tokenizer's attention_mask")  # fmt: skip
        mask = torch.ones_like(ids, dtype=torch.bool)
    else:
        mask = torch.as_tensor(attention_mask).to("cpu")
        if tuple(mask.shape) != tuple(ids.shape):
            raise ValueError(f"attention_mask has shape {tuple(mask.shape)}, input_ids "
                             f"{tuple(ids.shape)}: they must match")  # fmt: skip
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("attention_mask must hold only 0 and 1")
        mask = mask.to(torch.bool)
        if not bool(mask.any(dim=1).all()):
            raise ValueError("a row of attention_mask is all 0: every prompt needs a token")
        if bool((mask[:, :-1] & ~mask[:, 1:]).any()):
            raise ValueError("attention_mask has padding after a real token: decoder-only "
                             "generation needs left padding (tokenizer padding_side='left')")
        real = ids[mask]
        low, high = int(real.min()), int(real.max())
    if low < 0 or high >= vocab:
        raise ValueError(f"input_ids hold token ids outside [0, {vocab}): {low}..{high}")
    return ids, mask


def _check_limits(target, drafter, ids, mask, max_new_tokens, gamma, chains):
    """Both models' context (the longest prompt plus the new tokens) and the memory of their
    KV caches: at most the padded prompt and the new tokens, plus one round's drafts, in
    ``chains`` rows per sequence (rejected columns that some rows keep as masked holes are
    cropped whenever every row has them, so a batch of one holds none)."""
    longest = int(mask.sum(dim=1).max())
    columns = ids.shape[1] + max_new_tokens + gamma
    rows = ids.shape[0] * chains
    needed = 0
    for name, model in (("target", target), ("drafter", drafter)):
        try:
            check_context(model.config, longest, max_new_tokens, batch=ids.shape[0])
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        weight = model.get_output_embeddings().weight
        needed += kv_cache_bytes(model.config, columns, batch=rows, dtype=weight.dtype)
    check_kv_memory(needed, weight.device, "the two models' KV caches")


def _rules(method, seeds, coupling, drafts, backend):
    if method == "disd":
        return [DisdRule(s, coupling, backend) for s in seeds]
    if method == "sd":
        return [StandardRule(s, backend=backend) for s in seeds]
    return [MultiDraftRule(s, drafts, method.split("-")[1], backend) for s in seeds]


@dataclass
class _Plan:
    """Everything checked, before any model work."""

    ids: torch.Tensor
    mask: torch.Tensor
    rules: list
    chains: int
    gamma: int
    max_new_tokens: int
    sampling: SamplingConfig
    eos: frozenset
    pad: int
    criteria: StoppingCriteriaList
    streamer: object


def _plan(target, drafter, input_ids, *, seed, attention_mask, gamma, max_new_tokens,
          temperature, top_k, top_p, coupling, method, drafts, eos_token_id, pad_token_id,
          stopping_criteria, stop_strings, tokenizer, drafter_tokenizer, streamer,
          backend):  # fmt: skip
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
    gamma = _int(gamma, "gamma", 1)
    max_new_tokens = _int(max_new_tokens, "max_new_tokens", 1)
    check_backend(backend)
    try:
        sampling = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p)
    except (TypeError, ValueError) as exc:
        if "temperature" not in str(exc):
            raise
        raise type(exc)(f"temperature must be a number > 0, got {temperature!r}: DISD samples; "
                        "for greedy decoding call target.generate(input_ids, do_sample=False)"
                        ) from None  # fmt: skip
    check_vocabularies(target, drafter, tokenizer, drafter_tokenizer)
    t_dev = target.get_output_embeddings().weight.device
    d_dev = drafter.get_output_embeddings().weight.device
    if t_dev != d_dev:
        raise ValueError(f"the drafter's logits land on {d_dev}, the target's on {t_dev}: load "
                         "the drafter on the target's device")  # fmt: skip
    config = target.generation_config
    eos = config.eos_token_id if eos_token_id is None else eos_token_id
    eos = frozenset() if eos is None else frozenset([eos] if isinstance(eos, int) else eos)
    pad = pad_token_id if pad_token_id is not None else config.pad_token_id
    pad = pad if pad is not None else (min(eos) if eos else 0)
    vocab = target.get_output_embeddings().weight.shape[0]
    ids, mask = _check_prompt(input_ids, attention_mask, vocab, pad, config.bos_token_id)
    seeds = as_row_seeds(seed, ids.shape[0])
    _check_limits(target, drafter, ids, mask, max_new_tokens, gamma, drafts or 1)
    criteria = StoppingCriteriaList(stopping_criteria or [])
    if stop_strings:
        if tokenizer is None:
            raise ValueError("stop_strings needs the tokenizer (tokenizer=...) to match them")
        strings = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings)
        criteria.append(StopStringCriteria(tokenizer=tokenizer, stop_strings=strings))
    if streamer is not None and ids.shape[0] > 1:
        raise ValueError(f"a streamer takes one sequence; the batch has {ids.shape[0]} rows")
    return _Plan(ids, mask, _rules(method, seeds, coupling, drafts, backend), drafts or 1,
                 gamma, max_new_tokens, sampling, eos, int(pad), criteria, streamer)  # fmt: skip


class _Row:
    """One sequence: its prompt, rule, output, counters and the tokens each model has not yet
    been fed."""

    def __init__(self, index, ids, mask, rule):
        self.index = index
        self.prompt = ids[mask].tolist()
        self.padded = ids  # the prompt as given, for stopping criteria and the output
        self.rule = rule
        self.out = []
        self.stats = DecodeStats()
        self.to_target = list(self.prompt)
        self.to_drafter = list(self.prompt)
        self.done = False

    def key(self):
        return token_key(len(self.prompt), len(self.out))


def _stops(row, plan):
    """Whether the row's newest token ends it (EOS, or a stopping criterion on the sequence
    as transformers would show it: the prompt as given, then the new tokens)."""
    if row.out[-1] in plan.eos:
        return True
    if not plan.criteria:
        return False
    seq = torch.cat([row.padded, torch.tensor(row.out, dtype=torch.int64)])[None]
    return bool(plan.criteria(seq, None).any())


def _emit(row, plan, drafts, accepted, token):
    """Append the accepted drafts and the token one at a time, stopping inside the block as
    soon as the row ends; the counters follow :func:`coupling.decoding._loop.emit`."""
    stats = row.stats
    for j, x in enumerate([*drafts[:accepted], token]):
        row.out.append(int(x))
        if j < accepted:
            stats.drafted += 1
            stats.accepted += 1
            stats.accept_flags.append(True)
        elif accepted < len(drafts):
            stats.drafted += 1
            stats.accept_flags.append(False)
        if plan.streamer is not None:
            plan.streamer.put(torch.tensor([int(x)]))
        if _stops(row, plan) or len(row.out) >= plan.max_new_tokens:
            row.done = True
            break
    stats.tokens = len(row.out)


def _draft(rows, plan, stream, budgets):
    """Up to ``budgets[i]`` drafts per chain of each row, one drafter pass per position for the
    whole batch (rows x chains). Returns each row's chains and, for SD, the drafter's
    distributions along chain 0."""
    k = plan.chains
    chains = [[[] for _ in range(k)] for _ in rows]
    qs = [[] for _ in rows]
    longest = max(budgets)
    if longest == 0:
        return chains, qs
    stream.repeat(k)
    for j in range(longest):
        feed = []
        for i, row in enumerate(rows):
            for c in range(k):
                if j >= budgets[i]:
                    feed.append([])
                else:
                    feed.append(row.to_drafter if j == 0 else [chains[i][c][j - 1]])
        probs = plan.sampling.probs(stream.feed(feed, 1)[:, -1])
        for i, row in enumerate(rows):
            if j >= budgets[i]:
                continue
            row.stats.drafter_calls += 1
            key = row.key() + j
            for c in range(k):
                q = probs[i * k + c]
                if k > 1:
                    chains[i][c].append(row.rule.draft_slots(q, key)[c])
                else:
                    chains[i][c].append(int(row.rule.draft(q, key)))
                    qs[i].append(q)
    return chains, qs


def _verify(rows, plan, stream, chains, qs, budgets):
    """One target pass over every row's chains; returns (accepted, token, chain) per row."""
    k = plan.chains
    stream.repeat(k)
    feed = [row.to_target + chains[i][c][: budgets[i]] for i, row in enumerate(rows)
            for c in range(k)]  # fmt: skip
    logits = stream.feed(feed, max(budgets) + 1)
    probs = plan.sampling.probs(logits.reshape(-1, logits.shape[-1])).reshape(logits.shape)
    results = []
    for i, row in enumerate(rows):
        g = budgets[i]
        block = probs[i * k : (i + 1) * k, probs.shape[1] - g - 1 :]
        row.stats.target_calls += 1
        if k > 1:
            results.append(row.rule.verify_chains(block, chains[i], row.key()))
            continue
        q = torch.stack(qs[i]) if qs[i] else block[0, :0]
        accepted, token = row.rule.verify_block(block[0], q, chains[i][0], row.key())
        results.append((accepted, token, 0))
    return results


def _round(rows, plan, target, drafter):
    """One draft-and-verify round over the active rows; returns the rows still active."""
    budgets = [min(plan.gamma, plan.max_new_tokens - len(row.out) - 1) for row in rows]
    chains, qs = _draft(rows, plan, drafter, budgets)
    results = _verify(rows, plan, target, chains, qs, budgets)
    if plan.chains > 1:  # keep each row's winning chain in both caches
        won = [i * plan.chains + chain for i, (_, _, chain) in enumerate(results)]
        target.select(won)
        if max(budgets):
            drafter.select(won)
    target.drop_last([g - a for g, (a, _, _) in zip(budgets, results)])
    drafter.drop_last([max(0, g - 1 - a) for g, (a, _, _) in zip(budgets, results)])
    for i, (row, g, (accepted, token, chain)) in enumerate(zip(rows, budgets, results)):
        drafts = chains[i][chain]
        _emit(row, plan, drafts, accepted, token)
        row.to_target = [int(token)]
        if g:
            row.to_drafter = ([drafts[g - 1]] if accepted == g else []) + [int(token)]
        else:
            row.to_drafter = [*row.to_drafter, int(token)]
    keep = [i for i, row in enumerate(rows) if not row.done]
    if len(keep) < len(rows) and keep:
        target.select(keep)
        drafter.select(keep)
    return [rows[i] for i in keep]


def _output(rows, plan):
    new = max(len(r.out) for r in rows)
    width = plan.ids.shape[1] + new
    seqs = torch.full((len(rows), width), plan.pad, dtype=torch.int64)
    for r in rows:
        seqs[r.index, : plan.ids.shape[1]] = r.padded
        seqs[r.index, plan.ids.shape[1] : plan.ids.shape[1] + len(r.out)] = torch.tensor(r.out)

    def col(name):
        return torch.tensor([getattr(r.stats, name) for r in rows], dtype=torch.int64)

    return DisdGenerateOutput(
        sequences=seqs, new_tokens=col("tokens"), target_calls=col("target_calls"),
        drafter_calls=col("drafter_calls"), drafted=col("drafted"), accepted=col("accepted"),
        block_efficiency=torch.tensor([r.stats.block_efficiency for r in rows],
                                      dtype=torch.float64),
    )  # fmt: skip


def disd_generate(target, drafter, input_ids, *, seed, attention_mask=None, gamma=4,
                  max_new_tokens, temperature=1.0, top_k=0, top_p=1.0, coupling="gumbel",
                  method="disd", drafts=None, eos_token_id=None, pad_token_id=None,
                  stopping_criteria=None, stop_strings=None, tokenizer=None,
                  drafter_tokenizer=None, streamer=None, backend="auto"):  # fmt: skip
    r"""Drafter-invariant speculative decoding of a batch with two transformers models.

    Parameters
    ----------
    target, drafter : transformers PreTrainedModel
        Decoder-only causal LMs over one vocabulary, the drafter's logits on the target's
        device (any device and dtype; both in eval mode).
    input_ids : int tensor (B, L) or (L,)
        The prompts, left-padded when their lengths differ (then ``attention_mask`` is
        required).
    seed : int or sequence of B ints
        The public seed of every row, or one per row.
    attention_mask : tensor (B, L) or None
        1 on real tokens, 0 on left padding.
    gamma : int >= 1
        Drafts per row and target pass.
    max_new_tokens : int >= 1
    temperature, top_k, top_p
        Applied to both models' logits exactly as :class:`~coupling.decoding.SamplingConfig`
        does (temperature > 0; greedy decoding is ``target.generate(do_sample=False)``).
    coupling : {"gumbel", "wmh"}
        DISD's race.
    method : {"disd", "sd", "mdisd-strong", "mdisd-conditional"}
        DISD, the standard speculative-decoding baseline, or multi-draft DISD with ``drafts``
        chains (strongly or conditionally drafter-invariant).
    eos_token_id, pad_token_id : int, list of int or None
        Default: the target's generation config (pad falls back to the first EOS id).
    stopping_criteria : list of transformers StoppingCriteria or None
        Applied per row after every emitted token, with the row's sequence (its prompt as
        given, then its new tokens) and ``scores=None``.
    stop_strings : str or list of str, needs ``tokenizer``
    tokenizer, drafter_tokenizer
        The target's tokenizer (stop strings; with ``drafter_tokenizer``, the vocabularies
        are compared).
    streamer : transformers streamer or None
        Receives the prompt, then each emitted token in order (batch of one row).
    backend : {"auto", "numba", "torch"}
        Where the races run (see :data:`~coupling.decoding.BACKENDS`).

    Returns
    -------
    DisdGenerateOutput
        ``.sequences`` (B, L + new) and the per-row counters.

    Examples
    --------
    >>> out = disd_generate(target, drafter, ids, seed=0, max_new_tokens=32)  # doctest: +SKIP
    >>> out.sequences, out.block_efficiency  # doctest: +SKIP
    """
    plan = _plan(target, drafter, input_ids, seed=seed, attention_mask=attention_mask,
                 gamma=gamma, max_new_tokens=max_new_tokens, temperature=temperature,
                 top_k=top_k, top_p=top_p, coupling=coupling, method=method, drafts=drafts,
                 eos_token_id=eos_token_id, pad_token_id=pad_token_id,
                 stopping_criteria=stopping_criteria, stop_strings=stop_strings,
                 tokenizer=tokenizer, drafter_tokenizer=drafter_tokenizer, streamer=streamer,
                 backend=backend)  # fmt: skip
    rows = [_Row(i, plan.ids[i], plan.mask[i], rule) for i, rule in enumerate(plan.rules)]
    if plan.streamer is not None:
        plan.streamer.put(plan.ids)
    active = list(rows)
    t_stream, d_stream = BatchStream(target, len(rows)), BatchStream(drafter, len(rows))
    while active:
        active = _round(active, plan, t_stream, d_stream)
    if plan.streamer is not None:
        plan.streamer.end()
    return _output(rows, plan)


def disd_custom_generate(model, input_ids, logits_processor=None, stopping_criteria=None,
                         generation_config=None, *, drafter, seed, gamma=4, coupling="gumbel",
                         method="disd", drafts=None, **model_kwargs):  # fmt: skip
    """:func:`disd_generate` as transformers' ``custom_generate`` callable::

        target.generate(ids, custom_generate=disd_custom_generate, drafter=d, seed=0,
                        max_new_tokens=64, return_dict_in_generate=True)

    transformers prepares the generation config (``max_new_tokens``, ``eos_token_id``,
    ``pad_token_id``, ``temperature``, ``top_k``, ``top_p``: unset ones mean 1.0, 0 and 1.0
    here), the attention mask and the stopping criteria, then calls this function. It does not
    forward a ``streamer`` or the ``tokenizer`` (so no stop strings) to a custom callable: for
    those call :func:`disd_generate` directly. Logits processors are refused: DISD applies its
    sampling settings itself. Returns ``sequences``, or the full output with
    ``return_dict_in_generate=True``."""
    if logits_processor:
        names = ", ".join(type(p).__name__ for p in logits_processor)
        raise ValueError(f"disd_custom_generate applies temperature, top_k and top_p itself; "
                         f"remove the logits processors ({names})")  # fmt: skip
    cfg = generation_config
    max_new = cfg.max_new_tokens
    if max_new is None:
        max_new = cfg.max_length - input_ids.shape[1]
    out = disd_generate(
        model, drafter, input_ids, seed=seed, attention_mask=model_kwargs.get("attention_mask"),
        gamma=gamma, max_new_tokens=max_new,
        temperature=1.0 if cfg.temperature is None else cfg.temperature,
        top_k=0 if cfg.top_k is None else cfg.top_k,
        top_p=1.0 if cfg.top_p is None else cfg.top_p, coupling=coupling, method=method,
        drafts=drafts, eos_token_id=cfg.eos_token_id, pad_token_id=cfg.pad_token_id,
        stopping_criteria=[c for c in stopping_criteria or [] if type(c).__name__ not in
                           ("MaxLengthCriteria", "EosTokenCriteria")],
    )  # fmt: skip
    return out if cfg.return_dict_in_generate else out.sequences

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
masked (cropped where every row drops them: :class:`~coupling.decoding.streams.BatchStream`),
and a row that finishes (EOS, ``max_new_tokens``, a stopping criterion or a stop string, each
applied token by token inside accepted blocks) leaves the batch: it costs no more drafter or
target work. Arguments are checked before any model work (:mod:`coupling.decoding.plan`).
"""

from dataclasses import dataclass

import torch
from coupling.decoding._loop import DecodeStats, emit, token_key
from coupling.decoding.plan import GENERATE_METHODS, plan_generation
from coupling.decoding.streams import BatchStream
from transformers.generation.utils import GenerateDecoderOnlyOutput

__all__ = ["GENERATE_METHODS", "DisdGenerateOutput", "disd_custom_generate", "disd_generate"]


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
    """Append the accepted drafts and the token one at a time (:func:`~coupling.decoding._loop.
    emit`, the loop's counters), streaming each and stopping inside the block as soon as the
    row ends."""

    def ends(out):
        if plan.streamer is not None:
            plan.streamer.put(torch.tensor([out[-1]]))
        return _stops(row, plan) or len(out) >= plan.max_new_tokens

    row.done = emit(row.out, row.stats, drafts, accepted, token, ends)
    row.stats.tokens = len(row.out)


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
            # counted as the single-sequence loop counts: one call per distinct drafted
            # prefix (the chains of a row share their calls while their prefixes agree)
            row.stats.drafter_calls += len({tuple(chain[:j]) for chain in chains[i]})
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
    for stream in (target, drafter):  # holes stay below a round's width
        stream.compact(plan.gamma + 1)
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
        sequences=seqs.to(plan.device), new_tokens=col("tokens"), target_calls=col("target_calls"),
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
    plan = plan_generation(
        target, drafter, input_ids, seed=seed, attention_mask=attention_mask, gamma=gamma,
        max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
        coupling=coupling, method=method, drafts=drafts, eos_token_id=eos_token_id,
        pad_token_id=pad_token_id, stopping_criteria=stopping_criteria,
        stop_strings=stop_strings, tokenizer=tokenizer, drafter_tokenizer=drafter_tokenizer,
        streamer=streamer, backend=backend,
    )  # fmt: skip
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


#: transformers' warpers for the settings DISD applies itself (from the generation config).
_SAMPLING_WARPERS = ("TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper")


def disd_custom_generate(model, input_ids, logits_processor=None, stopping_criteria=None,
                         generation_config=None, *, drafter, seed, gamma=4, coupling="gumbel",
                         method="disd", drafts=None, **model_kwargs):  # fmt: skip
    """:func:`disd_generate` as transformers' ``custom_generate`` callable::

        target.generate(ids, custom_generate=disd_custom_generate, drafter=d, seed=0,
                        max_new_tokens=64, return_dict_in_generate=True)

    transformers prepares the generation config (``max_new_tokens``, ``eos_token_id``,
    ``pad_token_id``, ``temperature``, ``top_k``, ``top_p``, with transformers' own defaults:
    ``top_k`` is 50 unless given, as for its sampling; pass ``top_k=0`` for the whole
    vocabulary), the attention mask and the stopping criteria, then calls this function; DISD
    applies temperature, top-k and top-p itself (the warpers transformers builds for them with
    ``do_sample=True`` are set aside) and refuses any other logits processor. transformers does
    not forward a ``streamer`` or the ``tokenizer`` (so no stop strings) to a custom callable:
    for those call :func:`disd_generate` directly. DISD samples whatever ``do_sample`` says (the
    race is its sampler); beam search and ``num_return_sequences > 1`` are refused. Returns
    ``sequences``, or the full output with ``return_dict_in_generate=True``."""
    cfg = generation_config
    for name in ("num_beams", "num_return_sequences"):
        if (getattr(cfg, name, None) or 1) > 1:
            raise ValueError(f"disd_custom_generate decodes one sequence per prompt, so {name} "
                             f"must be 1, got {getattr(cfg, name)}: for several samples of a "
                             "prompt, repeat it with one seed per row")  # fmt: skip
    others = [p for p in logits_processor or [] if type(p).__name__ not in _SAMPLING_WARPERS]
    if others:
        names = ", ".join(type(p).__name__ for p in others)
        raise ValueError(f"disd_custom_generate applies temperature, top_k and top_p itself; "
                         f"remove the other logits processors ({names})")  # fmt: skip
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

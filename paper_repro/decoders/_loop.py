"""The draft-and-verify loop shared by every decoder.

A *rule* supplies the three random choices, each keyed by the absolute output position ``t``:

* ``draft(q, t)``: the drafter's token from its distribution ``q``;
* ``verify(p, q, x, t)``: ``(accepted, token)``; on rejection ``token`` is what the target emits;
* ``sample(p, t)``: the target's own token (the bonus after a fully accepted block, or a plain
  autoregressive step).

Each round drafts ``g = min(gamma, remaining - 1)`` tokens, scores them in one target pass of
``g + 1`` positions, keeps the accepted prefix, then emits either the rejection token or the
bonus, so every target call emits at least one token and never more than ``max_new_tokens``.
"""

import time
from dataclasses import dataclass, field

__all__ = ["DecodeResult", "DecodeStats", "decode"]


@dataclass
class DecodeStats:
    """Counters of one run. ``block_efficiency`` is tokens per target call."""

    tokens: int = 0
    target_calls: int = 0
    drafter_calls: int = 0
    drafted: int = 0
    accepted: int = 0
    seconds: float = 0.0
    accept_flags: list = field(default_factory=list)

    @property
    def acceptance(self):
        return self.accepted / self.drafted if self.drafted else float("nan")

    @property
    def block_efficiency(self):
        return self.tokens / self.target_calls if self.target_calls else float("nan")

    def as_dict(self):
        return {
            "tokens": self.tokens,
            "target_calls": self.target_calls,
            "drafter_calls": self.drafter_calls,
            "drafted": self.drafted,
            "accepted": self.accepted,
            "acceptance": self.acceptance,
            "block_efficiency": self.block_efficiency,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class DecodeResult:
    """Generated token ids (prompt excluded) and the run's counters."""

    tokens: list
    stats: DecodeStats


def _check(prompt_ids, gamma, max_new_tokens, drafter):
    if len(prompt_ids) == 0:
        raise ValueError("the prompt is empty: give at least one token")
    for name, value, low in (("gamma", gamma, 0 if drafter is None else 1),
                             ("max_new_tokens", max_new_tokens, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")


def decode(target, drafter, rule, prompt_ids, *, gamma, max_new_tokens, sampling,
           eos_token_id=None):  # fmt: skip
    """Generate with ``target`` (a :class:`~paper_repro.lm.CachedLM`) and an optional drafter.

    ``drafter`` has ``next_token_logits(context) -> ndarray (V,)``; ``None`` (with ``gamma=0``)
    is plain autoregressive decoding. ``sampling`` (a
    :class:`~paper_repro.sampling.SamplingConfig`) turns both models' logits into
    distributions identically. Decoding stops after ``max_new_tokens`` or at ``eos_token_id``.
    """
    prompt = [int(t) for t in prompt_ids]
    _check(prompt, gamma, max_new_tokens, drafter)
    stats = DecodeStats()
    out = []
    start = time.perf_counter()
    target.reset()
    if drafter is not None:
        drafter.reset()
    while len(out) < max_new_tokens:
        t0 = len(out)
        g = 0 if drafter is None else min(gamma, max_new_tokens - t0 - 1)
        context = prompt + out
        drafts, qs = [], []
        for j in range(g):
            q = sampling.probs(drafter.next_token_logits(context + drafts))
            stats.drafter_calls += 1
            drafts.append(rule.draft(q, t0 + j))
            qs.append(q)
        logits = target.logits(context + drafts, g + 1)
        stats.target_calls += 1
        emitted = None
        for j in range(g):
            ok, token = rule.verify(sampling.probs(logits[j]), qs[j], drafts[j], t0 + j)
            stats.drafted += 1
            stats.accept_flags.append(ok)
            if not ok:
                emitted = token
                break
            stats.accepted += 1
            out.append(drafts[j])
            if eos_token_id is not None and drafts[j] == eos_token_id:
                break
        else:
            emitted = rule.sample(sampling.probs(logits[g]), t0 + g)
        if out and eos_token_id is not None and out[-1] == eos_token_id:
            break
        out.append(int(emitted))
        if eos_token_id is not None and out[-1] == eos_token_id:
            break
    stats.tokens = len(out)
    stats.seconds = time.perf_counter() - start
    return DecodeResult(out, stats)

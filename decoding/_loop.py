"""The draft-and-verify loop shared by every decoder.

A *rule* supplies the random choices, each keyed by the token's absolute position ``t`` in its
sequence, counted from the first real token (:func:`token_key`: a prompt of L tokens puts the
first generated token at position L), so a call that continues a conversation never reuses the
noise of an earlier call:

* ``draft(q, t) -> int``: the drafter's token from its distribution ``q`` (V,);
* ``verify_block(P, Q, drafts, t0) -> (accepted, token)``: one call per target pass, with the
  target's distributions ``P`` (g + 1, V), the drafter's ``Q`` (g, V) and the g drafted tokens
  at positions ``t0 .. t0 + g - 1``; ``accepted`` drafts are kept and ``token`` is emitted after
  them (the target's token at the first rejection, or the bonus after a full block);
* ``sample(p, t) -> int``: the target's own token at one position (what autoregressive
  sampling emits), for callers outside the loop.

Distributions are torch tensors on the target's device (or numpy arrays); a rule keeps them
there when its backend is ``torch`` and reads them on the host for ``numba``. Either way only
integers come back to the loop: drafted tokens, the accepted count and the emitted token.

Each round drafts ``g = min(gamma, remaining - 1)`` tokens, scores them in one target pass of
``g + 1`` positions, keeps the accepted prefix, then emits either the rejection token or the
bonus, so every target call emits at least one token and never more than ``max_new_tokens``.
"""

import time
from dataclasses import dataclass, field

__all__ = ["BACKENDS", "KEY_CONVENTION", "DecodeResult", "DecodeStats", "decode", "resolve_backend",
           "token_key"]  # fmt: skip

#: The decoders' public-randomness key: the token's absolute position from the first real token.
KEY_CONVENTION = "absolute-position"

#: Where a rule draws: ``numba`` on host arrays, ``torch`` on the tensors' device; ``auto`` is
#: torch for tensors on an accelerator and numba otherwise (the faster choice on a CPU).
BACKENDS = ("auto", "numba", "torch")


def token_key(prompt_length, index):
    """The public-randomness key of generated token ``index`` (0-based) after a prompt of
    ``prompt_length`` real tokens: its absolute position in the sequence, counted from the
    first real token (padding never counts). The one key convention of every decoder, of
    :class:`~coupling.decoding.KeyedRace` and of the experiments' replays.

    Examples
    --------
    >>> token_key(5, 0), token_key(5, 3)
    (5, 8)
    """
    return prompt_length + index


def resolve_backend(backend, x):
    """The backend a rule uses for distributions like ``x``."""
    if backend != "auto":
        return backend
    is_tensor = type(x).__module__.startswith("torch")
    return "torch" if is_tensor and x.device.type != "cpu" else "numba"


def check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


def host(x):
    """A float64 numpy view (CPU) or copy (device) of a distribution or block of them."""
    import numpy as np

    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def as_tensor(x):
    """A distribution or block as a torch tensor (numpy input goes to the CPU)."""
    import numpy as np
    import torch

    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


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


def check_run(prompt_ids, gamma, max_new_tokens, drafter):
    if len(prompt_ids) == 0:
        raise ValueError("the prompt is empty: give at least one token")
    for name, value, low in (("gamma", gamma, 0 if drafter is None else 1),
                             ("max_new_tokens", max_new_tokens, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")


def check_draft(q, target):
    """The drafter's distributions must live where the target's logits do, over the same
    vocabulary: checked once, at the first draft of a run."""
    is_tensor = type(q).__module__.startswith("torch")
    where = f"a tensor on {q.device}" if is_tensor else "a numpy array"
    if where != f"a tensor on {target.device}" or q.shape[-1] != target.vocab_size:
        raise ValueError(
            f"the drafter gave {where} over {q.shape[-1]} tokens; the target's logits are on "
            f"{target.device} over {target.vocab_size}: load the drafter on the target's "
            "device with the target's tokenizer"
        )


def _stack(rows, like):
    """The drafter's distributions as one (g, V) block of the target's kind."""
    if type(like).__module__.startswith("torch"):
        import torch

        return torch.stack(rows) if rows else like[:0]
    import numpy as np

    return np.stack(rows) if rows else like[:0]


def eos_ids(eos_token_id):
    """The end-of-sequence ids as a frozenset: ``None`` (none), one int, or several."""
    if eos_token_id is None:
        return frozenset()
    if isinstance(eos_token_id, int):
        return frozenset([eos_token_id])
    return frozenset(int(x) for x in eos_token_id)


def emit(out, stats, drafts, accepted, token, ends):
    """Append a round's accepted drafts and its token to ``out`` one at a time, counting them
    in ``stats`` (the first rejected draft, if any, counts as drafted); ``ends(out)`` is asked
    after each token and True stops the round there. Returns whether the sequence ended."""
    for j, x in enumerate([*drafts[:accepted], token]):
        out.append(int(x))
        if j < accepted:
            stats.drafted += 1
            stats.accepted += 1
            stats.accept_flags.append(True)
        elif accepted < len(drafts):
            stats.drafted += 1
            stats.accept_flags.append(False)
        if ends(out):
            return True
    return False


def at_eos(eos_token_id):
    """The ``ends`` test of :func:`emit` for decoding that stops at ``eos_token_id`` (one id,
    several or None)."""
    ids = eos_ids(eos_token_id)
    return lambda out: out[-1] in ids


def decode(target, drafter, rule, prompt_ids, *, gamma, max_new_tokens, sampling,
           eos_token_id=None):  # fmt: skip
    """Generate with ``target`` (a :class:`~coupling.decoding.lm.CachedLM`) and an optional
    drafter.

    ``drafter`` has ``next_token_logits(context) -> tensor (V,)`` on the target's device and
    ``reset()``; ``None`` (with ``gamma=0``) is plain autoregressive decoding. ``sampling`` (a
    :class:`~coupling.decoding.sampling.SamplingConfig`) turns both models' logits into
    distributions identically. Decoding stops after ``max_new_tokens`` or at ``eos_token_id``
    (one id or several).
    """
    prompt = [int(t) for t in prompt_ids]
    check_run(prompt, gamma, max_new_tokens, drafter)
    stats = DecodeStats()
    out = []
    ends = at_eos(eos_token_id)
    start = time.perf_counter()
    target.reset()
    if drafter is not None:
        drafter.reset()
    while len(out) < max_new_tokens:
        g = 0 if drafter is None else min(gamma, max_new_tokens - len(out) - 1)
        key = token_key(len(prompt), len(out))
        context = prompt + out
        drafts, qs = [], []
        for j in range(g):
            qs.append(sampling.probs(drafter.next_token_logits(context + drafts)))
            if stats.drafter_calls == 0:
                check_draft(qs[-1], target)
            stats.drafter_calls += 1
            drafts.append(int(rule.draft(qs[-1], key + j)))
        logits = target.logits(context + drafts, g + 1)
        stats.target_calls += 1
        accepted, token = rule.verify_block(sampling.probs(logits), _stack(qs, logits),
                                            drafts, key)  # fmt: skip
        if emit(out, stats, drafts, accepted, token, ends):
            break
    stats.tokens = len(out)
    stats.seconds = time.perf_counter() - start
    return DecodeResult(out, stats)

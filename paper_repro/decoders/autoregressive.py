"""Autoregressive sampling of the target with the public randomness: the reference.

Token ``t`` is the communication-free sample of the target's distribution with key ``t``
(Gumbel race or WMH), so DISD with the same seed and coupling must reproduce it exactly.
"""

from paper_repro.decoders._loop import decode
from paper_repro.decoders.disd import DisdRule

__all__ = ["autoregressive", "reference_rule"]


def reference_rule(seed, coupling="gumbel", backend="auto"):
    """The per-position sampler of the reference: the DISD rule's ``sample`` (and its
    ``verify_block`` of an empty block, which is the same draw)."""
    return DisdRule(seed, coupling, backend)


def autoregressive(target, prompt_ids, *, seed, max_new_tokens, sampling, coupling="gumbel",
                   eos_token_id=None, backend="auto"):  # fmt: skip
    """One target step per token; ``y_t = coupling_sample(p_t, seed, key=t)``. ``backend``
    must be the one the DISD run to compare with uses (``auto`` picks it by device)."""
    return decode(target, None, reference_rule(seed, coupling, backend), prompt_ids, gamma=0,
                  max_new_tokens=max_new_tokens, sampling=sampling,
                  eos_token_id=eos_token_id)  # fmt: skip

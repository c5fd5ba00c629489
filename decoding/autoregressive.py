"""Autoregressive sampling of the target with the public randomness: the reference.

The token at absolute position ``t`` (counted from the prompt's first token:
:func:`~coupling.decoding.token_key`) is the communication-free sample of the target's
distribution with key ``t``
(Gumbel race, WMH, or the K-slot race of the list coupling, ``gls``), so DISD, and the strong
multi-draft variant with K drafts, with the same seed and coupling must reproduce it exactly.
"""

from coupling.decoding._loop import decode
from coupling.decoding.disd import COUPLINGS, DisdRule
from coupling.decoding.multidraft import MultiDraftRule

__all__ = ["REFERENCE_COUPLINGS", "autoregressive", "reference_rule"]

#: The reference's samplers: DISD's couplings and ``gls``, the K-slot race.
REFERENCE_COUPLINGS = (*COUPLINGS, "gls")


def reference_rule(seed, coupling="gumbel", backend="auto", drafts=None):
    """The per-position sampler of the reference: the DISD rule's ``sample`` (and its
    ``verify_block`` of an empty block, which is the same draw); for ``coupling="gls"`` the
    race over all ``drafts`` slots (:class:`~coupling.decoding.MultiDraftRule`)."""
    if coupling == "gls":
        if drafts is None:
            raise ValueError("the gls reference needs drafts (the number of slots K)")
        return MultiDraftRule(seed, drafts, "strong", backend)
    if drafts is not None:
        raise ValueError(f"drafts applies to the gls reference only, not to {coupling!r}")
    return DisdRule(seed, coupling, backend)


def autoregressive(target, prompt_ids, *, seed, max_new_tokens, sampling, coupling="gumbel",
                   eos_token_id=None, backend="auto", drafts=None):  # fmt: skip
    """One target step per token; ``y_t = coupling_sample(p_t, seed, key=t)`` at absolute
    position ``t = len(prompt_ids) + i`` for the i-th new token. ``backend``
    must be the one the DISD run to compare with uses (``auto`` picks it by device);
    ``drafts`` is K for ``coupling="gls"``."""
    return decode(target, None, reference_rule(seed, coupling, backend, drafts), prompt_ids,
                  gamma=0, max_new_tokens=max_new_tokens, sampling=sampling,
                  eos_token_id=eos_token_id)  # fmt: skip

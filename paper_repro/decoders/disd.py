r"""Drafter-invariant speculative decoding (Daliri, Musco, Suresh).

At output position t both models sample with the same public randomness :math:`R_t` (keyed by
seed and t): the drafter proposes :math:`x_t = S(q_t, R_t)`, the target computes
:math:`y_t = S(p_t, R_t)` in its verify pass, drafts are accepted while :math:`x_t = y_t`, the
first mismatch emits :math:`y_t`, and a fully accepted block earns the bonus :math:`y_{t+\gamma}`.
``S`` is the Gumbel race or weighted MinHash. Every emitted token is :math:`y_t`, the token that
autoregressive sampling with the same seed produces, whatever the drafter; acceptance per token
is the coupling's :math:`\Pr[a=b] \ge (1-D)/(1+D)`. There is no ratio test: reusing shared noise
in one would bias the output.
"""

from paper_repro.decoders._loop import decode
from simulate import gumbel_sample, wmh_sample
from simulate.validation import as_seed

__all__ = ["COUPLINGS", "DisdRule", "disd"]

COUPLINGS = ("gumbel", "wmh")


class DisdRule:
    """Accept iff equal, with the communication-free sampler ``coupling`` keyed by position."""

    def __init__(self, seed, coupling="gumbel"):
        if coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {COUPLINGS}, got {coupling!r}")
        self.seed = as_seed(seed)
        self.coupling = coupling
        self._sample = gumbel_sample if coupling == "gumbel" else wmh_sample

    def sample(self, p, t):
        return int(self._sample(p, seed=self.seed, key=t, normalize=True))

    def draft(self, q, t):
        return self.sample(q, t)

    def verify(self, p, q, x, t):
        y = self.sample(p, t)
        return x == y, y


def disd(target, drafter, prompt_ids, *, seed, gamma, max_new_tokens, sampling,
         coupling="gumbel", eos_token_id=None):  # fmt: skip
    """DISD with ``gamma`` drafts per target pass; returns a :class:`DecodeResult`."""
    return decode(target, drafter, DisdRule(seed, coupling), prompt_ids, gamma=gamma,
                  max_new_tokens=max_new_tokens, sampling=sampling,
                  eos_token_id=eos_token_id)  # fmt: skip

r"""Standard speculative decoding (Leviathan, Kalman, Matias 2023; Chen et al. 2023).

The drafter samples :math:`x \sim q` by inverse CDF; the target accepts with probability
:math:`\min(1, p(x)/q(x))`, otherwise it emits a draw from the residual
:math:`(p - q)^+ / \lVert (p-q)^+ \rVert_1`; after a fully accepted block it draws the bonus from
``p``. The output law is exactly ``p`` and acceptance per token is :math:`1 - D`, but the tokens
depend on the drafter. Its three uniforms per position come from their own public domains
(``sd-draft``, ``sd-accept``, ``sd-target``), never from the coupling noise.
"""

import numpy as np

from paper_repro.decoders._loop import decode
from simulate import inverse_cdf_sample, uniform
from simulate.validation import as_seed

__all__ = ["StandardRule", "residual", "standard_sd"]


def residual(p, q):
    """The normalised residual :math:`(p - q)^+`; ``p`` itself when ``p <= q`` everywhere."""
    r = np.maximum(p - q, 0.0)
    total = r.sum()
    return r / total if total > 0 else p


class StandardRule:
    """Ratio test and residual resampling with separately keyed public uniforms."""

    def __init__(self, seed, residual_fn=residual):
        self.seed = as_seed(seed)
        self.residual_fn = residual_fn

    def _u(self, t, domain):
        return uniform(seed=self.seed, key=t, index=0, domain=domain)

    def sample(self, p, t):
        return inverse_cdf_sample(p, self._u(t, "sd-target"))

    def draft(self, q, t):
        return inverse_cdf_sample(q, self._u(t, "sd-draft"))

    def verify(self, p, q, x, t):
        if self._u(t, "sd-accept") * q[x] < p[x]:
            return True, x
        return False, self.sample(self.residual_fn(p, q), t)


def standard_sd(target, drafter, prompt_ids, *, seed, gamma, max_new_tokens, sampling,
                eos_token_id=None):  # fmt: skip
    """Standard SD with ``gamma`` drafts per target pass; returns a :class:`DecodeResult`."""
    return decode(target, drafter, StandardRule(seed), prompt_ids, gamma=gamma,
                  max_new_tokens=max_new_tokens, sampling=sampling,
                  eos_token_id=eos_token_id)  # fmt: skip

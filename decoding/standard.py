r"""Standard speculative decoding (Leviathan, Kalman, Matias 2023; Chen et al. 2023).

The drafter samples :math:`x \sim q` by inverse CDF; the target accepts with probability
:math:`\min(1, p(x)/q(x))`, otherwise it emits a draw from the residual
:math:`(p - q)^+ / \lVert (p-q)^+ \rVert_1`; after a fully accepted block it draws the bonus from
``p``. The output law is exactly ``p`` and acceptance per token is :math:`1 - D`, but the tokens
depend on the drafter. Its three uniforms per position come from their own public domains
(``sd-draft``, ``sd-accept``, ``sd-target``), never from the coupling noise.
"""

import numpy as np
from coupling.decoding._loop import (
    as_tensor,
    check_backend,
    decode,
    host,
    resolve_backend,
)
from coupling.simulate import inverse_cdf_sample, uniform
from coupling.simulate.validation import as_seed

__all__ = ["StandardRule", "residual", "standard_sd"]


def residual(p, q):
    """The normalised residual :math:`(p - q)^+` per row; ``p`` itself where ``p <= q``
    everywhere. Numpy arrays or torch tensors, of shape (V,) or (rows, V)."""
    if type(p).__module__.startswith("torch"):
        r = (p - q).clamp(min=0.0)
        total = r.sum(dim=-1, keepdim=True)
        return (r / total).where(total > 0, p)
    r = np.maximum(p - q, 0.0)
    total = r.sum()
    return r / total if total > 0 else p


class StandardRule:
    """Ratio test and residual resampling with separately keyed public uniforms.

    With ``backend="torch"`` a verify block runs on the device: the g ratio tests at once, the
    residual of the first rejected position (or the target's row for the bonus) and its
    inverse-CDF draw, reading back two integers; with ``numba`` the host tests position by
    position, exactly as the textbook loop.
    """

    def __init__(self, seed, residual_fn=residual, backend="auto"):
        self.seed = as_seed(seed)
        self.residual_fn = residual_fn
        self.backend = check_backend(backend)

    def _u(self, t, domain):
        return uniform(seed=self.seed, key=t, index=0, domain=domain)

    def _draw(self, p, t, domain):
        if resolve_backend(self.backend, p) == "torch":
            return int(inverse_cdf_sample(as_tensor(p), self._u(t, domain)))
        return inverse_cdf_sample(host(p), self._u(t, domain))

    def sample(self, p, t):
        """A sample from ``p`` at t by the inverse CDF of the ``sd-target`` uniform."""
        return self._draw(p, t, "sd-target")

    def draft(self, q, t):
        """The drafter's sample from ``q`` at t (its own ``sd-draft`` uniform)."""
        return self._draw(q, t, "sd-draft")

    def verify_block(self, P, Q, drafts, t0):
        """One target pass: the ratio tests min(1, p/q) on the ``sd-accept`` uniforms, then
        a residual or bonus draw; returns (accepted drafts, next token)."""
        g = len(drafts)
        if resolve_backend(self.backend, P) == "numba":
            P, Q = host(P), host(Q)
            for j, x in enumerate(drafts):
                if not self._u(t0 + j, "sd-accept") * Q[j, x] < P[j, x]:
                    return j, self.sample(self.residual_fn(P[j], Q[j]), t0 + j)
            return g, self.sample(P[g], t0 + g)
        import torch

        P, Q = as_tensor(P), as_tensor(Q)
        keys = torch.arange(t0, t0 + g + 1, device=P.device)
        accepted = torch.zeros(1, dtype=torch.int64, device=P.device)
        rows = P
        if g:
            x = torch.tensor(drafts, dtype=torch.int64).to(P.device)[:, None]
            u = self._u(keys[:g], "sd-accept")
            ok = u * Q.gather(1, x)[:, 0] < P[:g].gather(1, x)[:, 0]
            accepted = torch.cumprod(ok, dim=0).sum().reshape(1)  # the accepted prefix
            # the row to draw from: the residual at the first rejection, else the bonus row
            rows = torch.cat([self.residual_fn(P[:g], Q), P[g:]])
        w = rows.index_select(0, accepted)[0]
        token = inverse_cdf_sample(w, self._u(keys.index_select(0, accepted), "sd-target")[0])
        return tuple(torch.cat([accepted, token.reshape(1)]).tolist())


def standard_sd(target, drafter, prompt_ids, *, seed, gamma, max_new_tokens, sampling,
                eos_token_id=None, backend="auto"):  # fmt: skip
    """Standard SD with ``gamma`` drafts per target pass; returns a :class:`DecodeResult`."""
    return decode(target, drafter, StandardRule(seed, backend=backend), prompt_ids, gamma=gamma,
                  max_new_tokens=max_new_tokens, sampling=sampling,
                  eos_token_id=eos_token_id)  # fmt: skip

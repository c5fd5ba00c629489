r"""Drafter-invariant speculative decoding (Daliri, Musco, Suresh).

At position t (the token's absolute position in its sequence, counted from the first real
token) both models sample with the same public randomness :math:`R_t` (keyed by seed and t):
the drafter proposes :math:`x_t = S(q_t, R_t)`, the target computes :math:`y_t = S(p_t, R_t)`
in its verify pass, drafts are accepted while :math:`x_t = y_t`, the first mismatch emits
:math:`y_t`, and a fully accepted block earns the bonus :math:`y_{t+\gamma}`. ``S`` is the
Gumbel race or weighted MinHash. Every emitted token is :math:`y_t`, the token that
autoregressive sampling with the same seed produces, whatever the drafter; acceptance per token
is the coupling's :math:`\Pr[a=b] \ge (1-D)/(1+D)`. There is no ratio test: reusing shared
noise in one would bias the output.
"""

from coupling.decoding._loop import (
    as_tensor,
    check_backend,
    decode,
    host,
    resolve_backend,
)
from coupling.simulate import gumbel_sample, wmh_sample
from coupling.simulate.validation import as_seed

__all__ = ["COUPLINGS", "DisdRule", "disd"]

COUPLINGS = ("gumbel", "wmh")


class DisdRule:
    """Accept iff equal, with the communication-free sampler ``coupling`` keyed by position.

    ``backend`` (see :data:`~coupling.decoding._loop.BACKENDS`) picks where the samples
    are drawn. With ``torch`` a verify block draws the g + 1 target samples in one call on the
    device, compares them with the drafts there, and reads back two integers; with ``numba``
    the host draws position by position and stops at the first mismatch. The two backends
    agree except on near-ties of the race (:mod:`coupling.simulate._torch`), so one run (reference,
    drafter and target alike) uses one backend.
    """

    def __init__(self, seed, coupling="gumbel", backend="auto"):
        if coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {COUPLINGS}, got {coupling!r}")
        self.seed = as_seed(seed)
        self.coupling = coupling
        self.backend = check_backend(backend)
        self._sample = gumbel_sample if coupling == "gumbel" else wmh_sample

    def _draw(self, p, key):
        if resolve_backend(self.backend, p) == "torch":
            return self._sample(as_tensor(p), seed=self.seed, key=key, normalize=True)
        return self._sample(host(p), seed=self.seed, key=key, normalize=True)

    def sample(self, p, t):
        """The target's coupled sample from ``p`` at absolute position t (an int)."""
        return int(self._draw(p, t))

    def sample_rows(self, P, keys):
        """The coupled samples of the rows of ``P`` (R, V), row r at position ``keys[r]``: an
        int64 array (numba) or tensor on ``P``'s device (torch)."""
        if resolve_backend(self.backend, P) == "torch":
            import torch

            P = as_tensor(P)
            keys = torch.as_tensor(keys, dtype=torch.int64).to(P.device)
            return self._sample(P, seed=self.seed, key=keys, normalize=True)
        import numpy as np

        keys = np.asarray(keys.cpu() if hasattr(keys, "cpu") else keys, dtype=np.int64)
        return self._sample(host(P), seed=self.seed, key=keys, normalize=True)

    def draft(self, q, t):
        """The drafter's sample from ``q`` at t: the same public randomness as :meth:`sample`."""
        return self.sample(q, t)

    def verify_block(self, P, Q, drafts, t0):
        """One target pass: draws from the g + 1 rows of ``P`` at once; returns (accepted
        drafts, next token), the target's own sample at the first mismatch or the bonus."""
        g = len(drafts)
        if resolve_backend(self.backend, P) == "numba":
            P = host(P)
            for j, x in enumerate(drafts):
                y = int(self._sample(P[j], seed=self.seed, key=t0 + j, normalize=True))
                if y != x:
                    return j, y
            return g, int(self._sample(P[g], seed=self.seed, key=t0 + g, normalize=True))
        import torch

        P = as_tensor(P)
        y = self._sample(P, seed=self.seed, normalize=True,
                         key=torch.arange(t0, t0 + g + 1, device=P.device))  # fmt: skip
        x = torch.tensor(drafts, dtype=torch.int64).to(P.device, non_blocking=True)
        accepted = torch.cumprod(y[:g] == x, dim=0).sum().reshape(1)  # the matching prefix
        return tuple(torch.cat([accepted, y.index_select(0, accepted)]).tolist())


def disd(target, drafter, prompt_ids, *, seed, gamma, max_new_tokens, sampling,
         coupling="gumbel", eos_token_id=None, backend="auto"):  # fmt: skip
    """DISD with ``gamma`` drafts per target pass; returns a :class:`DecodeResult`."""
    return decode(target, drafter, DisdRule(seed, coupling, backend), prompt_ids, gamma=gamma,
                  max_new_tokens=max_new_tokens, sampling=sampling,
                  eos_token_id=eos_token_id)  # fmt: skip

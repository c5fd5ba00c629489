r"""Turning next-token logits into the distribution both models are coupled on.

Temperature, top-k and top-p act on logits in float64 and are applied identically to the target's
and the drafter's logits, before any coupling or ratio test:

.. math:: p \propto \exp(\ell / T) \text{ on the kept set}

top-k keeps the k largest logits (ties at the boundary: lowest index first); top-p keeps the
smallest prefix of tokens sorted by decreasing probability (ties: lowest index first) whose mass
reaches ``top_p``. Greedy decoding is a separate, explicit mode: a point mass on the lowest-index
maximiser.

Logits may be a numpy vector (V,) or a torch tensor (V,) or (rows, V) on any device; a tensor
stays on its device and gives a float64 tensor there (top-k without a sort: the k-th value and
a count of the ties; top-p sorts, as it must). The two paths have the same semantics; their
sums may differ in the last bits (summation order), which is why one decoding run never mixes
them.
"""

from dataclasses import dataclass

import numpy as np
from coupling.simulate.validation import as_count, as_real

__all__ = ["SamplingConfig"]


@dataclass(frozen=True)
class SamplingConfig:
    """How logits become a distribution.

    temperature : float > 0 (greedy is ``greedy=True``, not temperature 0)
    top_k : int >= 0, 0 keeps every token
    top_p : float in (0, 1], 1 keeps every token
    greedy : bool, a point mass on the argmax
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    greedy: bool = False

    def __post_init__(self):
        try:
            as_real(self.temperature, "temperature", 0.0, open_low=True)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{exc}; for the argmax use greedy=True (--greedy on the command line)"
                            ) from None  # fmt: skip
        as_count(self.top_k, "top_k", minimum=0)  # 0 keeps every token
        as_real(self.top_p, "top_p", 0.0, 1.0, open_low=True)

    def probs(self, logits):
        """The float64 distribution(s) for logits of shape (V,), or (rows, V) for a tensor.

        Parameters
        ----------
        logits : ndarray (V,) or torch.Tensor (V,) or (rows, V)
            Unnormalised log-probabilities; -inf excludes a token, NaN and +inf are refused.

        Returns
        -------
        ndarray or torch.Tensor of float64, the shape of ``logits``
            A tensor stays on its device.

        Examples
        --------
        >>> SamplingConfig(top_k=1).probs(np.array([0.0, 2.0, 2.0])).tolist()
        [0.0, 1.0, 0.0]
        """
        if type(logits).__module__.startswith("torch"):
            return self._probs_torch(logits)
        z = np.asarray(logits, dtype=np.float64)
        if z.ndim != 1 or z.size == 0:
            raise ValueError(f"logits must be a non-empty vector, got shape {z.shape}")
        if np.isnan(z).any() or np.isposinf(z).any():
            bad = int(np.flatnonzero(~np.isfinite(z) & ~np.isneginf(z))[0])
            raise ValueError(f"non-finite logit {z[bad]!r} at token {bad}")
        if np.isneginf(z).all():
            raise ValueError("every logit is -inf: no token can be sampled")
        if self.greedy:
            out = np.zeros(z.size)
            out[int(np.argmax(z))] = 1.0
            return out
        z = z / self.temperature
        if 0 < self.top_k < z.size:
            order = np.argsort(-z, kind="stable")
            z[order[self.top_k :]] = -np.inf
        w = np.exp(z - z.max())
        if self.top_p < 1:
            order = np.argsort(-w, kind="stable")
            mass = np.cumsum(w[order])
            keep = int(np.searchsorted(mass, self.top_p * mass[-1], side="left")) + 1
            w[order[keep:]] = 0.0
        return w / w.sum()

    def _probs_torch(self, logits):
        import torch

        if logits.ndim not in (1, 2) or logits.shape[-1] == 0 or logits.numel() == 0:
            raise ValueError(f"logits must be a non-empty (V,) or (rows, V), got {logits.shape}")
        z = logits.detach().to(torch.float64).reshape(-1, logits.shape[-1])
        n = z.shape[1]
        bad = (torch.isnan(z) | torch.isposinf(z)).reshape(-1)
        dead = torch.isneginf(z).all(dim=1).any()
        # one read for every check: any NaN/+inf, where the first is, any row without a token
        any_bad, first, dead = torch.stack([bad.any(), bad.to(torch.int8).argmax(), dead]).tolist()
        if any_bad:
            row, token = divmod(first, n)
            where = f" of row {row}" if z.shape[0] > 1 else ""
            raise ValueError(f"non-finite logit {float(z[row, token])!r} at token {token}{where}")
        if dead:
            raise ValueError("every logit is -inf: no token can be sampled")
        if self.greedy:
            out = torch.zeros_like(z)
            out.scatter_(1, z.argmax(dim=1, keepdim=True), 1.0)  # argmax: the first maximiser
            return out.reshape(logits.shape)
        z = z / self.temperature
        if 0 < self.top_k < n:
            kth = torch.topk(z, self.top_k, dim=1).values[:, -1:]
            above = z > kth
            ties = z == kth  # keep the lowest-index ties until k tokens are kept
            room = self.top_k - above.sum(dim=1, keepdim=True)
            keep = above | (ties & (torch.cumsum(ties, dim=1) <= room))
            z = torch.where(keep, z, -torch.inf)
        w = torch.exp(z - z.amax(dim=1, keepdim=True))
        if self.top_p < 1:
            ranked, order = torch.sort(w, dim=1, descending=True, stable=True)
            mass = torch.cumsum(ranked, dim=1)
            keep = torch.searchsorted(mass, self.top_p * mass[:, -1:], right=False) + 1
            ranked = torch.where(torch.arange(n, device=w.device) < keep, ranked, 0.0)
            w = torch.zeros_like(w).scatter_(1, order, ranked)
        return (w / w.sum(dim=1, keepdim=True)).reshape(logits.shape)

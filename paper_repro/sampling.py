r"""Turning next-token logits into the distribution both models are coupled on.

Temperature, top-k and top-p act on logits in float64 and are applied identically to the target's
and the drafter's logits, before any coupling or ratio test:

.. math:: p \propto \exp(\ell / T) \text{ on the kept set}

top-k keeps the k largest logits (ties at the boundary: lowest index first); top-p keeps the
smallest prefix of tokens sorted by decreasing probability whose mass reaches ``top_p``. Greedy
decoding is a separate, explicit mode: a point mass on the lowest-index maximiser.
"""

from dataclasses import dataclass

import numpy as np

from simulate.validation import as_count, as_real

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
            raise type(exc)(f"{exc}; use greedy decoding (--greedy) for the argmax") from None
        as_count(self.top_k, "top_k", minimum=0)  # 0 keeps every token
        as_real(self.top_p, "top_p", 0.0, 1.0, open_low=True)

    def probs(self, logits):
        """The float64 distribution for one vector of logits, shape (V,)."""
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

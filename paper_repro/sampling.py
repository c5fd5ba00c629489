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
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not np.isfinite(t) or t <= 0:
            raise ValueError(
                f"temperature must be a finite number > 0, got {t!r}; "
                "use greedy decoding (--greedy) for the argmax"
            )
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, (int, np.integer)):
            raise TypeError(f"top_k must be an int, got {self.top_k!r}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 keeps all tokens), got {self.top_k}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must lie in (0, 1], got {self.top_p!r}")

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

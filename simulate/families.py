"""Seeded families of distribution pairs (P, Q), each reporting its total variation distance.

Every family takes ``n`` and ``seed`` (keyword) plus its own parameters and returns a
:class:`DistributionPair`. Randomness comes from ``numpy.random.default_rng`` on a
``SeedSequence`` of (seed, family name), never from global state.
"""

import hashlib
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.special import softmax

from simulate.exact import tv_distance
from simulate.validation import as_count, as_distribution, as_pair

__all__ = [
    "FAMILIES",
    "DistributionPair",
    "dirichlet_pair",
    "from_npz",
    "kset_pair",
    "llm_softmax_pair",
    "make_pair",
    "mixture_pair",
    "permuted_pair",
    "point_mass_pair",
    "zipf_pair",
]


class DistributionPair(NamedTuple):
    """Two distributions over the same n items, with provenance."""

    p: np.ndarray
    q: np.ndarray
    family: str
    params: dict
    D: float  #: total variation distance, exact for kset_pair


def _rng(seed, family):
    tag = int.from_bytes(hashlib.blake2b(family.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(np.random.SeedSequence([as_count(seed, "seed", minimum=0), tag]))


def _real(value, name, low=None, high=None, *, open_low=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (value < low or (open_low and value == low)):
        raise ValueError(f"{name} must be {'>' if open_low else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return value


def _dirichlet(rng, alpha, rows, n):
    """``rows`` Dirichlet(alpha) vectors from normalised gamma draws (numpy's own dirichlet
    returns NaN for tiny alpha, where every gamma draw can underflow to 0)."""
    g = rng.standard_gamma(alpha, size=(rows, n))
    g[g.sum(axis=1) == 0, 0] = 1.0
    return g / g.sum(axis=1, keepdims=True)


def _pair(p, q, family, params, D=None):
    p, q = as_pair(p, q, normalize=True)
    return DistributionPair(p, q, family, params, tv_distance(p, q) if D is None else D)


def dirichlet_pair(n, *, seed, alpha=1.0):
    """P and Q drawn independently from Dirichlet(alpha, ..., alpha); small alpha is spiky."""
    n = as_count(n, "n")
    alpha = _real(alpha, "alpha", 0.0, open_low=True)
    p, q = _dirichlet(_rng(seed, "dirichlet"), alpha, 2, n)
    return _pair(p, q, "dirichlet", {"n": n, "alpha": alpha})


def zipf_pair(n, *, seed, exponent=1.1, noise=0.5):
    """Zipf P (p_i proportional to (i + 1)**-exponent) and Q = P times lognormal(0, noise) noise."""
    n = as_count(n, "n")
    exponent = _real(exponent, "exponent", 0.0)
    noise = _real(noise, "noise", 0.0)
    rng = _rng(seed, "zipf")
    p = np.arange(1, n + 1, dtype=float) ** -exponent
    q = p * rng.lognormal(0.0, noise, size=n)
    return _pair(p, q, "zipf", {"n": n, "exponent": exponent, "noise": noise})


def kset_pair(n, *, seed, k, overlap):
    """Uniform on two k-subsets A, B of [n] with |A & B| = overlap: D = (k - overlap)/k exactly.

    The hard instance of the worst-case bound: Gumbel = WMH = |A & B|/|A | B| = (1-D)/(1+D).
    """
    n = as_count(n, "n")
    k = as_count(k, "k")
    overlap = as_count(overlap, "overlap", minimum=0)
    if overlap > k or 2 * k - overlap > n:
        raise ValueError(
            f"need overlap <= k and 2k - overlap <= n, got n={n}, k={k}, overlap={overlap}"
        )
    rng = _rng(seed, "kset")
    items = rng.permutation(n)[: 2 * k - overlap]
    p = np.zeros(n)
    q = np.zeros(n)
    p[items[:k]] = 1.0 / k
    q[items[k - overlap :]] = 1.0 / k
    params = {"n": n, "k": k, "overlap": overlap}
    return _pair(p, q, "kset", params, D=(k - overlap) / k)


def point_mass_pair(n, *, seed, concentration=1.0):
    """P a point mass on a random item; Q spread: Dirichlet(concentration). Gumbel = 1 - D."""
    n = as_count(n, "n")
    concentration = _real(concentration, "concentration", 0.0, open_low=True)
    rng = _rng(seed, "point-mass")
    p = np.zeros(n)
    p[rng.integers(n)] = 1.0
    q = _dirichlet(rng, concentration, 1, n)[0]
    return _pair(p, q, "point-mass", {"n": n, "concentration": concentration})


def llm_softmax_pair(n, *, seed, temperature=1.0, scale=3.0, perturbation=0.5):
    """Next-token-like pair: P = softmax(z / T) with Gaussian logits z ~ N(0, scale^2), and
    Q = softmax((z + e) / T) for a drafter error e ~ N(0, perturbation^2)."""
    n = as_count(n, "n")
    temperature = _real(temperature, "temperature", 0.0, open_low=True)
    scale = _real(scale, "scale", 0.0)
    perturbation = _real(perturbation, "perturbation", 0.0)
    rng = _rng(seed, "llm-softmax")
    z = rng.normal(0.0, scale, size=n)
    e = rng.normal(0.0, perturbation, size=n)
    params = {"n": n, "temperature": temperature, "scale": scale, "perturbation": perturbation}
    return _pair(softmax(z / temperature), softmax((z + e) / temperature), "llm-softmax", params)


def mixture_pair(n, *, seed, lam=0.5, alpha=1.0):
    """P ~ Dirichlet(alpha) and Q = (1 - lam) P + lam R with R ~ Dirichlet(alpha): D <= lam."""
    n = as_count(n, "n")
    lam = _real(lam, "lam", 0.0, 1.0)
    alpha = _real(alpha, "alpha", 0.0, open_low=True)
    rng = _rng(seed, "mixture")
    p, r = _dirichlet(rng, alpha, 2, n)
    return _pair(p, (1 - lam) * p + lam * r, "mixture", {"n": n, "lam": lam, "alpha": alpha})


def permuted_pair(n, *, seed, alpha=1.0, swaps=None):
    """P ~ Dirichlet(alpha) and Q = P with ``swaps`` random transpositions (all items if None)."""
    n = as_count(n, "n")
    alpha = _real(alpha, "alpha", 0.0, open_low=True)
    rng = _rng(seed, "permuted")
    p = _dirichlet(rng, alpha, 1, n)[0]
    if swaps is None:
        perm = rng.permutation(n)
    else:
        perm = np.arange(n)
        for _ in range(as_count(swaps, "swaps", minimum=0)):
            i, j = rng.integers(n, size=2)
            perm[[i, j]] = perm[[j, i]]
    return _pair(p, p[perm], "permuted", {"n": n, "alpha": alpha, "swaps": swaps})


def from_npz(path, *, p_key="p", q_key="q"):
    """Load a pair stored as arrays ``p`` and ``q`` in an .npz file (validated, not rescaled)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such .npz file: {path}")
    with np.load(path) as data:
        for key in (p_key, q_key):
            if key not in data:
                raise ValueError(f"{path} has no array {key!r}; it has {sorted(data.files)}")
        p = as_distribution(data[p_key], "p")
        q = as_distribution(data[q_key], "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q in {path} have different lengths: {p.size} and {q.size}")
    return DistributionPair(p, q, "npz", {"path": str(path)}, tv_distance(p, q))


FAMILIES = {
    "dirichlet": dirichlet_pair,
    "zipf": zipf_pair,
    "kset": kset_pair,
    "point-mass": point_mass_pair,
    "llm-softmax": llm_softmax_pair,
    "mixture": mixture_pair,
    "permuted": permuted_pair,
}


def make_pair(family, n, *, seed, **params):
    """Build a pair from a family name in ``FAMILIES`` with its keyword parameters."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    try:
        return FAMILIES[family](n, seed=seed, **params)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise TypeError(f"family {family!r}: {exc}") from None
        raise

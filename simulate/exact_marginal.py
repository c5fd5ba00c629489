r"""Coupling with communication and exact marginals on both sides: two protocols.

Both are functions of each party's own distribution, the public randomness and the messages;
``key`` indexes independent runs. Facts below are derived in the docstrings and certified by
:mod:`coupling.proofs.communication` (claim 6).

**Interactive** (:func:`interactive_sample`): speculative sampling carried out between the
parties. Alice draws :math:`a \sim P` from her public stream and sends a in
:math:`\lceil\log_2 n\rceil` bits (fixed length). For a public uniform U, Bob keeps b = a iff
:math:`U p_a < q_a`, decided by the digit exchange of :mod:`coupling.simulate.digits` (Alice holds
:math:`U p_a`, Bob :math:`q_a`). Otherwise Bob proposes :math:`c \sim Q` from his own public
stream, sends c (:math:`\lceil\log_2 n\rceil` bits), and takes it iff :math:`p_c < V q_c` for
a fresh public uniform V (digit exchange again, Bob holding :math:`V q_c`); he repeats until
one is taken. A trial takes c with probability :math:`(q_c - p_c)_+`, so it succeeds with
probability D and b is then distributed as :math:`(q - p)_+ / D`. Hence

.. math::

    \Pr[b = j] = \min(p_j, q_j) + (q_j - p_j)_+ = q_j, \qquad
    \Pr[a = b] = \textstyle\sum_j \min(p_j, q_j) = 1 - D

(a rejected a has :math:`q_a < p_a`, every residual c has :math:`q_c > p_c`). By Wald's
identity the expected bits are :math:`L + \sum_a p_a C(a) + [D > 0](L + \sum_c q_c C'(c))`
with :math:`L = \lceil\log_2 n\rceil` and C, C' the expected costs of the two exchanges
(:func:`coupling.simulate.digits.comparison_law`), each at most :math:`\log_2(1/w) + 8` for the
uniform side's scale w (:data:`coupling.simulate.digits.COMPARISON_OVERHEAD`), so

.. math::

    \mathbb{E}[\text{bits}] \le 2\lceil\log_2 n\rceil + H(P) + H(Q) + 16.

**One-way, quantized** (:func:`quantized_sample`): Alice writes P = s F + (P - f) with
:math:`f_i = c_i 2^{-k}`, :math:`c_i = \min(\lfloor p_i 2^k\rfloor, 2^k - 1)` (k bits each),
s = sum f and F = f / s. She draws a flag, F with probability s, and a from F or from the
remainder :math:`(p - f)/(1 - s)`; she sends the flag, and with flag F also c (n k bits) and
a. With flag F Bob runs speculative sampling of q against the known F (he needs no more
messages); otherwise he draws b from q on his own. Both marginals are exact and

.. math::

    \Pr[a = b] = \textstyle\sum_i \min(f_i, s q_i) + \sum_i (p_i - f_i) q_i
        \;\ge\; s(s - D) \;\ge\; 1 - D - 2(1 - s) \;\ge\; 1 - D - 2 n 2^{-k}

(:math:`d_{TV}(F, P) \le 1 - s` and :math:`1 - s = \sum_i (p_i - f_i) \le n 2^{-k}`), for
:math:`1 + s (n k + \lceil\log_2 n\rceil)` expected bits.

Randomness: the public uniforms of the domains below, index 0 per key (Bob's proposals and
thresholds use index t for his t-th trial). Probabilities are used as float64; every law
here is exact for the floats given, up to the 53-bit resolution of the uniforms.
"""

import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from coupling.simulate._exchange import interactive_pairs, quantized_pairs
from coupling.simulate.digits import COMPARISON_OVERHEAD, as_dyadic, comparison_law
from coupling.simulate.randomness import domain_tag
from coupling.simulate.validation import (
    as_count,
    as_fraction_pair,
    as_key_array,
    as_pair,
    as_seed,
)

__all__ = [
    "INTERACTIVE_DOMAINS",
    "INTERACTIVE_OVERHEAD",
    "MAX_BITS_PER_ENTRY",
    "QUANTIZED_DOMAINS",
    "InteractiveLaw",
    "QuantizedLaw",
    "index_bits",
    "interactive_exact",
    "interactive_sample",
    "quantize",
    "quantized_exact",
    "quantized_sample",
]

#: Alice's draw, the acceptance uniform U, Bob's proposals, the residual thresholds V.
INTERACTIVE_DOMAINS = (
    "interactive-alice",
    "interactive-accept",
    "interactive-propose",
    "interactive-threshold",
)
#: The flag, Alice's draw, Bob's acceptance uniform, his residual draw, his independent draw.
QUANTIZED_DOMAINS = (
    "quantized-flag",
    "quantized-alice",
    "quantized-accept",
    "quantized-residual",
    "quantized-bob",
)
#: The constant of E[bits] <= 2 ceil(log2 n) + H(P) + H(Q) + INTERACTIVE_OVERHEAD.
INTERACTIVE_OVERHEAD = 2 * COMPARISON_OVERHEAD
#: f = c 2^-k and sums of n of them stay exact in float64 up to this k.
MAX_BITS_PER_ENTRY = 52


class InteractiveLaw(NamedTuple):
    """Exact quantities of the interactive protocol (Fractions)."""

    agreement: Fraction  #: Pr[a = b] = sum min(p, q) = 1 - D
    D: Fraction  #: d_TV(p, q)
    bits: Fraction  #: expected bits exchanged
    bits_bound: float  #: 2 ceil(log2 n) + H(P) + H(Q) + INTERACTIVE_OVERHEAD


class QuantizedLaw(NamedTuple):
    """Exact quantities of the quantized one-way protocol (Fractions)."""

    agreement: Fraction  #: Pr[a = b] = sum min(f, s q) + sum (p - f) q
    D: Fraction  #: d_TV(p, q)
    kept: Fraction  #: s = sum f, the probability of the flag F
    bits: Fraction  #: expected bits: 1 + s (n k + ceil(log2 n))
    bound: Fraction  #: 1 - D - 2 n 2^-k, a lower bound on the agreement


def index_bits(n):
    """Bits of a fixed-length item index: ceil(log2 n) (0 for one item)."""
    return (as_count(n, "n") - 1).bit_length()


def _floats(p, q, normalize):
    """Validated float64 pair, each rescaled to sum 1 as the samplers use it."""
    p, q = as_pair(p, q, normalize=normalize)
    return p / p.sum(), q / q.sum()


def _keys(key):
    keys = as_key_array(key, "key")
    return keys, np.ascontiguousarray(keys.reshape(-1))


def _outputs(keys, out):
    if keys.ndim == 0:
        return int(out[0, 0]), int(out[0, 1]), int(out[0, 2])
    return tuple(out[:, i].reshape(keys.shape) for i in range(3))


def _tags(domains):
    return np.array([domain_tag(d) for d in domains], dtype=np.uint64)


def interactive_sample(p, q, *, seed, key, normalize=False):
    """Run the interactive protocol: Alice's a ~ p, Bob's b ~ q, Pr[a = b] = 1 - D.

    Parameters
    ----------
    p, q : array_like, shape (n,)
        Alice's and Bob's distributions.
    seed : int
        Public seed.
    key : int or array of ints
        Run number(s); outputs have the shape of ``key``.
    normalize : bool
        Rescale p and q to sum 1 instead of rejecting them.

    Returns
    -------
    a, b, bits : int or ndarray of int64
        Both outputs and the bits exchanged (both directions), see the module docstring.

    Examples
    --------
    >>> interactive_sample([0.5, 0.5], [0.5, 0.5], seed=1, key=0)[2]  # p = q: a, one exchange
    6
    """
    p, q = _floats(p, q, normalize)
    keys, flat = _keys(key)
    out = np.empty((flat.size, 3), np.int64)
    interactive_pairs(
        p,
        q,
        np.cumsum(p),
        np.cumsum(q),
        bool(np.any(q > p)),
        index_bits(p.size),
        as_seed(seed),
        _tags(INTERACTIVE_DOMAINS),
        flat,
        out,
    )
    return _outputs(keys, out)


def quantize(p, bits_per_entry):
    """Alice's k-bit entries c_i = min(floor(p_i 2^k), 2^k - 1), exactly (Python ints)."""
    k = as_count(bits_per_entry, "bits_per_entry")
    if k > MAX_BITS_PER_ENTRY:
        raise ValueError(f"bits_per_entry must be <= {MAX_BITS_PER_ENTRY}, got {k}")
    return [min(math.floor(Fraction(x) * 2**k), 2**k - 1) for x in p]


def quantized_sample(p, q, bits_per_entry, *, seed, key, normalize=False):
    """Run the one-way quantized protocol: a ~ p, b ~ q exactly, Pr[a = b] >= 1 - D - 2n 2^-k.

    Parameters
    ----------
    p, q : array_like, shape (n,)
        Alice's and Bob's distributions.
    bits_per_entry : int in [1, 52]
        k: Alice sends each p_i rounded down to a multiple of 2^-k, in k bits.
    seed, key, normalize
        As in :func:`interactive_sample`.

    Returns
    -------
    a, b, bits : int or ndarray of int64
        Both outputs and the message length: 1 (flag) or 1 + n k + ceil(log2 n).

    Examples
    --------
    >>> quantized_sample([0.5, 0.5], [0.25, 0.75], 2, seed=1, key=[0, 1])[2]
    array([6, 6])
    """
    p, q = _floats(p, q, normalize)
    k = as_count(bits_per_entry, "bits_per_entry")
    f = np.asarray(quantize(p, k), dtype=np.float64) * 2.0**-k  # exact
    kept = float(f.sum())
    big_f = f / kept if kept > 0 else f
    res = np.maximum(q - big_f, 0.0)
    keys, flat = _keys(key)
    out = np.empty((flat.size, 3), np.int64)
    quantized_pairs(
        kept,
        np.cumsum(f),
        np.cumsum(p - f),
        big_f,
        q,
        np.cumsum(res),
        bool(res.sum() > 0),
        np.cumsum(q),
        p.size * k + index_bits(p.size),
        as_seed(seed),
        _tags(QUANTIZED_DOMAINS),
        flat,
        out,
    )
    return _outputs(keys, out)


def _exact_pair(p, q, normalize):
    """Fractions for (p, q): kept if both are Fractions summing to 1, else the samplers' floats."""
    exact = as_fraction_pair(p, q)
    if exact is not None:
        return exact
    p, q = _floats(p, q, normalize)
    return [Fraction(x) for x in p], [Fraction(x) for x in q]


def _entropy(p):
    return -sum(float(x) * math.log2(x) for x in p if x > 0)


def interactive_exact(p, q, *, normalize=False):
    """Exact agreement, distance and expected bits of :func:`interactive_sample`.

    ``p``, ``q``: Fractions summing to 1 exactly, or floats (taken as the sampler takes them).
    The expected bits need dyadic probabilities (floats are; Fractions must have power-of-two
    denominators). The acceptance and residual uniforms are taken as continuous here.

    Examples
    --------
    >>> from fractions import Fraction as F
    >>> law = interactive_exact([F(3, 4), F(1, 4)], [F(1, 4), F(3, 4)])
    >>> law.agreement, law.bits
    (Fraction(1, 2), Fraction(27, 2))
    """
    p, q = _exact_pair(p, q, normalize)
    for i, x in enumerate((*p, *q)):
        as_dyadic(x, f"{'pq'[i >= len(p)]}[{i % len(p)}]")
    L = index_bits(len(p))
    bits = L + sum(x * comparison_law(x, y, random_party="alice").bits for x, y in zip(p, q) if x)
    if any(y > x for x, y in zip(p, q)):
        res = sum(y * comparison_law(y, x, random_party="bob").bits for x, y in zip(p, q) if y)
        bits += L + res
    D = sum(max(x - y, 0) for x, y in zip(p, q))
    bound = 2 * L + _entropy(p) + _entropy(q) + INTERACTIVE_OVERHEAD
    return InteractiveLaw(sum(map(min, p, q)), D, bits, bound)


def quantized_exact(p, q, bits_per_entry, *, normalize=False):
    """Exact agreement, kept mass, expected bits and bound of :func:`quantized_sample`.

    ``p``, ``q``: Fractions summing to 1 exactly, or floats (taken as the sampler takes them).

    Examples
    --------
    >>> from fractions import Fraction as F
    >>> law = quantized_exact([F(2, 3), F(1, 3)], [F(1, 2), F(1, 2)], 4)
    >>> law.kept, law.agreement, law.bound  # 1 - D = 5/6
    (Fraction(15, 16), Fraction(13, 16), Fraction(7, 12))
    """
    p, q = _exact_pair(p, q, normalize)
    k = as_count(bits_per_entry, "bits_per_entry")
    f = [Fraction(c, 2**k) for c in quantize(p, k)]
    kept = sum(f)
    agreement = sum(min(x, kept * y) for x, y in zip(f, q))
    agreement += sum((x - y) * z for x, y, z in zip(p, f, q))
    D = sum(max(x - y, 0) for x, y in zip(p, q))
    n = len(p)
    bits = 1 + kept * (n * k + index_bits(n))
    return QuantizedLaw(agreement, D, kept, bits, 1 - D - Fraction(2 * n, 2**k))

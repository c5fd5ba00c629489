r"""Public randomness: one counter-based function shared by simulators and the decoder.

Specification
-------------
All arithmetic is on unsigned 64-bit words modulo :math:`2^{64}`. With the SplitMix64
finaliser :math:`\mathrm{mix}` (Stafford's variant 13) and :math:`\gamma =` ``0x9E3779B97F4A7C15``,

.. math::

    s(\text{seed}, d, \text{key}) &= \mathrm{mix}(\mathrm{mix}(\mathrm{mix}(\text{seed} + \gamma)
        \oplus \mathrm{tag}(d)) \oplus \text{key}) \\
    w(\text{seed}, d, \text{key}, i) &= \mathrm{mix}(s + (i + 1)\gamma) \\
    u &= (\lfloor w / 2^{11} \rfloor + 1/2) / 2^{53} \in [2^{-54}, 1 - 2^{-54}].

For a fixed (seed, domain, key) the words are exactly the SplitMix64 stream started at state
``s``, so each key indexes an independent-looking stream of 53-bit uniforms strictly inside
(0, 1); :math:`-\ln u` is therefore finite (at most :math:`54 \ln 2`).

``key`` is a trial number in the simulators and an absolute output position in the decoder;
``index`` is the item (token) number, or a counter within a trial. ``tag(d)`` separates uses
of the randomness: the first 8 bytes (little endian) of BLAKE2b(d, digest_size=8). Two uses
never share a stream unless they name the same domain, which is how two parties share noise.

Examples
--------
>>> from coupling.simulate.randomness import uniform
>>> uniform(seed=0, key=0, index=0, domain="gumbel")  # doctest: +ELLIPSIS
0...
"""

import hashlib
from functools import cache

import numpy as np
from coupling.simulate import _hash
from coupling.simulate.validation import as_key_array, as_seed, is_tensor

__all__ = ["DOMAINS", "domain_tag", "uniform"]

#: Every domain in use, name -> what it keys. :func:`domain_tag` (hence :func:`uniform` and
#: every sampler) refuses a name that is not here: a new use of the randomness is registered
#: first, so no two uses share a stream by accident.
DOMAINS = {
    "gumbel": "exponential race noise, one uniform per item; the list coupling's slot k "
    "(simulate.multidraft) at index item + k * 2**32, so slot 0 is the plain race's noise",
    "wmh-dart-item": "literal dart stream: column of dart k",
    "wmh-dart-height": "literal dart stream: height of dart k",
    "wmh-record-time": "per-column record process: waiting times",
    "wmh-record-height": "per-column record process: height factors",
    "optimal": "maximal coupling (needs both distributions)",
    "independent-p": "independent baseline, first party",
    "independent-q": "independent baseline, second party",
    "fast-gumbel": "fast engine: joint law of the Gumbel pair, not per-party noise",
    "fast-wmh": "fast engine: joint law of the WMH pair (records)",
    "fast-wmh-darts": "fast engine: joint law of the WMH pair (literal darts)",
    "fast-optimal": "fast engine: the maximal coupling",
    "fast-independent": "fast engine: independent draws",
    "fast-gls": "fast engine of the list coupling: target's item, T, per-column tests",
    "sd-target": "standard speculative decoding: the target's inverse-CDF draws",
    "sd-draft": "standard speculative decoding: the drafter's inverse-CDF draws",
    "sd-accept": "standard speculative decoding: the ratio test's uniforms",
    "interactive-alice": "interactive protocol: Alice's draw a ~ p",
    "interactive-accept": "interactive protocol: the acceptance uniform U (U p_a < q_a)",
    "interactive-propose": "interactive protocol: Bob's proposal c ~ q, index = trial",
    "interactive-threshold": "interactive protocol: the residual test p_c < V q_c, V",
    "quantized-flag": "quantized protocol: Alice's flag (F with probability s)",
    "quantized-alice": "quantized protocol: Alice's draw from F or the remainder",
    "quantized-accept": "quantized protocol: Bob's acceptance uniform against F",
    "quantized-residual": "quantized protocol: Bob's draw from (q - F)+",
    "quantized-bob": "quantized protocol: Bob's independent draw from q",
}


@cache
def domain_tag(domain):
    """64-bit tag of a registered domain name: BLAKE2b-64 of its UTF-8 bytes, as uint64."""
    if not isinstance(domain, str):
        raise TypeError(f"domain must be a str, got {domain!r}")
    if domain not in DOMAINS:
        raise ValueError(
            f"unregistered public-randomness domain {domain!r}; register it in "
            "coupling.simulate.randomness.DOMAINS (known: " + ", ".join(DOMAINS) + ")"
        )
    digest = hashlib.blake2b(domain.encode("utf-8"), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def uniform(*, seed, key, index, domain):
    """Public uniforms u(seed, domain, key, index), broadcast over ``key`` and ``index``.

    Parameters
    ----------
    seed : int in [0, 2**64)
    key, index : int or array of ints >= 0 (below 2**63); broadcast against each other.
    domain : str
        Which use of the randomness (see ``DOMAINS``).

    Returns
    -------
    float, or ndarray of float64 of the broadcast shape of ``key`` and ``index`` when either is
    an array; strictly in (0, 1). When ``key`` or ``index`` is an integer torch tensor, a
    float64 tensor on its device, bit for bit the same values (:mod:`coupling.simulate._torch`).

    Examples
    --------
    >>> uniform(seed=0, key=[0, 1], index=0, domain="gumbel").round(4).tolist()
    [0.0651, 0.0321]
    """
    if is_tensor(key) or is_tensor(index):
        from coupling.simulate import _torch  # only callers holding tensors need torch

        return _torch.uniform(seed, domain_tag(domain), key, index)
    s = as_seed(seed)
    keys = as_key_array(key, "key")
    idx = as_key_array(index, "index")
    keys, idx = np.broadcast_arrays(keys, idx)
    out = np.empty(keys.shape, dtype=np.float64)
    _hash.fill_uniforms(
        s, domain_tag(domain), keys.ravel().copy(), idx.ravel().copy(), out.reshape(-1)
    )
    return float(out) if out.ndim == 0 else out

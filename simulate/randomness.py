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
>>> from simulate.randomness import uniform
>>> float(uniform(seed=0, key=0, index=0, domain="gumbel")) # doctest: +ELLIPSIS
0...
"""

import hashlib
from functools import cache

import numpy as np

from simulate import _hash
from simulate._validate import as_key_array, as_seed

__all__ = ["DOMAINS", "domain_tag", "uniform"]

#: Domains used by this project; any other string is allowed for new uses.
DOMAINS = (
    "gumbel",  # exponential race noise, one uniform per item; the list coupling's slot k
    # (simulate.multidraft) at index item + k * 2**32, so slot 0 is the plain race's noise
    "wmh-dart-item",  # literal dart stream: column of dart k
    "wmh-dart-height",  # literal dart stream: height of dart k
    "wmh-record-time",  # per-column record process: waiting times
    "wmh-record-height",  # per-column record process: height factors
    "optimal",  # maximal coupling (needs both distributions)
    "independent-p",  # independent baseline, first party
    "independent-q",  # independent baseline, second party
    "fast-gumbel",  # fast engine streams: joint law, not per-party noise
    "fast-wmh",
    "fast-optimal",
    "fast-independent",
    "fast-gls",  # fast engine of the list coupling: (target's item, T, per-column tests)
)


@cache
def domain_tag(domain):
    """64-bit tag of a domain name: BLAKE2b-64 of its UTF-8 bytes, as uint64."""
    if not isinstance(domain, str) or not domain:
        raise TypeError(f"domain must be a non-empty str, got {domain!r}")
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
    ndarray of float64, the broadcast shape of ``key`` and ``index``, strictly in (0, 1).
    """
    s = as_seed(seed)
    keys = as_key_array(key, "key")
    idx = as_key_array(index, "index")
    keys, idx = np.broadcast_arrays(keys, idx)
    out = np.empty(keys.shape, dtype=np.float64)
    _hash.fill_uniforms(
        s, domain_tag(domain), keys.ravel().copy(), idx.ravel().copy(), out.reshape(-1)
    )
    return out

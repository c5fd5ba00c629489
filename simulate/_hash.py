"""SplitMix64 mixing and the counter-based public uniform (numba kernels).

The specification lives in :mod:`coupling.simulate.randomness`; these are its kernels.
"""

import numpy as np
from numba import njit

GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64 increment (odd, golden ratio)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S33 = np.uint64(33)
_ONE = np.uint64(1)
TWO_M53 = 2.0**-53


@njit(cache=True, inline="always", error_model="numpy")
def mix64(z):
    """SplitMix64 finaliser (Stafford's mix13): a bijection of 64-bit words."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always", error_model="numpy")
def domain_base(seed, tag):
    """The part of a stream's state fixed by (seed, domain tag): hoisted out of trial loops."""
    return mix64(mix64(seed + GAMMA) ^ tag)


@njit(cache=True, inline="always", error_model="numpy")
def key_state(base, key):
    return mix64(base ^ key)


@njit(cache=True, inline="always", error_model="numpy")
def stream_state(seed, tag, key):
    """State of the stream for (seed, domain tag, key); all three are uint64."""
    return key_state(domain_base(seed, tag), key)


@njit(cache=True, inline="always", error_model="numpy")
def word_at(state, index):
    """The 64-bit word at ``index`` of a stream: SplitMix64 output number index + 1."""
    return mix64(state + (np.uint64(index) + _ONE) * GAMMA)


@njit(cache=True, inline="always", error_model="numpy")
def word_to_uniform(w):
    """Top 53 bits of ``w`` as (k + 1/2) / 2**53: strictly inside (0, 1)."""
    return (np.float64(w >> _S11) + 0.5) * TWO_M53


@njit(cache=True, inline="always", error_model="numpy")
def word_to_coarse_gap(w):
    """floor((1 - u) * 2**31) for u = word_to_uniform(w), as a float (exact: 31 bits).

    The bit complement of the top 53 bits is 2**53 - 1 - k, so 1 - u >= this / 2**31.
    """
    return np.float64(np.int32((~w) >> _S33))


@njit(cache=True, inline="always", error_model="numpy")
def uniform_at(state, index):
    return word_to_uniform(word_at(state, index))


@njit(cache=True, error_model="numpy")
def fill_uniforms(seed, tag, keys, indices, out):
    """out[k] = uniform(seed, tag, keys[k], indices[k]) for flat uint64 arrays."""
    for k in range(out.shape[0]):
        out[k] = uniform_at(stream_state(seed, tag, keys[k]), indices[k])

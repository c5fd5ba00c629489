"""Numba kernels of the exact-marginal protocols: the digit comparison and one trial of each.

No validation, no defaults. The specification of the digit comparison is in
:mod:`coupling.simulate.digits` (whose pure-Python :func:`~coupling.simulate.digits.compare_digits`
is the slow twin); the protocols' in :mod:`coupling.simulate.exact_marginal`.

A number z in [0, 1] is held as ``(hi, lo, length, lead)``: z = M 2^g with the integer
M = hi 2^64 + lo of ``length`` bits whose top bit is the binary digit at position ``lead``
(digit j weighs 2^-j); zero has length 0. A float64 has a 53-bit M; the exact product of two
float64 values a 105- or 106-bit M, which is why two words are needed.
"""

import math

import numpy as np
from coupling.simulate._hash import stream_state, uniform_at
from coupling.simulate._kernels import inverse_cdf
from numba import njit

#: The finest digit position any compared number can have: a public uniform is a multiple of
#: 2^-54 and a float64 in [0, 1] of 2^-1074, so every product lies in 2^-1128 Z.
HORIZON = 1128
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_ONE = np.uint64(1)
_TWO53 = 9007199254740992.0  # 2**53


@njit(cache=True, inline="always", error_model="numpy")
def _mantissa(z):
    """z > 0 as (m, g): z = m 2^g with m an integer in [2^52, 2^53)."""
    f, e = math.frexp(z)
    return np.uint64(f * _TWO53), e - 53


@njit(cache=True, error_model="numpy")
def from_float(z):
    """``(hi, lo, length, lead)`` of a float64 z in [0, 1]."""
    if z == 0.0:
        return np.uint64(0), np.uint64(0), 0, 0
    m, g = _mantissa(z)
    return np.uint64(0), m, 53, -52 - g


@njit(cache=True, error_model="numpy")
def from_product(u, w):
    """``(hi, lo, length, lead)`` of the exact product u w of two float64 values in [0, 1]."""
    if u == 0.0 or w == 0.0:
        return np.uint64(0), np.uint64(0), 0, 0
    a, ga = _mantissa(u)
    b, gb = _mantissa(w)
    a0 = a & _M32
    a1 = a >> _S32
    b0 = b & _M32
    b1 = b >> _S32
    low = a0 * b0
    mid = a1 * b0 + a0 * b1  # < 2^54: no overflow
    lo = low + ((mid & _M32) << _S32)  # modulo 2^64
    carry = np.uint64(1) if lo < low else np.uint64(0)
    hi = a1 * b1 + (mid >> _S32) + carry
    length = 106 if (hi >> np.uint64(41)) & _ONE else 105
    return hi, lo, length, 1 - (ga + gb) - length


@njit(cache=True, inline="always", error_model="numpy")
def _digit(hi, lo, length, lead, j):
    i = j - lead
    if i < 0 or i >= length:
        return 0
    b = length - 1 - i
    if b >= 64:
        return np.int64((hi >> np.uint64(b - 64)) & _ONE)
    return np.int64((lo >> np.uint64(b)) & _ONE)


@njit(cache=True, error_model="numpy")
def compare(xh, xl, xlen, xlead, yh, yl, ylen, ylead):
    """(x < y, bits) of the alternating digit exchange of Alice's x and Bob's y.

    Digits agree before the first leading one, so the scan starts there and stops where both
    numbers have run out of digits (then they are equal: a tie, ``x < y`` false).
    """
    start = HORIZON + 1
    end = 0
    if xlen > 0:
        start = min(start, xlead)
        end = max(end, xlead + xlen)
    if ylen > 0:
        start = min(start, ylead)
        end = max(end, ylead + ylen)
    ones = 0  # continuation flags that cost a second bit: a sent digit 1 at position >= 1
    for j in range(start, end):
        dx = _digit(xh, xl, xlen, xlead, j)
        dy = _digit(yh, yl, ylen, ylead, j)
        if j >= 1:
            ones += dx if j % 2 == 0 else dy  # Alice sends the even positions
        if dx != dy:
            return dx < dy, j + 1 + ones + 2
    return False, HORIZON + 1 + ones + 2


@njit(cache=True, error_model="numpy")
def interactive_pairs(p, q, cdf_p, cdf_q, residual, index_bits, seed, tags, keys, out):
    """One run of the interactive protocol per key; ``out[t] = (a, b, bits)``.

    ``tags``: the domains of Alice's draw, the acceptance uniform U, Bob's proposals and the
    residual thresholds V. ``residual`` is false only when no item has q > p (then p = q up
    to rounding and a rejection, possible only through rounding, keeps Alice's item).
    """
    for t in range(keys.shape[0]):
        key = keys[t]
        a = inverse_cdf(cdf_p, uniform_at(stream_state(seed, tags[0], key), 0))
        u = uniform_at(stream_state(seed, tags[1], key), 0)
        xh, xl, xn, xd = from_product(u, p[a])
        yh, yl, yn, yd = from_float(q[a])
        less, bits = compare(xh, xl, xn, xd, yh, yl, yn, yd)
        bits += index_bits
        b = a
        if not less and residual:
            st_c = stream_state(seed, tags[2], key)
            st_v = stream_state(seed, tags[3], key)
            trial = 0
            while True:  # Bob proposes c ~ q; the residual takes it iff p_c < V q_c
                c = inverse_cdf(cdf_q, uniform_at(st_c, trial))
                v = uniform_at(st_v, trial)
                trial += 1
                xh, xl, xn, xd = from_float(p[c])
                yh, yl, yn, yd = from_product(v, q[c])
                less, cbits = compare(xh, xl, xn, xd, yh, yl, yn, yd)
                bits += index_bits + cbits
                if less:
                    b = c
                    break
        out[t, 0] = a
        out[t, 1] = b
        out[t, 2] = bits


@njit(cache=True, error_model="numpy")
def quantized_pairs(
    kept, cdf_f, cdf_r, big_f, q, cdf_res, residual, cdf_q, sent, seed, tags, keys, out
):
    """One run of the quantized protocol per key; ``out[t] = (a, b, bits)``.

    ``kept`` = s = sum f; ``cdf_f``, ``cdf_r``: cumulative f and p - f; ``big_f`` = f / s;
    ``cdf_res``: cumulative (q - F)+; ``sent``: the bits after the flag when it says F.
    ``tags``: flag, Alice's draw, acceptance U, Bob's residual draw, Bob's independent draw.
    """
    for t in range(keys.shape[0]):
        key = keys[t]
        u_alice = uniform_at(stream_state(seed, tags[1], key), 0)
        if uniform_at(stream_state(seed, tags[0], key), 0) < kept:  # a from F
            a = inverse_cdf(cdf_f, u_alice)
            b = a
            u = uniform_at(stream_state(seed, tags[2], key), 0)
            if not u * big_f[a] < q[a] and residual:
                b = inverse_cdf(cdf_res, uniform_at(stream_state(seed, tags[3], key), 0))
            bits = 1 + sent
        else:  # a from the remainder R; Bob draws from q on his own
            a = inverse_cdf(cdf_r, u_alice)
            b = inverse_cdf(cdf_q, uniform_at(stream_state(seed, tags[4], key), 0))
            bits = 1
        out[t, 0] = a
        out[t, 1] = b
        out[t, 2] = bits

r"""One-way communication: the dart relay protocol (Alice sends a few dart positions to Bob).

Both parties see the public dart stream of literal WMH (domains ``wmh-dart-item`` and
``wmh-dart-height``): dart j lands on item :math:`i_j` at height :math:`h_j`. Call a dart a
P-dart when :math:`h_j \le p_{i_j}` and a Q-dart when :math:`h_j \le q_{i_j}`.

* Alice outputs the item of the first P-dart (position k): exactly the literal WMH sample,
  so :math:`a \sim p` exactly. Her message is the positions of the first ``extra + 1``
  P-darts (k and the next ``extra``), as Rice-coded gaps.
* Bob (knowing q, the message and the stream) now knows which of the darts up to the last
  sent position N lie under p. He outputs

  1. :math:`i_k` if dart k is a Q-dart (then a = b);
  2. otherwise the first Q-dart at or before N that is not a P-dart (a dart of the residual
     region, under q but above p);
  3. otherwise (failure: no such dart up to N) the first Q-dart after N.

Law (``relay_exact`` computes it; :mod:`coupling.proofs.communication` checks it exactly). With
:math:`D = d_{TV}(p, q)` and :math:`f = (1 + D)^{-(\text{extra} + 1)}`:

.. math::

    \Pr[a = b] &= 1 - D + f \sum_i (p_i - q_i)_+ \, q_i \;\ge\; 1 - D, \\
    \Pr[b = i] &= \min(p_i, q_i) + (1 - f)(q_i - p_i)_+ + f D q_i, \\
    d_{TV}(\mathrm{law}(b), q) &= \tfrac{f}{2} \sum_i |D q_i - (q_i - p_i)_+| \;\le\; f D
        \;\le\; \max_D D (1 + D)^{-(\text{extra}+1)} < \tfrac{1}{e\,\text{extra}}.

What is relaxed: the brief's (v1/v2) target is exact marginals on both sides with
:math:`\Pr[a=b] \ge 1 - D - \varepsilon` in :math:`O(\log(n/\varepsilon))` bits. Here Alice's
marginal is exact and the collision is at least :math:`1 - D` (the maximal coupling's) with
no epsilon, but Bob's marginal is off by at most :math:`fD < 1/(e \cdot \text{extra})` in
total variation, for about :math:`(\text{extra} + 1)(\log_2 n + 1.5)` bits. In this protocol
Bob is exact only if he always finds a residual dart, i.e. extra = infinity, and an epsilon
in his marginal (worst case over D) costs :math:`O(\log(n) / \varepsilon)` bits, not
:math:`O(\log(n/\varepsilon))`. No lower bound is claimed: a better construction may exist.
"""

import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from coupling.simulate._hash import stream_state
from coupling.simulate._kernels import dart_at, first_dart_under
from coupling.simulate.randomness import domain_tag
from coupling.simulate.validation import (
    as_count,
    as_distribution,
    as_fraction_pair,
    as_key_array,
    as_pair,
    as_seed,
    check_memory,
)
from numba import njit

__all__ = [
    "Message",
    "RelayLaw",
    "alice_message",
    "bob_decode",
    "expected_bits",
    "relay_exact",
    "relay_pairs",
    "rice_parameter",
]

ITEM_DOMAIN = "wmh-dart-item"
HEIGHT_DOMAIN = "wmh-dart-height"
#: Dart positions are int64 counters, so Alice can report at most this many extra P-darts.
MAX_EXTRA = 2**63 - 2
#: Fraction bits (beyond 2 log2 n) of the first fixed-point bracket in :func:`expected_bits`.
FIXED_POINT_BITS = 64
#: Bytes per bit of (1 + D)^(extra + 1) that the exact relay law holds at once (the power,
#: its reciprocal and their products with the sums).
EXACT_COPIES = 4


class Message(NamedTuple):
    """What Alice sends: the Rice-coded gaps between her first ``extra + 1`` P-darts."""

    bits: str  #: the message as a string of '0' and '1'
    n: int  #: the number of items (fixes the Rice parameter)


def rice_parameter(n):
    """Rice parameter for gaps that are geometric with mean n: floor(log2(n ln 2)), >= 0."""
    return max(0, int(np.floor(np.log2(n * np.log(2.0)))))


def _rice_encode(gaps, r):
    out = []
    for g in gaps:
        q, rem = divmod(int(g) - 1, 1 << r)
        out.append("1" * q + "0" + (format(rem, f"0{r}b") if r else ""))
    return "".join(out)


def _rice_decode(bits, r):
    gaps, pos = [], 0
    while pos < len(bits):
        q = 0
        while pos < len(bits) and bits[pos] == "1":
            q += 1
            pos += 1
        if pos >= len(bits) or pos + 1 + r > len(bits):
            raise ValueError(f"message is truncated at bit {pos} of {len(bits)}")
        pos += 1
        rem = int(bits[pos : pos + r], 2) if r else 0
        pos += r
        gaps.append((q << r) + rem + 1)
    return gaps


@njit(cache=True, error_model="numpy")
def _alice(p, st_item, st_height, count, positions):
    """Positions of the first ``count`` P-darts; returns Alice's item (the first one's)."""
    k, a = first_dart_under(p, st_item, st_height, 0)
    positions[0] = k
    for found in range(1, count):
        k = first_dart_under(p, st_item, st_height, k + 1)[0]
        positions[found] = k
    return a


@njit(cache=True, error_model="numpy")
def _bob(q, st_item, st_height, positions):
    """Bob's item given the (sorted) positions of every P-dart up to positions[-1]."""
    n = q.shape[0]
    k = positions[0]
    i, h = dart_at(st_item, st_height, k, n)
    if h <= q[i]:
        return i
    last = positions[-1]
    nxt = 0  # index into positions: the next P-dart at or after j
    for j in range(last + 1):
        while positions[nxt] < j:
            nxt += 1
        if positions[nxt] == j:
            continue  # a P-dart
        i, h = dart_at(st_item, st_height, j, n)
        if h <= q[i]:
            return i  # under q, not under p: the residual
    return first_dart_under(q, st_item, st_height, last + 1)[1]  # failure: the next Q-dart


@njit(cache=True, error_model="numpy")
def _relay_many(p, q, seed, tag_item, tag_height, keys, positions, out_a, out_b):
    """One trial per key; ``positions`` (keys, extra + 1) receives Alice's P-dart positions."""
    count = positions.shape[1]
    for t in range(keys.shape[0]):
        st_item = stream_state(seed, tag_item, keys[t])
        st_height = stream_state(seed, tag_height, keys[t])
        out_a[t] = _alice(p, st_item, st_height, count, positions[t])
        out_b[t] = _bob(q, st_item, st_height, positions[t])


@njit(cache=True, error_model="numpy")
def _alice_key(p, seed, tag_item, tag_height, key, positions):
    st_item = stream_state(seed, tag_item, key)
    return _alice(p, st_item, stream_state(seed, tag_height, key), positions.shape[0], positions)


@njit(cache=True, error_model="numpy")
def _bob_key(q, seed, tag_item, tag_height, key, positions):
    st_item = stream_state(seed, tag_item, key)
    return _bob(q, st_item, stream_state(seed, tag_height, key), positions)


def _public(seed, key):
    """(seed, item tag, height tag, key) as the uint64 words the kernels take."""
    return (
        np.uint64(as_seed(seed)),
        domain_tag(ITEM_DOMAIN),
        domain_tag(HEIGHT_DOMAIN),
        np.uint64(key),
    )


def alice_message(p, *, seed, key, extra=0, normalize=False):
    """Alice's item and message for one key: (a, :class:`Message`).

    ``extra``: how many P-darts beyond her own she reports (0 = only her own position).
    """
    p = as_distribution(p, normalize=normalize)
    extra = as_count(extra, "extra", minimum=0, maximum=MAX_EXTRA)
    key = _one_key(key)
    positions = np.empty(extra + 1, np.int64)
    a = _alice_key(p, *_public(seed, key), positions)
    gaps = np.diff(np.concatenate([[-1], positions]))
    return int(a), Message(_rice_encode(gaps, rice_parameter(p.size)), int(p.size))


def bob_decode(q, message, *, seed, key, normalize=False):
    """Bob's item from his distribution, Alice's message and the public stream."""
    q = as_distribution(q, normalize=normalize)
    if not isinstance(message, Message):
        raise TypeError(f"message must be a Message from alice_message, got {message!r}")
    if message.n != q.size:
        raise ValueError(f"message is for n = {message.n} items, q has {q.size}")
    if not message.bits or set(message.bits) - {"0", "1"}:
        raise ValueError(f"message bits must be a non-empty 0/1 string, got {message.bits!r}")
    gaps = _rice_decode(message.bits, rice_parameter(q.size))
    positions = np.cumsum(np.asarray(gaps, dtype=np.int64)) - 1
    return int(_bob_key(q, *_public(seed, _one_key(key)), positions))


def _one_key(key):
    keys = as_key_array(key, "key")
    if keys.ndim != 0:
        raise TypeError(f"key must be one integer here, got shape {keys.shape}")
    return int(keys)


def relay_pairs(p, q, *, seed, key, extra=0, normalize=False):
    """(a, b, bits) for an array of keys, in compiled code (Monte Carlo of the protocol).

    ``bits`` is each message's exact length in bits (the Rice code of the gaps)."""
    p, q = as_pair(p, q, normalize=normalize)
    extra = as_count(extra, "extra", minimum=0, maximum=MAX_EXTRA)
    keys = np.ascontiguousarray(as_key_array(key, "key").reshape(-1))
    out_a = np.empty(keys.size, np.int64)
    out_b = np.empty(keys.size, np.int64)
    positions = np.empty((keys.size, extra + 1), np.int64)
    _relay_many(
        p,
        q,
        np.uint64(as_seed(seed)),
        domain_tag(ITEM_DOMAIN),
        domain_tag(HEIGHT_DOMAIN),
        keys,
        positions,
        out_a,
        out_b,
    )
    gaps = np.diff(positions, axis=1, prepend=-1)
    r = rice_parameter(p.size)
    bits = np.sum(1 + r + ((gaps - 1) >> r), axis=1)
    return out_a, out_b, bits


def _power_bounds(n, r, bits):
    """Integers (low, high) with low <= 2^bits x^(2^r) <= high for x = n / (n - 1): r squarings
    in fixed point with ``bits`` fraction bits, rounding down for low and up for high."""
    low = (n << bits) // (n - 1)
    high = -((-n << bits) // (n - 1))
    for _ in range(r):
        low = (low * low) >> bits
        high = -((-high * high) >> bits)
    return low, high


def expected_bits(n, *, extra=0):
    r"""Expected message length: (extra + 1) Rice codes of Geometric(1/n) gaps, as the float
    nearest the exact rational value.

    A gap g >= 1 costs 1 + r + floor((g - 1) / 2^r) bits (r = :func:`rice_parameter`), and

    .. math::

        \mathbb{E} \lfloor (g - 1) / 2^r \rfloor = \sum_{j \ge 1} \rho^j
            = \frac{\rho}{1 - \rho} = \frac{1}{x^{2^r} - 1},
        \qquad \rho = (1 - 1/n)^{2^r}, \quad x = \frac{n}{n - 1}.

    The exact rational has about :math:`n \log_2 n` bits (:math:`2^r` is near n), so it is
    never formed: :math:`x^{2^r}` (between 2 and 4) is bracketed by r squarings in fixed point
    with P fraction bits, rounded down for one end and up for the other, and P doubles until
    both ends of the result round to the same float. That float is the correctly rounded exact
    value (a tie would need a dyadic value, which it is for n <= 2 only, where the bracket is
    exact), in :math:`O(r P^2)` time: microseconds at any n.

    Examples
    --------
    >>> expected_bits(2), expected_bits(8, extra=1)
    (2.0, 8.833038348082596)
    """
    n = as_count(n, "n")
    extra = as_count(extra, "extra", minimum=0, maximum=MAX_EXTRA)
    r = rice_parameter(n)
    if n == 1:  # every gap is 1: rho = 0
        return float((extra + 1) * (1 + r))
    bits = FIXED_POINT_BITS + 2 * n.bit_length()
    while True:
        low, high = _power_bounds(n, r, bits)
        one = 1 << bits
        if low > one:  # else x^(2^r) - 1 is not yet bracketed away from 0
            least = float((extra + 1) * (1 + r + Fraction(one, high - one)))
            if least == float((extra + 1) * (1 + r + Fraction(one, low - one))):
                return least
        bits *= 2


class RelayLaw(NamedTuple):
    """Exact law of the relay (Fractions for Fraction inputs, else floats)."""

    collision: object  #: Pr[a = b] = 1 - D + f sum (p - q)+ q
    bob_law: list  #: Pr[b = i] = min(p_i, q_i) + (1 - f)(q_i - p_i)+ + f D q_i
    bob_tv: object  #: d_TV(law of b, q) <= f D
    failure: object  #: f D, the probability that Bob falls back to a plain Q-dart
    D: object  #: d_TV(p, q)


def _failure_factor(D, darts, exact):
    """f = (1 + D)^-darts: exactly for a Fraction D (after checking the memory its digits
    take), else as exp(-darts ln(1 + D)), which underflows to 0.0 where f is below the
    smallest float instead of overflowing (and keeps a D below the float epsilon)."""
    if not exact:
        return math.exp(-darts * math.log1p(D))
    if D:
        size = darts * (D.numerator.bit_length() + D.denominator.bit_length() + 1) // 8
        check_memory(EXACT_COPIES * size, f"the exact relay law with extra = {darts - 1:,}")
    return (1 + D) ** -darts


def relay_exact(p, q, *, extra=0):
    """Exact law of :func:`relay_pairs` with ``extra`` reported darts, as a :class:`RelayLaw`.

    Examples
    --------
    >>> from fractions import Fraction as F
    >>> relay_exact([F(1, 2), F(1, 2)], [F(1, 4), F(3, 4)], extra=1).collision
    Fraction(79, 100)
    """
    extra = as_count(extra, "extra", minimum=0, maximum=MAX_EXTRA)
    exact = as_fraction_pair(p, q)
    if exact is None:
        p, q = as_pair(p, q)
        p, q = list(map(float, p)), list(map(float, q))
    else:
        p, q = exact
    D = sum(max(a - b, 0) for a, b in zip(p, q))
    f = _failure_factor(D, extra + 1, exact is not None)
    collision = 1 - D + f * sum(max(a - b, 0) * b for a, b in zip(p, q))
    law = [min(a, b) + (1 - f) * max(b - a, 0) + f * D * b for a, b in zip(p, q)]
    tv = sum(abs(x - b) for x, b in zip(law, q)) / 2
    return RelayLaw(collision, law, tv, f * D, D)

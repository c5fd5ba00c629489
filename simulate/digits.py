r"""Comparing two numbers by exchanging binary digits: the step both exact-marginal protocols
take whenever one party holds one side of an inequality and the other party the other side.

Definition
----------
The numbers are dyadic rationals in [0, 1], taken exactly (a float64 is the dyadic rational
it stores, a product of two float64 values is the exact product, never the rounded one).
Digit j of z is :math:`d_j(z) = \lfloor z 2^j \rfloor \bmod 2` for j = 0, 1, 2, ... (digit 0
is the units digit: 1 only for z = 1). Alice holds x, Bob holds y; they walk through the
positions from the top, Alice sending the digits at even positions and Bob those at odd ones:

* position 0: Alice sends :math:`d_0(x)` (1 bit);
* position j >= 1: the party whose turn it is has just received the other's digit j - 1. If it
  differs from its own, it sends ``10`` (stop) and the exchange ends; otherwise it sends its
  digit j as ``0`` (digit 0) or ``11`` (digit 1).

Both parties then know the first differing position J and who holds the larger number. If
x = y, all positions up to :data:`HORIZON` agree (every number of the protocols lies in
:math:`2^{-1128}\mathbb{Z}`), the party due at position HORIZON + 1 sends ``10`` and "x < y" is
false. Digits exchanged: J + 1 (HORIZON + 1 for a tie). Bits:

.. math::

    \text{bits} = (J + 1) + \#\{1 \le j \le J : \text{the digit sent at } j \text{ is } 1\} + 2,

one bit a position while the numbers share their leading zeros, which is what makes the
expected cost :math:`\log_2(1/w) + O(1)` when one side is :math:`U w` for a public uniform U
(:func:`comparison_law`).

The constant. Let s = U w with U uniform on [0, 1), r anything, :math:`t = \log_2(1/w)`,
:math:`m = \lfloor t \rfloor`, :math:`\phi = t - m`. The parties share digits 0..j-1 only if
s lies in the dyadic interval of length :math:`2^{1-j}` around r, so
:math:`\Pr[J \ge j] \le \min(1, 2^{t+1-j})` and
:math:`\mathbb{E}[J + 1] \le 1 + (m + 1) + 2^{\phi}`. Since :math:`s < 2^{-m}`, s has no
digit 1 at positions <= m, so up to position m a sent digit 1 is r's and ends the exchange:
the flags cost at most :math:`1 + \mathbb{E}(J - m - 1)_+ \le 1 + 2^{\phi}`. With the final
2 bits, :math:`\mathbb{E}[\text{bits}] \le t + 5 + 2^{\phi + 1} - \phi < t + 8`:
:data:`COMPARISON_OVERHEAD`.

Examples
--------
>>> compare_digits(0.25, 0.375)  # 0.010 vs 0.011: they differ at position 3
DigitComparison(less=True, position=3, digits=4, bits=8)
"""

from fractions import Fraction
from typing import NamedTuple

from coupling.simulate._exchange import HORIZON

__all__ = [
    "COMPARISON_OVERHEAD",
    "HORIZON",
    "ComparisonLaw",
    "DigitComparison",
    "as_dyadic",
    "compare_digits",
    "comparison_law",
]

PARTIES = ("alice", "bob")
#: E[bits] of an exchange with one side U w is below log2(1/w) + COMPARISON_OVERHEAD.
COMPARISON_OVERHEAD = 8


class DigitComparison(NamedTuple):
    """Outcome of one digit exchange."""

    less: bool  #: Alice's x < Bob's y
    position: int | None  #: first differing digit position J (None: x = y)
    digits: int  #: positions exchanged, J + 1 (HORIZON + 1 for a tie)
    bits: int  #: bits sent by both parties together


class ComparisonLaw(NamedTuple):
    """Exact law of the exchange when one side is uniform (Fractions)."""

    less: Fraction  #: Pr[Alice's number < Bob's number]
    digits: Fraction  #: expected digits exchanged
    bits: Fraction  #: expected bits sent


def as_dyadic(z, name, *, horizon=None):
    """``z`` (float, int or Fraction) in [0, 1] with a power-of-two denominator, as a Fraction.

    ``horizon``: also require the denominator to divide 2^horizon."""
    if isinstance(z, bool) or not isinstance(z, (int, float, Fraction)):
        raise TypeError(f"{name} must be a float, int or Fraction, got {type(z).__name__}")
    try:
        f = Fraction(z)
    except (OverflowError, ValueError):
        raise ValueError(f"{name} = {z!r} is not finite") from None
    if not 0 <= f <= 1:
        raise ValueError(f"{name} = {z!r} is not in [0, 1]")
    den = f.denominator
    if den & (den - 1):
        raise ValueError(f"{name} = {z} is not dyadic (its denominator is not a power of two)")
    if horizon is not None and den.bit_length() - 1 > horizon:
        raise ValueError(f"{name} = {z} has digits beyond position {horizon}")
    return f


def _scaled(f, exponent):
    """The integer f 2^exponent of a dyadic Fraction whose denominator divides 2^exponent."""
    return f.numerator << (exponent - (f.denominator.bit_length() - 1))


def compare_digits(x, y):
    """The digit exchange of Alice's ``x`` and Bob's ``y`` (see the module docstring).

    Parameters
    ----------
    x, y : float, int or Fraction
        Dyadic rationals in [0, 1] with no digit beyond position :data:`HORIZON`.

    Returns
    -------
    DigitComparison
        ``less`` is exactly x < y.

    Examples
    --------
    >>> compare_digits(1.0, 0.5).position  # units digit 1 vs 0
    0
    >>> compare_digits(0.5, 0.5).less
    False
    """
    big_x = _scaled(as_dyadic(x, "x", horizon=HORIZON), HORIZON)
    big_y = _scaled(as_dyadic(y, "y", horizon=HORIZON), HORIZON)
    ones = 0
    for j in range(HORIZON + 1):
        dx = (big_x >> (HORIZON - j)) & 1
        dy = (big_y >> (HORIZON - j)) & 1
        if j >= 1:
            ones += dx if j % 2 == 0 else dy
        if dx != dy:
            return DigitComparison(dx < dy, j, j + 1, j + 1 + ones + 2)
    return DigitComparison(False, None, HORIZON + 1, HORIZON + 1 + ones + 2)


def comparison_law(w, r, *, random_party):
    r"""Exact law of the exchange when one side is :math:`s = U w`, U uniform on [0, 1).

    ``random_party`` holds s, the other party the fixed number r. With
    :math:`I_j(r)` the dyadic interval of length :math:`2^{-j}` that contains r, the parties
    share digits 0..j - 1 iff s lies in :math:`I_{j-1}(r)`, which has probability
    :math:`|I_{j-1}(r) \cap [0, w)| / w`; at position j, r's digit says which half of it
    carries on and which half ends the exchange. Once r has no digits left and
    :math:`I_j(r) \subset [0, w)`, the remaining mass halves at each position, a geometric
    tail summed in closed form. Ties have probability 0.

    Parameters
    ----------
    w : float, int or Fraction
        Dyadic, in (0, 1]: s is uniform on [0, w).
    r : float, int or Fraction
        Dyadic, in [0, 1].
    random_party : {"alice", "bob"}
        Who holds s (Alice sends the even positions).

    Returns
    -------
    ComparisonLaw
        Fractions: Pr[Alice's number < Bob's], expected digits and bits.

    Examples
    --------
    >>> law = comparison_law(0.5, 0.25, random_party="alice")
    >>> law.less, law.digits, law.bits
    (Fraction(1, 2), Fraction(4, 1), Fraction(20, 3))
    """
    w = as_dyadic(w, "w")
    r = as_dyadic(r, "r")
    if w == 0:
        raise ValueError("w must be positive: s = U w is uniform on [0, w)")
    if random_party not in PARTIES:
        raise ValueError(f"unknown random_party {random_party!r}; choose alice or bob")
    alice_random = random_party == "alice"
    depth = max(w.denominator.bit_length(), r.denominator.bit_length())  # positions with digits
    scale = depth + 2  # lengths of intervals down to position `depth` are integers
    big_w = _scaled(w, scale)
    big_r = _scaled(r, scale)

    def mass(lo, hi):  # |[lo, hi) ∩ [0, w)| in units of 2^-scale
        return max(0, min(hi, big_w) - lo)

    s_less = 0  # Pr[s < r] * W
    digits = 0  # E[digits] * W
    ones = 0  # E[flag bits] * W
    lo, width = 0, 2 << scale  # I_{-1} = [0, 2)
    for j in range(depth + 1):
        half = width >> 1
        here = mass(lo, lo + width)
        if here == 0:
            break
        digits += here
        r_digit = 1 if big_r >= lo + half else 0
        if j >= 1:
            random_sends = (j % 2 == 0) == alice_random
            ones += mass(lo + half, lo + width) if random_sends else r_digit * here
        if r_digit:
            s_less += mass(lo, lo + half)
            lo += half
        width = half
    else:
        # Position depth + 1 onwards: r has only zeros and I = [r, r + width) lies in [0, w)
        # or beyond it; each position keeps half the mass, s's upper half ends it (s > r).
        tail = mass(lo, lo + width)
        digits += 2 * tail
        random_first = ((depth + 1) % 2 == 0) == alice_random
        ones += Fraction(2 * tail, 3) if random_first else Fraction(tail, 3)
    big_w = Fraction(big_w)
    less = s_less / big_w if alice_random else 1 - s_less / big_w
    expected_digits = digits / big_w
    return ComparisonLaw(less, expected_digits, expected_digits + ones / big_w + 2)

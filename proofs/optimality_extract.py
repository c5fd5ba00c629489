r"""Theorem A, step 5: one concrete hard pair at TV <= delta, with exact tail sums.

Every protocol, with its public randomness fixed, is a pair of maps, so by Theorem A its
agreement averaged over independent uniform K-subsets A, B of [n] is at most
:math:`E[J] = \sum_t w_t^2`, and so is the protocol's own average over (A, B) (average over
the randomness). Let G be the event that :math:`I = |A \cap B|` lies in a window
[i_lo, i_hi]; the uniform laws on A, B are then at TV = 1 - I/K in [1 - i_hi/K, 1 - i_lo/K].
Since agreement is nonnegative, :math:`E[\text{agree} \mid G] \le E[J]/\Pr[G]`, so **some pair
in G has agreement at most E[J]/Pr[G]**. I is hypergeometric,
:math:`\Pr[I = i] = \binom{K}{i}\binom{n-K}{K-i}/\binom{n}{K}`, and both E[J] and Pr[G] are
computed exactly as integer sums: no Hoeffding bound, no floating point.

:func:`extract_pair` searches (n, K) with K/n = 1 - delta + eta (so the mean TV sits eta below
delta), i_lo = ceil(K (1 - delta)) (TV <= delta) and i_hi as small as keeps the bound, until
E[J]/Pr[G] <= (1 - delta)/(1 + delta) + eps; K grows geometrically, then is bisected down
to the smallest K on that path that works. The search runs in floating point (log-gamma)
and only guides: the pair returned is certified by the exact sums.
"""

import math
from fractions import Fraction
from math import comb
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

__all__ = [
    "ETAS",
    "MAX_K",
    "MAX_N",
    "MIN_EPS",
    "RECHECK_MAX_N",
    "Extraction",
    "as_fraction",
    "extract_pair",
    "pair_bound",
    "plan_extraction",
]

#: eta / sqrt(log(K)/K) tried at each K (the mean TV sits eta below delta)
ETAS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
MAX_K = 60_000  # the guide's search stops here
MAX_N = 60_000  # items: the exact sums over n terms take about half a minute there
RECHECK_MAX_N = 4000  # items: the term-by-term twin (pair_bound) takes seconds there
MIN_EPS = Fraction(1, 100)  # below this the K needed makes the exact sums take minutes
START_K = 16
FLOAT_MARGIN = 1e-9  # relative: the guide's float sums may be off by this much
CERTIFY_WIDEN = 3  # window items the exact check may add to the guide's window


class Extraction(NamedTuple):
    """A pair that every protocol has: TV in ``tv_range`` and agreement <= ``agreement``."""

    delta: Fraction
    eps: Fraction
    n: int
    K: int
    overlap_range: tuple  #: (i_lo, i_hi): |A n B| of the pair
    tv_range: tuple  #: (1 - i_hi/K, 1 - i_lo/K) as Fractions
    expected_jaccard: Fraction  #: E[J] = sum_t w_t^2 at (n, K), Theorem A's bound
    good: Fraction  #: Pr[i_lo <= |A n B| <= i_hi]
    agreement: Fraction  #: E[J] / Pr[good]: some pair in the window agrees at most this
    target: Fraction  #: (1 - delta)/(1 + delta)
    certified: bool  #: agreement <= target + eps


def as_fraction(value, name):
    """A number as an exact Fraction (a float by its shortest decimal form, 0.3 -> 3/10)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction, str)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        out = Fraction(repr(value) if isinstance(value, float) else value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    return out


def _sum_of_squares_numerator(n, K):
    """sum_{u < n} C(u, K-1)^2 = C(n, K)^2 sum_t w_t^2, exactly."""
    total, c = 0, 1  # c = C(u, K - 1), starting at u = K - 1
    for u in range(K - 1, n):
        total += c * c
        c = c * (u + 1) // (u + 2 - K)
    return total


def _window_numerators(n, K, i_lo):
    """{i: C(K, i) C(n-K, K-i)} for i_lo <= i <= K (the hypergeometric numerators)."""
    out, a, b = {}, 1, 1  # a = C(K, i), b = C(n - K, K - i), from i = K down
    for i in range(K, i_lo - 1, -1):
        out[i] = a * b if K - i <= n - K else 0
        a = a * i // (K - i + 1)
        b = b * (n - 2 * K + i) // (K - i + 1) if n - 2 * K + i > 0 else 0
    return out


def pair_bound(n, K, i_lo, i_hi):
    """(sum_t w_t^2, Pr[i_lo <= I <= i_hi]) recomputed term by term with math.comb (no
    recurrences): the slow twin that re-checks an extraction, O(n) binomials of size n."""
    if n > RECHECK_MAX_N:
        raise ValueError(f"n = {n:,}: the term-by-term re-check stops at {RECHECK_MAX_N:,}")
    total = comb(n, K)
    squares = sum(comb(n - t, K - 1) ** 2 for t in range(1, n + 1))
    good = sum(comb(K, i) * comb(n - K, K - i) for i in range(i_lo, i_hi + 1))
    return Fraction(squares, total * total), Fraction(good, total)


def _float_laws(n, K):
    """E[J] and the hypergeometric pmf of I (from i = 0) in floating point, by log-gamma:
    the search's guide only; every returned pair is certified exactly."""
    log_total = gammaln(n + 1) - gammaln(K + 1) - gammaln(n - K + 1)
    u = np.arange(K - 1, n)
    log_c = gammaln(u + 1) - gammaln(K) - gammaln(u - K + 2)
    ej = float(np.exp(2 * (log_c - log_total)).sum())
    pmf = np.zeros(K + 1)
    i = np.arange(max(0, 2 * K - n), K + 1)  # K - i <= n - K
    pmf[i] = np.exp(gammaln(K + 1) - gammaln(i + 1) - gammaln(K - i + 1) + gammaln(n - K + 1)
                    - gammaln(K - i + 1) - gammaln(n - 2 * K + i + 1) - log_total)  # fmt: skip
    return ej, pmf


def _guess_at(K, delta, goal):
    """The (n, i_lo, i_hi) at this K whose bound E[J]/Pr[window] (in floats, with a margin)
    meets ``goal`` with the narrowest window, over :data:`ETAS`; None if none does."""
    i_lo = math.ceil(K * (1 - delta))
    scale = math.sqrt(math.log(K) / K)
    best = None
    for c in ETAS:
        n = max(2 * K - i_lo, round(K / (1 - float(delta) + c * scale)))
        if n < K + 1:
            continue
        ej, pmf = _float_laws(n, K)
        good = np.cumsum(pmf[i_lo:K])  # I = K (A = B, TV 0) is left out
        meets = np.flatnonzero(ej <= good * float(goal) * (1 - FLOAT_MARGIN))
        if meets.size and (best is None or i_lo + meets[0] < best[2]):
            best = (n, i_lo, i_lo + int(meets[0]))
    return best


def _certify(n, K, i_lo, i_hi, goal):
    """Exactly: the first window [i_lo, h], h from i_hi to i_hi + CERTIFY_WIDEN, whose bound
    E[J]/Pr[window] meets ``goal``, as (h, E[J], Pr[window], bound); None if none does."""
    total = comb(n, K)
    numerator = _sum_of_squares_numerator(n, K)
    window = _window_numerators(n, K, i_lo)
    good = sum(window[i] for i in range(i_lo, i_hi))
    for h in range(i_hi, min(K - 1, i_hi + CERTIFY_WIDEN) + 1):
        good += window[h]
        # numerator / (total * good) <= goal, in integers
        if good and numerator * goal.denominator <= goal.numerator * total * good:
            return (h, Fraction(numerator, total * total), Fraction(good, total),
                    Fraction(numerator, total * good))  # fmt: skip
    return None


def plan_extraction(delta, eps, *, names=("delta", "eps")):
    """Check delta and eps and find, in floating point only (fast), the K and the guess
    (n, i_lo, i_hi) that :func:`extract_pair` will certify: returns (delta, eps, K, guess)
    with delta, eps as Fractions. Raises ValueError (naming them as ``names``) for values
    out of range or an n beyond :data:`MAX_N`, before any exact sum."""
    delta, eps = as_fraction(delta, names[0]), as_fraction(eps, names[1])
    if not 0 < delta < 1:
        raise ValueError(f"{names[0]} must lie in (0, 1), got {delta}")
    if not MIN_EPS <= eps < 1:
        raise ValueError(f"{names[1]} must lie in [{MIN_EPS}, 1) (smaller needs K beyond "
                         f"minutes of exact sums), got {eps}")  # fmt: skip
    goal = (1 - delta) / (1 + delta) + eps
    fail, K, guess = START_K - 1, START_K, None
    while K <= MAX_K and not (guess := _guess_at(K, delta, goal)):
        fail, K = K, int(K * 1.5) + 1
    if guess is None:
        raise ValueError(f"{names[0]} {delta}, {names[1]} {eps}: no K <= {MAX_K:,} reaches "
                         "the bound")  # fmt: skip
    while K - fail > 1:  # bisect down to the smallest K the guide accepts
        mid = (K + fail) // 2
        if at_mid := _guess_at(mid, delta, goal):
            K, guess = mid, at_mid
        else:
            fail = mid
    if guess[0] > MAX_N:
        raise ValueError(f"{names[0]} {delta}, {names[1]} {eps} needs n = {guess[0]:,} items; "
                         f"the exact sums stop at n = {MAX_N:,} (minutes): raise "
                         f"{names[1]}")  # fmt: skip
    return delta, eps, K, guess


def extract_pair(delta, eps):
    """A concrete (n, K) at which every protocol has a pair with TV <= delta and agreement
    <= (1 - delta)/(1 + delta) + eps, found in floating point (:func:`plan_extraction`) and
    certified exactly (the guess's window widened by at most :data:`CERTIFY_WIDEN` items,
    else the next K).

    Examples
    --------
    >>> r = extract_pair(0.5, 0.1)
    >>> r.certified and r.tv_range[1] <= r.delta and r.agreement <= r.target + r.eps
    True
    """
    delta, eps, K, guess = plan_extraction(delta, eps)
    target = (1 - delta) / (1 + delta)
    goal = target + eps
    for size in range(K, MAX_K + 1):  # the first guess the exact sums confirm
        guess = guess or _guess_at(size, delta, goal)
        exact = guess and _certify(guess[0], size, guess[1], guess[2], goal)
        if exact:
            (n, i_lo, _), (i_hi, ej, good, agreement) = guess, exact
            tv_range = (Fraction(size - i_hi, size), Fraction(size - i_lo, size))
            return Extraction(delta, eps, n, size, (i_lo, i_hi), tv_range, ej, good,
                              agreement, target, agreement <= goal)  # fmt: skip
        guess = None
    raise RuntimeError(f"no K <= {MAX_K} certifies delta = {delta}, eps = {eps}")

"""Numba kernels for one trial of each protocol. No validation, no defaults.

Each party's output is a function of its own weights and the public streams only;
two-party kernels merely share the per-item hash work between the parties.
"""

import numpy as np
from numba import njit

from simulate._hash import uniform_at, word_at, word_to_coarse_gap, word_to_uniform

BLOCK = 256  # items hashed per vectorised pass of the race
# The race pre-filter skips item i only when 1 - u_i > best * w_i * (1 + PRUNE_MARGIN); since
# -ln u >= 1 - u, such an item provably cannot beat the current best. The margin absorbs
# every rounding error in the filter, so the exact test decides all close calls.
PRUNE_MARGIN = 2.0**-20
TWO_31 = 2.0**31
RECORD_SHIFT = 32  # record-process index: item + (record number << 32)


@njit(cache=True, inline="always", error_model="numpy")
def _improves(v, best, i, incumbent):
    """Strictly smaller, or equal at a lower index: the argmin is order-independent."""
    return v < best or (v == best and i < incumbent)


@njit(cache=True, inline="always", error_model="numpy")
def _offer(e, i, p, q, best_a, a, best_b, b):
    """Offer item i with noise e to both parties' running minima of e / weight."""
    v = e / p[i]
    if _improves(v, best_a, i, a):
        best_a = v
        a = i
    v = e / q[i]
    if _improves(v, best_b, i, b):
        best_b = v
        b = i
    return best_a, a, best_b, b


@njit(cache=True, error_model="numpy")
def gumbel_race(p, q, p31, q31, warm, state, wbuf):
    """argmin_i E_i / p_i and argmin_i E_i / q_i with E_i = -ln u(state, i).

    Ties go to the lowest index; zero weights never win. The items in ``warm`` (the
    heaviest of p and q) are raced first so the pre-filter bites from the first block;
    ``p31 = p * 2**31`` (same for q) feed the coarse integer pre-filter.
    """
    n = p.shape[0]
    best_a = np.inf
    best_b = np.inf
    a = n
    b = n
    for i in warm:
        e = -np.log(uniform_at(state, i))
        best_a, a, best_b, b = _offer(e, i, p, q, best_a, a, best_b, b)
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        thr_a = best_a * (1.0 + PRUNE_MARGIN)
        thr_b = best_b * (1.0 + PRUNE_MARGIN)
        hits = 0
        for j in range(m):  # vectorised: hash, coarse gap, filter
            w = word_at(state, i0 + j)
            wbuf[j] = w
            gap = word_to_coarse_gap(w)
            hits += (gap <= thr_a * p31[i0 + j] + 1.0) | (gap <= thr_b * q31[i0 + j] + 1.0)
        if hits == 0:
            continue
        for j in range(m):
            i = i0 + j
            gap = word_to_coarse_gap(wbuf[j])
            if gap <= thr_a * p31[i] + 1.0 or gap <= thr_b * q31[i] + 1.0:
                e = -np.log(word_to_uniform(wbuf[j]))
                best_a, a, best_b, b = _offer(e, i, p, q, best_a, a, best_b, b)
    return a, b


@njit(cache=True, inline="always", error_model="numpy")
def _record_beats(t, i, best, incumbent):
    """Time t in column i still beats the running best: the winner is argmin (time, column)."""
    return t < best or (t == best and i < incumbent)


@njit(cache=True, error_model="numpy")
def _wmh_column(i, p, q, st_time, st_height, best_a, a, best_b, b):
    """Run column i's records until neither party can take the column any more."""
    live_a = p[i] > 0.0 and _record_beats(0.0, i, best_a, a)
    live_b = q[i] > 0.0 and _record_beats(0.0, i, best_b, b)
    if not (live_a or live_b):
        return best_a, a, best_b, b
    t = 0.0
    h = 1.0
    j = 0
    while live_a or live_b:
        idx = i + (j << RECORD_SHIFT)
        t += -np.log(uniform_at(st_time, idx)) / h
        j += 1
        live_a = live_a and _record_beats(t, i, best_a, a)
        live_b = live_b and _record_beats(t, i, best_b, b)
        if not (live_a or live_b):
            break
        h *= uniform_at(st_height, idx)
        if live_a and h <= p[i]:
            best_a = t
            a = i
            live_a = False
        if live_b and h <= q[i]:
            best_b = t
            b = i
            live_b = False
    return best_a, a, best_b, b


@njit(cache=True, error_model="numpy")
def wmh_records_race(p, q, warm, st_time, st_height, wbuf):
    """Per-column record process of the dart stream, run for both parties.

    Column i receives darts at the points of a rate-1 Poisson process with uniform heights.
    Its records (darts lower than every earlier dart of the column) come after Exp(h)
    waiting times with heights h * U. A party with weights w takes, per column, the first
    record with height <= w_i, and outputs the column where that happens earliest (ties to
    the lower column). This is the literal dart stream in law (the stream is the embedded
    jump chain of these processes). The columns in ``warm`` (the heaviest) go first so the
    running best is small at once; a column is abandoned as soon as its time passes every
    party's best, and the visiting order never changes the result.
    """
    n = p.shape[0]
    best_a = np.inf
    best_b = np.inf
    a = n
    b = n
    for i in warm:
        best_a, a, best_b, b = _wmh_column(i, p, q, st_time, st_height, best_a, a, best_b, b)
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        # A column's first record comes at t = -ln u; when u < exp(-best) for both parties,
        # it already passes both bests and the column is skipped unread. The threshold only
        # rises as the bests fall, so the block's opening value is safe for the whole block,
        # and the margin absorbs the rounding of exp and ln.
        thr = np.exp(-max(best_a, best_b)) * (1.0 - PRUNE_MARGIN)
        hits = 0
        for j in range(m):  # vectorised: hash and filter
            keep = uniform_at(st_time, i0 + j) >= thr
            wbuf[hits] = i0 + j
            hits += keep
        for j in range(hits):
            best_a, a, best_b, b = _wmh_column(
                np.int64(wbuf[j]), p, q, st_time, st_height, best_a, a, best_b, b
            )
    return a, b


@njit(cache=True, inline="always", error_model="numpy")
def dart_at(st_item, st_height, k, n):
    """Dart k of the literal stream: (column, height). The column is floor(u * n) (clamped),
    uniform up to a relative bias of n * 2**-53."""
    return min(np.int64(uniform_at(st_item, k) * n), n - 1), uniform_at(st_height, k)


@njit(cache=True, error_model="numpy")
def first_dart_under(w, st_item, st_height, start):
    """The dart scan: the first position k >= start whose dart lies under the bars w
    (height_k <= w[column_k]), and its column."""
    n = w.shape[0]
    k = start
    while True:
        i, h = dart_at(st_item, st_height, k, n)
        if h <= w[i]:
            return k, i
        k += 1


@njit(cache=True, error_model="numpy")
def wmh_darts(p, st_item, st_height):
    """Literal dart throwing: the column of the first dart k with height_k <= p[column_k]."""
    return first_dart_under(p, st_item, st_height, 0)[1]


@njit(cache=True, error_model="numpy")
def inverse_cdf(cdf, u):
    """Smallest i with cdf[i] > u * cdf[-1]; never an item of zero mass."""
    n = cdf.shape[0]
    i = np.searchsorted(cdf, u * cdf[n - 1], side="right")
    if i >= n:  # rounding at the top: take the last item with mass
        i = n - 1
        while i > 0 and cdf[i] == cdf[i - 1]:
            i -= 1
    return i


@njit(cache=True, error_model="numpy")
def build_alias(w, prob, alias):
    """Vose's alias table for weights ``w`` (any positive total) into ``prob``/``alias``."""
    n = w.shape[0]
    total = 0.0
    for i in range(n):
        total += w[i]
    scaled = w * (n / total)
    small = np.empty(n, np.int64)
    large = np.empty(n, np.int64)
    ns = 0
    nl = 0
    heaviest = 0
    for i in range(n):
        if w[i] > w[heaviest]:
            heaviest = i
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        g = large[nl - 1]
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            nl -= 1
            small[ns] = g
            ns += 1
    for k in range(nl):
        prob[large[k]] = 1.0
        alias[large[k]] = large[k]
    for k in range(ns):  # left over only through rounding; keep zero-mass items unreachable
        s = small[k]
        prob[s] = 1.0 if w[s] > 0 else 0.0
        alias[s] = s if w[s] > 0 else heaviest

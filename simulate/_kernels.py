"""Numba kernels for one trial of each protocol. No validation, no defaults.

Each party's output is a function of its own weights and the public streams only;
two-party kernels merely share the per-item hash work between the parties.
"""

import numpy as np
from coupling.simulate._hash import (
    TWO_M53,
    uniform_at,
    word_at,
    word_to_coarse_gap,
    word_to_uniform,
)
from numba import njit

BLOCK = 256  # items hashed per vectorised pass of the race
# The race pre-filter skips item i only when 1 - u_i > best * w_i * (1 + PRUNE_MARGIN); since
# -ln u >= 1 - u, such an item provably cannot beat the current best. The margin absorbs
# every rounding error in the filter, so the exact test decides all close calls.
PRUNE_MARGIN = 2.0**-20
TWO_31 = 2.0**31
RECORD_SHIFT = 32  # record-process index: item + (record number << 32)


@njit(cache=True, inline="always", error_model="numpy")
def _beats(v, i, best, incumbent):
    """(v, i) < (best, incumbent) lexicographically: strictly smaller, or equal at a lower
    index. Every race (exponential or record times) keeps its minimum by this one rule, so
    the winner is the lowest-index argmin whatever order the items are visited in."""
    return v < best or (v == best and i < incumbent)


@njit(cache=True, inline="always", error_model="numpy")
def _offer(e, i, p, q, best_a, a, best_b, b):
    """Offer item i with noise e to both parties' running minima of e / weight."""
    v = e / p[i]
    if _beats(v, i, best_a, a):
        best_a = v
        a = i
    v = e / q[i]
    if _beats(v, i, best_b, b):
        best_b = v
        b = i
    return best_a, a, best_b, b


@njit(cache=True, error_model="numpy")
def gumbel_race(p, q, solo, warm, state, wbuf):
    """argmin_i E_i / p_i and argmin_i E_i / q_i with E_i = -ln u(state, i).

    Ties go to the lowest index; zero weights never win. The items in ``warm`` (the
    heaviest of p and q) are raced first so the pre-filter bites from the first block.
    The pre-filter compares the coarse integer gap floor((1 - u) 2**31) with
    best * 2**31 * w_i; scaling by a power of two is exact, so this is the comparison of
    1 - u with best * w_i up to the gap's truncation, absorbed by the ``+ 1``.
    ``solo`` (one party: q is ignored) filters on p alone and returns b = n.
    """
    n = p.shape[0]
    best_a = np.inf
    best_b = -np.inf if solo else np.inf  # a party already done at -inf never takes an item
    a = n
    b = n
    for i in warm:
        e = -np.log(uniform_at(state, i))
        best_a, a, best_b, b = _offer(e, i, p, q, best_a, a, best_b, b)
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        thr_a = best_a * (1.0 + PRUNE_MARGIN) * TWO_31
        thr_b = best_b * (1.0 + PRUNE_MARGIN) * TWO_31
        hits = 0
        if solo:  # two copies of the loop, so each vectorises on its own
            for j in range(m):
                w = word_at(state, i0 + j)
                wbuf[j] = w
                hits += word_to_coarse_gap(w) <= thr_a * p[i0 + j] + 1.0
        else:
            for j in range(m):  # vectorised: hash, coarse gap, filter
                w = word_at(state, i0 + j)
                wbuf[j] = w
                gap = word_to_coarse_gap(w)
                hits += (gap <= thr_a * p[i0 + j] + 1.0) | (gap <= thr_b * q[i0 + j] + 1.0)
        if hits == 0:
            continue
        for j in range(m):
            i = i0 + j
            gap = word_to_coarse_gap(wbuf[j])
            if gap <= thr_a * p[i] + 1.0 or gap <= thr_b * q[i] + 1.0:
                e = -np.log(word_to_uniform(wbuf[j]))
                best_a, a, best_b, b = _offer(e, i, p, q, best_a, a, best_b, b)
    return a, b


@njit(cache=True, error_model="numpy")
def _wmh_column(i, p, q, st_time, st_height, best_a, a, best_b, b):
    """Run column i's records until neither party can take the column any more."""
    live_a = p[i] > 0.0 and _beats(0.0, i, best_a, a)
    live_b = q[i] > 0.0 and _beats(0.0, i, best_b, b)
    if not (live_a or live_b):
        return best_a, a, best_b, b
    t = 0.0
    h = 1.0
    j = 0
    while live_a or live_b:
        idx = i + (j << RECORD_SHIFT)
        t += -np.log(uniform_at(st_time, idx)) / h
        j += 1
        live_a = live_a and _beats(t, i, best_a, a)
        live_b = live_b and _beats(t, i, best_b, b)
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


@njit(cache=True, inline="always", error_model="numpy")
def _uniform_by_halves(w):
    """word_to_uniform(w), bit for bit, from two int32 conversions (which vectorise where a
    64-bit one does not): k = w >> 11 < 2**53 is hi * 2**22 + lo exactly, hi < 2**31."""
    k = w >> np.uint64(11)
    hi = np.float64(np.int32(k >> np.uint64(22)))
    lo = np.float64(np.int32(k & np.uint64(0x3FFFFF)))
    return (hi * 4194304.0 + lo + 0.5) * TWO_M53


@njit(cache=True, error_model="numpy")
def _bound_records(i0, m, p, q, worst, st_time, st_height, cols, low, height, out):
    """Columns i0 .. i0 + m - 1 that may be taken by a time <= ``worst``, into ``out``.

    Record j of a column comes at t_j = t_{j-1} + E_j / h_{j-1} with E_j = -ln u_j >= 1 - u_j
    >= g_j / 2**31 (g the coarse gap: no logarithm), so sum_k g_k / h_{k-1} (in units of
    2**-31) bounds t_j from below; the heights h_j are the kernel's own products. Record by
    record over the columns still in play: a column whose bound passes ``worst`` (with the
    margin for every rounding) can take nothing in time and is dropped; one whose height falls
    to a party's weight while its bound is in time goes to ``out`` for the exact run; the rest
    go on. Returns how many columns are in ``out``.
    """
    lim = worst * (1.0 + PRUNE_MARGIN) * TWO_31
    live = 0
    for j in range(m):
        i = i0 + j
        cols[live] = i
        low[live] = 0.0
        height[live] = 1.0
        live += (p[i] > 0.0) | (q[i] > 0.0)
    found = 0
    record = 0
    while live:
        shift = record << RECORD_SHIFT
        for s in range(live):  # vectorised: two hashes per column in play
            i = cols[s]
            idx = i + shift
            low[s] += word_to_coarse_gap(word_at(st_time, idx)) / height[s]
            height[s] *= _uniform_by_halves(word_at(st_height, idx))
        kept = 0
        for s in range(live):
            i = cols[s]
            soon = low[s] <= lim
            takes = soon & ((height[s] <= p[i]) | (height[s] <= q[i]))
            out[found] = i
            found += takes
            cols[kept] = i
            low[kept] = low[s]
            height[kept] = height[s]
            kept += soon & ~takes
        live = kept
        record += 1
    return found


@njit(cache=True, error_model="numpy")
def wmh_records_race(p, q, solo, warm, st_time, st_height, wbuf):
    """Per-column record process of the dart stream, run for both parties.

    Column i receives darts at the points of a rate-1 Poisson process with uniform heights.
    Its records (darts lower than every earlier dart of the column) come after Exp(h)
    waiting times with heights h * U. A party with weights w takes, per column, the first
    record with height <= w_i, and outputs the column where that happens earliest (ties to
    the lower column). This is the literal dart stream in law (the stream is the embedded
    jump chain of these processes). The columns in ``warm`` (the heaviest) go first so the
    running best is small at once; the other columns are screened block by block with a
    logarithm-free lower bound on their record times (:func:`_bound_records`), and only those
    that may take in time are run exactly, each abandoned as soon as its time passes every
    party's best. The visiting order never changes the result. ``solo`` (one party: q is
    ignored) runs p's records alone and returns b = n.
    """
    n = p.shape[0]
    best_a = np.inf
    best_b = -np.inf if solo else np.inf  # a party already done at -inf never takes a column
    a = n
    b = n
    for i in warm:
        best_a, a, best_b, b = _wmh_column(i, p, q, st_time, st_height, best_a, a, best_b, b)
    cols = np.empty(BLOCK, np.int64)
    low = np.empty(BLOCK)
    height = np.empty(BLOCK)
    for i0 in range(0, n, BLOCK):
        # The bests only fall, so the block's opening value bounds them for the whole block.
        worst = max(best_a, best_b)
        if worst < np.inf:
            hits = _bound_records(i0, min(BLOCK, n - i0), p, q, worst, st_time, st_height,
                                  cols, low, height, wbuf)  # fmt: skip
        else:  # no party has a best yet (no warm start): every column runs exactly
            hits = min(BLOCK, n - i0)
            for j in range(hits):
                wbuf[j] = i0 + j
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


@njit(cache=True, error_model="numpy")
def count_invalid(w):
    """How many entries are not finite and >= 0 (NaN, +-inf, negatives): one vectorised pass."""
    bad = 0
    for i in range(w.shape[0]):
        x = w[i]
        bad += np.int64(x < 0.0) + np.int64(x != x) + np.int64(x == np.inf)  # vectorises
    return bad

"""Numba drivers: one trial of each protocol, and prange loops over independent trials.

Trial t always uses key ``first_key + t``, so results do not depend on chunking or threads;
counts are summed per chunk as integers.
"""

import numpy as np
from coupling.simulate._hash import domain_base, key_state, stream_state, uniform_at
from coupling.simulate._kernels import (
    BLOCK,
    gumbel_race,
    inverse_cdf,
    wmh_darts,
    wmh_records_race,
)
from numba import njit, prange

GUMBEL = 0
WMH = 1
WMH_DARTS = 2
OPTIMAL = 3
INDEPENDENT = 4


@njit(cache=True, error_model="numpy")
def faithful_trial(proto, rows, warm, stay, seed, tags, key, wbuf):
    """Both parties' outputs for one key; ``rows`` holds the per-protocol weight rows.

    gumbel, wmh, wmh-darts: p, q (gumbel and wmh race the ``warm`` items first).
    optimal: cdf(m), cdf(p - m), cdf(q - m), with ``stay`` = 1 - D.  independent: cdf(p), cdf(q).
    """
    if proto == GUMBEL:
        st = stream_state(seed, tags[0], key)
        return gumbel_race(rows[0], rows[1], False, warm, st, wbuf)
    if proto == WMH:
        return wmh_records_race(
            rows[0],
            rows[1],
            False,
            warm,
            stream_state(seed, tags[0], key),
            stream_state(seed, tags[1], key),
            wbuf,
        )
    if proto == WMH_DARTS:
        st_item = stream_state(seed, tags[0], key)
        st_height = stream_state(seed, tags[1], key)
        return wmh_darts(rows[0], st_item, st_height), wmh_darts(rows[1], st_item, st_height)
    if proto == OPTIMAL:
        st = stream_state(seed, tags[0], key)
        if uniform_at(st, 0) < stay:
            i = inverse_cdf(rows[0], uniform_at(st, 1))
            return i, i
        return inverse_cdf(rows[1], uniform_at(st, 2)), inverse_cdf(rows[2], uniform_at(st, 3))
    a = inverse_cdf(rows[0], uniform_at(stream_state(seed, tags[0], key), 0))
    b = inverse_cdf(rows[1], uniform_at(stream_state(seed, tags[1], key), 0))
    return a, b


@njit(cache=True, error_model="numpy")
def solo_trial(proto, p, warm, seed, tags, key, wbuf):
    """One party's output for one key (gumbel, wmh or wmh-darts on weights ``p``): the same
    item as :func:`faithful_trial`'s first party, without racing a second one."""
    st_0 = stream_state(seed, tags[0], key)
    if proto == GUMBEL:
        return gumbel_race(p, p, True, warm, st_0, wbuf)[0]
    st_1 = stream_state(seed, tags[1], key)
    if proto == WMH:
        return wmh_records_race(p, p, True, warm, st_0, st_1, wbuf)[0]
    return wmh_darts(p, st_0, st_1)


@njit(cache=True, inline="always", error_model="numpy")
def _table_draw(table, col, u_column, u_coin):
    """Alias draw from columns (col: probability, col + 1: alias) of a packed table."""
    n = table.shape[0]
    i = min(np.int64(u_column * n), n - 1)
    return i if u_coin < table[i, col] else np.int64(table[i, col + 1])


@njit(cache=True, inline="always", error_model="numpy")
def fast_trial(proto, table, scalar, st):
    """One draw of (a, b) from the protocol's joint law in O(1) expected time.

    ``table`` is (n, k), one row per item (64-byte aligned rows for k = 8), so a draw touches
    one cache line; each alias table takes two columns (probability, alias). By protocol:

    gumbel: alias over M | M/p, M/q of the item | M/p, M/q of its alias | padding;
    scalar = 1 + D. Points of a rate 1 + D Poisson process carry items drawn in proportion
    to M; an item's first point is U_i ~ Exp(M_i), so E_i = M_i U_i are the race's
    exponentials and T_i = U_i M_i / p_i.
    The race stops once time passes both parties' bests (E[points] <= 1 + 2(1 + D)). A later
    point of a column already raced has t > U_i, so it can never beat that column's own first
    value, let alone the best: no bookkeeping of seen columns is needed.
    wmh: alias over M | m/M | [p > q] | alias over p | alias over q. The first useful dart
    lands in column i w.p. M_i / (1 + D); below m_i both stop, otherwise the party that did
    not stop draws afresh from its own distribution.
    optimal: alias over m | alias over p - m | alias over q - m; scalar = 1 - D.
    independent: alias over p | alias over q.
    """
    if proto == GUMBEL:
        t = 0.0
        k = 0
        best_a = np.inf
        best_b = np.inf
        a = -1
        b = -1
        n = table.shape[0]
        while True:
            t += -np.log(uniform_at(st, k)) / scalar
            if t >= best_a and t >= best_b:
                return a, b
            row = min(np.int64(uniform_at(st, k + 1) * n), n - 1)
            i = row
            col = 2  # the ratios of the row's item, or of its alias: one cache line either way
            if uniform_at(st, k + 2) >= table[row, 0]:
                i = np.int64(table[row, 1])
                col = 4
            k += 3
            v = t * table[row, col]
            if v < best_a:
                best_a = v
                a = i
            v = t * table[row, col + 1]
            if v < best_b:
                best_b = v
                b = i
    if proto == WMH:
        i = _table_draw(table, 0, uniform_at(st, 0), uniform_at(st, 1))
        if uniform_at(st, 2) <= table[i, 2]:
            return i, i  # the dart is below both bars
        if table[i, 3] > 0.0:  # below p_i only: Alice stops, Bob draws afresh from q
            return i, _table_draw(table, 6, uniform_at(st, 3), uniform_at(st, 4))
        return _table_draw(table, 4, uniform_at(st, 3), uniform_at(st, 4)), i
    if proto == OPTIMAL:
        if uniform_at(st, 0) < scalar:
            i = _table_draw(table, 0, uniform_at(st, 1), uniform_at(st, 2))
            return i, i
        return (
            _table_draw(table, 2, uniform_at(st, 3), uniform_at(st, 4)),
            _table_draw(table, 4, uniform_at(st, 5), uniform_at(st, 6)),
        )
    return (
        _table_draw(table, 0, uniform_at(st, 1), uniform_at(st, 2)),
        _table_draw(table, 2, uniform_at(st, 3), uniform_at(st, 4)),
    )


@njit(parallel=True, cache=True, error_model="numpy")
def faithful_counts(proto, rows, warm, stay, seed, tags, first_key, trials, chunk, counts):
    for c in prange(counts.shape[0]):
        wbuf = np.empty(BLOCK, np.uint64)
        hits = 0
        for t in range(c * chunk, min(trials, (c + 1) * chunk)):
            key = np.uint64(first_key + t)
            a, b = faithful_trial(proto, rows, warm, stay, seed, tags, key, wbuf)
            hits += a == b
        counts[c] = hits


@njit(parallel=True, cache=True, error_model="numpy")
def faithful_pairs(proto, rows, warm, stay, seed, tags, keys, chunk, out_a, out_b):
    trials = keys.shape[0]
    for c in prange((trials + chunk - 1) // chunk):
        wbuf = np.empty(BLOCK, np.uint64)
        for t in range(c * chunk, min(trials, (c + 1) * chunk)):
            out_a[t], out_b[t] = faithful_trial(proto, rows, warm, stay, seed, tags, keys[t], wbuf)


@njit(cache=True, error_model="numpy")
def faithful_pairs_serial(proto, rows, warm, stay, seed, tags, keys, out_a, out_b):
    """:func:`faithful_pairs` on the calling thread: for a few keys (one token position), where
    waking the thread pool would cost more than the trials and would compete with torch."""
    wbuf = np.empty(BLOCK, np.uint64)
    for t in range(keys.shape[0]):
        out_a[t], out_b[t] = faithful_trial(proto, rows, warm, stay, seed, tags, keys[t], wbuf)


@njit(parallel=True, cache=True, error_model="numpy")
def fast_counts(proto, table, scalar, seed, tag, first_key, trials, chunk, counts):
    base = domain_base(seed, tag)
    for c in prange(counts.shape[0]):
        hits = 0
        for t in range(c * chunk, min(trials, (c + 1) * chunk)):
            st = key_state(base, np.uint64(first_key + t))
            a, b = fast_trial(proto, table, scalar, st)
            hits += a == b
        counts[c] = hits


@njit(parallel=True, cache=True, error_model="numpy")
def fast_pairs(proto, table, scalar, seed, tag, keys, chunk, out_a, out_b):
    base = domain_base(seed, tag)
    trials = keys.shape[0]
    for c in prange((trials + chunk - 1) // chunk):
        for t in range(c * chunk, min(trials, (c + 1) * chunk)):
            st = key_state(base, keys[t])
            out_a[t], out_b[t] = fast_trial(proto, table, scalar, st)


@njit(parallel=True, cache=True, error_model="numpy")
def solo_draws(proto, rows, warm, row_of, seed, tags, keys, chunk, out):
    """out[t] = one party's sample for keys[t] with weights rows[row_of[t]] (warm items
    warm[row_of[t]])."""
    trials = keys.shape[0]
    for c in prange((trials + chunk - 1) // chunk):
        wbuf = np.empty(BLOCK, np.uint64)
        for t in range(c * chunk, min(trials, (c + 1) * chunk)):
            r = row_of[t]
            out[t] = solo_trial(proto, rows[r], warm[r], seed, tags, keys[t], wbuf)


@njit(cache=True, error_model="numpy")
def solo_draws_serial(proto, rows, warm, row_of, seed, tags, keys, out):
    """:func:`solo_draws` on the calling thread, for a few keys (see faithful_pairs_serial)."""
    wbuf = np.empty(BLOCK, np.uint64)
    for t in range(keys.shape[0]):
        r = row_of[t]
        out[t] = solo_trial(proto, rows[r], warm[r], seed, tags, keys[t], wbuf)

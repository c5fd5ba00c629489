"""Numba kernels of the list coupling (Gumbel-max list sampling). No validation, no defaults.

The math and the public contract live in :mod:`coupling.simulate.multidraft`.
"""

import numpy as np
from coupling.simulate._hash import (
    GAMMA,
    domain_base,
    key_state,
    stream_state,
    uniform_at,
    word_at,
    word_to_coarse_gap,
    word_to_uniform,
)
from coupling.simulate._kernels import BLOCK, PRUNE_MARGIN, _offer
from numba import njit, prange

# Slot k's clocks sit at index item + k * 2**32 of the race's stream. word_at(state, index)
# mixes state + (index + 1) * GAMMA, so that is the stream whose state is moved on by
# k * (2**32 * GAMMA mod 2**64): one addition per column, the item loop unchanged.
SLOT_SHIFT = 32
SLOT_STEP = np.uint64((GAMMA.item() << SLOT_SHIFT) % 2**64)
# exp(-x) is exactly 0.0 in float64 for x > 745.2: terms past this cut are zeros, not dropped.
EXP_ZERO = 746.0
# Below this x, 1 - e^(-x) by its Taylor series to x^5 (relative error x^5/720 < 2e-18): most
# gaps between neighbouring breakpoints are this small, and the series costs no libm call.
SERIES_BELOW = 2.0**-10
# Above this x, 1 - e^(-x) from e^(-x) loses at most a factor 1 / (1 - e^(-x)) < 2.6 in
# relative rounding error, so the exponential already computed serves.
DIRECT_ABOVE = 0.5


@njit(cache=True, inline="always", error_model="numpy")
def _one_minus_exp(x):
    """1 - e^(-x) for x >= 0 without cancellation."""
    if x < SERIES_BELOW:
        return x * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x * (1.0 / 120.0)))))
    return -np.expm1(-x)


@njit(cache=True, error_model="numpy")
def _column_race(p, q, p31, q31, warm, state, best_y, y, wbuf):
    """One column of the list race: the drafter's argmin_i E_i / q_i, and the target's running
    argmin over every column so far, (best_y, y), offered this column's E_i / p_i.

    The column's pre-filter is the one of ``_kernels.gumbel_race``: an item is skipped only when
    -ln u >= 1 - u proves it beats neither running best; the target's best starts at its value
    from the earlier columns, so later columns are mostly skipped for the target.
    """
    n = p.shape[0]
    best_x = np.inf
    x = n
    for i in warm:
        e = -np.log(uniform_at(state, i))
        best_y, y, best_x, x = _offer(e, i, p, q, best_y, y, best_x, x)
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        thr_y = best_y * (1.0 + PRUNE_MARGIN)
        thr_x = best_x * (1.0 + PRUNE_MARGIN)
        hits = 0
        for j in range(m):  # vectorised: hash, coarse gap, filter
            w = word_at(state, i0 + j)
            wbuf[j] = w
            gap = word_to_coarse_gap(w)
            hits += (gap <= thr_y * p31[i0 + j] + 1.0) | (gap <= thr_x * q31[i0 + j] + 1.0)
        if hits == 0:
            continue
        for j in range(m):
            i = i0 + j
            gap = word_to_coarse_gap(wbuf[j])
            if gap <= thr_y * p31[i] + 1.0 or gap <= thr_x * q31[i] + 1.0:
                e = -np.log(word_to_uniform(wbuf[j]))
                best_y, y, best_x, x = _offer(e, i, p, q, best_y, y, best_x, x)
    return best_y, y, x


@njit(cache=True, error_model="numpy")
def gls_trial(p, q, p31, q31, warm, state, drafts, wbuf):
    """The target's item argmin_(i,k) S_i^(k) / p_i; drafts[k] = argmin_i S_i^(k) / q_i.

    ``state`` is the stream of slot 0 (the plain Gumbel race's); ``drafts.shape[0]`` is K.
    """
    best_y = np.inf
    y = p.shape[0]
    for k in range(drafts.shape[0]):
        st = state + np.uint64(k) * SLOT_STEP
        best_y, y, drafts[k] = _column_race(p, q, p31, q31, warm, st, best_y, y, wbuf)
    return y


@njit(cache=True, inline="always", error_model="numpy")
def _in_list(y, drafts):
    for k in range(drafts.shape[0]):
        if drafts[k] == y:
            return True
    return False


@njit(parallel=True, cache=True, error_model="numpy")
def gls_faithful_counts(p, q, p31, q31, warm, seed, tag, first_key, trials, k, chunk, counts):
    for c in prange(counts.shape[0]):
        wbuf = np.empty(BLOCK, np.uint64)
        drafts = np.empty(k, np.int64)
        hits = 0
        for t in range(c * chunk, min(trials, (c + 1) * chunk)):
            st = stream_state(seed, tag, np.uint64(first_key + t))
            y = gls_trial(p, q, p31, q31, warm, st, drafts, wbuf)
            hits += _in_list(y, drafts)
        counts[c] = hits


@njit(parallel=True, cache=True, error_model="numpy")
def gls_faithful_samples(p, q, p31, q31, warm, seed, tag, keys, chunk, targets, drafts):
    """targets[t] and drafts[t, :] for keys[t]; drafts.shape[1] is K."""
    trials = keys.shape[0]
    for c in prange((trials + chunk - 1) // chunk):
        wbuf = np.empty(BLOCK, np.uint64)
        for t in range(c * chunk, min(trials, (c + 1) * chunk)):
            st = stream_state(seed, tag, keys[t])
            targets[t] = gls_trial(p, q, p31, q31, warm, st, drafts[t], wbuf)


@njit(cache=True, error_model="numpy")
def gls_faithful_samples_serial(p, q, p31, q31, warm, seed, tag, keys, targets, drafts):
    """:func:`gls_faithful_samples` on the calling thread, for a few keys (a token position)."""
    wbuf = np.empty(BLOCK, np.uint64)
    for t in range(keys.shape[0]):
        st = stream_state(seed, tag, keys[t])
        targets[t] = gls_trial(p, q, p31, q31, warm, st, drafts[t], wbuf)


@njit(cache=True, inline="always", error_model="numpy")
def psi_at(w, breaks, psi, slope):
    """psi(w) = sum_i (q_i w - p_i)^+ for w >= breaks[0]: the segment's start plus its slope."""
    s = np.searchsorted(breaks, w, side="right") - 1
    return psi[s] + slope[s] * (w - breaks[s])


@njit(cache=True, inline="always", error_model="numpy")
def gls_fast_trial(table, breaks, psi, slope, k, st):
    """(target's item, whether the list holds it) from the coupling's law, O(K log n) at worst.

    ``table`` rows: alias over p (probability, alias) | c, r, q of the row's item | c, r, q of
    its alias. The target's winning clock is T ~ Exp(K), its item j ~ p, independent; given
    (T, j), every other clock is S_i = T p_i + Exp(1) (memorylessness). The winning column's
    draft is j iff Exp(1) > T c_j, i.e. u < e^(-T c_j). Another column's draft is j iff, with
    E = S_j - T p_j and w = S_j / (T q_j) = r_j + E / (T q_j), every other item's clock exceeds
    w T q_i: probability exp(-(T psi(w) - E)), tested as -ln u > T psi(w) - E. As psi has slope
    at least q_j right of r_j, T psi(w) - E >= T c_j, so u >= e^(-T c_j) fails the test before
    E is drawn or psi searched. The columns are independent given (T, j); the first match
    ends the trial.
    """
    n = table.shape[0]
    row = min(np.int64(uniform_at(st, 0) * n), n - 1)
    j = row
    col = 2
    if uniform_at(st, 1) >= table[row, 0]:
        j = np.int64(table[row, 1])
        col = 5
    c = table[row, col]
    r = table[row, col + 1]
    qj = table[row, col + 2]
    if qj == 0.0:
        return j, False
    t = -np.log(uniform_at(st, 2)) / k
    bar = np.exp(-t * c)
    if uniform_at(st, 3) < bar:
        return j, True
    for m in range(k - 1):
        u = uniform_at(st, 4 + 2 * m)
        if u >= bar:  # -ln u <= t c <= t psi(w) - E for every E: settled without E
            continue
        e = -np.log(uniform_at(st, 5 + 2 * m))
        w = r + e / (t * qj)
        if -np.log(u) > t * psi_at(w, breaks, psi, slope) - e:
            return j, True
    return j, False


@njit(parallel=True, cache=True, error_model="numpy")
def gls_fast_counts(table, breaks, psi, slope, k, seed, tag, first_key, trials, chunk, counts):
    base = domain_base(seed, tag)
    for c in prange(counts.shape[0]):
        hits = 0
        for t in range(c * chunk, min(trials, (c + 1) * chunk)):
            st = key_state(base, np.uint64(first_key + t))
            hits += gls_fast_trial(table, breaks, psi, slope, k, st)[1]
        counts[c] = hits


@njit(parallel=True, cache=True, error_model="numpy")
def gls_fast_samples(table, breaks, psi, slope, k, seed, tag, keys, chunk, targets, matched):
    base = domain_base(seed, tag)
    trials = keys.shape[0]
    for c in prange((trials + chunk - 1) // chunk):
        for t in range(c * chunk, min(trials, (c + 1) * chunk)):
            targets[t], matched[t] = gls_fast_trial(
                table, breaks, psi, slope, k, key_state(base, keys[t])
            )


@njit(cache=True, inline="always", error_model="numpy")
def _node_window(psi, rate, delta, span, l_end, t):
    """(lo, hi, top) at node t: positions lo <= l < hi are evaluated (delta <= t (rate + c_l)
    <= span, l < l_end), and the suffix sums start at top (past it e^(-t psi) is 0.0)."""
    lo = np.searchsorted(psi, delta / t - rate, side="left")
    hi = min(np.searchsorted(psi, span / t - rate, side="right"), l_end)
    top = min(np.searchsorted(psi, EXP_ZERO / t, side="right"), psi.shape[0])
    return lo, hi, top


@njit(cache=True, error_model="numpy")
def node_costs(psi, rate, delta, span, l_end, h, nodes, out):
    """out[i] = the positions :func:`matching_nodes` visits at node nodes[i] (at least 1): the
    node's share of the work, for cutting a level into pieces of equal time."""
    for i in range(nodes.shape[0]):
        lo, hi, top = _node_window(psi, rate, delta, span, l_end, np.exp(h * nodes[i]))
        out[i] = max(1, top - lo) if lo < hi else 1


@njit(cache=True, error_model="numpy")
def matching_nodes(psi, gap, slope, qs, rate, power, delta, span, l_end, h, nodes, out):
    """Add t F_l(t) at t = exp(h * nodes[i]) to out[l].

    F_l(t) = rate e^(-rate t) (1 - e^(-t c_l)) (1 - (1 - g_l(t))^power), c_l = psi[l], with
    g_l(t) = qs[l] * sum_{s >= l} e^(-t psi[s]) (1 - e^(-t gap[s])) / slope[s]. Only
    positions l < l_end with delta <= t (rate + c_l) <= span are evaluated: the windows outside
    which the caller bounds the tails.
    """
    for i in range(nodes.shape[0]):
        t = np.exp(h * nodes[i])
        lo, hi, top = _node_window(psi, rate, delta, span, l_end, t)
        if lo >= hi:
            continue
        weight = rate * np.exp(-rate * t) * t
        acc = 0.0
        for s in range(top - 1, lo - 1, -1):  # suffix sums: g_s for every s at once
            x = t * psi[s]
            f = np.exp(-x)
            acc += f * _one_minus_exp(t * gap[s]) / slope[s]
            if s < hi:
                g = min(1.0, qs[s] * acc)
                miss = -np.expm1(power * np.log1p(-g)) if g < 1.0 else 1.0
                hit = 1.0 - f if x > DIRECT_ABOVE else _one_minus_exp(x)
                out[s] += weight * hit * miss


@njit(cache=True, inline="always", error_model="numpy")
def _strided_row(psi, gap, slope, qs, rate, power, delta, span, l_end, h, nodes, first, out, c):
    """Row c of :func:`matching_nodes_strided`: the nodes i with (first + i) % rows == c."""
    rows = out.shape[0]
    start = (c - first % rows + rows) % rows
    matching_nodes(psi, gap, slope, qs, rate, power, delta, span, l_end, h, nodes[start::rows],
                   out[c])  # fmt: skip


@njit(cache=True, error_model="numpy")
def matching_nodes_strided(psi, gap, slope, qs, rate, power, delta, span, l_end, h, nodes, first,
                           out):  # fmt: skip
    """:func:`matching_nodes` for nodes[i], node ``first + i`` of its level, added to row
    (first + i) % out.shape[0]. Each row takes its nodes in their order, so the sums are the
    same however a level is cut into calls, and on any number of threads."""
    for c in range(out.shape[0]):
        _strided_row(psi, gap, slope, qs, rate, power, delta, span, l_end, h, nodes, first, out, c)


@njit(parallel=True, cache=True, error_model="numpy")
def matching_nodes_strided_parallel(psi, gap, slope, qs, rate, power, delta, span, l_end, h,
                                    nodes, first, out):  # fmt: skip
    """:func:`matching_nodes_strided` with a thread per row: the same sums."""
    for c in prange(out.shape[0]):
        _strided_row(psi, gap, slope, qs, rate, power, delta, span, l_end, h, nodes, first, out, c)


@njit(cache=True, error_model="numpy")
def gls_columns_serial(rows, rows31, warm, row_of, seed, tag, keys, clocks, items):
    """Each slot's own race: clocks[t, k] = min_i S_i^(k) / p_i and items[t, k] its item, for
    key keys[t] on the row rows[row_of[t]]; clocks.shape[1] is K. One column at a time, so the
    target's best over any set of slots is the lexicographic minimum of (clock, item) there."""
    wbuf = np.empty(BLOCK, np.uint64)
    for t in range(keys.shape[0]):
        r = row_of[t]
        p = rows[r]
        state = stream_state(seed, tag, keys[t])
        for k in range(clocks.shape[1]):
            st = state + np.uint64(k) * SLOT_STEP
            best, y, _ = _column_race(p, p, rows31[r], rows31[r], warm[r], st, np.inf, p.shape[0],
                                      wbuf)  # fmt: skip
            clocks[t, k] = best
            items[t, k] = y

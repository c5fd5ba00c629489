r"""Numba kernels of the exact type search: the best pair of maps (f, g) on one type of pairs.

A type is a set of ordered pairs (S, T) of k-subsets of [n] (here: those meeting in k - m
items), written as partner lists. The value of a map f (f(S) in S) is

.. math:: v(f) = \sum_T \max_{j \in T} \#\{S \text{ partner of } T : f(S) = j\},

the number of agreeing pairs when g answers f by best response (each T independently takes
the item most of its partners send to). :func:`search_type` maximises v over f by a
depth-first branch and bound that is *resumable*: all its state lives in the arrays it is
given, and it returns after ``budget`` nodes so that the caller can report progress and stop.

Bound. ``val[T, j]`` counts the partners S of T that are assigned j, plus those not yet
assigned that contain j (they could still pick j). Every completion has
v <= sum_T max_j val[T, j], and at a leaf (nothing open) that sum is v itself. Assigning x to
S lowers val[T, y] by one for each partner T and each y in S n T other than x, so T's term
drops (by exactly one) iff every maximiser of val[T, .] lies in S \ {x}: with the maximisers
kept as a bitmask, the bound after any single assignment costs one pass over S's partners.

Search. At each node every open set is probed (its best assignment's bound), and the search
branches on the set whose best is lowest, its items in decreasing order of bound; a node is
cut as soon as one probe cannot beat the incumbent, and the remaining items of a set as soon
as one cannot. Orbits: a permutation of [n] maps f to a map of the same value; one fixing
every assigned set (as a set) and its item fixes the node, so of the items of the set
branched on that no assigned set tells apart (one atom of the partition the assigned sets
cut out, their items alone) only one is tried. At the root that leaves one item.
"""

import numpy as np
from coupling.proofs.symmetric import _refine  # the atoms after an assignment (njit)
from numba import njit

__all__ = ["climb", "initial_state", "probe_deltas", "search_type", "type_value"]

# the search's scalars, in the int64 array ``scalars``
DEPTH, NODES, BOUND, BEST = range(4)


@njit(cache=True)
def _retop(t, val, items, term, top):
    """term[t] = max_j val[t, j] over T's items; top[t] = the bitmask of its maximisers."""
    best = np.int64(-1)
    mask = np.int64(0)
    for j in range(items.shape[1]):
        y = items[t, j]
        if val[t, y] > best:
            best = val[t, y]
            mask = np.int64(1) << y
        elif val[t, y] == best:
            mask |= np.int64(1) << y
    delta = best - term[t]
    term[t] = best
    top[t] = mask
    return delta


@njit(cache=True)
def _move(s, x, sign, items, member, nb_ptr, nb_idx, val, term, top):
    """Assign (sign = 1) or take back (sign = -1) item x for set s; the bound's change."""
    delta = 0
    for e in range(nb_ptr[s], nb_ptr[s + 1]):
        t = nb_idx[e]
        for j in range(items.shape[1]):
            y = items[s, j]
            if y != x and member[t, y]:
                val[t, y] -= sign
        delta += _retop(t, val, items, term, top)
    return delta


@njit(cache=True)
def probe_deltas(s, items, set_mask, nb_ptr, nb_idx, top, out):
    """out[j] = the bound's change if set s were assigned its j-th item (<= 0)."""
    k = items.shape[1]
    for j in range(k):
        out[j] = 0
    for e in range(nb_ptr[s], nb_ptr[s + 1]):
        t = nb_idx[e]
        if top[t] & ~set_mask[s] == 0:  # every maximiser of T lies in S
            for j in range(k):
                if not (top[t] >> items[s, j]) & 1:
                    out[j] -= 1


@njit(cache=True)
def initial_state(items, member, nb_ptr, nb_idx, n, val, term, top):
    """Fill val (every set open), term and top; returns the root bound."""
    m, k = items.shape
    val[:] = 0
    for t in range(m):
        for e in range(nb_ptr[t], nb_ptr[t + 1]):
            s = nb_idx[e]
            for j in range(k):
                if member[t, items[s, j]]:
                    val[t, items[s, j]] += 1
    bound = 0
    for t in range(m):
        term[t] = 0
        bound += _retop(t, val, items, term, top)
    return bound


@njit(cache=True)
def type_value(items, nb_ptr, nb_idx, n, choice):
    """v(f) for the map f(S_s) = items[s, choice[s]], by counting (the search's leaf value)."""
    m, k = items.shape
    total = 0
    acc = np.zeros(n, np.int64)
    for t in range(m):
        for e in range(nb_ptr[t], nb_ptr[t + 1]):
            acc[items[nb_idx[e], choice[nb_idx[e]]]] += 1
        best = 0
        for j in range(k):
            best = max(best, acc[items[t, j]])
        total += best
        for e in range(nb_ptr[t], nb_ptr[t + 1]):
            acc[items[nb_idx[e], choice[nb_idx[e]]]] = 0
    return total


@njit(cache=True)
def _enter(d, items, set_mask, nb_ptr, nb_idx, top, chosen, label, bound, best,
           cand, ncand, score, order, deltas, tmpc, tmps):  # fmt: skip
    """Probe every open set; keep in order[d] the one whose best bound is lowest, with its
    candidates (one per atom) sorted by bound in cand/score. Stops early at a cut."""
    m, k = items.shape
    lowest = np.int64(1) << 62
    for s in range(m):
        if chosen[s] >= 0:
            continue
        probe_deltas(s, items, set_mask, nb_ptr, nb_idx, top, deltas)
        nc = 0
        for j in range(k):
            fresh = True
            for c in range(nc):
                if label[d, items[s, tmpc[c]]] == label[d, items[s, j]]:
                    fresh = False
                    break
            if not fresh:
                continue
            i = nc  # insertion, decreasing bound, stable
            while i > 0 and tmps[i - 1] < bound + deltas[j]:
                tmpc[i] = tmpc[i - 1]
                tmps[i] = tmps[i - 1]
                i -= 1
            tmpc[i] = j
            tmps[i] = bound + deltas[j]
            nc += 1
        alive = 0
        for c in range(nc):
            if tmps[c] > best:
                alive += 1
        key = alive * (np.int64(1) << 40) + tmps[0]
        if key < lowest:
            lowest = key
            order[d] = s
            ncand[d] = nc
            for c in range(nc):
                cand[d, c] = tmpc[c]
                score[d, c] = tmps[c]
            if alive == 0:  # this node cannot beat the incumbent
                return


@njit(cache=True)
def search_type(items, member, set_mask, nb_ptr, nb_idx, val, term, top, chosen, label,
                cand, ncand, pos, score, order, best_choice, scalars, budget):  # fmt: skip
    """Run the branch and bound for at most ``budget`` more nodes from the state given.

    State (m sets of k items over n): ``val`` (m, n), ``term``, ``top`` (m,) as above;
    ``chosen`` (m,) the item of each set or -1; per depth d: ``label[d]`` (n,) the atoms,
    ``order[d]`` the set branched on, ``cand[d]``/``score[d]`` (k,) its candidate item
    indices and their bounds, ``ncand[d]`` how many, ``pos[d]`` the one being tried (-1: not
    entered); ``best_choice`` (m,) the incumbent's item indices; ``scalars`` [depth, nodes,
    bound, best]. Returns True when the search is done, False when the budget ran out.
    """
    m, k = items.shape
    depth = scalars[DEPTH]
    nodes = scalars[NODES]
    bound = scalars[BOUND]
    best = scalars[BEST]
    stop = nodes + budget
    deltas = np.empty(k, np.int64)
    tmpc = np.empty(k, np.int64)
    tmps = np.empty(k, np.int64)
    while depth >= 0 and nodes < stop:
        d = depth
        if pos[d] >= 0:  # take back the current candidate
            s = order[d]
            bound += _move(s, chosen[s], -1, items, member, nb_ptr, nb_idx, val, term, top)
            chosen[s] = -1
        else:
            _enter(d, items, set_mask, nb_ptr, nb_idx, top, chosen, label, bound, best,
                   cand, ncand, score, order, deltas, tmpc, tmps)  # fmt: skip
        pos[d] += 1
        if pos[d] >= ncand[d] or score[d, pos[d]] <= best:  # the rest cannot beat best
            pos[d] = -1
            depth -= 1
            continue
        s = order[d]
        x = items[s, cand[d, pos[d]]]
        bound += _move(s, x, 1, items, member, nb_ptr, nb_idx, val, term, top)
        chosen[s] = x
        nodes += 1
        if depth == m - 1:  # a leaf: nothing open, the bound is the value
            best = bound
            for t in range(m):
                for j in range(k):
                    if items[t, j] == chosen[t]:
                        best_choice[t] = j
            continue
        _refine(label[d], member[s], x, label[d + 1])
        depth += 1
    scalars[DEPTH] = depth
    scalars[NODES] = nodes
    scalars[BOUND] = bound
    scalars[BEST] = best
    return depth < 0


@njit(cache=True)
def climb(items, nb_ptr, nb_idx, n, choice, sets_tried, items_tried):
    """Local search on f: for each proposed move (set sets_tried[i] to its item
    items_tried[i]) keep it when v(f) does not drop (plateaus are walked, which lets a
    chain of sideways moves reach an improvement). Changes ``choice`` in place; returns
    the best v(f) seen and leaves the best map in ``choice``."""
    m, k = items.shape
    cnt = np.zeros((m, n), np.int64)
    term = np.zeros(m, np.int64)
    for t in range(m):
        for e in range(nb_ptr[t], nb_ptr[t + 1]):
            cnt[t, items[nb_idx[e], choice[nb_idx[e]]]] += 1
    value = 0
    for t in range(m):
        for j in range(k):
            term[t] = max(term[t], cnt[t, items[t, j]])
        value += term[t]
    best = value
    best_choice = choice.copy()
    for i in range(sets_tried.size):
        s = sets_tried[i]
        old = items[s, choice[s]]
        new = items[s, items_tried[i]]
        if new == old:
            continue
        delta = 0
        for e in range(nb_ptr[s], nb_ptr[s + 1]):
            t = nb_idx[e]
            cnt[t, old] -= 1
            cnt[t, new] += 1
            top = 0
            for j in range(k):
                top = max(top, cnt[t, items[t, j]])
            delta += top - term[t]
        if delta < 0:  # undo
            for e in range(nb_ptr[s], nb_ptr[s + 1]):
                t = nb_idx[e]
                cnt[t, old] += 1
                cnt[t, new] -= 1
            continue
        for e in range(nb_ptr[s], nb_ptr[s + 1]):
            t = nb_idx[e]
            top = 0
            for j in range(k):
                top = max(top, cnt[t, items[t, j]])
            term[t] = top
        choice[s] = items_tried[i]
        value += delta
        if value > best:
            best = value
            best_choice[:] = choice
    choice[:] = best_choice
    return best

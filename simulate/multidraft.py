r"""The list coupling (Gumbel-max list sampling) and its exact matching probability.

Rowan, Phan and Khisti, "List-level distribution coupling with applications to speculative
decoding and lossy compression" (NeurIPS 2025, arXiv 2506.05632) give the drafter K tries. With
K columns of public clocks :math:`S_i^{(k)} \sim \mathrm{Exp}(1)`:

* draft k: :math:`X^{(k)} = \arg\min_i S_i^{(k)} / q_i` (K ordinary Gumbel races);
* target: :math:`Y = \arg\min_{(i, k)} S_i^{(k)} / p_i` (one race over all K n clocks);
* the target accepts iff :math:`Y \in \{X^{(1)}, \dots, X^{(K)}\}`, and always emits Y.

Each draft is a draw from q, Y a draw from p, and Y is a function of p and the public
randomness alone. K = 1 is the Gumbel coupling, draw for draw.

**Public randomness.** :math:`S_i^{(k)} = -\ln u(\text{seed}, \texttt{"gumbel"}, \text{key},
i + k \cdot 2^{32})` (:data:`SLOT_STRIDE`): slot 0 is exactly the noise of
:func:`coupling.simulate.protocols.gumbel_sample`, so DISD is the case K = 1, and slot k is the same
counter-based stream further on (items below :math:`2^{32}`). Ties go to the lowest item.

**Exact value** (derived in the project's note ``MULTIDRAFT.md``, section 3). With
:math:`\psi(w) = \sum_i (q_i w - p_i)^+`, :math:`r_j = p_j / q_j` and
:math:`c_j = \psi(r_j)`, the target's winning clock value :math:`T \sim \mathrm{Exp}(K)` is
independent of its item j ~ p, every other clock is :math:`T p_i + \mathrm{Exp}(1)`, and

.. math::

    \Pr[Y \in \text{list}] = \sum_j p_j \int_0^\infty K e^{-Kt}
        \bigl[1 - (1 - e^{-t c_j})(1 - g_j(t))^{K-1}\bigr]\,dt,
    \qquad g_j(t) = q_j t \int_{r_j}^\infty e^{-t \psi(w)}\,dw .

Dropping :math:`g_j` gives the paper's list matching lemma
:math:`\sum_j K p_j / (K + c_j)` (:func:`list_matching_bound`).
"""

import math
from typing import NamedTuple

import numba
import numpy as np
from coupling.simulate import _multidraft
from coupling.simulate._batch import as_rows
from coupling.simulate._kernels import TWO_31, build_alias
from coupling.simulate._pieces import pieces
from coupling.simulate._prepare import _aligned_rows, _heaviest
from coupling.simulate.randomness import domain_tag
from coupling.simulate.validation import (
    as_count,
    as_distribution,
    as_key_array,
    as_pair,
    as_seed,
    is_tensor,
)

__all__ = [
    "SLOT_STRIDE",
    "GLSColumns",
    "GLSSample",
    "ListMatching",
    "gls_columns",
    "gls_drafts",
    "gls_pick",
    "gls_sample",
    "gls_target",
    "list_matching",
    "list_matching_bound",
    "list_matching_probability",
]

#: Slot k's clock for item i is the public uniform at index ``i + k * SLOT_STRIDE``.
SLOT_STRIDE = 2**_multidraft.SLOT_SHIFT
MAX_ITEMS = SLOT_STRIDE
MAX_DRAFTS = 2**31  # (K - 1) * 2**32 + item stays below 2**63, the largest index
CLOCK_DOMAIN = "gumbel"
FAST_DOMAIN = "fast-gls"
_SERIAL_KEYS = 64  # up to this many keys (a token position) the sampler stays on this thread
_CHUNK = 4  # keys per parallel task: each costs K races
_FAST_CHUNK = 1 << 16  # keys per parallel task of the fast engine

# The quadrature (see list_matching): the bound it must meet, relative to the value.
REL_TOL = 1e-9
TAIL = 1e-12  # node sums left out on each side of an item's window, relative to its term
COARSEST_STEP = 0.5  # spacing in ln t of the first level; each further level halves it
MAX_LEVELS = 7  # down to a spacing of 2**-7
NODE_CHUNKS = 8  # node i of a level is summed in row i % 8: sums independent of threads, pieces
PARALLEL_WORK = 2**18  # positions visited from which the threads pay for their start
# Items with c_j above HUGE (tiny q_j) are integrated on a grid rescaled by 2**-600, so that
# t stays a normal float: t (K + c_j) lies in a window of order one.
HUGE = 2.0**600
RESCALE = 2.0**-600


class GLSSample(NamedTuple):
    """Outcome of the list coupling for one key or an array of keys (shape S)."""

    target: object  #: int or int64 array of shape S: the target's item Y
    drafts: np.ndarray  #: int64 array of shape S + (K,): draft k from slot k
    matched: object  #: bool or bool array of shape S: Y is one of the drafts


class ListMatching(NamedTuple):
    """The exact matching probability with its error bound and its parts."""

    value: float  #: Pr[Y in list]
    error_bound: float  #: a-posteriori bound on |value - Pr[Y in list]|
    lemma: float  #: the list matching lemma, the closed-form part of value
    by_item: np.ndarray  #: Pr[Y = j and j in list], shape (n,)
    nodes: int  #: quadrature nodes (values of t) evaluated


def _as_k(k, n, name="k"):
    k = as_count(k, name)
    if k > MAX_DRAFTS:
        raise ValueError(f"{name} must be at most 2**31 (slot indices), got {k}")
    if n > MAX_ITEMS:
        raise ValueError(f"the list coupling takes at most 2**32 items, got {n}")
    return k


def _sample(p, q, k, seed, key):
    seed = as_seed(seed)
    keys = as_key_array(key, "key")
    flat = np.ascontiguousarray(keys.reshape(-1))
    targets = np.empty(flat.size, np.int64)
    drafts = np.empty((flat.size, k), np.int64)
    race = (p, q, p * TWO_31, q * TWO_31, _heaviest(p, q), seed, domain_tag(CLOCK_DOMAIN), flat)
    if flat.size <= _SERIAL_KEYS:
        _multidraft.gls_faithful_samples_serial(*race, targets, drafts)
    else:
        _multidraft.gls_faithful_samples(*race, _CHUNK, targets, drafts)
    return keys, targets, drafts


def gls_sample(p, q, k, *, seed, key, normalize=False):
    """Run the list coupling: the target's item, the K drafts, and whether they match.

    Parameters
    ----------
    p, q : array_like, shape (n,)
        The target's and the drafter's distributions.
    k : int
        Number of drafts K (slots 0 .. K-1).
    seed : int
        Public seed.
    key : int or array of ints, shape S
        Trial number or token position.

    Returns
    -------
    GLSSample
        ``target`` (shape S), ``drafts`` (shape S + (K,)), ``matched`` (shape S).

    Examples
    --------
    >>> s = gls_sample([0.5, 0.5], [0.5, 0.5], 3, seed=0, key=1)
    >>> bool(s.matched), s.drafts.shape
    (True, (3,))
    """
    p, q = as_pair(p, q, normalize=normalize)
    k = _as_k(k, p.size)
    keys, targets, drafts = _sample(p, q, k, seed, key)
    matched = np.any(drafts == targets[:, None], axis=1)
    if keys.ndim == 0:
        return GLSSample(int(targets[0]), drafts[0], bool(matched[0]))
    return GLSSample(
        targets.reshape(keys.shape),
        drafts.reshape((*keys.shape, k)),
        matched.reshape(keys.shape),
    )


def gls_target(p, k, *, seed, key, normalize=False):
    """The target's item :math:`\\arg\\min_{(i,k)} S_i^{(k)}/p_i`: a draw from p that depends
    on p and the public randomness only (never on any drafter).

    Examples
    --------
    >>> gls_target([0.0, 1.0], 4, seed=0, key=5)
    1
    """
    p = as_distribution(p, normalize=normalize)
    k = _as_k(k, p.size)
    keys, targets, _ = _sample(p, p, k, seed, key)
    return int(targets[0]) if keys.ndim == 0 else targets.reshape(keys.shape)


def gls_drafts(q, k, *, seed, key, normalize=False):
    """The K drafts :math:`\\arg\\min_i S_i^{(k)}/q_i`, k = 0 .. K-1: each a draw from q.

    Returns an int64 array of shape S + (K,) for keys of shape S.

    Examples
    --------
    >>> gls_drafts([1.0, 0.0], 2, seed=0, key=0).tolist()
    [0, 0]
    """
    q = as_distribution(q, "q", normalize=normalize)
    k = _as_k(k, q.size)
    keys, _, drafts = _sample(q, q, k, seed, key)
    return drafts[0] if keys.ndim == 0 else drafts.reshape((*keys.shape, k))


class GLSColumns(NamedTuple):
    """Each slot's own race for one key or row: what a decoder needs of the list coupling."""

    clock: object  #: float64, shape S + (K,): :math:`\min_i S_i^{(k)} / p_i` of slot k
    item: object  #: int64, shape S + (K,): its item (lowest on ties)


def gls_columns(p, k, *, seed, key, normalize=False):
    r"""Slot by slot, the race :math:`\min_i S_i^{(k)} / p_i` and its item, k = 0 .. K-1.

    The target's item over any set A of slots, :math:`\arg\min_{(i, k \in A)} S_i^{(k)} / p_i`,
    is the item of the smallest clock in A (:func:`gls_pick`); A = all K slots gives
    :func:`gls_target`, and slot k's item for the drafter's q is draft k of :func:`gls_drafts`.
    A multi-draft decoder thus races a block of target rows once and decides afterwards which
    slots take part at each position.

    Parameters
    ----------
    p : array_like or torch.Tensor, shape (V,) or (R, V)
        One distribution with keys of any shape S, or R rows with one key each (S = (R,)).
        A torch tensor is raced on its device (the uniforms are bit for bit the numba
        kernels'; near-ties aside, see :mod:`coupling.simulate._torch`) and tensors come back.
    k : int
        Number of slots K.
    seed, key
        Public seed and keys (token positions), as for :func:`gls_sample`.

    Returns
    -------
    GLSColumns
        ``clock`` (float64) and ``item`` (int64), both of shape S + (K,).

    Examples
    --------
    >>> c = gls_columns([0.25, 0.75], 3, seed=0, key=7)
    >>> [gls_target([0.25, 0.75], k, seed=0, key=7) == gls_pick(c, [True] * k + [False] * (3 - k))
    ...  for k in (1, 2, 3)]
    [True, True, True]
    """
    if is_tensor(p):
        from coupling.simulate import _torch_multidraft  # only callers holding tensors need torch

        k = _as_k(k, p.shape[-1] if p.ndim else 1)  # a 0-d p is refused with the rows
        tag = domain_tag(CLOCK_DOMAIN)
        return GLSColumns(*_torch_multidraft.gls_columns(p, k, seed, key, normalize, tag))
    seed = as_seed(seed)
    keys = as_key_array(key, "key")
    rows, two_d = as_rows(p, normalize, keys.shape)
    k = _as_k(k, rows.shape[1])
    flat = np.ascontiguousarray(keys.reshape(-1))
    row_of = np.arange(flat.size) if two_d else np.zeros(flat.size, np.int64)
    warm = np.argmax(rows, axis=1).astype(np.int64)[:, None]
    clocks = np.empty((flat.size, k))
    items = np.empty((flat.size, k), np.int64)
    _multidraft.gls_columns_serial(rows, rows * TWO_31, warm, row_of, seed,
                                   domain_tag(CLOCK_DOMAIN), flat, clocks, items)  # fmt: skip
    shape = (*keys.shape, k)
    return GLSColumns(clocks.reshape(shape), items.reshape(shape))


def gls_pick(columns, active):
    r"""The target's item of the race over the slots where ``active`` is true: the item of
    the smallest clock there (lexicographic in (clock, item), the races' tie rule).

    ``columns`` is a :class:`GLSColumns` of shape S + (K,) (numpy or torch); ``active`` a
    boolean mask broadcastable to it with at least one true slot per key (checked for numpy;
    a tensor is not read back). Returns an int (S
    empty, numpy) or an int64 array or tensor of shape S.

    Examples
    --------
    >>> gls_pick(GLSColumns(np.array([0.5, 0.2]), np.array([3, 1])), [True, False])
    3
    """
    clock, item = columns
    if is_tensor(clock):
        import torch

        active = torch.as_tensor(active, dtype=torch.bool, device=clock.device)
        masked = torch.where(active, clock, torch.inf)
        best = masked.amin(dim=-1, keepdim=True)
        top = torch.iinfo(torch.int64).max
        return torch.where(masked == best, item, top).amin(dim=-1)
    active = np.asarray(active, dtype=bool)
    if not np.all(np.any(np.broadcast_to(active, np.shape(clock)), axis=-1)):
        raise ValueError("active must mark at least one slot per key")
    masked = np.where(active, clock, np.inf)
    best = masked.min(axis=-1, keepdims=True)
    out = np.where(masked == best, item, np.iinfo(np.int64).max).min(axis=-1)
    return int(out) if out.ndim == 0 else out


class _Segments(NamedTuple):
    """psi on the items with q > 0, in increasing order of r = p / q (the breakpoints)."""

    order: np.ndarray  # item numbers, by ratio
    breaks: np.ndarray  # r at each breakpoint
    psi: np.ndarray  # psi(r), non-decreasing; c_j for the item at that position
    gap: np.ndarray  # psi(next breakpoint) - psi(this one); inf for the last
    slope: np.ndarray  # slope of psi right of the breakpoint: sum of q over ratios <= r
    lost: np.ndarray  # items with p, q > 0 whose ratio or psi overflows float64


def _segments(p, q):
    with np.errstate(divide="ignore", over="ignore"):
        ratio = np.where(q > 0, p / np.where(q > 0, q, 1.0), np.inf)
    finite = np.flatnonzero(np.isfinite(ratio))
    order = finite[np.argsort(ratio[finite], kind="stable")]
    breaks = ratio[order]
    slope = np.cumsum(q[order])
    with np.errstate(over="ignore", invalid="ignore"):
        rise = slope[:-1] * np.diff(breaks)  # increments, not a difference of prefix sums
        psi = np.concatenate(([0.0], np.cumsum(rise)))
    # psi overflows only for ratios near the float maximum: past that point every clock term
    # e^(-t psi) is 0.0 for the t the quadrature uses, so the list simply ends there.
    keep = int(np.searchsorted(~np.isfinite(psi), True))
    gap = np.append(rise[: keep - 1], np.inf)
    dropped = (p > 0) & (q > 0)
    dropped[order[:keep]] = False
    return _Segments(order[:keep], breaks[:keep], psi[:keep], gap, slope[:keep],
                     np.flatnonzero(dropped))  # fmt: skip


def _dropped_bound(p, q, k, lost):
    """Upper bound on sum of Pr[Y = j, j in list] over items the list dropped.

    That term is at most p_j K^2 / (K + c_j) (R_j <= K (K-1) / (K + c_j), as g_j <= e^(-t c_j))
    and c_j >= q_max r_j - 1 (the term of the item with the largest q in psi(r_j)).
    """
    if lost.size == 0:
        return 0.0
    pj, qj = p[lost], q[lost]
    qmax = float(np.max(q))
    return float(np.sum(k * k * pj * qj / np.maximum(k * qj, pj * qmax + (k - 1) * qj)))


def _node_pieces(args, h, nodes, out, progress):
    """Add the level's nodes to ``out`` (NODE_CHUNKS fixed rows, so the cuts change no sum), in
    pieces of about a quarter second: measured in the positions each node visits (from a few
    to n across a level), cut between nodes, with at least a node per thread (consecutive
    nodes sum in different rows, so they run at once); ``progress(nodes)`` after each."""
    psi, _, _, _, rate, _, delta, span, l_end = args
    cost = np.empty(nodes.size, np.int64)
    _multidraft.node_costs(psi, rate, delta, span, l_end, h, nodes, cost)
    ends = np.cumsum(cost)  # node i's work is (ends[i - 1], ends[i]]
    busy = min(numba.get_num_threads(), NODE_CHUNKS)

    def node_end(start, end):
        first = np.searchsorted(ends, start, side="right")
        last = max(np.searchsorted(ends, end, side="left"), first + busy - 1)
        return int(ends[min(last, nodes.size - 1)])

    for start, size in pieces(int(ends[-1]), 1, node_end):
        a, b = np.searchsorted(ends, [start, start + size], side="right")
        kernel = _multidraft.matching_nodes_strided_parallel if size >= PARALLEL_WORK else (
            _multidraft.matching_nodes_strided)  # fmt: skip
        kernel(*args, h, nodes[a:b], int(a), out)
        if progress is not None:
            progress(int(b - a))


def _window_sums(psi, gap, slope, qs, ps, k, rate, l_end, progress):
    """R_l = int_0^oo rate e^(-rate t) (1 - f_l) (1 - (1 - g_l)^(K-1)) dt for l < l_end, by the
    trapezoidal rule in v = ln t on nested lattices; also the last level's change (weighted by
    ps) and the number of nodes evaluated (:func:`_node_pieces` runs each level's)."""
    power = k - 1.0
    # Outside t (rate + c_l) in [delta, span] each side's node sum is below TAIL * I_l for any
    # spacing up to COARSEST_STEP (bounds: see list_matching).
    delta = math.sqrt(2.0 * TAIL / (power * math.exp(2.0 * COARSEST_STEP)))
    span = math.exp(COARSEST_STEP) * math.log(power / TAIL)
    lemma = rate / (rate + psi[:l_end])
    v_lo = math.log(delta / (rate + float(psi[l_end - 1])))
    v_hi = math.log(span / (rate + float(psi[0])))
    args = (psi, gap, slope, qs, rate, power, delta, span, l_end)
    total = np.zeros(l_end)
    change = np.inf
    used = 0
    for level in range(MAX_LEVELS + 1):
        h = COARSEST_STEP / 2.0**level
        nodes = np.arange(math.floor(v_lo / h), math.ceil(v_hi / h) + 1, dtype=np.int64)
        if level:
            nodes = nodes[nodes % 2 != 0]  # the even ones are the previous level's
        out = np.zeros((NODE_CHUNKS, psi.size))
        _node_pieces(args, h, nodes, out, progress)
        used += nodes.size
        new = h * out.sum(axis=0)[:l_end]
        if level:
            new += total / 2.0
            change = float(np.sum(ps[:l_end] * np.abs(new - total)))
        total = new
        if level and change <= 0.5 * REL_TOL * float(np.sum(ps[:l_end] * (lemma + total))):
            break
    return total, change, used


def list_matching(p, q, k, *, normalize=False, progress=None):
    r"""Exact :math:`\Pr[Y \in \text{list}]` for the list coupling with K = ``k`` drafts.

    Writes each item's term as the lemma's closed form plus a correction,
    :math:`I_j = K/(K + c_j) + R_j` with
    :math:`R_j = \int_0^\infty K e^{-Kt} (1 - e^{-t c_j})(1 - (1 - g_j(t))^{K-1})\,dt \ge 0`.
    :math:`\psi` is piecewise linear, so :math:`g_j` is a finite sum over the breakpoints
    :math:`r_{(s)} \ge r_j` in ratio order:
    :math:`g_j(t) = q_j \sum_s (e^{-t\psi_s} - e^{-t\psi_{s+1}}) / A_s`, :math:`A_s` the
    slope of :math:`\psi` on segment s. One pass down the sorted breakpoints gives every
    :math:`g_j(t)` at one t (suffix sums), O(n) per t.

    The integral over t uses the trapezoidal rule in :math:`v = \ln t` on a lattice shared by
    all items: in v every :math:`e^{-a t}` is the same smooth bump shifted by :math:`-\ln a`,
    so the rule converges geometrically whatever the scales of the :math:`c_j`. Item j uses
    the nodes with :math:`t (K + c_j) \in [\delta, L]`; as
    :math:`g_j \le e^{-t c_j}` and :math:`1 - e^{-tc_j} \le t c_j`, the nodes outside sum to at
    most ``TAIL`` times :math:`I_j` on each side. The spacing halves (from 0.5) until the
    change between two levels, summed over items with weights :math:`p_j`, falls below half of
    ``REL_TOL`` times the value. ``error_bound`` is that change (the a-posteriori error estimate
    of the coarser level, which the finer one improves on geometrically) plus the tails, plus a
    bound on items whose ratio :math:`p_j/q_j` overflows float64. If it exceeds ``REL_TOL``
    times the value, RuntimeError.

    Each node costs O(n): at n = 10^7 the quadrature takes about a minute. The nodes run in
    pieces of about a quarter second, so ``progress`` (a callable or None) is called with the
    number of nodes just evaluated after each, and Ctrl-C is seen between pieces; the node sums
    are taken in fixed rows, so neither the pieces nor the thread count changes the value.

    Returns
    -------
    ListMatching
        value, error_bound, lemma, by_item (:math:`p_j I_j`, shape (n,)), nodes.

    Examples
    --------
    >>> r = list_matching([0.5, 0.5], [0.9, 0.1], 2)  # exactly 101/150
    >>> round(r.value, 9), round(r.lemma, 9), r.error_bound < 1e-9 * r.value
    (0.673333333, 0.666666667, True)
    """
    p, q = as_pair(p, q, normalize=normalize)
    k = _as_k(k, p.size)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {progress!r}")
    seg = _segments(p, q)
    ps, qs = p[seg.order], q[seg.order]
    lemma_terms = ps * (k / (k + seg.psi))
    extra = np.zeros(seg.order.size)
    change = 0.0
    nodes = 0
    split = int(np.searchsorted(seg.psi, HUGE))
    if k > 1 and split > 0:
        extra[:split], change, nodes = _window_sums(
            seg.psi, seg.gap, seg.slope, qs, ps, k, float(k), split, progress
        )
    if k > 1 and split < seg.order.size:
        extra[split:], more, used = _window_sums(
            seg.psi[split:] * RESCALE,
            seg.gap[split:] * RESCALE,
            seg.slope[split:],
            qs[split:],
            ps[split:],
            k,
            k * RESCALE,
            seg.order.size - split,
            progress,
        )
        change += more
        nodes += used
    by_item = np.zeros(p.size)
    by_item[seg.order] = lemma_terms + ps * extra
    value = float(min(1.0, np.sum(by_item)))
    tails = 2.0 * TAIL * value if k > 1 else 0.0
    error = change + tails + _dropped_bound(p, q, k, seg.lost)
    if not error <= REL_TOL * value:
        raise RuntimeError(
            f"list matching quadrature: error bound {error:.3g} exceeds {REL_TOL:g} x {value:.6g}"
        )
    return ListMatching(value, error, float(min(1.0, np.sum(lemma_terms))), by_item, nodes)


def list_matching_probability(p, q, k, *, normalize=False, progress=None):
    """Exact Pr[Y in list] (relative error at most ``REL_TOL``): :func:`list_matching`'s value
    (``progress`` as there).

    Examples
    --------
    >>> list_matching_probability([0.5, 0.5], [0.5, 0.5], 4)
    1.0
    """
    return list_matching(p, q, k, normalize=normalize, progress=progress).value


def list_matching_bound(p, q, k, *, normalize=False):
    r"""The list matching lemma of Rowan, Phan and Khisti:
    :math:`\sum_j K / (\sum_i \max(p_i/p_j, q_i/q_j) + (K-1)/p_j) = \sum_j K p_j / (K + c_j)`,
    the exact value with every column but the target's winning one ignored. Equal to J_P for
    K = 1.

    Examples
    --------
    >>> round(list_matching_bound([0.5, 0.5], [0.9, 0.1], 2), 9)
    0.666666667
    """
    p, q = as_pair(p, q, normalize=normalize)
    k = _as_k(k, p.size)
    seg = _segments(p, q)
    return float(min(1.0, np.sum(p[seg.order] * (k / (k + seg.psi)))))


def _fast_tables(p, q):
    """Alias table over p with each item's c, r and q (and its alias's), plus psi's segments."""
    seg = _segments(p, q)
    c = np.full(p.size, np.inf)
    r = np.full(p.size, np.inf)
    c[seg.order] = seg.psi
    r[seg.order] = seg.breaks
    prob = np.zeros(p.size)
    alias = np.arange(p.size, dtype=np.int64)
    build_alias(p, prob, alias)
    table = _aligned_rows(p.size, 8)
    # column by column: no (n, 8) temporary, and Ctrl-C is seen between the copies
    for j, column in enumerate((prob, alias, c, r, q)):
        table[:, j] = column
    for j, column in enumerate((c, r, q), start=5):
        table[:, j] = column[alias]
    return table, seg.breaks, seg.psi, seg.slope


def _match_counter(engine, p, q, k, seed, chunk):
    """``count(first_key, trials)``: how many trials with keys first_key .. first_key + trials
    - 1 have the target's item in the list. The tables (O(n log n) for the fast engine) are
    built here once, not per call: a long estimate calls it once per piece."""
    if engine == "faithful":
        race = (p, q, p * TWO_31, q * TWO_31, _heaviest(p, q))
        tag = domain_tag(CLOCK_DOMAIN)

        def run(first_key, trials, counts):
            _multidraft.gls_faithful_counts(*race, seed, tag, first_key, trials, k, chunk, counts)

    else:
        tables = _fast_tables(p, q)
        tag = domain_tag(FAST_DOMAIN)

        def run(first_key, trials, counts):
            _multidraft.gls_fast_counts(*tables, k, seed, tag, first_key, trials, chunk, counts)

    def count(first_key, trials):
        counts = np.zeros(-(-trials // chunk), np.int64)
        run(first_key, trials, counts)
        return int(counts.sum())

    return count


def _match_pairs(engine, p, q, k, seed, keys):
    """(target's item, the same item if the list holds it else -1) for each key (flat)."""
    if engine == "faithful":
        _, targets, drafts = _sample(p, q, k, seed, keys)
        matched = np.any(drafts == targets[:, None], axis=1)
    else:
        targets = np.empty(keys.size, np.int64)
        matched = np.empty(keys.size, np.bool_)
        tables = _fast_tables(p, q)
        tag = domain_tag(FAST_DOMAIN)
        _multidraft.gls_fast_samples(*tables, k, seed, tag, keys, _FAST_CHUNK, targets, matched)
    return targets, np.where(matched, targets, -1)

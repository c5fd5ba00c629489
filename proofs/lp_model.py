r"""The symmetrised linear program of claim 5 and its independent cross-checks.

The family: uniform distributions on the k-subsets of [n]; two sets meeting in l items are
at :math:`D = 1 - l/k`, and :math:`(1-D)/(1+D) = l/(2k - l)` (:func:`jaccard_bound`) is
their Jaccard similarity. Conjugating a protocol by a uniform random permutation makes both
marginals exact and its collision probability a function of the overlap alone, the average
of :math:`[f(S) = g(T)]` over the ordered pairs at that overlap (the profile of the pair
(f, g)). So the best guarantee over the overlaps in L is

.. math:: \max t \;\; \text{s.t.} \;\; \sum_c x_c\, c_\ell \ge t\, J_\ell \;(\ell \in L),\;
          \sum_c x_c = 1,\; x \ge 0,

over the profiles c of deterministic pairs. :func:`solve_family` generates its columns with
the exact pricing of :mod:`coupling.proofs.lp_pricing`, HiGHS solving the master problem, and
returns exact primal and dual bounds. :func:`unsymmetrised_lp` (every strategy pair, every marginal
row) and :func:`milp_optimum` (HiGHS's MILP) check the reduction and the pricing by other
means.
"""

import time
from fractions import Fraction
from itertools import product

import numpy as np
from coupling.proofs.lp_pricing import (
    KSetFamily,
    best_response_value,
    overlap_range,
    strategy_profile,
)
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix, lil_matrix

__all__ = ["jaccard_bound", "milp_optimum", "solve_family", "unsymmetrised_lp"]


def jaccard_bound(n, k, overlap):
    """(1 - D)/(1 + D) = l / (2k - l) for two k-sets meeting in l items."""
    return Fraction(overlap, 2 * k - overlap)


def _rationalise(values, limit=10**6):
    fr = [max(Fraction(0), Fraction(float(v)).limit_denominator(limit)) for v in values]
    total = sum(fr)
    return [v / total for v in fr]


def solve_family(n, k, overlaps=None, *, max_rounds=200):
    """Column generation for the symmetrised LP over ``overlaps`` (default: every overlap
    two distinct k-sets can have, max(1, 2k - n)..k-1).

    Returns a dict with the exact lower and upper bounds on the best factor t (collision
    >= t * J_l at every listed overlap), the optimum's profile and the columns used."""
    fam = KSetFamily(n, k)
    possible = overlap_range(n, k)
    overlaps = list(possible) if overlaps is None else sorted(set(overlaps))
    for ell in overlaps:
        if not (isinstance(ell, int) and ell in possible):
            raise ValueError(
                f"overlap must be an integer in [{possible.start}, {k - 1}] for "
                f"(n, k) = ({n}, {k}), got {ell!r}"
            )
    J = {ell: jaccard_bound(n, k, ell) for ell in overlaps}
    minhash = [min(S) for S in fam.sets]
    columns = [strategy_profile(fam, minhash, minhash)]
    strategies = [(minhash, minhash)]
    priced = {}
    for _ in range(max_rounds):
        # variables: x_1..x_C, t.  max t  <=>  min -t
        c_obj = np.zeros(len(columns) + 1)
        c_obj[-1] = -1.0
        a_ub = np.array(
            [[-float(col[ell]) for col in columns] + [float(J[ell])] for ell in overlaps]
        )
        a_eq = np.array([[1.0] * len(columns) + [0.0]])
        res = linprog(
            c_obj,
            A_ub=a_ub,
            b_ub=np.zeros(len(overlaps)),
            A_eq=a_eq,
            b_eq=[1.0],
            bounds=[(0, None)] * len(columns) + [(None, None)],
            method="highs",
        )
        if res.status != 0:
            raise RuntimeError(f"HiGHS failed on (n, k) = ({n}, {k}): {res.message}")
        y = {ell: -res.ineqlin.marginals[i] for i, ell in enumerate(overlaps)}
        y_exact = dict(zip(overlaps, _rationalise([y[ell] for ell in overlaps])))
        key = tuple(y_exact[ell] for ell in overlaps)
        if key not in priced:  # the same duals price to the same maximum
            known = max(sum(y_exact[ell] * col[ell] for ell in overlaps) for col in columns)
            priced[key] = best_response_value(n, k, y_exact, reachable=known)
        value, f_items, g_items = priced[key]
        denom = sum(y_exact[ell] * J[ell] for ell in overlaps)
        upper = value / denom
        x_exact = _rationalise(res.x[:-1])
        lower = min(
            sum(x * col[ell] for x, col in zip(x_exact, columns)) / J[ell] for ell in overlaps
        )
        if upper <= lower:
            break
        columns.append(strategy_profile(fam, f_items, g_items))
        strategies.append((f_items, g_items))
    else:
        raise RuntimeError(f"column generation did not converge in {max_rounds} rounds")
    used = [i for i, x in enumerate(x_exact) if x > 0]
    optimum = {ell: sum(x_exact[i] * columns[i][ell] for i in used) for ell in overlaps}
    return {
        "n": n,
        "k": k,
        "overlaps": overlaps,
        "lower": lower,
        "upper": upper,
        "profile": optimum,
        "jaccard": J,
        "mixture": [(x_exact[i], strategies[i]) for i in used],
        "columns": len(columns),
    }


def milp_optimum(n, k, overlap, *, time_limit=60.0):
    """The best collision at ``overlap`` for (n, k) beyond the enumeration's reach, as a
    mixed-integer program solved by HiGHS (:func:`scipy.optimize.milp`).

    By the symmetry reduction the optimum is the largest number of ordered pairs at the
    overlap on which one deterministic pair (f, g) agrees, over their count. Binary
    f[S, i], g[T, j] (one item per set), continuous z[S, T, c] <= f[S, c], g[T, c] for the
    common items c; maximise sum z. The first set's choice is fixed (symmetry). The pair found
    is recounted in integers (exact lower bound); the upper bound is HiGHS's dual bound in
    floating point, so the optimum is certified only up to HiGHS's arithmetic: ``closed`` when
    that bound is below the found count + 1 (the objective is an integer).

    Returns dict(optimum, upper, closed, seconds, nodes)."""
    fam = KSetFamily(n, k)
    if not (isinstance(overlap, int) and overlap in overlap_range(n, k)):
        raise ValueError(f"overlap {overlap!r} impossible or trivial for (n, k) = ({n}, {k})")
    sets = fam.sets
    m = len(sets)
    var_f = {(s, i): s * k + j for s, S in enumerate(sets) for j, i in enumerate(S)}
    var_g = {(s, i): m * k + v for (s, i), v in var_f.items()}
    zs = [
        (s, t, c)
        for s in range(m)
        for t in range(m)
        if fam.overlap[s, t] == overlap
        for c in sorted(set(sets[s]) & set(sets[t]))
    ]
    nv = 2 * m * k + len(zs)
    a = lil_matrix((2 * m + 2 * len(zs), nv))
    lo, hi = [], []
    for s in range(m):  # one item per set, for f and for g
        for v in (var_f, var_g):
            for i in sets[s]:
                a[len(lo), v[(s, i)]] = 1
            lo.append(1)
            hi.append(1)
    for z, (s, t, c) in enumerate(zs):  # z <= f[s, c], z <= g[t, c]
        for v, owner in ((var_f, s), (var_g, t)):
            row = len(lo)
            a[row, 2 * m * k + z] = 1
            a[row, v[(owner, c)]] = -1
            lo.append(-np.inf)
            hi.append(0)
    cost = np.zeros(nv)
    cost[2 * m * k :] = -1.0
    lower = np.zeros(nv)
    lower[var_f[(0, sets[0][0])]] = 1  # symmetry: f(S_0) = min S_0
    integrality = np.zeros(nv)
    integrality[: 2 * m * k] = 1
    start = time.perf_counter()
    res = milp(
        cost,
        constraints=LinearConstraint(a.tocsr(), lo, hi),
        integrality=integrality,
        bounds=Bounds(lower, np.ones(nv)),
        options={"time_limit": time_limit},
    )
    seconds = time.perf_counter() - start
    if res.x is None:
        raise RuntimeError(f"HiGHS found no solution for ({n}, {k}, {overlap}): {res.message}")
    f = [max(S, key=lambda i, s=s: res.x[var_f[(s, i)]]) for s, S in enumerate(sets)]
    g = [max(S, key=lambda i, s=s: res.x[var_g[(s, i)]]) for s, S in enumerate(sets)]
    optimum = strategy_profile(fam, f, g)[overlap]  # recounted exactly
    pairs = fam.pairs[overlap]
    upper = -float(getattr(res, "mip_dual_bound", res.fun))
    return {
        "optimum": optimum,
        "upper": upper / pairs,
        "closed": upper < optimum * pairs + 1 - 1e-6,
        "seconds": seconds,
        "nodes": int(getattr(res, "mip_node_count", 0) or 0),
    }


def unsymmetrised_lp(n, k, overlap):
    """The LP without the symmetry reduction, for tiny (n, k): variables over every pair of
    deterministic strategies, one row per ordered pair of sets at ``overlap`` and per
    marginal. Returns HiGHS's optimum (a float); an independent check of the reduction."""
    fam = KSetFamily(n, k)
    m = len(fam.sets)
    strategies = list(product(range(k), repeat=m))
    if len(strategies) ** 2 > 10**5:
        raise ValueError(f"(n, k) = ({n}, {k}) has {len(strategies) ** 2:,} strategy pairs")
    f_items = np.array([[fam.sets[s][c] for s, c in enumerate(st)] for st in strategies])
    pairs = [(s, t) for s in range(m) for t in range(m) if fam.overlap[s, t] == overlap]
    n_f = len(strategies)
    cols = n_f * n_f + 1
    rows, data, idx = [], [], []
    for r, (s, t) in enumerate(pairs):  # t - sum_{f(S) = g(T)} x_fg <= 0
        hit = (f_items[:, s][:, None] == f_items[:, t][None, :]).ravel()
        nz = np.flatnonzero(hit)
        rows += [r] * (nz.size + 1)
        idx += [*nz.tolist(), cols - 1]
        data += [-1.0] * nz.size + [1.0]
    a_ub = csr_matrix((data, (rows, idx)), shape=(len(pairs), cols))
    eq_rows, eq_b = [], []
    for s in range(m):
        for item in fam.sets[s]:
            a_side = (f_items[:, s] == item).astype(float)
            eq_rows.append(np.concatenate([np.repeat(a_side, n_f), [0.0]]))  # Alice
            eq_rows.append(np.concatenate([np.tile(a_side, n_f), [0.0]]))  # Bob
            eq_b += [1.0 / k, 1.0 / k]
    eq_rows.append(np.concatenate([np.ones(n_f * n_f), [0.0]]))
    eq_b.append(1.0)
    c_obj = np.zeros(cols)
    c_obj[-1] = -1.0
    res = linprog(
        c_obj,
        A_ub=a_ub,
        b_ub=np.zeros(len(pairs)),
        A_eq=np.array(eq_rows),
        b_eq=eq_b,
        bounds=[(0, None)] * (cols - 1) + [(None, None)],
        method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed: {res.message}")
    return -res.fun

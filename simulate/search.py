"""Adversarial search for distribution pairs that stress the bounds.

Pairs are parameterised by logits, p = softmax(x), q = softmax(y), so the search is
unconstrained; logits lie in [-LOGIT_BOUND, LOGIT_BOUND], which reaches probabilities near
e^-60 (zero for every purpose here). Global search by differential evolution, then
L-BFGS-B from its best point and from random starts, all on the exact formulas. A target
distance D is imposed by a quadratic penalty; the D actually reached is reported. Every
optimum is re-checked with the O(n^2) formula and by Monte Carlo.
"""

from typing import NamedTuple

import numpy as np
from scipy.optimize import differential_evolution, minimize
from scipy.special import softmax

from simulate.exact import (
    gumbel_collision,
    gumbel_lower_bound,
    independent_collision,
    tv_distance,
    wmh_collision,
    worst_case_bound,
)
from simulate.expression import compile_expression
from simulate.montecarlo import estimate
from simulate.reference import gumbel_collision_quadratic

__all__ = ["OBJECTIVES", "SearchResult", "achievable_region", "pair_values", "search"]

LOGIT_BOUND = 30.0
D_PENALTY = 1e3  # weight of (D - target)^2
RECHECK_TRIALS = 1_000_000

#: name -> (expression over pair_values' names, "min" or "max")
OBJECTIVES = {
    "pareto-min": ("gumbel - wmh", "min"),
    "pareto-max": ("gumbel - wmh", "max"),
    "gumbel-ratio": ("gumbel / optimal", "min"),
    "gumbel-vs-worst-case": ("gumbel - worst_case", "min"),
    "bound-gap-min": ("gumbel - lower_bound", "min"),
    "bound-gap-max": ("gumbel - lower_bound", "max"),
    "gumbel-min": ("gumbel", "min"),
    "wmh-min": ("wmh", "min"),
}


class SearchResult(NamedTuple):
    objective: str
    sense: str
    n: int
    value: float  #: the objective at the best pair found
    p: np.ndarray
    q: np.ndarray
    values: dict  #: every exact quantity at the best pair
    quadratic_gumbel: float  #: J_P by the O(n^2) formula
    mc: dict  #: protocol -> (estimate, standard error, z against the exact value)
    evaluations: int


def pair_values(p, q):
    """The quantities an objective may use, by name."""
    D = tv_distance(p, q)
    return {
        "D": D,
        "gumbel": gumbel_collision(p, q),
        "wmh": wmh_collision(p, q),
        "optimal": 1.0 - D,
        "worst_case": worst_case_bound(D),
        "lower_bound": gumbel_lower_bound(p, q),
        "independent": independent_collision(p, q),
    }


#: the names an objective expression may use: the keys of :func:`pair_values`
VALUE_NAMES = ("D", "gumbel", "wmh", "optimal", "worst_case", "lower_bound", "independent")


def _compile(objective):
    if callable(objective):
        return objective, "min", getattr(objective, "__name__", "callable")
    if not isinstance(objective, str):
        raise TypeError(f"objective must be a name, an expression or a callable, got {objective!r}")
    name = objective
    expr, sense = OBJECTIVES.get(objective, (objective, "min"))
    if expr.startswith("max:"):
        expr, sense = expr[4:], "max"
    evaluate = compile_expression(expr, names=VALUE_NAMES)

    def fn(p, q):
        return evaluate(pair_values(p, q))

    return fn, sense, name


def search(objective, n, *, seed, D=None, maxiter=200, popsize=15, local_starts=4):
    """Search n-item pairs for the best value of ``objective``.

    ``objective`` is a name in ``OBJECTIVES``, an arithmetic expression over the names of
    :func:`pair_values` (see :mod:`simulate.expression` for the grammar; prefix ``max:`` to
    maximise), or a callable ``f(p, q) -> float`` to minimise.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if D is not None and not 0.0 <= float(D) <= 1.0:
        raise ValueError(f"D must lie in [0, 1], got {D!r}")
    fn, sense, name = _compile(objective)
    sign = 1.0 if sense == "min" else -1.0
    count = [0]

    def loss(z):
        count[0] += 1
        p, q = softmax(z[:n]), softmax(z[n:])
        try:
            value = sign * float(fn(p, q))
        except ZeroDivisionError:  # e.g. gumbel / optimal at D = 1: undefined, never optimal
            return 1e9
        if D is not None:
            value += D_PENALTY * (tv_distance(p, q) - float(D)) ** 2
        return value if np.isfinite(value) else 1e9

    rng = np.random.default_rng(seed)
    bounds = [(-LOGIT_BOUND, LOGIT_BOUND)] * (2 * n)
    de = differential_evolution(
        loss, bounds, maxiter=maxiter, popsize=popsize, seed=rng, polish=False, tol=1e-10
    )
    best_z, best = de.x, de.fun
    starts = [de.x] + [rng.uniform(-5, 5, size=2 * n) for _ in range(local_starts)]
    for z0 in starts:
        res = minimize(loss, z0, method="L-BFGS-B", bounds=bounds)
        if res.fun < best:
            best_z, best = res.x, res.fun
    p, q = softmax(best_z[:n]), softmax(best_z[n:])
    values = pair_values(p, q)
    mc = {}
    for proto in ("gumbel", "wmh"):
        r = estimate(p, q, proto, RECHECK_TRIALS, seed=int(rng.integers(2**63)))
        se = max(r.stderr, 1.0 / RECHECK_TRIALS)
        mc[proto] = (r.value, r.stderr, (r.value - values[proto]) / se)
    return SearchResult(
        name,
        sense,
        n,
        float(fn(p, q)),
        p,
        q,
        values,
        gumbel_collision_quadratic(p, q),
        mc,
        count[0],
    )


def achievable_region(n, points, *, seed, protocols=("gumbel", "wmh"), maxiter=200):
    """The lowest Pr[a = b] found by :func:`search` at ``points`` distances D evenly spaced in
    [0.05, 0.95], per protocol: ``{protocol: (D reached, lowest value)}`` (lists)."""
    envelope = {proto: ([], []) for proto in protocols}
    for target in np.linspace(0.05, 0.95, points):
        for proto in protocols:
            r = search(f"{proto}-min", n, seed=seed, D=float(target), maxiter=maxiter)
            envelope[proto][0].append(r.values["D"])
            envelope[proto][1].append(r.values[proto])
    return envelope

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
from coupling.simulate.exact import (
    gumbel_collision,
    gumbel_lower_bound,
    independent_collision,
    tv_distance,
    wmh_collision,
    worst_case_bound,
)
from coupling.simulate.expression import compile_expression
from coupling.simulate.montecarlo import estimate, run_memory, z_score
from coupling.simulate.reference import gumbel_collision_quadratic
from coupling.simulate.validation import as_count, as_real, check_memory
from scipy.optimize import differential_evolution, minimize
from scipy.special import softmax

__all__ = [
    "MAX_REGION_POINTS",
    "OBJECTIVES",
    "SearchResult",
    "UndefinedObjective",
    "achievable_region",
    "compile_objective",
    "pair_values",
    "search",
    "search_memory",
]

LOGIT_BOUND = 30.0


class UndefinedObjective(ValueError):
    """The objective could not be evaluated at any pair the search tried (it divides by zero
    everywhere, ``gumbel / (optimal - optimal)`` say): a mistake in the objective."""


#: Most distances :func:`achievable_region` maps: [0.05, 0.95] at a spacing of 0.01.
MAX_REGION_POINTS = 91
D_PENALTY = 1e3  # weight of (D - target)^2
UNDEFINED = 1e9  # the loss of a pair where the objective is undefined or not finite
RECHECK_TRIALS = 1_000_000
#: Copies of the differential-evolution population alive at once (tracemalloc: about 4).
POPULATION_COPIES = 6
#: Bytes a search needs whatever n: the optimisers' workspace, the engines' first call.
SEARCH_OVERHEAD = 32 * 2**20

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
    """The best pair a :func:`search` found, its exact values and their re-checks."""

    objective: str
    sense: str
    n: int
    value: float  #: the objective at the best pair found
    p: np.ndarray
    q: np.ndarray
    values: dict  #: every exact quantity at the best pair
    quadratic_gumbel: float  #: J_P by the O(n^2) formula
    mc: dict  #: protocol -> (estimate, its standard error, montecarlo.z_score against exact)
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


def compile_objective(objective):
    """``(f, sense, name)`` for an objective of :func:`search`: ``f(p, q)`` its value, sense
    ``"min"`` or ``"max"``. Raises a one-line ValueError (TypeError) for an unknown name or an
    expression outside :mod:`coupling.simulate.expression`'s grammar, before any work."""
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


def search_memory(n, popsize=15):
    """Bytes a :func:`search` over n-item pairs needs at its peak: differential evolution keeps
    ``POPULATION_COPIES`` populations of ``popsize * 2n`` points in 2n dimensions, 8 bytes a
    coordinate, so the need grows as n**2; plus ``SEARCH_OVERHEAD`` and the re-check's
    :func:`coupling.simulate.montecarlo.run_memory`."""
    n = as_count(n, "n")
    popsize = as_count(popsize, "popsize")
    return POPULATION_COPIES * 8 * popsize * (2 * n) ** 2 + run_memory(n) + SEARCH_OVERHEAD


def search(objective, n, *, seed, D=None, maxiter=200, popsize=15, local_starts=4):
    """Search n-item pairs for the best value of ``objective``.

    ``objective`` is a name in ``OBJECTIVES``, an arithmetic expression over the names of
    :func:`pair_values` (see :mod:`coupling.simulate.expression` for the grammar; prefix ``max:`` to
    maximise), or a callable ``f(p, q) -> float`` to minimise. Every argument is checked, and
    the memory the search needs (:func:`search_memory`) against what the machine has, before
    any work.
    """
    n = as_count(n, "n")
    D = None if D is None else as_real(D, "D", 0.0, 1.0)
    maxiter = as_count(maxiter, "maxiter")
    popsize = as_count(popsize, "popsize")
    local_starts = as_count(local_starts, "local_starts", minimum=0)
    fn, sense, name = compile_objective(objective)
    check_memory(search_memory(n, popsize), f"a search over pairs of n = {n} items")
    sign = 1.0 if sense == "min" else -1.0
    count = [0]

    def loss(z):
        count[0] += 1
        p, q = softmax(z[:n]), softmax(z[n:])
        try:
            value = sign * float(fn(p, q))
        except ZeroDivisionError:  # e.g. gumbel / optimal at D = 1: undefined, never optimal
            return UNDEFINED
        if D is not None:
            value += D_PENALTY * (tv_distance(p, q) - D) ** 2
        return value if np.isfinite(value) else UNDEFINED

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
    try:
        value = float(fn(p, q))
    except ZeroDivisionError:  # the best pair is undefined: so was every pair tried
        raise UndefinedObjective(f"objective {name!r} divides by zero at every one of the "
                                 f"{count[0]} pairs the search tried") from None  # fmt: skip
    values = pair_values(p, q)
    mc = {}
    for proto in ("gumbel", "wmh"):
        r = estimate(p, q, proto, RECHECK_TRIALS, seed=int(rng.integers(2**63)))
        mc[proto] = (r.value, r.stderr, z_score(r.value, values[proto], r.trials))
    return SearchResult(
        name,
        sense,
        n,
        value,
        p,
        q,
        values,
        gumbel_collision_quadratic(p, q),
        mc,
        count[0],
    )


def achievable_region(n, points, *, seed, protocols=("gumbel", "wmh"), maxiter=200, progress=None):
    """The lowest Pr[a = b] found by :func:`search` at ``points`` distances D evenly spaced in
    [0.05, 0.95], per protocol: ``{protocol: (D reached, lowest value)}`` (lists).

    ``points`` is at most ``MAX_REGION_POINTS`` (a spacing of 0.01; each point costs one
    search per protocol, seconds each at the defaults). ``progress`` (a callable or
    None) is called with 1 after each search, ``points * len(protocols)`` in all; Ctrl-C stops
    the map between two of the optimiser's evaluations.
    """
    points = as_count(points, "points", maximum=MAX_REGION_POINTS)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {progress!r}")
    envelope = {proto: ([], []) for proto in protocols}
    for target in np.linspace(0.05, 0.95, points):
        for proto in protocols:
            r = search(f"{proto}-min", n, seed=seed, D=float(target), maxiter=maxiter)
            envelope[proto][0].append(r.values["D"])
            envelope[proto][1].append(r.values[proto])
            if progress is not None:
                progress(1)
    return envelope

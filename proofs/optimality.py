r"""Claim 5 for every protocol and every D: no communication-free protocol beats
:math:`(1 - D)/(1 + D)` in the worst case, certified step by step (``coupling prove --claim
optimality``).

Every bound uses only the support constraint: with its public randomness fixed, a protocol is
a pair of maps f, g with f(A) in A, g(B) in B (Alice on the uniform law of A, Bob on B's), and
composing with a shared uniform relabelling of [n] turns "every protocol has a pair of this
type at or below V" into "every pair of maps has type-average at most V"
(:mod:`coupling.proofs.optimality_search`). The statements, each with its own status in
``detail["statements"]`` (checks in :mod:`coupling.proofs.optimality_checks`):

* **Theorem A** (every D, the "TV <= delta" form): A, B independent uniform K-subsets; every
  pair of maps agrees with probability at most :math:`\sum_t w_t^2 = E[J(A, B)]`
  (:mod:`~coupling.proofs.optimality_sums`, :mod:`~coupling.proofs.optimality_theorem_a`), and
  one concrete pair follows (:mod:`~coupling.proofs.optimality_extract`): at (n, K), every
  protocol has a pair with TV in a stated range below delta and agreement at most
  (1 - delta)/(1 + delta) + eps, in exact arithmetic.
* **Theorem B** (D = 1/k, k >= 3, every n >= k + 1), **Lemma L** (V(n) <= the local optimum,
  non-increasing in n), **Lemma CS** (V(n) <= 1/3 + 1/(n - 2) at D = 1/2), **Theorem C**
  (overlap one: V(n) <= B_k(n) -> 1/(2k - 1)) and the **blow-up** lemma
  (:mod:`~coupling.proofs.optimality_types`, :mod:`~coupling.proofs.optimality_bounds`).
* The exact search agrees with the LP certificate (``lp-optimality``) where both reach.

Observed, not part of the verdict (``detail["observations"]``): the local optimum of every
type (k, m) with k + m <= 7 (:func:`local_optimum`; (5, 2), about 4 million nodes, and
(7, 1), (8, 1), (5, 4) with ``full``), the overlap-one families (2, 1) and
(3, 2) as n grows beside their proven upper bounds, and the status of the observation "local
optimum = (k - m)/(k + m) whenever the overlap k - m >= 2": exact where computed, refuted by
an exact witness where a pair of maps beats the bound, open beyond.
"""

from fractions import Fraction

from coupling.proofs._core import Certificate, timed
from coupling.proofs.optimality_bounds import CLOSED_FORMS, cs_bound, proven_upper_bounds
from coupling.proofs.optimality_checks import (
    check_blow_up,
    check_extraction,
    check_lemma_cs,
    check_lemma_l,
    check_lp_agreement,
    check_theorem_a,
    check_theorem_b,
    check_theorem_c,
)
from coupling.proofs.optimality_search import local_optimum, type_optimum, type_search
from coupling.proofs.optimality_sums import minhash_weight

__all__ = [
    "DEFAULT_DELTAS",
    "DEFAULT_EPS",
    "FULL",
    "QUICK",
    "STATEMENTS",
    "local_optimum",
    "type_optimum",
    "type_rows",
    "upper_bound_curves",
    "verify_optimality",
]

#: The theorem's steps, in the order checked; each has its own status in the certificate.
STATEMENTS = {
    "theorem-A": "sum_t w_t^2 = E[J] (sympy in n, K <= 8; every K by MinHash), summation by "
    "parts (sympy), the chain exactly on random feasible laws (a planted violation breaks "
    "it), and max over all pairs of maps = sum_t w_t^2 (exact search, n <= 6)",
    "extraction": "a concrete (n, K): every protocol has a pair with TV in a stated range "
    "<= delta and agreement <= (1-delta)/(1+delta) + eps (exact binomial and "
    "hypergeometric sums)",
    "theorem-B": "D = 1/k, k >= 3: every pair of maps on k + 1 points agrees on at most "
    "k(k-1) ordered pairs (sympy case analysis in k, enumeration k = 3, 4), so "
    "(k-1)/(k+1) for every n >= k + 1 (Lemma L)",
    "lemma-L": "V(n) <= V(k + m) and V(n + 1) <= V(n) (sympy count, exact decompositions)",
    "lemma-CS": "D = 1/2: V(n) <= 1/3 + 1/(n - 2) (sympy, exact links, exact V(n))",
    "theorem-C": "overlap one: V(n) <= B_k(n) -> 1/(2k-1) (closed forms and limits k = 2..5)",
    "blow-up": "hardness of (k, m) passes to (tk, tm) (every pair of maps on an instance)",
    "lp-agreement": "the exact search equals the LP certificate where both reach",
}
DEFAULT_DELTAS = tuple(Fraction(i, 10) for i in range(1, 10))
DEFAULT_EPS = Fraction(1, 20)
#: (k, m) on k + m points searched to the end; (k, m, n) of the overlap-one families;
#: (k, m) beyond, searched up to a node budget (an exact witness and a bracket).
QUICK = {
    "local": tuple(
        (k, m)
        for s in range(3, 8)
        for m in range(1, s)
        for k in [s - m]
        if m < k and (k, m) != (5, 2)
    ),  # (5, 2): 4 million nodes, in FULL
    "families": (*((2, 1, n) for n in range(3, 9)), (3, 2, 5), (3, 2, 6)),
    "family_nodes": 10**10,
    "beyond": ((5, 3), (6, 4)),
    "beyond_nodes": 0,  # the local search's witness only
    "optimum_sizes": tuple((n, K) for n in range(2, 7) for K in range(1, n)),
    "lp": ((2, 1, 4), (2, 1, 5), (2, 1, 6), (3, 1, 5), (3, 2, 5), (4, 1, 5)),
}
FULL = {
    "local": (*QUICK["local"], (5, 2), (7, 1), (8, 1), (5, 4)),
    "families": (*QUICK["families"], (2, 1, 9), (3, 2, 7)),
    "family_nodes": 40_000_000,  # (2, 1, 9) closes in about 19 million
    "beyond": ((6, 2), (5, 3), (6, 4), (7, 2), (6, 3)),
    "beyond_nodes": 10_000_000,
    "optimum_sizes": (*QUICK["optimum_sizes"], (7, 1), (7, 2), (8, 1)),
    "lp": (*QUICK["lp"], (2, 1, 7), (3, 1, 6), (4, 2, 6), (3, 2, 6)),
}


def type_rows(types, *, max_nodes=10**10, known=()):
    """The exact search on each (k, m) or (k, m, n), as JSON-ready rows. A row of ``known``
    (rows of this function) with the same k, m, n that finished within ``max_nodes`` nodes
    is what the search would give again: a copy of it is used instead."""
    done = {(r["k"], r["m"], r["n"]): r for r in known
            if r["finished"] and r["nodes"] <= max_nodes}  # fmt: skip
    rows = []
    for spec in types:
        k, m, n = spec if len(spec) == 3 else (*spec, sum(spec))  # n defaults to k + m
        if (k, m, n) in done:
            row = done[(k, m, n)]
            rows.append({**row, "f": list(row["f"]), "g": list(row["g"])})
            continue
        r = type_search(*spec, max_nodes=max_nodes)
        rows.append({
            "k": r.k, "m": r.m, "n": r.n, "D": str(Fraction(r.m, r.k)),
            "optimum": str(r.optimum), "optimum_float": float(r.optimum),
            "upper": str(r.upper), "finished": r.finished, "bound": str(r.bound),
            "relation": "=" if r.optimum == r.bound and r.finished else (
                ">" if r.optimum > r.bound else "open"),
            "nodes": r.nodes, "f": list(r.f), "g": list(r.g),
        })  # fmt: skip
    return rows


def upper_bound_curves(local, types=((2, 1), (3, 2)), n_max=40):
    """The proven upper bounds on V(n) against n for each type (k, m) whose local optimum is
    among the rows ``local``: {"k,m": {"n": [...], bound name: [float or nan], "limit":
    (k - m)/(k + m)}} (for the figure; NaN where a bound does not apply)."""
    values = {(r["k"], r["m"]): Fraction(r["optimum"]) for r in local if r["finished"]}
    curves = {}
    for k, m in types:
        if (k, m) not in values:
            continue
        ns = list(range(k + m, n_max + 1))
        bounds = [proven_upper_bounds(k, m, n, values[(k, m)]) for n in ns]
        names = sorted({name for b in bounds for name in b})
        curves[f"{k},{m}"] = {"n": ns, "limit": float(Fraction(k - m, k + m)),
                              **{name: [float(b.get(name, float("nan"))) for b in bounds]
                                 for name in names}}  # fmt: skip
    return curves


def _observation(local, beyond):
    """Where "local optimum = (k - m)/(k + m) when k - m >= 2" holds, fails, or is open."""
    rows = [r for r in (*local, *beyond) if r["k"] - r["m"] >= 2]
    holds = [f"({r['k']},{r['m']})" for r in rows if r["relation"] == "="]
    refuted = [f"({r['k']},{r['m']}): {r['optimum']} > {r['bound']}" for r in rows
               if r["relation"] == ">"]  # fmt: skip
    open_ = [f"({r['k']},{r['m']}): in [{r['bound']}, {r['upper']}]" for r in rows
             if r["relation"] == "open"]  # fmt: skip
    return {
        "statement": "local optimum = (k-m)/(k+m) whenever the overlap k - m >= 2",
        "status": "refuted" if refuted else "holds where computed, open beyond",
        "proved_equal": holds,
        "refuted_by_exact_witness": refuted,
        "open": [*open_, "every other type"],
    }


@timed
def verify_optimality(weight=minhash_weight, *, deltas=DEFAULT_DELTAS, eps=DEFAULT_EPS,
                      sizes=None, full=False, theorem_b_bound=None, tables=(),
                      local_value=None, cs=cs_bound, closed_forms=CLOSED_FORMS,
                      projection=None):  # fmt: skip
    """Certificate for claim 5 for every protocol and every D.

    The statements under test are arguments: ``weight(n, K, t)`` (Theorem A's w_t),
    ``theorem_b_bound(k)`` (agreeing pairs on k + 1 points, default k(k-1)) with protocol
    ``tables`` to count against it, ``local_value(k, m)`` (Lemma L; default: the computed
    local optima), ``cs(n)`` (Lemma CS), ``closed_forms`` (Theorem C) and ``projection``
    (the blow-up). ``deltas`` and ``eps``: the extraction. ``sizes``: a dict overriding
    :data:`QUICK` (or :data:`FULL` with ``full``). ``proved`` when every statement is."""
    sizes = {**(FULL if full else QUICK), **(sizes or {})}
    local = type_rows(sizes["local"])
    families = type_rows(sizes["families"], max_nodes=sizes["family_nodes"], known=local)
    beyond = type_rows(sizes["beyond"], max_nodes=sizes["beyond_nodes"])
    local_values = {(r["k"], r["m"]): r["optimum"] for r in local if r["finished"]}
    for row in families:  # the proven upper bounds beside each exact V(n)
        if (row["k"], row["m"]) in local_values:
            bounds = proven_upper_bounds(
                row["k"], row["m"], row["n"], Fraction(local_values[(row["k"], row["m"])])
            )
            row["upper_bounds"] = {name: str(v) for name, v in bounds.items()}
            row["proven_upper"] = str(min(bounds.values()))  # fmt: skip
    all_rows = [*local, *families]
    checks = {
        "theorem-A": lambda: check_theorem_a(
            weight, ks=range(1, 13 if full else 9), optimum_sizes=sizes["optimum_sizes"]
        ),
        "extraction": lambda: check_extraction(deltas, eps, weight),
        "theorem-B": lambda: check_theorem_b(
            theorem_b_bound, local, tables=tables, enumerated=(3, 4, 5) if full else (3, 4)
        ),
        "lemma-L": lambda: check_lemma_l(local, all_rows, local_value),
        "lemma-CS": lambda: check_lemma_cs(all_rows, cs),
        "theorem-C": lambda: check_theorem_c(all_rows, closed_forms),
        "blow-up": lambda: check_blow_up(projection=projection, local=local),
        "lp-agreement": lambda: check_lp_agreement(all_rows, sizes["lp"]),
    }
    statements, cases, verdict, counterexample = {}, 0, "proved", None
    for name, run in checks.items():
        outcome = run()
        cases += outcome.cases
        statements[name] = {"statement": STATEMENTS[name], "status": outcome.status,
                            "cases": outcome.cases, **outcome.detail}  # fmt: skip
        rank = ("proved", "failed", "refuted")  # a refutation outranks a broken step
        if rank.index(outcome.status) > rank.index(verdict):
            verdict = outcome.status
            counterexample = outcome.detail.get("counterexample")
    observations = {
        "local_optima": local,
        "families": families,
        "beyond": beyond,
        "overlap_at_least_two": _observation(local, beyond),
    }
    method = ("sympy identities + exact Fractions: Theorem A (every D, TV <= delta, one "
              "pair extracted), Theorems B, C, Lemmas L, CS, blow-up; exact type search "
              "(f up to relabelling, g by best response)")  # fmt: skip
    return Certificate("optimality", method, verdict, cases=cases,
                       detail={"statements": statements, "observations": observations},
                       counterexample=counterexample)  # fmt: skip

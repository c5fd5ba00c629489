"""The optimality theorem's figure: exact type optima against n beside their proven upper
bounds, and the local optima against (1 - D)/(1 + D). Data in (the ``optimality``
certificate's observations and the bound curves), a matplotlib Figure out."""

from fractions import Fraction

import numpy as np
from coupling.figures.bounds import subplots

__all__ = ["optimality_figure"]

_COLORS = {(2, 1): "tab:blue", (3, 2): "tab:red"}
_RELATION = {
    "=": ("o", "equals the bound"),
    ">": ("^", "beats the bound (exact witness)"),
    "open": ("s", "not closed (best found)"),
}


def optimality_figure(families, local, curves):
    """Left: the exact best type-average over all pairs of maps, V(n), against n for the
    overlap-one types (2, 1) (D = 1/2) and (3, 2) (D = 2/3), with the proven upper bounds
    (Lemma L's local optimum, Lemma CS, Theorem C's B_k(n); their minimum drawn solid) and
    the limit (1 - D)/(1 + D). Right: every local optimum (k + m points) against
    D = m/k, with the curve (1 - D)/(1 + D).

    ``families``, ``local``: rows with k, m, n, D, optimum, finished, relation (the
    certificate's ``observations``; ``local`` may include the types beyond k + m <= 7);
    ``curves``: :func:`coupling.proofs.optimality.upper_bound_curves` (NaN where a bound
    does not apply).
    """
    fig, (left, right) = subplots(1, 2, figsize=(12, 4.8))
    for key, curve in curves.items():
        k, m = (int(v) for v in key.split(","))
        color = _COLORS.get((k, m), "tab:green")
        ns = np.array(curve["n"])
        named = {name: np.broadcast_to(np.asarray(v, float), ns.shape)
                 for name, v in curve.items() if name not in ("n", "limit")}  # fmt: skip
        for style, (name, values) in zip(("--", ":", "-."), named.items()):
            left.plot(ns, values, ls=style, lw=1, color=color, alpha=0.7,
                      label=f"({k},{m}) {name}")  # fmt: skip
        left.plot(ns, np.nanmin(list(named.values()), axis=0), color=color, lw=1.6,
                  label=f"({k},{m}) proven upper bound")  # fmt: skip
        left.axhline(curve["limit"], color=color, lw=0.8, ls=(0, (8, 2, 1, 2)),
                     label=f"({k},{m}) limit (1 - D)/(1 + D)")  # fmt: skip
        rows = sorted((r for r in families if (r["k"], r["m"]) == (k, m) and r["finished"]),
                      key=lambda r: r["n"])  # fmt: skip
        left.plot([r["n"] for r in rows], [float(Fraction(r["optimum"])) for r in rows],
                  "o", color=color, ms=6, zorder=3,
                  label=f"({k},{m}) exact V(n), D = {Fraction(m, k)}")  # fmt: skip
    left.set_xlabel("n (items)")
    left.set_ylabel("best type-average over all pairs of maps")
    left.set_title("overlap one: V(n) against n, proven upper bounds and the limit")
    left.set_ylim(0, 0.9)
    left.grid(alpha=0.3)
    left.legend(fontsize=6, ncol=2, loc="upper right")
    d = np.linspace(0, 1, 201)
    right.plot(d, (1 - d) / (1 + d), color="black", lw=1.2, ls="--", label="(1 - D)/(1 + D)")
    for relation, (marker, label) in _RELATION.items():
        rows = [r for r in local if r["relation"] == relation]
        if rows:
            right.scatter([float(Fraction(r["D"])) for r in rows],
                          [float(Fraction(r["optimum"])) for r in rows], marker=marker, s=40,
                          zorder=3, label=f"local optimum {label}")  # fmt: skip
            for r in rows:
                right.annotate(f"({r['k']},{r['m']})", (float(Fraction(r["D"])),
                               float(Fraction(r["optimum"]))), fontsize=6,
                               xytext=(3, 3), textcoords="offset points")  # fmt: skip
    right.set_xlim(0, 1)
    right.set_ylim(0, 1)
    right.set_xlabel("D = m/k")
    right.set_ylabel("local optimum on k + m points")
    right.set_title("local optima of the types (k, m)")
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    return fig

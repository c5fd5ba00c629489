"""Figures of the certificates: the LP optimum (claim 5; claim 6's trade-off is in
:mod:`coupling.figures.communication`). Data in (the certificates' tables), a matplotlib Figure
out."""

import matplotlib
from coupling.figures.bounds import add_reference_curves, subplots

__all__ = ["lp_optimum_figure"]


def lp_optimum_figure(table):
    """Left: the exact best collision probability on uniform k-subsets against D, per n, with
    1 - D and (1 - D)/(1 + D). Right: its excess over (1 - D)/(1 + D) against n, per (k, l).

    ``table``: rows with keys n, k, overlap, optimum_float, gap (the lp-optimality table).
    """
    fig, (left, right) = subplots(1, 2, figsize=(11, 4.5))
    add_reference_curves(left)
    sizes = sorted({r["n"] for r in table})
    cmap = matplotlib.colormaps["viridis"].resampled(max(len(sizes), 2))
    for idx, n in enumerate(sizes):
        rows = [r for r in table if r["n"] == n]
        d = [1 - r["overlap"] / r["k"] for r in rows]
        left.scatter(
            d,
            [r["optimum_float"] for r in rows],
            color=cmap(idx),
            s=28,
            label=f"LP optimum, n = {n}",
            zorder=3,
        )
    left.set_title("best communication-free protocol on uniform k-subsets")
    left.legend(fontsize=7, loc="upper right")
    series = sorted({(r["k"], r["overlap"]) for r in table})
    for k, ell in series:
        rows = sorted(
            (r for r in table if (r["k"], r["overlap"]) == (k, ell)), key=lambda r: r["n"]
        )
        if len(rows) < 2:
            continue
        right.plot(
            [r["n"] for r in rows],
            [r["gap"] for r in rows],
            marker="o",
            label=f"k = {k}, l = {ell} (D = {1 - ell / k:.2f})",
        )
    right.axhline(0, color="black", lw=1)
    right.set_xlabel("n (items)")
    right.set_ylabel("optimum - (1 - D)/(1 + D)")
    right.set_title("excess over the bound shrinks as n grows")
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    return fig

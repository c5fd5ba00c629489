"""Figures of the certificates: the LP optimum (claim 5) and the communication trade-off
(claim 6). Data in (the certificates' tables), a matplotlib Figure out."""

import matplotlib
import numpy as np

from figures.bounds import add_reference_curves, subplots

__all__ = ["communication_tradeoff_figure", "lp_optimum_figure"]


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


def communication_tradeoff_figure(curves):
    """Left: Pr[a = b] against expected bits (0 bits: the communication-free Gumbel value;
    dotted: 1 - D). Right: Bob's marginal error d_TV against bits, with the worst case
    over D, max_D D (1 + D)^-(extra+1).

    ``curves``: dicts with keys family, D, bits (list), collision (list), bob_tv (list),
    gumbel (the 0-bit collision) and worst (list, the worst-case error at each point)."""
    fig, (left, right) = subplots(1, 2, figsize=(11, 4.5))
    colors = matplotlib.colormaps["tab10"]
    for idx, c in enumerate(curves):
        color = colors(idx % 10)
        bits = [0.0, *c["bits"]]
        left.plot(
            bits,
            [c["gumbel"], *c["collision"]],
            marker="o",
            ms=3,
            color=color,
            label=f"{c['family']} (D = {c['D']:.2f})",
        )
        left.axhline(1 - c["D"], color=color, ls=":", lw=1)
        right.semilogy(
            c["bits"],
            np.maximum(c["bob_tv"], 1e-12),
            marker="o",
            ms=3,
            color=color,
            label=c["family"],
        )
    if curves:
        right.semilogy(
            curves[0]["bits"], curves[0]["worst"], color="black", ls="--", label="worst case over D"
        )
    left.set_xlabel("expected message bits")
    left.set_ylabel("Pr[a = b]")
    left.set_title("dart relay: collision (dotted: 1 - D)")
    left.grid(alpha=0.3)
    left.legend(fontsize=7, loc="lower right")
    right.set_xlabel("expected message bits")
    right.set_ylabel("d_TV(law of b, q)")
    right.set_title("Bob's marginal error (Alice's is exact)")
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=7)
    fig.tight_layout()
    return fig

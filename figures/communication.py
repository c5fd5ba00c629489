"""The communication trade-off of claim 6: agreement against bits, one panel per pair.

Data in (:func:`coupling.proofs.communication.tradeoff_curves`), a matplotlib Figure out. The figure
is built without pyplot, so no backend is chosen or changed here.
"""

from matplotlib.figure import Figure

__all__ = ["communication_tradeoff_figure"]

STYLE = {
    "relay": {"color": "tab:orange", "marker": "o", "label": "dart relay (Bob's law off by ε)"},
    "quantized": {"color": "tab:purple", "marker": "s", "label": "one-way quantized (label: k)"},
    "interactive": {"color": "tab:green", "marker": "*", "ms": 14, "label": "interactive"},
    "gumbel": {"color": "tab:blue", "marker": "D", "label": "Gumbel J_P (0 bits)"},
    "wmh": {"color": "tab:red", "marker": "v", "label": "weighted MinHash (0 bits)"},
}
LABELLED_EXTRAS = (0, 2, 8, 24)  # relay points whose marginal error is written next to them


def _panel(ax, c):
    d = c["D"]
    ax.axhline(1 - d, color="black", lw=1.2, label="1 - D (optimal, exact marginals)")
    ax.axhline((1 - d) / (1 + d), color="black", lw=1.0, ls="--", label="(1 - D)/(1 + D)")
    for name in ("gumbel", "wmh"):
        ax.plot([0], [c[name]], ls="none", **STYLE[name])
    relay = c["relay"]
    ax.plot(relay["bits"], relay["agreement"], lw=1, ms=4, **STYLE["relay"])
    for extra, x, y, err in zip(relay["extra"], relay["bits"], relay["agreement"], relay["bob_tv"]):
        if extra in LABELLED_EXTRAS:
            ax.annotate(
                f"ε={err:.1g}",
                (x, y),
                textcoords="offset points",
                xytext=(2, 5),
                fontsize=6,
                color=STYLE["relay"]["color"],
            )
    quant = c["quantized"]
    ax.plot(quant["bits"], quant["agreement"], lw=1, ms=4, **STYLE["quantized"])
    previous = None
    for k, x, y in zip(quant["k"], quant["bits"], quant["agreement"]):
        if (x, y) == previous:  # k too small to keep any mass: the same point again
            continue
        previous = (x, y)
        ax.annotate(
            str(k),
            (x, y),
            textcoords="offset points",
            xytext=(3, -9),
            fontsize=6,
            color=STYLE["quantized"]["color"],
        )
    inter = c["interactive"]
    ax.plot([inter["bits"]], [inter["agreement"]], ls="none", **STYLE["interactive"])
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(-0.3, None)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{c['label']} (n = {c['n']}, D = {d:.2f})", fontsize=9)
    ax.set_xlabel("expected bits exchanged")
    ax.set_ylabel("Pr[a = b]")
    ax.grid(alpha=0.3, which="both")


def communication_tradeoff_figure(curves):
    """Pr[a = b] against expected bits for every protocol, one panel per pair.

    0 bits: Gumbel's J_P and weighted MinHash; the dart relay at several lengths, with Bob's
    marginal error ε = d_TV(law of b, q) written at a few points (every other protocol has
    exact marginals); the one-way quantized protocol at several k; the interactive protocol;
    the lines 1 - D and (1 - D)/(1 + D). The x axis is linear below 1 bit, logarithmic above.

    ``curves``: the list of :func:`coupling.proofs.communication.tradeoff_curves`.
    """
    cols = 2 if len(curves) > 1 else 1
    rows = (len(curves) + cols - 1) // cols
    fig = Figure(figsize=(5.5 * cols, 4.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, c in zip(axes, curves):
        _panel(ax, c)
    for ax in axes[len(curves) :]:
        ax.set_visible(False)
    if curves:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=7)
    return fig

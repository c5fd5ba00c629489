"""Figures of Pr[a = b] against total variation distance, with the theory's curves."""

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "PROTOCOL_STYLE",
    "achievable_region_figure",
    "add_reference_curves",
    "subplots",
    "sweep_summary_figure",
]

PROTOCOL_STYLE = {
    "gumbel": {"color": "tab:blue", "marker": "o", "label": "Gumbel"},
    "wmh": {"color": "tab:orange", "marker": "s", "label": "weighted MinHash"},
    "optimal": {"color": "tab:green", "marker": "^", "label": "optimal coupling"},
    "independent": {"color": "tab:gray", "marker": "x", "label": "independent"},
}


def subplots(nrows=1, ncols=1, *, figsize, **kwargs):
    """A new Figure and its axes (as ``pyplot.subplots`` returns them), made without pyplot:
    no backend is chosen and no global figure registry keeps it alive."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def add_reference_curves(ax):
    """The lines 1 - D (optimal coupling) and (1 - D)/(1 + D) (communication-free bound)."""
    d = np.linspace(0, 1, 201)
    ax.plot(d, 1 - d, color="black", lw=1.2, label="1 - D (optimal)")
    ax.plot(d, (1 - d) / (1 + d), color="black", lw=1.2, ls="--", label="(1 - D)/(1 + D)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("total variation distance D")
    ax.set_ylabel("Pr[a = b]")
    ax.grid(alpha=0.3)


def sweep_summary_figure(rows, family):
    """Exact Pr[a = b] against D for every protocol in a sweep's rows of one family."""
    rows = [r for r in rows if r["family"] == family]
    fig, ax = subplots(figsize=(6, 4.5))
    add_reference_curves(ax)
    d = np.array([r["D"] for r in rows])
    for proto, style in PROTOCOL_STYLE.items():
        key = f"exact_{proto}"
        if rows and key in rows[0]:
            y = np.array([r[key] for r in rows])
            ax.scatter(
                d,
                y,
                s=10,
                alpha=0.6,
                color=style["color"],
                marker=style["marker"],
                label=style["label"],
            )
    ax.set_title(f"{family}: {len(rows)} pairs")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def achievable_region_figure(envelopes):
    """Lower envelopes of Pr[a = b] over pairs at each D found by search, per protocol.

    ``envelopes`` maps a protocol name to (D values, lowest Pr[a = b] found at each).
    """
    fig, ax = subplots(figsize=(6, 4.5))
    add_reference_curves(ax)
    for proto, (d, y) in envelopes.items():
        style = PROTOCOL_STYLE.get(proto, {"color": None, "marker": "o", "label": proto})
        order = np.argsort(d)
        ax.plot(
            np.asarray(d)[order],
            np.asarray(y)[order],
            marker=style["marker"],
            color=style["color"],
            ms=4,
            label=f"{style['label']}: lowest found",
        )
        ax.fill_between(
            np.asarray(d)[order],
            np.asarray(y)[order],
            1 - np.asarray(d)[order],
            color=style["color"],
            alpha=0.08,
        )
    ax.set_title("Achievable (D, Pr[a = b]) found by adversarial search")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig

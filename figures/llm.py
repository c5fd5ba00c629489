"""Figures of the language-model experiments: the paper's per-prompt coupling figure and the
speculative-decoding block-efficiency figure."""

import numpy as np

from figures.bounds import PROTOCOL_STYLE, add_reference_curves, subplots

__all__ = ["block_efficiency_figure", "prompt_coupling_figure"]


def prompt_coupling_figure(rows, title):
    """Pr[a = b] against D_TV at each of the sampled positions, one panel per drafter.

    ``rows``: dicts with drafter, tv, gumbel_exact, wmh_exact, gumbel_mc, gumbel_se, wmh_mc,
    wmh_se. Exact values are the markers; Monte Carlo estimates are drawn as 2-SE bars.
    """
    drafters = list(dict.fromkeys(r["drafter"] for r in rows))
    fig, axes = subplots(1, len(drafters), figsize=(4.2 * len(drafters), 4), squeeze=False)
    for ax, name in zip(axes[0], drafters):
        sel = [r for r in rows if r["drafter"] == name]
        add_reference_curves(ax)
        tv = np.array([r["tv"] for r in sel])
        for proto in ("gumbel", "wmh"):
            style = PROTOCOL_STYLE[proto]
            ax.scatter(tv, [r[f"{proto}_exact"] for r in sel], s=22, color=style["color"],
                       marker=style["marker"], label=f"{style['label']} (exact)",
                       zorder=3)  # fmt: skip
            ax.errorbar(tv, [r[f"{proto}_mc"] for r in sel],
                        yerr=[2 * r[f"{proto}_se"] for r in sel], fmt="none", ecolor="black",
                        elinewidth=0.7, alpha=0.6, zorder=4)  # fmt: skip
        ax.set_title(f"target vs {name}", fontsize=10)
    axes[0][0].legend(fontsize=7, loc="upper right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def block_efficiency_figure(summary):
    """Block efficiency (tokens per target call) against gamma, per drafter and method.

    ``summary``: dicts with method, drafter, gamma, be_mean, be_low, be_high.
    """
    drafters = sorted({r["drafter"] for r in summary})
    styles = {"sd": ("tab:green", "^"), "disd-gumbel": ("tab:blue", "o"),
              "disd-wmh": ("tab:orange", "s")}  # fmt: skip
    fig, axes = subplots(1, len(drafters), figsize=(4.5 * len(drafters), 3.8), squeeze=False,
                             sharey=True)  # fmt: skip
    for ax, name in zip(axes[0], drafters):
        for method, (color, marker) in styles.items():
            sel = sorted((r for r in summary if r["drafter"] == name and r["method"] == method),
                         key=lambda r: r["gamma"])  # fmt: skip
            if not sel:
                continue
            g = np.array([r["gamma"] for r in sel])
            m = np.array([r["be_mean"] for r in sel])
            err = np.array([[r["be_mean"] - r["be_low"] for r in sel],
                            [r["be_high"] - r["be_mean"] for r in sel]])  # fmt: skip
            ax.errorbar(g, m, yerr=err, color=color, marker=marker, capsize=3, label=method)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("draft length gamma")
        ax.set_title(f"drafter {name}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("tokens per target call")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig

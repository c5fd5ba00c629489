"""Figures of the language-model experiments, in the paper's grammar: Pr[a = b] against D_TV
per prompt, the pooled Gumbel - WMH gap against D, the list coupling's matching probability
against D for K drafts, block efficiency against gamma, and multi-draft block efficiency
against K."""

import numpy as np
from coupling.figures.bounds import PROTOCOL_STYLE, add_reference_curves, subplots

__all__ = ["block_efficiency_figure", "gap_figure", "list_matching_figure",
           "multidraft_figure", "prompt_coupling_figure"]  # fmt: skip

NEGATIVE_GAP = -1e-12  # an exact gap below this is a violation of the Pareto claim
METHOD_STYLE = {"sd": ("tab:green", "^", "SD"), "disd-gumbel": ("tab:blue", "o", "DISD-Gumbel"),
                "disd-wmh": ("tab:orange", "s", "DISD-WMH")}  # fmt: skip
#: Multi-draft variants: (colour, marker, label).
VARIANT_STYLE = {"strong": ("tab:red", "D", "multi-draft, strong"),
                 "conditional": ("tab:purple", "v", "multi-draft, conditional")}  # fmt: skip


def prompt_coupling_figure(rows, title):
    """Pr[a = b] against D_TV at every sampled position and drafter, one panel per template.

    ``rows``: dicts with template, tv, gumbel_exact, wmh_exact, gumbel_mc, gumbel_se, wmh_mc,
    wmh_se (every drafter pooled, as the paper pools its two drafters). Exact values are the
    markers; Monte Carlo estimates are drawn as 2-SE bars; the lines are 1 - D and
    (1 - D)/(1 + D).
    """
    templates = list(dict.fromkeys(r["template"] for r in rows))
    fig, axes = subplots(1, len(templates), figsize=(5.2 * len(templates), 4.4), squeeze=False)
    for ax, template in zip(axes[0], templates):
        sel = [r for r in rows if r["template"] == template]
        add_reference_curves(ax)
        tv = np.array([r["tv"] for r in sel])
        for proto in ("gumbel", "wmh"):
            style = PROTOCOL_STYLE[proto]
            ax.scatter(tv, [r[f"{proto}_exact"] for r in sel], s=14, color=style["color"],
                       marker=style["marker"], alpha=0.7, label=f"{style['label']} (exact)",
                       zorder=3)  # fmt: skip
            ax.errorbar(tv, [r[f"{proto}_mc"] for r in sel],
                        yerr=[2 * r[f"{proto}_se"] for r in sel], fmt="none", ecolor="black",
                        elinewidth=0.5, alpha=0.4, zorder=4)  # fmt: skip
        drafters = len({r["drafter"] for r in sel})
        positions = len({r["position"] for r in sel})
        ax.set_title(f"{template} prompt: {positions} positions x {drafters} drafters",
                     fontsize=9)  # fmt: skip
    axes[0][0].legend(fontsize=7, loc="upper right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def gap_figure(rows):
    """Gumbel - WMH (exact Pr[a = b]) against D_TV over every position and drafter.

    The Pareto claim is that the gap is never negative; negative gaps (below -1e-12) are drawn
    large in red and counted in the title. ``rows``: dicts with drafter, tv, gap.
    """
    fig, ax = subplots(figsize=(7, 4.6))
    drafters = list(dict.fromkeys(r["drafter"] for r in rows))
    colors = [f"C{k % 10}" for k in range(len(drafters))]
    for name, color in zip(drafters, colors):
        sel = [r for r in rows if r["drafter"] == name]
        ax.scatter([r["tv"] for r in sel], [r["gap"] for r in sel], s=8, alpha=0.6,
                   color=color, label=name)  # fmt: skip
    bad = [r for r in rows if r["gap"] < NEGATIVE_GAP]
    if bad:
        ax.scatter([r["tv"] for r in bad], [r["gap"] for r in bad], s=60, color="red",
                   marker="x", zorder=5, label="negative gap")  # fmt: skip
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("total variation distance D")
    ax.set_ylabel("Gumbel - WMH  (exact Pr[a = b])")
    gaps = np.array([r["gap"] for r in rows])
    title = f"{len(rows)} positions x drafters; largest gap {gaps.max():.3f}; "
    title += f"{len(bad)} NEGATIVE" if bad else "none negative"
    ax.set_title(title, fontsize=10, color="red" if bad else "black")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, markerscale=2)
    fig.tight_layout()
    return fig


def list_matching_figure(rows, bins=10):
    """The list coupling along the language-model positions: Pr[target's token in the K-draft
    list] against D_TV, one colour per K.

    ``rows``: dicts with tv, drafts (K), list_exact, list_bound (one per position and K). Left:
    every exact value (K = 1 is Gumbel's J_P) with 1 - D, the best a single draft can do.
    Right: the mean over positions in ``bins`` equal bins of D, exact (solid) and the list
    matching lemma (dashed).
    """
    ks = sorted({r["drafts"] for r in rows})
    fig, (left, right) = subplots(1, 2, figsize=(11, 4.4), sharey=True)
    edges = np.linspace(0, 1, bins + 1)
    for k, color in zip(ks, ("tab:blue", "tab:purple", "tab:red", "tab:brown", "tab:pink")):
        sel = [r for r in rows if r["drafts"] == k]
        tv = np.array([r["tv"] for r in sel])
        ex = np.array([r["list_exact"] for r in sel])
        lemma = np.array([r["list_bound"] for r in sel])
        left.scatter(tv, ex, s=12, alpha=0.6, color=color, label=f"K = {k}")
        which = np.clip(np.digitize(tv, edges) - 1, 0, bins - 1)
        live = [b for b in range(bins) if np.any(which == b)]
        mid = [(edges[b] + edges[b + 1]) / 2 for b in live]
        right.plot(mid, [ex[which == b].mean() for b in live], "-o", color=color, ms=4,
                   label=f"K = {k} exact")  # fmt: skip
        right.plot(mid, [lemma[which == b].mean() for b in live], "--", color=color, lw=1,
                   label=f"K = {k} lemma")  # fmt: skip
    for ax in (left, right):
        d = np.linspace(0, 1, 101)
        ax.plot(d, 1 - d, color="black", lw=0.8, label="1 - D (one draft, optimal)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("total variation distance D")
        ax.grid(alpha=0.3)
    left.set_ylabel("Pr[target's token in the list]")
    left.set_title(f"{len(rows) // len(ks)} positions x drafters", fontsize=9)
    right.set_title(f"mean in {bins} bins of D; dashed: list matching lemma", fontsize=9)
    left.legend(fontsize=7, loc="lower left")
    right.legend(fontsize=6, ncol=2, loc="lower left")
    fig.tight_layout()
    return fig


def block_efficiency_figure(summary):
    """Block efficiency (tokens per target call) against gamma, one panel per drafter.

    ``summary``: rows of :func:`coupling.paper_repro.summary.summarise_be`. Filled markers with 95%
    bars: each method's expected block efficiency in law; hollow markers: the replayed DISD
    runs.
    """
    drafters = list(dict.fromkeys(r["drafter"] for r in summary))
    fig, axes = subplots(1, len(drafters), figsize=(4.2 * len(drafters), 3.8), squeeze=False,
                         sharey=True)  # fmt: skip
    for ax, name in zip(axes[0], drafters):
        sel = sorted((r for r in summary if r["drafter"] == name), key=lambda r: r["gamma"])
        g = np.array([r["gamma"] for r in sel], dtype=float)
        for k, (method, (color, marker, label)) in enumerate(METHOD_STYLE.items()):
            shift = g * 2 ** (0.04 * (k - 1))  # side by side on the log axis
            m = np.array([r[f"be_{method}"] for r in sel])
            err = np.array([m - [r[f"be_{method}_low"] for r in sel],
                            [r[f"be_{method}_high"] for r in sel] - m])  # fmt: skip
            ax.errorbar(shift, m, yerr=err, color=color, marker=marker, capsize=3, label=label)
            if f"replay_{method}" in sel[0]:
                ax.scatter(shift, [r[f"replay_{method}"] for r in sel], marker=marker,
                           facecolors="none", edgecolors=color, s=50)  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xlabel("draft length gamma")
        acc = sel[0]
        ax.set_title(f"{name}: 1-D {acc['acc_sd']:.2f}, J_P {acc['acc_disd-gumbel']:.2f}, "
                     f"WMH {acc['acc_disd-wmh']:.2f}", fontsize=8)  # fmt: skip
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("tokens per target call")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _bars(ax, x, rows, key, color, marker, label):
    m = np.array([r[f"be_{key}"] for r in rows])
    err = np.array([m - [r[f"be_{key}_low"] for r in rows],
                    [r[f"be_{key}_high"] for r in rows] - m])  # fmt: skip
    ax.errorbar(x, m, yerr=err, color=color, marker=marker, capsize=3, label=label)


def multidraft_figure(summary):
    """Block efficiency against the number of drafts K, one panel per drafter: SD and
    DISD-Gumbel at K = 1, multi-draft DISD with strong and with conditional invariance at
    each K (95% bars).

    ``summary``: rows of :func:`coupling.paper_repro.summary.summarise_multidraft`.
    """
    drafters = list(dict.fromkeys(r["drafter"] for r in summary))
    fig, axes = subplots(1, len(drafters), figsize=(4.2 * len(drafters), 3.8), squeeze=False,
                         sharey=True)  # fmt: skip
    for ax, name in zip(axes[0], drafters):
        sel = sorted((r for r in summary if r["drafter"] == name), key=lambda r: r["drafts"])
        for method in ("sd", "disd-gumbel"):
            color, marker, label = METHOD_STYLE[method]
            _bars(ax, [1.0], sel[:1], method, color, marker, label)
        k = np.array([r["drafts"] for r in sel], dtype=float)
        for j, (variant, (color, marker, label)) in enumerate(VARIANT_STYLE.items()):
            _bars(ax, k * 2 ** (0.04 * (2 * j - 1)), sel, variant, color, marker, label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("drafts K")
        ax.set_title(f"{name}: gamma {sel[0]['gamma']}, {sel[0]['tokens']} tokens", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("tokens per target call")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig
